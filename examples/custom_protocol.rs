//! # Your own protocol, your own check, the whole CLI
//!
//! This example is a user crate's `main` in miniature:
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
//! 3. **The model** is a type implementing [`faultlab::Model`]: its name
//!    (`model = "sequencer"` in a scenario), its `[sequencer]` table, its
//!    checks (the check above comes with it, from `own_checks`) and its
//!    node factory. `main` registers it in one line, and hands the registry to [`faultlab::cli::main`]: every subcommand works
//!    on scenario files of the protocol (`scenarios/custom/sequencer-chaos.toml`).
//! 4. **The property tests** run the protocol under faults with proptest
//!    (faultlab's `proptest` feature): random seeds and random fault
//!    schedules from `faultlab::strategies` (crashes and restarts,
//!    partitions, pauses, clock jumps, link changes) on top of that
//!    scenario; on the buggy sequencer proptest shrinks the schedule it
//!    finds to one crash of n1 and its restart.
//!
//! The bug to find: the sequencer syncs its counter only every `sync_every`
//! numbers (to save `fsync`s). A crash loses the unsynced increments, the
//! restarted sequencer issues the same numbers again, and the check catches
//! it. With `sync_every = 1` it is correct.
//!
//! Run it:
//!
//! ```text
//! cargo run --release --example custom_protocol -- run scenarios/custom/sequencer-chaos.toml --seed 36
//! cargo run --release --example custom_protocol -- sweep scenarios/custom/sequencer-chaos.toml --seeds 0..200
//! cargo run --release --example custom_protocol -- list scenarios/custom
//! cargo test --example custom_protocol                      # the pinned verdicts, the CLI
//! cargo test --features proptest --example custom_protocol   # and the property tests
//! ```

use faultlab::check::{CheckInfo, Checker, Severity, Violation, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::model::{Layout, ModelChecks, OwnCheck, ParamError};
use faultlab::{Ctx, Model, Node, NodeId, Registry, SimDuration, SimTime, TimerId};
use serde_json::json;
use std::process::ExitCode;

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

/// The protocol as a model scenarios can name.
struct SequencerModel;

/// `[sequencer]`
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SequencerTable {
    /// Sync the counter every this many numbers (default 1: correct).
    sync_every: Option<u64>,
}

impl Model for SequencerModel {
    type Table = SequencerTable;
    type Params = u64;
    type Msg = SeqMsg;

    fn name(&self) -> &'static str {
        "sequencer"
    }

    fn about(&self) -> &'static str {
        "n1 issues sequence numbers, syncing its counter every sync_every; the others follow"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["unique_sequence"],
            default: &["unique_sequence"],
            always: &["unique_sequence"],
        }
    }

    fn own_checks(&self) -> Vec<OwnCheck> {
        vec![OwnCheck {
            info: CheckInfo {
                name: "unique_sequence",
                about: "no sequence number is issued twice",
                severity: Severity::Safety,
                violation: "duplicate_sequence",
            },
            build: |_| Box::new(UniqueSequence::default()),
        }]
    }

    fn params(&self, table: SequencerTable, _layout: &Layout) -> Result<u64, ParamError> {
        match table.sync_every {
            Some(0) => Err(ParamError::at("sync_every", "expected 1 or more")),
            other => Ok(other.unwrap_or(1)),
        }
    }

    fn node(&self, sync_every: &u64, _layout: &Layout, _id: NodeId) -> Box<dyn Node<SeqMsg>> {
        Box::new(Sequencer {
            sync_every: *sync_every,
            counter: 0,
        })
    }
}

/// The built-in models and checks, and the sequencer (which brings its
/// check, see `own_checks`).
fn registry() -> Registry {
    Registry::builtin().with(SequencerModel)
}

