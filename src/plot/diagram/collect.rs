//! From trace events to the shapes of a space-time diagram: arrows, bands,
//! role spans, interval bars, operation bars and marks, each kept only if
//! it meets the time window.
//!
//! Model-agnostic: it reads the engine's events (sends, deliveries, drops,
//! faults, resumes, knob turns) and a few generic record conventions:
//!
//! | record | detail | drawn as |
//! |---|---|---|
//! | `leader` | `{"term": t}` (optional) | lane in the leader colour, labelled with the term |
//! | `candidate` | `{"term": t}` (optional) | lane in the candidate colour |
//! | `follow`, `follower`, `stepped_down` | `{"term": t}` (optional) | lane in the follower colour |
//! | `op` | `{"process", "type", "f"}` | a bar from invoke to ok / fail / info |
//! | any, via `Ctx::record_interval` | `start_true_ns`, `end_true_ns` | a thin bar over that true interval, named by its kind (e.g. `lease`) |
//! | any the model notes ([`crate::Model::lane_note`]) | | a tick with a short text on the lane, at the record's time |
//!
//! A lane's role is the last one its node recorded about itself; a crash
//! ends it. Spans still open at the end of the run end there.
//!
//! Fault bands come from [`crate::plot::spans`] (the same spans the metric
//! plots draw): a band on each lane a span names, overlapping bands of one
//! kind on one lane merged; a clock jump is a mark.
//!
//! Notes reach the collector as a function ([`NoteFn`], the model's
//! `lane_note` with its type erased), so nothing here knows which model
//! wrote them. A note that repeats the lane's previous note in the window
//! is skipped (it tells nothing new), a text is cut to [`MAX_NOTE_CHARS`],
//! and at most [`MAX_NOTES`] are kept: past that, every other one is let
//! go and only every second one after it is taken (an even sample, in
//! bounded memory); [`Shapes::notes_total`] counts them all.

use crate::engine::{EventKind, TraceEvent};
use crate::fault::Fault;
use crate::node::{Record, OP_RECORD};
use crate::plot::spans::{FaultSpans, Span, SpansHandle};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// A model's lane note for a record (see [`crate::Model::lane_note`]).
pub type NoteFn = Box<dyn Fn(&Record) -> Option<String>>;

/// Notes kept at most (an even sample beyond).
pub const MAX_NOTES: usize = 10_000;

/// The characters of a note kept; the rest is cut.
pub const MAX_NOTE_CHARS: usize = 12;

/// A role a node recorded about itself, shown as its lane's colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `leader`.
    Leader,
    /// `candidate`.
    Candidate,
    /// `follow`, `follower` or `stepped_down`.
    Follower,
}

/// A model's lane role for a record (see [`crate::Model::lane_role`]):
/// the role and, if the record says, its term.
pub type RoleFn = Box<dyn Fn(&Record) -> Option<(Role, Option<u64>)>>;

/// The role a record sets by its kind alone ([`ROLE_RECORDS`], the term
/// from its `term` field): what a model's lane role is unless it says
/// otherwise.
pub fn role_by_kind(record: &Record) -> Option<(Role, Option<u64>)> {
    let (_, role) = ROLE_RECORDS.iter().find(|(k, _)| record.kind == **k)?;
    Some((*role, record.detail.get("term").and_then(|v| v.as_u64())))
}

/// The record kinds that set a lane's role by default (see [`role_by_kind`]).
pub const ROLE_RECORDS: &[(&str, Role)] = &[
    ("leader", Role::Leader),
    ("candidate", Role::Candidate),
    ("follow", Role::Follower),
    ("follower", Role::Follower),
    ("stepped_down", Role::Follower),
];

/// What became of one copy of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Delivered (the first copy).
    Delivered,
    /// A second copy the network made, delivered.
    Duplicate,
    /// Dropped: the arrow ends in a cross at the drop.
    Dropped,
    /// Still travelling when the run ended: drawn to its arrival.
    InFlight,
}

/// One copy of a message: from `from` at `sent` to `to` at `end`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrow {
    /// Sender lane.
    pub from: u32,
    /// Receiver lane.
    pub to: u32,
    /// When it was sent.
    pub sent: SimTime,
    /// When it was delivered or dropped (or will arrive).
    pub end: SimTime,
    /// What became of it.
    pub fate: Fate,
}

