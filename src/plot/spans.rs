//! A run's faults as time spans, read from its trace: the one source of
//! the shaded fault bands of every picture (the metric plots draw each
//! [`Span`] as a labelled band over the whole chart; the space-time diagram
//! draws a band on each lane the span names).
//!
//! [`FaultSpans`] watches a run's trace (through
//! [`crate::scenario::RunOptions::on_event`]) and turns its fault events
//! into spans:
//! - a crash lasts until its node restarts;
//! - a pause until the node resumes (or crashes: a crash ends a pause,
//!   and no resume follows);
//! - a partition (groups, one-way, isolate) lies on its cut-off side (the
//!   isolated node, every group but the largest, a one-way cut's senders)
//!   until the next heal; a reconnect ends it on the reconnected node's lane
//!   (the whole span once no lane is left);
//! - a `set_link` lies on its senders' lanes (and its receivers' if
//!   symmetric) until its links are restored (its duration) or a heal-all;
//! - a `set` lies on each node's lane from the moment that node took the
//!   value until it is set back (its duration), set again, or the node
//!   crashes (a heal-all leaves knobs as they are);
//! - a loss burst covers the whole network (no lanes) until it ends;
//! - a clock jump is an instant (a span of zero length) on its node's lane.
//!
//! A `heal_all` ends every span still open but a `set`'s; what is open when
//! the run ends lasts to the end. Heals, restarts and reconnects end spans
//! and are not spans of their own. It knows nothing of any model.
//!
//! Only spans meeting the window given to [`FaultSpans::new`] are kept, at
//! most [`MAX_SPANS`] of them (the earliest to start); the rest are counted
//! in [`Spans::omitted`].

use crate::engine::{EventKind, KnobOutcome, TraceEvent};
use crate::fault::Fault;
use crate::net::Cut;
use crate::node::NodeId;
use crate::time::{SimDuration, SimTime};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// The most spans kept (a picture with more is unreadable anyway).
pub const MAX_SPANS: usize = 200;

/// A stretch of one lane within a [`Span`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneSpan {
    /// The lane (the node's index).
    pub lane: u32,
    /// When the fault began there.
    pub start: SimTime,
    /// When it ended there.
    pub end: SimTime,
}

/// One fault's span.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// The fault's kind as traces spell it (`crash`, `pause`, `set`, ...).
    pub kind: &'static str,
    /// When the fault happened.
    pub start: SimTime,
    /// When its effect ended everywhere (equal to `start` for an instant
    /// such as a clock jump).
    pub end: SimTime,
    /// The fault in a few words with node names (`crash n2`).
    pub label: String,
    /// A shorter text for a lane's band (`down`, `paused 3s`, `rate = 40`).
    pub short: String,
    /// The lanes it affects, each with its own stretch; `None` for the
    /// whole network (a loss burst).
    pub lanes: Option<Vec<LaneSpan>>,
}

/// The spans of a run, in order of their start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spans {
    /// The spans meeting the window, at most [`MAX_SPANS`].
    pub spans: Vec<Span>,
    /// Spans meeting the window left out beyond [`MAX_SPANS`].
    pub omitted: u64,
}

/// What ends an open span (besides a heal-all, for all but `set`).
#[derive(Clone, Debug, PartialEq)]
enum Until {
    /// A restart of this node.
    Restart(NodeId),
    /// This node resuming (or crashing).
    Resume(NodeId),
    /// A heal; a reconnect ends its lane.
    Heal,
    /// The end of a loss burst.
    LossBurstEnd,
    /// This `set_link` fault's links restored.
    Restored(Fault),
    /// Each lane: a set-back, a new `set` of the knob, or a crash.
    Knob {
        knob: Arc<str>,
        /// Nodes named that have not taken the value yet (a paused one
        /// takes it when it resumes).
        pending: Vec<u32>,
    },
}

/// A span still open: its lanes' stretches (open ones end at
/// [`SimTime::MAX`]).
struct Open {
    span: Span,
    until: Until,
}

/// The watcher; see [`FaultSpans::new`].
pub struct FaultSpans(Rc<RefCell<State>>);

