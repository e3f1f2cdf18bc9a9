//! The linearizability violation report of a run, pinned as golden text
//! (`tests/golden/lin_report_*.txt`; after an intended change to the words
//! or the run, rewrite them with `FAULTLAB_BLESS=1 cargo test --test
//! lin_report` and review the diff): it leads with the operation that
//! cannot be placed, shows seconds, clients and the servers that answered,
//! and is stamped with the offending operation's completion.

use faultlab::Registry;

/// Runs the command line; (exit code, stdout).
fn faultlab(args: &[&str]) -> (i32, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = faultlab::cli::run_with_args(&Registry::builtin(), args, &mut out, &mut err);
    (code, String::from_utf8(out).expect("utf-8"))
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
        "{path} differs; if the change is intended, run FAULTLAB_BLESS=1 cargo test --test lin_report and review the diff"
    );
}

/// The violation's lines of `faultlab run <scenario>` (at its own seed).
fn report(scenario: &str) -> String {
    let (code, out) = faultlab(&["run", scenario]);
    assert_eq!(code, 3, "a safety violation exits 3:\n{out}");
    let start = out
        .find("VIOLATION not_linearizable")
        .unwrap_or_else(|| panic!("no linearizability violation:\n{out}"));
    let end = out[start..]
        .find("\nverdict:")
        .map_or(out.len(), |e| start + e);
    format!("{}\n", &out[start..end])
}

#[test]
fn raft_read_without_quorum_report_is_pinned() {
    let text = report("scenarios/raft-bug-read_without_quorum.toml");
    golden("lin_report_raft_read_without_quorum.txt", &text);
    // The contradiction comes first, stamped with the stale get's completion
    // (5.017s), not the run's end (8.000s); the stale answer names n2.
    let first = text.lines().next().unwrap_or_default();
    assert!(first.contains("at 5.017s"), "{first}");
    assert!(
        first.contains("cannot be placed: get by c1 (process 24) [5.006s..5.017s]"),
        "{first}"
    );
    assert!(first.contains("answered by n2"), "{first}");
    assert!(
        text.contains("which completed before the get was invoked"),
        "{text}"
    );
    assert!(!text.contains("t="), "times are in seconds:\n{text}");
}

#[test]
fn primary_backup_stale_read_report_is_pinned() {
    let text = report("scenarios/pb-stale-reads.toml");
    golden("lin_report_pb_stale_reads.txt", &text);
    assert!(text.contains("The register is not linearizable"), "{text}");
    assert!(!text.contains("(no key)"), "{text}");
    assert!(text.contains("at 2.051s"), "{text}");
    // The backup answered the stale read; the primary acknowledged the write.
    assert!(text.contains("returned 2000093, answered by n3"), "{text}");
    assert!(text.contains("set 2000095, answered by n1"), "{text}");
    let listed = text.lines().filter(|l| l.contains(" by c")).count();
    assert!(
        listed <= 24,
        "the window is bounded: {listed} lines\n{text}"
    );
}

#[test]
fn quorum_r1_w1_report_is_pinned() {
    let text = report("scenarios/quorum-r1-w1.toml");
    golden("lin_report_quorum_r1_w1.txt", &text);
    assert!(text.contains("at 1.231s"), "{text}");
    assert!(
        text.contains("Before the get was invoked, #51: put"),
        "{text}"
    );
}

#[test]
fn a_history_file_may_name_the_server_that_answered() {
    let dir = std::env::temp_dir().join(format!("faultlab-lin-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("stale.jsonl");
    let lines = [
        r#"{"process":1,"type":"invoke","f":"write","value":1,"time":10}"#,
        r#"{"process":1,"type":"ok","f":"write","value":1,"time":12,"server":"n1"}"#,
        r#"{"process":2,"type":"invoke","f":"read","value":null,"time":13}"#,
        r#"{"process":2,"type":"ok","f":"read","value":null,"time":15,"server":"n3"}"#,
    ];
    std::fs::write(&path, lines.join("\n") + "\n").expect("write history");
    let file = path.to_string_lossy().to_string();
    let (code, out) = faultlab(&["check", &file, "--model", "register"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("The register is not linearizable. The operation that cannot be placed: read by process 2 [t=13..15] returned nil, answered by n3."),
        "{out}"
    );
    assert!(
        out.contains("last written by #1: write by process 1 [t=10..12] set 1, answered by n1, which completed before the read was invoked."),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