/// What a shaded band means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BandKind {
    /// Crashed, until restarted.
    Down,
    /// Paused, until resumed.
    Paused,
    /// On the cut-off side of a partition, until healed or reconnected.
    CutOff,
    /// Links changed by `set_link`, until restored.
    Link,
    /// A knob turned by `set`, until set back.
    Knob,
    /// A loss burst on the whole network (`lane` is `None`).
    LossBurst,
}

/// A shaded stretch of a lane (or of all lanes).
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    /// The lane, or `None` for every lane.
    pub lane: Option<u32>,
    /// What it means.
    pub kind: BandKind,
    /// From.
    pub start: SimTime,
    /// To.
    pub end: SimTime,
    /// A short text drawn inside when it fits.
    pub label: String,
}

/// A stretch of a lane in one role.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleSpan {
    /// The lane.
    pub lane: u32,
    /// The role.
    pub role: Role,
    /// The term, if the record had one.
    pub term: Option<u64>,
    /// From.
    pub start: SimTime,
    /// To.
    pub end: SimTime,
}

/// An interval a node recorded (`Ctx::record_interval`), in true time.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalBar {
    /// The lane.
    pub lane: u32,
    /// The record's kind (e.g. `lease`).
    pub kind: String,
    /// From.
    pub start: SimTime,
    /// To.
    pub end: SimTime,
}

/// How a client operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `ok`.
    Ok,
    /// `fail`: certainly did not happen.
    Fail,
    /// `info`: unknown (e.g. timed out).
    Info,
    /// Still open when the run ended.
    Open,
}

/// A client operation, from invoke to completion.
#[derive(Clone, Debug, PartialEq)]
pub struct OpBar {
    /// The client's lane.
    pub lane: u32,
    /// Invoked.
    pub start: SimTime,
    /// Completed (or the run's end).
    pub end: SimTime,
    /// How it ended.
    pub outcome: Outcome,
    /// The operation's name (`f`).
    pub label: String,
}

/// A moment marked on a lane (a clock jump).
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// The lane.
    pub lane: u32,
    /// When.
    pub time: SimTime,
    /// What, e.g. `clock +500ms`.
    pub label: String,
}

/// A short text a model writes on a lane ([`crate::Model::lane_note`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    /// The lane.
    pub lane: u32,
    /// The record's time.
    pub time: SimTime,
    /// The text (at most [`MAX_NOTE_CHARS`] characters).
    pub text: String,
}

/// Everything to draw, in true time, before the layout.
#[derive(Clone, Debug, Default)]
pub struct Shapes {
    /// Message copies meeting the window, in the order they ended.
    pub arrows: Vec<Arrow>,
    /// Fault bands.
    pub bands: Vec<Band>,
    /// Role spans.
    pub roles: Vec<RoleSpan>,
    /// Recorded intervals.
    pub intervals: Vec<IntervalBar>,
    /// Client operations.
    pub ops: Vec<OpBar>,
    /// Clock jumps.
    pub marks: Vec<Mark>,
    /// Faults meeting the window left out (see [`crate::plot::spans::MAX_SPANS`]).
    pub faults_omitted: u64,
    /// Lane notes in the window, in time order (an even sample beyond
    /// [`MAX_NOTES`]).
    pub notes: Vec<Note>,
    /// Lane notes in the window, kept or not (repeats skipped).
    pub notes_total: usize,
}

/// A message on its way.
struct Pending {
    from: u32,
    to: u32,
    sent: SimTime,
    arrival: SimTime,
    /// Copies still travelling.
    copies: u32,
    /// Copies that ended (delivered or dropped) so far.
    ended: u32,
}

/// Collects [`Shapes`] from trace events, one at a time.
pub struct Collector {
    from: SimTime,
    to: SimTime,
    shapes: Shapes,
    pending: BTreeMap<u64, Pending>,
    /// The faults' spans.
    faults: FaultSpans,
    spans: SpansHandle,
    roles: Vec<Option<(Role, Option<u64>, SimTime)>>,
    ops: BTreeMap<(u32, u64), (SimTime, String)>,
    /// The model's notes, if it has any.
    note_of: Option<NoteFn>,
    role_of: Option<RoleFn>,
    /// Each lane's last note in the window (repeats are skipped).
    last_note: Vec<Option<String>>,
    /// Notes are taken one in `note_stride` (doubled at each thinning).
    note_stride: usize,
}

