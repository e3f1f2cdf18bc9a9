//! Unit tests of the Paxos model: parameters, and runs of small scenarios.

use super::*;
use crate::model::{Layout, Model};

fn layout(servers: usize) -> Layout {
    Layout {
        servers,
        workload: None,
    }
}

#[test]
fn params_reject_bad_values_with_their_key() {
    let m = PaxosModel;
    let err = m.params(PaxosTable::default(), &layout(2)).unwrap_err();
    assert!(err.key.is_none() && err.message.contains("three servers"));
    let t = PaxosTable {
        proposers: Some(4),
        ..PaxosTable::default()
    };
    assert_eq!(
        m.params(t, &layout(3)).unwrap_err().key.as_deref(),
        Some("proposers")
    );
    let t = PaxosTable {
        backoff: Some("exponential".into()),
        ..PaxosTable::default()
    };
    let err = m.params(t, &layout(3)).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("backoff"));
    assert!(err.message.contains("\"none\" or \"randomized\""));
    let t = PaxosTable {
        bugs: vec!["nope".into()],
        ..PaxosTable::default()
    };
    assert_eq!(
        m.params(t, &layout(3)).unwrap_err().key.as_deref(),
        Some("bugs")
    );
    let p = m.params(PaxosTable::default(), &layout(5)).unwrap();
    assert_eq!(
        (p.proposers, p.majority(), p.backoff),
        (1, 3, Backoff::Randomized)
    );
}

#[test]
fn ballots_order_by_round_then_proposer() {
    let a = Ballot { round: 1, by: 2 };
    let b = Ballot { round: 2, by: 0 };
    let c = Ballot { round: 2, by: 1 };
    assert!(a < b && b < c);
    assert!(Ballot::default() < a);
}

use crate::check::{record_at as record, Checker, World};
use crate::engine::TraceEvent;
use crate::node::testing::NodeHarness;
use crate::node::NodeId;
use crate::scenario::{run, RunOptions, Scenario};
use crate::time::SimTime;
use serde_json::json;

fn params(bugs: &[&str]) -> PaxosParams {
    let table = PaxosTable {
        proposers: Some(1),
        bugs: bugs.iter().map(|b| b.to_string()).collect(),
        ..PaxosTable::default()
    };
    PaxosModel.params(table, &layout(3)).unwrap()
}

/// n3, an acceptor only, in a harness of three servers.
fn acceptor(bugs: &[&str]) -> NodeHarness<PaxosMsg, Server> {
    NodeHarness::new(NodeId(2), Server::new(params(bugs), NodeId(2)))
        .with_peers([NodeId(0), NodeId(1)])
        .with_names(["n1", "n2", "n3"])
}

const B1: Ballot = Ballot { round: 1, by: 0 };
const B2: Ballot = Ballot { round: 1, by: 1 };

#[test]
fn an_acceptor_syncs_its_promise_before_replying_and_keeps_it_across_a_crash() {
    let mut h = acceptor(&[]).with_sync_check();
    h.start();
    let sent = h.deliver(NodeId(1), PaxosMsg::Prepare { ballot: B2 });
    assert_eq!(
        sent,
        vec![(
            NodeId(1),
            PaxosMsg::Promise {
                ballot: B2,
                accepted: None
            }
        )]
    );
    h.restart(Server::new(params(&[]), NodeId(2)));
    // The lower-numbered accept that was in flight is refused.
    let sent = h.deliver(
        NodeId(0),
        PaxosMsg::Accept {
            ballot: B1,
            value: "v-n1".into(),
        },
    );
    assert_eq!(
        sent,
        vec![(
            NodeId(0),
            PaxosMsg::Nack {
                ballot: B1,
                promised: B2
            }
        )]
    );
}

#[test]
fn with_promise_not_synced_a_crash_forgets_the_promise() {
    let mut h = acceptor(&["promise_not_synced"]);
    h.start();
    h.deliver(NodeId(1), PaxosMsg::Prepare { ballot: B2 });
    h.restart(Server::new(params(&["promise_not_synced"]), NodeId(2)));
    let sent = h.deliver(
        NodeId(0),
        PaxosMsg::Accept {
            ballot: B1,
            value: "v-n1".into(),
        },
    );
    // It accepts what it promised to refuse, and tells every learner.
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent
        .iter()
        .all(|(_, m)| matches!(m, PaxosMsg::Accepted { ballot, .. } if *ballot == B1)));
}

