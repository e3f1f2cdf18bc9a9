//! What the binary writes, when the world it writes to misbehaves: a reader
//! that closes the pipe, a full disk, a run killed half-way, absurd sweep
//! arguments. Outputs are whole or absent, and a failure is exit 2 with a
//! message, never a panic.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn faultlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultlab"))
        .args(args)
        .output()
        .expect("the faultlab binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh directory for one test's files.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("faultlab-out-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

/// A Raft scenario that takes many seconds to run (for killing it half-way).
const LONG_RAFT: &str = r#"
model = "raft"
duration = "3000s"
[raft]
election_timeout = ["150ms", "300ms"]
heartbeat_interval = "50ms"
[workload]
clients = 3
think = ["0ms", "10ms"]
timeout = "300ms"
read_fraction = 0.5
keys = 3
[nodes]
count = 5
[network]
latency = { dist = "uniform", min = "1ms", max = "10ms" }
"#;

#[test]
fn a_reader_that_closes_the_pipe_ends_the_output_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultlab"))
        .args(["list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the faultlab binary runs");
    // Read one byte, then hang up, as `faultlab list | head -c 1` does.
    let mut pipe = child.stdout.take().expect("a stdout pipe");
    let mut first = [0u8; 1];
    pipe.read_exact(&mut first).expect("some output");
    drop(pipe);
    let out = child.wait_with_output().expect("it ends");
    let err = stderr(&out);
    assert!(
        !err.contains("panicked"),
        "no panic on a closed pipe: {err}"
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_exit_2_with_a_message() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Command::new(env!("CARGO_BIN_EXE_faultlab"))
        .args(["list"])
        .stdout(full)
        .output()
        .expect("the faultlab binary runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("cannot write to standard output"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_trace_that_cannot_be_written_is_exit_2() {
    let out = faultlab(&[
        "run",
        "scenarios/heartbeat-quiet.toml",
        "--trace",
        "/dev/full",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains("--trace /dev/full: cannot write the file"),
        "{err}"
    );
    let out = faultlab(&[
        "run",
        "scenarios/pb-primary-reads.toml",
        "--history",
        "/dev/full",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains("--history /dev/full: cannot write the file"),
        "{err}"
    );
}

#[test]
fn a_trace_into_a_missing_directory_is_exit_2_before_the_run() {
    let dir = temp_dir("missing");
    let target = dir.join("no/such/dir/trace.jsonl");
    let out = faultlab(&[
        "run",
        "scenarios/heartbeat-quiet.toml",
        "--trace",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(
        out.stdout.is_empty(),
        "nothing runs when the trace cannot be created"
    );
}

#[test]
fn outputs_replace_the_old_files_whole_and_leave_no_temporary() {
    let dir = temp_dir("replace");
    let trace = dir.join("trace.jsonl");
    let history = dir.join("history.jsonl");
    std::fs::write(&trace, "old trace\n").unwrap();
    std::fs::write(&history, "old history\n").unwrap();
    let out = faultlab(&[
        "run",
        "scenarios/pb-primary-reads.toml",
        "--trace",
        trace.to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let trace_text = std::fs::read_to_string(&trace).unwrap();
    assert!(
        trace_text.starts_with("{\"kind\":\"run\""),
        "{}",
        &trace_text[..80.min(trace_text.len())]
    );
    let history_text = std::fs::read_to_string(&history).unwrap();
    assert!(history_text.starts_with("{\""), "a JSON-lines history");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn a_run_killed_half_way_leaves_the_old_trace_as_it_was() {
    let dir = temp_dir("killed");
    let scenario = dir.join("long.toml");
    std::fs::write(&scenario, LONG_RAFT).unwrap();
    let trace = dir.join("trace.jsonl");
    std::fs::write(&trace, "old trace\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultlab"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the faultlab binary runs");
    // Wait until the run has written part of its trace, then kill it.
    let partial = dir.join("trace.jsonl.tmp");
    let started = Instant::now();
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 100_000 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run wrote no trace"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended too soon"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read_to_string(&trace).unwrap(), "old trace\n");
}

#[test]
fn absurd_sweep_arguments_are_refused_at_once() {
    for jobs in ["100000", "0", "many"] {
        let out = faultlab(&[
            "sweep",
            "scenarios/heartbeat-quiet.toml",
            "--seeds",
            "0..2",
            "--jobs",
            jobs,
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "--jobs {jobs}: {err}");
        assert!(err.contains("from 1 to 1024"), "--jobs {jobs}: {err}");
    }
    let out = faultlab(&[
        "run",
        "scenarios/heartbeat-quiet.toml",
        "--seed",
        "18446744073709551615",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the largest seed runs: {}",
        stderr(&out)
    );
    let out = faultlab(&[
        "sweep",
        "scenarios/heartbeat-quiet.toml",
        "--seeds",
        "18446744073709551615",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "one past the largest seed: {}",
        stderr(&out)
    );
}

/// The resident memory of a process, from `/proc`.
#[cfg(target_os = "linux")]
fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(target_os = "linux")]
#[test]
fn a_sweep_over_every_seed_streams_them() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultlab"))
        .args([
            "sweep",
            "scenarios/heartbeat-quiet.toml",
            "--seeds",
            "0..18446744073709551615",
            "--jobs",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the faultlab binary runs");
    std::thread::sleep(Duration::from_millis(1500));
    let still_running = child.try_wait().unwrap().is_none();
    let resident = resident_kib(child.id());
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(still_running, "the sweep ended: {}", stderr(&out));
    let resident = resident.expect("VmRSS of the sweep");
    assert!(
        resident < 200 * 1024,
        "a sweep of 2^64 seeds holds {resident} KiB: seeds must be streamed"
    );
}
