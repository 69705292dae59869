//! Stripe's form-encoded parameters: `amount=500`, `metadata[checkout_id]=...`,
//! `expand[]=latest_charge` (or `expand[0]=...`), in bodies and query strings.

use crate::objects::StripeError;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(bytes: &[u8]) -> Self {
        Params(
            url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The same parameters in any order give the same fingerprint (idempotency).
    pub fn fingerprint(&self) -> String {
        let mut pairs = self.0.clone();
        pairs.sort();
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    /// `metadata[k]` → `metadata`.
    fn top_name(name: &str) -> &str {
        name.split('[').next().unwrap_or(name)
    }

    /// 400 `parameter_unknown` for a parameter not in `accepted` (Stripe's own wording).
    pub fn only(&self, accepted: &[&str]) -> Result<(), StripeError> {
        match self
            .0
            .iter()
            .map(|(k, _)| Self::top_name(k))
            .find(|name| !accepted.contains(name))
        {
            None => Ok(()),
            Some(name) => Err(StripeError::invalid_request(
                400,
                Some("parameter_unknown"),
                format!(
                    "Received unknown parameter: {name} (the gateway sandbox accepts {})",
                    accepted.join(", ")
                ),
                Some(name),
            )),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn required(&self, name: &str) -> Result<&str, StripeError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            StripeError::invalid_request(
                400,
                Some("parameter_missing"),
                format!("Missing required param: {name}."),
                Some(name),
            )
        })
    }

    /// A positive integer amount in minor units.
    pub fn amount(&self, name: &str) -> Result<Option<i64>, StripeError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        match raw.parse::<i64>() {
            Ok(amount) if amount > 0 => Ok(Some(amount)),
            Ok(_) => Err(StripeError::invalid_request(
                400,
                Some("amount_too_small"),
                format!("This value must be greater than or equal to 1 ({name})."),
                Some(name),
            )),
            Err(_) => Err(StripeError::invalid_request(
                400,
                Some("parameter_invalid_integer"),
                format!("Invalid integer: {raw}"),
                Some(name),
            )),
        }
    }

    /// One of `allowed`, when given.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, StripeError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
            Some(v) => Err(StripeError::invalid_request(
                400,
                None,
                format!(
                    "Invalid {name}: must be one of {} (got '{v}')",
                    allowed.join(", ")
                ),
                Some(name),
            )),
        }
    }

    /// `metadata[key]=value` pairs; Stripe's limits: 50 keys, keys up to 40
    /// characters, values up to 500.
    pub fn metadata(&self) -> Result<BTreeMap<String, String>, StripeError> {
        let mut metadata = BTreeMap::new();
        for (k, v) in &self.0 {
            let Some(key) = k
                .strip_prefix("metadata[")
                .and_then(|rest| rest.strip_suffix(']'))
            else {
                continue;
            };
            if key.is_empty() || key.chars().count() > 40 || v.chars().count() > 500 {
                return Err(StripeError::invalid_request(
                    400,
                    Some("parameter_invalid_string_too_long"),
                    format!("Invalid metadata[{key}]: keys up to 40 characters, values up to 500"),
                    Some("metadata"),
                ));
            }
            metadata.insert(key.to_string(), v.clone());
        }
        if metadata.len() > 50 {
            return Err(StripeError::invalid_request(
                400,
                None,
                "Invalid metadata: at most 50 keys".into(),
                Some("metadata"),
            ));
        }
        Ok(metadata)
    }

    /// The values of a list parameter (`name[]=a&name[]=b`, or `name[0]=a`).
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| Self::top_name(k) == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `expand[]` asks for `field`; any other expansion is refused, as Stripe
    /// refuses a property that cannot be expanded.
    pub fn expands(&self, field: Option<&str>) -> Result<bool, StripeError> {
        let mut wanted = false;
        for (k, v) in &self.0 {
            if Self::top_name(k) != "expand" {
                continue;
            }
            if Some(v.as_str()) == field {
                wanted = true;
            } else {
                return Err(StripeError::invalid_request(
                    400,
                    None,
                    format!("This property cannot be expanded ({v})."),
                    Some(k),
                ));
            }
        }
        Ok(wanted)
    }
}