fn main() -> ExitCode {
    faultlab::cli::main(registry())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultlab::fault::{Fault, TimedFault};
    use faultlab::scenario::{run, RunOptions, RunReport, Scenario, Verdict};
    use faultlab::sweep::sweep_with;

    const FILE: &str = "scenarios/custom/sequencer-chaos.toml";

    /// The scenario file, with the sequencer syncing every `sync_every` numbers.
    fn world(sync_every: u64) -> Scenario {
        let text = std::fs::read_to_string(FILE).expect("the scenario file");
        let text = text.replace("sync_every = 10", &format!("sync_every = {sync_every}"));
        Scenario::parse_with(&registry(), &text, FILE).unwrap_or_else(|e| panic!("{e}"))
    }

    fn run_once(scenario: &Scenario, seed: u64) -> RunReport {
        let options = RunOptions {
            narrate: 0,
            ..RunOptions::default()
        };
        run(scenario, seed, options)
    }

    /// The same world without chaos, with the given faults.
    fn with_faults(sync_every: u64, mut faults: Vec<TimedFault>) -> Scenario {
        let mut scenario = world(sync_every);
        scenario.chaos = None;
        faults.sort_by_key(|f| f.at);
        scenario.faults = faults.into_iter().map(Into::into).collect();
        scenario
    }

    /// The property tests: random fault schedules from faultlab's
    /// strategies (`cargo test --features proptest --example custom_protocol`).
    #[cfg(feature = "proptest")]
    mod properties {
        use super::*;
        use faultlab::strategies::{schedule, with_schedule, FaultSpace};
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

        /// Crashes, partitions, isolations, pauses, clock jumps and link
        /// changes of the three nodes within the scenario's chaos phase.
        fn space() -> FaultSpace {
            FaultSpace::for_scenario(&world(1))
        }

        fn replay_command(seed: u64, sync_every: u64) -> String {
            format!("cargo run --release --example custom_protocol -- run {FILE} --seed {seed} (with sync_every = {sync_every})")
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

            /// Syncing every number: no fault schedule makes a number repeat.
            #[test]
            fn syncing_every_number_never_repeats_one(seed in any::<u64>(), faults in schedule(&space())) {
                let report = run_once(&with_schedule(&world(1), &faults), seed);
                prop_assert_eq!(report.verdict, Verdict::Pass, "replay: {} with faults {:?}: {:?}", replay_command(seed, 1), faults, report.violations);
            }
        }

        /// Syncing every tenth number: proptest finds a schedule that
        /// repeats one, and shrinks it to what matters: one crash of the
        /// sequencer and its restart.
        #[test]
        fn the_bug_shrinks_to_one_crash_and_restart_of_the_sequencer() {
            let config = Config {
                cases: 256,
                failure_persistence: None,
                ..Config::default()
            };
            let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
            let mut runner = TestRunner::new_with_rng(config, rng);
            let result = runner.run(&schedule(&space()), |faults| {
                let report = run_once(&with_schedule(&world(10), &faults), 1);
                prop_assert_eq!(report.verdict, Verdict::Pass);
                Ok(())
            });
            let Err(TestError::Fail(_, minimal)) = result else {
                panic!("proptest should find the bug: {result:?}");
            };
            let kinds: Vec<Fault> = minimal.iter().map(|f| f.fault.clone()).collect();
            assert_eq!(
                kinds,
                [Fault::Crash(NodeId(0)), Fault::Restart(NodeId(0))],
                "{minimal:?}"
            );
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
        let report = run_once(&with_faults(10, faults), 1);
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
        let (buggy, fixed) = (world(10), world(1));
        let buggy = sweep_with(0..40, None, &|| {}, |seed| run_once(&buggy, seed));
        let fixed = sweep_with(0..40, None, &|| {}, |seed| run_once(&fixed, seed));
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

    #[test]
    fn the_cli_runs_the_scenario_file_and_meets_its_expectation() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = faultlab::cli::run_with_args(&registry(), ["run", FILE], &mut out, &mut err);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(code, 3, "{out}{}", String::from_utf8_lossy(&err));
        assert!(out.contains("model sequencer"), "{out}");
        assert!(out.contains("duplicate_sequence"), "{out}");
        let builtin = Scenario::load(FILE).unwrap_err();
        assert!(
            builtin.message.contains("unknown model 'sequencer'"),
            "{builtin}"
        );
    }
}
