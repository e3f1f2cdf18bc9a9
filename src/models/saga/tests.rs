//! The orchestrator and a service driven by hand through a [`NodeHarness`],
//! and small scenarios through `Scenario::parse` + `run`.

use super::orchestrator::{RETRY, START, TIMEOUT};
use super::*;
use crate::models::bugs::Bugs;
use crate::node::testing::NodeHarness;
use crate::node::{Node, NodeId};
use crate::scenario::{run, RunOptions, Scenario};

fn params(bugs: &[&str]) -> SagaParams {
    let names: Vec<String> = bugs.iter().map(|b| b.to_string()).collect();
    SagaParams {
        steps: vec!["flight".into(), "hotel".into(), "payment".into()],
        sagas: 2,
        every: SimDuration::from_millis(100),
        failure: vec![Probability::ZERO; 3],
        timeout: SimDuration::from_millis(50),
        backoff: Backoff::Constant {
            delay: SimDuration::from_millis(10),
        },
        attempts: 3,
        bugs: Bugs::parse(&names, KNOWN_BUGS).unwrap(),
    }
}

fn start<N: Node<SagaMsg>>(id: u32, node: N) -> NodeHarness<SagaMsg, N> {
    let mut h = NodeHarness::new(NodeId(id), node)
        .with_peers((0..4).filter(|&i| i != id).map(NodeId))
        .with_seed(1)
        .with_sync_check();
    h.start();
    h
}

/// The hotel's service (n3, step 1).
fn hotel(p: SagaParams) -> NodeHarness<SagaMsg, Service> {
    start(2, Service::new(p, 1))
}

fn orchestrator(p: SagaParams) -> NodeHarness<SagaMsg, Orchestrator> {
    start(0, Orchestrator::new(p))
}

fn key(saga: u64, step: u32) -> IdemKey {
    IdemKey { saga, step }
}

fn request(saga: u64, step: u32, action: Action, attempt: u32) -> SagaMsg {
    SagaMsg::Request {
        key: key(saga, step),
        action,
        attempt,
    }
}

fn reply(saga: u64, step: u32, action: Action, ok: bool) -> SagaMsg {
    SagaMsg::Reply {
        key: key(saga, step),
        action,
        ok,
    }
}

const N1: NodeId = NodeId(0);

#[test]
fn a_retried_request_is_answered_from_its_key_not_run_again() {
    let mut s = hotel(params(&[]));
    let first = s.deliver(N1, request(1, 1, Action::Do, 1));
    let second = s.deliver(N1, request(1, 1, Action::Do, 2));
    assert_eq!(first, vec![(N1, reply(1, 1, Action::Do, true))]);
    assert_eq!(second, first, "the retry gets the same answer");
    assert_eq!(s.records_of("applied").len(), 1, "the hotel is booked once");
    assert_eq!(s.records_of("dedup")[0]["status"], "applied");
}

#[test]
fn without_idempotency_keys_a_retried_request_runs_twice() {
    let mut s = hotel(params(&["no_idempotency_key"]));
    s.deliver(N1, request(1, 1, Action::Do, 1));
    s.deliver(N1, request(1, 1, Action::Do, 2));
    assert_eq!(s.records_of("applied").len(), 2, "two bookings");
    assert!(s.records_of("dedup").is_empty());
}

#[test]
fn a_compensation_before_the_request_leaves_a_tombstone_that_refuses_it() {
    let mut s = hotel(params(&[]));
    let undo = s.deliver(N1, request(1, 1, Action::Compensate, 1));
    assert_eq!(undo, vec![(N1, reply(1, 1, Action::Compensate, true))]);
    assert_eq!(s.records_of("cancelled").len(), 1);
    // The original request arrives late: it must not book the room.
    let late = s.deliver(N1, request(1, 1, Action::Do, 1));
    assert_eq!(late, vec![(N1, reply(1, 1, Action::Do, false))]);
    assert!(s.records_of("applied").is_empty());
    assert!(s.records_of("compensated").is_empty(), "nothing to undo");
}

#[test]
fn a_compensation_is_run_once_however_often_it_is_sent() {
    let mut s = hotel(params(&[]));
    s.deliver(N1, request(1, 1, Action::Do, 1));
    s.deliver(N1, request(1, 1, Action::Compensate, 1));
    s.deliver(N1, request(1, 1, Action::Compensate, 2));
    assert_eq!(s.records_of("compensated").len(), 1);
    // And the retried request after the undo does not book again.
    assert_eq!(
        s.deliver(N1, request(1, 1, Action::Do, 3)),
        vec![(N1, reply(1, 1, Action::Do, false))]
    );
    assert_eq!(s.records_of("applied").len(), 1);
}

