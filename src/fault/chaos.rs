//! Seeded chaos: a random fault schedule drawn from the run's `"faults"`
//! stream.
//!
//! Each fault kind arrives as a Poisson process with its own mean interval
//! (`crash_every = "4s"` means one crash every 4 s on average). Each fault
//! draws what it needs: a victim, how long it lasts (crashes are followed by
//! a restart, partitions by a heal, pauses and loss bursts end on their own),
//! a jump size. The whole schedule is drawn before the run starts, so it is a
//! plain list of [`TimedFault`]s a reader can print, and the draws of the
//! fault stream never mix with the network's or the nodes'.
//!
//! Chaos stops at `until`; a `HealAll` is then scheduled so that the
//! system gets a chance to recover (the "liveness phase").

use super::{Fault, TimedFault};
use crate::net::Cut;
use crate::node::NodeId;
use crate::rng::{Probability, SimRng};
use crate::time::{SimDuration, SimTime};

/// The knobs of seeded chaos. A `None` interval turns that kind off.
#[derive(Clone, Debug, PartialEq)]
pub struct ChaosConfig {
    /// Chaos runs from time zero until here, then everything heals.
    pub until: SimTime,
    /// Mean time between crashes.
    pub crash_every: Option<SimDuration>,
    /// A crashed node restarts after a uniform downtime in this range.
    pub downtime: (SimDuration, SimDuration),
    /// Mean time between partitions.
    pub partition_every: Option<SimDuration>,
    /// A partition lasts a uniform time in this range.
    pub partition_duration: (SimDuration, SimDuration),
    /// Mean time between pauses.
    pub pause_every: Option<SimDuration>,
    /// A pause lasts a uniform time in this range.
    pub pause_duration: (SimDuration, SimDuration),
    /// Mean time between clock jumps.
    pub clock_jump_every: Option<SimDuration>,
    /// A jump is uniform in `[-max, +max]`.
    pub clock_jump_max: SimDuration,
    /// Mean time between loss bursts.
    pub loss_burst_every: Option<SimDuration>,
    /// Loss probability during a burst.
    pub loss_burst_probability: Probability,
    /// A burst lasts a uniform time in this range.
    pub loss_burst_duration: (SimDuration, SimDuration),
    /// The nodes chaos crashes, pauses, jumps and cuts, in id order; `None`
    /// for every node. Others are never a victim, and a partition leaves
    /// them connected to both sides.
    pub victims: Option<Vec<NodeId>>,
}

impl ChaosConfig {
    /// Chaos with every kind off, ending at `until`.
    pub fn quiet(until: SimTime) -> ChaosConfig {
        let second = SimDuration::from_secs(1);
        ChaosConfig {
            until,
            crash_every: None,
            downtime: (second, second),
            partition_every: None,
            partition_duration: (second, second),
            pause_every: None,
            pause_duration: (second, second),
            clock_jump_every: None,
            clock_jump_max: second,
            loss_burst_every: None,
            loss_burst_probability: Probability::ZERO,
            loss_burst_duration: (second, second),
            victims: None,
        }
    }

    /// Draws the schedule for `n` nodes from `rng`, sorted by time (ties in
    /// draw order), ending with a `HealAll` at `until`.
    pub fn schedule(&self, n: u32, rng: &mut SimRng) -> Vec<TimedFault> {
        let mut faults = Vec::new();
        let until = self.until;
        let pool: Vec<NodeId> = match &self.victims {
            Some(victims) => victims.clone(),
            None => (0..n).map(NodeId).collect(),
        };
        debug_assert!(!pool.is_empty(), "chaos with no victims");
        let victim = |rng: &mut SimRng| pool[rng.below(pool.len() as u64) as usize];
        for at in arrivals(self.crash_every, until, rng) {
            let node = victim(rng);
            faults.push(TimedFault {
                at,
                fault: Fault::Crash(node),
            });
            let back = at + draw(self.downtime, rng);
            if back < until {
                faults.push(TimedFault {
                    at: back,
                    fault: Fault::Restart(node),
                });
            }
        }
        for at in arrivals(self.partition_every, until, rng) {
            let cut = draw_cut(&pool, rng);
            faults.push(TimedFault {
                at,
                fault: Fault::Partition(cut),
            });
            let heal = at + draw(self.partition_duration, rng);
            if heal < until {
                faults.push(TimedFault {
                    at: heal,
                    fault: Fault::Heal,
                });
            }
        }
        for at in arrivals(self.pause_every, until, rng) {
            let node = victim(rng);
            let duration = draw(self.pause_duration, rng);
            faults.push(TimedFault {
                at,
                fault: Fault::Pause { node, duration },
            });
        }
        for at in arrivals(self.clock_jump_every, until, rng) {
            let node = victim(rng);
            let max = self.clock_jump_max.0.min(i64::MAX as u64 / 2) as i64;
            let by_ns = rng.between(0, 2 * max as u64) as i64 - max;
            faults.push(TimedFault {
                at,
                fault: Fault::ClockJump { node, by_ns },
            });
        }
        for at in arrivals(self.loss_burst_every, until, rng) {
            let duration = draw(self.loss_burst_duration, rng);
            faults.push(TimedFault {
                at,
                fault: Fault::LossBurst {
                    probability: self.loss_burst_probability,
                    duration,
                },
            });
        }
        faults.sort_by_key(|f| f.at); // stable: ties keep draw order
        faults.push(TimedFault {
            at: until,
            fault: Fault::HealAll,
        });
        faults
    }
}

