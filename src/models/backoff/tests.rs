//! The store and the client, each driven by hand through a [`NodeHarness`]:
//! a hand-built `Ctx` whose sends, timers and records the test reads back.

use super::client::{RETRY, START, TIMEOUT};
use super::server::SERVICE;
use super::*;
use crate::clock::LocalTime;
use crate::models::workload::Workload;
use crate::node::testing::NodeHarness;
use crate::node::{Node, NodeId, Record};

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn params(policy: Backoff) -> BackoffParams {
    BackoffParams {
        policy,
        service: ms(1),
        workers: None,
        max_attempts: 5,
        bugs: crate::models::bugs::Bugs::none(),
    }
}

const EXPONENTIAL: Backoff = Backoff::Exponential {
    base: SimDuration(10_000_000),
    cap: SimDuration(1_000_000_000),
};

fn workload() -> Workload {
    Workload {
        clients: 2,
        think_min: ms(0),
        think_max: ms(0),
        timeout: ms(100),
        read_ppm: 0,
        keys: 1,
    }
}

/// `node` as node `id` (n1 the store, n2 and n3 clients), started; every
/// handler must sync what it wrote.
fn start<N: Node<BackoffMsg>>(id: u32, node: N) -> NodeHarness<BackoffMsg, N> {
    let mut h = NodeHarness::new(NodeId(id), node)
        .with_peers((0..3).filter(|&i| i != id).map(NodeId))
        .with_names(["n1", "c1", "c2"])
        .with_seed(1)
        .with_sync_check();
    h.start();
    h
}

/// The store under test.
fn store(p: BackoffParams) -> NodeHarness<BackoffMsg, Server> {
    start(0, Server::new(p))
}

/// A client under test (n2).
fn client(p: BackoffParams) -> NodeHarness<BackoffMsg, Client> {
    start(1, Client::new(p, workload()))
}

/// A client's crash and restart: timers gone, unsynced writes lost, a fresh node.
fn restart(c: &mut NodeHarness<BackoffMsg, Client>) {
    c.restart(Client::new(params(EXPONENTIAL), workload()));
}

fn read(attempt: u32) -> BackoffMsg {
    BackoffMsg::Read { id: 1, attempt }
}

fn write(attempt: u32, expected: u64) -> BackoffMsg {
    BackoffMsg::Write {
        id: 1,
        attempt,
        expected,
    }
}

#[test]
fn the_store_lands_the_first_conditional_write_and_rejects_the_stale_one() {
    let mut store = store(params(Backoff::None {}));
    // Both clients read version 0.
    store.deliver(NodeId(1), read(1));
    store.deliver(NodeId(2), read(1));
    let mut replies = store.fire(SERVICE);
    replies.extend(store.fire(SERVICE));
    let version_0 = |to: u32| {
        (
            NodeId(to),
            BackoffMsg::ReadReply {
                id: 1,
                attempt: 1,
                version: 0,
            },
        )
    };
    assert_eq!(replies, vec![version_0(1), version_0(2)]);
    // Both write conditionally on version 0: c1's lands, c2's conflicts.
    store.deliver(NodeId(1), write(1, 0));
    store.deliver(NodeId(2), write(1, 0));
    let landed = store.fire(SERVICE);
    let conflict = store.fire(SERVICE);
    assert_eq!(
        landed,
        vec![(
            NodeId(1),
            BackoffMsg::WriteReply {
                id: 1,
                attempt: 1,
                ok: true
            }
        )]
    );
    assert_eq!(
        conflict,
        vec![(
            NodeId(2),
            BackoffMsg::WriteReply {
                id: 1,
                attempt: 1,
                ok: false
            }
        )]
    );
    let writes = store.records_of("write");
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0]["client"], "c1");
    assert_eq!(writes[0]["version"], 1);
    // c2 reads again (version 1) and its write on version 1 lands.
    store.deliver(NodeId(2), read(2));
    assert_eq!(
        store.fire(SERVICE),
        vec![(
            NodeId(2),
            BackoffMsg::ReadReply {
                id: 1,
                attempt: 2,
                version: 1
            }
        )]
    );
    store.deliver(NodeId(2), write(2, 1));
    assert_eq!(
        store.fire(SERVICE),
        vec![(
            NodeId(2),
            BackoffMsg::WriteReply {
                id: 1,
                attempt: 2,
                ok: true
            }
        )]
    );
    assert_eq!(store.records_of("served").len(), 6, "one `served` per call");
}

