//! The minimisation passes: each proposes smaller candidates in a fixed
//! order and keeps the first that still fails the same way.
//!
//! A candidate is rendered to scenario text, loaded (a file that does not
//! load, e.g. a duration too short for the liveness bound, is simply not
//! smaller) and run with the seed. A text already tried (by its digest)
//! is not run again.
//! Searches over a number (a pause's length, the gap from a crash to its
//! restart, how far a fault may move later) try the smallest value first,
//! then bisect with at most [`PROBES`] runs, so a search costs at most
//! `PROBES + 1` runs whatever the range.

use super::file::{Base, Candidate};
use super::toml::{duration_text, time_text};
use super::{Progress, ShrinkError, Shrunk, Target};
use crate::fault::{Action, Fault, TimedFault};
use crate::net::Cut;
use crate::registry::Registry;
use crate::scenario::{run, RunOptions, Scenario, Verdict};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeSet;

/// The most bisection runs of one numeric search.
const PROBES: u32 = 10;

/// The grains times and lengths are rounded to, coarsest first: 1s down
/// to 1us.
const GRAINS: [u64; 7] = [
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
];

/// The most rounds of the passes after the first duration cut.
const ROUNDS: u32 = 3;

/// The shrinker's state: the best candidate so far and the runs spent.
pub(super) struct Shrinker<'a> {
    registry: &'a Registry,
    base: Base,
    seed: u64,
    /// The violation to keep.
    pub(super) target: Target,
    /// The output file's name (the candidates' file name in errors).
    file: String,
    budget: u32,
    /// Minimisation runs taken (at most `budget`).
    spent: u32,
    /// Every run taken.
    runs: u32,
    budget_spent: bool,
    best: Candidate,
    best_time: SimTime,
    /// The digest and length of every text run (not the texts: a long
    /// schedule's candidates would add up).
    tried: BTreeSet<(u64, usize)>,
    /// What the last run that did not fail the same way did instead.
    last: String,
    progress: &'a mut dyn FnMut(&Progress),
}

