//! The coordinator and a participant driven by hand through a
//! [`NodeHarness`], the checks fed hand-made records, and small scenarios
//! run whole.

use super::coordinator::{RESEND, START, VOTES_DUE};
use super::participant::{Local, INQUIRY};
use super::*;
use crate::check::{Checker, World};
use crate::engine::{EventKind, TraceEvent};
use crate::node::testing::NodeHarness;
use crate::node::{Node, NodeId};
use crate::scenario::{run, RunOptions, Scenario};
use crate::time::SimTime;
use serde_json::json;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

/// n1 and three participants; `no` is the probability of a no vote.
fn params(no: f64, bugs: &[&str]) -> TwoPcParams {
    let names: Vec<String> = bugs.iter().map(|b| b.to_string()).collect();
    TwoPcParams {
        transactions: 2,
        every: ms(50),
        abort_probability: Probability::from_f64(no).unwrap(),
        inquiry: ms(100),
        vote_timeout: ms(200),
        resend: ms(100),
        participants: 3,
        bugs: Bugs::parse(&names, KNOWN_BUGS).unwrap(),
    }
}

const N2: NodeId = NodeId(1);
const N3: NodeId = NodeId(2);
const N4: NodeId = NodeId(3);
const PARTICIPANTS: [NodeId; 3] = [N2, N3, N4];

fn harness<N: Node<TwoPcMsg>>(id: u32, node: N, sync_check: bool) -> NodeHarness<TwoPcMsg, N> {
    let h = NodeHarness::new(NodeId(id), node)
        .with_peers((0..4).filter(|&i| i != id).map(NodeId))
        .with_seed(1);
    let mut h = if sync_check { h.with_sync_check() } else { h };
    h.start();
    h
}

fn coordinator(p: TwoPcParams) -> NodeHarness<TwoPcMsg, Coordinator> {
    // With the bug a handler leaves its decision unsynced on purpose.
    let check = !p.bugs.has("decision_before_sync");
    harness(0, Coordinator::new(p), check)
}

fn participant(p: TwoPcParams) -> NodeHarness<TwoPcMsg, Participant> {
    harness(1, Participant::new(p), true)
}

fn to_all(msg: TwoPcMsg) -> Vec<(NodeId, TwoPcMsg)> {
    PARTICIPANTS.iter().map(|&p| (p, msg)).collect()
}

/// Begins tx 1 at the coordinator and checks it asked everyone.
fn begin(c: &mut NodeHarness<TwoPcMsg, Coordinator>) {
    assert_eq!(c.fire(START), to_all(TwoPcMsg::Prepare { tx: 1 }));
    assert_eq!(c.records_of("begin"), vec![&json!({ "tx": 1 })]);
    assert!(!c.storage().has_unsynced(), "the begin is durable");
}

#[test]
fn a_participant_syncs_prepared_before_it_votes_yes_and_asks_while_in_doubt() {
    let mut p = participant(params(0.0, &[]));
    let sent = p.deliver(COORDINATOR, TwoPcMsg::Prepare { tx: 1 });
    assert_eq!(
        sent,
        vec![(COORDINATOR, TwoPcMsg::Vote { tx: 1, yes: true })]
    );
    // The sync check passed: prepared is durable with the vote.
    assert_eq!(p.node().local(1), Some(Local::Prepared));
    assert_eq!(p.kinds(), vec!["prepared", "vote"]);
    // In doubt: it asks every `inquiry`, until it is told.
    assert_eq!(p.pending(INQUIRY), vec![ms(100)]);
    assert_eq!(
        p.fire(INQUIRY),
        vec![(COORDINATOR, TwoPcMsg::Inquire { tx: 1 })]
    );
    assert_eq!(
        p.fire(INQUIRY),
        vec![(COORDINATOR, TwoPcMsg::Inquire { tx: 1 })]
    );
    let sent = p.deliver(
        COORDINATOR,
        TwoPcMsg::Decision {
            tx: 1,
            commit: true,
        },
    );
    assert_eq!(sent, vec![(COORDINATOR, TwoPcMsg::Ack { tx: 1 })]);
    assert_eq!(p.node().local(1), Some(Local::Committed));
    assert_eq!(p.records_of("commit").len(), 1);
    // No longer in doubt: the next inquiry tick asks nothing and stops.
    assert!(p.fire(INQUIRY).is_empty());
    assert!(p.pending(INQUIRY).is_empty());
    // A re-sent decision is acknowledged again, not applied again.
    let sent = p.deliver(
        COORDINATOR,
        TwoPcMsg::Decision {
            tx: 1,
            commit: true,
        },
    );
    assert_eq!(sent, vec![(COORDINATOR, TwoPcMsg::Ack { tx: 1 })]);
    assert_eq!(p.records_of("commit").len(), 1);
}

