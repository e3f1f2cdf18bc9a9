//! The detector's rules and its famous bugs, one node driven by hand
//! through a [`NodeHarness`]: n1 watches n2 and n3.

use super::*;
use crate::node::testing::NodeHarness;

fn params(bugs: &[&str]) -> HeartbeatParams {
    let names: Vec<String> = bugs.iter().map(|b| b.to_string()).collect();
    HeartbeatParams {
        interval: SimDuration::from_millis(100),
        timeout: SimDuration::from_millis(500),
        bugs: Bugs::parse(&names, KNOWN_BUGS).unwrap(),
    }
}

/// n1, with peers n2 and n3, started.
fn node(bugs: &[&str]) -> NodeHarness<Heartbeat, HeartbeatNode> {
    let mut h = NodeHarness::new(NodeId(0), HeartbeatNode::new(params(bugs)))
        .with_peers([NodeId(1), NodeId(2)])
        .with_names(["n1", "n2", "n3"])
        .with_seed(1);
    h.start();
    h
}

fn beat(incarnation: u64, seq: u64) -> Heartbeat {
    Heartbeat { incarnation, seq }
}

/// Fires ticks until local time `ms` (at least one tick).
fn tick_until(h: &mut NodeHarness<Heartbeat, HeartbeatNode>, ms: u64) {
    let end = LocalTime(ms as i64 * 1_000_000);
    while h.next_deadline().is_some_and(|d| d <= end) {
        h.fire(TICK);
    }
}

fn peers(h: &mut NodeHarness<Heartbeat, HeartbeatNode>, kind: &str) -> Vec<String> {
    h.take_records(kind)
        .into_iter()
        .map(|d| d["peer"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_heartbeat_from_a_suspected_peer_clears_the_suspicion_unless_suspicion_is_never_revoked() {
    for bug in [false, true] {
        let mut h = node(if bug {
            &["suspicion_never_revoked"]
        } else {
            &[]
        });
        tick_until(&mut h, 700);
        assert_eq!(peers(&mut h, "suspect"), ["n2", "n3"]);
        h.deliver(NodeId(1), beat(1, 7));
        let trusted = peers(&mut h, "trust");
        if bug {
            // The rule broken: n2 is up, yet stays suspected.
            assert!(trusted.is_empty());
            assert!(h.node().suspected[1]);
        } else {
            assert_eq!(trusted, ["n2"]);
            assert!(!h.node().suspected[1]);
        }
    }
}

#[test]
fn a_peer_never_heard_from_is_suspected_after_the_timeout_unless_timed_from_its_first_heartbeat() {
    for bug in [false, true] {
        let mut h = node(if bug {
            &["no_timeout_before_first_heartbeat"]
        } else {
            &[]
        });
        // n2 beats; n3 (down since before n1 started) never does.
        for ms in (100..=1000).step_by(100) {
            tick_until(&mut h, ms);
            h.deliver(NodeId(1), beat(1, ms / 100));
        }
        let suspected = peers(&mut h, "suspect");
        if bug {
            // The rule broken: n3 stays trusted for ever.
            assert!(suspected.is_empty());
        } else {
            assert_eq!(suspected, ["n3"]);
        }
    }
}

#[test]
fn a_restarted_peer_is_trusted_at_its_first_beat_unless_heartbeats_are_deduplicated_by_seq_alone() {
    for bug in [false, true] {
        let mut h = node(if bug {
            &["seq_without_incarnation"]
        } else {
            &[]
        });
        for seq in 1..=5 {
            tick_until(&mut h, seq * 100);
            h.deliver(NodeId(1), beat(1, seq));
            h.deliver(NodeId(2), beat(1, seq));
        }
        // n2 crashes after seq 5; n3 goes on beating.
        for seq in 6..=12 {
            tick_until(&mut h, seq * 100);
            h.deliver(NodeId(2), beat(1, seq));
        }
        assert_eq!(peers(&mut h, "suspect"), ["n2"]);
        // n2 restarts: incarnation 2, seq from 1 again.
        h.deliver(NodeId(1), beat(2, 1));
        let trusted = peers(&mut h, "trust");
        if bug {
            // The rule broken: seq 1 <= 5, so the live n2 is ignored.
            assert!(trusted.is_empty());
            h.deliver(NodeId(1), beat(2, 6));
            assert_eq!(peers(&mut h, "trust"), ["n2"], "only once seq passes 5");
        } else {
            assert_eq!(trusted, ["n2"]);
        }
    }
}

#[test]
fn unknown_bugs_are_refused_by_name() {
    let err = Bugs::parse(&["never_suspect".to_string()], KNOWN_BUGS).unwrap_err();
    assert!(
        err.message.contains("\"suspicion_never_revoked\""),
        "{}",
        err.message
    );
}
