//! Proptest strategies for fault schedules (the `proptest` cargo feature):
//! property-test a protocol under random faults, and let proptest shrink a
//! failing schedule to a small one.
//!
//! A schedule is a `Vec<TimedFault>` in time order, built from *episodes*:
//! a crash and the restart of the same node, a partition and its heal, an
//! isolation and its reconnection, a pause, a clock jump, a link change
//! with a duration. [`FaultSpace`] says which nodes may be hit, which
//! kinds are on and how long each may last; every episode starts and ends
//! within its [`FaultSpace::horizon`]. Times and lengths are drawn in whole
//! microseconds.
//!
//! Shrinking: a schedule shrinks by dropping whole episodes (a crash never
//! loses its restart), then each episode towards a shorter one (downtime,
//! partition, pause, link change lengths towards their minimum, a clock
//! jump towards zero, a start towards time zero, a partition towards
//! fewer nodes on one side) and towards the earlier kinds of the list.
//!
//! Run a scenario with a schedule through [`with_schedule`] (chaos off,
//! the schedule as its `[[faults]]`, then a heal of everything).
//!
//! ```ignore
//! use faultlab::strategies::{schedule, with_schedule, FaultSpace};
//! proptest! {
//!     #[test]
//!     fn never_breaks(seed in any::<u64>(), faults in schedule(&FaultSpace::for_scenario(&world()))) {
//!         let report = run(&with_schedule(&world(), &faults), seed, RunOptions::default());
//!         prop_assert_eq!(report.verdict, Verdict::Pass);
//!     }
//! }
//! ```
//!
//! What it does not generate: loss bursts, `set` (knob) faults, one-way
//! cuts, `@role` targets and triggers (a schedule is explicit: concrete
//! nodes at concrete times, as a shrunk failure should be).

use crate::fault::{Fault, PlannedFault, TimedFault};
use crate::net::{Cut, Latency, LinkChange};
use crate::node::NodeId;
use crate::rng::Probability;
use crate::scenario::Scenario;
use crate::time::{SimDuration, SimTime};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};

/// A range of lengths, `min..=max` (both at least a microsecond).
pub type Lengths = (SimDuration, SimDuration);

/// What a generated schedule may do: the nodes it hits, the kinds of
/// episode it draws (a `None` kind is off) and their lengths.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpace {
    /// The nodes faults may hit (at least one; a partition needs two).
    pub nodes: Vec<NodeId>,
    /// Every episode starts and ends by this true time.
    pub horizon: SimTime,
    /// The most episodes in one schedule.
    pub max_episodes: usize,
    /// Crash a node, restart it after a downtime in this range.
    pub crash: Option<Lengths>,
    /// Split the nodes in two groups (nodes outside the space bridge
    /// them), heal the whole network after this long.
    pub partition: Option<Lengths>,
    /// Cut every link of one node, reconnect it after this long.
    pub isolate: Option<Lengths>,
    /// Pause (freeze) a node for this long.
    pub pause: Option<Lengths>,
    /// Step a node's clock by up to this much, either way.
    pub clock_jump: Option<SimDuration>,
    /// Change the links between one node and the others of the space.
    pub link: Option<LinkFaults>,
}

/// The link changes a schedule may draw: each sets a constant latency of
/// up to `latency_max` or a loss of up to `loss_percent_max` percent on the
/// links between one node and the others (both ways), for a length in
/// `lengths`; then the links return to their settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkFaults {
    /// The longest latency drawn.
    pub latency_max: SimDuration,
    /// The highest loss drawn, in percent (1 to 100).
    pub loss_percent_max: u32,
    /// How long a change lasts.
    pub lengths: Lengths,
}

