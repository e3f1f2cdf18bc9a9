//! The linearizability check of a run stays under its memory budget
//! (`[limits] linearizability_memory`), measured by a counting allocator in
//! this test binary, not by the OS.
//!
//! Two runs of the same seed differ only in the budget: one so small that the
//! search stops before its first step (the baseline: the run, the history and
//! the compiled operations), one of 4 MiB. The second may allocate at most its
//! budget more than the first, and it must report the check as unknown.

use faultlab::scenario::{run, RunOptions, Scenario};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static COUNTING: counting_alloc::Counting = counting_alloc::Counting;

/// Primary-backup with 20 clients for 10 s: about 6,000 operations whose
/// check takes a million steps and 11 MB above the baseline when unbounded.
fn scenario(budget: &str) -> Scenario {
    let text = format!(
        r#"
model = "primary_backup"
duration = "10s"
seed = 1
checks = ["linearizability"]

[primary_backup]
reads = "primary"

[workload]
clients = 20
think = ["0ms", "20ms"]
timeout = "100ms"
read_fraction = 0.5

[nodes]
count = 3

[network]
latency = {{ dist = "uniform", min = "1ms", max = "10ms" }}

[[faults]]
at = "3s"
kind = "isolate"
node = "n3"

[[faults]]
at = "7s"
kind = "heal"

[limits]
linearizability_memory = "{budget}"
"#
    );
    let path = std::env::temp_dir().join(format!(
        "faultlab-memory-budget-{}-{budget}.toml",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("write the scenario");
    let scenario = Scenario::load(path.to_str().expect("a UTF-8 path")).expect("a valid scenario");
    let _ = std::fs::remove_file(&path);
    scenario
}

/// The peak of live bytes above the level at the start, during one run,
/// and the run's check notes and inconclusive checks.
fn measured_run(budget: &str) -> (usize, Vec<String>, Vec<String>) {
    let scenario = scenario(budget);
    let (report, peak) = counting_alloc::peak_during(|| run(&scenario, 1, RunOptions::default()));
    (peak, report.check_notes, report.inconclusive_checks)
}

#[test]
fn a_run_with_a_large_history_stays_under_its_linearizability_memory_budget() {
    const BUDGET: usize = 4 << 20;
    let (baseline, notes, inconclusive) = measured_run("1KiB");
    assert_eq!(inconclusive, ["linearizability"], "{notes:?}");
    let (peak, notes, inconclusive) = measured_run("4MiB");
    assert_eq!(inconclusive, ["linearizability"], "{notes:?}");
    let note = notes.join("\n");
    assert!(note.contains("unknown") && note.contains("4 MiB"), "{note}");
    let extra = peak.saturating_sub(baseline);
    assert!(
        extra <= BUDGET,
        "the check allocated {extra} bytes over the baseline ({baseline} bytes); budget {BUDGET}"
    );
    assert!(
        extra > BUDGET / 4,
        "the search should have used much of its budget: {extra} bytes"
    );
}
