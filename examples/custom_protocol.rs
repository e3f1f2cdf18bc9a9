//! # Your own protocol, your own check, thousands of fault schedules
//!
//! This example is the whole workflow of a protocol author, in one file:
//!
//! 1. **The protocol** is a type implementing [`faultlab::Node`]. Here: a
//!    *sequencer*. Node n1 hands out increasing sequence numbers, one every
//!    50ms of its local clock, and announces each to the other nodes, which
//!    follow the highest they have seen. The sequencer keeps its counter on
//!    disk so that a restart continues where it left off.
//! 2. **The check** is a type implementing [`faultlab::check::Checker`]. Here:
//!    "a sequence number is never handed out twice", the property any user
//!    of a sequencer (ids, fencing tokens, log positions) relies on. The
//!    sequencer records `issue {"seq": n}`; the check remembers the highest.
//! 3. **The property test** runs the protocol under faults with proptest:
//!    random seeds and random fault schedules (crashes, restarts, partitions,
//!    pauses, clock jumps) on top of a small scenario of the network and clocks.
//!    A failure prints the command that replays it.
//!
//! The bug to find: the sequencer syncs its counter only every `SYNC_EVERY`
//! numbers (to save `fsync`s). A crash loses the unsynced increments, the
//! restarted sequencer issues the same numbers again, and the check catches
//! it. With `SYNC_EVERY = 1` it is correct.
//!
//! Run it:
//!
//! ```text
//! cargo run --release --example custom_protocol                  # sweep 200 seeds with seeded chaos
//! cargo run --release --example custom_protocol -- --seed 17     # replay one seed, narrated
//! cargo run --release --example custom_protocol -- --sync-every 1  # the fixed protocol: no failures
//! cargo test --example custom_protocol                           # the pinned verdicts and the proptest
//! ```

