//! Fault points: crashes placed at protocol-relevant moments, not at random
//! times.
//!
//! A bug that needs a crash in the microseconds between a write and its
//! sync is almost never hit by crashes at uniformly random times. A fault
//! point is a moment the engine can see (a handler that wrote to storage
//! and left the write not yet durable, that sent a message of a kind, that
//! recorded an observation of a kind) or that the model marks itself with
//! [`crate::node::Ctx::maybe_fault_point`] (BUGGIFY-style). When a handler
//! ends at one of the run's points, the engine draws from the run's
//! `"fault_points"` stream and, with the seed's probability, crashes the
//! node right after the handler (its sends have left, its unsynced writes
//! are lost) and restarts it after a downtime drawn from a range.
//!
//! Fault points are off unless a scenario's `[chaos]` names some; off, the
//! engine draws nothing and traces nothing more, so a run is exactly what it
//! was without them. They stop at chaos's `until`, like the rest of chaos.
//!
//! Deliberately not modelled: a crash *inside* a handler, between two of
//! its effects. The engine applies a handler's effects together, so a crash
//! falls between handlers: after its messages left (or, with `[noise]
//! sync`, while they wait behind its disk, and are then never sent).

use crate::node::NodeId;
use crate::rng::{Probability, SimRng};
use crate::time::{SimDuration, SimTime};
use std::fmt;

/// The most crashes fault points make in one run (a zero downtime and a
/// model that writes in `on_start` could otherwise crash forever at one
/// instant).
pub const MAX_POINT_CRASHES: u32 = 10_000;

/// A moment at which a crash may be placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PointKind {
    /// `"after_write"`: a handler wrote to its storage and, when it
    /// returned, some of its writes were not durable (pending, or in a
    /// deferred sync still in flight).
    AfterWrite,
    /// `"after_send"` / `"after_send:KIND"`: a handler sent a message (of
    /// the kind: the leading name of the message's `Debug` text, such as an
    /// enum variant's, `"AppendEntries"`).
    AfterSend(Option<String>),
    /// `"after_record:KIND"`: a handler recorded an observation of the kind
    /// (Raft: `"leader"`).
    AfterRecord(String),
    /// `"point"` / `"point:NAME"`: the model called
    /// [`crate::node::Ctx::maybe_fault_point`] (with that name).
    Model(Option<String>),
}

impl PointKind {
    /// Parses a scenario's spelling; the error says what was expected.
    pub fn parse(text: &str) -> Result<PointKind, String> {
        let (head, tail) = match text.split_once(':') {
            Some((head, tail)) => (head, Some(tail)),
            None => (text, None),
        };
        if tail.is_some_and(|t| t.is_empty() || t.chars().any(char::is_whitespace)) {
            return Err(format!(
                "'{text}' has an empty or spaced name after ':'; expected e.g. \"after_record:leader\""
            ));
        }
        let tail = tail.map(str::to_string);
        match (head, tail) {
            ("after_write", None) => Ok(PointKind::AfterWrite),
            ("after_send", tail) => Ok(PointKind::AfterSend(tail)),
            ("after_record", Some(kind)) => Ok(PointKind::AfterRecord(kind)),
            ("point", tail) => Ok(PointKind::Model(tail)),
            _ => Err(format!(
                "unknown fault point '{text}'; expected \"after_write\", \"after_send\", \
                 \"after_send:KIND\", \"after_record:KIND\", \"point\" or \"point:NAME\""
            )),
        }
    }
}

impl fmt::Display for PointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointKind::AfterWrite => write!(f, "after_write"),
            PointKind::AfterSend(None) => write!(f, "after_send"),
            PointKind::AfterSend(Some(kind)) => write!(f, "after_send:{kind}"),
            PointKind::AfterRecord(kind) => write!(f, "after_record:{kind}"),
            PointKind::Model(None) => write!(f, "point"),
            PointKind::Model(Some(name)) => write!(f, "point:{name}"),
        }
    }
}

/// A scenario's fault points (`[chaos] fault_points` and their knobs).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPointsConfig {
    /// The moments that may crash a node.
    pub kinds: Vec<PointKind>,
    /// The probability that a point crashes its node: fixed when both ends
    /// are equal, else drawn per seed, log-uniformly between them.
    pub probability: (Probability, Probability),
    /// A crashed node restarts after a uniform downtime in this range.
    pub downtime: (SimDuration, SimDuration),
}

impl FaultPointsConfig {
    /// The run's fault points for `seed`: the probability drawn (if a
    /// range) from the seed's `"fault_points"` stream, which the run then
    /// keeps drawing from. `until` ends them; only `victims` (`None`: every
    /// node) are crashed.
    pub fn arm(&self, seed: u64, until: SimTime, victims: Option<&[NodeId]>) -> ArmedPoints {
        let mut rng = SimRng::stream(seed, "fault_points");
        let (low, high) = self.probability;
        let probability = if low == high {
            low
        } else {
            debug_assert!(!low.is_zero() && low < high, "validated range");
            let (a, b) = (libm::log(low.as_f64()), libm::log(high.as_f64()));
            let p = libm::exp(a + (b - a) * rng.unit_open()).clamp(low.as_f64(), high.as_f64());
            Probability::from_f64(p).expect("within a validated range")
        };
        ArmedPoints {
            kinds: self.kinds.clone(),
            probability,
            downtime: self.downtime,
            until,
            victims: victims.map(<[NodeId]>::to_vec),
            rng,
        }
    }
}

