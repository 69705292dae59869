//! Catalog entries that have been checked once, at the edge.

use cartflow_events::{ProductChanged, Sku};
use serde::{Deserialize, Serialize};

pub const MAX_NAME_LEN: usize = 200;
pub const MAX_DESCRIPTION_LEN: usize = 2000;
/// Ten million in major units: far above any real price, far below i64 overflow.
pub const MAX_PRICE_CENTS: i64 = 1_000_000_000;

/// A product as stored and returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub price_cents: i64,
    /// The catalog version of its last change (see `product.changed`); 0 until stored.
    pub version: i64,
}

impl Product {
    /// The event announcing this product as it now is (`active: false` once deleted).
    pub fn changed(&self, active: bool) -> Result<ProductChanged, String> {
        Ok(ProductChanged {
            sku: Sku::parse(&self.sku)?,
            name: self.name.clone(),
            price_cents: self.price_cents,
            active,
            version: self.version,
        })
    }
}

/// The editable part of a product (PUT body; POST adds the SKU).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductFields {
    pub name: String,
    pub description: Option<String>,
    pub price_cents: i64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub price_cents: i64,
}

impl ProductFields {
    /// Trims and checks every field; the error names the first bad one.
    pub fn parse(self, sku: Sku) -> Result<Product, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("name must not be empty".into());
        }
        if name.chars().count() > MAX_NAME_LEN {
            return Err(format!("name must be at most {MAX_NAME_LEN} characters"));
        }
        let description = self
            .description
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN)
        {
            return Err(format!(
                "description must be at most {MAX_DESCRIPTION_LEN} characters"
            ));
        }
        if !(0..=MAX_PRICE_CENTS).contains(&self.price_cents) {
            return Err(format!(
                "price_cents must be between 0 and {MAX_PRICE_CENTS}"
            ));
        }
        Ok(Product {
            sku: sku.into_string(),
            name: name.to_string(),
            description,
            price_cents: self.price_cents,
            version: 0,
        })
    }
}

impl NewProduct {
    pub fn parse(self) -> Result<Product, String> {
        let sku = Sku::parse(&self.sku)?;
        ProductFields {
            name: self.name,
            description: self.description,
            price_cents: self.price_cents,
        }
        .parse(sku)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str, price_cents: i64) -> ProductFields {
        ProductFields {
            name: name.into(),
            description: Some("  ".into()),
            price_cents,
        }
    }

    #[test]
    fn valid_fields_are_trimmed() {
        let p = fields("  Keyboard ", 4999)
            .parse(Sku::parse("KB-1").unwrap())
            .unwrap();
        assert_eq!(p.name, "Keyboard");
        assert_eq!(p.description, None);
    }

    #[test]
    fn bad_fields_are_named() {
        let sku = || Sku::parse("KB-1").unwrap();
        assert!(fields(" ", 1).parse(sku()).unwrap_err().contains("name"));
        assert!(
            fields("x", -1)
                .parse(sku())
                .unwrap_err()
                .contains("price_cents")
        );
        assert!(
            fields(&"x".repeat(201), 1)
                .parse(sku())
                .unwrap_err()
                .contains("name")
        );
    }
}
