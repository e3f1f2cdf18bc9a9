//! `availability`: how long a cluster is without a leader after a fault
//! takes its leader out. It measures and never fails a run.
//!
//! Generic over any model whose servers record `leader {"term"}` when they
//! become leader, `stepped_down {"term"}` when they stop leading, and
//! `follow {"term"}` the first time they accept the leader of a term (Raft
//! does; see `crate::models::raft`).
//!
//! **The current leader** is the server of the highest-term `leader` record.
//!
//! **An outage begins** when, while the current leader leads and no outage
//! is running:
//! - it crashes or is paused (an applied `crash` or `pause` fault on it);
//! - a network cut (`partition`, `isolate`, `one_way`, accumulated since
//!   the last heal) leaves it with open links in *both* directions to fewer
//!   than a majority of the servers, itself included (a one-way cut into
//!   the leader counts: it can send heartbeats but commit nothing);
//! - it records `stepped_down` for its term (it saw a higher term, e.g. from
//!   a disruptive candidate, or CheckQuorum found no majority).
//!
//! Faults on followers never begin one, even if enough of them fail that
//! the leader cannot commit; neither do loss bursts or clock jumps.
//!
//! **An outage ends** at the first of:
//! - *a new leader*: a majority of the servers follow one leader of a
//!   higher term than the lost one (its `leader` record counts the leader
//!   itself, each `follow` record of that term one more server): the first
//!   heartbeat of the next leader received by a majority;
//! - *the same leader back*: the lost leader still leads its term (it did
//!   not crash or step down, and no higher term has a leader), it is running
//!   and unpaused with two-way links to a majority again (after a resume or
//!   a heal), and from then on messages from it have been delivered to a
//!   majority of the servers (itself included). A short pause or partition
//!   that heals before any election ends this way. If that leader then
//!   steps down (a candidate of a higher term was already under way), a new
//!   outage begins at its `stepped_down`.
//!
//! An outage that has not ended when the run ends is *unended*: it is
//! counted in `availability.unended_outages` and its length so far is
//! `availability.unended_s`, never mixed into `time_without_leader_s`.

