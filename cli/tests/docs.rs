//! Every `cartflow …` command the README and docs/ show parses: each is run with
//! `--help` appended, which fails (exit code 2) on an unknown command or flag, or a
//! bad value, before anything would run. A stack is not needed.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn pages() -> Vec<PathBuf> {
    let mut pages = vec![Path::new(ROOT).join("README.md")];
    for entry in std::fs::read_dir(Path::new(ROOT).join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// The `cartflow` command lines of a page: in code blocks, lines that run `cartflow`
/// (after `VAR=value` assignments); in prose, inline code spans that start with it.
/// Each is cut at a comment, pipe, redirection or command separator.
fn commands(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_block = false;
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            let words: Vec<&str> = line
                .split_whitespace()
                .skip_while(|w| w.contains('=') && !w.starts_with('-'))
                .collect();
            if words.first() == Some(&"cartflow") {
                found.push(words.join(" "));
            }
        } else {
            for (i, span) in line.split('`').enumerate() {
                // `cartflow <no-reply@…>` is a value, not a command.
                if i % 2 == 1 && span.starts_with("cartflow ") && !span.starts_with("cartflow <") {
                    found.push(span.to_string());
                }
            }
        }
    }
    found
        .into_iter()
        .map(|c| {
            let cut = c.find([' ', '\t']).map_or(c.len(), |_| {
                [" #", " |", " >", " &&", " ;", "…", "..."]
                    .iter()
                    .filter_map(|m| c.find(m))
                    .min()
                    .unwrap_or(c.len())
            });
            c[..cut].trim().to_string()
        })
        .collect()
}

/// The arguments of a shown command: placeholders (`<cart_id>`) and shell variables
/// become a plain word, quotes are dropped.
fn arguments(command: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut rest = command.trim_start_matches("cartflow").trim();
    while !rest.is_empty() {
        let (word, tail) = if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |i| i + 1);
            ("placeholder".to_string(), &rest[end..])
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (rest[..end].to_string(), &rest[end..])
        };
        let word = word.trim_matches(['"', '\'']);
        args.push(if word.starts_with('$') {
            "placeholder".to_string()
        } else {
            word.to_string()
        });
        rest = tail.trim_start();
    }
    args
}

#[test]
fn every_cartflow_command_in_the_docs_parses() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for command in commands(&text) {
            let mut args = arguments(&command);
            if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
                continue;
            }
            args.push("--help".into());
            let out = Command::new(env!("CARGO_BIN_EXE_cartflow"))
                .args(&args)
                .output()
                .unwrap();
            checked += 1;
            let stderr = String::from_utf8_lossy(&out.stderr);
            // A placeholder (`<service>`) stands for any valid value.
            if !out.status.success() && !stderr.contains("invalid value 'placeholder'") {
                failures.push(format!(
                    "{}: `{command}`: {}",
                    page.strip_prefix(ROOT).unwrap_or(&page).display(),
                    stderr.lines().next().unwrap_or("")
                ));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} commands found: is the extraction broken?"
    );
    assert!(
        failures.is_empty(),
        "commands in the docs that do not parse:\n{}",
        failures.join("\n")
    );
}

#[test]
fn extraction_finds_code_and_inline_commands() {
    let page = "Run `cartflow dlq list` or:\n```sh\nDATABASE_URL=x cartflow timeline <cart id> -o json   # a comment\ncurl cartflow\n```\n";
    let found = commands(page);
    assert_eq!(
        found,
        ["cartflow dlq list", "cartflow timeline <cart id> -o json"]
    );
    assert_eq!(
        arguments(&found[1]),
        ["timeline", "placeholder", "-o", "json"]
    );
}