#[test]
fn a_no_vote_aborts_at_once_and_a_late_prepare_after_an_abort_gets_no() {
    let mut p = participant(params(1.0, &[]));
    let sent = p.deliver(COORDINATOR, TwoPcMsg::Prepare { tx: 1 });
    assert_eq!(
        sent,
        vec![(COORDINATOR, TwoPcMsg::Vote { tx: 1, yes: false })]
    );
    assert_eq!(p.kinds(), vec!["vote", "abort"]);
    assert!(p.pending(INQUIRY).is_empty(), "not in doubt");
    // An abort that overtook its Prepare: the Prepare is refused.
    let mut q = participant(params(0.0, &[]));
    q.deliver(
        COORDINATOR,
        TwoPcMsg::Decision {
            tx: 2,
            commit: false,
        },
    );
    assert_eq!(q.node().local(2), Some(Local::Aborted));
    let sent = q.deliver(COORDINATOR, TwoPcMsg::Prepare { tx: 2 });
    assert_eq!(
        sent,
        vec![(COORDINATOR, TwoPcMsg::Vote { tx: 2, yes: false })]
    );
    assert!(q.records_of("prepared").is_empty());
}

#[test]
fn a_participant_restarts_in_doubt_and_asks() {
    let p = params(0.0, &[]);
    let mut h = participant(p);
    h.deliver(COORDINATOR, TwoPcMsg::Prepare { tx: 1 });
    h.restart(Participant::new(p));
    assert_eq!(
        h.node().local(1),
        Some(Local::Prepared),
        "prepared survives"
    );
    assert_eq!(h.records_of("in_doubt"), vec![&json!({ "txs": [1] })]);
    assert_eq!(
        h.fire(INQUIRY),
        vec![(COORDINATOR, TwoPcMsg::Inquire { tx: 1 })]
    );
}

#[test]
fn the_coordinator_commits_only_on_all_yes_and_logs_before_sending() {
    let mut c = coordinator(params(0.0, &[]));
    begin(&mut c);
    assert!(c
        .deliver(N2, TwoPcMsg::Vote { tx: 1, yes: true })
        .is_empty());
    assert!(c
        .deliver(N3, TwoPcMsg::Vote { tx: 1, yes: true })
        .is_empty());
    let sent = c.deliver(N4, TwoPcMsg::Vote { tx: 1, yes: true });
    assert_eq!(
        sent,
        to_all(TwoPcMsg::Decision {
            tx: 1,
            commit: true
        })
    );
    assert_eq!(c.node().decision(1), Some(true));
    assert_eq!(
        c.records_of("decision"),
        vec![&json!({ "tx": 1, "commit": true })]
    );
    // Re-sent to whoever has not acknowledged.
    c.deliver(N2, TwoPcMsg::Ack { tx: 1 });
    c.deliver(N4, TwoPcMsg::Ack { tx: 1 });
    assert_eq!(
        c.fire(RESEND),
        vec![(
            N3,
            TwoPcMsg::Decision {
                tx: 1,
                commit: true
            }
        )]
    );
    c.deliver(N3, TwoPcMsg::Ack { tx: 1 });
    assert!(c.fire(RESEND).is_empty());
    assert!(
        c.pending(RESEND).is_empty(),
        "all acknowledged: no more re-sends"
    );
}