/// The other end of a [`FaultSpans`]: the spans once the run is over.
pub struct SpansHandle(Rc<RefCell<State>>);

struct State {
    names: Vec<String>,
    from: SimTime,
    to: SimTime,
    open: Vec<Open>,
    done: Spans,
}

impl FaultSpans {
    /// A watcher for a run of the nodes `names`, keeping the spans that
    /// meet `[from, to]` (fed through [`FaultSpans::into_hook`] or
    /// [`FaultSpans::observe`]), and the handle that reads them after the run.
    pub fn new(names: Vec<String>, from: SimTime, to: SimTime) -> (FaultSpans, SpansHandle) {
        let state = Rc::new(RefCell::new(State {
            names,
            from,
            to,
            open: Vec::new(),
            done: Spans::default(),
        }));
        (FaultSpans(Rc::clone(&state)), SpansHandle(state))
    }

    /// Sees one trace event of the run.
    pub fn observe(&mut self, event: &TraceEvent) {
        self.0.borrow_mut().observe(event);
    }

    /// The hook for [`crate::scenario::RunOptions::on_event`].
    pub fn into_hook(mut self) -> crate::scenario::run::EventHook {
        Box::new(move |event| self.observe(event))
    }
}

impl SpansHandle {
    /// The spans of a run that ended at `end` (whether it reached its end
    /// or stopped early): what is still open lasts until `end`; sorted by
    /// start.
    pub fn finish(&self, end: SimTime) -> Spans {
        let mut state = self.0.borrow_mut();
        state.close(end, |_| true);
        let mut spans = std::mem::take(&mut state.done);
        spans
            .spans
            .sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));
        spans
    }
}

impl State {
    fn observe(&mut self, event: &TraceEvent) {
        let t = event.time;
        match (&event.kind, event.node) {
            (
                EventKind::Fault {
                    fault,
                    applied: true,
                },
                _,
            ) => self.on_fault(t, fault),
            (EventKind::Start { restart: true }, Some(n)) => {
                self.close(t, |u| *u == Until::Restart(n))
            }
            (EventKind::Resume, Some(n)) => self.close(t, |u| *u == Until::Resume(n)),
            (EventKind::LossBurstEnd, _) => self.close(t, |u| *u == Until::LossBurstEnd),
            (EventKind::LinksRestored { fault }, _) => {
                // The first open span of that fault (the engine restores
                // each in the order it applied them).
                if let Some(i) = self
                    .open
                    .iter()
                    .position(|o| matches!(&o.until, Until::Restored(f) if f == fault))
                {
                    let open = self.open.remove(i);
                    self.keep(open.span, t);
                }
            }
            (EventKind::Knob(turn), Some(n)) => self.on_knob(t, n.0, turn),
            _ => {}
        }
    }

    fn on_fault(&mut self, t: SimTime, fault: &Fault) {
        match fault {
            Fault::Restart(n) => self.close(t, |u| *u == Until::Restart(*n)),
            Fault::Heal => self.close(t, |u| *u == Until::Heal),
            Fault::Reconnect(n) => self.end_lane(t, n.0, |u| *u == Until::Heal),
            Fault::HealAll => self.close(t, |u| !matches!(u, Until::Knob { .. })),
            Fault::Crash(n) => {
                // A crash ends the node's pause and its knobs' values.
                self.close(t, |u| *u == Until::Resume(*n));
                self.end_lane(t, n.0, |u| matches!(u, Until::Knob { .. }));
            }
            _ => {}
        }
        let lane = |n: &NodeId| vec![n.0];
        let (lanes, until, short) = match fault {
            Fault::Crash(n) => (Some(lane(n)), Until::Restart(*n), "down".to_string()),
            Fault::Pause { node, duration } => (
                Some(lane(node)),
                Until::Resume(*node),
                format!("paused {duration}"),
            ),
            Fault::Partition(cut) => (
                Some(cut_side(cut).iter().map(|n| n.0).collect()),
                Until::Heal,
                fault.describe(&self.names),
            ),
            Fault::LossBurst { .. } => (None, Until::LossBurstEnd, fault.describe(&self.names)),
            Fault::SetLink {
                from,
                to,
                symmetric,
                ..
            } => {
                let mut lanes: Vec<u32> = from.iter().map(|n| n.0).collect();
                if *symmetric {
                    lanes.extend(to.iter().map(|n| n.0));
                }
                lanes.sort_unstable();
                lanes.dedup();
                let short = fault.describe(&self.names);
                (Some(lanes), Until::Restored(fault.clone()), short)
            }
            Fault::Set {
                knob, value, nodes, ..
            } => {
                // Lanes join as their nodes take the value.
                let until = Until::Knob {
                    knob: Arc::clone(knob),
                    pending: nodes.iter().map(|n| n.0).collect(),
                };
                (Some(Vec::new()), until, format!("{knob} = {value}"))
            }
            Fault::ClockJump { node, by_ns } => {
                let sign = if *by_ns < 0 { "-" } else { "+" };
                let short = format!("clock {sign}{}", SimDuration(by_ns.unsigned_abs()));
                let span = self.span(t, fault, Some(lane(node)), short);
                self.keep(span, t);
                return;
            }
            _ => return,
        };
        let span = self.span(t, fault, lanes, short);
        self.open.push(Open { span, until });
    }

