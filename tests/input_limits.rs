//! Scenario inputs at their limits run without overflow or panic; a panic
//! is blamed on a node only when the node's own code panicked; the event
//! estimate behind the "heavy scenario" warning is within an order of
//! magnitude of the truth.

mod common;

use faultlab::check::{Checker, Violation, World};
use faultlab::scenario::{run, run_custom, RunOptions, Scenario, Verdict, HEAVY_EVENTS};
use faultlab::{Ctx, Node, NodeId, SimDuration, SimTime, TimerId, TraceEvent};

#[derive(Clone, Debug, Hash)]
struct Nothing;

const WORLD: &str = r#"
model = "heartbeat"
duration = "2s"
checks = []
[heartbeat]
interval = "100ms"
timeout = "500ms"
[nodes]
count = 3
"#;

/// Where a test node panics.
#[derive(Clone, Copy, PartialEq)]
enum Blow {
    Never,
    OnTimer,
    SendToNobody,
}

struct Node0 {
    blow: Blow,
}

impl Node<Nothing> for Node0 {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Nothing>) {
        ctx.set_timer(SimDuration::from_millis(500), 0);
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Nothing>, _from: NodeId, _msg: Nothing) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Nothing>, _timer: TimerId) {
        match self.blow {
            Blow::OnTimer if ctx.id() == NodeId(1) => panic!("n2 gave up"),
            Blow::SendToNobody if ctx.id() == NodeId(2) => ctx.send(NodeId(99), Nothing),
            _ => {}
        }
    }
}

/// A check with a bug: it panics at the first event from 400ms on.
struct BuggyCheck;

impl Checker for BuggyCheck {
    fn name(&self) -> &'static str {
        "buggy"
    }
    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        assert!(event.time < SimTime(400_000_000), "the check tripped");
        None
    }
    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

fn first_violation(options: RunOptions, blow: Blow, factory_panics: bool) -> Violation {
    let scenario = Scenario::parse(WORLD, "world.toml").unwrap();
    std::panic::set_hook(Box::new(|_| {}));
    let report = run_custom(&scenario, 1, options, move |id| {
        if factory_panics && id == NodeId(2) {
            panic!("no n3 today");
        }
        Box::new(Node0 { blow }) as Box<dyn Node<Nothing>>
    });
    let _ = std::panic::take_hook();
    assert_eq!(report.verdict, Verdict::Violation);
    report.violations[0].clone()
}

#[test]
fn a_panic_in_a_handler_is_the_nodes() {
    let v = first_violation(RunOptions::default(), Blow::OnTimer, false);
    assert_eq!(v.name, "node_panic");
    assert_eq!(v.nodes, ["n2"]);
    assert!(
        v.explanation
            .contains("node n2 panicked at 0.500s: n2 gave up"),
        "{}",
        v.explanation
    );
}

#[test]
fn a_panic_in_the_factory_is_the_nodes() {
    let v = first_violation(RunOptions::default(), Blow::Never, true);
    assert_eq!(v.name, "node_panic");
    assert_eq!(v.nodes, ["n3"]);
    assert!(v.explanation.contains("no n3 today"), "{}", v.explanation);
}

#[test]
fn a_send_to_a_node_that_does_not_exist_is_the_senders_bug() {
    let v = first_violation(RunOptions::default(), Blow::SendToNobody, false);
    assert_eq!(v.name, "node_panic");
    assert_eq!(v.nodes, ["n3"]);
    assert!(v.explanation.contains("node index 99"), "{}", v.explanation);
}

#[test]
fn a_panic_outside_node_code_is_an_internal_error() {
    let options = RunOptions {
        extra_checks: vec![Box::new(BuggyCheck)],
        ..RunOptions::default()
    };
    let v = first_violation(options, Blow::Never, false);
    assert_eq!(v.name, "internal_error");
    assert!(v.nodes.is_empty());
    assert!(
        v.explanation
            .contains("this is a bug in faultlab, not in the scenario")
            && v.explanation.contains("the check tripped"),
        "{}",
        v.explanation
    );
}