impl Collector {
    /// A collector for nodes `names`, keeping what meets `[from, to]`.
    pub fn new(names: Vec<String>, from: SimTime, to: SimTime) -> Collector {
        let lanes = names.len();
        let (faults, spans) = FaultSpans::new(names, from, to);
        Collector {
            from,
            to,
            shapes: Shapes::default(),
            pending: BTreeMap::new(),
            faults,
            spans,
            roles: vec![None; lanes],
            ops: BTreeMap::new(),
            note_of: None,
            role_of: None,
            last_note: vec![None; lanes],
            note_stride: 1,
        }
    }

    /// This collector, noting on the lanes what `note_of` says of each
    /// record (the model's [`crate::Model::lane_note`]).
    pub fn with_notes(mut self, note_of: NoteFn) -> Collector {
        self.note_of = Some(note_of);
        self
    }

    /// This collector, colouring lanes by what `role_of` says of each
    /// record (the model's [`crate::Model::lane_role`]); without it, by
    /// [`role_by_kind`].
    pub fn with_roles(mut self, role_of: RoleFn) -> Collector {
        self.role_of = Some(role_of);
        self
    }

    fn meets(&self, start: SimTime, end: SimTime) -> bool {
        start <= self.to && end >= self.from
    }

    /// Takes in one trace event.
    pub fn observe(&mut self, event: &TraceEvent) {
        self.faults.observe(event);
        let t = event.time;
        let lane = event.node.map(|n| n.0);
        match (&event.kind, lane) {
            (
                EventKind::Send {
                    to, msg, arrival, ..
                },
                Some(n),
            ) => {
                let pending = Pending {
                    from: n,
                    to: to.0,
                    sent: t,
                    arrival: *arrival,
                    copies: 1,
                    ended: 0,
                };
                self.pending.insert(*msg, pending);
            }
            (EventKind::Duplicate { msg, arrival, .. }, _) => {
                if let Some(p) = self.pending.get_mut(msg) {
                    p.copies += 1;
                    p.arrival = p.arrival.max(*arrival);
                }
            }
            (EventKind::Deliver { msg, .. }, _) => self.end_copy(*msg, t, false),
            (EventKind::Drop { msg, .. }, _) => self.end_copy(*msg, t, true),
            (
                EventKind::Fault {
                    fault: Fault::Crash(n),
                    applied: true,
                },
                _,
            ) => self.end_role(n.0, t),
            (EventKind::Record(record), Some(n)) => self.record(n, record, t),
            _ => {}
        }
    }

    fn end_copy(&mut self, msg: u64, t: SimTime, dropped: bool) {
        let Some(p) = self.pending.get_mut(&msg) else {
            return;
        };
        let fate = match (dropped, p.ended) {
            (true, _) => Fate::Dropped,
            (false, 0) => Fate::Delivered,
            (false, _) => Fate::Duplicate,
        };
        p.ended += 1;
        let arrow = Arrow {
            from: p.from,
            to: p.to,
            sent: p.sent,
            end: t,
            fate,
        };
        if p.ended >= p.copies {
            self.pending.remove(&msg);
        }
        if self.meets(arrow.sent, arrow.end) {
            self.shapes.arrows.push(arrow);
        }
    }

    fn record(&mut self, n: u32, record: &Record, t: SimTime) {
        let role = match &self.role_of {
            Some(role_of) => role_of(record),
            None => role_by_kind(record),
        };
        if let Some((role, term)) = role {
            self.end_role(n, t);
            self.roles[n as usize] = Some((role, term, t));
        }
        let detail = &record.detail;
        let bounds = (
            detail.get("start_true_ns").and_then(|v| v.as_u64()),
            detail.get("end_true_ns").and_then(|v| v.as_u64()),
        );
        if let (Some(start), Some(end)) = bounds {
            let (start, end) = (SimTime(start), SimTime(end.max(start)));
            if self.meets(start, end) {
                self.shapes.intervals.push(IntervalBar {
                    lane: n,
                    kind: record.kind.to_string(),
                    start,
                    end,
                });
            }
        }
        if record.kind == OP_RECORD {
            self.op(n, detail, t);
        }
        let in_window = self.from <= t && t <= self.to;
        if let Some(text) = self
            .note_of
            .as_ref()
            .filter(|_| in_window)
            .and_then(|f| f(record))
        {
            self.note(n, t, text);
        }
    }

