//! Determinism is the product: same scenario + same seed = same trace hash,
//! and different seeds give different traces.
//!
//! - a proptest over random seeds and scenario knobs (nodes, latency shape,
//!   loss, duplication, ordering, chaos rates, clock drift);
//! - every scenario in `scenarios/` (so every built-in model) run twice;
//! - pinned hashes in `tests/golden/trace_hashes.txt`, which prove that a
//!   debug build here gives the hash a release build gave elsewhere. After an
//!   intended change to the trace, rewrite them with
//!   `FAULTLAB_BLESS=1 cargo test --test determinism` and review the diff.

mod common;

use faultlab::scenario::{run, RunOptions, Scenario};
use proptest::prelude::*;

fn hash_of(scenario: &Scenario, seed: u64) -> (String, u64) {
    let report = run(scenario, seed, RunOptions::default());
    (report.trace_hash, report.trace_events)
}

/// A scenario from knobs, as a user would write it.
fn knob_scenario(
    nodes: u32,
    max_ms: u64,
    loss: f64,
    dup: f64,
    fifo: bool,
    chaos: bool,
    drift: i64,
) -> Scenario {
    let mut text = format!(
        r#"
model = "heartbeat"
duration = "6s"
checks = ["strong_completeness"]
[heartbeat]
interval = "100ms"
timeout = "400ms"
[nodes]
count = {nodes}
[network]
latency = {{ dist = "uniform", min = "1ms", max = "{max_ms}ms" }}
loss = {loss}
duplicate = {dup}
ordering = "{}"
[clocks.n1]
drift_ppm = {drift}
[liveness]
within = "1s"
"#,
        if fifo { "fifo" } else { "any" }
    );
    if chaos {
        text.push_str(
            r#"
[chaos]
until = "4s"
crash_every = "2s"
downtime = ["100ms", "1s"]
partition_every = "2s"
partition_duration = ["100ms", "1s"]
pause_every = "2s"
pause_duration = ["50ms", "500ms"]
clock_jump_every = "3s"
clock_jump_max = "200ms"
loss_burst_every = "3s"
"#,
        );
    }
    Scenario::parse(&text, "knobs.toml").expect("the knob scenario is valid")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn same_seed_same_hash_and_other_seeds_differ(
        seed in any::<u64>(),
        nodes in 2u32..7,
        max_ms in 1u64..30,
        loss in 0.0f64..0.3,
        dup in 0.0f64..0.2,
        fifo in any::<bool>(),
        chaos in any::<bool>(),
        drift in -200_000i64..200_000,
    ) {
        let scenario = knob_scenario(nodes, max_ms, loss, dup, fifo, chaos, drift);
        let first = hash_of(&scenario, seed);
        let second = hash_of(&scenario, seed);
        prop_assert_eq!(&first, &second, "seed {} gave two different traces", seed);
        let other = hash_of(&scenario, seed.wrapping_add(1));
        prop_assert_ne!(first.0, other.0, "seeds {} and {} gave the same trace", seed, seed.wrapping_add(1));
    }
}

#[test]
fn every_scenario_is_deterministic_for_several_seeds() {
    for file in common::scenario_files() {
        let scenario = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        for seed in [0, 1, scenario.default_seed, 12345] {
            let a = run(
                &scenario,
                seed,
                RunOptions {
                    event_hashes: true,
                    ..RunOptions::default()
                },
            );
            let b = run(
                &scenario,
                seed,
                RunOptions {
                    event_hashes: true,
                    ..RunOptions::default()
                },
            );
            assert_eq!(a.trace_hash, b.trace_hash, "{file} seed {seed}");
            assert_eq!(
                a.event_hashes, b.event_hashes,
                "{file} seed {seed}: per-event hashes differ"
            );
            assert!(a.trace_events > 0, "{file} seed {seed} produced no events");
        }
    }
}

#[test]
fn trace_hashes_match_the_pinned_golden_values() {
    let path = "tests/golden/trace_hashes.txt";
    let mut actual =
        String::from("# scenario seed trace_hash trace_events (FAULTLAB_BLESS=1 rewrites)\n");
    for file in common::scenario_files() {
        let scenario = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        for seed in [scenario.default_seed, 99] {
            let (hash, events) = hash_of(&scenario, seed);
            actual.push_str(&format!("{file} {seed} {hash} {events}\n"));
        }
    }
    if std::env::var_os("FAULTLAB_BLESS").is_some() {
        std::fs::write(path, &actual).expect("write golden hashes");
        return;
    }
    let expected = std::fs::read_to_string(path)
        .expect("tests/golden/trace_hashes.txt (FAULTLAB_BLESS=1 creates it)");
    assert_eq!(
        expected, actual,
        "trace hashes changed; if the change is intended, run FAULTLAB_BLESS=1 cargo test --test determinism and review the diff"
    );
}

