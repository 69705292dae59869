//! What many events carry: order lines with their price snapshot, and addresses.

use crate::Sku;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One line of a cart or an order, with the price snapshot taken when it was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct LineItem {
    pub product_sku: Sku,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

impl LineItem {
    pub fn line_total_cents(&self) -> i64 {
        i64::from(self.quantity) * self.unit_price_cents
    }
}

pub fn total_cents(items: &[LineItem]) -> i64 {
    items.iter().map(LineItem::line_total_cents).sum()
}

/// Where an order goes. `country` is an ISO 3166-1 alpha-2 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl ShippingAddress {
    /// The longest a field of an address may be.
    pub const MAX_FIELD: usize = 200;

    /// The address with every required field present and trimmed, none too long, and
    /// an ISO 3166-1 alpha-2 country (upper-cased); a problem names `field` (the
    /// address's field in the request, such as `shipping_address`).
    pub fn checked(self, field: &str) -> Result<ShippingAddress, String> {
        let trimmed = |name: &str, value: String| -> Result<String, String> {
            let value = value.trim().to_string();
            if value.is_empty() {
                return Err(format!("{field}.{name} must not be empty"));
            }
            if value.chars().count() > Self::MAX_FIELD {
                return Err(format!(
                    "{field}.{name} must be at most {} characters",
                    Self::MAX_FIELD
                ));
            }
            Ok(value)
        };
        let country = self.country.trim().to_ascii_uppercase();
        // Two letters that name a country (`ZZ` does not; the United Kingdom is `GB`, not
        // `UK`). `XK`, Kosovo's user-assigned code, is the one payment providers and
        // carriers take, so it is taken too.
        let known = country == "XK" || isocountry::CountryCode::for_alpha2(&country).is_ok();
        if country.len() != 2 || !known {
            return Err(format!(
                "{field}.country must be an ISO 3166-1 alpha-2 code such as US or GB"
            ));
        }
        Ok(ShippingAddress {
            name: trimmed("name", self.name)?,
            line1: trimmed("line1", self.line1)?,
            line2: self.line2.map(|l| trimmed("line2", l)).transpose()?,
            city: trimmed("city", self.city)?,
            postal_code: trimmed("postal_code", self.postal_code)?,
            country,
        })
    }

    /// One line for a message or a page: `Jane Doe, 1 Main St, Springfield 12345, US`.
    pub fn one_line(&self) -> String {
        let mut parts = vec![self.name.clone(), self.line1.clone()];
        parts.extend(self.line2.clone());
        parts.push(format!("{} {}", self.city, self.postal_code));
        parts.push(self.country.clone());
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_integer_cents() {
        let items = vec![
            LineItem {
                product_sku: Sku::parse("A").unwrap(),
                quantity: 3,
                unit_price_cents: 1999,
            },
            LineItem {
                product_sku: Sku::parse("B").unwrap(),
                quantity: 1,
                unit_price_cents: 1,
            },
        ];
        assert_eq!(total_cents(&items), 5998);
    }

    #[test]
    fn an_address_names_a_country_that_exists() {
        let address = |country: &str| ShippingAddress {
            name: "Ann".into(),
            line1: "1 Elm St".into(),
            line2: None,
            city: "Springfield".into(),
            postal_code: "12345".into(),
            country: country.into(),
        };
        assert_eq!(address(" us ").checked("a").unwrap().country, "US");
        assert_eq!(address("de").checked("a").unwrap().country, "DE");
        assert_eq!(address("xk").checked("a").unwrap().country, "XK");
        for bad in ["ZZ", "XQ", "UK", "USA", "U", "Narnia", "1A"] {
            let error = address(bad).checked("a").unwrap_err();
            assert!(
                error.contains("a.country") && error.contains("ISO 3166-1"),
                "{bad}: {error}"
            );
        }
    }
}
