//! Sweeps of a user's own protocol through the library: a panic in a node
//! is caught, reported with its seed, and the sweep goes on.

use faultlab::scenario::{run_custom, RunOptions, Scenario, Verdict};
use faultlab::sweep::sweep_with;
use faultlab::{Ctx, Node, NodeId, SimDuration, TimerId};

#[derive(Clone, Debug, Hash)]
struct Nothing;

/// Panics at its first timer on odd seeds (only node 0).
struct Fragile {
    explode: bool,
}

impl Node<Nothing> for Fragile {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Nothing>) {
        ctx.set_timer(SimDuration::from_millis(500), 0);
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Nothing>, _from: NodeId, _msg: Nothing) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Nothing>, _timer: TimerId) {
        if self.explode && ctx.id() == NodeId(0) {
            panic!("fragile node gave up");
        }
    }
}

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

#[test]
fn a_panicking_node_is_reported_with_its_seed_and_the_sweep_goes_on() {
    std::panic::set_hook(Box::new(|_| {}));
    let scenario = Scenario::parse(WORLD, "world.toml").unwrap();
    let summary = sweep_with(0..10, None, &|| {}, |seed| {
        let explode = seed % 2 == 1;
        run_custom(&scenario, seed, RunOptions::default(), move |_| {
            Box::new(Fragile { explode }) as Box<dyn Node<Nothing>>
        })
    });
    let _ = std::panic::take_hook();
    assert_eq!(summary.seeds_run, 10);
    assert_eq!(summary.passed, 5);
    let seeds: Vec<u64> = summary.failures.iter().map(|f| f.seed).collect();
    assert_eq!(seeds, [1, 3, 5, 7, 9]);
    for failure in &summary.failures {
        assert_eq!(failure.verdict, Verdict::Violation);
        let (name, explanation) = failure.violation.clone().unwrap();
        assert_eq!(name, "node_panic");
        assert!(
            explanation.contains("fragile node gave up"),
            "{explanation}"
        );
        assert!(
            explanation.contains("0.500s"),
            "names the time: {explanation}"
        );
    }
}
