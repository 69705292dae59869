//! `cartflow asyncapi`: the AsyncAPI 3.0 document of the topics, printed, written, or
//! compared with a checked-in copy.

use anyhow::Context;
use clap::Args;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct AsyncapiArgs {
    /// Write the document to FILE instead of printing it.
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    out: Option<PathBuf>,
    /// Compare FILE with the document and fail (exit code 5), naming the first
    /// difference, when it is stale.
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
}

pub fn run(args: AsyncapiArgs) -> anyhow::Result<()> {
    let text = crate::asyncapi_json();
    match (args.out, args.check) {
        (Some(path), _) => {
            std::fs::write(&path, format!("{text}\n"))
                .with_context(|| format!("writing {}", path.display()))?;
            super::output::note(format!("wrote {}", path.display()));
        }
        (None, Some(path)) => {
            check(&path, &text)?;
            super::output::note(format!("{} is up to date", path.display()));
        }
        (None, None) => println!("{text}"),
    }
    Ok(())
}

/// Fails when the document in `path` is not `generated` (compared as JSON), with the
/// first place they differ and the command that regenerates it.
pub fn check(path: &Path, generated: &str) -> anyhow::Result<()> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {shown}"))?;
    let on_disk: Value =
        serde_json::from_str(&text).with_context(|| format!("{shown} is not JSON"))?;
    let expected: Value = serde_json::from_str(generated).expect("the document is JSON");
    if let Some(difference) = first_difference("", &expected, &on_disk) {
        return Err(super::exit::Outcome::Difference(format!(
            "{shown} is stale: it is not the document the code generates ({difference}); \
             regenerate it with `cartflow asyncapi --out {shown}`"
        ))
        .into());
    }
    Ok(())
}

/// Where two JSON values first differ, as a JSON pointer with both sides.
fn first_difference(at: &str, expected: &Value, found: &Value) -> Option<String> {
    let token = |key: &str| format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
    match (expected, found) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .find_map(|(key, value)| match b.get(key) {
                Some(other) => first_difference(&token(key), value, other),
                None => Some(format!("{} is missing", token(key))),
            })
            .or_else(|| {
                let extra = b.keys().find(|key| !a.contains_key(*key))?;
                Some(format!("{} is not in the generated document", token(extra)))
            }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(&token(&i.to_string()), x, y)),
        _ if expected == found => None,
        _ => Some(format!(
            "at {} the code has {}, the file {}",
            if at.is_empty() { "/" } else { at },
            brief(expected),
            brief(found)
        )),
    }
}

fn brief(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/asyncapi.json");

    /// `docs/asyncapi.json` is what the code generates (scripts/check-infra.sh also runs
    /// `cartflow asyncapi --check` on it).
    #[test]
    fn the_checked_in_document_is_current() {
        check(Path::new(CHECKED_IN), &crate::asyncapi_json()).unwrap();
    }

    #[test]
    fn a_stale_copy_fails_and_says_where() {
        let dir = std::env::temp_dir().join(format!("asyncapi-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut doc: Value = serde_json::from_str(&crate::asyncapi_json()).unwrap();
        doc["operations"]["receive.cart.order.created"]["x-cartflow-subscription"]["max_delivery_attempts"] =
            7.into();
        let stale = dir.join("stale.json");
        std::fs::write(&stale, serde_json::to_string(&doc).unwrap()).unwrap();
        let err = check(&stale, &crate::asyncapi_json())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "at /operations/receive.cart.order.created/x-cartflow-subscription/\
                 max_delivery_attempts the code has 5, the file 7"
            ),
            "{err}"
        );
        assert!(err.contains("asyncapi --out"), "{err}");

        // Formatting is not a difference; a missing channel and a non-JSON file are.
        std::fs::write(&stale, serde_json::to_string(&doc_of_code()).unwrap()).unwrap();
        check(&stale, &crate::asyncapi_json()).unwrap();
        let mut doc = doc_of_code();
        doc["channels"]
            .as_object_mut()
            .unwrap()
            .remove("order.created");
        std::fs::write(&stale, doc.to_string()).unwrap();
        let err = check(&stale, &crate::asyncapi_json())
            .unwrap_err()
            .to_string();
        assert!(err.contains("/channels/order.created is missing"), "{err}");
        std::fs::write(&stale, "{").unwrap();
        let err = format!("{:#}", check(&stale, &crate::asyncapi_json()).unwrap_err());
        assert!(err.contains("is not JSON"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn doc_of_code() -> Value {
        serde_json::from_str(&crate::asyncapi_json()).unwrap()
    }
}
