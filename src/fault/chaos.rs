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
//!
//! Swarm testing (`swarm = true`, after Groce et al., "Swarm Testing", and
//! FoundationDB's and TigerBeetle's simulators): each seed first draws, from
//! its own `"swarm"` stream, which of the configured kinds are on (each with
//! probability 1/2, at least one) and scales each one's mean interval by a
//! factor drawn log-uniformly in [1/4, 4] ([`ChaosConfig::for_seed`]). Some
//! seeds then run only crashes, some only partitions, some many pauses: a
//! narrow window one kind opens is not drowned by the others. The fault
//! points ([`super::points`]) count as one more kind. Without swarm nothing
//! is drawn from that stream, so the schedule is as before.
//!
//! Aimed chaos (`aim = "@leader"`, `aim_share = 0.5`): bugs live where the
//! interesting node is, and a uniform victim is the leader only one time in
//! N. With an aim, each crash, partition, pause and clock jump first tosses
//! a coin with probability `aim_share`; heads, it hits whoever the target
//! names when the fault fires (a [`Fault::Aimed`], resolved by the engine
//! like a file's `@leader`): a crash with its downtime (the same node
//! restarts, [`Action::CrashFor`]), an isolation of the target, a split of
//! the target and the server after it (`@leader+1`) from the others (a
//! leader left with one follower, a stale leader's minority), a one-way
//! cut from the target to the others, a pause, a clock jump. Without an
//! aim no coin is tossed, so the schedule is as before.

use super::points::FaultPointsConfig;
use super::{Action, Fault, Pick, Target, TimedFault};
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
    /// Swarm testing: each seed turns kinds on or off and scales their
    /// rates (see [`ChaosConfig::for_seed`]).
    pub swarm: bool,
    /// Crashes placed at fault points (see [`super::points`]); `None`: off.
    pub fault_points: Option<FaultPointsConfig>,
    /// A share of the faults aimed at a role (see the module doc); `None`:
    /// every victim uniform.
    pub aim: Option<ChaosAim>,
}

/// Chaos aimed at whoever a target names when each fault fires.
#[derive(Clone, Debug, PartialEq)]
pub struct ChaosAim {
    /// Who: e.g. `@leader` (its `servers` are the scenario's servers).
    pub target: Target,
    /// The probability each crash, partition, pause and clock jump is aimed.
    pub share: Probability,
}

