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
    fn rejects_empty_long_and_odd_characters() {
        assert!(Sku::parse("  ").is_err());
        assert!(Sku::parse(&"x".repeat(65)).is_err());
        assert!(Sku::parse("a/b").unwrap_err().contains("'/'"));
        assert!(Sku::parse("drop table").is_err());
    }
}
