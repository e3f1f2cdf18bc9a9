//! `faultlab check` under its limits: `--memory` ends in `unknown` (exit 5),
//! a malformed history found by the checker names the file's line (exit 2),
//! and bad `--memory` values are usage errors.

use std::process::{Command, Output};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/linearizability");

fn faultlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultlab"))
        .args(args)
        .output()
        .expect("the faultlab binary runs")
}

fn temp_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("faultlab-check-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write temp file");
    path.to_string_lossy().into_owned()
}

#[test]
fn a_tiny_memory_budget_gives_unknown_with_exit_5() {
    let file = format!("{CORPUS}/kv/c50-ok.txt");
    let out = faultlab(&[
        "check", &file, "--model", "kv", "--memory", "64KiB", "--json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{text}");
    let json: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(json["verdict"], "unknown");
    let why = json["explanation"].as_str().unwrap();
    assert!(why.contains("memory budget (64 KiB)"), "{why}");
}

#[test]
fn a_bad_memory_value_is_a_usage_error() {
    let file = format!("{CORPUS}/kv/c01-ok.txt");
    for bad in ["lots", "12XB", "99999999999999999999GiB"] {
        let out = faultlab(&["check", &file, "--model", "kv", "--memory", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--memory"), "{bad}: {err}");
    }
}

#[test]
fn an_error_found_by_the_checker_names_the_line() {
    let text = "INFO  jepsen.util - 1 :invoke :read nil\n\
                INFO  jepsen.core - something else\n\
                INFO  jepsen.util - 1 :ok :write 3\n";
    let file = temp_file("bad.log", text);
    let out = faultlab(&["check", &file, "--model", "register"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("error: {file}:3: ")),
        "names file and line: {err}"
    );
    assert!(err.contains("invoked `read`"), "{err}");
}

#[test]
fn a_bad_linearizability_memory_in_a_scenario_names_its_line() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/pb-primary-reads.toml"
    ))
    .unwrap();
    let lines = text.lines().count();
    let file = temp_file(
        "bad-limit.toml",
        &format!("{text}\n[limits]\nlinearizability_memory = \"much\"\n"),
    );
    let err = faultlab::scenario::Scenario::load(&file)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!(":{}:", lines + 3)), "{err}");
    assert!(err.contains("limits.linearizability_memory"), "{err}");
    let file = temp_file(
        "good-limit.toml",
        &format!("{text}\n[limits]\nlinearizability_memory = \"512MiB\"\n"),
    );
    let scenario = faultlab::scenario::Scenario::load(&file).unwrap();
    assert_eq!(scenario.linearizability_memory, 512 << 20);
}

#[test]
fn a_run_whose_linearizability_check_runs_out_of_memory_says_unknown() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/pb-primary-reads.toml"
    ))
    .unwrap();
    let file = temp_file(
        "tiny-limit.toml",
        &format!("{text}\n[limits]\nlinearizability_memory = \"1KiB\"\n"),
    );
    let out = faultlab(&["run", &file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "no verdict is not a failure: {text}"
    );
    assert!(text.contains("checks: linearizability unknown"), "{text}");
    assert!(text.contains("1 KiB of memory"), "{text}");
    let out = faultlab(&["run", &file, "--json"]);
    let json: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(
        json["inconclusive_checks"],
        serde_json::json!(["linearizability"])
    );
}
