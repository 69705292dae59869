//! The built `cartflow` binary as a user or a script meets it: exit codes, `-o json`,
//! completions, `--yes` on teardown, `-q`. Offline: nothing here needs a stack.

use std::process::{Command, Output, Stdio};

fn cartflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cartflow"))
        .args(args)
        // Never reach a real emulator or project from these tests.
        .env("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .expect("running cartflow")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["no-such-command"][..],
        &["dlq", "list", "--no-such-flag"],
        &["timeline"],
        &["dlq", "list", "-o", "yaml"],
        &["-q", "-v", "topology"],
    ] {
        let out = cartflow(args);
        assert_eq!(code(&out), 2, "cartflow {args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn a_bad_setting_exits_3() {
    let out = Command::new(env!("CARGO_BIN_EXE_cartflow"))
        .args(["topology"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("OTEL_EXPORTER_OTLP_ENDPOINT"));
}

#[test]
fn teardown_refuses_without_yes_off_a_terminal() {
    let out = cartflow(&["teardown", "--topic-prefix", "cli-test-"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    // An empty prefix is refused before anything is asked.
    let out = cartflow(&["teardown", "--yes"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--topic-prefix"));
}

#[test]
fn completions_are_generated_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = cartflow(&["completions", shell]);
        assert_eq!(code(&out), 0, "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for word in ["cartflow", "config-reference", "output", "teardown", "yes"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    assert_eq!(code(&cartflow(&["completions", "tcsh"])), 2);
}

#[test]
fn json_output_is_json() {
    let out = cartflow(&["config-reference", "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let settings: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(settings.as_array().unwrap().iter().any(|s| {
        s["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "DATABASE_URL")
    }));
    let out = cartflow(&["topology"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("topology is JSON");
}

#[test]
fn a_stale_copy_exits_5_and_quiet_silences_notes() {
    let dir = std::env::temp_dir().join(format!("cartflow-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("configuration.md");
    let begin = cartflow::config_reference::BEGIN;
    let end = cartflow::config_reference::END;
    std::fs::write(&page, format!("# Configuration\n{begin}\n| old |\n{end}\n")).unwrap();
    let path = page.to_str().unwrap();

    let out = cartflow(&["config-reference", "--check", path]);
    assert_eq!(code(&out), 5, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("config-reference --write"));

    let out = cartflow(&["-q", "config-reference", "--write", path]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "-q prints no notes");
    let out = cartflow(&["config-reference", "--check", path]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("up to date"));

    let out = cartflow(&["asyncapi", "--check", path]);
    assert_eq!(code(&out), 1, "not JSON is a failure, not a difference");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_ends_with_the_exit_codes() {
    let out = cartflow(&["--help"]);
    let help = text(&out.stdout);
    for (code, meaning) in cartflow::commands::exit::CODES {
        assert!(help.contains(&format!("  {code}  {meaning}")), "{help}");
    }
}
