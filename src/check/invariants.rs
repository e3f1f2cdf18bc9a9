//! Invariants driven by what nodes `record`. Any model can use them by
//! recording the named observations:
//!
//! | check | record | detail | violation |
//! |---|---|---|---|
//! | election_safety | `leader` | `{"term": n}` (and `vote` `{"term": n, "candidate": id}`, optional, to name the votes) | `two_leaders`: two nodes lead one term |
//! | lease_exclusivity | `lease` | via `Ctx::record_interval` | `lease_overlap`: two holders at one true time |
//! | log_matching | `commit` | `{"index": i, "digest": d}` (optional `term`, `entry`, `client` id: the entry as a reader writes it) | `log_mismatch`: two entries committed at one index |
//! | no_lost_update | `storage_write` | `{"token": t}` | `lost_update`: storage accepts a write older than one it accepted |
//! | convergence | `state` | `{"version": v}` | `divergence`: a running replica ends behind |
//! | progress | `op` (ok), `leader` or `storage_write`; for a model with [`crate::Model::committed_records`], those in place of `op` | | `no_progress`: nothing happens after the faults |
//!
//! election_safety, log_matching and convergence judge correct nodes only:
//! they skip the records (and convergence the replica) of a node
//! [`World::is_byzantine`] says is Byzantine (see [`crate::fault::byzantine`]).
//!
//! election_safety, lease_exclusivity and log_matching are `always`
//! properties (checked as events happen); convergence is judged at the end;
//! progress is an `eventually` property with the liveness deadline.

use super::{names_of, Checker, Interest, LivenessBound, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::node::{NodeId, Record, OP_RECORD};
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

/// The record of `kind` in this event, with its node.
fn record_of<'a>(event: &'a TraceEvent, kind: &str) -> Option<(NodeId, &'a Record)> {
    match (&event.kind, event.node) {
        (EventKind::Record(r), Some(node)) if r.kind == kind => Some((node, r)),
        _ => None,
    }
}

fn field_u64(record: &Record, key: &str) -> Option<u64> {
    record.detail.u64(key)
}

/// At most one leader per term. When the model records its votes (`vote`
/// records), a violation names the votes that made each leader and any
/// voter that voted twice in the term.
#[derive(Debug, Default)]
pub struct ElectionSafety {
    leaders: BTreeMap<u64, (NodeId, SimTime)>,
    /// Votes granted, by term: (voter, candidate, when), in order; at most
    /// [`MAX_VOTES_KEPT`] in all (the lowest terms go first).
    votes: BTreeMap<u64, Vec<(NodeId, NodeId, SimTime)>>,
    votes_kept: usize,
}

/// The votes [`ElectionSafety`] remembers to explain a violation.
pub const MAX_VOTES_KEPT: usize = 100_000;

impl ElectionSafety {
    fn remember_vote(&mut self, term: u64, voter: NodeId, candidate: NodeId, at: SimTime) {
        self.votes
            .entry(term)
            .or_default()
            .push((voter, candidate, at));
        self.votes_kept += 1;
        while self.votes_kept > MAX_VOTES_KEPT {
            let Some((_, dropped)) = self.votes.pop_first() else {
                break;
            };
            self.votes_kept -= dropped.len();
        }
    }

    /// "votes: n2 at 1.001s, n5 at 1.003s and itself at 0.998s" for
    /// `leader`'s election in `term`, or "" without vote records.
    fn votes_for(&self, world: &World, term: u64, leader: NodeId, by: SimTime) -> String {
        let Some(votes) = self.votes.get(&term) else {
            return String::new();
        };
        // The votes of its last campaign: from its last vote for itself on.
        let campaign = votes
            .iter()
            .filter(|(v, c, at)| *v == leader && *c == leader && *at <= by)
            .map(|(_, _, at)| *at)
            .next_back()
            .unwrap_or(SimTime::ZERO);
        let list: Vec<String> = votes
            .iter()
            .filter(|(_, c, at)| *c == leader && *at <= by && *at >= campaign)
            .map(|(voter, _, at)| match *voter == leader {
                true => format!("itself at {at}"),
                false => format!("{} at {at}", world.name(*voter)),
            })
            .collect();
        match list.is_empty() {
            true => " (no votes recorded)".to_string(),
            false => format!(" (votes: {})", list.join(", ")),
        }
    }

