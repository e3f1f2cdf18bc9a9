//! Unit tests: one server or one client driven by hand through a
//! [`NodeHarness`] (a hand-built `Ctx` whose sends, timers and records the
//! test reads back), and the `[service]` table's validation.

use super::model::ServiceTime;
use super::*;
use crate::clock::LocalTime;
use crate::model::{Layout, Model, ParamError};
use crate::models::workload::Workload;
use crate::node::testing::NodeHarness;
use crate::node::{Node, NodeId};
use crate::retry::{BreakerState, BudgetParams};
use serde_json::Value;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

const CLIENT: NodeId = NodeId(1);

/// One node under test, and everything it asked for.
type Harness<N> = NodeHarness<ServiceMsg, N>;

/// `node` as node `id` of a run with one server and one client, started.
fn harness<N: Node<ServiceMsg>>(id: NodeId, node: N) -> Harness<N> {
    let mut h = NodeHarness::new(id, node)
        .with_peers([NodeId(0)])
        .with_names(["n1", "c1"])
        .with_seed(1);
    h.start();
    h
}

/// The pending timers' deadlines, earliest first.
fn deadlines<N: Node<ServiceMsg>>(h: &Harness<N>) -> Vec<LocalTime> {
    let mut d: Vec<LocalTime> = h.timers().iter().map(|t| t.1).collect();
    d.sort();
    d
}

// ---------------------------------------------------------------- server

fn server_params(workers: u32, queue: u32, order: Order) -> ServerParams {
    ServerParams {
        workers,
        queue,
        order,
        service_time: Latency::Constant(ms(10)),
        shed_expired: false,
        concurrency_limit: None,
    }
}

fn call(id: u64, budget_ms: u64) -> ServiceMsg {
    ServiceMsg::Call {
        id,
        attempt: 1,
        budget_ns: ms(budget_ms).as_nanos(),
    }
}

fn reply(id: u64, ok: bool) -> (NodeId, ServiceMsg) {
    (CLIENT, ServiceMsg::Reply { id, attempt: 1, ok })
}

fn server(params: ServerParams) -> Harness<Server> {
    harness(NodeId(0), Server::new(params))
}

/// Sends calls `ids` to the server, all with a 1s budget.
fn arrive(h: &mut Harness<Server>, ids: &[u64]) -> Vec<(NodeId, ServiceMsg)> {
    ids.iter()
        .flat_map(|&id| h.deliver(CLIENT, call(id, 1000)))
        .collect()
}

/// Completes the work in progress one request at a time; the replies.
fn drain(h: &mut Harness<Server>) -> Vec<(NodeId, ServiceMsg)> {
    let mut out = Vec::new();
    while !h.timers().is_empty() {
        out.extend(h.fire_next());
    }
    out
}

#[test]
fn fifo_serves_the_oldest_waiting_request_first() {
    let mut h = server(server_params(1, 10, Order::Fifo));
    assert!(arrive(&mut h, &[1, 2, 3, 4]).is_empty());
    assert_eq!((h.node().busy(), h.node().queue_len()), (1, 3));
    let replies = drain(&mut h);
    assert_eq!(
        replies,
        vec![
            reply(1, true),
            reply(2, true),
            reply(3, true),
            reply(4, true)
        ]
    );
    let queues: Vec<u64> = h
        .take_records("served")
        .iter()
        .map(|d| d["queue"].as_u64().unwrap())
        .collect();
    assert_eq!(
        queues,
        vec![3, 2, 1, 0],
        "served carries the queue left behind"
    );
}

#[test]
fn lifo_serves_the_newest_waiting_request_first() {
    let mut h = server(server_params(1, 10, Order::Lifo));
    arrive(&mut h, &[1, 2, 3, 4]);
    assert_eq!(
        drain(&mut h),
        vec![
            reply(1, true),
            reply(4, true),
            reply(3, true),
            reply(2, true)
        ]
    );
}