use faultlab::check::{Checker, Severity, Violation, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::report::summary;
use faultlab::scenario::{run_custom, RunOptions, RunReport, Scenario};
use faultlab::sweep::sweep_with;
use faultlab::{Ctx, Node, NodeId, SimDuration, SimTime, TimerId};
use serde_json::json;

/// The messages of the protocol: derive Clone, Debug and Hash.
#[derive(Clone, Debug, Hash)]
enum SeqMsg {
    /// The sequencer issued `seq`.
    Announce { seq: u64 },
}

const TICK: u64 = 1;
const COUNTER_KEY: &str = "counter";

/// Node n1: issues numbers. Every other node: follows the highest announced.
struct Sequencer {
    sync_every: u64,
    counter: u64,
}

impl Node<SeqMsg> for Sequencer {
    fn on_start(&mut self, ctx: &mut Ctx<'_, SeqMsg>) {
        self.counter = ctx.storage().get_json(COUNTER_KEY).unwrap_or(0);
        if ctx.id() == NodeId(0) {
            ctx.set_timer(SimDuration::from_millis(50), TICK);
        }
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_, SeqMsg>, _from: NodeId, msg: SeqMsg) {
        let SeqMsg::Announce { seq } = msg;
        self.counter = self.counter.max(seq);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, SeqMsg>, _timer: TimerId) {
        self.counter += 1;
        let seq = self.counter;
        ctx.storage().put_json(COUNTER_KEY, &seq);
        if seq.is_multiple_of(self.sync_every) {
            ctx.storage().sync(); // the bug: numbers since the last sync are lost on a crash
        }
        ctx.record("issue", json!({ "seq": seq }));
        ctx.broadcast(SeqMsg::Announce { seq });
        ctx.set_timer(SimDuration::from_millis(50), TICK);
    }
}

/// The check: no sequence number is issued twice.
#[derive(Default)]
struct UniqueSequence {
    highest: Option<(u64, SimTime)>,
}

impl Checker for UniqueSequence {
    fn name(&self) -> &'static str {
        "unique_sequence"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let EventKind::Record(record) = &event.kind else {
            return None;
        };
        if record.kind != "issue" {
            return None;
        }
        let seq = record.detail["seq"].as_u64()?;
        match self.highest {
            Some((highest, at)) if seq <= highest => Some(Violation {
                name: "duplicate_sequence".into(),
                check: self.name().into(),
                severity: Severity::Safety,
                time: event.time,
                nodes: vec![world.name(event.node?).to_string()],
                explanation: format!(
                    "sequence number {seq} issued at {}, but {highest} was already issued at {at}; {}",
                    event.time,
                    world.faults_in_force()
                ),
            }),
            _ => {
                self.highest = Some((seq, event.time));
                None
            }
        }
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// The world the protocol runs in: a scenario written inline (a file works too).
/// The `model` section is required by the format but ignored by `run_custom`.
const WORLD: &str = r#"
description = "a sequencer and two followers under seeded chaos"
model = "heartbeat"
duration = "6s"
checks = []
[heartbeat]
interval = "100ms"
timeout = "500ms"
[nodes]
count = 3
[network]
latency = { dist = "uniform", min = "1ms", max = "10ms" }
[chaos]
until = "5s"
crash_every = "2s"
downtime = ["50ms", "500ms"]
pause_every = "3s"
pause_duration = ["50ms", "300ms"]
"#;

fn world() -> Scenario {
    Scenario::parse(WORLD, "custom_protocol.rs (inline scenario)")
        .expect("the inline scenario is valid")
}

/// One run of the protocol in `scenario` with `seed`.
fn run_once(scenario: &Scenario, seed: u64, sync_every: u64, narrate: usize) -> RunReport {
    let options = RunOptions {
        narrate,
        extra_checks: vec![Box::new(UniqueSequence::default())],
        ..RunOptions::default()
    };
    run_custom(scenario, seed, options, move |_| {
        Box::new(Sequencer {
            sync_every,
            counter: 0,
        }) as Box<dyn Node<SeqMsg>>
    })
}

fn replay_command(seed: u64, sync_every: u64) -> String {
    format!(
        "cargo run --release --example custom_protocol -- --seed {seed} --sync-every {sync_every}"
    )
}

fn main() {
    let mut seed = None;
    let mut sync_every = 10;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--seed", Some(v)) => seed = Some(v),
            ("--sync-every", Some(v)) if v > 0 => sync_every = v,
            _ => {
                eprintln!("usage: custom_protocol [--seed N] [--sync-every N>0]");
                std::process::exit(2);
            }
        }
    }
    let scenario = world();
    if let Some(seed) = seed {
        let mut report = run_once(&scenario, seed, sync_every, 200);
        report.reproduce = replay_command(seed, sync_every);
        print!("{}", summary::header(&scenario, seed));
        print!("{}", summary::body(&report));
        std::process::exit(report.verdict.exit_code());
    }
    let summary = sweep_with(0..200, None, &|| {}, |seed| {
        run_once(&scenario, seed, sync_every, 0)
    });
    for failure in summary.failures.iter().take(5) {
        let (name, explanation) = failure.violation.clone().unwrap_or_default();
        println!("seed {}: {name}: {explanation}", failure.seed);
        println!("  replay: {}", replay_command(failure.seed, sync_every));
    }
    println!(
        "sync every {sync_every}: {} of {} seeds passed, {} failed",
        summary.passed,
        summary.seeds_run,
        summary.failures.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultlab::fault::{Fault, TimedFault};
    use faultlab::net::Cut;
    use faultlab::scenario::Verdict;
    use proptest::prelude::*;

    /// One random fault at a random time in the first 5 seconds.
    fn fault() -> impl Strategy<Value = TimedFault> {
        let node = (0u32..3).prop_map(NodeId);
        let kind = prop_oneof![
            node.clone().prop_map(Fault::Crash),
            node.clone().prop_map(Fault::Restart),
            node.clone().prop_map(|n| Fault::Partition(Cut::Isolate(n))),
            Just(Fault::Heal),
            (node.clone(), 1u64..500).prop_map(|(node, ms)| Fault::Pause {
                node,
                duration: SimDuration::from_millis(ms)
            }),
            (node, -500i64..500).prop_map(|(node, ms)| Fault::ClockJump {
                node,
                by_ns: ms * 1_000_000
            }),
        ];
        (0u64..5_000, kind).prop_map(|(ms, fault)| TimedFault {
            at: SimTime(ms * 1_000_000),
            fault,
        })
    }

    /// The same world without chaos, with the given faults.
    fn with_faults(mut faults: Vec<TimedFault>) -> Scenario {
        let mut scenario = world();
        scenario.chaos = None;
        faults.sort_by_key(|f| f.at);
        scenario.faults = faults;
        scenario
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Syncing every number: no fault schedule makes a number repeat.
        #[test]
        fn syncing_every_number_never_repeats_one(seed in any::<u64>(), faults in prop::collection::vec(fault(), 0..12)) {
            let report = run_once(&with_faults(faults.clone()), seed, 1, 0);
            prop_assert_eq!(report.verdict, Verdict::Pass, "replay: {} with faults {:?}: {:?}", replay_command(seed, 1), faults, report.violations);
        }
    }

    #[test]
    fn a_crash_between_syncs_repeats_a_number() {
        // Numbers 1..=10 are synced at 0.5s; the crash at 0.74s loses 11..=14.
        let faults = vec![
            TimedFault {
                at: SimTime(740_000_000),
                fault: Fault::Crash(NodeId(0)),
            },
            TimedFault {
                at: SimTime(900_000_000),
                fault: Fault::Restart(NodeId(0)),
            },
        ];
        let report = run_once(&with_faults(faults), 1, 10, 0);
        assert_eq!(report.verdict, Verdict::Violation);
        assert_eq!(report.violations[0].name, "duplicate_sequence");
        assert!(
            report.violations[0]
                .explanation
                .contains("sequence number 11 issued"),
            "{}",
            report.violations[0].explanation
        );
    }

    #[test]
    fn the_chaos_sweep_pins_its_verdicts() {
        let scenario = world();
        let buggy = sweep_with(0..40, None, &|| {}, |seed| run_once(&scenario, seed, 10, 0));
        let fixed = sweep_with(0..40, None, &|| {}, |seed| run_once(&scenario, seed, 1, 0));
        assert!(
            !buggy.failures.is_empty(),
            "chaos should crash the sequencer between syncs on some seed"
        );
        assert!(buggy.failures.iter().all(|f| f
            .violation
            .as_ref()
            .is_some_and(|v| v.0 == "duplicate_sequence")));
        assert_eq!(fixed.failures.len(), 0, "{:?}", fixed.failures.first());
    }
}
