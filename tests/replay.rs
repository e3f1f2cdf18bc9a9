//! `faultlab replay`: the one-line-per-event text of a window, pinned as
//! golden text (`tests/golden/replay_*.txt`; after an intended change to
//! the format or the run, rewrite them with
//! `FAULTLAB_BLESS=1 cargo test --test replay` and review the diff), the
//! filters, `--state`, and the errors.

use faultlab::Registry;

/// Runs the command line; (exit code, stdout, stderr).
fn faultlab(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = faultlab::cli::run_with_args(&Registry::builtin(), args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

/// Compares `actual` with the golden file `name`, or rewrites it under FAULTLAB_BLESS.
fn golden(name: &str, actual: &str) {
    let path = format!("tests/golden/{name}");
    if std::env::var_os("FAULTLAB_BLESS").is_some() {
        std::fs::write(&path, actual).expect("write the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (FAULTLAB_BLESS=1 creates it)"));
    assert_eq!(
        expected, actual,
        "{path} differs; if the change is intended, run FAULTLAB_BLESS=1 cargo test --test replay and review the diff"
    );
}

const LEASE: &str = "scenarios/lease-pause-unfenced.toml";

#[test]
fn the_window_before_a_lost_update_is_pinned() {
    let (code, out, err) = faultlab(&["replay", LEASE, "--seed", "1", "--from", "4.98s"]);
    assert_eq!(code, 0, "{err}");
    golden("replay_lease_pause.txt", &out);
    // The replay is the run: its last line carries `run`'s trace hash.
    let (_, run, _) = faultlab(&["run", LEASE, "--seed", "1"]);
    let hash = run
        .lines()
        .find_map(|l| l.strip_prefix("trace hash: "))
        .expect("run prints its trace hash");
    assert!(
        out.trim_end().ends_with(&format!("trace hash {hash}")),
        "{out}"
    );
}

#[test]
fn the_states_at_a_time_are_pinned() {
    let (code, out, err) = faultlab(&["replay", LEASE, "--seed", "1", "--state", "4.99s"]);
    assert_eq!(code, 0, "{err}");
    golden("replay_lease_state.txt", &out);
}

#[test]
fn nodes_and_kinds_filter_the_lines() {
    let args = [
        "replay",
        LEASE,
        "--seed",
        "1",
        "--until",
        "2.5s",
        "--node",
        "n2,n3",
        "--kinds",
        "fault,deliver,resume",
    ];
    let (code, out, err) = faultlab(&args);
    assert_eq!(code, 0, "{err}");
    let events: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(events.len() > 5, "{out}");
    for line in &events {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(["n2", "n3", "-"].contains(&fields[1]), "{line}");
        assert!(
            ["fault", "deliver", "resume"].contains(&fields[2]),
            "{line}"
        );
        let t: f64 = fields[0].parse().expect("seconds");
        assert!(t <= 2.5, "{line}");
    }
    assert!(out.contains("fault=pause"), "{out}");
    assert!(
        out.trim_end()
            .ends_with("(the run goes on to 8.000000000s)"),
        "{out}"
    );
}

#[test]
fn a_window_includes_both_its_ends_and_records_filter_by_kind() {
    let args = [
        "replay",
        "scenarios/heartbeat-crash.toml",
        "--seed",
        "5",
        "--from",
        "2s",
        "--until",
        "2s",
        "--kinds",
        "fault",
    ];
    let (code, out, err) = faultlab(&args);
    assert_eq!(code, 0, "{err}");
    let events: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        events,
        [r#"    2.000000000 n2 fault          fault=crash applied=true detail="crash n2""#]
    );
    let args = [
        "replay",
        "scenarios/raft-leader-crash.toml",
        "--kinds",
        "fault,record:leader",
    ];
    let (code, out, err) = faultlab(&args);
    assert_eq!(code, 0, "{err}");
    let events: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        events.iter().any(|l| l.contains("record=leader term=2")),
        "{out}"
    );
    assert!(events.iter().any(|l| l.contains("fault=crash")), "{out}");
    assert!(
        events
            .iter()
            .all(|l| l.contains("record=leader") || l.contains(" fault ")),
        "{out}"
    );
}

#[test]
fn a_crashed_node_is_down_in_the_states() {
    let args = [
        "replay",
        "scenarios/heartbeat-crash.toml",
        "--seed",
        "5",
        "--state",
        "2.1s",
        "--node",
        "n1,n2",
    ];
    let (code, out, err) = faultlab(&args);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[2], "n2 (down)");
    assert!(lines[1].starts_with("n1 ") && lines[1].len() > 10, "{out}");
}

#[test]
fn bad_flags_exit_2_with_what_was_expected() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["--kinds", "send,teleport"],
            "--kinds 'teleport' is not an event kind; expected some of start, restart, send",
        ),
        (
            &["--node", "n9"],
            "--node 'n9': scenarios/lease-pause-unfenced.toml has no such node; expected one of n1, n2, n3, n4, n5",
        ),
        (&["--from", "9s"], "--from 9.000000000s is at or after the run's end"),
        (&["--from", "3s", "--until", "2s"], "the window is empty"),
        (&["--state", "8.5s"], "--state 8.500000000s is after the run's end"),
        (&["--state", "1s", "--from", "0.5s"], "cannot be used with"),
    ];
    for (flags, message) in cases {
        let mut args = vec!["replay", LEASE];
        args.extend_from_slice(flags);
        let (code, out, err) = faultlab(&args);
        assert_eq!(code, 2, "{flags:?}: {out}{err}");
        assert!(err.contains(message), "{flags:?}: {err}");
        assert!(out.is_empty(), "{flags:?}: nothing runs: {out}");
    }
}

#[test]
fn every_built_in_model_shows_a_bounded_state_without_its_parameters() {
    for (file, at) in [
        ("scenarios/heartbeat-chaos.toml", "3s"),
        ("scenarios/raft-chaos.toml", "3s"),
        ("scenarios/lease-drift-margin.toml", "3s"),
        ("scenarios/pb-stale-reads.toml", "2s"),
        ("scenarios/backoff-none.toml", "0.05s"),
        ("scenarios/service-metastable-budget.toml", "3s"),
        ("scenarios/zones-on-demand.toml", "9s"),
        ("scenarios/cache-cold-start.toml", "1s"),
    ] {
        let (code, out, err) = faultlab(&["replay", file, "--state", at]);
        assert_eq!(code, 0, "{file}: {err}");
        for line in out.lines().skip(1) {
            assert!(!line.ends_with("(no state view)"), "{file}: {line}");
            assert!(
                line.len() < 3000,
                "{file}: a view of {} chars: {line:.300}",
                line.len()
            );
            assert!(!line.contains("params"), "{file}: {line:.300}");
        }
    }
}
