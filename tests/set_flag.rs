//! `--set KEY=VALUE`: a scenario field overridden from the command line on
//! every command that loads a scenario, with errors that name the flag and
//! reproduce commands that repeat it.

use std::process::{Command, Output};

fn faultlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultlab"))
        .args(args)
        .output()
        .expect("the faultlab binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("faultlab-set-{}-{name}", std::process::id()))
}

fn temp_file(name: &str, text: &str) -> String {
    let path = temp_path(name);
    std::fs::write(&path, text).expect("write temp file");
    path.to_string_lossy().into_owned()
}

fn hash(out: &Output) -> String {
    stdout(out)
        .lines()
        .find_map(|l| l.strip_prefix("trace hash: "))
        .unwrap_or_else(|| panic!("no trace hash in {}", stdout(out)))
        .to_string()
}

const FENCED: &str = "scenarios/lease-pause-fenced.toml";

#[test]
fn set_changes_the_run_like_editing_the_file() {
    let plain = faultlab(&["run", FENCED]);
    assert_eq!(plain.status.code(), Some(0), "{}", stdout(&plain));
    let set = faultlab(&["run", FENCED, "--set", "lease.fencing=false"]);
    assert_eq!(set.status.code(), Some(3), "{}", stdout(&set));
    assert!(stdout(&set).contains("lost_update"), "{}", stdout(&set));
    let text = std::fs::read_to_string(FENCED).unwrap();
    assert!(text.contains("fencing = true"));
    let edited = temp_file(
        "edited.toml",
        &text.replace("fencing = true", "fencing = false"),
    );
    let by_hand = faultlab(&["run", &edited]);
    assert_eq!(hash(&set), hash(&by_hand));
    assert_ne!(hash(&set), hash(&plain));
}

#[test]
fn the_reproduce_command_repeats_the_flags() {
    let out = faultlab(&[
        "run",
        FENCED,
        "--set",
        "lease.fencing=false",
        "--set",
        "lease.drift_margin=\"50ms\"",
    ]);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "run {FENCED} --seed 1 --set 'lease.fencing=false' --set 'lease.drift_margin=\"50ms\"'"
        )),
        "{text}"
    );
    let sweep = faultlab(&[
        "sweep",
        FENCED,
        "--seeds",
        "0..2",
        "--set",
        "lease.fencing=false",
    ]);
    let text = stdout(&sweep);
    assert!(
        text.contains(&format!(
            "run {FENCED} --seed 0 --set 'lease.fencing=false'"
        )),
        "{text}"
    );
}

#[test]
fn a_value_that_is_not_toml_or_a_bad_key_is_exit_2_naming_the_flag() {
    let out = faultlab(&["run", FENCED, "--set", "duration=5s"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("--set"), "{err}");
    assert!(err.contains("not a TOML value"), "{err}");
    assert!(err.contains("duration=\"5s\""), "{err}");

    let out = faultlab(&["run", FENCED, "--set", "duration"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected KEY=VALUE"),
        "{}",
        stderr(&out)
    );

    let out = faultlab(&["run", FENCED, "--set", "lease..fencing=true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not a key"), "{}", stderr(&out));

    let out = faultlab(&["run", FENCED, "--set", "model.x=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("model is a value in the scenario, not a table"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_value_the_scenario_rejects_names_the_field_and_the_flag() {
    let out = faultlab(&["run", FENCED, "--set", "duration=\"0s\""]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("field 'duration'"), "{err}");
    assert!(err.contains("came from --set duration=\"0s\""), "{err}");

    let out = faultlab(&["run", FENCED, "--set", "lease.colour=1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown key `colour`"), "{err}");
    assert!(err.contains("came from --set lease.colour=1"), "{err}");
}

#[test]
fn an_error_in_an_untouched_field_keeps_its_line() {
    let text = std::fs::read_to_string(FENCED).unwrap();
    let broken = text.replace("write_interval = \"100ms\"", "write_interval = \"soon\"");
    let line = broken.lines().position(|l| l.contains("\"soon\"")).unwrap() + 1;
    let file = temp_file("broken.toml", &broken);
    let out = faultlab(&["run", &file, "--set", "lease.fencing=false"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("{file}:{line}:")), "{err}");
    assert!(!err.contains("--set"), "{err}");
}

#[test]
fn set_creates_missing_tables() {
    // The scenario has no [limits] table: --set makes one.
    let text = std::fs::read_to_string(FENCED).unwrap();
    assert!(!text.contains("[limits]"));
    let out = faultlab(&["run", FENCED, "--set", "limits.max_events=1"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("processed its limit of 1 events"),
        "{}",
        stdout(&out)
    );
    // An array of tables is indexed: the pause of [[faults]] 0 made short
    // enough that the fenced run stays as it is, and the run still loads.
    let out = faultlab(&["run", FENCED, "--set", "faults.0.duration=\"1s\""]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = faultlab(&["run", FENCED, "--set", "faults.7.duration=\"1s\""]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));
}

#[test]
fn replay_report_and_shrink_take_set_too() {
    let out = faultlab(&[
        "replay",
        FENCED,
        "--until",
        "10ms",
        "--set",
        "duration=\"1s\"",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("faults[0].at"), "{}", stderr(&out));

    let html = temp_path("report.html");
    let out = faultlab(&[
        "report",
        FENCED,
        "-o",
        html.to_str().unwrap(),
        "--set",
        "lease.fencing=false",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("--set &#39;lease.fencing=false&#39;")
            || page.contains("--set 'lease.fencing=false'"),
        "reproduce line missing"
    );

    let min = temp_path("min.toml");
    let out = faultlab(&[
        "shrink",
        FENCED,
        "--seed",
        "1",
        "-o",
        min.to_str().unwrap(),
        "--set",
        "lease.fencing=false",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let shrunk = std::fs::read_to_string(&min).unwrap();
    assert!(shrunk.contains("fencing = false"), "{shrunk}");
}