#[test]
fn a_business_failure_is_answered_failed_and_remembered() {
    let mut p = params(&[]);
    p.failure[1] = Probability::ONE;
    let mut s = hotel(p);
    assert_eq!(
        s.deliver(N1, request(1, 1, Action::Do, 1)),
        vec![(N1, reply(1, 1, Action::Do, false))]
    );
    assert_eq!(s.records_of("failed").len(), 1);
    s.deliver(N1, request(1, 1, Action::Do, 2));
    assert_eq!(s.records_of("failed").len(), 1, "the retry is deduplicated");
    assert_eq!(s.records_of("dedup")[0]["status"], "failed");
}

#[test]
fn the_orchestrator_runs_the_steps_in_order_and_logs_before_each_request() {
    let mut o = orchestrator(params(&[]));
    let sent = o.fire(START);
    assert_eq!(sent, vec![(NodeId(1), request(1, 0, Action::Do, 1))]);
    let log: Option<orchestrator::Phase> = o.storage().get_json("saga/1");
    assert_eq!(log, Some(orchestrator::Phase::Forward { step: 0 }));
    assert_eq!(
        o.deliver(NodeId(1), reply(1, 0, Action::Do, true)),
        vec![(NodeId(2), request(1, 1, Action::Do, 1))]
    );
    assert_eq!(
        o.deliver(NodeId(2), reply(1, 1, Action::Do, true)),
        vec![(NodeId(3), request(1, 2, Action::Do, 1))]
    );
    // A duplicated reply to an earlier step changes nothing.
    assert!(o
        .deliver(NodeId(2), reply(1, 1, Action::Do, true))
        .is_empty());
    assert!(o
        .deliver(NodeId(3), reply(1, 2, Action::Do, true))
        .is_empty());
    assert_eq!(o.records_of("saga_done").len(), 1);
    let log: Option<orchestrator::Phase> = o.storage().get_json("saga/1");
    assert_eq!(log, Some(orchestrator::Phase::Done));
}

#[test]
fn a_failed_step_compensates_the_completed_ones_in_reverse() {
    let mut o = orchestrator(params(&[]));
    o.fire(START);
    o.deliver(NodeId(1), reply(1, 0, Action::Do, true));
    o.deliver(NodeId(2), reply(1, 1, Action::Do, true));
    // The payment is declined: undo the hotel, then the flight.
    assert_eq!(
        o.deliver(NodeId(3), reply(1, 2, Action::Do, false)),
        vec![(NodeId(2), request(1, 1, Action::Compensate, 1))]
    );
    assert_eq!(o.records_of("saga_abort")[0]["why"], "failed");
    assert_eq!(
        o.deliver(NodeId(2), reply(1, 1, Action::Compensate, true)),
        vec![(NodeId(1), request(1, 0, Action::Compensate, 1))]
    );
    assert!(o
        .deliver(NodeId(1), reply(1, 0, Action::Compensate, true))
        .is_empty());
    assert_eq!(o.records_of("saga_compensated").len(), 1);
    assert!(o.records_of("saga_done").is_empty());
}

#[test]
fn an_unanswered_step_is_retried_then_given_up_and_compensated_itself() {
    let mut o = orchestrator(params(&[]));
    o.fire(START);
    for attempt in 2..=3 {
        assert!(o.fire(TIMEOUT | 1 << 2).is_empty(), "waits the backoff");
        assert_eq!(
            o.fire(RETRY | 1 << 2),
            vec![(NodeId(1), request(1, 0, Action::Do, attempt))]
        );
    }
    // The third send is the last (attempts = 3): the flight's outcome is
    // unknown, so it is compensated (the service cancels it if it never ran).
    assert_eq!(
        o.fire(TIMEOUT | 1 << 2),
        vec![(NodeId(1), request(1, 0, Action::Compensate, 1))]
    );
    assert_eq!(o.records_of("saga_abort")[0]["why"], "no_reply");
    assert_eq!(o.records_of("retry").len(), 2);
}