    fn span(&self, t: SimTime, fault: &Fault, lanes: Option<Vec<u32>>, short: String) -> Span {
        let stretch = |lane| LaneSpan {
            lane,
            start: t,
            end: SimTime::MAX,
        };
        Span {
            kind: fault.kind(),
            start: t,
            end: SimTime::MAX,
            label: fault.describe(&self.names),
            short,
            lanes: lanes.map(|l| l.into_iter().map(stretch).collect()),
        }
    }

    /// A `set`'s knob at node `n`: taken (its lane joins the first open
    /// `set` of that knob waiting for `n`), set back or set again (the lane
    /// holding it ends), or never taken there (no longer waited for).
    fn on_knob(&mut self, t: SimTime, n: u32, turn: &crate::engine::KnobTurn) {
        let is_knob = |u: &Until| matches!(u, Until::Knob { knob, .. } if *knob == turn.knob);
        if let KnobOutcome::Set { .. } = turn.outcome {
            self.end_lane(t, n, is_knob);
        }
        if turn.restore || turn.outcome == KnobOutcome::Held {
            return;
        }
        let waiting = self.open.iter_mut().find(|o| match &o.until {
            Until::Knob { knob, pending } => *knob == turn.knob && pending.contains(&n),
            _ => false,
        });
        let Some(open) = waiting else {
            return;
        };
        if let Until::Knob { pending, .. } = &mut open.until {
            pending.retain(|p| *p != n);
        }
        if let KnobOutcome::Set { .. } = turn.outcome {
            if let Some(lanes) = &mut open.span.lanes {
                lanes.push(LaneSpan {
                    lane: n,
                    start: t,
                    end: SimTime::MAX,
                });
            }
        }
        self.close_finished(t);
    }

    /// Ends lane `n` of the open spans `which` picks; a span with no open
    /// lane left (and none to come) ends.
    fn end_lane(&mut self, t: SimTime, n: u32, which: impl Fn(&Until) -> bool) {
        for open in self.open.iter_mut().filter(|o| which(&o.until)) {
            for stretch in open.span.lanes.iter_mut().flatten() {
                if stretch.lane == n && stretch.end == SimTime::MAX {
                    stretch.end = t.max(stretch.start);
                }
            }
        }
        self.close_finished(t);
    }

    /// Ends the open spans with lanes, all of them ended, and nothing to
    /// wait for.
    fn close_finished(&mut self, t: SimTime) {
        self.close(t, |_| false);
    }

    /// Ends the open spans that `ends` says end at `time`, and those whose
    /// lanes have all ended.
    fn close(&mut self, time: SimTime, ends: impl Fn(&Until) -> bool) {
        let finished = |o: &Open| {
            let lanes = o.span.lanes.as_deref().unwrap_or_default();
            let ended = lanes.iter().all(|l| l.end != SimTime::MAX);
            match &o.until {
                Until::Knob { pending, .. } => pending.is_empty() && ended,
                _ => !lanes.is_empty() && ended,
            }
        };
        let (closed, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|o| ends(&o.until) || finished(o));
        self.open = open;
        for o in closed {
            self.keep(o.span, time);
        }
    }

