use super::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Literals that look like variable names but are not read from the environment.
const NOT_SETTINGS: &[&str] = &["CARGO_PKG_VERSION"];

/// The variable names (or `_`-joined parts of them) the production code spells:
/// `"SMTP_HOST"`, and the `RETRIES` of `"{prefix}_RETRIES"`. Test code (files under
/// `tests/`, `tests.rs`, the testkit, and everything after `#[cfg(test)]`) is left out.
fn names_in_code() -> BTreeSet<(String, PathBuf)> {
    let mut found = BTreeSet::new();
    for dir in ["services", "shared", "platform", "console/src", "cli/src"] {
        walk(&Path::new(ROOT).join(dir), &mut |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for name in variable_literals(code) {
                found.insert((name, path.to_path_buf()));
            }
        });
    }
    found
}

fn walk(dir: &Path, visit: &mut impl FnMut(&Path)) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(
                name.as_str(),
                "tests" | "testkit" | "target" | "node_modules"
            ) {
                walk(&path, visit);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            visit(&path);
        }
    }
}

/// `"ABC_DEF"` literals, and the tail of `"{x}_ABC"` ones.
fn variable_literals(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, piece) in code.split('"').enumerate() {
        if i % 2 == 0 {
            continue; // outside a literal (good enough: names never hold quotes)
        }
        let tail = match piece.strip_prefix('{') {
            Some(rest) => match rest.split_once("}_") {
                Some((var, tail))
                    if var.chars().all(|c| {
                        c.is_ascii_lowercase() || c == '_' || c == '.' || c == '(' || c == ')'
                    }) =>
                {
                    tail
                }
                _ => continue,
            },
            None => piece,
        };
        let shaped = tail.len() > 2
            && tail.starts_with(|c: char| c.is_ascii_uppercase())
            && tail
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && (tail.contains('_') || piece.starts_with('{'));
        if shaped && !NOT_SETTINGS.contains(&tail) {
            out.push(tail.to_string());
        }
    }
    out
}

/// A literal covers a table name when it is the name, or a whole `_`-separated
/// head or tail of it (`RATE_LIMIT_IP` of `RATE_LIMIT_IP_BURST`, `RETRIES` of
/// `PRODUCT_RETRIES`).
fn covers(literal: &str, name: &str) -> bool {
    name == literal
        || name.starts_with(&format!("{literal}_"))
        || name.ends_with(&format!("_{literal}"))
}

#[test]
fn every_variable_the_code_reads_is_in_the_table() {
    let missing: Vec<String> = names_in_code()
        .into_iter()
        .filter(|(literal, _)| !names().any(|name| covers(literal, name)))
        .map(|(literal, path)| format!("{literal} ({})", path.display()))
        .collect();
    assert!(
        missing.is_empty(),
        "read by the code but not in the SETTINGS of cli/src/config_reference/: {missing:?}"
    );
}

#[test]
fn every_variable_in_the_table_is_read_by_the_code() {
    let literals: BTreeSet<String> = names_in_code().into_iter().map(|(l, _)| l).collect();
    // Read by the OpenTelemetry SDK itself, or spelled without `_` (`"PORT"`,
    // `"HOST"`, prefixes such as `"PRODUCT"`).
    let elsewhere = ["OTEL_TRACES_SAMPLER", "PORT", "HOST"];
    let stale: Vec<&str> = names()
        .filter(|name| !elsewhere.contains(name))
        .filter(|name| !literals.iter().any(|l| covers(l, name)))
        .collect();
    assert!(stale.is_empty(), "in the table but read nowhere: {stale:?}");
}

#[test]
fn the_scan_finds_names_and_suffixes_and_skips_the_rest() {
    let code = r#"env.get("SMTP_HOST"); format!("{prefix}_RETRIES"); "GET"; "a b"; "X""#;
    assert_eq!(variable_literals(code), ["SMTP_HOST", "RETRIES"]);
    assert!(covers("RETRIES", "PRODUCT_RETRIES"));
    assert!(covers("RATE_LIMIT_IP", "RATE_LIMIT_IP_BURST"));
    assert!(!covers("IP", "RATE_LIMIT_IP_BURST"));
}

/// A table name matches a variable the code read: the same, or, for a name such
/// as `<SERVICE>_DB_MAX_CONNECTIONS`, any prefix in its place.
fn matches_name(table: &str, read: &str) -> bool {
    match table.strip_prefix('<').and_then(|t| t.split_once('>')) {
        Some((_, tail)) => read.ends_with(tail) && read.len() > tail.len(),
        None => table == read,
    }
}

/// Whether `doc` states `default`: as one of its words (`500`, `127.0.0.1`,
/// `true`), `_`-grouped digits as written in code read without the `_`.
fn states(doc: &str, default: &str) -> bool {
    doc.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'))
        .map(|word| word.trim_end_matches('.').replace('_', ""))
        .any(|word| word == default.replace('_', ""))
}

/// The defaults the code reads its settings with (every `Env::parse_or`, as each
/// service reads its whole configuration at start-up) are the ones the table
/// states: each appears in the row that names its variable.
#[tokio::test]
async fn the_table_states_the_defaults_the_code_reads_with() {
    let env = cartflow_kit::Env::from_pairs([
        ("PUBSUB_EMULATOR_HOST", "127.0.0.1:1"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1"),
    ]);
    for service in cartflow_events::Service::ALL {
        cartflow_platform::read_settings(service, &env)
            .await
            .unwrap_or_else(|e| panic!("{service}'s settings: {e:#}"));
    }
    let read = env.defaults_read();
    assert!(
        read.len() >= 30,
        "every service's settings were read: {read:?}"
    );
    let mut wrong = Vec::new();
    for (name, default) in &read {
        let row = SETTINGS
            .iter()
            .find(|s| s.names.contains(&name.as_str()))
            .or_else(|| {
                SETTINGS
                    .iter()
                    .find(|s| s.names.iter().any(|n| matches_name(n, name)))
            });
        match row {
            None => wrong.push(format!("{name}: not in the table")),
            Some(row) if !states(row.doc, default) => wrong.push(format!(
                "{name}: the code's default is {default}; the table says \"{}\"",
                row.doc
            )),
            Some(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn a_default_is_found_as_a_word_of_the_doc() {
    assert!(states("`127.0.0.1`: the address", "127.0.0.1"));
    assert!(states("30000 (30 s): how long", "30_000"));
    assert!(states("5: connections", "5"));
    assert!(!states("50: connections", "5"));
    assert!(matches_name(
        "<SERVICE>_DB_MAX_CONNECTIONS",
        "CART_DB_MAX_CONNECTIONS"
    ));
    assert!(!matches_name(
        "<SERVICE>_DB_MAX_CONNECTIONS",
        "_DB_MAX_CONNECTIONS"
    ));
}

/// docs/configuration.md holds exactly the generated table between its markers.
#[test]
fn the_configuration_page_is_current() {
    let path = Path::new(ROOT).join("docs/configuration.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let expected = splice(&page, &markdown()).unwrap();
    assert!(
        page == expected,
        "docs/configuration.md is stale; regenerate it with \
         `cartflow config-reference --write docs/configuration.md`"
    );
}

#[test]
fn splicing_replaces_only_between_the_markers() {
    let page = format!("intro\n{BEGIN}\nold\n{END}\noutro\n");
    assert_eq!(
        splice(&page, "new\n").unwrap(),
        format!("intro\n{BEGIN}\nnew\n{END}\noutro\n")
    );
    assert!(splice("no markers", "x").is_err());
}