impl<'a> Shrinker<'a> {
    pub(super) fn new(
        registry: &'a Registry,
        base: Base,
        seed: u64,
        target: Target,
        file: String,
        budget: u32,
        progress: &'a mut dyn FnMut(&Progress),
    ) -> Shrinker<'a> {
        Shrinker {
            registry,
            base,
            seed,
            target,
            file,
            budget,
            spent: 0,
            runs: 0,
            budget_spent: false,
            best: Candidate {
                faults: Vec::new(),
                duration: SimDuration::ZERO,
                clients: None,
                keys: None,
            },
            best_time: SimTime::ZERO,
            tried: BTreeSet::new(),
            last: String::new(),
            progress,
        }
    }

    /// Counts a run taken outside the shrinker (the original seed's).
    pub(super) fn count_run(&mut self, faults: usize) {
        self.runs += 1;
        (self.progress)(&Progress::Run {
            runs: self.runs,
            faults,
        });
    }

    /// What the last run that missed the violation did instead.
    pub(super) fn last_outcome(&self) -> &str {
        &self.last
    }

    /// Runs the scenario `text`: the time of the target violation, if it
    /// happened.
    fn run_text(&mut self, text: &str, faults: usize) -> Option<SimTime> {
        let scenario = match Scenario::parse_with(self.registry, text, &self.file) {
            Ok(s) => s,
            Err(e) => {
                self.last = format!("the scenario does not load: {e}");
                return None;
            }
        };
        let report = run(
            &scenario,
            self.seed,
            RunOptions {
                narrate: 0,
                series: false,
                ..RunOptions::default()
            },
        );
        self.count_run(faults);
        let found = report
            .violations
            .iter()
            .find(|v| v.check == self.target.check && v.name == self.target.name);
        if found.is_none() {
            self.last = match report.violations.first() {
                None if report.verdict == Verdict::Pass => "the run passes".to_string(),
                None => format!("the run ends {}", report.verdict.as_str()),
                Some(v) => format!("the run fails with {} (check {}) instead", v.name, v.check),
            };
        }
        found.map(|v| v.time)
    }

    /// Runs `candidate` outside the budget and makes it the best if it
    /// fails the same way.
    pub(super) fn reproduces_fixed(&mut self, candidate: &Candidate) -> bool {
        let text = self.base.render(candidate, None);
        self.tried.insert(key(&text));
        match self.run_text(&text, candidate.faults.len()) {
            Some(time) => {
                self.best = candidate.clone();
                self.best_time = time;
                true
            }
            None => false,
        }
    }

    /// Runs `candidate` within the budget; if it fails the same way it
    /// becomes the best (`step` says what changed) and this returns true.
    fn test(&mut self, candidate: Candidate, step: &'static str) -> bool {
        if self.spent >= self.budget {
            self.budget_spent = true;
            return false;
        }
        let text = self.base.render(&candidate, None);
        if !self.tried.insert(key(&text)) {
            return false;
        }
        self.spent += 1;
        let Some(time) = self.run_text(&text, self.best.faults.len()) else {
            return false;
        };
        self.best = candidate;
        self.best_time = time;
        (self.progress)(&Progress::Improved {
            runs: self.runs,
            step,
            faults: self.best.faults.len(),
            duration: self.best.duration,
        });
        true
    }

    /// Every pass, in order: the duration cut, then rounds of the others
    /// (at most [`ROUNDS`]) until one changes nothing, then the rounding,
    /// a last try at dropping faults, and the cut again.
    pub(super) fn minimise(&mut self) {
        self.cut_duration(false);
        for _ in 0..ROUNDS {
            let before = self.best.clone();
            self.drop_faults();
            self.reduce_workload();
            self.shorten_lengths();
            self.shorten_gaps();
            self.move_later();
            if self.best == before || self.budget_spent {
                break;
            }
        }
        self.round_values();
        self.drop_faults();
        self.cut_duration(true);
    }

    /// Each fault's time, then each one's size, rounded to the coarsest
    /// of [`GRAINS`] that still fails: `3.3s` reads better than
    /// `3.299989596s`.
    fn round_values(&mut self) {
        for i in 0..self.best.faults.len() {
            let snapshot = self.best.clone();
            let at = snapshot.faults[i].at.as_nanos();
            self.round_one(at, "rounded a time", |v| {
                let mut c = snapshot.clone();
                c.faults[i].at = SimTime(v);
                c.sort();
                c
            });
        }
        for i in 0..self.best.faults.len() {
            let snapshot = self.best.clone();
            let size = size(&snapshot.faults[i].fault);
            self.round_one(size, "rounded a size", |v| {
                let mut c = snapshot.clone();
                c.faults[i].fault = with_size(&c.faults[i].fault, v);
                c
            });
        }
    }

    /// `value` rounded to the nearest multiple of each grain, coarsest
    /// first, until one candidate still fails.
    fn round_one(&mut self, value: u64, step: &'static str, make: impl Fn(u64) -> Candidate) {
        if value == 0 {
            return;
        }
        for grain in GRAINS {
            let rounded = (value + grain / 2) / grain * grain;
            if rounded == value {
                return;
            }
            if rounded > 0 && self.test(make(rounded), step) {
                return;
            }
        }
    }

    /// The duration cut to just after the violation (whole milliseconds,
    /// else whole seconds), dropping the faults after the new end; if the
    /// violation is judged at the end and `bisect`, the shortest duration
    /// that still fails, bisected.
    fn cut_duration(&mut self, bisect: bool) {
        let t = self.best_time.as_nanos();
        let ms = 1_000_000;
        let s = 1_000_000_000;
        for (grain, margin) in [(ms, ms), (s, s)] {
            let end = SimDuration(
                t.div_ceil(grain)
                    .saturating_mul(grain)
                    .saturating_add(margin),
            );
            if end >= self.best.duration {
                continue;
            }
            let mut c = self.best.clone();
            c.duration = end;
            let until = c.end();
            c.faults.retain(|f| f.at <= until);
            if self.test(c, "cut the duration") {
                return;
            }
        }
        if !bisect || self.best_time.as_nanos() + ms < self.best.end().as_nanos() {
            return;
        }
        // Judged at the end (e.g. a history's linearizability): bisect.
        let snapshot = self.best.clone();
        let current = snapshot.duration.as_nanos();
        self.search_down(current, ms, "cut the duration", |d| {
            let mut c = snapshot.clone();
            c.duration = SimDuration(d.div_ceil(ms) * ms);
            let until = c.end();
            c.faults.retain(|f| f.at <= until);
            c
        });
    }

    /// Delta debugging over the fault list: all at once, then chunks of
    /// halving size, each dropped in turn; down to single faults.
    fn drop_faults(&mut self) {
        if self.best.faults.is_empty() {
            return;
        }
        let mut none = self.best.clone();
        none.faults.clear();
        if self.test(none, "dropped every fault") {
            return;
        }
        let mut parts = 2usize;
        while !self.budget_spent && !self.best.faults.is_empty() {
            let len = self.best.faults.len();
            let parts_now = parts.min(len);
            let chunk = len.div_ceil(parts_now);
            let mut dropped = false;
            for start in (0..len).step_by(chunk) {
                let mut c = self.best.clone();
                c.faults.drain(start..(start + chunk).min(len));
                if self.test(c, "dropped faults") {
                    parts = parts_now.saturating_sub(1).max(2);
                    dropped = true;
                    break;
                }
            }
            if !dropped {
                if chunk == 1 {
                    break;
                }
                parts = (parts_now * 2).min(len);
            }
        }
    }

    /// Fewer clients (1, 2, a quarter, half) and a single key.
    fn reduce_workload(&mut self) {
        if let Some(clients) = self.best.clients {
            let mut counts: Vec<u32> = vec![1, 2, clients / 4, clients / 2];
            counts.retain(|&k| k >= 1 && k < clients);
            counts.sort_unstable();
            counts.dedup();
            for k in counts {
                let mut c = self.best.clone();
                c.clients = Some(k);
                if self.test(c, "fewer clients") {
                    break;
                }
            }
        }
        if self.best.keys.is_some_and(|k| k > 1) {
            let mut c = self.best.clone();
            c.keys = Some(1);
            self.test(c, "fewer keys");
        }
    }

    /// Each pause, loss burst, timed link or knob change and clock jump
    /// made as short (as small) as it may be.
    fn shorten_lengths(&mut self) {
        for i in 0..self.best.faults.len() {
            let Some(fault) = self.best.faults.get(i) else {
                break;
            };
            let size = size(&fault.fault);
            if size == 0 {
                continue;
            }
            let snapshot = self.best.clone();
            self.search_down(size, 1, "shorter fault", |v| {
                let mut c = snapshot.clone();
                c.faults[i].fault = with_size(&c.faults[i].fault, v);
                c
            });
        }
    }

    /// Each restart moved closer to its crash, each heal (or reconnect)
    /// closer to its partition.
    fn shorten_gaps(&mut self) {
        let mut i = 0;
        while i < self.best.faults.len() {
            if let Some(j) = end_of(&self.best.faults, i) {
                let (start, end) = (self.best.faults[i].at, self.best.faults[j].at);
                let snapshot = self.best.clone();
                self.search_down(
                    (end - start).as_nanos(),
                    0,
                    "closer restart or heal",
                    |gap| {
                        let mut c = snapshot.clone();
                        c.faults[j].at = start + SimDuration(gap);
                        c.sort();
                        c
                    },
                );
            }
            i += 1;
        }
    }

    /// Each fault, last first, moved as late as it may be: up to the next
    /// fault (the order stays) or, for the last, to the violation.
    fn move_later(&mut self) {
        for i in (0..self.best.faults.len()).rev() {
            let Some(at) = self.best.faults.get(i).map(|f| f.at) else {
                continue;
            };
            let limit = match self.best.faults.get(i + 1) {
                Some(next) => next.at,
                None => self.best_time,
            };
            if limit <= at {
                continue;
            }
            let snapshot = self.best.clone();
            self.search_down((limit - at).as_nanos(), 0, "later fault", |distance| {
                let mut c = snapshot.clone();
                c.faults[i].at = SimTime(limit.as_nanos() - distance);
                c
            });
        }
    }

    /// The least value in `[floor, current]` whose candidate still fails
    /// (`current`'s does): `floor` first, then bisection.
    fn search_down(
        &mut self,
        current: u64,
        floor: u64,
        step: &'static str,
        make: impl Fn(u64) -> Candidate,
    ) {
        if current <= floor || self.test(make(floor), step) {
            return;
        }
        let (mut fails_not, mut fails) = (floor, current);
        for _ in 0..PROBES {
            if fails - fails_not <= 1 || self.budget_spent {
                break;
            }
            let mid = fails_not + (fails - fails_not) / 2;
            if self.test(make(mid), step) {
                fails = mid;
            } else {
                fails_not = mid;
            }
        }
    }

    /// The shrunk file: described, rendered, loaded and run once more.
    pub(super) fn finish(
        mut self,
        path: &str,
        original: &Scenario,
        before: usize,
    ) -> Result<Shrunk, ShrinkError> {
        let names = &original.names;
        let schedule: Vec<String> = self
            .best
            .faults
            .iter()
            .map(|f| format!("{}: {}", time_text(f.at), f.fault.describe(names)))
            .collect();
        let clients = match (self.base.workload().0, self.best.clients) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        let mut shrunk = Shrunk {
            text: String::new(),
            target: self.target.clone(),
            faults: (before, self.best.faults.len()),
            clients,
            duration: (original.duration, self.best.duration),
            runs: self.runs + 1,
            budget_spent: self.budget_spent,
            schedule,
            violation_time: self.best_time,
        };
        let description = describe(
            &shrunk,
            path,
            self.seed,
            self.budget,
            self.base.workload().1,
            self.best.keys,
        );
        let text = self.base.render(&self.best, Some(&description));
        let Some(time) = self.run_text(&text, self.best.faults.len()) else {
            return Err(ShrinkError::NotReproduced(format!(
                "the shrunk scenario does not fail with {} when loaded from its text ({}); this is a bug in faultlab's shrinker",
                self.target.name, self.last
            )));
        };
        debug_assert_eq!(self.runs, shrunk.runs, "one final run");
        debug_assert_eq!(time, self.best_time, "the same run twice");
        shrunk.text = text;
        Ok(shrunk)
    }
}