#[test]
fn one_no_vote_or_a_missing_vote_aborts() {
    let mut c = coordinator(params(0.0, &[]));
    begin(&mut c);
    c.deliver(N2, TwoPcMsg::Vote { tx: 1, yes: true });
    let sent = c.deliver(N3, TwoPcMsg::Vote { tx: 1, yes: false });
    assert_eq!(
        sent,
        to_all(TwoPcMsg::Decision {
            tx: 1,
            commit: false
        })
    );
    // A late yes changes nothing.
    assert!(c
        .deliver(N4, TwoPcMsg::Vote { tx: 1, yes: true })
        .is_empty());
    assert_eq!(c.node().decision(1), Some(false));
    // tx 2: two votes, then the vote timeout.
    assert_eq!(c.fire(START), to_all(TwoPcMsg::Prepare { tx: 2 }));
    c.deliver(N2, TwoPcMsg::Vote { tx: 2, yes: true });
    c.deliver(N3, TwoPcMsg::Vote { tx: 2, yes: true });
    let sent = c.fire(VOTES_DUE); // tx 1's, already decided: nothing
    assert!(sent.is_empty());
    let sent = c.fire(VOTES_DUE);
    assert_eq!(
        sent,
        to_all(TwoPcMsg::Decision {
            tx: 2,
            commit: false
        })
    );
    assert!(c.pending(START).is_empty(), "only two transactions");
}

#[test]
fn a_restarted_coordinator_resends_logged_decisions_and_presumes_abort_for_the_rest() {
    let p = params(0.0, &[]);
    let mut c = coordinator(p);
    begin(&mut c);
    for n in PARTICIPANTS {
        c.deliver(n, TwoPcMsg::Vote { tx: 1, yes: true });
    }
    assert_eq!(c.fire(START), to_all(TwoPcMsg::Prepare { tx: 2 }));
    let sent = c.restart(Coordinator::new(p));
    let mut expected = to_all(TwoPcMsg::Decision {
        tx: 2,
        commit: false,
    });
    expected.extend(to_all(TwoPcMsg::Decision {
        tx: 1,
        commit: true,
    }));
    expected.extend(to_all(TwoPcMsg::Decision {
        tx: 2,
        commit: false,
    }));
    assert_eq!(sent, expected, "abort tx 2, then re-send both decisions");
    assert_eq!(c.node().decision(1), Some(true));
    assert_eq!(
        c.records_of("decision").last(),
        Some(&&json!({ "tx": 2, "commit": false, "presumed": true }))
    );
    assert_eq!(c.records_of("recovered")[0]["aborted"], 1);
    assert!(c.pending(START).is_empty(), "both transactions were begun");
    // An inquiry about a transaction it never logged: presumed abort.
    let sent = c.deliver(N3, TwoPcMsg::Inquire { tx: 9 });
    assert_eq!(
        sent,
        vec![(
            N3,
            TwoPcMsg::Decision {
                tx: 9,
                commit: false
            }
        )]
    );
}

#[test]
fn a_decision_every_participant_acknowledged_is_not_sent_again_after_a_restart() {
    let p = params(0.0, &[]);
    let mut c = coordinator(p);
    begin(&mut c);
    for n in PARTICIPANTS {
        c.deliver(n, TwoPcMsg::Vote { tx: 1, yes: true });
    }
    for n in PARTICIPANTS {
        c.deliver(n, TwoPcMsg::Ack { tx: 1 });
    }
    assert!(c.restart(Coordinator::new(p)).is_empty(), "tx 1 ended");
    assert_eq!(c.node().decision(1), Some(true), "and is still known");
    assert_eq!(c.records_of("recovered").len(), 0, "nothing to recover");
    // Its next transaction is tx 2, not a reused id.
    assert_eq!(c.fire(START), to_all(TwoPcMsg::Prepare { tx: 2 }));
}

