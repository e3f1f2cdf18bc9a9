//! Property tests of the built-in Raft and lease models: proptest generates
//! fault schedules (crashes, restarts, partitions of every kind, pauses,
//! clock skew and jumps within the model's assumptions) and seeds; every run
//! must keep its safety properties. A failing case prints the faults and the
//! seed, and the scenario to paste them into for a replay.

use faultlab::fault::{Fault, TimedFault};
use faultlab::net::Cut;
use faultlab::node::NodeId;
use faultlab::scenario::{run, RunOptions, Scenario, Verdict};
use faultlab::{SimDuration, SimTime};
use proptest::prelude::*;

const RAFT: &str = r#"
model = "raft"
duration = "8s"
checks = ["election_safety", "log_matching", "linearizability"]
[raft]
election_timeout = ["150ms", "300ms"]
heartbeat_interval = "50ms"
pre_vote = true
check_quorum = true
reads = "read_index"
[workload]
clients = 3
think = ["0ms", "10ms"]
timeout = "200ms"
keys = 3
[nodes]
count = 5
[network]
latency = { dist = "uniform", min = "1ms", max = "10ms" }
loss = 0.01
"#;

/// (milliseconds, fault) pairs as a schedule sorted by time.
fn timed(mut list: Vec<(u64, Fault)>) -> Vec<TimedFault> {
    list.sort_by_key(|(ms, _)| *ms);
    list.into_iter()
        .map(|(ms, fault)| TimedFault {
            at: SimTime(ms * 1_000_000),
            fault,
        })
        .collect()
}

fn node(n: u32) -> impl Strategy<Value = NodeId> {
    (0..n).prop_map(NodeId)
}

fn group_cut(n: u32) -> impl Strategy<Value = Cut> {
    prop::collection::vec(any::<bool>(), n as usize).prop_map(|sides| {
        let (a, b): (Vec<_>, Vec<_>) = (0..sides.len() as u32)
            .map(NodeId)
            .partition(|id| sides[id.index()]);
        Cut::Groups(vec![a, b])
    })
}

/// Faults among `n` servers during the first `until_ms`, that a correct
/// protocol must survive safely. Clock jumps are small: Raft's safety does
/// not depend on clocks at all, only its liveness does.
fn faults(n: u32, until_ms: u64) -> impl Strategy<Value = Vec<TimedFault>> {
    let fault = prop_oneof![
        node(n).prop_map(Fault::Crash),
        node(n).prop_map(Fault::Restart),
        node(n).prop_map(|x| Fault::Partition(Cut::Isolate(x))),
        group_cut(n).prop_map(Fault::Partition),
        (node(n), node(n)).prop_map(|(a, b)| Fault::Partition(Cut::OneWay {
            from: vec![a],
            to: vec![b]
        })),
        (node(n), node(n), node(n)).prop_map(|(a, b, bridge)| {
            let sides: Vec<Vec<NodeId>> = vec![vec![a], vec![b]];
            if a == b || bridge == a || bridge == b {
                Fault::Heal
            } else {
                Fault::Partition(Cut::Groups(sides))
            }
        }),
        Just(Fault::Heal),
        (node(n), 1u64..800).prop_map(|(node, ms)| Fault::Pause {
            node,
            duration: SimDuration::from_millis(ms)
        }),
        (node(n), -300i64..300).prop_map(|(node, ms)| Fault::ClockJump {
            node,
            by_ns: ms * 1_000_000
        }),
    ];
    prop::collection::vec((0..until_ms, fault), 0..16).prop_map(timed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn raft_keeps_election_safety_log_matching_and_linearizability(seed in any::<u64>(), schedule in faults(5, 6_000), drift in -200i64..200) {
        let mut scenario = Scenario::parse(RAFT, "raft-props.toml").expect("valid");
        scenario.faults = schedule.iter().cloned().map(Into::into).collect();
        scenario.clocks[1] = faultlab::clock::Clock::new(20_000_000, drift);
        let report = run(&scenario, seed, RunOptions { narrate: 0, ..RunOptions::default() });
        prop_assert!(
            report.verdict != Verdict::Violation,
            "seed {seed}, drift {drift}ppm on n2, faults {schedule:?}: {:?}",
            report.violations
        );
        prop_assert!(report.history.operation_count() > 0);
    }
}

const LEASE: &str = r#"
model = "lease"
duration = "8s"
checks = ["lease_exclusivity", "no_lost_update"]
[lease]
duration = "1s"
renew_interval = "300ms"
drift_margin = "50ms"
fencing = true
[nodes]
count = 5
[network]
latency = { dist = "uniform", min = "1ms", max = "10ms" }
"#;

/// The lease model's assumptions: crashes, restarts and partitions of every
/// kind, and clocks that drift within the margin (|drift| <= 2%, margin
/// 50ms of a 1s lease). Pauses and clock jumps break the assumption, and the
/// teaching scenarios show what they do.
fn lease_faults() -> impl Strategy<Value = Vec<TimedFault>> {
    let fault = prop_oneof![
        node(5).prop_map(Fault::Crash),
        node(5).prop_map(Fault::Restart),
        node(5).prop_map(|x| Fault::Partition(Cut::Isolate(x))),
        group_cut(5).prop_map(Fault::Partition),
        (node(5), node(5)).prop_map(|(a, b)| Fault::Partition(Cut::OneWay {
            from: vec![a],
            to: vec![b]
        })),
        Just(Fault::Heal),
    ];
    prop::collection::vec((0u64..7_000, fault), 0..14).prop_map(timed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn safe_leases_are_exclusive_and_lose_no_update(
        seed in any::<u64>(),
        schedule in lease_faults(),
        drifts in prop::collection::vec(-20_000i64..=20_000, 5),
    ) {
        let mut scenario = Scenario::parse(LEASE, "lease-props.toml").expect("valid");
        scenario.faults = schedule.iter().cloned().map(Into::into).collect();
        for (i, drift) in drifts.iter().enumerate() {
            scenario.clocks[i] = faultlab::clock::Clock::new(0, *drift);
        }
        let report = run(&scenario, seed, RunOptions { narrate: 0, ..RunOptions::default() });
        prop_assert_eq!(
            report.verdict,
            Verdict::Pass,
            "seed {}, drifts {:?}, faults {:?}: {:?}",
            seed,
            drifts,
            schedule,
            report.violations
        );
        // Not vacuous: with a quiet first second, some candidate holds a
        // lease. (A schedule that crashes or cuts off the lease service at
        // once may rightly see no lease at all.)
        let quiet_start = schedule.iter().all(|f| f.at >= SimTime(1_000_000_000));
        let leases = report.observations.iter().find(|(kind, _)| kind == "lease").map_or(0, |(_, n)| *n);
        prop_assert!(!quiet_start || leases > 0, "no lease was ever held, though the first second was quiet");
    }
}