#[test]
fn with_one_worker_calls_wait_in_arrival_order() {
    let mut store = store(BackoffParams {
        workers: Some(1),
        ..params(Backoff::None {})
    });
    store.deliver(NodeId(1), read(1));
    store.deliver(NodeId(2), read(1));
    assert_eq!(store.pending(SERVICE), vec![ms(1)], "one call in service");
    assert_eq!(store.fire(SERVICE)[0].0, NodeId(1));
    assert_eq!(
        store.pending(SERVICE),
        vec![ms(1)],
        "the next starts when it ends"
    );
    assert_eq!(store.fire(SERVICE)[0].0, NodeId(2));
    let queues: Vec<u64> = store
        .records_of("served")
        .iter()
        .map(|d| d["queue"].as_u64().unwrap())
        .collect();
    assert_eq!(queues, vec![1, 0]);
}

#[test]
fn a_client_reads_then_writes_on_the_version_it_read() {
    let mut c = client(params(EXPONENTIAL));
    // Think time 0: the write begins at start, with a read.
    assert_eq!(
        c.records_of("request"),
        vec![&serde_json::json!({ "id": 1 })]
    );
    assert_eq!(
        c.records_of("call"),
        vec![&serde_json::json!({ "id": 1, "attempt": 1 })]
    );
    assert!(c.pending(START).is_empty());
    let sent = c.deliver(
        NodeId(0),
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 1,
            version: 7,
        },
    );
    assert_eq!(sent, vec![(NodeId(0), write(1, 7))]);
}

#[test]
fn a_conflict_backs_off_by_the_policy_then_retries_with_a_fresh_read() {
    let mut c = client(params(EXPONENTIAL));
    c.deliver(
        NodeId(0),
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 1,
            version: 0,
        },
    );
    let sent = c.deliver(
        NodeId(0),
        BackoffMsg::WriteReply {
            id: 1,
            attempt: 1,
            ok: false,
        },
    );
    assert!(sent.is_empty(), "no retry before the backoff");
    assert_eq!(c.pending(RETRY), vec![ms(10)], "first retry: base");
    assert_eq!(c.fire(RETRY), vec![(NodeId(0), read(2))]);
    assert_eq!(c.records_of("call").last().unwrap()["attempt"], 2);
    c.deliver(
        NodeId(0),
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 2,
            version: 1,
        },
    );
    c.deliver(
        NodeId(0),
        BackoffMsg::WriteReply {
            id: 1,
            attempt: 2,
            ok: false,
        },
    );
    assert_eq!(c.pending(RETRY), vec![ms(20)], "second retry: twice base");
    assert!(c.records_of("done").is_empty());
}

#[test]
fn without_backoff_a_conflict_retries_at_once() {
    let mut c = client(params(Backoff::None {}));
    c.deliver(
        NodeId(0),
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 1,
            version: 0,
        },
    );
    let sent = c.deliver(
        NodeId(0),
        BackoffMsg::WriteReply {
            id: 1,
            attempt: 1,
            ok: false,
        },
    );
    assert_eq!(sent, vec![(NodeId(0), read(2))]);
    assert!(c.pending(RETRY).is_empty());
}

#[test]
fn a_client_finishes_exactly_once_and_never_writes_again() {
    let mut c = client(params(EXPONENTIAL));
    c.deliver(
        NodeId(0),
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 1,
            version: 0,
        },
    );
    c.set_now(LocalTime(0) + ms(3));
    c.deliver(
        NodeId(0),
        BackoffMsg::WriteReply {
            id: 1,
            attempt: 1,
            ok: true,
        },
    );
    let done = c.records_of("done");
    assert_eq!(done.len(), 1);
    assert_eq!(
        done[0],
        &serde_json::json!({ "id": 1, "ok": true, "good": true, "latency_ns": 3_000_000u64, "calls": 1, "why": "ok" })
    );
    assert!(c.timers().is_empty(), "nothing left to do");
    // A duplicate answer, or a late one, changes nothing.
    let sent = c.deliver(
        NodeId(0),
        BackoffMsg::WriteReply {
            id: 1,
            attempt: 1,
            ok: true,
        },
    );
    assert!(sent.is_empty());
    assert_eq!(c.records_of("done").len(), 1);
    // A restart after the write ended does not write again.
    restart(&mut c);
    assert!(c.records_of("request").len() == 1 && c.timers().is_empty());
}