#[test]
fn a_full_fifo_queue_rejects_the_newcomer_at_once() {
    let mut h = server(server_params(1, 2, Order::Fifo));
    assert!(arrive(&mut h, &[1, 2, 3]).is_empty());
    assert_eq!(arrive(&mut h, &[4]), vec![reply(4, false)]);
    let shed = h.take_records("shed");
    assert_eq!(shed.len(), 1);
    assert_eq!(shed[0]["why"], "queue_full");
    assert_eq!(shed[0]["queue"], 2);
    assert_eq!(
        drain(&mut h),
        vec![reply(1, true), reply(2, true), reply(3, true)]
    );
}

#[test]
fn a_full_lifo_queue_drops_its_oldest_for_the_newcomer() {
    let mut h = server(server_params(1, 2, Order::Lifo));
    arrive(&mut h, &[1, 2, 3]);
    assert_eq!(
        arrive(&mut h, &[4]),
        vec![reply(2, false)],
        "2 was the oldest waiting"
    );
    assert_eq!(h.take_records("shed")[0]["why"], "queue_full");
    assert_eq!(
        drain(&mut h),
        vec![reply(1, true), reply(4, true), reply(3, true)]
    );
}

#[test]
fn shed_expired_drops_requests_whose_client_stops_waiting_before_the_work_is_done() {
    let mut p = server_params(1, 10, Order::Fifo);
    p.shed_expired = true;
    let mut h = server(p);
    // 1 works 10ms; 2's budget (15ms) runs out within a service time of
    // when a worker frees (10ms + 10ms > 15ms): dropped; 3 (1s) is served.
    h.deliver(CLIENT, call(1, 1000));
    h.deliver(CLIENT, call(2, 15));
    h.deliver(CLIENT, call(3, 1000));
    assert_eq!(
        drain(&mut h),
        vec![reply(1, true), reply(3, true)],
        "no reply to 2"
    );
    let shed = h.take_records("shed");
    assert_eq!(shed.len(), 1);
    assert_eq!(shed[0]["why"], "deadline");
    assert_eq!(shed[0]["queue"], 1);
}

#[test]
fn without_shed_expired_the_server_works_for_clients_that_gave_up() {
    let mut h = server(server_params(1, 10, Order::Fifo));
    h.deliver(CLIENT, call(1, 1000));
    h.deliver(CLIENT, call(2, 1));
    assert_eq!(drain(&mut h), vec![reply(1, true), reply(2, true)]);
    assert!(h.take_records("shed").is_empty());
}

#[test]
fn the_concurrency_limit_counts_working_and_waiting_requests() {
    let mut p = server_params(2, 10, Order::Fifo);
    p.concurrency_limit = Some(3);
    let mut h = server(p);
    assert!(arrive(&mut h, &[1, 2, 3]).is_empty());
    assert_eq!(arrive(&mut h, &[4]), vec![reply(4, false)]);
    assert_eq!(h.take_records("shed")[0]["why"], "concurrency");
}

#[test]
fn capacity_knob_starts_waiting_requests_and_returns_the_old_value() {
    let mut h = server(server_params(1, 10, Order::Fifo));
    arrive(&mut h, &[1, 2, 3, 4]);
    assert_eq!(h.knob("capacity", 3.0).0, Some(1.0));
    assert_eq!((h.node().busy(), h.node().queue_len()), (3, 1));
    // Fewer workers: running requests finish, none starts until below.
    assert_eq!(h.knob("capacity", 1.0).0, Some(3.0));
    assert_eq!(h.fire_next(), vec![reply(1, true)]);
    assert_eq!((h.node().busy(), h.node().queue_len()), (2, 1));
    assert_eq!(h.knob("no_such_knob", 1.0).0, None);
}

#[test]
fn slowdown_knob_multiplies_the_service_time_of_requests_started_after_it() {
    let mut h = server(server_params(2, 10, Order::Fifo));
    arrive(&mut h, &[1]);
    assert_eq!(h.knob("slowdown", 3.0).0, Some(1.0));
    arrive(&mut h, &[2]);
    assert_eq!(
        deadlines(&h),
        vec![LocalTime(0) + ms(10), LocalTime(0) + ms(30)]
    );
}