#[test]
fn a_different_seed_gives_a_different_trace_for_every_scenario() {
    for file in common::scenario_files() {
        let scenario = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let a = hash_of(&scenario, 1).0;
        let b = hash_of(&scenario, 2).0;
        assert_ne!(a, b, "{file}: seeds 1 and 2 gave the same trace");
    }
}

/// A deliberately nondeterministic node: it greets its peers in the
/// iteration order of a `HashMap`, which differs from one map to the next.
struct HashOrdered;

#[derive(Clone, Debug, Hash)]
struct Greeting(u32);

impl faultlab::Node<Greeting> for HashOrdered {
    fn on_start(&mut self, ctx: &mut faultlab::Ctx<'_, Greeting>) {
        let order: std::collections::HashMap<u32, faultlab::NodeId> = (0..32u32)
            .map(|i| (i, ctx.peers()[i as usize % ctx.peers().len()]))
            .collect();
        for (i, peer) in order {
            ctx.send(peer, Greeting(i));
        }
    }
    fn on_message(
        &mut self,
        _ctx: &mut faultlab::Ctx<'_, Greeting>,
        _from: faultlab::NodeId,
        _msg: Greeting,
    ) {
    }
    fn on_timer(&mut self, _ctx: &mut faultlab::Ctx<'_, Greeting>, _timer: faultlab::TimerId) {}
}

#[test]
fn the_determinism_check_catches_a_node_that_iterates_a_hash_map() {
    use faultlab::scenario::{check_determinism, run_custom};
    let scenario = Scenario::load("scenarios/heartbeat-quiet.toml").unwrap();
    let (_, verdict) = check_determinism(RunOptions::default(), |options| {
        run_custom(&scenario, 1, options, |_| {
            Box::new(HashOrdered) as Box<dyn faultlab::Node<Greeting>>
        })
    });
    let i = verdict
        .first_difference
        .expect("HashMap order must make the two runs differ");
    assert!(
        verdict.run_1.as_deref().unwrap_or("").contains("send"),
        "{verdict:?}"
    );
    assert!(i < verdict.trace_events, "{verdict:?}");

    let (report, verdict) =
        check_determinism(RunOptions::default(), |options| run(&scenario, 1, options));
    assert_eq!(
        verdict.first_difference, None,
        "the heartbeat model is deterministic"
    );
    assert_eq!(verdict.trace_events, report.trace_events);
}

/// Every knob of fault timing, targeting and timing noise at once: the same
/// seed gives the same trace, event by event; other seeds give others.
#[test]
fn every_new_knob_at_once_is_deterministic() {
    let text = r#"
model = "raft"
duration = "8s"
[raft]
election_timeout = ["150ms", "300ms"]
heartbeat_interval = "50ms"
[workload]
clients = 2
timeout = "300ms"
[nodes]
count = 5
[noise]
timer_jitter = { dist = "uniform", min = "0ms", max = "1ms" }
processing = { dist = "exponential", min = "20us", mean = "50us" }
sync = { dist = "uniform", min = "1ms", max = "3ms" }
[[faults]]
after = "leader"
delay = ["100ms", "200ms"]
kind = "partition"
groups = [["@leader", "@leader+1"], ["@others"]]
[[faults]]
at = ["1.5s", "2s"]
kind = "set_link"
from = ["@random"]
to = ["@others"]
latency = { dist = "uniform", min = "5ms", max = "20ms" }
loss = 0.1
duration = "1s"
[[faults]]
at = "3s"
kind = "heal"
[[steps]]
sleep = ["3.5s", "4s"]
[[steps]]
fault = { kind = "isolate", node = "@leader" }
[[steps]]
check = "leader"
within = "2s"
[[steps]]
fault = { kind = "reconnect", node = "@isolated" }
[[steps]]
fault = { kind = "crash", node = "@random:follower" }
[[liveness]]
"#;
    let text = text.replace("[[liveness]]\n", "[liveness]\nwithin = \"2s\"\n");
    let scenario = Scenario::parse(&text, "knobs.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut hashes = std::collections::BTreeSet::new();
    for seed in 0..4 {
        let options = || RunOptions {
            event_hashes: true,
            narrate: 0,
            ..RunOptions::default()
        };
        let a = run(&scenario, seed, options());
        let b = run(&scenario, seed, options());
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.event_hashes, b.event_hashes, "seed {seed}: events differ");
        assert!(
            a.violations.iter().all(|v| v.check != "engine"),
            "{:?}",
            a.violations
        );
        hashes.insert(a.trace_hash);
    }
    assert_eq!(hashes.len(), 4, "each seed its own run");
}
