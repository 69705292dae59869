//! One idiom for the workspace's string enums (statuses, channels, kinds): each variant
//! has exactly one name, used on the wire, in the database and in messages. The macro
//! gives every such enum the same surface: `ALL`, `as_str`, `parse`, `Display`,
//! `FromStr` (with an error that lists the names), serde as that name, and a JSON
//! Schema that lists the names.
//!
//! ```
//! cartflow_events::string_enum! {
//!     /// How a door stands.
//!     pub enum DoorState ("door state") {
//!         Open = "open",
//!         Shut = "shut",
//!     }
//! }
//! assert_eq!(DoorState::parse("shut"), Some(DoorState::Shut));
//! assert_eq!(DoorState::Open.to_string(), "open");
//! assert_eq!(
//!     "ajar".parse::<DoorState>().unwrap_err(),
//!     "unknown door state 'ajar' (open, shut)"
//! );
//! ```

/// Declares a string enum; see the module's documentation.
#[macro_export]
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($label:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::parse(s).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} '{s}' ({})", $label, names.join(", "))
                })
            }
        }

        /// For database rows read as text (`#[sqlx(try_from = "String")]`).
        impl ::std::convert::TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl $crate::__serde::Serialize for $name {
            fn serialize<S: $crate::__serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        /// On the wire: one of the names.
        impl $crate::__schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut $crate::__schemars::SchemaGenerator) -> $crate::__schemars::Schema {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                $crate::__schemars::json_schema!({ "type": "string", "enum": names })
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as $crate::__serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(<D::Error as $crate::__serde::de::Error>::custom)
            }
        }

        /// In the OpenAPI description: a string, one of the names.
        impl $crate::__utoipa::PartialSchema for $name {
            fn schema() -> $crate::__utoipa::openapi::RefOr<$crate::__utoipa::openapi::schema::Schema> {
                $crate::__utoipa::openapi::ObjectBuilder::new()
                    .schema_type($crate::__utoipa::openapi::schema::Type::String)
                    .enum_values(Some(Self::ALL.iter().map(|v| v.as_str())))
                    .description(Some(concat!("A ", $label, ".")))
                    .into()
            }
        }

        impl $crate::__utoipa::ToSchema for $name {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    string_enum! {
        enum Light ("light") {
            Red = "red",
            AmberFlashing = "amber_flashing",
        }
    }

    #[test]
    fn one_name_per_variant_everywhere() {
        for &light in Light::ALL {
            assert_eq!(Light::parse(light.as_str()), Some(light));
            let json = serde_json::to_string(&light).unwrap();
            assert_eq!(json, format!("\"{light}\""));
            assert_eq!(serde_json::from_str::<Light>(&json).unwrap(), light);
        }
        let err = serde_json::from_str::<Light>("\"green\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown light 'green' (red, amber_flashing)"),
            "{err}"
        );
        assert_eq!(Light::parse("Red"), None, "names are exact");
        // The schema lists the same names.
        let schema = schemars::schema_for!(Light);
        assert_eq!(
            schema.get("enum"),
            Some(&serde_json::json!(["red", "amber_flashing"]))
        );
    }

    #[test]
    fn the_openapi_schema_lists_the_names() {
        let schema = serde_json::to_value(<Light as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["enum"], serde_json::json!(["red", "amber_flashing"]));
    }
}