/// One run's fault points, as the engine uses them.
#[derive(Clone, Debug)]
pub struct ArmedPoints {
    /// The moments that may crash a node.
    pub kinds: Vec<PointKind>,
    /// This seed's probability that a point crashes its node.
    pub probability: Probability,
    /// A crashed node restarts after a uniform downtime in this range.
    pub downtime: (SimDuration, SimDuration),
    /// No point fires at or after this time.
    pub until: SimTime,
    /// The nodes that may be crashed, in id order (`None`: all).
    pub victims: Option<Vec<NodeId>>,
    /// The run's `"fault_points"` stream.
    pub rng: SimRng,
}

impl ArmedPoints {
    /// True if the model's own points ([`PointKind::Model`]) are among them.
    pub fn wants_model_points(&self) -> bool {
        self.kinds.iter().any(|k| matches!(k, PointKind::Model(_)))
    }

    /// True if `node` may be crashed by a point.
    pub fn may_crash(&self, node: NodeId) -> bool {
        self.victims
            .as_ref()
            .is_none_or(|v| v.binary_search(&node).is_ok())
    }
}

/// What one handler did, as far as fault points care.
pub struct HandlerSummary<'a> {
    /// It wrote to storage and some write was not durable when it returned.
    pub unsynced_write: bool,
    /// The leading names of its messages' `Debug` texts (see
    /// [`message_kind`]); the engine works them out only when some point
    /// asks for a message kind.
    pub sent: &'a [&'a str],
    /// It sent at least one message.
    pub sent_any: bool,
    /// The kinds of its records.
    pub records: &'a [&'a str],
    /// The names it passed to `maybe_fault_point`.
    pub model_points: &'a [String],
}

/// The first of `kinds` the handler reached, if any (in the order given).
pub fn first_hit(kinds: &[PointKind], handler: &HandlerSummary<'_>) -> Option<String> {
    kinds.iter().find_map(|kind| {
        let hit = match kind {
            PointKind::AfterWrite => handler.unsynced_write,
            PointKind::AfterSend(None) => handler.sent_any,
            PointKind::AfterSend(Some(want)) => handler.sent.iter().any(|s| s == want),
            PointKind::AfterRecord(want) => handler.records.iter().any(|r| r == want),
            PointKind::Model(None) => !handler.model_points.is_empty(),
            PointKind::Model(Some(want)) => handler.model_points.iter().any(|p| p == want),
        };
        hit.then(|| match kind {
            PointKind::Model(None) => format!("point:{}", handler.model_points[0]),
            other => other.to_string(),
        })
    })
}

/// The leading name of a `Debug` text: `"AppendEntries"` of
/// `"AppendEntries(AppendEntries { term: 3, .. })"`.
pub fn message_kind(debug: &str) -> &str {
    let end = debug
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(debug.len());
    &debug[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_print_back() {
        for text in [
            "after_write",
            "after_send",
            "after_send:Reply",
            "after_record:leader",
            "point",
            "point:promise",
        ] {
            assert_eq!(PointKind::parse(text).unwrap().to_string(), text);
        }
        for bad in [
            "after_write:x",
            "after_record",
            "crash",
            "point:",
            "point:a b",
        ] {
            assert!(PointKind::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn message_kind_is_the_leading_name() {
        assert_eq!(
            message_kind("AppendEntries(AppendEntries { term: 3 })"),
            "AppendEntries"
        );
        assert_eq!(message_kind("Ping"), "Ping");
        assert_eq!(message_kind("Write { value: 1 }"), "Write");
    }

    #[test]
    fn first_hit_follows_the_listed_order() {
        let kinds = vec![
            PointKind::AfterRecord("leader".into()),
            PointKind::AfterSend(Some("Ack".into())),
            PointKind::Model(None),
        ];
        let points = vec!["promise".to_string()];
        let summary = HandlerSummary {
            unsynced_write: true,
            sent: &["Ack"],
            sent_any: true,
            records: &[],
            model_points: &points,
        };
        assert_eq!(
            first_hit(&kinds, &summary).as_deref(),
            Some("after_send:Ack")
        );
        assert_eq!(
            first_hit(&kinds[2..], &summary).as_deref(),
            Some("point:promise")
        );
        assert_eq!(first_hit(&kinds[..1], &summary), None);
    }

    #[test]
    fn a_probability_range_is_drawn_per_seed_within_it() {
        let config = FaultPointsConfig {
            kinds: vec![PointKind::AfterWrite],
            probability: (
                Probability::from_f64(0.001).unwrap(),
                Probability::from_f64(0.1).unwrap(),
            ),
            downtime: (SimDuration::ZERO, SimDuration::ZERO),
        };
        let drawn: Vec<f64> = (0..200)
            .map(|seed| config.arm(seed, SimTime::MAX, None).probability.as_f64())
            .collect();
        assert!(drawn
            .iter()
            .all(|p| (0.001 - 1e-9..=0.1 + 1e-9).contains(p)));
        // Log-uniform: about half below the geometric middle, 0.01.
        let below = drawn.iter().filter(|p| **p < 0.01).count();
        assert!((70..=130).contains(&below), "{below} of 200 below 0.01");
        let again = config.arm(7, SimTime::MAX, None).probability;
        assert_eq!(again, config.arm(7, SimTime::MAX, None).probability);
    }
}