/// Swarm scales a kind's mean interval by a factor in
/// [1/`SWARM_SCALE`, `SWARM_SCALE`], log-uniformly.
pub const SWARM_SCALE: f64 = 4.0;

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
            swarm: false,
            fault_points: None,
            aim: None,
        }
    }

    /// The chaos of one seed: itself without swarm; with swarm, each kind
    /// that is configured (an interval, or fault points) is kept with
    /// probability 1/2 (if none is kept, one drawn uniformly is) and each
    /// kept interval is multiplied by `4^u`, `u` uniform in [-1, 1]. Draws
    /// only from the seed's `"swarm"` stream.
    pub fn for_seed(&self, seed: u64) -> ChaosConfig {
        let mut chaos = self.clone();
        if !self.swarm {
            return chaos;
        }
        let mut rng = SimRng::stream(seed, "swarm");
        let has_points = chaos.fault_points.is_some();
        let mut kinds: Vec<Option<&mut Option<SimDuration>>> = vec![
            Some(&mut chaos.crash_every),
            Some(&mut chaos.partition_every),
            Some(&mut chaos.pause_every),
            Some(&mut chaos.clock_jump_every),
            Some(&mut chaos.loss_burst_every),
        ];
        kinds.retain(|k| k.as_ref().is_some_and(|every| every.is_some()));
        if has_points {
            kinds.push(None);
        }
        if kinds.is_empty() {
            return chaos;
        }
        let mut keep: Vec<bool> = kinds.iter().map(|_| rng.below(2) == 1).collect();
        if !keep.contains(&true) {
            let pick = rng.below(keep.len() as u64) as usize;
            keep[pick] = true;
        }
        let mut points_kept = true;
        for (kind, kept) in kinds.into_iter().zip(keep) {
            match kind {
                None => points_kept = kept,
                Some(every) if !kept => *every = None,
                Some(every) => {
                    let factor = libm::pow(SWARM_SCALE, 2.0 * rng.unit_open() - 1.0);
                    let mean = every.expect("kept kinds are configured");
                    *every = Some(SimDuration(((mean.0 as f64 * factor) as u64).max(1)));
                }
            }
        }
        if !points_kept {
            chaos.fault_points = None;
        }
        chaos
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
        // The aim's coin: tossed only when there is an aim.
        let aimed = |rng: &mut SimRng| match &self.aim {
            Some(aim) => rng.chance(aim.share).then_some(&aim.target),
            None => None,
        };
        let at_target = |target: &Target, action: Action| Fault::Aimed {
            action,
            picks: vec![vec![Pick::Target(target.clone())]],
        };
        for at in arrivals(self.crash_every, until, rng) {
            if let Some(target) = aimed(rng) {
                let downtime = draw(self.downtime, rng);
                faults.push(TimedFault {
                    at,
                    fault: at_target(target, Action::CrashFor(downtime)),
                });
                continue;
            }
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
            let fault = match aimed(rng) {
                Some(target) => aimed_cut(target, rng),
                None => Fault::Partition(draw_cut(&pool, rng)),
            };
            faults.push(TimedFault { at, fault });
            let heal = at + draw(self.partition_duration, rng);
            if heal < until {
                faults.push(TimedFault {
                    at: heal,
                    fault: Fault::Heal,
                });
            }
        }
        for at in arrivals(self.pause_every, until, rng) {
            let fault = match aimed(rng) {
                Some(target) => at_target(target, Action::Pause(draw(self.pause_duration, rng))),
                None => {
                    let node = victim(rng);
                    let duration = draw(self.pause_duration, rng);
                    Fault::Pause { node, duration }
                }
            };
            faults.push(TimedFault { at, fault });
        }
        let max = self.clock_jump_max.0.min(i64::MAX as u64 / 2) as i64;
        let jump = |rng: &mut SimRng| rng.between(0, 2 * max as u64) as i64 - max;
        for at in arrivals(self.clock_jump_every, until, rng) {
            let fault = match aimed(rng) {
                Some(target) => at_target(target, Action::ClockJump(jump(rng))),
                None => {
                    let node = victim(rng);
                    Fault::ClockJump {
                        node,
                        by_ns: jump(rng),
                    }
                }
            };
            faults.push(TimedFault { at, fault });
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

/// A random cut around `target`: isolate it; split it and the server after
/// it from the others; or a one-way cut from it to the others.
fn aimed_cut(target: &Target, rng: &mut SimRng) -> Fault {
    // The target, or the k-th server after it.
    let one = |k: u32| {
        Pick::Target(Target {
            offset: target.offset + k,
            ..target.clone()
        })
    };
    let others = || vec![Pick::Others(std::sync::Arc::clone(&target.servers))];
    let (action, picks) = match rng.below(3) {
        0 => (Action::Isolate, vec![vec![one(0)]]),
        1 => (Action::Partition, vec![vec![one(0), one(1)], others()]),
        _ => (Action::OneWay, vec![vec![one(0)], others()]),
    };
    Fault::Aimed { action, picks }
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
    fn swarm_turns_kinds_on_and_off_and_scales_their_rates_per_seed() {
        let mut config = ChaosConfig::quiet(SimTime(20_000_000_000));
        config.crash_every = Some(SimDuration::from_secs(2));
        config.pause_every = Some(SimDuration::from_secs(4));
        config.loss_burst_every = Some(SimDuration::from_secs(8));
        // Without swarm, every seed's chaos is the configured one.
        assert_eq!(config.for_seed(5), config);
        config.swarm = true;
        let mut on = [0; 3];
        for seed in 0..400 {
            let c = config.for_seed(seed);
            assert_eq!(
                c,
                config.for_seed(seed),
                "seed {seed} drew twice differently"
            );
            let kinds = [
                (c.crash_every, 2),
                (c.pause_every, 4),
                (c.loss_burst_every, 8),
            ];
            assert!(
                kinds.iter().any(|(k, _)| k.is_some()),
                "seed {seed}: all off"
            );
            for (i, (every, mean_s)) in kinds.into_iter().enumerate() {
                let Some(every) = every else { continue };
                on[i] += 1;
                let mean = SimDuration::from_secs(mean_s).0;
                assert!(
                    every.0 >= mean / 4 && every.0 <= mean * 4,
                    "{every} for {mean_s}s"
                );
            }
            assert_eq!(c.partition_every, None, "an unconfigured kind stays off");
        }
        // Each kind on in about half the seeds (a bit more: never all off).
        assert!(on.iter().all(|n| (170..=270).contains(n)), "{on:?}");
        // The schedules differ from the plain chaos's but use the same stream.
        let plain = ChaosConfig {
            swarm: false,
            ..config.clone()
        };
        let differ = (0..20)
            .filter(|&seed| {
                let mut a = SimRng::stream(seed, "faults");
                let mut b = SimRng::stream(seed, "faults");
                config.for_seed(seed).schedule(3, &mut a) != plain.schedule(3, &mut b)
            })
            .count();
        assert!(differ >= 18, "{differ} of 20 schedules differ");
    }

    #[test]
    fn an_aim_hits_its_target_with_its_share_and_none_draws_as_before() {
        let mut config = ChaosConfig::quiet(SimTime(100_000_000_000));
        config.crash_every = Some(SimDuration::from_secs(1));
        config.partition_every = Some(SimDuration::from_secs(1));
        config.pause_every = Some(SimDuration::from_secs(1));
        config.clock_jump_every = Some(SimDuration::from_secs(1));
        config.loss_burst_every = Some(SimDuration::from_secs(1));
        let plain = config.schedule(5, &mut SimRng::stream(4, "faults"));
        assert!(plain
            .iter()
            .all(|f| !matches!(f.fault, Fault::Aimed { .. })));
        let servers: std::sync::Arc<[NodeId]> = (0..5).map(NodeId).collect();
        let target = Target::parse("@leader", &["leader"], servers)
            .expect("a target")
            .expect("valid");
        config.aim = Some(ChaosAim {
            target: target.clone(),
            share: Probability::from_f64(0.5).unwrap(),
        });
        let schedule = config.schedule(5, &mut SimRng::stream(4, "faults"));
        let (mut aimed, mut plain_hits, mut bursts) = (0, 0, 0);
        for f in &schedule {
            match &f.fault {
                Fault::Aimed { action, picks } => {
                    aimed += 1;
                    assert_eq!(picks[0][0], Pick::Target(target.clone()), "{action:?}");
                    if let Action::Partition = action {
                        // The target and the server after it, against the others.
                        let next = Target {
                            offset: 1,
                            ..target.clone()
                        };
                        assert_eq!(picks[0][1], Pick::Target(next));
                        assert!(matches!(picks[1][0], Pick::Others(_)));
                    }
                    assert!(
                        !matches!(action, Action::Crash),
                        "crashes carry their downtime"
                    );
                }
                Fault::LossBurst { .. } => bursts += 1,
                Fault::Crash(_)
                | Fault::Partition(_)
                | Fault::Pause { .. }
                | Fault::ClockJump { .. } => plain_hits += 1,
                _ => {}
            }
        }
        // About half of some 400 crashes, partitions, pauses and jumps.
        assert!((150..250).contains(&aimed), "{aimed} aimed");
        assert!((150..250).contains(&plain_hits), "{plain_hits} plain");
        assert!(bursts > 50, "loss bursts are never aimed: {bursts}");
        assert_ne!(schedule, plain);
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
