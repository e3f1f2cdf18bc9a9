//! Unit tests of the cache model's nodes, each driven by hand through a
//! [`NodeHarness`]: a hand-built `Ctx` whose sends, timers and records the
//! test reads back; and of its parameters.

use super::*;
use crate::clock::LocalTime;
use crate::model::{Layout, Model};
use crate::models::workload::Workload;
use crate::node::testing::NodeHarness;
use crate::node::Node;
use crate::rng::SimRng;
use crate::storage::Storage;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn params() -> CacheParams {
    CacheParams {
        workers: 2,
        queue: 1,
        service_min: ms(10),
        service_max: ms(10),
        ttl: ms(1000),
        ttl_jitter_span: SimDuration::ZERO,
        single_flight: false,
        fetch_timeout: ms(500),
        prewarm: false,
        popularity: Arc::new(Popularity::zipf(4, 1.0)),
        bugs: Bugs::none(),
    }
}

const C1: NodeId = NodeId(2);
const C2: NodeId = NodeId(3);

/// One node under test, and everything it asked for.
type Harness<N> = NodeHarness<CacheMsg, N>;

/// `node` as node `id` (of the cache, the database and two clients) on
/// disk `storage`, started.
fn start<N: Node<CacheMsg>>(id: NodeId, node: N, storage: Storage) -> Harness<N> {
    let mut h = NodeHarness::new(id, node)
        .with_names(["n1", "n2", "c1", "c2"])
        .with_storage(storage)
        .with_seed(7);
    h.start();
    h
}

fn get(id: u64, key: u32) -> CacheMsg {
    CacheMsg::Get { id, key }
}

fn answer(id: u64, outcome: Outcome) -> CacheMsg {
    CacheMsg::Answer { id, outcome }
}

fn cache(p: &CacheParams) -> Harness<CacheServer> {
    start(CACHE, CacheServer::new(p), Storage::new())
}

/// The fetch the cache sent (exactly one message, to the database).
fn fetch_of(sent: &[(NodeId, CacheMsg)]) -> (u64, u32) {
    match sent {
        [(DATABASE, CacheMsg::Fetch { fetch, key })] => (*fetch, *key),
        other => panic!("expected one fetch to the database, got {other:?}"),
    }
}

#[test]
fn zipf_popularity_matches_its_formula_and_draws_every_key() {
    let p = Popularity::zipf(100, 1.0);
    let h100: f64 = (1..=100).map(|k| 1.0 / k as f64).sum();
    assert!(
        (p.probability(0) - 1.0 / h100).abs() < 1e-9,
        "{}",
        p.probability(0)
    );
    assert!((p.probability(9) - 0.1 / h100).abs() < 1e-9);
    let uniform = Popularity::zipf(4, 0.0);
    assert!((0..4).all(|k| (uniform.probability(k) - 0.25).abs() < 1e-9));
    let mut rng = SimRng::for_node(3, 0);
    let mut counts = [0u32; 4];
    for _ in 0..40_000 {
        counts[uniform.draw(&mut rng) as usize] += 1;
    }
    assert!(
        counts.iter().all(|&c| (9_000..11_000).contains(&c)),
        "{counts:?}"
    );
    let mut top = 0;
    for _ in 0..10_000 {
        top += u32::from(p.draw(&mut rng) == 0);
    }
    assert!(
        (1_700..2_150).contains(&top),
        "k1 drawn {top} times of 10000, expected ~1930"
    );
}

#[test]
fn a_miss_fetches_and_the_fill_makes_the_next_read_a_hit_until_the_ttl() {
    let p = params();
    let mut h = cache(&p);
    assert_eq!(h.kinds(), ["cold"]);
    let (fetch, key) = fetch_of(&h.deliver(C1, get(1, 2)));
    assert_eq!(key, 2);
    let sent = h.deliver(
        DATABASE,
        CacheMsg::Fetched {
            fetch,
            key,
            ok: true,
        },
    );
    assert_eq!(sent, [(C1, answer(1, Outcome::Value))]);
    assert!(h.timers().is_empty(), "the fetch timeout was not cancelled");
    h.advance(ms(999));
    assert_eq!(h.deliver(C2, get(7, 2)), [(C2, answer(7, Outcome::Value))]);
    assert_eq!(h.records().last().unwrap().kind, "hit");
    h.advance(ms(1));
    fetch_of(&h.deliver(C2, get(8, 2)));
    let miss = h.records().last().unwrap();
    assert_eq!(miss.kind, "miss");
    assert_eq!(miss.detail["expired"], true);
    assert_eq!(miss.detail["key"], "k3");
}

#[test]
fn without_single_flight_every_miss_is_its_own_fetch() {
    let p = params();
    let mut h = cache(&p);
    let a = fetch_of(&h.deliver(C1, get(1, 0)));
    let b = fetch_of(&h.deliver(C2, get(1, 0)));
    assert_ne!(a.0, b.0);
    assert_eq!(h.node().fetches_in_flight(), 2);
}

