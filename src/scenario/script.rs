//! `[[steps]]`: a scenario's test script, run in order while the
//! simulation runs, in the shape of a lab test: do A; wait until a leader
//! exists or a deadline passes; do B; check C.
//!
//! A step is a fault (applied when the step begins, targets resolved then),
//! a sleep, or a check of a [`Condition`] on the servers' state: now, within
//! a deadline (it passes the moment the condition holds), or for a while
//! (it must hold after every event until the time is up). The script starts
//! at time zero; each step begins when the one before it ends. A check that
//! fails is a violation named after its condition and the script stops: a
//! missed deadline is a liveness violation (the run goes on, so the other
//! checks still judge it), any other failure a safety violation (the run
//! stops there).
//!
//! Conditions read what the nodes report ([`crate::Node::role`] and
//! [`crate::Node::role_rank`], Raft's role and term) among the *connected*
//! servers: those running that can exchange messages both ways with a
//! majority of the servers, themselves included. A server cut off from the
//! majority may still believe it leads; like the lab tests, the conditions
//! leave it out. `committed` reads the servers' `commit` records (`index`,
//! `digest`), which every server keeps, connected or not.

use crate::check::{Severity, Violation};
use crate::engine::{EventKind, TraceEvent};
use crate::fault::Fault;
use crate::node::NodeId;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// One step of a script.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// What it does.
    pub action: StepAction,
    /// How it reads in narration and violations, e.g. `steps[3] (leader within 2s)`.
    pub label: String,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq)]
pub enum StepAction {
    /// Applies the fault when the step begins; the step ends at once.
    Fault(Fault),
    /// Waits a time drawn uniformly from `[min, max]` when the step begins
    /// (from the run's `steps` stream; exactly `min` when they are equal).
    Sleep {
        /// The shortest wait.
        min: SimDuration,
        /// The longest wait.
        max: SimDuration,
    },
    /// Ends the run here, as if its duration were up: the checks judge it
    /// at this time (the last step of a script).
    Stop,
    /// Checks a condition.
    Check {
        /// What must hold.
        condition: Condition,
        /// When.
        mode: Mode,
    },
}

/// When a check's condition must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// When the step begins.
    Now,
    /// At some moment before the deadline (the step ends then).
    Within(SimDuration),
    /// After every event for this long (the step lasts that long).
    For(SimDuration),
}

/// A property of the servers' state that a step checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Exactly one connected server leads, in the highest term (rank) any
    /// connected server reports: a leader that some connected server has
    /// moved past does not count, a stale one cut off from the majority is
    /// not looked at.
    Leader,
    /// No connected server leads.
    NoLeader,
    /// Every connected server reports the same term (role rank).
    SameTerm,
    /// No server commits a log index above the highest any server had
    /// committed when the step began (with `for`: the cluster makes no progress).
    NoCommit,
    /// Log index `index` is committed, with the same entry, on at least
    /// `servers` servers.
    Committed {
        /// The log index.
        index: LogIndex,
        /// How many servers.
        servers: usize,
    },
}

/// A log index a `committed` check names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogIndex {
    /// This index (`index = 12`).
    At(u64),
    /// So many above the highest index any server had committed when the
    /// step began (`index = "+1"`: the next entry to commit, like the lab's
    /// `one()`).
    Ahead(u64),
}

impl Condition {
    /// The names a scenario writes in `check = "..."`.
    pub const NAMES: &'static [&'static str] =
        &["leader", "no_leader", "same_term", "committed", "no_commit"];

    /// The condition's name.
    pub fn name(&self) -> &'static str {
        match self {
            Condition::Leader => "leader",
            Condition::NoLeader => "no_leader",
            Condition::SameTerm => "same_term",
            Condition::NoCommit => "no_commit",
            Condition::Committed { .. } => "committed",
        }
    }

    /// The violation a failed check of it reports.
    pub fn violation(&self) -> &'static str {
        Condition::violation_of(self.name())
    }

    /// The violation of the condition named `name` (one of [`Condition::NAMES`]).
    pub fn violation_of(name: &str) -> &'static str {
        match name {
            "leader" => "leader_missing",
            "no_leader" => "unexpected_leader",
            "same_term" => "term_disagreement",
            "no_commit" => "unexpected_commit",
            _ => "not_committed",
        }
    }
}

