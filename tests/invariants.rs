//! Each invariant has a run that violates it on purpose and one that does
//! not. The events are what nodes would record; the checkers see them as in
//! a run (before the world applies them).

use faultlab::check::{build, Checker, LivenessBound, Severity, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::node::{NodeId, Record};
use faultlab::{SimDuration, SimTime};
use serde_json::{json, Value};

fn ms(n: u64) -> SimTime {
    SimTime(n * 1_000_000)
}

fn start(t: u64, node: u32) -> TraceEvent {
    TraceEvent {
        time: ms(t),
        node: Some(NodeId(node)),
        kind: EventKind::Start { restart: false },
    }
}

fn record(t: u64, node: u32, kind: &str, detail: Value) -> TraceEvent {
    TraceEvent {
        time: ms(t),
        node: Some(NodeId(node)),
        kind: EventKind::Record(Record {
            kind: kind.to_string().into(),
            detail: detail.into(),
        }),
    }
}

/// Feeds events to the named check; returns the violation's name, if any.
fn judge(
    check: &str,
    events: &[TraceEvent],
    end_ms: u64,
    bound: LivenessBound,
) -> Option<(String, Severity, String)> {
    let mut checker: Box<dyn Checker> = build(check, bound).expect("a known check");
    let mut world = World::new((1..=3).map(|i| format!("n{i}")).collect());
    for node in 0..3 {
        world.observe(&start(0, node));
    }
    for event in events {
        if let Some(v) = checker.on_event(event, &world) {
            return Some((v.name, v.severity, v.explanation));
        }
        world.observe(event);
    }
    checker
        .finish(ms(end_ms), &world)
        .map(|v| (v.name, v.severity, v.explanation))
}

fn bound(after_ms: u64, within_ms: u64) -> LivenessBound {
    LivenessBound {
        after: ms(after_ms),
        within: SimDuration::from_millis(within_ms),
    }
}

#[test]
fn election_safety_catches_two_leaders_in_one_term() {
    let events = [
        record(10, 0, "leader", json!({"term": 1})),
        record(20, 1, "leader", json!({"term": 2})),
        record(30, 2, "leader", json!({"term": 2})),
    ];
    let (name, severity, why) =
        judge("election_safety", &events, 100, bound(0, 10)).expect("two leaders of term 2");
    assert_eq!((name.as_str(), severity), ("two_leaders", Severity::Safety));
    assert!(
        why.contains("n3 became leader of term 2") && why.contains("n2 had become leader"),
        "{why}"
    );
}

#[test]
fn two_leaders_names_the_votes_that_made_each_and_who_voted_twice() {
    let vote = |t, voter, term, candidate| {
        record(
            t,
            voter,
            "vote",
            json!({"term": term, "candidate": candidate}),
        )
    };
    let events = [
        vote(10, 0, 3, 0), // n1 for itself
        vote(11, 2, 3, 0), // n3 for n1
        record(12, 0, "leader", json!({"term": 3})),
        vote(20, 1, 3, 1), // n2 for itself
        vote(21, 2, 3, 1), // n3 again, for n2
        record(22, 1, "leader", json!({"term": 3})),
    ];
    let (name, _, why) = judge("election_safety", &events, 100, bound(0, 10)).expect("two leaders");
    assert_eq!(name, "two_leaders");
    assert!(
        why.starts_with(
            "n2 became leader of term 3 at 0.022s (votes: itself at 0.020s, n3 at 0.021s), \
             but n1 had become leader of the same term at 0.012s (votes: itself at 0.010s, n3 at 0.011s); \
             n3 voted 2 times in term 3: for n1 at 0.011s and for n2 at 0.021s"
        ),
        "{why}"
    );
}

#[test]
fn log_mismatch_shows_both_entries_in_the_models_terms() {
    let events = [
        record(
            10,
            0,
            "commit",
            json!({"index": 7, "digest": "a", "term": 2, "entry": "put k1=\"x\"", "client": 2}),
        ),
        record(
            20,
            1,
            "commit",
            json!({"index": 7, "digest": "b", "term": 3, "entry": "no-op"}),
        ),
    ];
    let (_, _, why) = judge("log_matching", &events, 100, bound(0, 10)).expect("mismatch");
    assert_eq!(
        why,
        "n2 committed term 3, no-op (digest \"b\") at index 7 at 0.020s, but n1 had committed \
         term 2, put k1=\"x\" by n3 (digest \"a\") there at 0.010s"
    );
}

#[test]
fn election_safety_allows_one_leader_per_term_and_re_announcements() {
    let events = [
        record(10, 0, "leader", json!({"term": 1})),
        record(15, 0, "leader", json!({"term": 1})),
        record(20, 1, "leader", json!({"term": 2})),
        record(30, 2, "leader", json!({"term": 3})),
    ];
    assert_eq!(judge("election_safety", &events, 100, bound(0, 10)), None);
}

fn lease(t: u64, node: u32, start_ms: u64, end_ms: u64) -> TraceEvent {
    record(
        t,
        node,
        "lease",
        json!({"start_true_ns": ms(start_ms).0, "end_true_ns": ms(end_ms).0}),
    )
}

#[test]
fn lease_exclusivity_catches_overlapping_holders() {
    let events = [lease(0, 0, 0, 1000), lease(900, 1, 900, 1900)];
    let (name, _, why) = judge("lease_exclusivity", &events, 2000, bound(0, 10)).expect("overlap");
    assert_eq!(name, "lease_overlap");
    assert!(why.contains("by 100ms"), "names the overlap: {why}");
}

#[test]
fn lease_exclusivity_allows_handover_and_renewal() {
    let events = [
        lease(0, 0, 0, 1000),
        lease(500, 0, 500, 1500),
        lease(1500, 1, 1500, 2500),
    ];
    assert_eq!(
        judge("lease_exclusivity", &events, 3000, bound(0, 10)),
        None
    );
}

#[test]
fn log_matching_catches_different_entries_at_one_index() {
    let events = [
        record(10, 0, "commit", json!({"index": 1, "digest": "a"})),
        record(12, 1, "commit", json!({"index": 1, "digest": "a"})),
        record(20, 2, "commit", json!({"index": 1, "digest": "b"})),
    ];
    let (name, ..) = judge("log_matching", &events, 100, bound(0, 10)).expect("mismatch");
    assert_eq!(name, "log_mismatch");
}

#[test]
fn log_matching_allows_the_same_entry_everywhere() {
    let events = [
        record(10, 0, "commit", json!({"index": 1, "digest": "a"})),
        record(12, 1, "commit", json!({"index": 1, "digest": "a"})),
        record(20, 2, "commit", json!({"index": 2, "digest": "b"})),
    ];
    assert_eq!(judge("log_matching", &events, 100, bound(0, 10)), None);
}

#[test]
fn convergence_catches_a_replica_left_behind() {
    let events = [
        record(0, 0, "state", json!({"version": 0})),
        record(0, 1, "state", json!({"version": 0})),
        record(100, 0, "state", json!({"version": 1})),
        record(110, 1, "state", json!({"version": 1})),
        record(200, 0, "state", json!({"version": 2})),
    ];
    let (name, severity, why) =
        judge("convergence", &events, 2000, bound(0, 500)).expect("n2 is behind");
    assert_eq!(
        (name.as_str(), severity),
        ("divergence", Severity::Liveness)
    );
    assert!(
        why.contains("n2 ends at version 1") && why.contains("version 2"),
        "{why}"
    );
}

#[test]
fn convergence_allows_a_write_still_in_flight_at_the_end() {
    let events = [
        record(0, 0, "state", json!({"version": 0})),
        record(0, 1, "state", json!({"version": 0})),
        record(100, 0, "state", json!({"version": 1})),
        record(110, 1, "state", json!({"version": 1})),
        record(1900, 0, "state", json!({"version": 2})),
    ];
    assert_eq!(judge("convergence", &events, 2000, bound(0, 500)), None);
}

fn ok_op(t: u64, node: u32) -> TraceEvent {
    record(
        t,
        node,
        "op",
        json!({"process": 0, "type": "ok", "f": "read", "value": null}),
    )
}

#[test]
fn progress_catches_a_cluster_that_does_nothing_after_the_faults() {
    let events = [ok_op(100, 2), ok_op(3500, 2)];
    let (name, severity, _) =
        judge("progress", &events, 5000, bound(1000, 2000)).expect("nothing from 1s to 3s");
    assert_eq!(
        (name.as_str(), severity),
        ("no_progress", Severity::Liveness)
    );
    let quiet: [TraceEvent; 0] = [];
    assert_eq!(
        judge("progress", &quiet, 5000, bound(1000, 2000)).map(|v| v.0),
        Some("no_progress".into())
    );
}

#[test]
fn progress_passes_when_an_operation_completes_in_time() {
    let events = [ok_op(1500, 2)];
    assert_eq!(judge("progress", &events, 5000, bound(1000, 2000)), None);
    let leader = [record(2900, 0, "leader", json!({"term": 3}))];
    assert_eq!(judge("progress", &leader, 5000, bound(1000, 2000)), None);
}

fn storage_write(t: u64, token: u64, writer: &str) -> TraceEvent {
    record(
        t,
        1,
        "storage_write",
        json!({"token": token, "writer": writer, "value": format!("{writer}:{t}")}),
    )
}

#[test]
fn no_lost_update_catches_a_stale_token_accepted_after_a_newer_one() {
    let events = [
        storage_write(10, 1, "n3"),
        storage_write(20, 2, "n4"),
        storage_write(30, 1, "n3"),
    ];
    let (name, severity, why) =
        judge("no_lost_update", &events, 100, bound(0, 10)).expect("token 1 after token 2");
    assert_eq!((name.as_str(), severity), ("lost_update", Severity::Safety));
    assert!(
        why.contains("token 1") && why.contains("token 2 from n4"),
        "{why}"
    );
}

#[test]
fn no_lost_update_allows_tokens_that_never_go_back() {
    let events = [
        storage_write(10, 1, "n3"),
        storage_write(15, 1, "n3"),
        storage_write(20, 2, "n4"),
    ];
    assert_eq!(judge("no_lost_update", &events, 100, bound(0, 10)), None);
}

#[test]
fn progress_reports_how_long_recovery_took() {
    let mut checker = build("progress", bound(1000, 2000)).expect("a known check");
    let world = World::new((1..=3).map(|i| format!("n{i}")).collect());
    // Progress before the liveness phase does not count.
    for event in [ok_op(500, 1), ok_op(1750, 1), ok_op(1900, 2)] {
        assert!(checker.on_event(&event, &world).is_none());
    }
    assert_eq!(checker.finish(ms(5000), &world), None);
    assert_eq!(
        checker.metrics(),
        [("progress.recovery_s".to_string(), 0.75)]
    );
    let idle = build("progress", bound(1000, 2000)).expect("a known check");
    assert!(idle.metrics().is_empty(), "no progress, no figure");
}