#[test]
fn a_promise_reports_the_accepted_proposal() {
    let mut h = acceptor(&[]);
    h.start();
    h.deliver(NodeId(0), PaxosMsg::Prepare { ballot: B1 });
    h.deliver(
        NodeId(0),
        PaxosMsg::Accept {
            ballot: B1,
            value: "v-n1".into(),
        },
    );
    let sent = h.deliver(NodeId(1), PaxosMsg::Prepare { ballot: B2 });
    assert_eq!(
        sent,
        vec![(
            NodeId(1),
            PaxosMsg::Promise {
                ballot: B2,
                accepted: Some((B1, "v-n1".into()))
            }
        )]
    );
}

fn world() -> World {
    World::new(vec!["n1".into(), "n2".into(), "n3".into()])
}

fn feed(check: &mut dyn Checker, events: &[TraceEvent]) -> Option<crate::check::Violation> {
    let world = world();
    events.iter().find_map(|e| check.on_event(e, &world))
}

fn accepted(node: u32, ms: u64, round: u64, by: u64, value: &str) -> TraceEvent {
    record(
        node,
        ms,
        "accepted",
        json!({ "round": round, "by": by, "value": value }),
    )
}

#[test]
fn agreement_allows_one_value_under_many_numbers_and_catches_a_second() {
    let mut check = Agreement::new(3);
    let same = [
        accepted(0, 1, 1, 0, "v-n1"),
        accepted(2, 2, 1, 0, "v-n1"),
        accepted(1, 3, 2, 1, "v-n1"),
        accepted(2, 4, 2, 1, "v-n1"),
    ];
    assert_eq!(feed(&mut check, &same), None);
    let second = [accepted(1, 5, 3, 1, "v-n2"), accepted(2, 6, 3, 1, "v-n2")];
    let v = feed(&mut check, &second).expect("two values chosen");
    assert_eq!(v.name, "two_values_chosen");
    assert!(
        v.explanation.contains("'v-n1' was chosen"),
        "{}",
        v.explanation
    );
}

#[test]
fn agreement_catches_a_learner_that_learned_another_value() {
    let mut check = Agreement::new(3);
    let events = [
        record(
            0,
            1,
            "learned",
            json!({ "round": 1, "by": 0, "value": "v-n1" }),
        ),
        record(
            1,
            2,
            "learned",
            json!({ "round": 2, "by": 1, "value": "v-n2" }),
        ),
    ];
    assert_eq!(feed(&mut check, &events).unwrap().name, "two_values_chosen");
}

#[test]
fn validity_rejects_a_value_nobody_proposed() {
    let mut check = Validity::default();
    let events = [
        record(0, 1, "propose", json!({ "value": "v-n1" })),
        accepted(1, 2, 1, 0, "v-n1"),
        accepted(2, 3, 1, 0, "v-n9"),
    ];
    assert_eq!(feed(&mut check, &events).unwrap().name, "unproposed_value");
}

#[test]
fn liveness_fails_when_a_live_server_never_learns() {
    let bound = crate::check::LivenessBound {
        after: SimTime::ZERO,
        within: crate::time::SimDuration::from_millis(100),
    };
    let mut check = Liveness::new(bound, 3);
    let events = [
        record(
            0,
            10,
            "learned",
            json!({ "round": 1, "by": 0, "value": "v-n1" }),
        ),
        record(
            1,
            20,
            "learned",
            json!({ "round": 1, "by": 0, "value": "v-n1" }),
        ),
    ];
    assert_eq!(feed(&mut check, &events), None);
    let mut world = world();
    for n in 0..3 {
        world.observe(&TraceEvent {
            time: SimTime::ZERO,
            node: Some(NodeId(n)),
            kind: crate::engine::EventKind::Start { restart: false },
        });
    }
    let v = check.finish(SimTime(200_000_000), &world).unwrap();
    assert_eq!(
        (v.name.as_str(), v.nodes.clone()),
        ("nothing_learned", vec!["n3".to_string()])
    );
}

#[test]
fn backoff_turns_a_livelock_into_progress_on_the_same_seed() {
    let text = std::fs::read_to_string("scenarios/paxos-duelling-no-backoff.toml").unwrap();
    let none = Scenario::parse(&text, "none.toml").unwrap_or_else(|e| panic!("{e}"));
    let report = run(&none, 0, RunOptions::default());
    assert_eq!(report.violations[0].name, "nothing_learned");
    let text = text
        .replace("backoff = \"none\"", "backoff = \"randomized\"")
        .replace("expect = \"nothing_learned\"", "expect = \"pass\"");
    let randomized = Scenario::parse(&text, "randomized.toml").unwrap_or_else(|e| panic!("{e}"));
    let report = run(&randomized, 0, RunOptions::default());
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}