#[test]
fn a_restart_mid_write_abandons_it_and_issues_a_new_id() {
    let mut c = client(params(EXPONENTIAL));
    restart(&mut c);
    let ids: Vec<u64> = c
        .records_of("request")
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn a_timed_out_call_is_retried_and_its_late_reply_ignored() {
    let mut c = client(params(EXPONENTIAL));
    assert_eq!(c.pending(TIMEOUT), vec![ms(100)]);
    c.fire(TIMEOUT);
    assert_eq!(c.pending(RETRY), vec![ms(10)]);
    c.fire(RETRY);
    // The reply to attempt 1's read arrives late: ignored.
    let sent = c.deliver(
        NodeId(0),
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 1,
            version: 0,
        },
    );
    assert!(sent.is_empty());
    let sent = c.deliver(
        NodeId(0),
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 2,
            version: 4,
        },
    );
    assert_eq!(sent, vec![(NodeId(0), write(2, 4))]);
}

#[test]
fn a_client_gives_up_after_max_attempts() {
    let mut c = client(BackoffParams {
        max_attempts: 2,
        ..params(Backoff::None {})
    });
    for attempt in 1..=2 {
        c.deliver(
            NodeId(0),
            BackoffMsg::ReadReply {
                id: 1,
                attempt,
                version: 0,
            },
        );
        c.deliver(
            NodeId(0),
            BackoffMsg::WriteReply {
                id: 1,
                attempt,
                ok: false,
            },
        );
    }
    let done = c.records_of("done");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["ok"], false);
    assert_eq!(done[0]["why"], "gave_up");
    assert_eq!(done[0]["calls"], 2);
    assert_eq!(c.records_of("gave_up").len(), 1);
    assert_eq!(c.records_of("call").len(), 2, "no third attempt");
}

#[test]
fn landings_and_give_ups_are_narrated_and_the_per_call_records_are_quiet() {
    use crate::model::Model;
    let model = BackoffModel;
    let p = params(Backoff::None {});
    let landed = Record {
        kind: "write".into(),
        detail: serde_json::json!({ "client": "c7", "id": 1, "attempt": 3, "version": 12 }).into(),
    };
    assert_eq!(
        model.narrate(&p, &landed).as_deref(),
        Some("c7's write lands (attempt 3): version 12")
    );
    let gave_up = Record {
        kind: "gave_up".into(),
        detail: serde_json::json!({ "id": 1, "attempts": 5, "last": "timeout" }).into(),
    };
    assert_eq!(
        model.narrate(&p, &gave_up).as_deref(),
        Some("gives up its write after 5 attempts (last: timeout)")
    );
    for kind in ["request", "call", "done", "served"] {
        assert!(model.quiet_records().contains(&kind), "{kind}");
    }
}

#[test]
fn bug_ok_on_timeout_reports_an_unanswered_write_ok_where_the_correct_client_retries() {
    for bug in [false, true] {
        let names: Vec<String> = if bug {
            vec!["ok_on_timeout".into()]
        } else {
            vec![]
        };
        let mut c = client(BackoffParams {
            bugs: crate::models::bugs::Bugs::parse(&names, KNOWN_BUGS).unwrap(),
            ..params(EXPONENTIAL)
        });
        let sent = c.deliver(
            NodeId(0),
            BackoffMsg::ReadReply {
                id: 1,
                attempt: 1,
                version: 0,
            },
        );
        assert_eq!(sent, vec![(NodeId(0), write(1, 0))]);
        // The write is lost on the way: no answer, the timeout fires.
        c.fire(TIMEOUT);
        let done = c.take_records("done");
        if bug {
            assert_eq!(done.len(), 1, "the bug reports the write done");
            assert_eq!(done[0]["ok"], true);
            assert!(c.pending(RETRY).is_empty(), "and never retries it");
        } else {
            assert!(done.is_empty(), "an unanswered write is not done");
            assert_eq!(c.pending(RETRY), vec![ms(10)], "it is retried");
        }
    }
}