// ---------------------------------------------------------------- client

fn client_params() -> ClientParams {
    ClientParams {
        arrivals: Arrivals::Closed {
            think_min: ms(5),
            think_max: ms(5),
        },
        max_outstanding: 1000,
        timeout: ms(100),
        deadline: None,
        max_attempts: 3,
        backoff: Backoff::Constant { delay: ms(20) },
        budget: None,
        breaker: None,
        bugs: crate::models::bugs::Bugs::none(),
    }
}

fn client(params: ClientParams) -> Harness<Client> {
    harness(CLIENT, Client::new(params, 1))
}

/// The attempt a client sent: (id, attempt, budget).
fn sent_call(sends: &[(NodeId, ServiceMsg)]) -> (u64, u32, u64) {
    match sends {
        [(
            NodeId(0),
            ServiceMsg::Call {
                id,
                attempt,
                budget_ns,
            },
        )] => (*id, *attempt, *budget_ns),
        other => panic!("expected one call to n1, got {other:?}"),
    }
}

fn server_reply(id: u64, attempt: u32, ok: bool) -> ServiceMsg {
    ServiceMsg::Reply { id, attempt, ok }
}

#[test]
fn a_closed_loop_client_retries_timeouts_and_gives_up_after_max_attempts() {
    let mut h = client(client_params());
    assert_eq!(
        sent_call(&h.fire_next()),
        (1, 1, ms(100).as_nanos()),
        "after the think time"
    );
    assert!(h.fire_next().is_empty(), "the timeout starts the backoff");
    assert_eq!(sent_call(&h.fire_next()).1, 2);
    h.fire_next();
    assert_eq!(sent_call(&h.fire_next()).1, 3);
    assert!(h.fire_next().is_empty());
    let done = h.take_records("done");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["why"], "timeout");
    assert_eq!(done[0]["ok"], false);
    assert_eq!(done[0]["calls"], 3);
    // 5ms think, then 3 x 100ms waits and 2 x 20ms backoffs.
    assert_eq!(done[0]["latency_ns"], ms(340).as_nanos());
    let calls: Vec<u64> = h
        .take_records("call")
        .iter()
        .map(|d| d["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(calls, vec![1, 2, 3]);
    assert_eq!(h.take_records("request").len(), 1);
    // Closed loop: the next request follows a think time.
    assert_eq!(sent_call(&h.fire_next()).0, 2);
}

#[test]
fn a_late_reply_to_a_timed_out_attempt_is_ignored() {
    let mut h = client(client_params());
    h.fire_next(); // attempt 1
    h.fire_next(); // it times out
    h.fire_next(); // attempt 2
    assert!(h.deliver(NodeId(0), server_reply(1, 1, true)).is_empty());
    assert!(
        h.take_records("done").is_empty(),
        "the reply to attempt 1 came too late"
    );
    h.deliver(NodeId(0), server_reply(1, 2, true));
    let done = h.take_records("done");
    assert_eq!(
        (done[0]["why"].as_str(), done[0]["calls"].as_u64()),
        (Some("ok"), Some(2))
    );
    assert_eq!(done[0]["good"], true);
}

#[test]
fn an_error_reply_is_retried_and_the_last_one_ends_the_request_as_shed() {
    let mut p = client_params();
    p.max_attempts = 2;
    let mut h = client(p);
    h.fire_next();
    h.deliver(NodeId(0), server_reply(1, 1, false));
    assert_eq!(sent_call(&h.fire_next()).1, 2, "after the 20ms backoff");
    h.deliver(NodeId(0), server_reply(1, 2, false));
    assert_eq!(h.take_records("done")[0]["why"], "shed");
}

#[test]
fn the_deadline_bounds_each_attempts_wait_and_stops_retries() {
    let mut p = client_params();
    p.deadline = Some(ms(150));
    p.backoff = Backoff::None {};
    let mut h = client(p);
    assert_eq!(sent_call(&h.fire_next()).2, ms(100).as_nanos());
    // The timeout retries at once with what is left: 50ms.
    assert_eq!(sent_call(&h.fire_next()), (1, 2, ms(50).as_nanos()));
    assert!(h.fire_next().is_empty());
    let done = h.take_records("done");
    assert_eq!(
        (done[0]["why"].as_str(), done[0]["calls"].as_u64()),
        (Some("timeout"), Some(2))
    );
}

#[test]
fn an_empty_retry_budget_ends_requests_after_one_call() {
    let mut p = client_params();
    p.budget = Some(BudgetParams {
        capacity: 10,
        retry_cost: 5,
        timeout_cost: 10,
        success_refund: 1,
    });
    let mut h = client(p);
    h.fire_next(); // request 1, attempt 1
    h.fire_next(); // times out: the retry takes all 10 tokens
    h.fire_next(); // attempt 2
    assert_eq!(h.node().budget_tokens(), Some(0));
    h.fire_next(); // times out: no tokens, no retry
    let done = h.take_records("done");
    assert_eq!(
        (done[0]["why"].as_str(), done[0]["calls"].as_u64()),
        (Some("budget"), Some(2))
    );
    // A success refills one token.
    h.fire_next(); // request 2
    h.deliver(NodeId(0), server_reply(2, 1, true));
    assert_eq!(h.node().budget_tokens(), Some(1));
}

#[test]
fn a_breaker_opens_fails_fast_and_closes_after_probes_succeed() {
    let mut p = client_params();
    p.max_attempts = 1;
    p.breaker = Some(crate::retry::BreakerParams {
        window: 4,
        min_calls: 2,
        failure_rate: 0.5,
        cooldown: ms(1000),
        probes: 1,
    });
    let mut h = client(p);
    for _ in 0..2 {
        h.fire_next(); // a call
        h.fire_next(); // its timeout
    }
    assert_eq!(h.node().breaker_state(), Some(BreakerState::Open));
    assert_eq!(
        h.take_records("breaker"),
        vec![serde_json::json!({ "state": "open" })]
    );
    // The next request fails at once, without a call.
    assert!(h.fire_next().is_empty());
    let done = h.take_records("done");
    let last = done.last().unwrap();
    assert_eq!(
        (last["why"].as_str(), last["calls"].as_u64()),
        (Some("breaker_open"), Some(0))
    );
    assert_eq!(last["latency_ns"], 0);
    // After the cooldown a probe goes through; its success closes it.
    h.advance(ms(1000));
    let (id, attempt, _) = sent_call(&h.fire_next());
    assert_eq!(h.node().breaker_state(), Some(BreakerState::HalfOpen));
    h.deliver(NodeId(0), server_reply(id, attempt, true));
    let states: Vec<Value> = h
        .take_records("breaker")
        .into_iter()
        .map(|d| d["state"].clone())
        .collect();
    assert_eq!(states, vec!["half_open", "closed"]);
}

#[test]
fn an_open_loop_client_gives_up_beyond_max_outstanding_and_takes_the_rate_knob() {
    let mut p = client_params();
    p.arrivals = Arrivals::Open { rate: 1000.0 };
    p.max_outstanding = 2;
    p.timeout = ms(10_000);
    let mut h = client(p);
    for _ in 0..3 {
        h.fire_next(); // arrivals come long before any timeout
    }
    let done = h.take_records("done");
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0]["why"].as_str(), done[0]["calls"].as_u64()),
        (Some("gave_up"), Some(0))
    );
    assert_eq!(h.node().outstanding(), 2);
    assert_eq!(h.knob("rate", 0.0).0, Some(1000.0));
    assert_eq!(
        h.timers().len(),
        2,
        "no arrival is due at rate 0; two attempt timers"
    );
    assert_eq!(h.knob("rate", 5.0).0, Some(0.0));
    assert_eq!(h.timers().len(), 3, "an arrival is due again");
    assert_eq!(h.knob("capacity", 5.0).0, None, "a server's knob");
}

