//! `sweep --shard K/N --json-out FILE` then `merge`: the merged summary is
//! the one a single sweep over the whole range prints (JSON byte for byte
//! and the console's judged lines, timing aside), with its exit code; shards
//! that do not form one range are refused with exit 2 and the file named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn faultlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultlab"))
        .args(args)
        .output()
        .expect("the faultlab binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultlab-merge-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// A JSON summary without its wall-clock field (`elapsed_ms`).
fn untimed(json: &str) -> String {
    let mut value: serde_json::Value =
        serde_json::from_str(json.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    let object = value.as_object_mut().expect("an object");
    assert!(object.remove("elapsed_ms").is_some(), "{json}");
    value.to_string()
}

/// The console summary with the wall-clock part of the last line cut
/// ("... events in 2.2s (18 seeds/s)").
fn judged(console: &str) -> Vec<String> {
    console
        .lines()
        .map(|line| match line.find(" events in ") {
            Some(at) => line[..at].to_string(),
            None => line.to_string(),
        })
        .collect()
}

/// Sweeps `scenario` over `seeds` once and as `n` shards (each with
/// `--json-out`), merges the shards and compares everything; the exit code.
fn single_equals_merged(scenario: &str, seeds: &str, n: u64, name: &str) -> i32 {
    let dir = dir(name);
    let whole = path(&dir, "whole.json");
    let single = faultlab(&["sweep", scenario, "--seeds", seeds, "--json-out", &whole]);
    let code = single.status.code().expect("an exit code");
    let single_json = faultlab(&["sweep", scenario, "--seeds", seeds, "--json"]);
    assert_eq!(single_json.status.code(), Some(code));
    let mut files = Vec::new();
    for k in 0..n {
        let file = path(&dir, &format!("shard-{k}.json"));
        let shard = format!("{k}/{n}");
        let out = faultlab(&[
            "sweep",
            scenario,
            "--seeds",
            seeds,
            "--shard",
            &shard,
            "--json-out",
            &file,
        ]);
        assert!(
            matches!(out.status.code(), Some(0 | 3 | 4)),
            "{}",
            text(&out.stderr)
        );
        files.push(file);
    }
    let merged_file = path(&dir, "merged.json");
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    let merged = faultlab(&args);
    assert_eq!(merged.status.code(), Some(code), "{}", text(&merged.stderr));
    assert_eq!(judged(&text(&merged.stdout)), judged(&text(&single.stdout)));
    args.extend(["--json", "--json-out", &merged_file]);
    let merged_json = faultlab(&args);
    assert_eq!(merged_json.status.code(), Some(code));
    assert_eq!(
        untimed(&text(&merged_json.stdout)),
        untimed(&text(&single_json.stdout))
    );
    let file = |p: &str| untimed(&std::fs::read_to_string(p).unwrap());
    assert_eq!(file(&merged_file), file(&whole));
    // The atomic writer leaves no temporary file behind.
    assert!(!dir.join("whole.json.tmp").exists());
    code
}

#[test]
fn shards_with_metrics_merge_into_the_single_sweep() {
    let code = single_equals_merged("scenarios/raft-leader-crash.toml", "0..40", 4, "metrics");
    assert_eq!(code, 0);
}

#[test]
fn shards_with_failures_merge_into_the_single_sweep() {
    // Seeds 1..41 in 3 uneven shards: the first failure is seed 2, in shard 2/3.
    let code = single_equals_merged(
        "scenarios/lease-bug-no-drift-margin.toml",
        "1..41",
        3,
        "failures",
    );
    assert_eq!(code, 3);
}

#[test]
fn whole_ranges_that_meet_merge_too() {
    let dir = dir("ranges");
    let scenario = "scenarios/lease-bug-no-drift-margin.toml";
    let (a, b) = (path(&dir, "a.json"), path(&dir, "b.json"));
    // 15..30 as two shards merged into b.json: a merged file merges again.
    let (b0, b1) = (path(&dir, "b0.json"), path(&dir, "b1.json"));
    faultlab(&[
        "sweep",
        scenario,
        "--seeds",
        "15..30",
        "--shard",
        "0/2",
        "--json-out",
        &b0,
    ]);
    faultlab(&[
        "sweep",
        scenario,
        "--seeds",
        "15..30",
        "--shard",
        "1/2",
        "--json-out",
        &b1,
    ]);
    let out = faultlab(&["merge", &b1, &b0, "--json-out", &b]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    faultlab(&["sweep", scenario, "--seeds", "0..15", "--json-out", &a]);
    let merged = faultlab(&["merge", &b, &a, "--json"]);
    let single = faultlab(&["sweep", scenario, "--seeds", "0..30", "--json"]);
    assert_eq!(merged.status.code(), single.status.code());
    assert_eq!(
        untimed(&text(&merged.stdout)),
        untimed(&text(&single.stdout))
    );
}

/// Runs `merge files` and expects exit 2 with `needles` in its error.
fn refused(files: &[&str], needles: &[&str]) {
    let mut args = vec!["merge"];
    args.extend(files);
    let out = faultlab(&args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
}

#[test]
fn shards_that_do_not_form_one_range_are_refused() {
    let dir = dir("errors");
    let scenario = "scenarios/lease-bug-no-drift-margin.toml";
    let shard = |seeds: &str, k_n: &str, name: &str, scenario: &str| {
        let file = path(&dir, name);
        let out = faultlab(&[
            "sweep",
            scenario,
            "--seeds",
            seeds,
            "--shard",
            k_n,
            "--json-out",
            &file,
        ]);
        assert!(
            std::path::Path::new(&file).exists(),
            "{}",
            text(&out.stderr)
        );
        file
    };
    let s0 = shard("0..12", "0/3", "s0.json", scenario);
    let s1 = shard("0..12", "1/3", "s1.json", scenario);
    let s2 = shard("0..12", "2/3", "s2.json", scenario);
    let s1_again = shard("0..12", "1/3", "s1-again.json", scenario);
    let other = shard(
        "0..12",
        "2/3",
        "other.json",
        "scenarios/heartbeat-bug-suspicion_never_revoked.toml",
    );
    let of_two = shard("0..12", "1/2", "of-two.json", scenario);
    // Overlapping: shard 1/3 twice.
    refused(
        &[&s0, &s1, &s2, &s1_again],
        &["overlapping shards", "s1.json", "s1-again.json", "1/3"],
    );
    // A gap: shard 2/3 missing.
    refused(&[&s0, &s1], &["missing shard 2/3", "0..12"]);
    // A different scenario.
    refused(
        &[&s0, &s1, &other],
        &["other.json", "different scenario", "heartbeat-bug"],
    );
    // Different shard counts.
    refused(&[&s0, &of_two], &["of-two.json", "different shard counts"]);
    // Whole ranges with a gap, and overlapping ones.
    let (a, b, c) = (
        path(&dir, "a.json"),
        path(&dir, "b.json"),
        path(&dir, "c.json"),
    );
    faultlab(&["sweep", scenario, "--seeds", "0..5", "--json-out", &a]);
    faultlab(&["sweep", scenario, "--seeds", "6..9", "--json-out", &b]);
    faultlab(&["sweep", scenario, "--seeds", "4..6", "--json-out", &c]);
    refused(&[&a, &b], &["missing seeds 5..6", "a.json", "b.json"]);
    refused(&[&a, &c], &["overlapping seeds", "a.json", "c.json"]);
    // Not a shard summary: `sweep --json`'s own output, and not JSON at all.
    let plain = path(&dir, "plain.json");
    let out = faultlab(&["sweep", scenario, "--seeds", "0..3", "--json"]);
    std::fs::write(&plain, &out.stdout).unwrap();
    refused(&[&s0, &plain], &["plain.json", "not a sweep shard summary"]);
    // A shard of an older version (another format): named, with what to do.
    let old = path(&dir, "old.json");
    let text_of_s0 = std::fs::read_to_string(&s0).unwrap();
    std::fs::write(
        &old,
        text_of_s0.replace("faultlab-sweep/2", "faultlab-sweep/1"),
    )
    .unwrap();
    refused(
        &[&old, &s1],
        &[
            "old.json",
            "another faultlab version",
            "run that shard again",
        ],
    );
    let garbage = path(&dir, "garbage.json");
    std::fs::write(&garbage, "seed 3: pass\n").unwrap();
    refused(&[&garbage], &["garbage.json", "not a sweep shard summary"]);
    refused(
        &[&path(&dir, "absent.json")],
        &["absent.json", "cannot read"],
    );
}

#[test]
fn json_out_leaves_the_console_as_it_was() {
    let dir = dir("console");
    let scenario = "scenarios/lease-bug-no-drift-margin.toml";
    let file = path(&dir, "out.json");
    let with = faultlab(&["sweep", scenario, "--seeds", "0..10", "--json-out", &file]);
    let without = faultlab(&["sweep", scenario, "--seeds", "0..10"]);
    assert_eq!(with.status.code(), without.status.code());
    assert_eq!(judged(&text(&with.stdout)), judged(&text(&without.stdout)));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["format"], "faultlab-sweep/2");
    assert_eq!(written["seeds"], "0..10");
    assert!(written["shard"].is_null());
}
