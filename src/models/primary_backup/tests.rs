//! The failover/sync replica driven by hand through a [`NodeHarness`] (one
//! rule per test), the table's validation, and whole scenarios.

use super::replica::{SHIP, TICK};
use super::*;
use crate::model::{Layout, Model};
use crate::node::testing::NodeHarness;
use crate::node::Node;
use crate::scenario::{RunOptions, Scenario};

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn params(replication: Replication, failover: bool) -> PrimaryBackupParams {
    PrimaryBackupParams {
        reads: Reads::Primary,
        anti_entropy: ms(200),
        replication,
        failover: failover.then_some(Failover {
            heartbeat: ms(50),
            timeout: ms(300),
        }),
        ship_every: SimDuration::ZERO,
        bugs: Bugs::none(),
    }
}

const CLIENT: NodeId = NodeId(3);

/// Server `id` (0-based) of three, started; every handler must sync what
/// it wrote.
fn replica(id: u32, p: PrimaryBackupParams) -> NodeHarness<PbMsg, Replica> {
    let mut h = NodeHarness::new(NodeId(id), Replica::new(p))
        .with_peers((0..3).filter(|&i| i != id).map(NodeId))
        .with_names(["n1", "n2", "n3", "c1"])
        .with_seed(1)
        .with_sync_check();
    h.start();
    h
}

fn write(op: u64, v: i64) -> PbMsg {
    PbMsg::Request {
        op,
        request: Request::Write(v),
    }
}

fn replies(sent: &[(NodeId, PbMsg)]) -> Vec<(u64, Option<i64>)> {
    sent.iter()
        .filter_map(|(to, m)| match m {
            PbMsg::Reply { op, value } if *to == CLIENT => Some((*op, *value)),
            _ => None,
        })
        .collect()
}

fn ack(epoch: u64, version: u64) -> PbMsg {
    PbMsg::PutAck {
        epoch,
        wepoch: epoch,
        version,
    }
}

#[test]
fn n1_starts_as_primary_of_epoch_1_and_the_others_follow_it() {
    let n1 = replica(0, params(Replication::Sync, true));
    assert!(n1.node().is_primary() && n1.node().epoch() == 1);
    assert_eq!(n1.node().role(), Some("primary"));
    assert_eq!(n1.records_of("promoted").len(), 1);
    let n2 = replica(1, params(Replication::Sync, true));
    assert!(!n2.node().is_primary() && n2.node().epoch() == 1);
    assert_eq!(n2.node().role(), Some("backup"));
}

#[test]
fn sync_acknowledges_a_write_only_after_every_backup_acked_it() {
    let mut n1 = replica(0, params(Replication::Sync, false));
    let sent = n1.deliver(CLIENT, write(1, 7));
    assert!(replies(&sent).is_empty(), "no reply before the backups");
    assert!(sent
        .iter()
        .any(|(to, m)| *to == NodeId(1) && matches!(m, PbMsg::Put { version: 1, .. })));
    // A read waits behind the unacknowledged write.
    let read = PbMsg::Request {
        op: 2,
        request: Request::Read,
    };
    assert!(replies(&n1.deliver(CLIENT, read)).is_empty());
    assert!(replies(&n1.deliver(NodeId(1), ack(1, 1))).is_empty());
    let sent = n1.deliver(NodeId(2), ack(1, 1));
    assert_eq!(replies(&sent), vec![(1, Some(7)), (2, Some(7))]);
    let acked = n1.records_of("acked");
    assert_eq!(acked.len(), 1, "reads are not acknowledged writes");
    assert_eq!(acked[0]["version"], 1);
}

#[test]
fn the_bug_ack_before_replicate_acknowledges_at_once() {
    let mut p = params(Replication::Sync, false);
    p.bugs = Bugs::parse(&["ack_before_replicate".into()], KNOWN_BUGS).unwrap();
    let mut n1 = replica(0, p);
    let sent = n1.deliver(CLIENT, write(1, 7));
    assert_eq!(replies(&sent), vec![(1, Some(7))]);
    assert_eq!(n1.records_of("acked").len(), 1);
}