    /// Keeps a note unless it is outside the window or repeats the lane's
    /// last; beyond [`MAX_NOTES`], an even sample.
    fn note(&mut self, lane: u32, time: SimTime, text: String) {
        let last = self.last_note.get_mut(lane as usize);
        let Some(last) = last.filter(|_| self.from <= time && time <= self.to) else {
            return;
        };
        let text: String = text.chars().take(MAX_NOTE_CHARS).collect();
        if text.is_empty() || last.as_deref() == Some(text.as_str()) {
            return;
        }
        *last = Some(text.clone());
        let seen = self.shapes.notes_total;
        self.shapes.notes_total += 1;
        if !seen.is_multiple_of(self.note_stride) {
            return;
        }
        if self.shapes.notes.len() == MAX_NOTES {
            // Keep the even ones of those taken (every `2 * stride`-th seen).
            let mut i = 0;
            self.shapes.notes.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.note_stride *= 2;
            if !seen.is_multiple_of(self.note_stride) {
                return;
            }
        }
        self.shapes.notes.push(Note { lane, time, text });
        debug_assert!(self.shapes.notes.len() <= MAX_NOTES, "notes over the cap");
    }

    fn op(&mut self, n: u32, detail: &serde_json::Value, t: SimTime) {
        let process = detail.get("process").and_then(|v| v.as_u64()).unwrap_or(0);
        let f = detail.get("f").and_then(|v| v.as_str()).unwrap_or("");
        let outcome = match detail.get("type").and_then(|v| v.as_str()) {
            Some("invoke") => {
                self.ops.insert((n, process), (t, f.to_string()));
                return;
            }
            Some("ok") => Outcome::Ok,
            Some("fail") => Outcome::Fail,
            _ => Outcome::Info,
        };
        if let Some((start, label)) = self.ops.remove(&(n, process)) {
            self.push_op(n, start, t, outcome, label);
        }
    }

    fn push_op(
        &mut self,
        lane: u32,
        start: SimTime,
        end: SimTime,
        outcome: Outcome,
        label: String,
    ) {
        if self.meets(start, end) {
            self.shapes.ops.push(OpBar {
                lane,
                start,
                end,
                outcome,
                label,
            });
        }
    }

    fn end_role(&mut self, n: u32, t: SimTime) {
        if let Some((role, term, start)) = self.roles[n as usize].take() {
            if self.meets(start, t) {
                self.shapes.roles.push(RoleSpan {
                    lane: n,
                    role,
                    term,
                    start,
                    end: t,
                });
            }
        }
    }

    /// Ends everything still open at `end` (the run's end) and hands over
    /// the shapes.
    pub fn finish(mut self, end: SimTime) -> Shapes {
        for n in 0..self.roles.len() as u32 {
            self.end_role(n, end);
        }
        let spans = self.spans.finish(end);
        self.shapes.faults_omitted = spans.omitted;
        for span in &spans.spans {
            self.fault_shapes(span);
        }
        merge_bands(&mut self.shapes.bands);
        for ((lane, _), (start, label)) in std::mem::take(&mut self.ops) {
            self.push_op(lane, start, end, Outcome::Open, label);
        }
        for p in std::mem::take(&mut self.pending).into_values() {
            for _ in p.ended..p.copies {
                let arrow = Arrow {
                    from: p.from,
                    to: p.to,
                    sent: p.sent,
                    end: p.arrival.max(p.sent),
                    fate: Fate::InFlight,
                };
                if self.meets(arrow.sent, arrow.end) {
                    self.shapes.arrows.push(arrow);
                }
            }
        }
        self.shapes
    }
}

