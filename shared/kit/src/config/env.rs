//! Reading settings: a snapshot of the environment, and errors that name every bad
//! value at once.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// A snapshot of environment variables. Its `Debug` shows each value as
/// [`crate::redact::setting`] does: no secret, no password in a URL.
///
/// It also notes the default of every setting read with [`Env::parse_or`], so that a
/// check can hold the configuration reference (docs/configuration.md) to the defaults
/// the code really uses ([`Env::defaults_read`]).
#[derive(Clone, Default)]
pub struct Env(
    HashMap<String, String>,
    Arc<Mutex<BTreeMap<String, String>>>,
);

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_map()
            .entries(
                names
                    .into_iter()
                    .map(|name| (name, crate::redact::setting(name, &self.0[name]))),
            )
            .finish()
    }
}

/// One or more bad configuration values, each named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.0.join("; "))
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// `Ok(value)` unless `errors` names bad settings: the end of every settings parser.
    pub fn check<T>(errors: Vec<String>, value: T) -> Result<T, ConfigError> {
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError(errors))
        }
    }
}

impl Env {
    pub fn from_process() -> Self {
        Env(std::env::vars().collect(), Arc::default())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            Arc::default(),
        )
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.0.insert(key.into(), value.into());
        self
    }

    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.0.remove(key);
        self
    }

    /// Every variable, e.g. to start a child process with them.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every setting read with [`Env::parse_or`] so far (through this `Env` or a clone
    /// of it), with the default it was read with.
    pub fn defaults_read(&self) -> BTreeMap<String, String> {
        self.1
            .lock()
            .expect("the defaults' note is never poisoned")
            .clone()
    }

    /// A non-empty value, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// The first of `names` that is set.
    pub fn first(&self, names: &[&str]) -> Option<(String, &str)> {
        names
            .iter()
            .find_map(|n| self.get(n).map(|v| (n.to_string(), v)))
    }

    /// Parses the first set variable of `names`, or returns `default`; a value that
    /// does not parse is recorded in `errors` with `expected`.
    pub fn parse_or<T: FromStr + fmt::Display>(
        &self,
        names: &[&str],
        default: T,
        expected: &str,
        errors: &mut Vec<String>,
    ) -> T {
        {
            let mut read = self.1.lock().expect("the defaults' note is never poisoned");
            for name in names {
                read.insert(name.to_string(), default.to_string());
            }
        }
        match self.first(names) {
            None => default,
            Some((name, raw)) => raw.trim().parse().unwrap_or_else(|_| {
                errors.push(format!("{name}='{raw}': expected {expected}"));
                default
            }),
        }
    }
}