    /// "; n5 voted twice in term 4: for n4 at 1.003s and for n1 at 1.168s"
    /// for each voter that granted two candidates in `term`.
    fn double_votes(&self, world: &World, term: u64) -> String {
        let Some(votes) = self.votes.get(&term) else {
            return String::new();
        };
        let mut out = String::new();
        let mut voters: Vec<NodeId> = votes.iter().map(|(v, _, _)| *v).collect();
        voters.sort();
        voters.dedup();
        for voter in voters {
            let mut granted: Vec<(NodeId, SimTime)> = Vec::new();
            for (_, candidate, at) in votes.iter().filter(|(v, _, _)| *v == voter) {
                if !granted.iter().any(|(c, _)| c == candidate) {
                    granted.push((*candidate, *at));
                }
            }
            if granted.len() > 1 {
                let mut list: Vec<String> = granted
                    .iter()
                    .take(4)
                    .map(|(c, at)| format!("for {} at {at}", world.name(*c)))
                    .collect();
                if granted.len() > 4 {
                    list.push(format!("{} more", granted.len() - 4));
                }
                out.push_str(&format!(
                    "; {} voted {} times in term {term}: {}",
                    world.name(voter),
                    granted.len(),
                    list.join(" and ")
                ));
            }
        }
        out
    }
}