impl Collector {
    /// A fault span's bands (one per lane it names that meets the window)
    /// or, for a clock jump, its mark.
    fn fault_shapes(&mut self, span: &Span) {
        let kind = match span.kind {
            "crash" => BandKind::Down,
            "pause" => BandKind::Paused,
            "partition" | "one_way" | "isolate" => BandKind::CutOff,
            "set_link" => BandKind::Link,
            "set" => BandKind::Knob,
            "loss_burst" => BandKind::LossBurst,
            "clock_jump" => {
                for lane in span.lanes.iter().flatten() {
                    self.shapes.marks.push(Mark {
                        lane: lane.lane,
                        time: span.start,
                        label: span.short.clone(),
                    });
                }
                return;
            }
            other => {
                debug_assert!(false, "a span of kind {other} has no band");
                return;
            }
        };
        let band = |lane, start, end| Band {
            lane,
            kind,
            start,
            end,
            label: span.short.clone(),
        };
        let bands: Vec<Band> = match &span.lanes {
            None => vec![band(None, span.start, span.end)],
            Some(lanes) => lanes
                .iter()
                .map(|l| band(Some(l.lane), l.start, l.end))
                .collect(),
        };
        for b in bands {
            if self.meets(b.start, b.end) {
                self.shapes.bands.push(b);
            }
        }
    }
}