    /// Ends `span` at `time` (its open lanes too) and keeps it if it meets
    /// the window and the cap allows.
    fn keep(&mut self, mut span: Span, time: SimTime) {
        let mut end = None;
        for stretch in span.lanes.iter_mut().flatten() {
            if stretch.end == SimTime::MAX {
                stretch.end = time.max(stretch.start);
            }
            end = end.max(Some(stretch.end));
        }
        // Without lanes (a loss burst, a `set` no node took): until `time`.
        span.end = end.unwrap_or(time).max(span.start);
        debug_assert!(span.start <= span.end, "a span ends before it starts");
        if span.start > self.to || span.end < self.from {
            return;
        }
        let spans = &mut self.done.spans;
        if spans.len() < MAX_SPANS {
            spans.push(span);
            return;
        }
        // Full: keep the earliest to start.
        self.done.omitted += 1;
        let latest = (0..spans.len())
            .max_by_key(|&i| (spans[i].start, i))
            .expect("MAX_SPANS > 0");
        if span.start < spans[latest].start {
            spans[latest] = span;
        }
    }
}

/// The nodes a cut leaves on the cut-off side: the isolated node, every
/// group but the (first) largest, or the senders of a one-way cut.
pub fn cut_side(cut: &Cut) -> Vec<NodeId> {
    match cut {
        Cut::Isolate(n) => vec![*n],
        Cut::OneWay { from, .. } => from.clone(),
        Cut::Groups(groups) => {
            let largest = groups
                .iter()
                .enumerate()
                .max_by_key(|(i, g)| (g.len(), std::cmp::Reverse(*i)))
                .map(|(i, _)| i);
            groups
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != largest)
                .flat_map(|(_, g)| g.iter().copied())
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::KnobTurn;
    use crate::net::LinkChange;

    const S: u64 = 1_000_000_000;

    fn at(secs: u64, node: Option<u32>, kind: EventKind) -> TraceEvent {
        TraceEvent {
            time: SimTime(secs * S),
            node: node.map(NodeId),
            kind,
        }
    }

    fn fault(secs: u64, fault: Fault) -> TraceEvent {
        let kind = EventKind::Fault {
            fault,
            applied: true,
        };
        at(secs, None, kind)
    }

    fn knob(secs: u64, node: u32, restore: bool, outcome: KnobOutcome) -> TraceEvent {
        let turn = KnobTurn {
            knob: Arc::from("rate"),
            value: 10.0,
            restore,
            outcome,
        };
        at(secs, Some(node), EventKind::Knob(turn))
    }

    fn collect(events: &[TraceEvent], window: (u64, u64), end_secs: u64) -> Spans {
        let names = (1..=4).map(|i| format!("n{i}")).collect();
        let (mut watcher, handle) =
            FaultSpans::new(names, SimTime(window.0 * S), SimTime(window.1 * S));
        for e in events {
            watcher.observe(e);
        }
        handle.finish(SimTime(end_secs * S))
    }

    fn spans(events: &[TraceEvent], end_secs: u64) -> Vec<(&'static str, u64, u64)> {
        let spans = collect(events, (0, u64::MAX / S), end_secs);
        assert_eq!(spans.omitted, 0);
        spans
            .spans
            .iter()
            .map(|b| (b.kind, b.start.0 / S, b.end.0 / S))
            .collect()
    }

    /// Each lane's stretch, in seconds.
    fn lanes(span: &Span) -> Vec<(u32, u64, u64)> {
        let lanes = span.lanes.as_deref().unwrap_or_default();
        lanes
            .iter()
            .map(|l| (l.lane, l.start.0 / S, l.end.0 / S))
            .collect()
    }

    #[test]
    fn each_fault_lasts_until_what_ends_it() {
        let (n1, n2, n3) = (NodeId(0), NodeId(1), NodeId(2));
        let secs = SimDuration::from_secs;
        let set_link = Fault::SetLink {
            from: vec![n1],
            to: vec![n2],
            change: LinkChange::default(),
            symmetric: true,
            duration: None,
        };
        let taken = KnobOutcome::Set { previous: 1.0 };
        let events = [
            fault(1, Fault::Crash(n1)),
            fault(2, Fault::Partition(Cut::Isolate(n2))),
            fault(
                3,
                Fault::Pause {
                    node: n3,
                    duration: secs(2),
                },
            ),
            at(5, Some(2), EventKind::Resume),
            fault(4, Fault::Restart(n1)),
            fault(6, Fault::Reconnect(n2)),
            fault(
                7,
                Fault::ClockJump {
                    node: n1,
                    by_ns: -5,
                },
            ),
            fault(
                8,
                Fault::Set {
                    knob: "rate".into(),
                    value: 10.0,
                    nodes: vec![n1],
                    duration: Some(secs(3)),
                },
            ),
            knob(8, 0, false, taken),
            fault(9, set_link),
            fault(10, Fault::Crash(n2)),
            knob(11, 0, true, taken),
            fault(12, Fault::HealAll),
            fault(13, Fault::Crash(n3)),
        ];
        assert_eq!(
            spans(&events, 20),
            vec![
                ("crash", 1, 4),
                ("isolate", 2, 6),
                ("pause", 3, 5),
                ("clock_jump", 7, 7),
                ("set", 8, 11),
                ("set_link", 9, 12),
                ("crash", 10, 12),
                // Still open when the run ends.
                ("crash", 13, 20),
            ]
        );
    }

    #[test]
    fn a_heal_ends_every_partition_and_labels_name_nodes() {
        let (n1, n2) = (NodeId(0), NodeId(1));
        let events = [
            fault(
                1,
                Fault::Partition(Cut::Groups(vec![vec![n1], vec![n2, NodeId(2), NodeId(3)]])),
            ),
            fault(2, Fault::Partition(Cut::Isolate(n1))),
            fault(3, Fault::Heal),
        ];
        let spans = collect(&events, (0, 100), 9);
        let seen: Vec<(&str, &str, u64)> = spans
            .spans
            .iter()
            .map(|b| (b.kind, b.label.as_str(), b.end.0 / S))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("partition", "partition {n1} | {n2,n3,n4}", 3),
                ("isolate", "isolate n1", 3)
            ]
        );
        // The smaller side is the cut-off one.
        assert_eq!(lanes(&spans.spans[0]), vec![(0, 1, 3)]);
    }

    #[test]
    fn a_reconnect_ends_its_lane_and_the_span_with_the_last() {
        let groups = Cut::Groups(vec![
            vec![NodeId(0), NodeId(1)],
            vec![NodeId(2), NodeId(3), NodeId(4)],
        ]);
        let names = (1..=5).map(|i| format!("n{i}")).collect();
        let (mut watcher, handle) = FaultSpans::new(names, SimTime::ZERO, SimTime::MAX);
        for e in [
            fault(1, Fault::Partition(groups)),
            fault(2, Fault::Reconnect(NodeId(0))),
            fault(4, Fault::Reconnect(NodeId(1))),
        ] {
            watcher.observe(&e);
        }
        let spans = handle.finish(SimTime(9 * S));
        assert_eq!(spans.spans.len(), 1);
        assert_eq!(spans.spans[0].end, SimTime(4 * S));
        assert_eq!(lanes(&spans.spans[0]), vec![(0, 1, 2), (1, 1, 4)]);
    }

    #[test]
    fn a_crash_ends_the_nodes_pause_and_knobs_and_a_set_lies_where_it_was_taken() {
        let secs = SimDuration::from_secs;
        let taken = KnobOutcome::Set { previous: 1.0 };
        let events = [
            fault(
                1,
                Fault::Set {
                    knob: "rate".into(),
                    value: 10.0,
                    nodes: vec![NodeId(0), NodeId(1), NodeId(2)],
                    duration: None,
                },
            ),
            knob(1, 0, false, taken),
            // n2 is paused: it takes the value when it resumes.
            knob(1, 1, false, KnobOutcome::Held),
            knob(1, 2, false, KnobOutcome::NoSuchKnob),
            fault(
                2,
                Fault::Pause {
                    node: NodeId(3),
                    duration: secs(5),
                },
            ),
            knob(3, 1, false, taken),
            fault(4, Fault::Crash(NodeId(3))),
            fault(6, Fault::Crash(NodeId(0))),
            // A heal-all leaves knobs as they are.
            fault(7, Fault::HealAll),
        ];
        let spans = collect(&events, (0, 100), 10);
        let seen: Vec<_> = spans
            .spans
            .iter()
            .map(|s| (s.kind, s.short.as_str(), lanes(s)))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("set", "rate = 10", vec![(0, 1, 6), (1, 3, 10)]),
                ("pause", "paused 5s", vec![(3, 2, 4)]),
                ("crash", "down", vec![(3, 4, 7)]),
                ("crash", "down", vec![(0, 6, 7)]),
            ]
        );
    }

    #[test]
    fn links_last_until_restored_and_a_loss_burst_covers_every_lane() {
        let link = |symmetric| Fault::SetLink {
            from: vec![NodeId(0)],
            to: vec![NodeId(2), NodeId(3)],
            change: LinkChange::default(),
            symmetric,
            duration: Some(SimDuration::from_secs(2)),
        };
        let burst = Fault::LossBurst {
            probability: crate::rng::Probability::from_f64(0.5).unwrap(),
            duration: SimDuration::from_secs(9),
        };
        let events = [
            fault(1, link(false)),
            fault(2, link(true)),
            fault(2, burst),
            at(3, None, EventKind::LinksRestored { fault: link(false) }),
            // The second change outlives its duration: a heal-all ends it,
            // and the burst.
            fault(5, Fault::HealAll),
        ];
        let spans = collect(&events, (0, 100), 20);
        let seen: Vec<_> = spans
            .spans
            .iter()
            .map(|s| {
                (
                    s.kind,
                    s.start.0 / S,
                    s.end.0 / S,
                    s.lanes.as_ref().map(|_| lanes(s)),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("set_link", 1, 3, Some(vec![(0, 1, 3)])),
                // Ties in the order they ended (here: the order of their faults).
                (
                    "set_link",
                    2,
                    5,
                    Some(vec![(0, 2, 5), (2, 2, 5), (3, 2, 5)])
                ),
                ("loss_burst", 2, 5, None),
            ]
        );
    }

    #[test]
    fn only_spans_meeting_the_window_are_kept() {
        let events = [
            fault(1, Fault::Crash(NodeId(0))),
            fault(3, Fault::Restart(NodeId(0))),
            fault(10, Fault::Crash(NodeId(1))),
            at(12, Some(1), EventKind::Start { restart: true }),
            fault(
                31,
                Fault::ClockJump {
                    node: NodeId(2),
                    by_ns: -5_000_000,
                },
            ),
            fault(50, Fault::Crash(NodeId(3))),
        ];
        let spans = collect(&events, (5, 40), 60);
        let seen: Vec<_> = spans
            .spans
            .iter()
            .map(|s| (s.kind, s.short.as_str(), s.start.0 / S, s.end.0 / S))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("crash", "down", 10, 12),
                ("clock_jump", "clock -5ms", 31, 31)
            ]
        );
    }

    #[test]
    fn spans_beyond_the_cap_are_counted_and_the_earliest_kept() {
        let names = vec!["n1".into()];
        let (mut watcher, handle) = FaultSpans::new(names, SimTime::ZERO, SimTime::MAX);
        // A long pause first, ending last; then many instants.
        watcher.observe(&fault(
            0,
            Fault::Pause {
                node: NodeId(0),
                duration: SimDuration::from_secs(1000),
            },
        ));
        for i in 1..MAX_SPANS as u64 + 5 {
            watcher.observe(&fault(
                i,
                Fault::ClockJump {
                    node: NodeId(0),
                    by_ns: 1,
                },
            ));
        }
        let spans = handle.finish(SimTime(1000 * S));
        assert_eq!((spans.spans.len(), spans.omitted), (MAX_SPANS, 5));
        assert_eq!(spans.spans[0].kind, "pause", "the earliest is kept");
        assert_eq!(
            spans.spans[MAX_SPANS - 1].start,
            SimTime((MAX_SPANS as u64 - 1) * S)
        );
    }
}