#[test]
fn async_with_ship_every_acknowledges_at_once_and_ships_in_a_batch() {
    let mut p = params(Replication::Async, true);
    p.ship_every = ms(100);
    let mut n1 = replica(0, p);
    let sent = n1.deliver(CLIENT, write(1, 7));
    assert_eq!(replies(&sent), vec![(1, Some(7))]);
    assert!(!sent.iter().any(|(_, m)| matches!(m, PbMsg::Put { .. })));
    n1.deliver(CLIENT, write(2, 8));
    assert_eq!(n1.pending(SHIP).len(), 1, "one batch for both writes");
    let shipped = n1.fire(SHIP);
    assert_eq!(shipped.len(), 2, "to n2 and n3");
    assert!(shipped.iter().all(|(_, m)| matches!(
        m,
        PbMsg::Put {
            version: 2,
            value: Some(8),
            ..
        }
    )));
}

#[test]
fn the_lowest_live_backup_that_hears_a_majority_promotes_itself() {
    let mut n2 = replica(1, params(Replication::Async, true));
    // n3 is heard; n1 (the primary) falls silent.
    n2.advance(ms(290));
    n2.deliver(
        NodeId(2),
        PbMsg::Heartbeat {
            epoch: 1,
            primary: false,
        },
    );
    n2.advance(ms(20));
    n2.fire(TICK);
    assert!(n2.node().is_primary() && n2.node().epoch() == 2);
    let promoted = n2.records_of("promoted");
    assert_eq!(promoted.last().unwrap()["epoch"], 2);
    assert_eq!(n2.storage().get_json::<u64>("epoch"), Some(2), "durable");
}

#[test]
fn each_server_begins_its_own_epochs_so_no_two_primaries_share_one() {
    let next = |epoch, index| Replica::next_epoch(epoch, index, 3);
    assert_eq!(next(0, 0), 1, "n1 begins epoch 1");
    assert_eq!(next(1, 1), 2, "n2 takes over from epoch 1 with 2");
    assert_eq!((next(2, 0), next(2, 2)), (4, 3), "n1 and n3 from 2 differ");
    assert_eq!((next(3, 2), next(5, 1), next(7, 0)), (6, 8, 10));
    for epoch in 0..20 {
        let picks: Vec<u64> = (0..3).map(|i| next(epoch, i)).collect();
        assert!(picks.iter().all(|&e| e > epoch), "{picks:?}");
        assert!(picks[0] != picks[1] && picks[1] != picks[2] && picks[0] != picks[2]);
    }
}

#[test]
fn a_backup_defers_to_a_lower_live_one_and_an_isolated_one_never_promotes() {
    // n3 hears n2 (lower): n2 will promote, not n3.
    let mut n3 = replica(2, params(Replication::Async, true));
    n3.advance(ms(290));
    n3.deliver(
        NodeId(1),
        PbMsg::Heartbeat {
            epoch: 1,
            primary: false,
        },
    );
    n3.advance(ms(20));
    n3.fire(TICK);
    assert!(!n3.node().is_primary());
    // n2 hears nobody at all: no majority, no promotion.
    let mut n2 = replica(1, params(Replication::Async, true));
    n2.advance(ms(1000));
    n2.fire(TICK);
    assert!(!n2.node().is_primary() && n2.node().epoch() == 1);
}

#[test]
fn a_primary_hearing_a_higher_epoch_steps_down_and_drops_its_waiting_writes() {
    let mut n1 = replica(0, params(Replication::Sync, true));
    n1.deliver(CLIENT, write(1, 7));
    n1.deliver(
        NodeId(1),
        PbMsg::Heartbeat {
            epoch: 2,
            primary: true,
        },
    );
    assert!(!n1.node().is_primary() && n1.node().epoch() == 2);
    assert_eq!(n1.records_of("stepped_down").len(), 1);
    // The late ack of the old epoch answers nobody.
    assert!(replies(&n1.deliver(NodeId(2), ack(1, 1))).is_empty());
    assert!(n1.records_of("acked").is_empty());
}

