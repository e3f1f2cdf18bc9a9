//! A run's faults as time spans, for the shaded bands behind metric plots.
//!
//! [`FaultBands`] watches a run's trace (through
//! [`crate::scenario::RunOptions::on_event`], as the diagram does) and
//! reads its fault events and turns them into [`FaultBand`]s: a
//! crash lasts until its node restarts, a pause until the node resumes, a
//! partition (groups, one-way, isolate) until the next heal (an isolate
//! also until its node is reconnected), a loss burst until it ends, and a
//! `set` or `set_link` for its duration (without one: until a heal-all for
//! `set_link`, the run's end for `set`). A `heal_all` ends every span still
//! open; what is open when the run ends lasts to the end. A clock jump is an
//! instant (a band of zero length). Heals, restarts and reconnects end
//! spans and are not bands of their own. It knows nothing of any model.
//!
//! At most [`MAX_BANDS`] bands are kept (the earliest); the rest are
//! counted in [`Bands::omitted`].

use crate::engine::{EventKind, TraceEvent};
use crate::fault::Fault;
use crate::net::Cut;
use crate::node::NodeId;
use crate::time::SimTime;
use std::cell::RefCell;
use std::rc::Rc;

/// The most bands kept (a picture with more is unreadable anyway).
pub const MAX_BANDS: usize = 200;

/// One fault's span.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultBand {
    /// When it began.
    pub start: SimTime,
    /// When it ended (equal to `start` for an instant such as a clock jump).
    pub end: SimTime,
    /// The fault's kind as traces spell it (`crash`, `pause`, `set`, ...).
    pub kind: &'static str,
    /// The fault in a few words with node names (`crash n2`).
    pub label: String,
}

/// The bands of a run, in order of their start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bands {
    /// The bands, at most [`MAX_BANDS`].
    pub bands: Vec<FaultBand>,
    /// Bands left out beyond [`MAX_BANDS`].
    pub omitted: u64,
}

/// What ends an open span.
#[derive(Clone, Debug, PartialEq)]
enum Until {
    /// A restart of this node.
    Restart(NodeId),
    /// This node resuming.
    Resume(NodeId),
    /// A heal (or, for an isolate, a reconnect of its node).
    Heal(Option<NodeId>),
    /// The end of a loss burst.
    LossBurstEnd,
    /// A heal-all, or the end of the run.
    HealAll,
    /// The end of the run only.
    End,
}

/// The collector; see [`FaultBands::new`].
pub struct FaultBands(Rc<RefCell<State>>);

/// The other end of a [`FaultBands`]: the bands once the run is over.
pub struct BandsHandle(Rc<RefCell<State>>);

#[derive(Default)]
struct State {
    names: Vec<String>,
    open: Vec<(FaultBand, Until)>,
    done: Bands,
}

impl FaultBands {
    /// A collector for a run of the nodes `names` (fed through
    /// [`FaultBands::into_hook`] or [`FaultBands::observe`]), and the
    /// handle that reads its bands after the run.
    pub fn new(names: Vec<String>) -> (FaultBands, BandsHandle) {
        let state = Rc::new(RefCell::new(State {
            names,
            ..State::default()
        }));
        (FaultBands(Rc::clone(&state)), BandsHandle(state))
    }
}

impl BandsHandle {
    /// The bands of a run that ended at `end` (whether it reached its end
    /// or stopped early): spans still open last until `end`; sorted by start.
    pub fn finish(&self, end: SimTime) -> Bands {
        let mut state = self.0.borrow_mut();
        state.close(end, |_| true);
        let mut bands = std::mem::take(&mut state.done);
        bands
            .bands
            .sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));
        bands
    }
}

impl State {
    fn keep(&mut self, band: FaultBand) {
        debug_assert!(band.start <= band.end, "band ends before it starts");
        if self.done.bands.len() < MAX_BANDS {
            self.done.bands.push(band);
        } else {
            self.done.omitted += 1;
        }
    }

    /// Ends the open spans that `ends` says end, at `time`.
    fn close(&mut self, time: SimTime, ends: impl Fn(&Until) -> bool) {
        let (closed, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|(_, until)| ends(until));
        self.open = open;
        for (mut band, _) in closed {
            band.end = time.max(band.start);
            self.keep(band);
        }
    }