impl Step {
    /// The longest the step can take.
    pub fn max_length(&self) -> SimDuration {
        match self.action {
            StepAction::Fault(_) | StepAction::Stop => SimDuration::ZERO,
            StepAction::Sleep { max, .. } => max,
            StepAction::Check { mode, .. } => match mode {
                Mode::Now => SimDuration::ZERO,
                Mode::Within(d) | Mode::For(d) => d,
            },
        }
    }
}

/// The longest a whole script can take.
pub fn max_length(steps: &[Step]) -> SimDuration {
    steps.iter().fold(SimDuration::ZERO, |sum, s| {
        SimDuration(sum.as_nanos().saturating_add(s.max_length().as_nanos()))
    })
}

/// What the script needs to see of the simulation.
pub trait View {
    /// How many servers (node ids `0..servers`).
    fn servers(&self) -> usize;
    /// True if the node is running (paused counts).
    fn is_up(&self, node: NodeId) -> bool;
    /// The node's role and rank, if it is up and reports one.
    fn role(&self, node: NodeId) -> Option<(&'static str, u64)>;
    /// True if a message from `from` to `to` would not be cut.
    fn is_open(&self, from: NodeId, to: NodeId) -> bool;
    /// The node's name.
    fn name(&self, node: NodeId) -> &str;
}

/// What the script asks of the run after a [`Script::poll`].
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Apply this fault now.
    Fault(Fault),
    /// Tell this line (narration).
    Line(String),
    /// A check failed; the script has stopped.
    Violation(Violation),
    /// End the run now.
    Stop,
}

/// A running script.
#[derive(Clone, Debug)]
pub struct Script {
    steps: Vec<Step>,
    next: usize,
    started: SimTime,
    stopped: bool,
    /// Per log index (up to the highest a step asks about): the servers
    /// that committed it and the entry's digest.
    commits: BTreeMap<u64, Vec<(NodeId, String)>>,
    max_index: u64,
    /// The highest index any server committed, and who did first.
    highest_commit: (u64, Option<NodeId>),
    /// `highest_commit` when the current step began.
    commit_at_start: u64,
    /// Draws for sleeps with a range.
    rng: SimRng,
    /// The current step's sleep, if it is one.
    sleep: SimDuration,
    /// The connected servers, until an event may change them.
    connected: Option<Vec<NodeId>>,
    /// The index the current relative `committed` check waits for.
    ahead_index: u64,
}

