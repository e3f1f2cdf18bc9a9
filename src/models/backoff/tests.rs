//! The store and the client, each driven by hand through a [`Harness`]: a
//! hand-built `Ctx` whose sends, timers and records the test reads back.

use super::client::{RETRY, START, TIMEOUT};
use super::server::SERVICE;
use super::*;
use crate::clock::LocalTime;
use crate::models::workload::Workload;
use crate::node::{Ctx, Effects, Node, NodeId, Record, TimerId, TimerOp};
use crate::rng::SimRng;
use crate::storage::Storage;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn params(policy: Backoff) -> BackoffParams {
    BackoffParams {
        policy,
        service: ms(1),
        workers: None,
        max_attempts: 5,
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

/// One node under test (n1 the store, n2 and n3 clients), and what it asked for.
struct Harness {
    id: NodeId,
    peers: Vec<NodeId>,
    names: Vec<String>,
    storage: Storage,
    rng: SimRng,
    next_timer: u64,
    now: LocalTime,
    effects: Effects<BackoffMsg>,
    timers: Vec<(TimerId, LocalTime)>,
    records: Vec<Record>,
    node: Box<dyn Node<BackoffMsg>>,
}

impl Harness {
    fn new(id: u32, node: Box<dyn Node<BackoffMsg>>) -> Harness {
        let mut h = Harness {
            id: NodeId(id),
            peers: (0..3).filter(|&i| i != id).map(NodeId).collect(),
            names: vec!["n1".into(), "c1".into(), "c2".into()],
            storage: Storage::new(),
            rng: SimRng::for_node(1, id),
            next_timer: 0,
            now: LocalTime(0),
            effects: Effects::default(),
            timers: Vec::new(),
            records: Vec::new(),
            node,
        };
        h.call(|n, ctx| n.on_start(ctx));
        h
    }

    fn store(p: BackoffParams) -> Harness {
        Harness::new(0, Box::new(Server::new(p)))
    }

    fn client(p: BackoffParams) -> Harness {
        Harness::new(1, Box::new(Client::new(p, workload())))
    }

    fn call(
        &mut self,
        f: impl FnOnce(&mut dyn Node<BackoffMsg>, &mut Ctx<'_, BackoffMsg>),
    ) -> Vec<(NodeId, BackoffMsg)> {
        let mut ctx = Ctx {
            id: self.id,
            now_local: self.now,
            peers: &self.peers,
            names: &self.names,
            effects: &mut self.effects,
            storage: &mut self.storage,
            rng: &mut self.rng,
            next_timer: &mut self.next_timer,
        };
        f(self.node.as_mut(), &mut ctx);
        assert!(
            !self.storage.has_unsynced(),
            "a handler left unsynced writes"
        );
        for op in self.effects.timers.drain(..) {
            match op {
                TimerOp::Set { id, deadline } => self.timers.push((id, deadline)),
                TimerOp::Cancel(id) => self.timers.retain(|(t, _)| *t != id),
            }
        }
        self.records
            .extend(self.effects.records.drain(..).map(|p| p.record));
        std::mem::take(&mut self.effects.sends)
    }

    fn deliver(&mut self, from: u32, msg: BackoffMsg) -> Vec<(NodeId, BackoffMsg)> {
        self.call(|n, ctx| n.on_message(ctx, NodeId(from), msg))
    }

    /// Fires the earliest pending timer with `tag`, moving the clock to it.
    fn fire(&mut self, tag: u64) -> Vec<(NodeId, BackoffMsg)> {
        let at = self
            .timers
            .iter()
            .enumerate()
            .filter(|(_, (t, _))| t.tag() == tag)
            .min_by_key(|(_, (_, d))| *d)
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("no timer with tag {tag} pending"));
        let (timer, deadline) = self.timers.remove(at);
        self.now = self.now.max(deadline);
        self.call(|n, ctx| n.on_timer(ctx, timer))
    }

    fn pending(&self, tag: u64) -> Vec<SimDuration> {
        self.timers
            .iter()
            .filter(|(t, _)| t.tag() == tag)
            .map(|(_, d)| d.saturating_since(self.now))
            .collect()
    }

    fn records_of(&self, kind: &str) -> Vec<&serde_json::Value> {
        self.records
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| &r.detail)
            .collect()
    }
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
    let mut store = Harness::store(params(Backoff::None {}));
    // Both clients read version 0.
    store.deliver(1, read(1));
    store.deliver(2, read(1));
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
    store.deliver(1, write(1, 0));
    store.deliver(2, write(1, 0));
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
    store.deliver(2, read(2));
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
    store.deliver(2, write(2, 1));
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
    let mut store = Harness::store(BackoffParams {
        workers: Some(1),
        ..params(Backoff::None {})
    });
    store.deliver(1, read(1));
    store.deliver(2, read(1));
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
    let mut c = Harness::client(params(EXPONENTIAL));
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
        0,
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
    let mut c = Harness::client(params(EXPONENTIAL));
    c.deliver(
        0,
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 1,
            version: 0,
        },
    );
    let sent = c.deliver(
        0,
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
        0,
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 2,
            version: 1,
        },
    );
    c.deliver(
        0,
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
    let mut c = Harness::client(params(Backoff::None {}));
    c.deliver(
        0,
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 1,
            version: 0,
        },
    );
    let sent = c.deliver(
        0,
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
    let mut c = Harness::client(params(EXPONENTIAL));
    c.deliver(
        0,
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 1,
            version: 0,
        },
    );
    c.advance_to(ms(3));
    c.deliver(
        0,
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
    assert!(c.timers.is_empty(), "nothing left to do");
    // A duplicate answer, or a late one, changes nothing.
    let sent = c.deliver(
        0,
        BackoffMsg::WriteReply {
            id: 1,
            attempt: 1,
            ok: true,
        },
    );
    assert!(sent.is_empty());
    assert_eq!(c.records_of("done").len(), 1);
    // A restart after the write ended does not write again.
    c.restart();
    assert!(c.records_of("request").len() == 1 && c.timers.is_empty());
}

