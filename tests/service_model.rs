//! The service model's lessons, measured from the records of whole runs of
//! the scenario files: goodput (`done` with `good = true`), throughput
//! (`served`) and calls per second over windows before and after the
//! trigger, for several seeds.
//!
//! Each test runs a few seeds; `FAULTLAB_SERVICE_SEEDS=N` runs seeds
//! `0..N` instead (e.g. 100 in a release build:
//! `FAULTLAB_SERVICE_SEEDS=100 cargo test --release --test service_model -- --nocapture`),
//! and `--nocapture` prints the figures of each seed.

use faultlab::check::{Checker, Violation, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::SimTime;
use std::cell::RefCell;
use std::rc::Rc;

/// One record of the run, as the tests need it.
#[derive(Clone, Debug)]
struct Seen {
    t: f64,
    kind: String,
    node: u32,
    /// `done`: good; `breaker`: the state is "closed".
    flag: bool,
    /// `done`: why; `breaker`: the state.
    word: String,
}

/// A check that judges nothing and keeps the service records.
struct Collect(Rc<RefCell<Vec<Seen>>>);

impl Checker for Collect {
    fn name(&self) -> &'static str {
        "collect"
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        let EventKind::Record(record) = &event.kind else {
            return None;
        };
        let d = &record.detail;
        let (flag, word) = match record.kind.as_str() {
            "done" => (
                d["good"].as_bool().expect("done.good"),
                d["why"].as_str().expect("done.why").to_string(),
            ),
            "breaker" => {
                let state = d["state"].as_str().expect("breaker.state");
                (state == "closed", state.to_string())
            }
            "served" | "call" | "request" | "shed" => (false, String::new()),
            _ => return None,
        };
        self.0.borrow_mut().push(Seen {
            t: event.time.as_secs_f64(),
            kind: record.kind.to_string(),
            node: event.node.map_or(u32::MAX, |n| n.0),
            flag,
            word,
        });
        None
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// The service records of `scenario` run with `seed`.
fn records(scenario: &Scenario, seed: u64) -> Vec<Seen> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let report = run(
        scenario,
        seed,
        RunOptions {
            narrate: 0,
            extra_checks: vec![Box::new(Collect(Rc::clone(&seen)))],
            ..RunOptions::default()
        },
    );
    // The scenarios judge themselves with the service checks (a lasting
    // overload is `no_recovery`, FIFO under 3x load `goodput_below_slo`);
    // these tests measure the records, so only those verdicts may appear.
    assert!(
        report
            .violations
            .iter()
            .all(|v| ["recovers", "goodput_slo"].contains(&v.check.as_str())),
        "{:?}",
        report.violations
    );
    let out = seen.borrow().clone();
    out
}

/// Records of `kind` per second in `[from, to)` seconds that pass `keep`.
fn per_s(r: &[Seen], kind: &str, from: f64, to: f64, keep: impl Fn(&Seen) -> bool) -> f64 {
    let n = r
        .iter()
        .filter(|s| s.kind == kind && s.t >= from && s.t < to && keep(s))
        .count();
    n as f64 / (to - from)
}

fn goodput(r: &[Seen], from: f64, to: f64) -> f64 {
    per_s(r, "done", from, to, |s| s.flag)
}

fn seeds() -> Vec<u64> {
    let n = std::env::var("FAULTLAB_SERVICE_SEEDS").ok().map_or(2, |v| {
        v.parse().expect("FAULTLAB_SERVICE_SEEDS is a number")
    });
    (0..n).collect()
}

fn load(file: &str) -> Scenario {
    Scenario::load(file).unwrap_or_else(|e| panic!("{e}"))
}

/// Notes a broken expectation (the test fails at the end, listing every
/// seed that broke one, so a sweep of seeds shows how often a story holds).
macro_rules! want {
    ($bad:expr, $cond:expr, $($why:tt)+) => {
        let held: bool = $cond;
        if !held {
            $bad.push(format!($($why)+));
        }
    };
}

/// Fails listing the broken expectations, if any.
fn verdict(bad: &[String], runs: usize) {
    assert!(
        bad.is_empty(),
        "{} broken of {runs} seeds:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The share of the requests that ended in `[from, to)` that were good.
fn good_share(r: &[Seen], from: f64, to: f64) -> f64 {
    let done = per_s(r, "done", from, to, |_| true);
    goodput(r, from, to) / done.max(f64::MIN_POSITIVE)
}

/// The metastable trio: the server pauses from 8s to 10s. Before is 2s to
/// 8s; after is from 18s to the end (30s), 8s after the trigger ended.
#[test]
fn retries_keep_the_server_overloaded_long_after_the_pause_unless_budgeted_or_shed() {
    let plain = load("scenarios/service-metastable.toml");
    let budget = load("scenarios/service-metastable-budget.toml");
    let shed = load("scenarios/service-metastable-shed.toml");
    let mut bad = Vec::new();
    for seed in seeds() {
        let r = records(&plain, seed);
        let (before, after) = (good_share(&r, 2.0, 8.0), good_share(&r, 20.0, 30.0));
        let busy = per_s(&r, "served", 20.0, 30.0, |_| true);
        let calls = per_s(&r, "call", 20.0, 30.0, |_| true);
        let requests = per_s(&r, "request", 20.0, 30.0, |_| true);
        println!(
            "metastable seed {seed}: good {before:.2} of requests before, {after:.2} after; \
             goodput {:.1}/s -> {:.1}/s; throughput {busy:.1}/s; calls {calls:.1}/s for {requests:.1} requests/s",
            goodput(&r, 2.0, 8.0),
            goodput(&r, 20.0, 30.0)
        );
        want!(
            bad,
            before > 0.9,
            "seed {seed}: only {before} good before the pause"
        );
        want!(
            bad,
            after < 0.2,
            "seed {seed}: {after} good after the pause: it recovered"
        );
        want!(
            bad,
            busy > 15.0,
            "seed {seed}: the server should be busy ({busy}/s)"
        );
        want!(
            bad,
            calls > 1.5 * requests,
            "seed {seed}: {calls} calls/s for {requests} requests/s"
        );
        for (name, s) in [("budget", &budget), ("shed", &shed)] {
            let r = records(s, seed);
            let (before, after) = (good_share(&r, 2.0, 8.0), good_share(&r, 20.0, 30.0));
            println!(
                "metastable-{name} seed {seed}: good {before:.2} before, {after:.2} after; goodput {:.1}/s -> {:.1}/s",
                goodput(&r, 2.0, 8.0),
                goodput(&r, 20.0, 30.0)
            );
            want!(
                bad,
                after > 0.8 * before,
                "{name} seed {seed}: {after} good after vs {before} before: no recovery"
            );
        }
    }
    verdict(&bad, seeds().len());
}

/// The breaker: n1 is down from 10s to 20s.
#[test]
fn breakers_fail_fast_while_the_server_is_down_and_close_after_it_returns() {
    let s = load("scenarios/service-breaker.toml");
    let mut bad = Vec::new();
    for seed in seeds() {
        let r = records(&s, seed);
        let calls_before = per_s(&r, "call", 2.0, 10.0, |_| true);
        let calls_down = per_s(&r, "call", 12.0, 20.0, |_| true);
        let fast = per_s(&r, "done", 12.0, 20.0, |d| d.word == "breaker_open");
        let requests_down = per_s(&r, "request", 12.0, 20.0, |_| true);
        let (before, after) = (good_share(&r, 2.0, 10.0), good_share(&r, 23.0, 30.0));
        println!(
            "breaker seed {seed}: good {before:.2} before, {after:.2} after; calls {calls_before:.1}/s before, \
             {calls_down:.1}/s down; {fast:.1} of {requests_down:.1} requests/s failed fast"
        );
        want!(
            bad,
            calls_down < 0.2 * calls_before,
            "seed {seed}: {calls_down} calls/s while down"
        );
        want!(
            bad,
            fast > 0.8 * requests_down,
            "seed {seed}: {fast}/s failed fast"
        );
        want!(
            bad,
            after > 0.95 * before,
            "seed {seed}: {after} good after vs {before}"
        );
        for client in 1..=4 {
            let last = r.iter().rfind(|x| x.kind == "breaker" && x.node == client);
            let last =
                last.unwrap_or_else(|| panic!("seed {seed}: c{client}'s breaker never changed"));
            want!(
                bad,
                last.flag,
                "seed {seed}: c{client}'s breaker ends {}",
                last.word
            );
        }
    }
    verdict(&bad, seeds().len());
}

/// The three policies at 3x the server's capacity (about 20/s), from 5s
/// to the end (15s): the server is always busy; FIFO's goodput collapses,
/// deadline drops keep most of it, LIFO nearly all.
#[test]
fn under_three_times_the_load_lifo_and_deadline_drops_keep_goodput_fifo_does_not() {
    let files = [
        ("fifo", 0.0, 0.1),
        ("deadline", 0.45, 0.9),
        ("lifo", 0.85, 1.1),
    ];
    let mut bad = Vec::new();
    for (policy, low, high) in files {
        let s = load(&format!("scenarios/service-shed-{policy}.toml"));
        for seed in seeds() {
            let r = records(&s, seed);
            let (good, busy) = (
                goodput(&r, 5.0, 15.0),
                per_s(&r, "served", 5.0, 15.0, |_| true),
            );
            let share = good / busy;
            println!("shed-{policy} seed {seed}: throughput {busy:.1}/s goodput {good:.1}/s ({share:.2})");
            want!(bad, busy > 14.0, "{policy} seed {seed}: throughput {busy}");
            want!(
                bad,
                (low..high).contains(&share),
                "{policy} seed {seed}: goodput {good} of {busy} not in {low}..{high}"
            );
        }
    }
    verdict(&bad, 3 * seeds().len());
}

/// The same pause with closed-loop clients (each waits for its request to
/// end, then thinks 100-400ms): they can never have more than one request
/// each in the system, so the queue stays short and goodput returns.
#[test]
fn closed_loop_clients_cannot_keep_the_server_overloaded() {
    let text = std::fs::read_to_string("scenarios/service-metastable.toml").unwrap();
    assert!(text.contains("rate = 3.0\n") && text.contains("timeout = \"1s\"\n"));
    let text = text.replace("rate = 3.0\n", "").replace(
        "timeout = \"1s\"\n",
        "timeout = \"1s\"\nthink = [\"100ms\", \"400ms\"]\n",
    );
    let s = Scenario::parse(&text, "closed-loop.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut bad = Vec::new();
    for seed in seeds() {
        let r = records(&s, seed);
        let (before, after) = (good_share(&r, 2.0, 8.0), good_share(&r, 12.0, 30.0));
        println!("closed loop seed {seed}: good {before:.2} before, {after:.2} after");
        want!(bad, before > 0.9, "seed {seed}: {before} good before");
        want!(
            bad,
            after > 0.9,
            "seed {seed}: {after} good after the pause"
        );
        want!(
            bad,
            per_s(&r, "done", 12.0, 30.0, |_| true) > 5.0,
            "seed {seed}: the clients go on"
        );
    }
    verdict(&bad, seeds().len());
}

/// A mistake in `[service]` names the file, the line and the key.
#[test]
fn a_bad_service_table_is_refused_with_its_line_and_key() {
    let text = std::fs::read_to_string("scenarios/service-breaker.toml").unwrap();
    let bad = text.replace("workers = 2\n", "workers = 0\n");
    let e = Scenario::parse(&bad, "bad.toml").expect_err("0 workers");
    let line = bad.lines().position(|l| l == "workers = 0").unwrap() + 1;
    assert_eq!(e.line, Some(line), "{e}");
    let message = e.to_string();
    assert!(
        message.contains("service.workers") && message.contains("expected 1 to"),
        "{message}"
    );
    let bad = text.replace("probes = 2 }", "probes = 0 }");
    let message = Scenario::parse(&bad, "bad.toml")
        .expect_err("0 probes")
        .to_string();
    assert!(
        message.contains("service.breaker") && message.contains("probes"),
        "{message}"
    );
    let bad = text.replace("queue = 100\n", "queue = 100\nqueue_size = 3\n");
    let message = Scenario::parse(&bad, "bad.toml")
        .expect_err("unknown key")
        .to_string();
    assert!(message.contains("queue_size"), "{message}");
}

/// The trigger does not matter, the loop does: instead of the pause, the
/// server's links to its clients take 1.5s each way for 3s (`set_link`);
/// the replies come too late, the clients retry, and the server stays
/// overloaded as after the pause.
#[test]
fn a_latency_spike_tips_the_server_into_the_same_lasting_overload() {
    let text = std::fs::read_to_string("scenarios/service-metastable.toml").unwrap();
    let pause = "kind = \"pause\"\nnode = \"n1\"\n";
    assert!(text.contains(pause));
    let spike = "kind = \"set_link\"\nfrom = [\"n1\"]\nto = [\"c1\", \"c2\", \"c3\", \"c4\"]\n\
                 latency = { dist = \"constant\", value = \"1500ms\" }\nsymmetric = true\n";
    let s = Scenario::parse(&text.replace(pause, spike), "spike.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut bad = Vec::new();
    for seed in seeds() {
        let r = records(&s, seed);
        let (before, after) = (good_share(&r, 2.0, 8.0), good_share(&r, 20.0, 30.0));
        println!("latency spike seed {seed}: good {before:.2} before, {after:.2} after");
        want!(bad, before > 0.9, "seed {seed}: {before} good before");
        want!(
            bad,
            after < 0.2,
            "seed {seed}: {after} good after: it recovered"
        );
    }
    verdict(&bad, seeds().len());
}