impl Script {
    /// The script of `steps` for a run with `seed`, starting at time zero.
    pub fn new(steps: Vec<Step>, seed: u64) -> Script {
        let max_index = steps
            .iter()
            .filter_map(|s| match s.action {
                StepAction::Check {
                    condition:
                        Condition::Committed {
                            index: LogIndex::At(index),
                            ..
                        },
                    ..
                } => Some(index),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let mut script = Script {
            steps,
            next: 0,
            started: SimTime::ZERO,
            stopped: false,
            commits: BTreeMap::new(),
            max_index,
            highest_commit: (0, None),
            commit_at_start: 0,
            rng: SimRng::stream(seed, "steps"),
            sleep: SimDuration::ZERO,
            connected: None,
            ahead_index: 0,
        };
        script.begin();
        script
    }

    /// Sets up the current step as it begins: draws its sleep, fixes the
    /// index a relative `committed` check waits for.
    fn begin(&mut self) {
        if let Some(StepAction::Check {
            condition:
                Condition::Committed {
                    index: LogIndex::Ahead(k),
                    ..
                },
            ..
        }) = self.steps.get(self.next).map(|s| &s.action)
        {
            self.ahead_index = self.highest_commit.0.saturating_add(*k);
            debug_assert!(
                !self.commits.contains_key(&self.ahead_index),
                "an index above every commit was committed"
            );
        }
        if let Some(StepAction::Sleep { min, max }) = self.steps.get(self.next).map(|s| &s.action) {
            debug_assert!(min <= max, "sleep range {min}..{max}");
            self.sleep = if min == max {
                *min
            } else {
                SimDuration(self.rng.between(min.as_nanos(), max.as_nanos()))
            };
        }
    }

    /// True once every step ran or a check failed.
    pub fn is_over(&self) -> bool {
        self.stopped || self.next >= self.steps.len()
    }

    /// How many steps the script has.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True if it has no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// How many steps have ended.
    pub fn position(&self) -> usize {
        self.next
    }

    /// The time at which the current step must act even if no event comes
    /// (its beginning, a sleep's or a `for`'s end, a deadline); `None` once over.
    pub fn due(&self) -> Option<SimTime> {
        if self.is_over() {
            return None;
        }
        let step = &self.steps[self.next];
        Some(match step.action {
            StepAction::Fault(_)
            | StepAction::Stop
            | StepAction::Check {
                mode: Mode::Now, ..
            } => self.started,
            StepAction::Sleep { .. } => self.started.saturating_add(self.sleep),
            StepAction::Check {
                mode: Mode::Within(d) | Mode::For(d),
                ..
            } => self.started.saturating_add(d),
        })
    }

    /// Takes note of an event (the servers' `commit` records, and the
    /// faults and starts that change who is connected).
    pub fn observe(&mut self, event: &TraceEvent) {
        if !matches!(
            event.kind,
            EventKind::Record(_)
                | EventKind::Send { .. }
                | EventKind::Deliver { .. }
                | EventKind::Drop { .. }
                | EventKind::Duplicate { .. }
                | EventKind::Timer { .. }
        ) {
            // A fault, start, resume, link restore...: recompute.
            self.connected = None;
        }
        let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) else {
            return;
        };
        if record.kind != "commit" {
            return;
        }
        let Some(index) = record.detail.get("index").and_then(|v| v.as_u64()) else {
            return;
        };
        if index > self.highest_commit.0 {
            self.highest_commit = (index, Some(node));
        }
        if index == 0 || (index > self.max_index && index != self.ahead_index) {
            return;
        }
        let digest = record
            .detail
            .get("digest")
            .map(|d| d.to_string())
            .unwrap_or_default();
        let nodes = self.commits.entry(index).or_default();
        if !nodes.iter().any(|(n, _)| *n == node) {
            nodes.push((node, digest));
        }
    }

    /// Runs the current step at true time `now` as far as it can go: a
    /// fault to apply, a line to tell, a violation, or nothing (the step
    /// waits, or ended quietly). Call it again while [`Script::position`]
    /// moves; see [`Script::due`] for when to call it without an event.
    pub fn poll(&mut self, now: SimTime, view: &dyn View) -> Option<Outcome> {
        if self.is_over() {
            return None;
        }
        let elapsed = now.saturating_since(self.started);
        match self.steps[self.next].action {
            StepAction::Fault(ref fault) => {
                let fault = fault.clone();
                self.advance(now);
                Some(Outcome::Fault(fault))
            }
            StepAction::Stop => {
                self.advance(now);
                Some(Outcome::Stop)
            }
            StepAction::Sleep { min, max } => {
                if elapsed < self.sleep {
                    return None;
                }
                let slept = self.sleep;
                let line =
                    (min != max).then(|| format!("{}: slept {slept}", self.steps[self.next].label));
                self.advance(now);
                // A drawn sleep is worth telling: it differs per seed.
                line.map(Outcome::Line)
            }
            StepAction::Check { condition, mode } => {
                // Only faults and starts change who is up and who reaches whom.
                if self.connected.is_none() {
                    self.connected = Some(connected(view));
                }
                let connected = self.connected.as_deref().expect("just set");
                debug_assert_eq!(connected, self::connected(view), "stale connected set");
                // Cheap first: most events change nothing a waiting check tells.
                let held = self.holds(connected, condition, view);
                match (mode, held) {
                    (Mode::Within(d), false) if elapsed < d => return None,
                    (Mode::For(d), true) if elapsed < d => return None,
                    _ => {}
                }
                let verdict = self.judge(connected, condition, view);
                debug_assert_eq!(verdict.is_ok(), held, "holds and judge disagree");
                let label = self.steps[self.next].label.clone();
                match (mode, verdict) {
                    (Mode::Now, Ok(how)) => {
                        self.advance(now);
                        Some(Outcome::Line(format!("{label}: {how}")))
                    }
                    (Mode::Within(_), Ok(how)) => {
                        self.advance(now);
                        Some(Outcome::Line(format!("{label}: {how}, after {elapsed}")))
                    }
                    (Mode::Within(d), Err(_)) if elapsed < d => None,
                    (Mode::For(d), Ok(how)) if elapsed >= d => {
                        self.advance(now);
                        Some(Outcome::Line(format!("{label}: held; {how}")))
                    }
                    (Mode::For(_), Ok(_)) => None,
                    (mode, Err((why, nodes))) => {
                        self.stopped = true;
                        let (severity, when) = match mode {
                            Mode::Within(d) => (Severity::Liveness, format!("not within {d}")),
                            Mode::For(_) => (Severity::Safety, format!("broken after {elapsed}")),
                            Mode::Now => (Severity::Safety, "not so".to_string()),
                        };
                        Some(Outcome::Violation(Violation {
                            name: condition.violation().to_string(),
                            check: "steps".to_string(),
                            severity,
                            time: now,
                            nodes,
                            explanation: format!("{label}: {when}: {why}"),
                        }))
                    }
                }
            }
        }
    }

    fn advance(&mut self, now: SimTime) {
        debug_assert!(now >= self.started, "a step ended before it began");
        self.next += 1;
        self.started = now;
        self.commit_at_start = self.highest_commit.0;
        self.begin();
    }

    /// Whether the condition holds: how (a phrase), or why not and the
    /// nodes involved.
    /// The absolute log index a `committed` check names now.
    fn index_of(&self, index: LogIndex) -> u64 {
        match index {
            LogIndex::At(i) => i,
            LogIndex::Ahead(_) => self.ahead_index,
        }
    }

    /// Whether the condition holds among `connected`, without words
    /// ([`Script::judge`] tells the same, with them).
    fn holds(&self, connected: &[NodeId], condition: Condition, view: &dyn View) -> bool {
        let leaders = || {
            connected.iter().filter_map(move |&n| match view.role(n) {
                Some(("leader", rank)) => Some(rank),
                _ => None,
            })
        };
        let rank = |n: NodeId| view.role(n).map_or(0, |(_, r)| r);
        match condition {
            Condition::Leader => {
                let top = connected.iter().map(|&n| rank(n)).max().unwrap_or(0);
                leaders().filter(|&r| r == top).count() == 1
            }
            Condition::NoLeader => leaders().next().is_none(),
            Condition::SameTerm => connected.windows(2).all(|w| rank(w[0]) == rank(w[1])),
            Condition::NoCommit => {
                !(self.highest_commit.1.is_some() && self.highest_commit.0 > self.commit_at_start)
            }
            Condition::Committed { index, servers } => {
                let Some(nodes) = self.commits.get(&self.index_of(index)) else {
                    return false;
                };
                let mut digests: Vec<&str> = nodes.iter().map(|(_, d)| d.as_str()).collect();
                digests.sort_unstable();
                let most = digests
                    .chunk_by(|a, b| a == b)
                    .map(|same| same.len())
                    .max()
                    .unwrap_or(0);
                most >= servers
            }
        }
    }

    fn judge(
        &self,
        connected: &[NodeId],
        condition: Condition,
        view: &dyn View,
    ) -> Result<String, (String, Vec<String>)> {
        let name = |n: NodeId| view.name(n).to_string();
        let leaders: Vec<(NodeId, u64)> = connected
            .iter()
            .filter_map(|&n| match view.role(n) {
                Some(("leader", rank)) => Some((n, rank)),
                _ => None,
            })
            .collect();
        match condition {
            Condition::Leader => {
                let top = connected
                    .iter()
                    .filter_map(|&n| view.role(n).map(|(_, rank)| rank))
                    .max()
                    .unwrap_or(0);
                let at_top: Vec<NodeId> = leaders
                    .iter()
                    .filter(|&&(_, r)| r == top)
                    .map(|&(n, _)| n)
                    .collect();
                if at_top.is_empty() {
                    Err((
                        format!(
                            "no connected server leads with rank {top}, the highest reported ({})",
                            roles(view)
                        ),
                        Vec::new(),
                    ))
                } else if at_top.len() == 1 {
                    Ok(format!("{} leads (rank {top})", name(at_top[0])))
                } else {
                    let who: Vec<String> = at_top.into_iter().map(name).collect();
                    Err((
                        format!("{} all lead with rank {top}", who.join(", ")),
                        who,
                    ))
                }
            }
            Condition::NoLeader => {
                if leaders.is_empty() {
                    Ok(format!("no connected server leads ({})", roles(view)))
                } else {
                    let who: Vec<String> = leaders.iter().map(|&(n, _)| name(n)).collect();
                    Err((
                        format!("{} leads ({})", who.join(", "), roles(view)),
                        who,
                    ))
                }
            }
            Condition::SameTerm => {
                let ranks: Vec<(NodeId, u64)> = connected
                    .iter()
                    .map(|&n| (n, view.role(n).map_or(0, |(_, r)| r)))
                    .collect();
                match ranks.first() {
                    None => Ok("no server is connected".to_string()),
                    Some(&(_, first)) if ranks.iter().all(|&(_, r)| r == first) => {
                        Ok(format!("the connected servers all report rank {first}"))
                    }
                    Some(_) => Err((
                        format!("the connected servers disagree ({})", roles(view)),
                        ranks.iter().map(|&(n, _)| name(n)).collect(),
                    )),
                }
            }
            Condition::NoCommit => match self.highest_commit {
                (highest, Some(node)) if highest > self.commit_at_start => Err((
                    format!(
                        "{} committed index {highest}, above {} (the highest committed when the step began)",
                        name(node),
                        self.commit_at_start
                    ),
                    vec![name(node)],
                )),
                _ => Ok(format!(
                    "nothing committed above index {}",
                    self.commit_at_start
                )),
            },
            Condition::Committed { index, servers } => {
                let index = self.index_of(index);
                let empty = Vec::new();
                let nodes = self.commits.get(&index).unwrap_or(&empty);
                // The entry most servers committed (they agree unless
                // log_matching is broken, which that check reports).
                let mut by_digest: BTreeMap<&str, Vec<NodeId>> = BTreeMap::new();
                for (n, digest) in nodes {
                    by_digest.entry(digest.as_str()).or_default().push(*n);
                }
                let best = by_digest.values().max_by_key(|v| v.len());
                let count = best.map_or(0, |v| v.len());
                let who: Vec<String> = best.map_or(Vec::new(), |v| v.iter().map(|&n| name(n)).collect());
                if count >= servers {
                    Ok(format!("index {index} committed on {count} servers ({})", who.join(", ")))
                } else {
                    Err((
                        format!(
                            "index {index} committed on {count} of the {servers} servers needed{}",
                            if who.is_empty() { String::new() } else { format!(" ({})", who.join(", ")) }
                        ),
                        who,
                    ))
                }
            }
        }
    }
}

/// The running servers that can exchange messages both ways with a
/// majority of the servers, themselves included.
fn connected(view: &dyn View) -> Vec<NodeId> {
    let n = view.servers();
    let majority = n / 2 + 1;
    let up: Vec<NodeId> = (0..n as u32)
        .map(NodeId)
        .filter(|&s| view.is_up(s))
        .collect();
    up.iter()
        .copied()
        .filter(|&a| {
            up.iter()
                .filter(|&&b| a == b || (view.is_open(a, b) && view.is_open(b, a)))
                .count()
                >= majority
        })
        .collect()
}

/// Every server's state, e.g. `n1 leader 3, n2 follower 3, n3 down`.
fn roles(view: &dyn View) -> String {
    (0..view.servers() as u32)
        .map(NodeId)
        .map(|n| {
            let state = match (view.is_up(n), view.role(n)) {
                (false, _) => "down".to_string(),
                (true, Some((role, rank))) => format!("{role} {rank}"),
                (true, None) => "up".to_string(),
            };
            format!("{} {state}", view.name(n))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        roles: Vec<Option<(&'static str, u64)>>,
        cut: Vec<(u32, u32)>,
        names: Vec<String>,
    }

    impl Fake {
        fn new(roles: &[Option<(&'static str, u64)>]) -> Fake {
            Fake {
                roles: roles.to_vec(),
                cut: Vec::new(),
                names: (1..=roles.len()).map(|i| format!("n{i}")).collect(),
            }
        }
    }

    impl View for Fake {
        fn servers(&self) -> usize {
            self.roles.len()
        }
        fn is_up(&self, node: NodeId) -> bool {
            self.roles[node.index()].is_some()
        }
        fn role(&self, node: NodeId) -> Option<(&'static str, u64)> {
            self.roles[node.index()]
        }
        fn is_open(&self, from: NodeId, to: NodeId) -> bool {
            !self.cut.contains(&(from.0, to.0)) && !self.cut.contains(&(to.0, from.0))
        }
        fn name(&self, node: NodeId) -> &str {
            &self.names[node.index()]
        }
    }

    fn check(condition: Condition, mode: Mode) -> Step {
        Step {
            action: StepAction::Check { condition, mode },
            label: format!("steps[0] ({})", condition.name()),
        }
    }

    const L: Option<(&str, u64)> = Some(("leader", 2));
    const F: Option<(&str, u64)> = Some(("follower", 2));

    #[test]
    fn a_stale_leader_cut_off_from_the_majority_is_not_counted() {
        let mut view = Fake::new(&[Some(("leader", 1)), L, F]);
        // n1 is isolated: it still believes it leads term 1.
        view.cut = vec![(0, 1), (0, 2)];
        let mut script = Script::new(vec![check(Condition::Leader, Mode::Now)], 1);
        let out = script.poll(SimTime::ZERO, &view);
        assert!(
            matches!(out, Some(Outcome::Line(ref l)) if l.contains("n2 leads")),
            "{out:?}"
        );
        assert!(script.is_over());
    }

    #[test]
    fn two_leaders_of_one_term_fail_leader() {
        let view = Fake::new(&[L, L, F]);
        let mut script = Script::new(vec![check(Condition::Leader, Mode::Now)], 1);
        let Some(Outcome::Violation(v)) = script.poll(SimTime::ZERO, &view) else {
            panic!("expected a violation")
        };
        assert_eq!(v.name, "leader_missing");
        assert_eq!(v.severity, Severity::Safety);
        assert_eq!(v.nodes, ["n1", "n2"]);
    }

    #[test]
    fn within_waits_for_the_condition_then_fails_at_the_deadline() {
        let view = Fake::new(&[F, F, F]);
        let d = SimDuration::from_millis(100);
        let mut script = Script::new(vec![check(Condition::Leader, Mode::Within(d))], 1);
        assert_eq!(script.due(), Some(SimTime::ZERO + d));
        assert_eq!(
            script.poll(SimTime::ZERO + SimDuration::from_millis(50), &view),
            None
        );
        let Some(Outcome::Violation(v)) = script.poll(SimTime::ZERO + d, &view) else {
            panic!("expected a violation at the deadline")
        };
        assert_eq!(v.severity, Severity::Liveness);
        assert!(
            v.explanation.contains("not within 100ms"),
            "{}",
            v.explanation
        );
        assert!(script.is_over());
    }

    #[test]
    fn for_fails_the_moment_the_condition_breaks() {
        let d = SimDuration::from_secs(1);
        let mut script = Script::new(vec![check(Condition::NoLeader, Mode::For(d))], 1);
        let quiet = Fake::new(&[F, F, None]);
        assert_eq!(script.poll(SimTime::ZERO, &quiet), None);
        let led = Fake::new(&[L, F, None]);
        let at = SimTime::ZERO + SimDuration::from_millis(300);
        let Some(Outcome::Violation(v)) = script.poll(at, &led) else {
            panic!("expected a violation")
        };
        assert_eq!((v.name.as_str(), v.time), ("unexpected_leader", at));
    }

    #[test]
    fn same_term_ignores_servers_cut_off() {
        let mut view = Fake::new(&[Some(("candidate", 9)), L, F]);
        let mut script = Script::new(vec![check(Condition::SameTerm, Mode::Now)], 1);
        let out = script.poll(SimTime::ZERO, &view);
        assert!(matches!(out, Some(Outcome::Violation(_))), "{out:?}");
        view.cut = vec![(0, 1), (0, 2)];
        let mut script = Script::new(vec![check(Condition::SameTerm, Mode::Now)], 1);
        let out = script.poll(SimTime::ZERO, &view);
        assert!(matches!(out, Some(Outcome::Line(_))), "{out:?}");
    }

    #[test]
    fn committed_counts_servers_once_each() {
        use crate::node::Record;
        let condition = Condition::Committed {
            index: LogIndex::At(2),
            servers: 2,
        };
        let mut script = Script::new(vec![check(condition, Mode::Now)], 1);
        let commit = |node: u32, index: u64| TraceEvent {
            time: SimTime::ZERO,
            node: Some(NodeId(node)),
            kind: EventKind::Record(Record {
                kind: "commit".into(),
                detail: serde_json::json!({"index": index, "digest": "ab"}).into(),
            }),
        };
        script.observe(&commit(0, 2));
        script.observe(&commit(0, 2)); // replayed after a restart
        script.observe(&commit(1, 1));
        let view = Fake::new(&[F, F, F]);
        let out = script.clone().poll(SimTime::ZERO, &view);
        let Some(Outcome::Violation(v)) = out else {
            panic!("expected a violation: {out:?}")
        };
        assert!(
            v.explanation.contains("committed on 1 of the 2"),
            "{}",
            v.explanation
        );
        script.observe(&commit(2, 2));
        let out = script.poll(SimTime::ZERO, &view);
        assert!(
            matches!(out, Some(Outcome::Line(ref l)) if l.contains("on 2 servers")),
            "{out:?}"
        );
    }

    #[test]
    fn a_script_runs_its_steps_in_order() {
        let view = Fake::new(&[L, F, F]);
        let mut script = Script::new(
            vec![
                Step {
                    action: StepAction::Fault(Fault::Heal),
                    label: "steps[0]".into(),
                },
                Step {
                    action: StepAction::Sleep {
                        min: SimDuration::from_secs(1),
                        max: SimDuration::from_secs(1),
                    },
                    label: "steps[1]".into(),
                },
                check(Condition::Leader, Mode::Now),
            ],
            1,
        );
        assert_eq!(script.due(), Some(SimTime::ZERO));
        assert_eq!(
            script.poll(SimTime::ZERO, &view),
            Some(Outcome::Fault(Fault::Heal))
        );
        assert_eq!(
            script.due(),
            Some(SimTime::ZERO + SimDuration::from_secs(1))
        );
        assert_eq!(script.poll(SimTime::ZERO, &view), None);
        assert_eq!(script.position(), 1);
        let one = SimTime::ZERO + SimDuration::from_secs(1);
        assert_eq!(script.poll(one, &view), None);
        assert_eq!(script.position(), 2);
        assert!(matches!(script.poll(one, &view), Some(Outcome::Line(_))));
        assert!(script.is_over());
        assert_eq!(script.due(), None);
    }
}
