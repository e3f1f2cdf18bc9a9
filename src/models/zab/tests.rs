//! Unit tests: a server driven by hand through a [`NodeHarness`] (its
//! durable state, discovery and synchronization, the commit rule and the
//! bug), the delivery checks fed by hand, and the table's errors.

use super::check::{Deliveries, Property};
use super::*;
use crate::model::{Layout, Model};
use crate::models::raft::msg::Op;
use crate::node::testing::NodeHarness;
use crate::node::NodeId;
use crate::time::SimTime;

fn params(bugs: &[&str], history_limit: usize) -> ZabParams {
    let names: Vec<String> = bugs.iter().map(|b| b.to_string()).collect();
    ZabParams {
        tick: SimDuration::from_millis(50),
        timeout_ticks: 6,
        history_limit,
        bugs: Bugs::parse(&names, KNOWN_BUGS).unwrap(),
    }
}

fn z(epoch: u64, counter: u64) -> Zxid {
    Zxid { epoch, counter }
}

fn command(seq: u64) -> Rc<ClientCommand> {
    Rc::new(ClientCommand {
        client: NodeId(9),
        seq,
        op: Op::Put {
            key: 0,
            value: format!("v{seq}"),
        },
    })
}

fn txn(epoch: u64, counter: u64) -> Txn {
    Txn {
        zxid: z(epoch, counter),
        command: command(epoch * 100 + counter),
    }
}

/// Server `id` of three (n1..n3), started (looking).
fn server(id: u32, p: ZabParams, sync_check: bool) -> NodeHarness<ZabMsg, ZabServer> {
    let h = NodeHarness::new(NodeId(id), ZabServer::new(p))
        .with_peers((0..3).filter(|&i| i != id).map(NodeId))
        .with_seed(1);
    let mut h = if sync_check { h.with_sync_check() } else { h };
    h.start();
    h
}

/// n3 (the highest id) elected by n1's vote, then through discovery and
/// synchronization with n1, whose history is `follower_history`.
fn leader(p: ZabParams, follower_history: Vec<Txn>) -> NodeHarness<ZabMsg, ZabServer> {
    let mut h = server(2, p, true);
    let vote = Vote {
        epoch: 0,
        zxid: Zxid::default(),
        id: 2,
    };
    let n1 = NodeId(0);
    h.deliver(
        n1,
        ZabMsg::Notification {
            round: 1,
            vote,
            looking: true,
        },
    );
    assert_eq!(
        h.node().state(),
        ZabState::Leading,
        "a quorum of two agreed"
    );
    let out = h.deliver(n1, ZabMsg::FollowerInfo { accepted: 0 });
    assert_eq!(out, vec![(n1, ZabMsg::NewEpoch { epoch: 1 })]);
    assert_eq!(h.node().epochs(), (1, 0), "e' accepted, not yet current");
    let history: History = Rc::new(follower_history);
    let out = h.deliver(
        n1,
        ZabMsg::AckEpoch {
            epoch: 1,
            current: 0,
            history: Rc::clone(&history),
        },
    );
    assert_eq!(
        out,
        vec![(
            n1,
            ZabMsg::NewLeader {
                epoch: 1,
                history: Rc::clone(&history)
            }
        )],
        "the quorum's most up-to-date history is the follower's"
    );
    let last = history.last().map_or(Zxid::default(), |t| t.zxid);
    h.deliver(n1, ZabMsg::AckNewLeader { epoch: 1, last });
    h
}

#[test]
fn zxids_order_by_epoch_then_counter() {
    assert!(z(1, 9) < z(2, 1));
    assert!(z(2, 1) < z(2, 2));
    let a = Vote {
        epoch: 1,
        zxid: z(1, 3),
        id: 0,
    };
    let b = Vote {
        epoch: 1,
        zxid: z(1, 2),
        id: 2,
    };
    assert!(a > b, "the highest last zxid wins before the id");
}

#[test]
fn a_new_leader_takes_the_most_up_to_date_history_and_commits_it() {
    let h = leader(params(&[], 100), vec![txn(0, 1), txn(0, 2)]);
    assert_eq!(h.node().zxids(), vec![z(0, 1), z(0, 2)]);
    assert_eq!(
        h.node().delivered(),
        2,
        "committed once a quorum acked NEWLEADER"
    );
    assert_eq!(h.records_of("deliver").len(), 2);
    assert_eq!(h.node().epochs(), (1, 1));
}

#[test]
fn a_proposal_commits_on_a_quorum_of_acks_only() {
    let mut h = leader(params(&[], 100), Vec::new());
    let out = h.deliver(NodeId(4), ZabMsg::Request(command(1)));
    assert!(matches!(
        out.as_slice(),
        [(NodeId(0), ZabMsg::Propose { epoch: 1, .. })]
    ));
    assert_eq!(
        h.node().delivered(),
        0,
        "the leader's own ack is not a quorum"
    );
    let out = h.deliver(
        NodeId(0),
        ZabMsg::Ack {
            epoch: 1,
            upto: z(1, 1),
        },
    );
    assert_eq!(h.node().delivered(), 1);
    assert!(out
        .iter()
        .any(|(to, m)| *to == NodeId(9) && matches!(m, ZabMsg::Reply { seq: 1, .. })));
    assert!(out.contains(&(
        NodeId(0),
        ZabMsg::Commit {
            epoch: 1,
            upto: z(1, 1)
        }
    )));
}