#[test]
fn decision_before_sync_loses_a_commit_in_a_crash_right_after_the_send() {
    let p = params(0.0, &["decision_before_sync"]);
    let mut c = coordinator(p);
    begin(&mut c);
    for n in PARTICIPANTS {
        c.deliver(n, TwoPcMsg::Vote { tx: 1, yes: true });
    }
    assert_eq!(c.node().decision(1), Some(true));
    assert!(c.storage().has_unsynced(), "sent, not yet synced");
    c.restart(Coordinator::new(p));
    assert_eq!(
        c.node().decision(1),
        Some(false),
        "presumed abort after commit was sent"
    );
    // Without the bug the same crash keeps the commit.
    let p = params(0.0, &[]);
    let mut c = coordinator(p);
    begin(&mut c);
    for n in PARTICIPANTS {
        c.deliver(n, TwoPcMsg::Vote { tx: 1, yes: true });
    }
    c.restart(Coordinator::new(p));
    assert_eq!(c.node().decision(1), Some(true));
}

use crate::check::record_at as record;

fn world() -> World {
    World::new(vec!["n1".into(), "n2".into(), "n3".into()])
}

fn feed(check: &mut dyn Checker, events: &[TraceEvent]) -> Option<crate::check::Violation> {
    let world = world();
    events.iter().find_map(|e| check.on_event(e, &world))
}

#[test]
fn atomicity_passes_an_atomic_run_and_measures_the_doubt() {
    let mut check = Atomicity::default();
    let events = [
        record(1, 10, "prepared", json!({ "tx": 1 })),
        record(2, 12, "prepared", json!({ "tx": 1 })),
        record(0, 20, "decision", json!({ "tx": 1, "commit": true })),
        record(1, 30, "commit", json!({ "tx": 1 })),
        record(2, 42, "commit", json!({ "tx": 1 })),
        record(1, 50, "abort", json!({ "tx": 2, "why": "voted no" })),
        record(0, 55, "decision", json!({ "tx": 2, "commit": false })),
        record(2, 60, "abort", json!({ "tx": 2 })),
    ];
    assert_eq!(feed(&mut check, &events), None);
    assert_eq!(check.finish(SimTime(100_000_000), &world()), None);
    let metrics: std::collections::BTreeMap<String, f64> = check.metrics().into_iter().collect();
    assert_eq!(metrics["atomicity.committed"], 1.0);
    assert_eq!(metrics["atomicity.aborted"], 1.0);
    assert!((metrics["atomicity.in_doubt_max_s"] - 0.030).abs() < 1e-9);
    assert!((metrics["atomicity.in_doubt_mean_s"] - 0.025).abs() < 1e-9);
    assert_eq!(metrics["atomicity.in_doubt_at_end"], 0.0);
}

#[test]
fn a_participant_restarting_in_doubt_is_in_doubt_again_until_told() {
    let mut check = Atomicity::default();
    let events = [
        record(1, 10, "prepared", json!({ "tx": 1 })),
        record(0, 20, "decision", json!({ "tx": 1, "commit": true })),
        // Applied, crashed before the outcome was durable, restarted prepared.
        record(1, 25, "commit", json!({ "tx": 1 })),
        record(1, 40, "in_doubt", json!({ "txs": [1] })),
        record(1, 140, "commit", json!({ "tx": 1 })),
    ];
    assert_eq!(feed(&mut check, &events), None);
    check.finish(SimTime(200_000_000), &world());
    let metrics: std::collections::BTreeMap<String, f64> = check.metrics().into_iter().collect();
    assert!((metrics["atomicity.in_doubt_max_s"] - 0.100).abs() < 1e-9);
}

#[test]
fn atomicity_catches_a_participant_aborting_what_another_committed() {
    let mut check = Atomicity::default();
    let v = feed(
        &mut check,
        &[
            record(0, 20, "decision", json!({ "tx": 1, "commit": true })),
            record(1, 30, "commit", json!({ "tx": 1 })),
            record(2, 31, "abort", json!({ "tx": 1 })),
        ],
    )
    .expect("not atomic");
    assert_eq!(v.name, "not_atomic");
    assert_eq!(v.nodes, vec!["n3".to_string(), "n2".to_string()]);
    assert!(
        v.explanation
            .contains("n3 aborted tx 1 at 0.031s, but n2 committed it at 0.030s"),
        "{}",
        v.explanation
    );
}