/// Arrival times of a Poisson process with the given mean interval, before `until`.
fn arrivals(mean: Option<SimDuration>, until: SimTime, rng: &mut SimRng) -> Vec<SimTime> {
    let Some(mean) = mean else { return Vec::new() };
    let mut times = Vec::new();
    let mut t = SimTime::ZERO;
    loop {
        let gap = (mean.0 as f64 * rng.standard_exponential()) as u64;
        t = t.saturating_add(SimDuration(gap.max(1)));
        if t >= until {
            return times;
        }
        times.push(t);
    }
}

fn draw((low, high): (SimDuration, SimDuration), rng: &mut SimRng) -> SimDuration {
    SimDuration(rng.between(low.0, high.0.max(low.0)))
}

/// A random cut among `pool`: isolate one node, split it in two groups, or
/// a one-way cut.
fn draw_cut(pool: &[NodeId], rng: &mut SimRng) -> Cut {
    let n = pool.len() as u32;
    let node = pool[rng.below(u64::from(n)) as usize];
    match rng.below(3) {
        0 => Cut::Isolate(node),
        1 => {
            let mut order: Vec<NodeId> = pool.to_vec();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let split = rng.between(1, u64::from(n.max(2) - 1)) as usize;
            let (a, b) = order.split_at(split.min(order.len()));
            let (mut a, mut b) = (a.to_vec(), b.to_vec());
            a.sort();
            b.sort();
            Cut::Groups(vec![a, b])
        }
        _ => {
            let others: Vec<NodeId> = pool.iter().copied().filter(|o| *o != node).collect();
            Cut::OneWay {
                from: vec![node],
                to: others,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_seeded_sorted_and_ends_healed() {
        let mut config = ChaosConfig::quiet(SimTime(20_000_000_000));
        config.crash_every = Some(SimDuration::from_secs(2));
        config.partition_every = Some(SimDuration::from_secs(3));
        config.pause_every = Some(SimDuration::from_secs(3));
        let a = config.schedule(5, &mut SimRng::stream(1, "faults"));
        let b = config.schedule(5, &mut SimRng::stream(1, "faults"));
        let c = config.schedule(5, &mut SimRng::stream(2, "faults"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(a.last().unwrap().fault, Fault::HealAll);
        assert!(a.len() > 10, "expected a busy schedule, got {}", a.len());
    }

    #[test]
    fn victims_limit_who_is_hit_and_none_means_everyone() {
        let mut config = ChaosConfig::quiet(SimTime(60_000_000_000));
        config.crash_every = Some(SimDuration::from_secs(1));
        config.partition_every = Some(SimDuration::from_secs(1));
        config.pause_every = Some(SimDuration::from_secs(1));
        config.clock_jump_every = Some(SimDuration::from_secs(1));
        let everyone = config.schedule(5, &mut SimRng::stream(3, "faults"));
        // Naming every node draws exactly as None does.
        config.victims = Some((0..5).map(NodeId).collect());
        assert_eq!(
            config.schedule(5, &mut SimRng::stream(3, "faults")),
            everyone
        );
        let servers: Vec<NodeId> = (0..3).map(NodeId).collect();
        config.victims = Some(servers.clone());
        let schedule = config.schedule(5, &mut SimRng::stream(3, "faults"));
        let mut hit = Vec::new();
        for f in &schedule {
            match &f.fault {
                Fault::Crash(n) | Fault::Restart(n) => hit.push(*n),
                Fault::Pause { node, .. } | Fault::ClockJump { node, .. } => hit.push(*node),
                Fault::Partition(Cut::Isolate(n)) => hit.push(*n),
                Fault::Partition(Cut::Groups(groups)) => hit.extend(groups.iter().flatten()),
                Fault::Partition(Cut::OneWay { from, to }) => hit.extend(from.iter().chain(to)),
                _ => {}
            }
        }
        assert!(hit.len() > 50, "too few faults to tell: {}", hit.len());
        assert!(hit.iter().all(|n| servers.contains(n)), "a client was hit");
        assert!(
            servers.iter().all(|s| hit.contains(s)),
            "a server was never hit"
        );
    }
}
