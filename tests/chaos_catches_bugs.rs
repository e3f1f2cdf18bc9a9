//! The shipped chaos catches every famous bug: for each (model, bug), one of
//! the model's shipped fault scenarios, run with that bug switched on
//! (`--set MODEL.bugs=["BUG"]`), fails with the stated violation, and its
//! first failing seed is the one pinned here (and in the README's table).
//! Every bug a built-in model knows must have a row: a new bug without a
//! scenario that catches it fails `every_known_bug_is_caught_by_a_row`.
//!
//! A row pins the first failing seed exactly (runs are deterministic): a
//! change to a model, the chaos or the engine that moves it shows up here
//! and in the README as a reviewed diff, like a golden trace hash.

use faultlab::registry::Registry;
use faultlab::scenario::{run, Override, RunOptions, Scenario};

/// One (model, bug) and the shipped scenario that catches it.
struct Catch {
    model: &'static str,
    bug: &'static str,
    /// A shipped scenario of the model, by its file stem.
    scenario: &'static str,
    /// The violation its first failing seed reports.
    violation: &'static str,
    /// Seeds a search from seed 0 runs to its first failure (the first
    /// failing seed plus one).
    seeds: u64,
}

const fn row(
    model: &'static str,
    bug: &'static str,
    scenario: &'static str,
    seeds: u64,
    violation: &'static str,
) -> Catch {
    Catch {
        model,
        bug,
        scenario,
        violation,
        seeds,
    }
}

/// The table; the README's "The shipped chaos catches every bug" section
/// lists the same rows.
#[rustfmt::skip]
const CATCHES: &[Catch] = &[
    // model, bug, scenario, seeds to the first failure, violation
    row("raft", "vote_not_synced", "raft-fault-points", 1, "two_leaders"),
    row("raft", "term_not_persisted", "raft-fault-points", 1, "two_leaders"),
    row("raft", "term_not_persisted", "raft-chaos", 33, "log_mismatch"),
    row("raft", "figure8_commit", "raft-lab-figure8-unreliable", 68, "log_mismatch"),
    row("raft", "no_step_down", "raft-chaos", 1, "not_linearizable"),
    row("raft", "no_step_down", "raft-chaos-paper", 1, "not_linearizable"),
    row("raft", "vote_without_log_check", "raft-fault-points", 1, "log_mismatch"),
    row("raft", "vote_without_log_check", "raft-chaos-paper", 3, "log_mismatch"),
    row("raft", "no_truncation", "raft-chaos", 1, "log_mismatch"),
    row("raft", "no_truncation", "raft-fault-points", 1, "log_mismatch"),
    row("raft", "read_without_quorum", "raft-chaos-paper", 4, "not_linearizable"),
    row("multi_paxos", "skip_phase1_on_takeover", "multipaxos-chaos", 1, "log_mismatch"),
    row("lease", "no_drift_margin", "lease-drift-margin", 1, "lease_overlap"),
    row("primary_backup", "ack_before_replicate", "pb-sync-failover", 1, "lost_write"),
    row("two_pc", "decision_before_sync", "twopc-participant-crash", 2, "not_atomic"),
    row("saga", "no_idempotency_key", "saga-chaos", 1, "step_applied_twice"),
    row("heartbeat", "suspicion_never_revoked", "heartbeat-chaos", 1, "lasting_false_suspicion"),
    row("heartbeat", "no_timeout_before_first_heartbeat", "heartbeat-chaos", 4, "undetected_crash"),
    row("heartbeat", "seq_without_incarnation", "heartbeat-chaos", 1, "lasting_false_suspicion"),
    row("quorum_kv", "read_without_write_back", "quorum-consistent-read", 81, "not_linearizable"),
    row("quorum_kv", "write_without_version_read", "quorum-consistent-read", 9, "not_linearizable"),
    row("quorum_kv", "last_arrival_wins", "quorum-consistent-read", 25, "not_linearizable"),
    row("backoff", "ok_on_timeout", "backoff-exponential", 1, "not_exactly_once"),
    row("service", "budget_not_charged", "service-metastable-budget", 1, "no_recovery"),
    row("service", "cooldown_reset_on_reject", "service-breaker", 1, "breaker_stuck_open"),
    row("cache", "ttl_jitter_ignored", "cache-ttl-jitter", 1, "goodput_below_slo"),
    row("cache", "no_coalescing_when_cold", "cache-cold-start-coalesced", 1, "no_recovery"),
    row("zones", "rotation_needs_control_plane", "zones-static", 1, "goodput_below_slo"),
    row("paxos", "promise_not_synced", "paxos-acceptor-crash", 12, "two_values_chosen"),
    row("paxos", "ignore_accepted_value", "paxos-acceptor-crash", 1, "two_values_chosen"),
    row("zab", "commit_before_quorum", "zab-chaos", 1, "zab_disagreement"),
];

/// The first failing seed of `c.scenario` with `c.bug` on, searching up to
/// `limit` seeds: (seed, violation name).
fn first_failure(c: &Catch, limit: u64) -> Option<(u64, String)> {
    let file = format!("scenarios/{}.toml", c.scenario);
    let set = Override::parse(&format!("{}.bugs=[\"{}\"]", c.model, c.bug))
        .unwrap_or_else(|e| panic!("{e}"));
    let scenario = Scenario::load_with_overrides(&Registry::builtin(), &file, &[set])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.model.name(), c.model, "{file}");
    (0..limit).find_map(|seed| {
        let options = RunOptions {
            narrate: 0,
            series: false,
            ..RunOptions::default()
        };
        let report = run(&scenario, seed, options);
        report.violations.first().map(|v| (seed, v.name.clone()))
    })
}

#[test]
fn each_bug_is_caught_at_its_pinned_seed() {
    let mut wrong = Vec::new();
    for c in CATCHES {
        match first_failure(c, c.seeds) {
            Some((seed, violation)) if seed + 1 == c.seeds && violation == c.violation => {}
            found => wrong.push(format!(
                "{} {} in {}: stated {} at {} seeds, found {found:?} (seed, violation)",
                c.model, c.bug, c.scenario, c.violation, c.seeds
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_known_bug_is_caught_by_a_row() {
    let mut missing = Vec::new();
    for model in Registry::builtin().models() {
        for bug in model.bugs {
            if !CATCHES
                .iter()
                .any(|c| c.model == model.name && c.bug == bug.name)
            {
                missing.push(format!("{} {}", model.name, bug.name));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "bugs no shipped scenario is shown to catch: {missing:?}"
    );
}

#[test]
fn the_readme_table_lists_every_row() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    for c in CATCHES {
        let line = format!(
            "| {} | `{}` | {} | {} | {} |",
            c.model, c.bug, c.scenario, c.seeds, c.violation
        );
        assert!(readme.contains(&line), "README lacks the row {line}");
    }
}