/// Sorts bands by start and merges those of one kind on one lane that
/// overlap (a node paused again while paused, cut off by two partitions),
/// keeping the first one's label; `set_link` and `set` bands stay apart
/// (each is its own change).
fn merge_bands(bands: &mut Vec<Band>) {
    bands.sort_by_key(|b| (b.start, b.end));
    let mut merged: Vec<Band> = Vec::with_capacity(bands.len());
    for band in bands.drain(..) {
        let mergeable = !matches!(band.kind, BandKind::Link | BandKind::Knob);
        let into = merged.iter_mut().rev().find(|m| {
            mergeable && m.lane == band.lane && m.kind == band.kind && m.end >= band.start
        });
        match into {
            Some(m) => m.end = m.end.max(band.end),
            None => merged.push(band),
        }
    }
    *bands = merged;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{KnobOutcome, KnobTurn};
    use crate::net::{Cut, DropReason};
    use crate::node::NodeId;
    use serde_json::json;
    use std::sync::Arc;

    const MS: u64 = 1_000_000;

    fn ev(ms: u64, node: Option<u32>, kind: EventKind) -> TraceEvent {
        TraceEvent {
            time: SimTime(ms * MS),
            node: node.map(NodeId),
            kind,
        }
    }

    fn send(ms: u64, from: u32, to: u32, msg: u64) -> TraceEvent {
        let kind = EventKind::Send {
            to: NodeId(to),
            msg,
            digest: 0,
            arrival: SimTime((ms + 5) * MS),
            text: None,
        };
        ev(ms, Some(from), kind)
    }

    fn record(ms: u64, node: u32, kind: &str, detail: serde_json::Value) -> TraceEvent {
        let record = Record {
            kind: kind.to_string().into(),
            detail: detail.into(),
        };
        ev(ms, Some(node), EventKind::Record(record))
    }

    fn fault(ms: u64, fault: Fault) -> TraceEvent {
        ev(
            ms,
            None,
            EventKind::Fault {
                fault,
                applied: true,
            },
        )
    }

    fn collect(events: &[TraceEvent], window: (u64, u64), end: u64) -> Shapes {
        let names = (1..=4).map(|i| format!("n{i}")).collect();
        let mut c = Collector::new(names, SimTime(window.0 * MS), SimTime(window.1 * MS));
        events.iter().for_each(|e| c.observe(e));
        c.finish(SimTime(end * MS))
    }

    #[test]
    fn a_duplicated_message_is_two_arrows_and_a_dropped_one_ends_where_it_dropped() {
        let dup = EventKind::Duplicate {
            to: NodeId(1),
            msg: 1,
            arrival: SimTime(9 * MS),
        };
        let drop = EventKind::Drop {
            from: NodeId(0),
            to: NodeId(2),
            msg: 2,
            reason: DropReason::Loss,
        };
        let events = [
            send(1, 0, 1, 1),
            ev(1, Some(0), dup),
            send(1, 0, 2, 2),
            ev(1, None, drop),
            ev(
                6,
                Some(1),
                EventKind::Deliver {
                    from: NodeId(0),
                    msg: 1,
                },
            ),
            ev(
                9,
                Some(1),
                EventKind::Deliver {
                    from: NodeId(0),
                    msg: 1,
                },
            ),
            send(20, 3, 0, 3),
        ];
        let s = collect(&events, (0, 100), 22);
        let fates: Vec<_> = s.arrows.iter().map(|a| (a.fate, a.end.0 / MS)).collect();
        assert_eq!(
            fates,
            vec![
                (Fate::Dropped, 1),
                (Fate::Delivered, 6),
                (Fate::Duplicate, 9),
                (Fate::InFlight, 25),
            ]
        );
    }

    #[test]
    fn faults_become_bands_until_they_end_and_the_window_keeps_what_meets_it() {
        let knob = |ms, restore| {
            let turn = KnobTurn {
                knob: Arc::from("rate"),
                value: 40.0,
                restore,
                outcome: KnobOutcome::Set { previous: 10.0 },
            };
            ev(ms, Some(3), EventKind::Knob(turn))
        };
        let groups = Cut::Groups(vec![vec![NodeId(0)], vec![NodeId(1), NodeId(2)]]);
        let events = [
            fault(1, Fault::Crash(NodeId(0))),
            ev(3, Some(0), EventKind::Start { restart: true }),
            fault(10, Fault::Crash(NodeId(1))),
            ev(12, Some(1), EventKind::Start { restart: true }),
            fault(20, Fault::Partition(groups)),
            // n1 cut off twice over: one band.
            fault(25, Fault::Partition(Cut::Isolate(NodeId(0)))),
            fault(30, Fault::Heal),
            fault(
                31,
                Fault::ClockJump {
                    node: NodeId(2),
                    by_ns: -5 * MS as i64,
                },
            ),
            fault(
                32,
                Fault::Pause {
                    node: NodeId(2),
                    duration: crate::time::SimDuration(4 * MS),
                },
            ),
            ev(36, Some(2), EventKind::Resume),
            fault(
                40,
                Fault::Set {
                    knob: Arc::from("rate"),
                    value: 40.0,
                    nodes: vec![NodeId(3)],
                    duration: Some(crate::time::SimDuration(5 * MS)),
                },
            ),
            knob(40, false),
            knob(45, true),
            fault(50, Fault::Crash(NodeId(3))),
        ];
        let s = collect(&events, (5, 100), 60);
        let bands: Vec<_> = s
            .bands
            .iter()
            .map(|b| (b.lane, b.kind, b.start.0 / MS, b.end.0 / MS))
            .collect();
        assert_eq!(
            bands,
            vec![
                // The first crash ended before the window: left out.
                (Some(1), BandKind::Down, 10, 12),
                // Group {n1} is the smaller side.
                (Some(0), BandKind::CutOff, 20, 30),
                (Some(2), BandKind::Paused, 32, 36),
                (Some(3), BandKind::Knob, 40, 45),
                (Some(3), BandKind::Down, 50, 60),
            ]
        );
        assert_eq!(s.bands[3].label, "rate = 40");
        assert_eq!(s.marks.len(), 1);
        assert_eq!(s.marks[0].label, "clock -5ms");
    }

    /// A collector noting `n<index>` from each `commit` record.
    fn noting(window: (u64, u64)) -> Collector {
        let names = (1..=4).map(|i| format!("n{i}")).collect();
        let note_of: NoteFn = Box::new(|r: &Record| {
            let index = r.detail.get("index")?.as_u64()?;
            (r.kind == "commit").then(|| format!("n{index}"))
        });
        Collector::new(names, SimTime(window.0 * MS), SimTime(window.1 * MS)).with_notes(note_of)
    }

    #[test]
    fn notes_come_from_the_function_in_the_window_without_repeats_and_cut_short() {
        let mut c = noting((5, 50));
        let events = [
            record(1, 0, "commit", json!({"index": 1})), // before the window
            record(6, 0, "commit", json!({"index": 1})),
            record(7, 0, "commit", json!({"index": 1})), // repeats n1 on lane 0
            record(7, 1, "commit", json!({"index": 1})), // another lane
            record(8, 0, "state", json!({"index": 2})),  // not noted
            record(9, 0, "commit", json!({"index": 123_456_789_012_345u64})),
            record(60, 0, "commit", json!({"index": 3})), // after it
        ];
        events.iter().for_each(|e| c.observe(e));
        let s = c.finish(SimTime(70 * MS));
        let notes: Vec<_> = s
            .notes
            .iter()
            .map(|n| (n.lane, n.time.0 / MS, n.text.as_str()))
            .collect();
        assert_eq!(
            notes,
            vec![(0, 6, "n1"), (1, 7, "n1"), (0, 9, "n12345678901")]
        );
        assert_eq!(s.notes_total, 3);
        assert!(notes.iter().all(|n| n.2.chars().count() <= MAX_NOTE_CHARS));
        // Without a function, no notes.
        let s = collect(&events, (0, 100), 70);
        assert!(s.notes.is_empty() && s.notes_total == 0);
    }

    #[test]
    fn notes_beyond_the_cap_are_an_even_sample_in_time_order() {
        let mut c = noting((0, u64::MAX / MS));
        let n = 2 * MAX_NOTES + 500;
        for i in 0..n as u64 {
            c.observe(&record(i, 0, "commit", json!({ "index": i })));
        }
        let s = c.finish(SimTime(n as u64 * MS));
        assert_eq!(s.notes_total, n);
        assert!(s.notes.len() <= MAX_NOTES, "{}", s.notes.len());
        assert!(s.notes.len() > MAX_NOTES / 2, "{}", s.notes.len());
        // Every fourth, from the first to the last stretch of the run.
        let times: Vec<u64> = s.notes.iter().map(|n| n.time.0 / MS).collect();
        assert!(times.windows(2).all(|w| w[1] - w[0] == 4), "evenly spaced");
        assert_eq!(times[0], 0);
        assert!(*times.last().unwrap() >= n as u64 - 4);
    }

    #[test]
    fn faults_beyond_the_cap_are_counted() {
        use crate::plot::spans::MAX_SPANS;
        let jumps: Vec<_> = (0..MAX_SPANS as u64 + 3)
            .map(|ms| {
                let jump = Fault::ClockJump {
                    node: NodeId(1),
                    by_ns: 1,
                };
                fault(ms, jump)
            })
            .collect();
        let s = collect(&jumps, (0, 1000), 1000);
        assert_eq!((s.marks.len(), s.faults_omitted), (MAX_SPANS, 3));
    }

    #[test]
    fn roles_intervals_and_operations_come_from_generic_records() {
        let events = [
            record(1, 0, "leader", json!({"term": 1})),
            record(2, 1, "follow", json!({"term": 1, "leader": "n1"})),
            record(
                3,
                2,
                "lease",
                json!({"start_true_ns": 3 * MS, "end_true_ns": 8 * MS}),
            ),
            record(
                4,
                3,
                OP_RECORD,
                json!({"process": 0, "type": "invoke", "f": "read"}),
            ),
            record(
                7,
                3,
                OP_RECORD,
                json!({"process": 0, "type": "info", "f": "read"}),
            ),
            record(
                8,
                3,
                OP_RECORD,
                json!({"process": 0, "type": "invoke", "f": "write"}),
            ),
            fault(9, Fault::Crash(NodeId(0))),
        ];
        let s = collect(&events, (0, 100), 10);
        let roles: Vec<_> = s
            .roles
            .iter()
            .map(|r| (r.lane, r.role, r.term, r.start.0 / MS, r.end.0 / MS))
            .collect();
        assert_eq!(
            roles,
            vec![
                (0, Role::Leader, Some(1), 1, 9),
                (1, Role::Follower, Some(1), 2, 10),
            ]
        );
        assert_eq!(s.intervals.len(), 1);
        assert_eq!(s.intervals[0].kind, "lease");
        let ops: Vec<_> = s
            .ops
            .iter()
            .map(|o| (o.outcome, o.label.as_str()))
            .collect();
        assert_eq!(ops, vec![(Outcome::Info, "read"), (Outcome::Open, "write")]);
    }
}