/// What [`Shrinker::tried`] keeps of a text.
fn key(text: &str) -> (u64, usize) {
    (crate::hash::digest(&text), text.len())
}

/// The index of the fault that ends fault `i`'s effect: a crash's
/// restart, a partition's heal (an isolation's reconnect), if any.
fn end_of(faults: &[TimedFault], i: usize) -> Option<usize> {
    let ends = |f: &Fault| match (&faults[i].fault, f) {
        (Fault::Crash(a), Fault::Restart(b)) => a == b,
        (Fault::Partition(Cut::Isolate(a)), Fault::Reconnect(b)) => a == b,
        (Fault::Partition(_), Fault::Heal) => true,
        _ => false,
    };
    (i + 1..faults.len()).find(|&j| ends(&faults[j].fault))
}

/// How big a fault is, in nanoseconds: its [`Fault::length`] (pauses,
/// bursts, timed link and knob changes), a clock jump's size; else 0.
fn size(fault: &Fault) -> u64 {
    match fault {
        Fault::ClockJump { by_ns, .. }
        | Fault::Aimed {
            action: Action::ClockJump(by_ns),
            ..
        } => by_ns.unsigned_abs(),
        f => f.length().as_nanos(),
    }
}

/// `fault` of [`size`] `v` instead (a clock jump keeps its direction).
fn with_size(fault: &Fault, v: u64) -> Fault {
    let d = SimDuration(v);
    let jump = |by_ns: &mut i64| {
        let v = i64::try_from(v).expect("no larger than the jump was");
        *by_ns = if *by_ns < 0 { -v } else { v };
    };
    let mut f = fault.clone();
    match &mut f {
        Fault::ClockJump { by_ns, .. } => jump(by_ns),
        Fault::Pause { duration, .. } | Fault::LossBurst { duration, .. } => *duration = d,
        Fault::SetLink { duration, .. } | Fault::Set { duration, .. } => *duration = Some(d),
        Fault::Aimed { action, .. } => match action {
            Action::Pause(duration) | Action::CrashFor(duration) => *duration = d,
            Action::ClockJump(by_ns) => jump(by_ns),
            Action::SetLink { duration, .. } | Action::Set { duration, .. } => *duration = Some(d),
            _ => {}
        },
        _ => {}
    }
    f
}

