use std::fmt;
use std::str::FromStr;

/// The eight services of cartflow. Each owns one PostgreSQL database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Order,
    Product,
    Inventory,
    Notification,
    EmailPush,
    Cart,
    Customer,
    Payment,
}

impl Service {
    pub const ALL: [Service; 8] = [
        Service::Order,
        Service::Product,
        Service::Inventory,
        Service::Notification,
        Service::EmailPush,
        Service::Cart,
        Service::Customer,
        Service::Payment,
    ];

    /// The name used in logs, the `producer` attribute, `processed_messages.service`,
    /// subscription names and environment variable prefixes.
    pub const fn name(self) -> &'static str {
        match self {
            Service::Order => "order",
            Service::Product => "product",
            Service::Inventory => "inventory",
            Service::Notification => "notification",
            Service::EmailPush => "email-push",
            Service::Cart => "cart",
            Service::Customer => "customer",
            Service::Payment => "payment",
        }
    }

    /// Local default port (SPEC).
    pub const fn default_port(self) -> u16 {
        match self {
            Service::Order => 3000,
            Service::Product => 3001,
            Service::Inventory => 3002,
            Service::Notification => 3003,
            Service::EmailPush => 3004,
            Service::Cart => 3005,
            Service::Customer => 3006,
            Service::Payment => 3007,
        }
    }

    /// Prefix for this service's environment variables: `email-push` → `EMAIL_PUSH`.
    pub fn env_prefix(self) -> String {
        self.name().replace('-', "_").to_uppercase()
    }

    /// The database name this service owns, before any per-run prefix.
    pub fn database_name(self) -> String {
        format!("cartflow_{}", self.name().replace('-', "_"))
    }

    /// The database name with a per-run prefix (tests and throwaway stacks use one):
    /// `cartflow_cart` → `t_ab12_cartflow_cart`. Every caller builds names here.
    pub fn prefixed_database_name(self, prefix: &str) -> String {
        format!("{prefix}{}", self.database_name())
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Service {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|service| service.name() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Service::ALL.iter().map(|s| s.name()).collect();
                format!("unknown service '{s}' (known: {})", known.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ports_are_distinct() {
        let mut ports = std::collections::HashSet::new();
        for service in Service::ALL {
            assert_eq!(service.name().parse::<Service>(), Ok(service));
            assert!(
                ports.insert(service.default_port()),
                "{service} port reused"
            );
        }
        assert!("warehouse".parse::<Service>().is_err());
        assert_eq!(Service::EmailPush.env_prefix(), "EMAIL_PUSH");
        assert_eq!(Service::EmailPush.database_name(), "cartflow_email_push");
    }
}