#[test]
fn the_bug_commits_on_the_leaders_own_ack() {
    let mut h = leader(params(&["commit_before_quorum"], 100), Vec::new());
    h.deliver(NodeId(4), ZabMsg::Request(command(1)));
    assert_eq!(h.node().delivered(), 1, "delivered with no follower's ack");
}

#[test]
fn a_full_history_stops_proposals() {
    let mut h = leader(params(&[], 1), vec![txn(0, 1)]);
    let out = h.deliver(NodeId(4), ZabMsg::Request(command(1)));
    assert!(out.is_empty());
    assert_eq!(h.records_of("history_full").len(), 1);
}

#[test]
fn a_follower_persists_epochs_and_history_and_reloads_them() {
    let mut h = server(0, params(&[], 100), true);
    let leader = NodeId(2);
    let vote = Vote {
        epoch: 0,
        zxid: Zxid::default(),
        id: 2,
    };
    h.deliver(
        NodeId(1),
        ZabMsg::Notification {
            round: 1,
            vote,
            looking: true,
        },
    );
    assert!(matches!(h.node().state(), ZabState::Following { leader: l, .. } if l == leader));
    let out = h.deliver(leader, ZabMsg::NewEpoch { epoch: 3 });
    assert!(matches!(
        out.as_slice(),
        [(
            _,
            ZabMsg::AckEpoch {
                epoch: 3,
                current: 0,
                ..
            }
        )]
    ));
    let history: History = Rc::new(vec![txn(1, 1), txn(2, 1)]);
    h.deliver(leader, ZabMsg::NewLeader { epoch: 3, history });
    // A proposal out of order waits; the one before it lets both in.
    h.deliver(
        leader,
        ZabMsg::Propose {
            epoch: 3,
            prev: z(3, 1),
            txn: txn(3, 2),
        },
    );
    assert_eq!(h.node().zxids().len(), 2);
    h.deliver(
        leader,
        ZabMsg::Propose {
            epoch: 3,
            prev: z(2, 1),
            txn: txn(3, 1),
        },
    );
    assert_eq!(h.node().zxids(), vec![z(1, 1), z(2, 1), z(3, 1), z(3, 2)]);
    h.deliver(
        leader,
        ZabMsg::Commit {
            epoch: 3,
            upto: z(3, 1),
        },
    );
    assert_eq!(h.node().delivered(), 3);
    // Restarted from its disk: epochs and history, nothing delivered.
    let mut again = NodeHarness::new(NodeId(0), ZabServer::new(params(&[], 100)))
        .with_peers([NodeId(1), NodeId(2)])
        .with_storage(h.storage().clone());
    again.start();
    assert_eq!(again.node().epochs(), (3, 3));
    assert_eq!(again.node().zxids(), h.node().zxids());
    assert_eq!(again.node().delivered(), 0);
}

#[test]
fn the_checks_see_disagreement_reordering_and_decreasing_zxids() {
    let t = SimTime::ZERO;
    let mut agree = Deliveries::new(Property::Agreement);
    assert!(agree.deliver("n1", 0, z(1, 1), t).is_none());
    assert!(agree.deliver("n2", 0, z(1, 1), t).is_none());
    assert!(
        agree.deliver("n1", 0, z(1, 1), t).is_none(),
        "a restart re-delivers"
    );
    let v = agree
        .deliver("n3", 0, z(2, 1), t)
        .expect("two transactions at 0");
    assert_eq!(v.name, "zab_disagreement");

    let mut total = Deliveries::new(Property::TotalOrder);
    total.deliver("n1", 0, z(1, 1), t);
    total.deliver("n1", 1, z(1, 2), t);
    assert!(total.deliver("n2", 0, z(1, 2), t).is_some());

    let mut primary = Deliveries::new(Property::PrimaryOrder);
    primary.deliver("n1", 0, z(1, 2), t);
    let v = primary
        .deliver("n1", 1, z(1, 1), t)
        .expect("a zxid went back");
    assert_eq!(v.name, "zab_primary_order_broken");
}

#[test]
fn bad_table_values_name_their_key() {
    let layout = Layout {
        servers: 3,
        workload: None,
    };
    let table = |f: fn(&mut ZabTable)| {
        let mut t = ZabTable::default();
        f(&mut t);
        ZabModel.params(t, &layout).unwrap_err()
    };
    assert_eq!(
        table(|t| t.history_limit = Some(0)).key.as_deref(),
        Some("history_limit")
    );
    let short = table(|t| t.timeout = Some(SimDuration::from_millis(60)));
    assert_eq!(short.key.as_deref(), Some("timeout"));
    assert_eq!(
        table(|t| t.bugs = vec!["nope".into()]).key.as_deref(),
        Some("bugs")
    );
    let two = Layout {
        servers: 2,
        workload: None,
    };
    assert!(ZabModel.params(ZabTable::default(), &two).is_err());
}