impl FaultSpace {
    /// Every kind on, over the scenario's servers (or its chaos victims),
    /// within its chaos phase (or, without chaos, the first half of the
    /// run, or up to its liveness phase if that starts later), with the
    /// chaos's ranges where it has them. Lengths otherwise: downtime 1ms to
    /// 1s, partitions and isolations 10ms to 2s, pauses 1ms to 1s, clock
    /// jumps up to 1s, link changes up to 100ms of latency or 50% loss for
    /// 100ms to 2s; at most 8 episodes.
    pub fn for_scenario(scenario: &Scenario) -> FaultSpace {
        let ms = SimDuration::from_millis;
        let chaos = scenario.chaos.as_ref();
        let nodes = chaos
            .and_then(|c| c.victims.clone())
            .unwrap_or_else(|| (0..scenario.servers.max(1) as u32).map(NodeId).collect());
        let half = SimTime(scenario.duration.as_nanos() / 2);
        let horizon = chaos.map_or(half.max(scenario.liveness.after), |c| c.until);
        let two_sides = nodes.len() >= 2;
        FaultSpace {
            horizon,
            max_episodes: 8,
            crash: Some(chaos.map_or((ms(1), ms(1000)), |c| c.downtime)),
            partition: two_sides
                .then(|| chaos.map_or((ms(10), ms(2000)), |c| c.partition_duration)),
            isolate: Some((ms(10), ms(2000))),
            pause: Some(chaos.map_or((ms(1), ms(1000)), |c| c.pause_duration)),
            clock_jump: Some(chaos.map_or(ms(1000), |c| c.clock_jump_max)),
            link: two_sides.then(|| LinkFaults {
                latency_max: ms(100),
                loss_percent_max: 50,
                lengths: (ms(100), ms(2000)),
            }),
            nodes,
        }
    }

    /// Only crashes (with restarts) of these nodes, within `horizon`:
    /// the smallest space, to start from and turn kinds on.
    pub fn crashes(nodes: Vec<NodeId>, horizon: SimTime, downtime: Lengths) -> FaultSpace {
        FaultSpace {
            nodes,
            horizon,
            max_episodes: 8,
            crash: Some(downtime),
            partition: None,
            isolate: None,
            pause: None,
            clock_jump: None,
            link: None,
        }
    }
}

/// A schedule over `space`: up to `space.max_episodes` episodes of the
/// kinds it turns on, in time order (see the module's documentation for
/// how it shrinks). An empty space (no node or no kind) gives only the
/// empty schedule.
pub fn schedule(space: &FaultSpace) -> BoxedStrategy<Vec<TimedFault>> {
    let kinds: Vec<BoxedStrategy<Vec<TimedFault>>> = [
        crash_restart(space),
        partition(space),
        isolate(space),
        pause(space),
        clock_jump(space),
        link_change(space),
    ]
    .into_iter()
    .flatten()
    .collect();
    if kinds.is_empty() || space.nodes.is_empty() {
        return Just(Vec::new()).boxed();
    }
    prop::collection::vec(Union::new(kinds), 0..=space.max_episodes)
        .prop_map(|episodes| {
            let mut faults: Vec<TimedFault> = episodes.into_iter().flatten().collect();
            faults.sort_by_key(|f| f.at);
            faults
        })
        .boxed()
}

/// A crash of one node and its restart after a downtime (two faults);
/// `None` if the space has crashes off.
pub fn crash_restart(space: &FaultSpace) -> Option<BoxedStrategy<Vec<TimedFault>>> {
    let lengths = space.crash?;
    Some(
        (node(space)?, timed(space, lengths))
            .prop_map(|(node, (at, down))| {
                vec![
                    TimedFault {
                        at,
                        fault: Fault::Crash(node),
                    },
                    TimedFault {
                        at: at + down,
                        fault: Fault::Restart(node),
                    },
                ]
            })
            .boxed(),
    )
}

/// The space's nodes split in two non-empty groups, then the network
/// healed (two faults); `None` if partitions are off or there are fewer
/// than two nodes.
pub fn partition(space: &FaultSpace) -> Option<BoxedStrategy<Vec<TimedFault>>> {
    let lengths = space.partition?;
    let nodes = space.nodes.clone();
    if nodes.len() < 2 {
        return None;
    }
    let side = prop::sample::subsequence(nodes.clone(), 1..nodes.len());
    Some(
        (side, timed(space, lengths))
            .prop_map(move |(side, (at, length))| {
                let rest = nodes
                    .iter()
                    .copied()
                    .filter(|n| !side.contains(n))
                    .collect();
                debug_assert!(!side.is_empty(), "a partition has two sides");
                vec![
                    TimedFault {
                        at,
                        fault: Fault::Partition(Cut::Groups(vec![side, rest])),
                    },
                    TimedFault {
                        at: at + length,
                        fault: Fault::Heal,
                    },
                ]
            })
            .boxed(),
    )
}

/// One node cut off, then reconnected (two faults); `None` if off.
pub fn isolate(space: &FaultSpace) -> Option<BoxedStrategy<Vec<TimedFault>>> {
    let lengths = space.isolate?;
    Some(
        (node(space)?, timed(space, lengths))
            .prop_map(|(node, (at, length))| {
                vec![
                    TimedFault {
                        at,
                        fault: Fault::Partition(Cut::Isolate(node)),
                    },
                    TimedFault {
                        at: at + length,
                        fault: Fault::Reconnect(node),
                    },
                ]
            })
            .boxed(),
    )
}

