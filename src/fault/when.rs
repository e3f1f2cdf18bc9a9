//! When a scenario's own faults fire: at a fixed time, at a time drawn per
//! seed from a range, or a delay after the first observation of a kind.
//!
//! A scenario keeps each fault's [`FaultTime`] as written; the schedule of
//! one seed ([`FaultTime::draw`], called by `Scenario::fault_schedule`) draws
//! the times and delays from the seed's `"fault_times"` stream, in file
//! order, one draw per range (a fixed time draws nothing). That stream is
//! its own, so adding a range never shifts chaos, the network or the nodes.
//!
//! A drawn trigger is a [`TriggeredFault`]: the engine watches from its
//! `from` time for the first observation (a node's record of a kind, or any
//! server reporting a role), then schedules the fault `delay` later. If
//! nothing is observed by `until` (the end of the run), or the delay would
//! take the fault past it, the engine traces the fault as skipped at
//! `until`, with the reason.

use super::{Fault, TimedFault};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// What a trigger waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A record of this kind, by any node (e.g. Raft's `"leader"`).
    Record(String),
    /// Any of the first `servers` nodes reporting this role
    /// ([`crate::Node::role`], or `"crashed"` for a crashed one).
    Role { role: String, servers: u32 },
}

impl Observation {
    /// As written after `after =`: `leader`, `role:leader`.
    pub fn text(&self) -> String {
        match self {
            Observation::Record(kind) => kind.clone(),
            Observation::Role { role, .. } => format!("role:{role}"),
        }
    }
}

/// When a fault of the scenario fires, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultTime {
    /// A uniform time in `[earliest, latest]` (fixed when they are equal).
    At { earliest: SimTime, latest: SimTime },
    /// A delay, uniform in `[delay_min, delay_max]`, after the first
    /// `observation` at or after `from`.
    After {
        observation: Observation,
        from: SimTime,
        delay_min: SimDuration,
        delay_max: SimDuration,
    },
}

impl FaultTime {
    /// A fixed time.
    pub fn fixed(at: SimTime) -> FaultTime {
        FaultTime::At {
            earliest: at,
            latest: at,
        }
    }

    /// The earliest the fault can fire.
    pub fn earliest(&self) -> SimTime {
        match self {
            FaultTime::At { earliest, .. } => *earliest,
            FaultTime::After {
                from, delay_min, ..
            } => *from + *delay_min,
        }
    }

    /// The latest a timed fault fires; for a trigger, its watch start plus
    /// its longest delay (it may fire later: nothing bounds an observation).
    pub fn latest_known(&self) -> SimTime {
        match self {
            FaultTime::At { latest, .. } => *latest,
            FaultTime::After {
                from, delay_max, ..
            } => from.saturating_add(*delay_max),
        }
    }
}

/// A fault of the scenario and when it fires.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedFault {
    /// When.
    pub time: FaultTime,
    /// What.
    pub fault: Fault,
}

impl From<TimedFault> for PlannedFault {
    fn from(timed: TimedFault) -> PlannedFault {
        PlannedFault {
            time: FaultTime::fixed(timed.at),
            fault: timed.fault,
        }
    }
}

/// A fault that fires `delay` after the first `observation` at or after
/// `from`, if that is no later than `until`.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggeredFault {
    /// What to wait for.
    pub observation: Observation,
    /// Observations before this time do not count.
    pub from: SimTime,
    /// From the observation to the fault.
    pub delay: SimDuration,
    /// The end of the watch (the run's end): a fault not applied by then
    /// is traced as skipped then (`SimTime::MAX`: never).
    pub until: SimTime,
    /// The fault.
    pub fault: Fault,
}

/// One seed's faults: at known times, and triggered.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultSchedule {
    /// Faults at drawn or fixed times, in time order (ties: as listed).
    pub timed: Vec<TimedFault>,
    /// Faults after observations, as listed.
    pub triggered: Vec<TriggeredFault>,
}

impl FaultSchedule {
    /// The faults of a scenario for one run: each time drawn from `rng`
    /// (the seed's `"fault_times"` stream) in order; `until` ends the
    /// triggers' watch.
    pub fn draw(planned: &[PlannedFault], until: SimTime, rng: &mut SimRng) -> FaultSchedule {
        let mut schedule = FaultSchedule::default();
        for p in planned {
            match &p.time {
                FaultTime::At { earliest, latest } => schedule.timed.push(TimedFault {
                    at: SimTime(draw(earliest.0, latest.0, rng)),
                    fault: p.fault.clone(),
                }),
                FaultTime::After {
                    observation,
                    from,
                    delay_min,
                    delay_max,
                } => schedule.triggered.push(TriggeredFault {
                    observation: observation.clone(),
                    from: *from,
                    delay: SimDuration(draw(delay_min.0, delay_max.0, rng)),
                    until,
                    fault: p.fault.clone(),
                }),
            }
        }
        schedule.timed.sort_by_key(|f| f.at);
        schedule
    }
}

/// Uniform in `[low, high]`; no draw when they are equal.
fn draw(low: u64, high: u64, rng: &mut SimRng) -> u64 {
    debug_assert!(low <= high, "range {low}..={high}");
    if low == high {
        low
    } else {
        rng.between(low, high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::NodeId;

    fn crash_at(time: FaultTime) -> PlannedFault {
        PlannedFault {
            time,
            fault: Fault::Crash(NodeId(0)),
        }
    }

    #[test]
    fn ranges_draw_within_bounds_fixed_times_draw_nothing() {
        let range = FaultTime::At {
            earliest: SimTime(2_000),
            latest: SimTime(2_075),
        };
        let planned = vec![
            crash_at(FaultTime::fixed(SimTime(5))),
            crash_at(range),
            crash_at(FaultTime::After {
                observation: Observation::Record("leader".into()),
                from: SimTime(0),
                delay_min: SimDuration(10),
                delay_max: SimDuration(20),
            }),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let mut rng = SimRng::stream(seed, "fault_times");
            let s = FaultSchedule::draw(&planned, SimTime(9_999), &mut rng);
            assert_eq!(s.timed[0].at, SimTime(5));
            assert!((2_000..=2_075).contains(&s.timed[1].at.0));
            assert!((10..=20).contains(&s.triggered[0].delay.0));
            assert_eq!(s.triggered[0].until, SimTime(9_999));
            seen.insert(s.timed[1].at);
            let mut again = SimRng::stream(seed, "fault_times");
            assert_eq!(FaultSchedule::draw(&planned, SimTime(9_999), &mut again), s);
        }
        assert!(seen.len() > 10, "{seen:?}");
    }
}