#[test]
fn a_backup_takes_the_new_primarys_history_and_refuses_the_old_one() {
    let mut n3 = replica(2, params(Replication::Async, true));
    let put = |epoch, wepoch, version, value| PbMsg::Put {
        epoch,
        wepoch,
        version,
        value: Some(value),
    };
    n3.deliver(NodeId(0), put(1, 1, 5, 50));
    assert_eq!(n3.node().state(), (1, 5, Some(50)));
    // n2, primary of epoch 2, never had version 5: its history wins.
    let sent = n3.deliver(NodeId(1), put(2, 1, 4, 40));
    assert_eq!(n3.node().state(), (1, 4, Some(40)));
    assert!(sent.contains(&(
        NodeId(1),
        PbMsg::PutAck {
            epoch: 2,
            wepoch: 1,
            version: 4
        }
    )));
    // The deposed n1 is told of epoch 2, and not followed.
    let sent = n3.deliver(NodeId(0), put(1, 1, 6, 60));
    assert_eq!(n3.node().state(), (1, 4, Some(40)));
    assert_eq!(
        sent,
        vec![(
            NodeId(0),
            PbMsg::Heartbeat {
                epoch: 2,
                primary: false
            }
        )]
    );
}

#[test]
fn a_restarted_primary_comes_back_as_a_backup_of_its_durable_epoch() {
    let p = params(Replication::Sync, true);
    let mut n1 = replica(0, p);
    n1.restart(Replica::new(p));
    assert!(!n1.node().is_primary());
    assert_eq!(n1.node().epoch(), 1);
    assert_eq!(n1.records_of("promoted").len(), 1, "no second promotion");
    // Without failover it is the primary again.
    let p = params(Replication::Sync, false);
    let mut n1 = replica(0, p);
    n1.restart(Replica::new(p));
    assert!(n1.node().is_primary());
}

fn table(extra: &str) -> Result<PrimaryBackupParams, crate::model::ParamError> {
    let t: PrimaryBackupTable = toml::from_str(&format!("reads = \"primary\"\n{extra}")).unwrap();
    let layout = Layout {
        servers: 3,
        workload: None,
    };
    PrimaryBackupModel.params(t, &layout)
}

#[test]
fn the_table_defaults_to_todays_model_and_rejects_mistakes() {
    assert!(table("").unwrap().is_legacy());
    assert!(!table("replication = \"sync\"").unwrap().is_legacy());
    let f = table("failover = true").unwrap().failover.unwrap();
    assert_eq!((f.heartbeat, f.timeout), (ms(50), ms(300)));
    let err = |extra: &str| table(extra).unwrap_err();
    assert_eq!(
        err("replication = \"semi\"").key.as_deref(),
        Some("replication")
    );
    assert!(err("heartbeat = \"10ms\"")
        .message
        .contains("only with failover"));
    assert!(err("failover = true\nheartbeat = \"300ms\"")
        .message
        .contains("longer than the heartbeat"));
    assert!(err("bugs = [\"ack_before_replicate\"]")
        .message
        .contains("a mistake of replication = \"sync\""));
    assert!(err("bugs = [\"nope\"]")
        .message
        .contains("unknown bug 'nope'"));
}

fn run(path: &str, edit: impl Fn(String) -> String, seed: u64) -> crate::scenario::RunReport {
    let text = std::fs::read_to_string(path).unwrap();
    let scenario = Scenario::parse(&edit(text), path).unwrap();
    crate::scenario::run(&scenario, seed, RunOptions::default())
}

#[test]
fn sync_failover_loses_no_write_but_ack_before_replicate_does() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/pb-sync-failover.toml"
    );
    let good = run(path, |s| s, 1);
    assert!(good.violations.is_empty(), "{:?}", good.violations);
    let lost = |r: &crate::scenario::RunReport| {
        r.metrics
            .iter()
            .find(|(k, _)| k == "durability.lost_writes")
            .map(|(_, v)| *v)
    };
    assert_eq!(lost(&good), Some(0.0));
    let buggy = run(
        path,
        |s| {
            s.replace(
                "ship_every = \"100ms\"",
                "ship_every = \"100ms\"\nbugs = [\"ack_before_replicate\"]",
            )
        },
        1,
    );
    let v = buggy
        .violations
        .iter()
        .find(|v| v.name == "lost_write")
        .expect("the bug loses an acknowledged write");
    assert!(
        v.explanation.contains("an acknowledged write is lost"),
        "{}",
        v.explanation
    );
    assert!(lost(&buggy).unwrap() >= 1.0);
}