/// One node paused (one fault); `None` if off.
pub fn pause(space: &FaultSpace) -> Option<BoxedStrategy<Vec<TimedFault>>> {
    let lengths = space.pause?;
    Some(
        (node(space)?, timed(space, lengths))
            .prop_map(|(node, (at, duration))| {
                vec![TimedFault {
                    at,
                    fault: Fault::Pause { node, duration },
                }]
            })
            .boxed(),
    )
}

/// One node's clock stepped forwards or backwards (one fault); `None` if off.
pub fn clock_jump(space: &FaultSpace) -> Option<BoxedStrategy<Vec<TimedFault>>> {
    let max = micros(space.clock_jump?).max(1) as i64;
    let start = micros_of(space.horizon);
    Some(
        (node(space)?, 0..=start, -max..=max)
            .prop_map(|(node, at, by)| {
                vec![TimedFault {
                    at: SimTime(at * 1_000),
                    fault: Fault::ClockJump {
                        node,
                        by_ns: by * 1_000,
                    },
                }]
            })
            .boxed(),
    )
}

/// The links between one node and the space's others, both ways, slowed
/// to a constant latency or made lossy for a while (one fault with a
/// duration); `None` if off or there are fewer than two nodes.
pub fn link_change(space: &FaultSpace) -> Option<BoxedStrategy<Vec<TimedFault>>> {
    let link = space.link.clone()?;
    if space.nodes.len() < 2 {
        return None;
    }
    let nodes = space.nodes.clone();
    let change = prop_oneof![
        (1..=micros(link.latency_max).max(1)).prop_map(|us| LinkChange {
            latency: Some(Latency::Constant(SimDuration::from_micros(us))),
            loss: None,
            duplicate: None,
        }),
        (1..=link.loss_percent_max.clamp(1, 100)).prop_map(|percent| LinkChange {
            latency: None,
            loss: Some(Probability::ratio(u64::from(percent), 100)),
            duplicate: None,
        }),
    ];
    Some(
        (node(space)?, change, timed(space, link.lengths))
            .prop_map(move |(node, change, (at, length))| {
                vec![TimedFault {
                    at,
                    fault: Fault::SetLink {
                        from: vec![node],
                        to: nodes.iter().copied().filter(|n| *n != node).collect(),
                        change,
                        symmetric: true,
                        duration: Some(length),
                    },
                }]
            })
            .boxed(),
    )
}

/// `scenario` with chaos off and `faults` (any order) as its explicit
/// faults, followed by a heal of everything (network, links, crashed and
/// paused nodes) when the last of them has ended; the liveness phase
/// begins then at the earliest.
pub fn with_schedule(scenario: &Scenario, faults: &[TimedFault]) -> Scenario {
    let mut scenario = scenario.clone();
    let mut faults = faults.to_vec();
    faults.sort_by_key(|f| f.at);
    let ended = faults
        .iter()
        .map(|f| f.at.saturating_add(f.fault.length()))
        .max();
    if let Some(ended) = ended {
        faults.push(TimedFault {
            at: ended,
            fault: Fault::HealAll,
        });
        scenario.liveness.after = scenario.liveness.after.max(ended);
    }
    scenario.chaos = None;
    scenario.faults = faults.into_iter().map(PlannedFault::from).collect();
    scenario
}

/// A node of the space; `None` if it has none.
fn node(space: &FaultSpace) -> Option<BoxedStrategy<NodeId>> {
    if space.nodes.is_empty() {
        return None;
    }
    Some(prop::sample::select(space.nodes.clone()).boxed())
}

/// A start and a length in `lengths` such that the episode ends by the
/// horizon (a length longer than the horizon is cut to it): both shrink
/// towards zero and the shortest length.
fn timed(space: &FaultSpace, lengths: Lengths) -> impl Strategy<Value = (SimTime, SimDuration)> {
    let horizon = micros_of(space.horizon);
    let low = micros(lengths.0).clamp(1, horizon.max(1));
    let high = micros(lengths.1).clamp(low, horizon.max(low));
    (0..=horizon - low.min(horizon), low..=high).prop_map(move |(at, length)| {
        let length = length.min(horizon.saturating_sub(at)).max(1);
        (SimTime(at * 1_000), SimDuration::from_micros(length))
    })
}

fn micros(d: SimDuration) -> u64 {
    d.as_nanos() / 1_000
}

fn micros_of(t: SimTime) -> u64 {
    t.0 / 1_000
}