    fn on_fault(&mut self, time: SimTime, fault: &Fault) {
        match fault {
            Fault::Restart(n) => self.close(time, |u| *u == Until::Restart(*n)),
            Fault::Heal => self.close(time, |u| matches!(u, Until::Heal(_))),
            Fault::Reconnect(n) => self.close(time, |u| *u == Until::Heal(Some(*n))),
            Fault::HealAll => self.close(time, |u| *u != Until::End),
            _ => {}
        }
        let until = match fault {
            Fault::Crash(n) => Until::Restart(*n),
            Fault::Pause { node, .. } => Until::Resume(*node),
            Fault::Partition(Cut::Isolate(n)) => Until::Heal(Some(*n)),
            Fault::Partition(_) => Until::Heal(None),
            Fault::LossBurst { .. } => Until::LossBurstEnd,
            Fault::SetLink { duration: None, .. } => Until::HealAll,
            Fault::Set { duration: None, .. } => Until::End,
            Fault::ClockJump { .. }
            | Fault::SetLink {
                duration: Some(_), ..
            }
            | Fault::Set {
                duration: Some(_), ..
            } => {
                // Spans of a known length (zero for a jump).
                let end = SimTime(time.0.saturating_add(fault.length().as_nanos()));
                let band = self.band(time, end, fault);
                self.keep(band);
                return;
            }
            _ => return,
        };
        let band = self.band(time, time, fault);
        self.open.push((band, until));
    }

    fn band(&self, start: SimTime, end: SimTime, fault: &Fault) -> FaultBand {
        FaultBand {
            start,
            end,
            kind: fault.kind(),
            label: fault.describe(&self.names),
        }
    }
}

impl FaultBands {
    /// Sees one trace event of the run.
    pub fn observe(&mut self, event: &TraceEvent) {
        let mut state = self.0.borrow_mut();
        match &event.kind {
            EventKind::Fault {
                fault,
                applied: true,
            } => state.on_fault(event.time, fault),
            EventKind::Resume => {
                if let Some(n) = event.node {
                    state.close(event.time, |u| *u == Until::Resume(n));
                }
            }
            EventKind::LossBurstEnd => state.close(event.time, |u| *u == Until::LossBurstEnd),
            _ => {}
        }
    }

    /// The hook for [`crate::scenario::RunOptions::on_event`].
    pub fn into_hook(mut self) -> crate::scenario::run::EventHook {
        Box::new(move |event| self.observe(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::LinkChange;
    use crate::time::SimDuration;

    fn fault(secs: u64, fault: Fault) -> TraceEvent {
        TraceEvent {
            time: SimTime(secs * 1_000_000_000),
            node: None,
            kind: EventKind::Fault {
                fault,
                applied: true,
            },
        }
    }

    fn spans(events: &[TraceEvent], end_secs: u64) -> Vec<(&'static str, u64, u64)> {
        let names = vec!["n1".into(), "n2".into(), "n3".into()];
        let (mut collector, handle) = FaultBands::new(names);
        for e in events {
            collector.observe(e);
        }
        let end = SimTime(end_secs * 1_000_000_000);
        let bands = handle.finish(end);
        assert_eq!(bands.omitted, 0);
        bands
            .bands
            .iter()
            .map(|b| (b.kind, b.start.0 / 1_000_000_000, b.end.0 / 1_000_000_000))
            .collect()
    }

    #[test]
    fn each_fault_lasts_until_what_ends_it() {
        let (n1, n2, n3) = (NodeId(0), NodeId(1), NodeId(2));
        let secs = SimDuration::from_secs;
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
            TraceEvent {
                time: SimTime(5_000_000_000),
                node: Some(n3),
                kind: EventKind::Resume,
            },
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
            fault(
                9,
                Fault::SetLink {
                    from: vec![n1],
                    to: vec![n2],
                    change: LinkChange::default(),
                    symmetric: true,
                    duration: None,
                },
            ),
            fault(10, Fault::Crash(n2)),
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
        let (mut collector, handle) = FaultBands::new(vec!["n1".into(), "n2".into()]);
        for e in [
            fault(1, Fault::Partition(Cut::Groups(vec![vec![n1], vec![n2]]))),
            fault(2, Fault::Partition(Cut::Isolate(n1))),
            fault(3, Fault::Heal),
        ] {
            collector.observe(&e);
        }
        let bands = handle.finish(SimTime(9_000_000_000));
        let seen: Vec<(&str, &str, u64)> = bands
            .bands
            .iter()
            .map(|b| (b.kind, b.label.as_str(), b.end.0 / 1_000_000_000))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("partition", "partition {n1} | {n2}", 3),
                ("isolate", "isolate n1", 3)
            ]
        );
    }

    #[test]
    fn bands_beyond_the_cap_are_counted() {
        let (mut collector, handle) = FaultBands::new(vec!["n1".into()]);
        for i in 0..MAX_BANDS as u64 + 5 {
            collector.observe(&fault(
                i,
                Fault::ClockJump {
                    node: NodeId(0),
                    by_ns: 1,
                },
            ));
        }
        let bands = handle.finish(SimTime(1_000_000_000_000));
        assert_eq!((bands.bands.len(), bands.omitted), (MAX_BANDS, 5));
    }
}