impl Checker for ElectionSafety {
    fn name(&self) -> &'static str {
        "election_safety"
    }

    /// Reads records only.
    fn interest(&self) -> Interest {
        Interest::Records
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        if let Some((voter, record)) = record_of(event, "vote") {
            let term = field_u64(record, "term");
            let candidate = field_u64(record, "candidate").and_then(|c| u32::try_from(c).ok());
            if let (Some(term), Some(candidate)) = (term, candidate) {
                if (candidate as usize) < world.len() {
                    self.remember_vote(term, voter, NodeId(candidate), event.time);
                }
            }
            return None;
        }
        let (node, record) = record_of(event, "leader")?;
        if world.is_byzantine(node) {
            return None; // agreement among correct nodes only
        }
        let term = field_u64(record, "term")?;
        let (first, since) = *self.leaders.entry(term).or_insert((node, event.time));
        if first == node {
            return None;
        }
        Some(Violation {
            name: "two_leaders".into(),
            check: self.name().into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: names_of(world, &[first, node]),
            explanation: format!(
                "{} became leader of term {term} at {}{}, but {} had become leader of the same term at {since}{}{}; {}",
                world.name(node),
                event.time,
                self.votes_for(world, term, node, event.time),
                world.name(first),
                self.votes_for(world, term, first, since),
                self.double_votes(world, term),
                world.faults_in_force()
            ),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// No two nodes hold a lease at the same true time.
#[derive(Debug, Default)]
pub struct LeaseExclusivity {
    /// Every interval seen, by (end, arrival number): (node, start), in true
    /// time. A new lease from `start` only needs the ones ending after it.
    held: BTreeMap<(SimTime, u64), (NodeId, SimTime)>,
}

impl Checker for LeaseExclusivity {
    fn name(&self) -> &'static str {
        "lease_exclusivity"
    }

    /// Reads records only.
    fn interest(&self) -> Interest {
        Interest::Records
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (node, record) = record_of(event, "lease")?;
        let start = SimTime(field_u64(record, "start_true_ns")?);
        let end = SimTime(field_u64(record, "end_true_ns")?);
        // The first interval seen (lowest arrival number) of another node
        // that overlaps [start, end).
        let clash = self
            .held
            .range((Bound::Excluded((start, u64::MAX)), Bound::Unbounded))
            .filter(|(_, (other, s))| *other != node && *s < end)
            .min_by_key(|((_, seq), _)| *seq)
            .map(|(&(e, _), &(other, s))| (other, s, e));
        let seq = self.held.len() as u64;
        self.held.insert((end, seq), (node, start));
        let (other, s, e) = clash?;
        Some(Violation {
            name: "lease_overlap".into(),
            check: self.name().into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: names_of(world, &[other, node]),
            explanation: format!(
                "{} holds the lease from {start} to {end} (true time), overlapping {}'s lease from {s} to {e} by {}; {}",
                world.name(node),
                world.name(other),
                overlap(start, end, s, e),
                world.faults_in_force()
            ),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

fn overlap(a: SimTime, b: SimTime, c: SimTime, d: SimTime) -> SimDuration {
    b.min(d).saturating_since(a.max(c))
}

/// A commit record's digest, compactly: a 16-digit lowercase hex string (what
/// the Raft model records) as its number, anything else as its JSON value.
/// Two digests are equal exactly when their JSON values are.
#[derive(Clone, Debug, PartialEq)]
enum Digest {
    Hex(u64),
    Other(Box<serde_json::Value>),
}

impl Digest {
    fn of(value: &serde_json::Value) -> Digest {
        match value.as_str().and_then(crate::node::detail::parse_hex16) {
            Some(n) => Digest::Hex(n),
            None => Digest::Other(Box::new(value.clone())),
        }
    }
}

impl std::fmt::Display for Digest {
    /// As the JSON value prints: `"00ff..."` with its quotes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Digest::Hex(n) => write!(f, "\"{n:016x}\""),
            Digest::Other(value) => write!(f, "{value}"),
        }
    }
}

/// The first commit seen at an index: its digest, by whom and when, and
/// where its description is in [`LogMatching::texts`] (empty if none).
#[derive(Clone, Debug)]
struct FirstCommit {
    digest: Digest,
    by: NodeId,
    at: SimTime,
    text: (u32, u16),
}

/// The longest entry description kept, in bytes.
const MAX_ENTRY_TEXT: usize = 120;

/// No two nodes commit different entries at one index. Keeps the first
/// commit of each index, compactly: 32 bytes an index, in a vector while
/// indexes come in order from 1 (as a log's do).
#[derive(Debug, Default)]
pub struct LogMatching {
    /// First commits of indexes 1, 2, ... `dense.len()`.
    dense: Vec<FirstCommit>,
    /// First commits of the other indexes.
    sparse: BTreeMap<u64, FirstCommit>,
    /// The first commits' descriptions, one after another (up to 4 GiB).
    texts: String,
}

/// A commit's description from its record: `term 7, put k3="x" by c2`, from
/// the optional `term`, `entry` and `client` fields; "" without them.
fn entry_text(record: &Record, world: &World) -> String {
    let mut text = String::new();
    write_entry_text(record, world, &mut text);
    text
}

/// [`entry_text`], appended to `out` (no string of its own: log matching
/// describes every first commit).
fn write_entry_text(record: &Record, world: &World, out: &mut String) {
    use std::fmt::Write;
    let start = out.len();
    let term = field_u64(record, "term");
    let entry = record.detail.str("entry");
    let client = field_u64(record, "client")
        .and_then(|c| u32::try_from(c).ok())
        .filter(|c| (*c as usize) < world.len())
        .map(|c| world.name(NodeId(c)));
    match (term, entry) {
        (Some(t), Some(e)) => write!(out, "term {t}, {e}"),
        (Some(t), None) => write!(out, "term {t}"),
        (None, Some(e)) => out.write_str(e),
        (None, None) => return,
    }
    .expect("writing to a String cannot fail");
    if let Some(client) = client {
        out.push_str(" by ");
        out.push_str(client);
    }
    if out.len() - start > MAX_ENTRY_TEXT {
        let mut cut = start + MAX_ENTRY_TEXT;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
}

impl LogMatching {
    /// Stores the description of a commit's record; where it is (empty
    /// when the arena is full).
    fn keep_text(&mut self, record: &Record, world: &World) -> (u32, u16) {
        let start = self.texts.len();
        write_entry_text(record, world, &mut self.texts);
        let len = self.texts.len() - start;
        debug_assert!(len <= MAX_ENTRY_TEXT + 3, "a description of {len} bytes");
        match (u32::try_from(start), u32::try_from(self.texts.len())) {
            (Ok(start), Ok(_)) => (start, len as u16),
            _ => {
                self.texts.truncate(start);
                (0, 0)
            }
        }
    }

    fn text(&self, (start, len): (u32, u16)) -> &str {
        &self.texts[start as usize..start as usize + len as usize]
    }

    fn first_commit(&self, index: u64) -> Option<&FirstCommit> {
        let dense = index
            .checked_sub(1)
            .and_then(|i| self.dense.get(usize::try_from(i).ok()?));
        dense.or_else(|| self.sparse.get(&index))
    }

    fn insert(&mut self, index: u64, first: FirstCommit) {
        debug_assert!(self.first_commit(index).is_none(), "index {index} twice");
        if index != self.dense.len() as u64 + 1 {
            self.sparse.insert(index, first);
            return;
        }
        self.dense.push(first);
        while let Some(next) = self.sparse.remove(&(self.dense.len() as u64 + 1)) {
            self.dense.push(next);
        }
    }
}

impl Checker for LogMatching {
    fn name(&self) -> &'static str {
        "log_matching"
    }

    /// Reads records only.
    fn interest(&self) -> Interest {
        Interest::Records
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (node, record) = record_of(event, "commit")?;
        if world.is_byzantine(node) {
            return None; // agreement among correct nodes only
        }
        let index = field_u64(record, "index")?;
        let digest = match record.detail.hex("digest") {
            Some(n) => Digest::Hex(n),
            None => Digest::of(record.detail.get("digest")?),
        };
        let Some(first) = self.first_commit(index) else {
            let text = self.keep_text(record, world);
            let first = FirstCommit {
                digest,
                by: node,
                at: event.time,
                text,
            };
            self.insert(index, first);
            return None;
        };
        if first.digest == digest {
            return None;
        }
        let FirstCommit {
            digest: first,
            by,
            at,
            text,
        } = first.clone();
        let entry = |text: &str, digest: &Digest| match text.is_empty() {
            true => format!("{digest}"),
            false => format!("{text} (digest {digest})"),
        };
        Some(Violation {
            name: "log_mismatch".into(),
            check: self.name().into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: names_of(world, &[by, node]),
            explanation: format!(
                "{} committed {} at index {index} at {}, but {} had committed {} there at {at}",
                world.name(node),
                entry(&entry_text(record, world), &digest),
                event.time,
                world.name(by),
                entry(self.text(text), &first),
            ),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// Protected storage never accepts a write with an older fencing token than
/// a write it already accepted (the update of the newer holder would be lost).
#[derive(Debug, Default)]
pub struct NoLostUpdate {
    /// Highest token accepted so far, with its writer and time.
    highest: Option<(u64, NodeId, SimTime, String)>,
}

impl Checker for NoLostUpdate {
    fn name(&self) -> &'static str {
        "no_lost_update"
    }

    /// Reads records only.
    fn interest(&self) -> Interest {
        Interest::Records
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (node, record) = record_of(event, "storage_write")?;
        let token = field_u64(record, "token")?;
        let writer = record
            .detail
            .get("writer")
            .and_then(|w| w.as_str())
            .unwrap_or("?")
            .to_string();
        match &self.highest {
            Some((best, _, at, by)) if token < *best => Some(Violation {
                name: "lost_update".into(),
                check: self.name().into(),
                severity: Severity::Safety,
                time: event.time,
                nodes: vec![world.name(node).to_string(), writer.clone()],
                explanation: format!(
                    "{} accepted a write from {writer} with fencing token {token} at {}, after it had accepted token {best} from {by} at {at}: the newer holder's update is lost; {}",
                    world.name(node),
                    event.time,
                    world.faults_in_force()
                ),
            }),
            _ => {
                if self.highest.as_ref().is_none_or(|(best, ..)| token >= *best) {
                    self.highest = Some((token, node, event.time, writer));
                }
                None
            }
        }
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// At the end, every running replica has caught up with what was written
/// more than `within` before the end.
#[derive(Debug)]
pub struct Convergence {
    within: SimDuration,
    /// Latest version per node (index by node id).
    latest: Vec<Option<u64>>,
    /// (time, version, node) each time the highest version anywhere grew,
    /// from the last one more than `within` before the latest event on:
    /// older ones can no longer be the target at the end.
    frontier: VecDeque<(SimTime, u64, NodeId)>,
}

impl Convergence {
    /// Replicas must be no more than `within` behind at the end.
    pub fn new(within: SimDuration) -> Self {
        Convergence {
            within,
            latest: Vec::new(),
            frontier: VecDeque::new(),
        }
    }

    /// The latest true time whose writes must have reached everyone by `now`.
    fn settled(&self, now: SimTime) -> SimTime {
        SimTime(now.as_nanos().saturating_sub(self.within.as_nanos()))
    }
}

impl Checker for Convergence {
    fn name(&self) -> &'static str {
        "convergence"
    }

    /// Reads records only.
    fn interest(&self) -> Interest {
        Interest::Records
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (node, record) = record_of(event, "state")?;
        if world.is_byzantine(node) {
            return None; // correct replicas only
        }
        let version = field_u64(record, "version")?;
        self.latest.resize(world.len(), None);
        self.latest[node.index()] = Some(version);
        if self.frontier.back().is_none_or(|(_, v, _)| version > *v) {
            self.frontier.push_back((event.time, version, node));
        }
        // The run ends at or after this event, so the last growth settled by
        // now is a better target than any before it.
        let settled = self.settled(event.time);
        while self.frontier.get(1).is_some_and(|(t, _, _)| *t <= settled) {
            self.frontier.pop_front();
        }
        None
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        let settled = self.settled(end);
        let &(written, target, writer) =
            self.frontier.iter().rev().find(|(t, _, _)| *t <= settled)?;
        for (i, version) in self.latest.iter().enumerate() {
            let node = NodeId(i as u32);
            let status = world.status(node);
            let Some(version) = version else { continue };
            if world.is_byzantine(node) {
                continue;
            }
            if !status.up || status.paused || status.running_since > settled || *version >= target {
                continue;
            }
            return Some(Violation {
                name: "divergence".into(),
                check: self.name().into(),
                severity: Severity::Liveness,
                time: end,
                nodes: names_of(world, &[node, writer]),
                explanation: format!(
                    "{} ends at version {version}, but {} reached version {target} at {written}, more than {} before the end; {}",
                    world.name(node),
                    world.name(writer),
                    self.within,
                    world.faults_in_force()
                ),
            });
        }
        None
    }
}

/// After the liveness phase begins, something useful happens within the
/// bound: a client operation completes `ok`, a node becomes leader, or the
/// protected storage accepts a write. For a model that names the records
/// marking an operation committed or durable
/// ([`crate::Model::committed_records`]), one of those counts in place of
/// a client's `ok`: an acknowledgement is not proof that the work was done.
#[derive(Debug)]
pub struct Progress {
    bound: LivenessBound,
    /// The record kinds that mark work done; empty: client `ok`s count.
    committed: &'static [&'static str],
    progressed: bool,
    /// When progress first came in the liveness phase.
    progressed_at: Option<SimTime>,
}

impl Progress {
    /// Progress is due within `bound.within` after `bound.after`; a client
    /// operation's `ok` counts as progress.
    pub fn new(bound: LivenessBound) -> Self {
        Progress::counting(bound, &[])
    }

    /// [`Progress::new`], counting a record of one of `committed` (if any
    /// are named) in place of a client operation's `ok`.
    pub fn counting(bound: LivenessBound, committed: &'static [&'static str]) -> Self {
        Progress {
            bound,
            committed,
            progressed: false,
            progressed_at: None,
        }
    }

    /// True if `event` is work done: a commit (for a model that names its
    /// commit records) or else a client's `ok`.
    fn work_done(&self, event: &TraceEvent) -> bool {
        if !self.committed.is_empty() {
            return match (&event.kind, event.node) {
                (EventKind::Record(r), Some(_)) => self.committed.contains(&r.kind.as_str()),
                _ => false,
            };
        }
        record_of(event, OP_RECORD).is_some_and(|(_, r)| r.detail.str("type") == Some("ok"))
    }

    /// The violation if progress is overdue at `now` (`inclusive`: at the
    /// deadline itself too). Inlined: on nearly every event it is `None`.
    #[inline]
    fn overdue(&self, now: SimTime, inclusive: bool, world: &World) -> Option<Violation> {
        let due = self.bound.after + self.bound.within;
        if self.progressed || due > now || (!inclusive && due == now) {
            return None;
        }
        Some(self.no_progress(due, world))
    }

    /// The `no_progress` violation, due at `due`.
    #[cold]
    fn no_progress(&self, due: SimTime, world: &World) -> Violation {
        Violation {
            name: "no_progress".into(),
            check: "progress".into(),
            severity: Severity::Liveness,
            time: due,
            nodes: Vec::new(),
            explanation: format!(
                "{} between {} (the liveness phase) and {due}; {}",
                self.nothing_done(),
                self.bound.after,
                world.faults_in_force()
            ),
        }
    }
}

impl Progress {
    /// What did not happen, in the terms the check counted.
    fn nothing_done(&self) -> String {
        if self.committed.is_empty() {
            return "no client operation completed and no leader was elected".to_string();
        }
        let kinds: Vec<String> = self.committed.iter().map(|k| format!("`{k}`")).collect();
        format!(
            "nothing was committed (no {} record; client acknowledgements do not count) and no leader was elected",
            kinds.join(" or ")
        )
    }
}

impl Checker for Progress {
    fn name(&self) -> &'static str {
        "progress"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let late = self.overdue(event.time, false, world);
        if late.is_some() {
            return late;
        }
        // Once progressed, always progressed: nothing more to look at.
        if event.time >= self.bound.after && !self.progressed {
            self.progressed |= self.work_done(event)
                || record_of(event, "leader").is_some()
                || record_of(event, "storage_write").is_some();
            if self.progressed && self.progressed_at.is_none() {
                self.progressed_at = Some(event.time);
            }
        }
        None
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        self.overdue(end, true, world)
    }

    /// `progress.recovery_s`: seconds from the start of the liveness phase
    /// to the first progress, if there was any.
    fn metrics(&self) -> Vec<(String, f64)> {
        self.progressed_at
            .map(|at| {
                let ns = at.as_nanos().saturating_sub(self.bound.after.as_nanos());
                ("progress.recovery_s".to_string(), ns as f64 / 1e9)
            })
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn commit(ms: u64, node: u32, index: u64, digest: serde_json::Value) -> TraceEvent {
        TraceEvent {
            time: SimTime(ms * 1_000_000),
            node: Some(NodeId(node)),
            kind: EventKind::Record(Record {
                kind: "commit".into(),
                detail: json!({ "index": index, "digest": digest }).into(),
            }),
        }
    }

    /// A `progress` check due within 1s of 1s, fed `events`: its violation's name.
    fn progress_with(committed: &'static [&'static str], events: &[TraceEvent]) -> Option<String> {
        let world = World::new((1..=3).map(|i| format!("n{i}")).collect());
        let bound = LivenessBound {
            after: SimTime(1_000_000_000),
            within: SimDuration::from_secs(1),
        };
        let mut check = Progress::counting(bound, committed);
        let early = events.iter().find_map(|e| check.on_event(e, &world));
        early
            .or_else(|| check.finish(SimTime(3_000_000_000), &world))
            .map(|v| v.name)
    }

    #[test]
    fn progress_counts_commits_in_place_of_acks_for_a_model_that_names_them() {
        let ack = crate::check::record_at(
            2,
            1200,
            OP_RECORD,
            json!({"type": "ok", "process": 0, "f": "write", "value": 1}),
        );
        let acked = [ack.clone()];
        assert_eq!(
            progress_with(&[], &acked),
            None,
            "an ack is progress by default"
        );
        let stuck = Some("no_progress".to_string());
        assert_eq!(
            progress_with(&["commit"], &acked),
            stuck,
            "not for a model with commits"
        );
        let committed = [ack, commit(1300, 1, 4, json!("00"))];
        assert_eq!(progress_with(&["commit"], &committed), None);
        // A commit before the liveness phase is not progress after it.
        assert_eq!(
            progress_with(&["commit"], &[commit(900, 1, 4, json!("00"))]),
            stuck
        );
    }

    /// Feeds commits to a fresh check; the explanation of the first mismatch.
    fn mismatch(events: &[TraceEvent]) -> Option<String> {
        let world = World::new((1..=3).map(|i| format!("n{i}")).collect());
        let mut check = LogMatching::default();
        events
            .iter()
            .find_map(|e| check.on_event(e, &world))
            .map(|v| v.explanation)
    }

    #[test]
    fn digests_compare_as_their_json_values_in_any_index_order() {
        let hex = |n: u64| json!(format!("{n:016x}"));
        let agree = [
            commit(1, 0, 2, hex(22)),
            commit(2, 0, 1, hex(11)),
            commit(3, 0, 7, json!(7)),
            commit(4, 1, 1, hex(11)),
            commit(5, 1, 2, hex(22)),
            commit(6, 1, 3, hex(33)),
            commit(7, 2, 7, json!(7)),
        ];
        assert_eq!(mismatch(&agree), None);
        let mut differ = agree.to_vec();
        differ.push(commit(8, 2, 2, json!("0000000000000016x")));
        assert_eq!(
            mismatch(&differ).as_deref(),
            Some("n3 committed \"0000000000000016x\" at index 2 at 0.008s, but n1 had committed \"0000000000000016\" there at 0.001s")
        );
        let upper = [
            commit(1, 0, 1, json!("00000000000000AB")),
            commit(2, 1, 1, hex(0xab)),
        ];
        let why = mismatch(&upper).expect("upper and lower case differ as strings");
        assert!(
            why.contains("committed \"00000000000000ab\" at index 1"),
            "{why}"
        );
        let number = [commit(1, 0, 5, json!(5)), commit(2, 1, 5, json!(6))];
        let why = mismatch(&number).expect("numbers differ");
        assert!(
            why.contains("n2 committed 6 at index 5") && why.contains("committed 5 there"),
            "{why}"
        );
    }
}