#[test]
fn a_restarted_orchestrator_resumes_its_sagas_from_the_log() {
    let mut o = orchestrator(params(&[]));
    o.fire(START);
    o.deliver(NodeId(1), reply(1, 0, Action::Do, true));
    // Crash while waiting on the hotel; the restart re-sends that request
    // (same key) and starts no saga twice.
    let sent = o.restart(Orchestrator::new(params(&[])));
    assert_eq!(sent, vec![(NodeId(2), request(1, 1, Action::Do, 1))]);
    assert_eq!(o.records_of("resumed")[0]["sagas"], serde_json::json!([1]));
    assert_eq!(
        o.fire(START),
        vec![(NodeId(1), request(2, 0, Action::Do, 1))]
    );
    assert_eq!(o.records_of("saga_start").len(), 2, "sagas 1 and 2");
    assert_eq!(o.pending(START), vec![], "only 2 sagas");
}

fn scenario(extra: &str, faults: &str) -> Scenario {
    let text = format!(
        r#"
expect = "pass"
model = "saga"
duration = "3s"
[saga]
sagas = 10
{extra}
[nodes]
count = 4
[network]
latency = {{ dist = "uniform", min = "1ms", max = "5ms" }}
{faults}
"#
    );
    Scenario::parse(&text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn quiet() -> RunOptions {
    RunOptions {
        narrate: 0,
        ..RunOptions::default()
    }
}

fn metric(report: &crate::scenario::RunReport, name: &str) -> f64 {
    report
        .metrics
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no metric {name}: {:?}", report.metrics))
        .1
}

#[test]
fn every_saga_is_done_without_failures_and_compensated_when_the_first_step_fails() {
    let report = run(&scenario("", ""), 3, quiet());
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(metric(&report, "saga_outcome.done"), 10.0);
    let report = run(
        &scenario("failure_probability = [1.0, 0.0, 0.0]", ""),
        3,
        quiet(),
    );
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(metric(&report, "saga_outcome.compensated"), 10.0);
}

#[test]
fn duplicated_requests_without_keys_are_caught_and_with_keys_are_harmless() {
    let dup = "[[faults]]\nat = \"0s\"\nkind = \"set_link\"\nfrom = [\"n1\"]\nto = [\"n2\", \"n3\", \"n4\"]\nduplicate = 1.0";
    let report = run(&scenario("", dup), 1, quiet());
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let report = run(
        &scenario("bugs = [\"no_idempotency_key\"]", dup),
        1,
        quiet(),
    );
    let v = report.violations.first().expect("a violation");
    assert_eq!(v.name, "step_applied_twice");
    assert!(v.explanation.contains("saga 1"), "{}", v.explanation);
}

#[test]
fn a_down_service_leaves_sagas_unfinished_until_it_returns() {
    let crash = "[[faults]]\nat = \"0s\"\nkind = \"crash\"\nnode = \"n3\"";
    let report = run(&scenario("", crash), 1, quiet());
    let v = report.violations.first().expect("unfinished sagas");
    assert_eq!(v.name, "saga_unfinished");
    let back = format!("{crash}\n[[faults]]\nat = \"2s\"\nkind = \"restart\"\nnode = \"n3\"");
    let report = run(&scenario("", &back), 1, quiet());
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    // The hotel never answered before 2s: every saga gave up and undid its flight.
    assert!(metric(&report, "saga_outcome.compensated") >= 1.0);
}

#[test]
fn table_mistakes_name_their_key() {
    let err = |extra: &str, count: usize| {
        let text = format!(
            "expect = \"pass\"\nmodel = \"saga\"\nduration = \"1s\"\n[saga]\n{extra}\n[nodes]\ncount = {count}\n"
        );
        Scenario::parse(&text, "t.toml").unwrap_err().to_string()
    };
    assert!(
        err("", 3).contains("3 steps need 4 servers"),
        "{}",
        err("", 3)
    );
    let e = err("failure_probability = [0.1]", 4);
    assert!(
        e.contains("saga.failure_probability") && e.contains("one per step"),
        "{e}"
    );
    let e = err("steps = [\"a\", \"a\"]", 3);
    assert!(e.contains("listed twice"), "{e}");
    let e = err("bugs = [\"nope\"]", 4);
    assert!(e.contains("no_idempotency_key"), "{e}");
}

#[test]
fn the_state_views_are_bounded() {
    let mut p = params(&[]);
    p.sagas = 100;
    let mut o = orchestrator(p);
    for _ in 0..100 {
        o.fire(START);
    }
    let view = o.node().debug_state().unwrap();
    assert!(
        view.contains("started: 100") && view.contains("..80 more"),
        "{view}"
    );
    let mut s = hotel(params(&[]));
    s.deliver(N1, request(1, 1, Action::Do, 1));
    s.deliver(N1, request(1, 1, Action::Do, 2));
    assert_eq!(
        s.node().debug_state().unwrap(),
        "Service { step: \"hotel\", applied: 1, deduped: 1 }"
    );
}