#[test]
fn atomicity_catches_a_lost_commit_decided_again_as_abort() {
    let mut check = Atomicity::default();
    let v = feed(
        &mut check,
        &[
            record(0, 20, "decision", json!({ "tx": 1, "commit": true })),
            record(1, 25, "commit", json!({ "tx": 1 })),
            record(
                0,
                27,
                "decision",
                json!({ "tx": 1, "commit": false, "presumed": true }),
            ),
        ],
    )
    .expect("not atomic");
    assert!(
        v.explanation.contains("lost before it was durable"),
        "{}",
        v.explanation
    );
    // A commit nobody decided is caught too, and only the first violation is reported.
    let mut check = Atomicity::default();
    let events = [
        record(1, 25, "commit", json!({ "tx": 3 })),
        record(2, 26, "abort", json!({ "tx": 3 })),
    ];
    let world = world();
    let found: Vec<_> = events
        .iter()
        .filter_map(|e| check.on_event(e, &world))
        .collect();
    assert_eq!(found.len(), 1);
    assert!(
        found[0].explanation.contains("never decided"),
        "{}",
        found[0].explanation
    );
}

#[test]
fn transactions_decided_fails_a_participant_left_in_doubt_past_the_bound() {
    let mut check = TransactionsDecided::new(ms(500));
    let mut world = world();
    for n in 0..3 {
        world.observe(&TraceEvent {
            time: SimTime::ZERO,
            node: Some(NodeId(n)),
            kind: EventKind::Start { restart: false },
        });
    }
    for e in [
        record(1, 10, "prepared", json!({ "tx": 1 })),
        record(2, 10, "prepared", json!({ "tx": 1 })),
        record(2, 20, "commit", json!({ "tx": 1 })),
    ] {
        assert_eq!(check.on_event(&e, &world), None);
    }
    assert_eq!(
        check.finish(SimTime(400_000_000), &world),
        None,
        "within the bound"
    );
    let v = check
        .finish(SimTime(900_000_000), &world)
        .expect("in doubt forever");
    assert_eq!(v.name, "in_doubt_forever");
    assert_eq!(v.nodes, vec!["n2".to_string()]);
}

const SMALL: &str = r#"
expect = "pass"
model = "two_pc"
duration = "1s"
checks = ["atomicity", "transactions_decided"]
[two_pc]
transactions = 5
abort_probability = 0.0
[nodes]
count = 3
[network]
latency = { dist = "uniform", min = "1ms", max = "5ms" }
[liveness]
within = "300ms"
"#;

#[test]
fn a_small_run_commits_every_transaction_everywhere() {
    let scenario = Scenario::parse(SMALL, "small.toml").unwrap_or_else(|e| panic!("{e}"));
    let report = run(&scenario, 3, RunOptions::default());
    assert!(report.expectation_met, "{:?}", report.violations);
    let count = |kind: &str| {
        report
            .observations
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(count("begin"), 5);
    assert_eq!(count("decision"), 5);
    assert_eq!(count("commit"), 10, "two participants commit five each");
    assert_eq!(count("abort"), 0);
}

#[test]
fn the_coordinator_down_past_the_bound_leaves_participants_in_doubt_forever() {
    let text = format!(
        "{SMALL}\n[[faults]]\nafter = \"prepared\"\nkind = \"crash\"\nnode = \"@coordinator\"\n"
    );
    let scenario = Scenario::parse(&text, "blocked.toml").unwrap_or_else(|e| panic!("{e}"));
    let report = run(&scenario, 0, RunOptions::default());
    assert_eq!(
        report.violations.first().map(|v| v.name.as_str()),
        Some("in_doubt_forever"),
        "{:?}",
        report.violations
    );
}