/// Every duration, offset and jump at its documented maximum.
const EXTREME: &str = r#"
model = "heartbeat"
duration = "8640000s"
checks = []
[heartbeat]
interval = "4000000s"
timeout = "8640000s"
[nodes]
count = 4
[network]
latency = { dist = "exponential", mean = "8640000s", min = "8640000s" }
[clocks.n1]
offset = "+8640000s"
drift_ppm = 500000
[clocks.n2]
offset = "-8640000s"
drift_ppm = -500000
[[faults]]
at = "1s"
kind = "clock_jump"
node = "n3"
by = "+8640000s"
[[faults]]
at = "2s"
kind = "clock_jump"
node = "n1"
by = "+8640000s"
[[faults]]
at = "3s"
kind = "pause"
node = "n4"
duration = "8640000s"
[[faults]]
at = "8640000s"
kind = "loss_burst"
probability = 0.5
duration = "8640000s"
[chaos]
until = "8640000s"
crash_every = "8640000s"
downtime = ["8640000s", "8640000s"]
pause_every = "100000s"
pause_duration = ["8640000s", "8640000s"]
clock_jump_every = "100000s"
clock_jump_max = "8640000s"
loss_burst_every = "8640000s"
loss_burst_duration = ["8640000s", "8640000s"]
[limits]
max_events = 20000
"#;

#[test]
fn every_value_at_its_maximum_runs_without_overflow() {
    let scenario = Scenario::parse(EXTREME, "extreme.toml").unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..3 {
        let report = run(&scenario, seed, RunOptions::default());
        for v in &report.violations {
            assert!(
                v.name != "node_panic" && v.name != "internal_error",
                "seed {seed}: {} {}",
                v.name,
                v.explanation
            );
        }
        assert!(report.sim_time <= scenario.end());
    }
}

#[test]
fn the_event_estimate_is_within_an_order_of_magnitude() {
    for file in common::scenario_files() {
        let scenario = Scenario::load(&file).unwrap();
        let estimate = scenario.estimated_events();
        let report = run(&scenario, scenario.default_seed, RunOptions::default());
        if report.verdict != Verdict::Pass {
            continue; // stopped early at a violation: fewer events than a full run
        }
        let actual = report.stats.events;
        // A script that stops once what it waits for happens (a `within`
        // that passes early) runs for less than its longest: the estimate
        // is then an upper bound.
        let stops_early = scenario
            .steps
            .last()
            .is_some_and(|s| s.action == faultlab::scenario::script::StepAction::Stop);
        assert!(
            (stops_early || estimate <= actual * 10) && actual <= estimate * 10,
            "{file}: estimated {estimate} events, ran {actual}"
        );
        assert!(scenario.heavy_warning().is_none(), "{file} is not heavy");
    }
}

#[test]
fn a_heavy_scenario_says_so_in_one_line_naming_the_limit() {
    let heavy = WORLD
        .replace("interval = \"100ms\"", "interval = \"1us\"")
        .replace("timeout = \"500ms\"", "timeout = \"5us\"")
        .replace("duration = \"2s\"", "duration = \"100s\"")
        .replace("count = 3", "count = 10");
    let scenario = Scenario::parse(&heavy, "heavy.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(scenario.estimated_events() > HEAVY_EVENTS);
    let warning = scenario.heavy_warning().expect("a warning");
    assert!(!warning.contains('\n'), "{warning}");
    assert!(
        warning.starts_with("warning: scenario heavy.toml is heavy: about 10000000000 events per run (mostly 10 nodes beating to each other every 1us for 100s; a run stops at limits.max_events = 100000000)"),
        "{warning}"
    );
}

#[test]
fn many_network_changes_in_a_big_network_are_heavy_too() {
    // Each cut or heal writes up to a 1000 x 1000 table of links: 6000 of
    // them weigh as much as 60 million events, though the run has few events.
    let mut text = WORLD
        .replace("count = 3", "count = 1000")
        .replace("interval = \"100ms\"", "interval = \"1s\"")
        .replace("timeout = \"500ms\"", "timeout = \"5s\"");
    for _ in 0..6000 {
        text.push_str("[[faults]]\nat = \"1s\"\nkind = \"heal\"\n");
    }
    let scenario = Scenario::parse(&text, "churn.toml").unwrap_or_else(|e| panic!("{e}"));
    let warning = scenario.heavy_warning().expect("a warning");
    assert!(
        warning.contains("mostly about 6000 cuts and heals of a network of 1000 nodes"),
        "{warning}"
    );
}
