//! A product's stock-keeping unit: the key shared by product, inventory and cart.

use std::fmt;

/// A SKU that has been checked: 1–64 characters of letters, digits, `-`, `_` or `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Sku, String> {
        let sku = raw.trim();
        if sku.is_empty() {
            return Err("product_sku must not be empty".into());
        }
        if sku.len() > Self::MAX_LEN {
            return Err(format!(
                "product_sku must be at most {} characters",
                Self::MAX_LEN
            ));
        }
        if let Some(bad) = sku
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
        {
            return Err(format!(
                "product_sku '{sku}' contains '{bad}'; use letters, digits, '-', '_' or '.'"
            ));
        }
        Ok(Sku(sku.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// On the wire a SKU is its text; reading one checks it, so an event or a path with a
/// malformed SKU is refused where it enters.
impl serde::Serialize for Sku {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Sku {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Sku::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// In the OpenAPI description: the rule [`Sku::parse`] checks, as a pattern.
impl utoipa::PartialSchema for Sku {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^[A-Za-z0-9._-]{1,64}$"))
            .examples([serde_json::json!("KB-101")])
            .description(Some("A product's stock-keeping unit."))
            .into()
    }
}

impl utoipa::ToSchema for Sku {}

/// The schema says what [`Sku::parse`] accepts (as written: trimmed).
impl schemars::JsonSchema for Sku {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Sku".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A product's stock-keeping unit: letters, digits, '-', '_' or '.'.",
            "type": "string",
            "minLength": 1,
            "maxLength": Sku::MAX_LEN,
            "pattern": "^[A-Za-z0-9._-]+$",
            "examples": ["KB-101"],
        })
    }
}

/// `sku == "KB-101"`, for checks and tests.
impl PartialEq<&str> for Sku {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Sku;

    #[test]
    fn accepts_plain_skus_and_trims() {
        assert_eq!(Sku::parse(" KB-101 ").unwrap().as_str(), "KB-101");
        assert!(Sku::parse("a.b_c-1").is_ok());
    }

    #[test]
    fn travels_as_its_text_and_is_checked_when_read() {
        let sku = Sku::parse("KB-101").unwrap();
        assert_eq!(serde_json::to_string(&sku).unwrap(), "\"KB-101\"");
        assert_eq!(serde_json::from_str::<Sku>("\"KB-101\"").unwrap(), sku);
        let err = serde_json::from_str::<Sku>("\"a/b\"").unwrap_err();
        assert!(err.to_string().contains("contains '/'"), "{err}");
    }

    #[test]
    fn rejects_empty_long_and_odd_characters() {
        assert!(Sku::parse("  ").is_err());
        assert!(Sku::parse(&"x".repeat(65)).is_err());
        assert!(Sku::parse("a/b").unwrap_err().contains("'/'"));
        assert!(Sku::parse("drop table").is_err());
    }
}