#[test]
fn single_flight_coalesces_misses_into_one_fetch_and_answers_every_waiter() {
    let p = CacheParams {
        single_flight: true,
        ..params()
    };
    let mut h = cache(&p);
    let (fetch, key) = fetch_of(&h.deliver(C1, get(1, 0)));
    assert!(
        h.deliver(C2, get(5, 0)).is_empty(),
        "a second fetch of a key in flight"
    );
    assert_eq!(h.records().last().unwrap().detail["coalesced"], true);
    fetch_of(&h.deliver(C2, get(6, 1)));
    let sent = h.deliver(
        DATABASE,
        CacheMsg::Fetched {
            fetch,
            key,
            ok: true,
        },
    );
    assert_eq!(
        sent,
        [
            (C1, answer(1, Outcome::Value)),
            (C2, answer(5, Outcome::Value))
        ]
    );
    // The key is free again: once expired, a new fetch.
    h.advance(ms(1000));
    fetch_of(&h.deliver(C1, get(2, 0)));
}

#[test]
fn a_shed_fetch_answers_its_waiters_shed_and_fills_nothing() {
    let p = CacheParams {
        single_flight: true,
        ..params()
    };
    let mut h = cache(&p);
    let (fetch, key) = fetch_of(&h.deliver(C1, get(1, 0)));
    h.deliver(C2, get(2, 0));
    let sent = h.deliver(
        DATABASE,
        CacheMsg::Fetched {
            fetch,
            key,
            ok: false,
        },
    );
    assert_eq!(
        sent,
        [
            (C1, answer(1, Outcome::Shed)),
            (C2, answer(2, Outcome::Shed))
        ]
    );
    assert_eq!(h.node().expiry(0), None);
    fetch_of(&h.deliver(C1, get(3, 0)));
}

#[test]
fn a_fetch_timeout_answers_error_frees_the_key_and_a_late_reply_still_fills() {
    let p = CacheParams {
        single_flight: true,
        ..params()
    };
    let mut h = cache(&p);
    let (fetch, key) = fetch_of(&h.deliver(C1, get(1, 0)));
    assert_eq!(h.fire_next(), [(C1, answer(1, Outcome::Error))]);
    let (again, _) = fetch_of(&h.deliver(C2, get(2, 0)));
    assert_ne!(again, fetch);
    // The first fetch comes back late: nobody waits for it, but the entry fills.
    assert!(h
        .deliver(
            DATABASE,
            CacheMsg::Fetched {
                fetch,
                key,
                ok: true
            }
        )
        .is_empty());
    assert_eq!(h.deliver(C1, get(3, 0)), [(C1, answer(3, Outcome::Value))]);
    // The second fetch's waiter is still answered when it returns.
    let sent = h.deliver(
        DATABASE,
        CacheMsg::Fetched {
            fetch: again,
            key,
            ok: true,
        },
    );
    assert_eq!(sent, [(C2, answer(2, Outcome::Value))]);
}

#[test]
fn jittered_ttls_are_drawn_within_the_span_and_differ() {
    let p = CacheParams {
        ttl_jitter_span: ms(500),
        prewarm: true,
        popularity: Arc::new(Popularity::zipf(200, 1.0)),
        ..params()
    };
    let h = cache(&p);
    let expiries: Vec<i64> = (0..200)
        .map(|k| h.node().expiry(k).expect("prewarmed").0)
        .collect();
    assert!(
        expiries
            .iter()
            .all(|&e| (500_000_000..=1_000_000_000).contains(&e)),
        "{expiries:?}"
    );
    let spread = expiries.iter().max().unwrap() - expiries.iter().min().unwrap();
    assert!(
        spread > 400_000_000,
        "200 TTLs spread over only {spread} ns"
    );
    let fixed = cache(&CacheParams {
        prewarm: true,
        ..params()
    });
    assert!((0..4).all(|k| fixed.node().expiry(k) == Some(LocalTime(1_000_000_000))));
}

#[test]
fn prewarm_fills_only_the_first_start_and_a_restart_is_cold() {
    let p = CacheParams {
        prewarm: true,
        ..params()
    };
    let h = cache(&p);
    assert!(h.kinds().is_empty(), "a prewarmed start is not cold");
    assert_eq!(h.node().fresh_entries(LocalTime(0)), 4);
    // A crash keeps the disk (the marker) and loses the memory.
    let restarted = start(CACHE, CacheServer::new(&p), h.storage().clone());
    assert_eq!(restarted.node().fresh_entries(LocalTime(0)), 0);
    assert_eq!(restarted.kinds(), ["cold"]);
}

