//! The fault-schedule strategies of the `proptest` feature
//! (`cargo test --features proptest --test strategies`): they generate
//! valid schedules within their space, a scenario runs them, and
//! shrinking removes episodes and shortens what is left.
#![cfg(feature = "proptest")]

use faultlab::engine::EventKind;
use faultlab::fault::{Fault, TimedFault};
use faultlab::net::Cut;
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::strategies::{schedule, with_schedule, FaultSpace};
use faultlab::{NodeId, SimDuration, SimTime};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::Cell;
use std::rc::Rc;

fn chaos_world() -> Scenario {
    Scenario::load("scenarios/heartbeat-chaos.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Checks one schedule against its space; the reason if it is not valid.
fn validate(space: &FaultSpace, faults: &[TimedFault]) -> Result<(), String> {
    let ok = |n: &NodeId| space.nodes.contains(n);
    if !faults.windows(2).all(|w| w[0].at <= w[1].at) {
        return Err("not in time order".into());
    }
    for (i, f) in faults.iter().enumerate() {
        if f.at.saturating_add(f.fault.length()) > space.horizon {
            return Err(format!("{f:?} ends after the horizon"));
        }
        let fine = match &f.fault {
            Fault::Crash(n) => {
                ok(n)
                    && faults[i + 1..]
                        .iter()
                        .any(|g| g.fault == Fault::Restart(*n) && g.at > f.at)
            }
            Fault::Restart(n) | Fault::Reconnect(n) | Fault::Partition(Cut::Isolate(n)) => ok(n),
            Fault::Partition(Cut::Groups(groups)) => {
                groups.len() == 2
                    && groups.iter().all(|g| !g.is_empty() && g.iter().all(ok))
                    && groups[0].iter().all(|n| !groups[1].contains(n))
                    && groups[0].len() + groups[1].len() == space.nodes.len()
            }
            Fault::Heal => true,
            Fault::Pause { node, duration } => ok(node) && *duration > SimDuration::ZERO,
            Fault::ClockJump { node, by_ns } => {
                ok(node) && by_ns.unsigned_abs() <= space.clock_jump.unwrap().as_nanos()
            }
            Fault::SetLink {
                from,
                to,
                change,
                symmetric,
                duration,
            } => {
                from.len() == 1
                    && to.len() == space.nodes.len() - 1
                    && !to.contains(&from[0])
                    && *symmetric
                    && duration.is_some()
                    && (change.latency.is_some() != change.loss.is_some())
            }
            _ => false,
        };
        if !fine {
            return Err(format!("{f:?} is not a fault of the space"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn schedules_stay_within_their_space(faults in schedule(&FaultSpace::for_scenario(&chaos_world()))) {
        let space = FaultSpace::for_scenario(&chaos_world());
        prop_assert!(faults.len() <= 2 * space.max_episodes);
        if let Err(e) = validate(&space, &faults) {
            return Err(TestCaseError::fail(format!("{e}: {faults:?}")));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every fault of the schedule is applied (or traced as not applying),
    /// then the heal of everything; nothing panics.
    #[test]
    fn a_scenario_runs_every_fault_of_a_schedule(seed in 0u64..1000, faults in schedule(&FaultSpace::for_scenario(&chaos_world()))) {
        let scenario = with_schedule(&chaos_world(), &faults);
        let seen = Rc::new(Cell::new(0usize));
        let count = Rc::clone(&seen);
        let options = RunOptions {
            narrate: 0,
            on_event: Some(Box::new(move |e| {
                if matches!(e.kind, EventKind::Fault { .. } | EventKind::Skipped { .. }) {
                    count.set(count.get() + 1);
                }
            })),
            ..RunOptions::default()
        };
        let report = run(&scenario, seed, options);
        prop_assert!(report.violations.iter().all(|v| v.name != "node_panic" && v.name != "internal_error"), "{:?}", report.violations);
        prop_assert_eq!(seen.get(), faults.len() + usize::from(!faults.is_empty()));
    }
}

#[test]
fn for_scenario_takes_the_chaos_phase_nodes_and_ranges() {
    let scenario = chaos_world();
    let chaos = scenario.chaos.clone().expect("a chaos scenario");
    let space = FaultSpace::for_scenario(&scenario);
    assert_eq!(space.horizon, chaos.until);
    assert_eq!(space.crash, Some(chaos.downtime));
    assert_eq!(space.pause, Some(chaos.pause_duration));
    assert_eq!(space.nodes, (0..5).map(NodeId).collect::<Vec<_>>());
}

#[test]
fn with_schedule_turns_chaos_off_and_heals_after_the_last_fault() {
    let faults = vec![
        TimedFault {
            at: SimTime(2_000_000_000),
            fault: Fault::Pause {
                node: NodeId(1),
                duration: SimDuration::from_millis(300),
            },
        },
        TimedFault {
            at: SimTime(1_000_000_000),
            fault: Fault::Crash(NodeId(0)),
        },
    ];
    let scenario = with_schedule(&chaos_world(), &faults);
    assert!(scenario.chaos.is_none());
    let schedule = scenario.fault_schedule(7).timed;
    let kinds: Vec<(u64, &str)> = schedule
        .iter()
        .map(|f| (f.at.0 / 1_000_000, f.fault.kind()))
        .collect();
    assert_eq!(
        kinds,
        [(1000, "crash"), (2000, "pause"), (2300, "heal_all")]
    );
    // The liveness phase never starts before the faults end.
    assert!(scenario.liveness.after >= SimTime(2_300_000_000));
}

/// proptest's search with a fixed RNG: the minimal failing schedule.
fn shrunk(space: &FaultSpace, fails: impl Fn(&[TimedFault]) -> bool) -> Vec<TimedFault> {
    let config = Config {
        cases: 256,
        failure_persistence: None,
        max_shrink_iters: 10_000,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    match runner.run(&schedule(space), |faults| {
        prop_assert!(!fails(&faults));
        Ok(())
    }) {
        Err(TestError::Fail(_, minimal)) => minimal,
        other => panic!("expected a failing schedule: {other:?}"),
    }
}

#[test]
fn shrinking_drops_episodes_and_shortens_the_one_that_matters() {
    // Fails when some node is down for 200ms or more.
    let ms = SimDuration::from_millis;
    let mut space = FaultSpace::for_scenario(&chaos_world());
    space.crash = Some((ms(1), ms(1000)));
    let long_downtime = |faults: &[TimedFault]| {
        faults.iter().any(|crash| {
            let Fault::Crash(n) = crash.fault else {
                return false;
            };
            faults.iter().any(|r| {
                r.fault == Fault::Restart(n) && r.at > crash.at && r.at - crash.at >= ms(200)
            })
        })
    };
    let minimal = shrunk(&space, long_downtime);
    // One crash of the first node at time zero, restarted exactly 200ms later.
    assert_eq!(
        minimal,
        vec![
            TimedFault {
                at: SimTime::ZERO,
                fault: Fault::Crash(NodeId(0)),
            },
            TimedFault {
                at: SimTime(200_000_000),
                fault: Fault::Restart(NodeId(0)),
            },
        ]
    );
}

#[test]
fn shrinking_shortens_pauses_and_clock_jumps() {
    let ms = SimDuration::from_millis;
    let mut space = FaultSpace::crashes(
        vec![NodeId(2), NodeId(3)],
        SimTime(5_000_000_000),
        (ms(1), ms(10)),
    );
    space.crash = None;
    space.pause = Some((ms(1), ms(2000)));
    space.clock_jump = Some(ms(900));
    // Fails on a pause of 500ms or more together with a backward jump of 100ms or more.
    let minimal = shrunk(&space, |faults| {
        let long_pause = faults
            .iter()
            .any(|f| matches!(f.fault, Fault::Pause { duration, .. } if duration >= ms(500)));
        let back = faults
            .iter()
            .any(|f| matches!(f.fault, Fault::ClockJump { by_ns, .. } if by_ns <= -100_000_000));
        long_pause && back
    });
    assert_eq!(minimal.len(), 2, "{minimal:?}");
    assert!(minimal.contains(&TimedFault {
        at: SimTime::ZERO,
        fault: Fault::Pause {
            node: NodeId(2),
            duration: ms(500)
        }
    }));
    assert!(minimal.contains(&TimedFault {
        at: SimTime::ZERO,
        fault: Fault::ClockJump {
            node: NodeId(2),
            by_ns: -100_000_000
        }
    }));
}

#[test]
fn an_empty_space_gives_the_empty_schedule() {
    let mut space = FaultSpace::crashes(
        Vec::new(),
        SimTime(1_000_000_000),
        (SimDuration::from_millis(1), SimDuration::from_millis(2)),
    );
    let mut runner = TestRunner::deterministic();
    let tree = schedule(&space).new_tree(&mut runner).expect("a value");
    assert!(tree.current().is_empty());
    space.nodes = vec![NodeId(0)];
    space.crash = None;
    let tree = schedule(&space).new_tree(&mut runner).expect("a value");
    assert!(tree.current().is_empty());
}
