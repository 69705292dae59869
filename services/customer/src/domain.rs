//! Customers and the checks on what clients send.

use cartflow_api::payment::holds_card_number;
use cartflow_events::{CustomerDetails, ShippingAddress};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// An email address that has been checked: `local@domain.tld`, no spaces, at most 254
/// characters, stored in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, String> {
        let email = raw.trim().to_lowercase();
        let invalid = || Err(format!("'{}' is not a valid email address", raw.trim()));
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid();
        }
        let Some((local, domain)) = email.split_once('@') else {
            return invalid();
        };
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels
                .iter()
                .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return invalid();
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    /// Where the customer's orders go when a checkout names no address.
    pub address: Option<ShippingAddress>,
}

impl Customer {
    pub fn details(&self) -> CustomerDetails {
        CustomerDetails {
            customer_id: self.id,
            name: self.name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
        }
    }
}

/// `POST` and `PUT` body. `id` may be chosen by the client on `POST` (seeding known
/// ids); otherwise one is generated.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerFields {
    pub id: Option<Uuid>,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    /// The saved address; a `PUT` without one removes it.
    pub address: Option<ShippingAddress>,
}

pub const MAX_NAME_LEN: usize = 200;

impl CustomerFields {
    pub fn parse(self, id: Uuid) -> Result<Customer, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("name is required".into());
        }
        if name.chars().count() > MAX_NAME_LEN {
            return Err(format!("name must be at most {MAX_NAME_LEN} characters"));
        }
        let email = Email::parse(&self.email)?;
        let phone = self
            .phone
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty());
        if let Some(phone) = &phone {
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            let allowed = phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            if !allowed || !(5..=20).contains(&digits) {
                return Err(format!("'{phone}' is not a valid phone number"));
            }
        }
        let address = self.address.map(|a| a.checked("address")).transpose()?;
        if address
            .as_ref()
            .is_some_and(|a| holds_card_number(&a.one_line()))
        {
            return Err(
                "address holds something shaped like a card number; card data is never kept".into(),
            );
        }
        Ok(Customer {
            id,
            name: name.to_string(),
            email: email.as_str().to_string(),
            phone,
            address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse(" Jane.Doe@Example.COM ").unwrap().as_str(),
            "jane.doe@example.com"
        );
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "ja ne@example.com",
            "a@b@c.com",
            "jane@-x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn name_is_required_and_phone_checked() {
        let fields = |name: &str, phone: Option<&str>| CustomerFields {
            id: None,
            name: name.into(),
            email: "a@b.co".into(),
            phone: phone.map(Into::into),
            address: None,
        };
        assert!(
            fields("  ", None)
                .parse(Uuid::nil())
                .unwrap_err()
                .contains("name")
        );
        assert!(fields("Ann", Some("call me")).parse(Uuid::nil()).is_err());
        assert_eq!(
            fields("Ann", Some("+44 20 7946 0000"))
                .parse(Uuid::nil())
                .unwrap()
                .phone
                .as_deref(),
            Some("+44 20 7946 0000")
        );
    }
}