#[test]
fn the_flush_knob_empties_the_cache_and_other_knobs_are_unknown() {
    let p = CacheParams {
        prewarm: true,
        ..params()
    };
    let mut h = cache(&p);
    let (previous, _) = h.knob("flush", 1.0);
    assert_eq!(previous, Some(0.0));
    assert_eq!(h.records().last().unwrap().kind, "flush");
    assert_eq!(h.records().last().unwrap().detail["entries"], 4);
    assert_eq!(h.node().fresh_entries(LocalTime(0)), 0);
    fetch_of(&h.deliver(C1, get(1, 3)));
    assert_eq!(h.knob("rate", 1.0).0, None);
    let mut db = start(DATABASE, Database::new(&p), Storage::new());
    assert_eq!(db.knob("flush", 1.0).0, None);
    assert_eq!(CacheModel.knobs()[0].name, "flush");
}

#[test]
fn the_database_serves_with_its_workers_queues_fifo_and_sheds_when_full() {
    let p = params(); // 2 workers, queue 1, 10 ms
    let mut db = start(DATABASE, Database::new(&p), Storage::new());
    let fetch = |n: u64| CacheMsg::Fetch { fetch: n, key: 0 };
    assert!(db.deliver(CACHE, fetch(1)).is_empty());
    assert!(db.deliver(CACHE, fetch(2)).is_empty());
    assert!(db.deliver(CACHE, fetch(3)).is_empty());
    assert_eq!((db.node().busy(), db.node().queue_len()), (2, 1));
    let shed = db.deliver(CACHE, fetch(4));
    assert_eq!(
        shed,
        [(
            CACHE,
            CacheMsg::Fetched {
                fetch: 4,
                key: 0,
                ok: false
            }
        )]
    );
    assert_eq!(
        db.records().last().unwrap().detail,
        serde_json::json!({ "why": "queue_full", "queue": 1 })
    );
    let done = db.fire_next();
    assert_eq!(
        done,
        [(
            CACHE,
            CacheMsg::Fetched {
                fetch: 1,
                key: 0,
                ok: true
            }
        )]
    );
    assert_eq!(
        db.records().last().unwrap().detail["queue"],
        0,
        "fetch 3 left the queue for a worker"
    );
    assert_eq!((db.node().busy(), db.node().queue_len()), (2, 0));
    let order: Vec<u64> = (0..2)
        .map(|_| match db.fire_next()[..] {
            [(_, CacheMsg::Fetched { fetch, .. })] => fetch,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(order, [2, 3]);
    assert_eq!(db.kinds(), ["shed", "served", "served", "served"]);
}

fn workload() -> Workload {
    Workload {
        clients: 2,
        think_min: ms(5),
        think_max: ms(5),
        timeout: ms(100),
        read_ppm: 1_000_000,
        keys: 4,
    }
}

#[test]
fn a_client_records_request_call_and_done_with_its_latency() {
    let p = params();
    let mut c = start(
        C1,
        CacheClient::new(workload(), Arc::clone(&p.popularity)),
        Storage::new(),
    );
    let sent = c.fire_next();
    let [(CACHE, CacheMsg::Get { id: 1, key })] = sent[..] else {
        panic!("{sent:?}");
    };
    assert!(key < 4);
    c.advance(ms(30));
    assert!(c.deliver(CACHE, answer(1, Outcome::Value)).is_empty());
    assert_eq!(c.kinds(), ["request", "call", "done"]);
    let done = &c.records()[2].detail;
    assert_eq!(done["ok"], true);
    assert_eq!(done["good"], true);
    assert_eq!(done["why"], "ok");
    assert_eq!(done["latency_ns"], 30_000_000);
    assert_eq!(done["calls"], 1);
    assert_eq!(c.timers().len(), 1, "only the think timer is left");
}

#[test]
fn a_client_times_out_at_its_deadline_and_ignores_the_late_answer() {
    let p = params();
    let mut c = start(
        C1,
        CacheClient::new(workload(), Arc::clone(&p.popularity)),
        Storage::new(),
    );
    c.fire_next();
    c.fire_next(); // the deadline, 100 ms later
    let done = &c.records().last().unwrap().detail;
    assert_eq!(
        (done["ok"].clone(), done["why"].clone()),
        (false.into(), "timeout".into())
    );
    assert!(c.deliver(CACHE, answer(1, Outcome::Value)).is_empty());
    assert_eq!(c.kinds(), ["request", "call", "done"]);
    c.fire_next(); // thinks, then request 2
    assert_eq!(c.records().last().unwrap().detail["id"], 2);
    c.deliver(CACHE, answer(2, Outcome::Shed));
    let done = &c.records().last().unwrap().detail;
    assert_eq!(
        (done["good"].clone(), done["why"].clone()),
        (false.into(), "shed".into())
    );
}

fn layout(servers: usize) -> Layout {
    Layout {
        servers,
        workload: Some(workload()),
    }
}

fn table() -> CacheTable {
    CacheTable {
        workers: None,
        queue: None,
        service: None,
        ttl: None,
        ttl_jitter: None,
        single_flight: None,
        fetch_timeout: None,
        prewarm: None,
        zipf: None,
        bugs: vec![],
    }
}

#[test]
fn params_have_defaults_and_reject_bad_values_by_key() {
    let p = CacheModel
        .params(table(), &layout(2))
        .expect("defaults are valid");
    assert_eq!(
        (p.workers, p.queue, p.ttl, p.keys()),
        (4, 1000, SimDuration::from_secs(60), 4)
    );
    let p = CacheModel
        .params(
            CacheTable {
                ttl_jitter: Some(0.25),
                ..table()
            },
            &layout(2),
        )
        .unwrap();
    assert_eq!(p.ttl_jitter_span, SimDuration::from_secs(15));
    let key_of = |t: CacheTable| CacheModel.params(t, &layout(2)).unwrap_err().key;
    assert_eq!(
        key_of(CacheTable {
            workers: Some(0),
            ..table()
        }),
        Some("workers".into())
    );
    assert_eq!(
        key_of(CacheTable {
            queue: Some(2_000_000),
            ..table()
        }),
        Some("queue".into())
    );
    assert_eq!(
        key_of(CacheTable {
            service: Some([ms(5), ms(1)]),
            ..table()
        }),
        Some("service".into())
    );
    assert_eq!(
        key_of(CacheTable {
            ttl: Some(SimDuration::ZERO),
            ..table()
        }),
        Some("ttl".into())
    );
    assert_eq!(
        key_of(CacheTable {
            ttl_jitter: Some(1.0),
            ..table()
        }),
        Some("ttl_jitter".into())
    );
    assert_eq!(
        key_of(CacheTable {
            ttl_jitter: Some(f64::NAN),
            ..table()
        }),
        Some("ttl_jitter".into())
    );
    assert_eq!(
        key_of(CacheTable {
            zipf: Some(-1.0),
            ..table()
        }),
        Some("zipf".into())
    );
    assert_eq!(
        key_of(CacheTable {
            fetch_timeout: Some(SimDuration::ZERO),
            ..table()
        }),
        Some("fetch_timeout".into())
    );
    let three = CacheModel.params(table(), &layout(3)).unwrap_err();
    assert_eq!(three.key, None);
    assert!(
        three.message.contains("exactly two servers"),
        "{}",
        three.message
    );
}

fn bugs(names: &[&str]) -> Bugs {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    Bugs::parse(&names, KNOWN_BUGS).unwrap()
}

#[test]
fn bug_ttl_jitter_ignored_stores_every_entry_with_the_plain_ttl() {
    let jittered = CacheParams {
        ttl_jitter_span: ms(500),
        prewarm: true,
        popularity: Arc::new(Popularity::zipf(50, 1.0)),
        ..params()
    };
    let correct = cache(&jittered);
    let expiries: std::collections::BTreeSet<_> =
        (0..50).map(|k| correct.node().expiry(k)).collect();
    assert!(expiries.len() > 40, "jittered entries expire apart");
    let buggy = cache(&CacheParams {
        bugs: bugs(&["ttl_jitter_ignored"]),
        ..jittered
    });
    assert!(
        (0..50).all(|k| buggy.node().expiry(k) == Some(LocalTime(1_000_000_000))),
        "the bug loads them together and they expire together"
    );
}

#[test]
fn bug_no_coalescing_when_cold_fetches_a_never_loaded_key_per_miss() {
    let coalescing = CacheParams {
        single_flight: true,
        ..params()
    };
    let mut correct = cache(&coalescing);
    fetch_of(&correct.deliver(C1, get(1, 0)));
    assert!(
        correct.deliver(C2, get(5, 0)).is_empty(),
        "the second miss joins the fetch in flight"
    );
    let mut buggy = cache(&CacheParams {
        bugs: bugs(&["no_coalescing_when_cold"]),
        ..coalescing
    });
    let (first, key) = fetch_of(&buggy.deliver(C1, get(1, 0)));
    let (second, again) = fetch_of(&buggy.deliver(C2, get(5, 0)));
    assert_eq!((key, again), (0, 0));
    assert_ne!(first, second, "a second fetch of a cold key");
    let misses = buggy.records_of("miss");
    assert_eq!(misses[1]["coalesced"], false);
    // An expired entry is still coalesced: the bug forgets only cold keys.
    buggy.deliver(
        DATABASE,
        CacheMsg::Fetched {
            fetch: second,
            key: 0,
            ok: true,
        },
    );
    buggy.advance(ms(1000));
    fetch_of(&buggy.deliver(C1, get(2, 0)));
    assert!(buggy.deliver(C2, get(6, 0)).is_empty());
}