#[test]
fn open_loop_arrivals_come_at_the_rate() {
    let mut p = client_params();
    p.arrivals = Arrivals::Open { rate: 50.0 };
    p.max_attempts = 1;
    p.timeout = ms(1);
    let mut h = client(p);
    while h.now() < LocalTime(0) + ms(100_000) {
        h.fire_next();
    }
    let n = h.take_records("request").len() as f64;
    assert!(
        (4700.0..5300.0).contains(&n),
        "{n} requests in 100s at 50/s"
    );
}

#[test]
fn a_restarted_client_numbers_its_requests_after_those_of_its_last_life() {
    let mut h = client(client_params());
    assert_eq!(sent_call(&h.fire_next()).0, 1);
    // A crash: the value and its timers are gone, the synced disk stays.
    h.restart(Client::new(client_params(), 1));
    assert_eq!(sent_call(&h.fire_next()).0, client::ID_SPAN + 1);
}

#[test]
fn a_closed_loop_client_has_no_rate_knob() {
    let mut h = client(client_params());
    assert_eq!(h.knob("rate", 5.0).0, None);
}

// ---------------------------------------------------------------- table

fn layout() -> Layout {
    Layout {
        servers: 1,
        workload: Some(Workload {
            clients: 2,
            think_min: ms(0),
            think_max: ms(10),
            timeout: ms(500),
            read_ppm: 500_000,
            keys: 3,
        }),
    }
}