#[test]
fn a_restart_mid_write_abandons_it_and_issues_a_new_id() {
    let mut c = Harness::client(params(EXPONENTIAL));
    c.restart();
    let ids: Vec<u64> = c
        .records_of("request")
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn a_timed_out_call_is_retried_and_its_late_reply_ignored() {
    let mut c = Harness::client(params(EXPONENTIAL));
    assert_eq!(c.pending(TIMEOUT), vec![ms(100)]);
    c.fire(TIMEOUT);
    assert_eq!(c.pending(RETRY), vec![ms(10)]);
    c.fire(RETRY);
    // The reply to attempt 1's read arrives late: ignored.
    let sent = c.deliver(
        0,
        BackoffMsg::ReadReply {
            id: 1,
            attempt: 1,
            version: 0,
        },
    );
    assert!(sent.is_empty());
    let sent = c.deliver(
        0,
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
    let mut c = Harness::client(BackoffParams {
        max_attempts: 2,
        ..params(Backoff::None {})
    });
    for attempt in 1..=2 {
        c.deliver(
            0,
            BackoffMsg::ReadReply {
                id: 1,
                attempt,
                version: 0,
            },
        );
        c.deliver(
            0,
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

impl Harness {
    fn advance_to(&mut self, t: SimDuration) {
        self.now = LocalTime(t.as_nanos() as i64);
    }

    /// A crash and restart: timers gone, unsynced writes lost, a fresh node.
    fn restart(&mut self) {
        self.storage.lose_unsynced();
        self.timers.clear();
        self.node = Box::new(Client::new(params(EXPONENTIAL), workload()));
        self.call(|n, ctx| n.on_start(ctx));
    }
}

#[test]
fn landings_and_give_ups_are_narrated_and_the_per_call_records_are_quiet() {
    use crate::model::Model;
    let model = BackoffModel;
    let p = params(Backoff::None {});
    let landed = Record {
        kind: "write".into(),
        detail: serde_json::json!({ "client": "c7", "id": 1, "attempt": 3, "version": 12 }),
    };
    assert_eq!(
        model.narrate(&p, &landed).as_deref(),
        Some("c7's write lands (attempt 3): version 12")
    );
    let gave_up = Record {
        kind: "gave_up".into(),
        detail: serde_json::json!({ "id": 1, "attempts": 5, "last": "timeout" }),
    };
    assert_eq!(
        model.narrate(&p, &gave_up).as_deref(),
        Some("gives up its write after 5 attempts (last: timeout)")
    );
    for kind in ["request", "call", "done", "served"] {
        assert!(model.quiet_records().contains(&kind), "{kind}");
    }
}
