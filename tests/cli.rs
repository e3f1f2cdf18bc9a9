//! The `faultlab` binary as a user runs it: output, JSON, trace files,
//! determinism checks, sweeps and exit codes (0 pass, 2 usage/scenario
//! error, 3 safety violation, 4 liveness failure).

use serde_json::Value;
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

fn last_json(out: &Output) -> Value {
    let text = stdout(out);
    let last = text.lines().last().expect("some output");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"))
}

fn temp_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("faultlab-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write temp file");
    path.to_string_lossy().into_owned()
}

#[test]
fn run_prints_seed_and_scenario_first_then_verdict_and_hash() {
    let out = faultlab(&["run", "scenarios/heartbeat-partition.toml", "--seed", "7"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("seed 7 · scenario scenarios/heartbeat-partition.toml"),
        "{text}"
    );
    assert!(
        text.contains("partition {n1,n2} | {n3,n4,n5}"),
        "narration names the fault: {text}"
    );
    assert!(
        text.contains("suspect peer="),
        "narration shows suspicions: {text}"
    );
    assert!(
        text.contains("verdict: pass (expected: pass, met)"),
        "{text}"
    );
    assert!(text.contains("trace hash: "), "{text}");
}

#[test]
fn json_summary_is_the_last_line_with_every_field() {
    let out = faultlab(&["run", "scenarios/heartbeat-crash.toml", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json = last_json(&out);
    for key in [
        "seed",
        "scenario",
        "sim_time_ns",
        "events",
        "messages_sent",
        "messages_delivered",
        "messages_dropped",
        "trace_hash",
        "violations",
        "verdict",
        "expect",
        "expectation_met",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["seed"], 5, "the scenario's own seed is the default");
    assert_eq!(json["sim_time_ns"], 10_000_000_000u64);
    assert!(
        json["messages_dropped"].as_u64().unwrap() > 0,
        "crashed nodes drop messages"
    );
    assert_eq!(json["trace_hash"].as_str().unwrap().len(), 16);
}

#[test]
fn a_violation_exits_3_and_ends_with_the_reproduce_command() {
    let out = faultlab(&["run", "scenarios/heartbeat-drift.toml"]);
    assert_eq!(out.status.code(), Some(3));
    let text = stdout(&out);
    assert!(text.contains("VIOLATION false_suspicion"), "{text}");
    assert!(text.contains("(expected: false_suspicion, met)"), "{text}");
    assert_eq!(
        text.lines().last().unwrap(),
        "reproduce: cargo run --release -- run scenarios/heartbeat-drift.toml --seed 3"
    );
    let json = last_json(&faultlab(&[
        "run",
        "scenarios/heartbeat-drift.toml",
        "--json",
    ]));
    assert_eq!(json["verdict"], "violation");
    assert_eq!(json["violations"][0]["name"], "false_suspicion");
    assert_eq!(json["expectation_met"], true);
}

#[test]
fn trace_file_has_a_header_and_one_json_line_per_event() {
    let path = temp_file("trace.jsonl", "");
    let out = faultlab(&[
        "run",
        "scenarios/heartbeat-crash.toml",
        "--trace",
        &path,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let json = last_json(&out);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines[0]["kind"], "run");
    assert_eq!(lines[0]["seed"], 5);
    assert_eq!(
        lines.len() as u64 - 1,
        json["trace_events"].as_u64().unwrap()
    );
    let crash = lines
        .iter()
        .find(|l| l["kind"] == "fault" && l["fault"] == "crash")
        .expect("a crash event");
    assert_eq!(crash["t"], 2_000_000_000u64);
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "send" && l["text"].is_string()),
        "sends carry message text"
    );
    assert!(lines
        .iter()
        .any(|l| l["kind"] == "drop" && l["reason"] == "node_down"));
    let times: Vec<u64> = lines[1..]
        .iter()
        .map(|l| l["t"].as_u64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "events are in time order"
    );
    std::fs::remove_file(path).ok();
}

#[test]
fn check_determinism_reports_identical_traces() {
    let out = faultlab(&[
        "run",
        "scenarios/heartbeat-chaos.toml",
        "--seed",
        "42",
        "--check-determinism",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("determinism: identical"),
        "{}",
        stdout(&out)
    );
    let json = last_json(&faultlab(&[
        "run",
        "scenarios/heartbeat-chaos.toml",
        "--seed",
        "42",
        "--check-determinism",
        "--json",
    ]));
    assert_eq!(json["determinism"]["identical"], true);
}

#[test]
fn sweep_lists_each_failing_seed_with_its_reproduce_command() {
    let out = faultlab(&[
        "sweep",
        "scenarios/heartbeat-pause.toml",
        "--seeds",
        "0..6",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "failing seeds make the sweep exit non-zero"
    );
    let json = last_json(&out);
    assert_eq!(json["seeds_run"], 6);
    assert_eq!(json["passed"], 0);
    assert_eq!(json["expectation_met"], 6);
    let failures = json["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 6);
    let seeds: Vec<u64> = failures
        .iter()
        .map(|f| f["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [0, 1, 2, 3, 4, 5], "failures are sorted by seed");
    assert_eq!(
        failures[2]["reproduce"],
        "cargo run --release -- run scenarios/heartbeat-pause.toml --seed 2"
    );
    assert_eq!(failures[2]["violation"], "false_suspicion");

    let out = faultlab(&[
        "sweep",
        "scenarios/heartbeat-quiet.toml",
        "--seeds",
        "0..=9",
        "--shard",
        "1/2",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("5 passed, 0 failed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn sweep_results_do_not_depend_on_the_thread_count() {
    let one = last_json(&faultlab(&[
        "sweep",
        "scenarios/heartbeat-chaos.toml",
        "--seeds",
        "0..12",
        "--jobs",
        "1",
        "--json",
    ]));
    let two = last_json(&faultlab(&[
        "sweep",
        "scenarios/heartbeat-chaos.toml",
        "--seeds",
        "0..12",
        "--jobs",
        "2",
        "--json",
    ]));
    assert_eq!(one["events"], two["events"]);
    assert_eq!(one["failures"], two["failures"]);
}

const NEVER_HEALS: &str = r#"
model = "heartbeat"
duration = "5s"
checks = ["eventual_accuracy"]
[heartbeat]
interval = "100ms"
timeout = "300ms"
[nodes]
count = 3
[[faults]]
at = "1s"
kind = "isolate"
node = "n1"
[liveness]
after = "2s"
within = "1s"
"#;

#[test]
fn a_liveness_failure_is_stuck_and_exits_4() {
    let path = temp_file("never-heals.toml", NEVER_HEALS);
    let out = faultlab(&["run", &path, "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let json = last_json(&out);
    assert_eq!(json["verdict"], "stuck");
    assert_eq!(json["violations"][0]["name"], "lasting_false_suspicion");
    let explanation = json["violations"][0]["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("isolate n1"),
        "names the fault in force: {explanation}"
    );
    std::fs::remove_file(path).ok();
}

#[test]
fn hitting_a_limit_stops_the_run_and_names_the_limit() {
    let text = "model = \"heartbeat\"\nduration = \"10s\"\n[heartbeat]\ninterval = \"100ms\"\ntimeout = \"500ms\"\n[nodes]\ncount = 3\n[limits]\nmax_events = 50\n";
    let path = temp_file("limit.toml", text);
    let out = faultlab(&["run", &path]);
    assert_eq!(out.status.code(), Some(4));
    let text = stdout(&out);
    assert!(text.contains("limit_reached"), "{text}");
    assert!(text.contains("raise limits.max_events"), "{text}");
    std::fs::remove_file(path).ok();
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(faultlab(&["run"]).status.code(), Some(2));
    assert_eq!(
        faultlab(&["run", "scenarios/heartbeat-quiet.toml", "--seed", "x"])
            .status
            .code(),
        Some(2)
    );
    let out = faultlab(&["sweep", "scenarios/heartbeat-quiet.toml", "--seeds", "5..2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no seeds"));
    let out = faultlab(&["run", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: no/such/file.toml: cannot read")
    );
}

#[test]
fn list_shows_models_checks_and_every_scenario() {
    let out = faultlab(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("heartbeat"));
    assert!(text.contains("strong_completeness"));
    assert!(
        text.contains("fault targets: @leader, @follower, @candidate, @precandidate, @crashed, @isolated, @random"),
        "{text}"
    );
    assert!(
        text.contains("step conditions ([[steps]] check = ...): leader, no_leader, same_term, committed, no_commit"),
        "{text}"
    );
    let availability = text
        .lines()
        .find(|l| l.trim_start().starts_with("availability "))
        .expect("the availability check");
    assert!(
        availability.contains("measure") && availability.contains("(never fails)"),
        "{availability}"
    );
    assert!(text.contains("scenarios/heartbeat-chaos.toml"));
    assert!(!text.contains("INVALID"), "{text}");
    // One column for every scenario name, however long: the expectations
    // line up.
    let columns: std::collections::BTreeSet<usize> = text
        .lines()
        .filter(|l| l.starts_with("  scenarios/"))
        .map(|l| l.find(" expect ").expect("an expect column"))
        .collect();
    assert_eq!(columns.len(), 1, "{columns:?}");
    // Each model's famous mistakes, with what goes wrong.
    for bug in [
        "bug ack_before_replicate: ",
        "bug decision_before_sync: ",
        "bug no_idempotency_key: ",
    ] {
        assert!(text.contains(bug), "{bug} missing from:\n{text}");
    }
}

/// The corpus of public histories, kept in the repository.
const CORPUS: &str = "tests/data/linearizability";

fn corpus_present() {
    assert!(
        std::path::Path::new(CORPUS).join("expected.csv").exists(),
        "the linearizability corpus is missing: expected {CORPUS} in the repository"
    );
}

#[test]
fn check_gives_each_verdict_its_exit_code() {
    corpus_present();
    let bad = faultlab(&[
        "check",
        &format!("{CORPUS}/jepsen/etcd_000.log"),
        "--model",
        "cas-register",
    ]);
    assert_eq!(bad.status.code(), Some(3));
    assert!(
        stdout(&bad).contains("not-linearizable"),
        "{}",
        stdout(&bad)
    );
    assert!(
        stdout(&bad).contains("The operation that cannot be placed:"),
        "explains itself: {}",
        stdout(&bad)
    );
    let good = faultlab(&[
        "check",
        &format!("{CORPUS}/jepsen/etcd_002.log"),
        "--model",
        "cas-register",
        "--json",
    ]);
    assert_eq!(good.status.code(), Some(0));
    let json = last_json(&good);
    assert_eq!(json["verdict"], "linearizable");
    assert_eq!(json["operations"], 77);
    assert_eq!(json["partitions"], 1);
    assert!(json["elapsed_ms"].is_number());
    let unknown = faultlab(&[
        "check",
        &format!("{CORPUS}/jepsen/etcd_002.log"),
        "--model",
        "cas-register",
        "--budget",
        "0s",
        "--json",
    ]);
    assert_eq!(unknown.status.code(), Some(5));
    assert_eq!(last_json(&unknown)["verdict"], "unknown");
}

#[test]
fn check_reads_every_format_and_splits_kv_by_key() {
    corpus_present();
    let edn = last_json(&faultlab(&[
        "check",
        &format!("{CORPUS}/kv/c10-bad.txt"),
        "--model",
        "kv",
        "--json",
    ]));
    assert_eq!(edn["verdict"], "not-linearizable");
    assert!(
        edn["partitions"].as_u64().unwrap() > 1,
        "split by key: {edn}"
    );
    assert!(edn["failing_key"].is_string());
    let log = faultlab(&[
        "check",
        &format!("{CORPUS}/jepsen/etcd_002.log"),
        "--model",
        "cas-register",
        "--format",
        "jepsen-log",
    ]);
    assert_eq!(log.status.code(), Some(0));
    // A run's own history, checked from outside, gets the run's verdict.
    let path = temp_file("stale.jsonl", "");
    let run = faultlab(&["run", "scenarios/pb-stale-reads.toml", "--history", &path]);
    assert_eq!(run.status.code(), Some(3));
    let ours = faultlab(&["check", &path, "--model", "register", "--format", "jsonl"]);
    assert_eq!(ours.status.code(), Some(3), "{}", stdout(&ours));
    std::fs::remove_file(path).ok();
}

#[test]
fn check_rejects_an_unreadable_history_with_its_line() {
    let path = temp_file(
        "garbage.edn",
        "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n{:process oops}\n",
    );
    let out = faultlab(&["check", &path, "--model", "kv"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("error: {path}:2: ")),
        "{stderr}"
    );
    assert_eq!(
        faultlab(&["check", &path, "--model", "stack"])
            .status
            .code(),
        Some(2)
    );
    std::fs::remove_file(path).ok();
}

#[test]
fn a_fifo_as_a_scenario_is_refused_at_once() {
    let dir = std::env::temp_dir().join(format!("faultlab-cli-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("make a temp dir");
    let fifo = dir.join("scenario.toml");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    // Nobody writes to the FIFO: opening it would block forever.
    let out = faultlab(&["run", fifo.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

#[test]
fn dev_zero_as_a_scenario_is_refused_at_once() {
    let out = faultlab(&["run", "/dev/zero"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: /dev/zero: ") && stderr.contains("not a regular file"),
        "{stderr}"
    );
}

#[test]
fn run_and_sweep_warn_once_about_a_heavy_scenario() {
    // 10 nodes beating every microsecond for 100s: about 1e10 events; the
    // limit stops each run after 100.
    let text = "model = \"heartbeat\"\nduration = \"100s\"\nchecks = []\n[heartbeat]\ninterval = \"1us\"\ntimeout = \"5us\"\n[nodes]\ncount = 10\n[limits]\nmax_events = 100\n";
    let path = temp_file("heavy.toml", text);
    for args in [vec!["run", &path], vec!["sweep", &path, "--seeds", "0..2"]] {
        let out = faultlab(&args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stdout(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("warning:"))
            .collect();
        assert_eq!(warnings.len(), 1, "{args:?}: {stderr}");
        assert!(
            warnings[0].starts_with(&format!(
                "warning: scenario {path} is heavy: about 10000000000 events per run ("
            )),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[0].contains("limits.max_events = 100"),
            "{}",
            warnings[0]
        );
    }
    // A shipped scenario is not heavy.
    let out = faultlab(&["run", "scenarios/heartbeat-quiet.toml"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    std::fs::remove_file(path).ok();
}

#[test]
fn around_sets_the_window_before_a_violation_and_json_carries_it() {
    let file = "scenarios/raft-bug-figure8_commit.toml";
    let default = stdout(&faultlab(&["run", file]));
    assert!(default.contains("around it:"), "{default}");
    assert!(
        default.contains("from 1.142s to 3.142s, oldest first:"),
        "{default}"
    );
    let narrow = stdout(&faultlab(&["run", file, "--around", "500ms"]));
    assert!(
        narrow.contains("from 2.642s to 3.142s, oldest first:"),
        "{narrow}"
    );
    assert!(!narrow.contains("1.641s n2 becomes leader"), "{narrow}");
    let json = last_json(&faultlab(&["run", file, "--json"]));
    let around = &json["violations"][0]["around"];
    assert!(
        around[0]
            .as_str()
            .is_some_and(|l| l.starts_with("in force:")),
        "{around}"
    );
    let bad = faultlab(&["run", file, "--around", "5"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("'5' has no unit"));
}