fn params(text: &str) -> Result<ServiceParams, ParamError> {
    let table: model::ServiceTable =
        toml::from_str(text).map_err(|e| ParamError::table(e.to_string()))?;
    ServiceModel.params(table, &layout())
}

const TIME: &str = "service_time = { dist = \"exponential\", mean = \"10ms\" }\n";

#[test]
fn the_table_reads_defaults_and_every_key() {
    let p = params(TIME).unwrap();
    assert_eq!(
        (p.server.workers, p.server.queue, p.server.order),
        (1, 100, Order::Fifo)
    );
    assert_eq!(p.client.max_attempts, 1);
    assert!(matches!(p.client.arrivals, Arrivals::Closed { .. }));
    let p = params(&format!(
        "{TIME}workers = 4\nqueue = 0\norder = \"lifo\"\nshed_expired = true\nconcurrency_limit = 9\n\
         rate = 2.5\nmax_outstanding = 7\ndeadline = \"2s\"\nmax_attempts = 3\n\
         backoff = {{ kind = \"full_jitter\", base = \"10ms\", cap = \"1s\" }}\nbudget = {{}}\n\
         breaker = {{ window = 20, min_calls = 10, failure_rate = 0.5, cooldown = \"5s\", probes = 3 }}\n"
    ))
    .unwrap();
    assert_eq!(p.server.order, Order::Lifo);
    assert_eq!(p.client.arrivals, Arrivals::Open { rate: 2.5 });
    assert_eq!(p.client.budget, Some(BudgetParams::default()));
    assert_eq!(p.client.timeout, ms(500), "from [workload]");
}