/// The shrunk file's description: where it came from, what shrank, and
/// the schedule, one fault a line.
fn describe(
    s: &Shrunk,
    path: &str,
    seed: u64,
    budget: u32,
    keys_before: Option<u32>,
    keys_after: Option<u32>,
) -> String {
    let mut sizes = vec![format!("faults {} -> {}", s.faults.0, s.faults.1)];
    if let Some((a, b)) = s.clients {
        sizes.push(format!("clients {a} -> {b}"));
    }
    if let (Some(a), Some(b)) = (keys_before, keys_after) {
        sizes.push(format!("keys {a} -> {b}"));
    }
    sizes.push(format!(
        "duration {} -> {}",
        duration_text(s.duration.0),
        duration_text(s.duration.1)
    ));
    let mut text = format!(
        "Shrunk by `faultlab shrink` from {path}, seed {seed}: {} (check {}).\n{}, in {} runs{}.\n",
        s.target.name,
        s.target.check,
        sizes.join(", "),
        s.runs,
        if s.budget_spent {
            format!(" (the budget of {budget} ran out: --budget may shrink it further)")
        } else {
            String::new()
        }
    );
    if s.schedule.is_empty() {
        text.push_str("No faults: the seed fails without any.\n");
    } else {
        text.push_str("The schedule (true time: fault):\n");
        for line in &s.schedule {
            text.push_str(&format!("  {line}\n"));
        }
    }
    text.push_str(&format!(
        "Watch for: {} at {}.\n",
        s.target.name,
        time_text(s.violation_time)
    ));
    text
}