use super::{Checker, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::fault::Fault;
use crate::net::Cut;
use crate::node::{NodeId, Record};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// Measures the time without a leader after faults that take it out.
#[derive(Debug)]
pub struct Availability {
    /// Servers are the nodes `0..servers`; `None`: every node of the world.
    servers: Option<usize>,
    /// The current leader, if any leader was recorded.
    leader: Option<Leader>,
    /// Servers that followed the leader of each term (the leader first),
    /// for terms at or above the current leader's.
    following: BTreeMap<u64, Vec<NodeId>>,
    /// Network cuts in force since the last heal.
    cuts: Vec<Cut>,
    /// The outage under way.
    outage: Option<Outage>,
    /// Outages begun, ended or not.
    outages: u64,
    /// The longest ended outage: its length and what began it.
    longest: Option<(SimDuration, String)>,
    /// At the end: the unended outage's start, cause and length so far.
    unended: Option<(SimTime, String, SimDuration)>,
}

/// The server of the highest-term `leader` record.
#[derive(Clone, Copy, Debug)]
struct Leader {
    node: NodeId,
    term: u64,
    /// False once it crashed or stepped down: it leads no more in its term.
    leading: bool,
    paused: bool,
}

/// An outage under way.
#[derive(Debug)]
struct Outage {
    start: SimTime,
    /// What began it, e.g. "n2 (leader of term 3) crashed".
    cause: String,
    /// The lost leader and its term.
    node: NodeId,
    term: u64,
    /// Since the lost leader could lead again: the servers its messages
    /// reached since then (itself first).
    back: Option<Vec<NodeId>>,
}

impl Availability {
    /// The check for a scenario whose servers are the nodes `0..servers`.
    pub fn new(servers: usize) -> Availability {
        Availability::with(Some(servers))
    }

    /// The check where every node of the run is a server.
    pub fn every_node_a_server() -> Availability {
        Availability::with(None)
    }

    fn with(servers: Option<usize>) -> Availability {
        Availability {
            servers,
            leader: None,
            following: BTreeMap::new(),
            cuts: Vec::new(),
            outage: None,
            outages: 0,
            longest: None,
            unended: None,
        }
    }

    fn server_count(&self, world: &World) -> usize {
        self.servers.unwrap_or(world.len()).min(world.len())
    }

    fn majority(&self, world: &World) -> usize {
        self.server_count(world) / 2 + 1
    }

    fn is_server(&self, node: NodeId, world: &World) -> bool {
        node.index() < self.server_count(world)
    }

    /// True if the cuts in force let `from` send to `to`.
    fn open(&self, from: NodeId, to: NodeId) -> bool {
        from == to || !self.cuts.iter().any(|cut| blocks(cut, from, to))
    }

    /// Servers `node` has two-way links with, itself included.
    fn reach(&self, node: NodeId, world: &World) -> usize {
        (0..self.server_count(world) as u32)
            .map(NodeId)
            .filter(|&s| self.open(node, s) && self.open(s, node))
            .count()
    }

    /// True if the current leader leads, runs and reaches a majority.
    fn leader_can_lead(&self, world: &World) -> bool {
        self.leader.is_some_and(|l| {
            l.leading && !l.paused && self.reach(l.node, world) >= self.majority(world)
        })
    }

    fn begin(&mut self, at: SimTime, why: &str, world: &World) {
        let Some(leader) = self.leader else { return };
        if self.outage.is_some() {
            return;
        }
        self.outages += 1;
        let name = world.name(leader.node);
        self.outage = Some(Outage {
            start: at,
            cause: format!("{name} (leader of term {}) {why}", leader.term),
            node: leader.node,
            term: leader.term,
            back: None,
        });
    }

    fn end(&mut self, at: SimTime) {
        let Some(outage) = self.outage.take() else {
            return;
        };
        let length = at.saturating_since(outage.start);
        if self.longest.as_ref().is_none_or(|(l, _)| length > *l) {
            self.longest = Some((length, format!("{} at {}", outage.cause, outage.start)));
        }
    }

    /// After a change to the leader or the network: the lost leader may be
    /// back, or out again.
    fn recheck_same_leader(&mut self, world: &World) {
        let Some(outage) = &self.outage else { return };
        let same = self
            .leader
            .is_some_and(|l| l.node == outage.node && l.term == outage.term);
        let back = same && self.leader_can_lead(world);
        let node = outage.node;
        let outage = self.outage.as_mut().expect("checked above");
        match (back, outage.back.is_some()) {
            (true, false) => outage.back = Some(vec![node]),
            (false, true) => outage.back = None,
            _ => {}
        }
    }

    fn on_fault(&mut self, at: SimTime, fault: &Fault, world: &World) {
        let leader = self.leader.map(|l| l.node);
        match fault {
            Fault::Crash(n) if Some(*n) == leader => {
                let l = self.leader.as_mut().expect("the leader");
                let was_leading = l.leading;
                l.leading = false;
                if was_leading {
                    self.begin(at, "crashed", world);
                }
            }
            Fault::Pause { node, .. } if Some(*node) == leader => {
                let l = self.leader.as_mut().expect("the leader");
                l.paused = true;
                if l.leading {
                    self.begin(at, "paused", world);
                }
            }
            Fault::Partition(cut) => {
                let was = self.leader_can_lead(world);
                self.cuts.push(cut.clone());
                if was && !self.leader_can_lead(world) {
                    let why = format!("cut off from a majority by {}", fault.kind());
                    self.begin(at, &why, world);
                }
            }
            Fault::Heal | Fault::HealAll => self.cuts.clear(),
            _ => {}
        }
    }

    /// Follows `leader`, `follow` and `stepped_down` records.
    fn on_record(&mut self, at: SimTime, node: NodeId, record: &Record, world: &World) {
        if self.leader_record(at, node, record, world) {
            self.recheck_same_leader(world);
        }
    }

    /// [`Availability::on_record`]; true if the current leader changed or
    /// stopped leading.
    fn leader_record(&mut self, at: SimTime, node: NodeId, record: &Record, world: &World) -> bool {
        let kind = record.kind.as_str();
        if !matches!(kind, "leader" | "follow" | "stepped_down") || !self.is_server(node, world) {
            return false;
        }
        let Some(term) = record.detail.get("term").and_then(|t| t.as_u64()) else {
            return false;
        };
        match kind {
            "leader" if self.leader.is_none_or(|l| term > l.term) => {
                self.leader = Some(Leader {
                    node,
                    term,
                    leading: true,
                    paused: false,
                });
                self.following = self.following.split_off(&term);
                self.follows(at, term, node, world);
                true
            }
            "follow" if self.leader.is_none_or(|l| term >= l.term) => {
                self.follows(at, term, node, world);
                false
            }
            "stepped_down" => {
                let Some(l) = self.leader.as_mut() else {
                    return false;
                };
                if !(l.node == node && l.term == term && l.leading) {
                    return false;
                }
                l.leading = false;
                self.begin(at, "stepped down", world);
                true
            }
            _ => false,
        }
    }

    /// `node` follows the leader of `term`: a majority of a higher term
    /// than the lost leader's ends the outage.
    fn follows(&mut self, at: SimTime, term: u64, node: NodeId, world: &World) {
        let nodes = self.following.entry(term).or_default();
        if !nodes.contains(&node) {
            nodes.push(node);
        }
        let count = nodes.len();
        if self.outage.as_ref().is_some_and(|o| term > o.term) && count >= self.majority(world) {
            self.end(at);
        }
    }

    /// A message from `from` delivered to `to`: counts while the lost
    /// leader is back.
    fn on_deliver(&mut self, at: SimTime, from: NodeId, to: NodeId, world: &World) {
        if !self.is_server(to, world) {
            return;
        }
        let majority = self.majority(world);
        let Some(outage) = self.outage.as_mut() else {
            return;
        };
        let Some(reached) = outage.back.as_mut().filter(|_| outage.node == from) else {
            return;
        };
        if !reached.contains(&to) {
            reached.push(to);
        }
        if reached.len() >= majority {
            self.end(at);
        }
    }
}

/// True if `cut` removes the edge `from -> to` (as [`crate::net::Topology::cut`] does).
fn blocks(cut: &Cut, from: NodeId, to: NodeId) -> bool {
    match cut {
        Cut::Groups(groups) => {
            let group = |n: NodeId| groups.iter().position(|g| g.contains(&n));
            matches!((group(from), group(to)), (Some(a), Some(b)) if a != b)
        }
        Cut::OneWay { from: f, to: t } => f.contains(&from) && t.contains(&to),
        Cut::Isolate(n) => *n == from || *n == to,
    }
}

/// `d` rounded to the millisecond, from a millisecond up.
fn rounded(d: SimDuration) -> SimDuration {
    const MS: u64 = 1_000_000;
    if d.as_nanos() < MS {
        return d;
    }
    SimDuration((d.as_nanos() + MS / 2) / MS * MS)
}

impl Checker for Availability {
    fn name(&self) -> &'static str {
        "availability"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let at = event.time;
        match (&event.kind, event.node) {
            (
                EventKind::Fault {
                    fault,
                    applied: true,
                },
                _,
            ) => {
                self.on_fault(at, fault, world);
                self.recheck_same_leader(world);
            }
            (EventKind::Resume, Some(node)) => {
                if let Some(l) = self.leader.as_mut().filter(|l| l.node == node) {
                    l.paused = false;
                    self.recheck_same_leader(world);
                }
            }
            (EventKind::Record(record), Some(node)) => self.on_record(at, node, record, world),
            (EventKind::Deliver { from, .. }, Some(to)) if self.outage.is_some() => {
                self.on_deliver(at, *from, to, world);
            }
            _ => {}
        }
        None
    }

    fn finish(&mut self, end: SimTime, _world: &World) -> Option<Violation> {
        if let Some(outage) = self.outage.take() {
            let so_far = end.saturating_since(outage.start);
            self.unended = Some((outage.start, outage.cause, so_far));
        }
        None
    }

    /// "availability: 2 leader outages, longest 287ms (n2 (leader of term 1) crashed at
    /// 2.000s)", and the one not ended by the end of the run, if any.
    fn note(&self) -> Option<String> {
        let ended = self.outages - u64::from(self.unended.is_some());
        let mut text = match &self.longest {
            _ if self.outages == 0 => "availability: no leader outage".to_string(),
            None => "availability: no leader outage ended".to_string(),
            Some((length, what)) => {
                let s = if ended == 1 { "" } else { "s" };
                format!(
                    "availability: {ended} leader outage{s}, longest {} ({what})",
                    rounded(*length)
                )
            }
        };
        if let Some((start, cause, so_far)) = &self.unended {
            text.push_str(&format!(
                "; 1 not ended by the end of the run: {cause} at {start}, {} so far (not in time_without_leader_s)",
                rounded(*so_far)
            ));
        }
        Some(text)
    }

    /// `availability.time_without_leader_s` (the longest ended outage, if
    /// any ended), `availability.outages` (begun), `availability.unended_outages`
    /// (0 or 1) and `availability.unended_s` (its length so far, if any).
    fn metrics(&self) -> Vec<(String, f64)> {
        let mut metrics = vec![
            ("availability.outages".to_string(), self.outages as f64),
            (
                "availability.unended_outages".to_string(),
                f64::from(u8::from(self.unended.is_some())),
            ),
        ];
        if let Some((length, _)) = &self.longest {
            metrics.push((
                "availability.time_without_leader_s".to_string(),
                length.as_secs_f64(),
            ));
        }
        if let Some((_, _, so_far)) = &self.unended {
            metrics.push(("availability.unended_s".to_string(), so_far.as_secs_f64()));
        }
        metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Five servers n1..n5 and a client c1; node ids from 0.
    fn world() -> World {
        let mut names: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        names.push("c1".into());
        World::new(names)
    }

    fn at(ms: u64, node: Option<u32>, kind: EventKind) -> TraceEvent {
        TraceEvent {
            time: SimTime(ms * 1_000_000),
            node: node.map(NodeId),
            kind,
        }
    }

    fn record(ms: u64, node: u32, kind: &str, term: u64) -> TraceEvent {
        let detail = match kind {
            "follow" => json!({ "term": term, "leader": "?" }),
            _ => json!({ "term": term }),
        };
        let record = Record {
            kind: kind.to_string().into(),
            detail: detail.into(),
        };
        at(ms, Some(node), EventKind::Record(record))
    }

    fn fault(ms: u64, fault: Fault) -> TraceEvent {
        let node = match &fault {
            Fault::Crash(n) | Fault::Pause { node: n, .. } => Some(n.0),
            _ => None,
        };
        let kind = EventKind::Fault {
            fault,
            applied: true,
        };
        at(ms, node, kind)
    }

    fn deliver(ms: u64, from: u32, to: u32) -> TraceEvent {
        let kind = EventKind::Deliver {
            from: NodeId(from),
            msg: ms,
        };
        at(ms, Some(to), kind)
    }

    fn pause(ms: u64, node: u32) -> TraceEvent {
        let duration = SimDuration::from_secs(10);
        fault(
            ms,
            Fault::Pause {
                node: NodeId(node),
                duration,
            },
        )
    }

    fn ids(xs: &[u32]) -> Vec<NodeId> {
        xs.iter().map(|&x| NodeId(x)).collect()
    }

    /// n1 (id 0) leads term 1, followed by everyone, from 100ms.
    fn elected() -> Vec<TraceEvent> {
        let mut events: Vec<TraceEvent> = (0..6)
            .map(|n| at(0, Some(n), EventKind::Start { restart: false }))
            .collect();
        events.push(record(100, 0, "leader", 1));
        events.extend((1..5).map(|n| record(105, n, "follow", 1)));
        events
    }

    /// Feeds the events (and the end at `end_ms`) to a check of 5 servers.
    fn measure(events: &[TraceEvent], end_ms: u64) -> Availability {
        let mut world = world();
        let mut check = Availability::new(5);
        for event in events {
            assert_eq!(check.on_event(event, &world), None, "it never fails a run");
            world.observe(event);
        }
        assert_eq!(check.finish(SimTime(end_ms * 1_000_000), &world), None);
        check
    }

    fn metric(check: &Availability, name: &str) -> Option<f64> {
        let full = format!("availability.{name}");
        check
            .metrics()
            .into_iter()
            .find(|(m, _)| *m == full)
            .map(|(_, v)| v)
    }

    fn seconds(ms: u64) -> Option<f64> {
        Some(SimDuration::from_millis(ms).as_secs_f64())
    }

    #[test]
    fn a_crashed_leader_is_replaced_when_a_majority_follows_the_next() {
        let mut events = elected();
        events.push(fault(1000, Fault::Crash(NodeId(0))));
        // The crashed leader restarts and follows its own old term: no end.
        events.push(fault(1100, Fault::Restart(NodeId(0))));
        events.push(record(1150, 0, "follow", 1));
        events.push(record(1200, 1, "leader", 2));
        events.push(record(1210, 2, "follow", 2));
        events.push(deliver(1212, 1, 3));
        events.push(record(1215, 3, "follow", 2)); // n2, n3, n4: 3 of 5
        events.push(record(1230, 4, "follow", 2));
        let check = measure(&events, 3000);
        assert_eq!(metric(&check, "time_without_leader_s"), seconds(215));
        assert_eq!(metric(&check, "outages"), Some(1.0));
        assert_eq!(metric(&check, "unended_outages"), Some(0.0));
        assert_eq!(metric(&check, "unended_s"), None);
        assert_eq!(
            check.note().unwrap(),
            "availability: 1 leader outage, longest 215ms (n1 (leader of term 1) crashed at 1.000s)"
        );
    }

    #[test]
    fn a_partition_counts_only_when_it_leaves_the_leader_without_a_majority() {
        // The leader keeps three of five: no outage.
        let mut events = elected();
        let keeps = Cut::Groups(vec![ids(&[0, 1, 2]), ids(&[3, 4])]);
        events.push(fault(1000, Fault::Partition(keeps)));
        events.push(fault(1500, Fault::Heal));
        let check = measure(&events, 3000);
        assert_eq!(metric(&check, "outages"), Some(0.0));
        assert_eq!(check.note().unwrap(), "availability: no leader outage");

        // Two of five (the client in neither group): an outage until n3
        // leads term 2 with n4 and n5.
        let mut events = elected();
        let minority = Cut::Groups(vec![ids(&[0, 1]), ids(&[2, 3, 4])]);
        events.push(fault(1000, Fault::Partition(minority)));
        events.push(record(1300, 2, "leader", 2));
        events.push(record(1302, 3, "follow", 2));
        events.push(record(1304, 4, "follow", 2));
        // At the heal the old leader steps down: it no longer leads, nothing new.
        events.push(fault(2000, Fault::Heal));
        events.push(record(2005, 0, "stepped_down", 1));
        let check = measure(&events, 3000);
        assert_eq!(metric(&check, "time_without_leader_s"), seconds(304));
        assert_eq!(metric(&check, "outages"), Some(1.0));

        // A one-way cut into the leader: it can send, never hear back.
        let mut events = elected();
        let deaf = Cut::OneWay {
            from: ids(&[1, 2, 3]),
            to: ids(&[0]),
        };
        events.push(fault(1000, Fault::Partition(deaf)));
        let check = measure(&events, 3000);
        assert_eq!(metric(&check, "unended_outages"), Some(1.0));
        assert_eq!(metric(&check, "unended_s"), seconds(2000));
        assert_eq!(metric(&check, "time_without_leader_s"), None);
    }

    #[test]
    fn a_short_pause_ends_when_the_same_leader_is_heard_by_a_majority_again() {
        let mut events = elected();
        events.push(pause(1000, 0));
        // Sent before the pause, delivered during it: does not count.
        events.push(deliver(1003, 0, 1));
        events.push(deliver(1004, 0, 2));
        events.push(at(1100, Some(0), EventKind::Resume));
        events.push(deliver(1104, 0, 1));
        events.push(deliver(1105, 0, 5)); // the client is not a server
        events.push(deliver(1106, 0, 1)); // n2 again
        events.push(deliver(1108, 0, 3)); // n1, n2, n4: 3 of 5
        let check = measure(&events, 3000);
        assert_eq!(metric(&check, "time_without_leader_s"), seconds(108));
        assert_eq!(metric(&check, "outages"), Some(1.0));
    }

    #[test]
    fn a_long_pause_ends_with_the_next_leader_and_a_resumed_old_leader_changes_nothing() {
        let mut events = elected();
        events.push(pause(1000, 0));
        events.push(record(1250, 1, "leader", 2));
        events.push(record(1252, 2, "follow", 2));
        events.push(record(1253, 3, "follow", 2));
        events.push(at(1400, Some(0), EventKind::Resume));
        events.push(deliver(1402, 0, 1));
        events.push(record(1405, 0, "stepped_down", 1));
        let check = measure(&events, 3000);
        assert_eq!(metric(&check, "time_without_leader_s"), seconds(253));
        assert_eq!(metric(&check, "outages"), Some(1.0));
    }

    #[test]
    fn faults_on_followers_are_not_outages() {
        let mut events = elected();
        events.push(fault(1000, Fault::Crash(NodeId(2))));
        events.push(pause(1100, 3));
        events.push(fault(1200, Fault::Partition(Cut::Isolate(NodeId(4)))));
        events.push(fault(1300, Fault::Partition(Cut::Isolate(NodeId(5)))));
        let check = measure(&events, 3000);
        assert_eq!(metric(&check, "outages"), Some(0.0));
        assert_eq!(metric(&check, "time_without_leader_s"), None);
        // Before any leader, a fault takes no leader out either.
        let check = measure(&[pause(50, 0), fault(60, Fault::Crash(NodeId(1)))], 3000);
        assert_eq!(metric(&check, "outages"), Some(0.0));
    }

    #[test]
    fn an_unended_outage_is_reported_apart_from_the_ended_ones() {
        let mut events = elected();
        events.push(fault(1000, Fault::Partition(Cut::Isolate(NodeId(0)))));
        events.push(record(1400, 1, "leader", 2));
        events.push(record(1401, 2, "follow", 2));
        events.push(record(1402, 3, "follow", 2));
        events.push(fault(2000, Fault::Crash(NodeId(1))));
        let check = measure(&events, 5000);
        assert_eq!(metric(&check, "time_without_leader_s"), seconds(402));
        assert_eq!(metric(&check, "outages"), Some(2.0));
        assert_eq!(metric(&check, "unended_outages"), Some(1.0));
        assert_eq!(metric(&check, "unended_s"), seconds(3000));
        assert_eq!(
            check.note().unwrap(),
            "availability: 1 leader outage, longest 402ms (n1 (leader of term 1) cut off from a majority by isolate at 1.000s); \
             1 not ended by the end of the run: n2 (leader of term 2) crashed at 2.000s, 3s so far (not in time_without_leader_s)"
        );
    }

    #[test]
    fn a_leader_that_steps_down_begins_an_outage_and_a_healed_isolation_can_end_one() {
        // Isolated, then healed before any election: the same leader is back.
        let mut events = elected();
        events.push(fault(1000, Fault::Partition(Cut::Isolate(NodeId(0)))));
        events.push(deliver(1030, 0, 1)); // not back yet
        events.push(fault(1050, Fault::Heal));
        events.push(deliver(1060, 0, 1));
        events.push(deliver(1061, 0, 2));
        // Then it steps down (a disruptive candidate): a second outage.
        events.push(record(2000, 0, "stepped_down", 1));
        events.push(deliver(2001, 0, 1));
        events.push(deliver(2002, 0, 2));
        events.push(record(2300, 4, "leader", 2));
        events.push(record(2310, 1, "follow", 2));
        events.push(record(2320, 2, "follow", 2));
        let check = measure(&events, 3000);
        assert_eq!(metric(&check, "outages"), Some(2.0));
        assert_eq!(metric(&check, "time_without_leader_s"), seconds(320));
        assert!(check.note().unwrap().starts_with("availability: 2 leader outages, longest 320ms (n1 (leader of term 1) stepped down at 2.000s)"));
    }
}