#[test]
fn the_table_names_the_key_and_the_range_of_each_mistake() {
    let cases = [
        ("workers = 0", "workers", "expected 1 to"),
        ("queue = 100001", "queue", "expected 0 to"),
        ("order = \"random\"", "order", "\"fifo\" or \"lifo\""),
        ("concurrency_limit = 0", "concurrency_limit", "expected 1 to"),
        ("rate = -1.0", "rate", "expected 0 to"),
        ("max_outstanding = 3", "max_outstanding", "open-loop"),
        ("rate = 1.0\nmax_outstanding = 0", "max_outstanding", "expected 1 to"),
        ("deadline = \"0s\"", "deadline", "longer than 0"),
        ("max_attempts = 0", "max_attempts", "expected 1 to 100"),
        ("backoff = { kind = \"exponential\", base = \"0ms\", cap = \"1s\" }", "backoff", "`base`"),
        ("budget = { retry_cost = 0 }", "budget", "retry_cost"),
        ("breaker = { window = 10, min_calls = 20, failure_rate = 0.5, cooldown = \"1s\", probes = 1 }", "breaker", "min_calls"),
    ];
    for (line, key, says) in cases {
        let e = params(&format!("{TIME}{line}\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some(key), "{line}: {e:?}");
        assert!(e.message.contains(says), "{line}: {}", e.message);
    }
    let zero = ServiceTime::Exponential {
        mean: ms(0),
        min: ms(0),
    };
    let table: model::ServiceTable = toml::from_str(TIME).unwrap();
    let table = model::ServiceTable {
        service_time: zero,
        ..table
    };
    let e = ServiceModel.params(table, &layout()).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("service_time"));
}

#[test]
fn every_knob_is_listed_with_its_nodes() {
    let knobs: Vec<(&str, &str)> = ServiceModel
        .knobs()
        .iter()
        .map(|k| (k.name, k.nodes))
        .collect();
    assert_eq!(
        knobs,
        vec![
            ("rate", "clients"),
            ("capacity", "servers"),
            ("slowdown", "servers")
        ]
    );
}

fn with_bug(mut p: ClientParams, bug: &str) -> ClientParams {
    p.bugs = crate::models::bugs::Bugs::parse(&[bug.to_string()], super::KNOWN_BUGS).unwrap();
    p
}

#[test]
fn bug_budget_not_charged_lets_every_retry_through_where_the_budget_stops_them() {
    for bug in [false, true] {
        let mut p = client_params();
        p.budget = Some(BudgetParams {
            capacity: 10,
            retry_cost: 5,
            timeout_cost: 10,
            success_refund: 1,
        });
        if bug {
            p = with_bug(p, "budget_not_charged");
        }
        let mut h = client(p);
        h.fire_next(); // request 1, attempt 1
        h.fire_next(); // times out: the retry costs 10 tokens
        h.fire_next(); // attempt 2
        h.fire_next(); // times out
        if bug {
            assert_eq!(h.node().budget_tokens(), Some(10), "nothing was taken");
            h.fire_next(); // attempt 3
            h.fire_next(); // times out: the last attempt
        } else {
            assert_eq!(h.node().budget_tokens(), Some(0));
        }
        let done = h.take_records("done");
        let why = (done[0]["why"].as_str(), done[0]["calls"].as_u64());
        if bug {
            assert_eq!(why, (Some("timeout"), Some(3)), "retried to max_attempts");
        } else {
            assert_eq!(why, (Some("budget"), Some(2)), "the empty budget stops it");
        }
    }
}

#[test]
fn bug_cooldown_reset_on_reject_keeps_a_busy_breaker_open_where_the_correct_one_probes() {
    for bug in [false, true] {
        let mut p = client_params();
        p.max_attempts = 1;
        p.breaker = Some(crate::retry::BreakerParams {
            window: 4,
            min_calls: 2,
            failure_rate: 0.5,
            cooldown: ms(1000),
            probes: 1,
        });
        if bug {
            p = with_bug(p, "cooldown_reset_on_reject");
        }
        let mut h = client(p);
        for _ in 0..2 {
            h.fire_next(); // a call
            h.fire_next(); // its timeout
        }
        assert_eq!(h.node().breaker_state(), Some(BreakerState::Open));
        // A request every 400ms or so, each asking the open breaker.
        let mut probed = false;
        for _ in 0..3 {
            h.advance(ms(400));
            probed |= !h.fire_next().is_empty();
        }
        if bug {
            assert!(!probed, "each rejection restarted the cooldown");
            assert_eq!(h.node().breaker_state(), Some(BreakerState::Open));
        } else {
            assert!(probed, "a probe after the cooldown");
            assert_eq!(h.node().breaker_state(), Some(BreakerState::HalfOpen));
        }
    }
}
