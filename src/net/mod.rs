//! The simulated network: topology, links, partitions and delivery rules.
//!
//! Topology is a directed petgraph graph over the nodes: an edge `a -> b`
//! means `a` can send to `b` directly; its weight names the [`LinkSpec`]
//! that governs it (latency, loss, duplication, ordering). The default is a
//! full mesh with one spec; zones give intra-zone and inter-zone specs.
//! Messages travel over the direct edge only: there is no multi-hop routing,
//! so a bridge node that sees both sides of a partition does not forward.
//!
//! A partition removes edges; healing restores the base topology. A
//! [`LinkChange`] (the `set_link` fault) changes the settings of some
//! directed links mid-run; a heal keeps them.
//!
//! Delivery rules (the engine applies them):
//! - at send: if the edge `from -> to` is cut, the message is dropped
//!   (reason `partition`); else it is lost with the link's loss probability
//!   (or a loss burst's, whichever applies first); else it is scheduled at
//!   `now + latency`, and a duplicate copy with its own latency is scheduled
//!   with the duplication probability;
//! - in flight: a message already sent is **not** recalled by a partition,
//!   but at arrival the edge must be open again, or it is dropped (reason
//!   `partitioned_in_flight`). A message sent before a heal on an edge that was
//!   cut never existed, so healing resurrects nothing;
//! - FIFO links never reorder: an arrival is clamped to no earlier than the
//!   last arrival scheduled on that directed link (ties keep send order).
//!   On "any" links, reordering comes from latency spread.

pub mod latency;
pub mod topology;

pub use latency::Latency;
pub use topology::{Cut, EdgeChange, Topology, MAX_LINK_SPECS};

use crate::rng::Probability;

/// Whether a link keeps messages in send order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ordering {
    /// First in, first out: never reorders.
    Fifo,
    /// Any order: messages may overtake each other.
    Any,
}

/// The behaviour of one class of links.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    /// One-way latency distribution.
    pub latency: Latency,
    /// Probability that a message is lost.
    pub loss: Probability,
    /// Probability that a message is delivered twice.
    pub duplicate: Probability,
    /// FIFO or any order.
    pub ordering: Ordering,
}

impl Default for LinkSpec {
    /// Uniform 1-10ms, no loss, no duplication, any order.
    fn default() -> Self {
        LinkSpec {
            latency: Latency::Uniform {
                min: crate::time::SimDuration::from_millis(1),
                max: crate::time::SimDuration::from_millis(10),
            },
            loss: Probability::ZERO,
            duplicate: Probability::ZERO,
            ordering: Ordering::Any,
        }
    }
}

/// New settings for some links; `None` keeps a link's current value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkChange {
    /// The new latency distribution.
    pub latency: Option<Latency>,
    /// The new loss probability.
    pub loss: Option<Probability>,
    /// The new duplication probability.
    pub duplicate: Option<Probability>,
}

impl LinkChange {
    /// `spec` with this change applied.
    pub fn applied_to(&self, spec: &LinkSpec) -> LinkSpec {
        LinkSpec {
            latency: self.latency.clone().unwrap_or_else(|| spec.latency.clone()),
            loss: self.loss.unwrap_or(spec.loss),
            duplicate: self.duplicate.unwrap_or(spec.duplicate),
            ordering: spec.ordering,
        }
    }
}

/// Why a message did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The edge was cut when the message was sent.
    Partition,
    /// The edge was cut when the message arrived.
    PartitionedInFlight,
    /// The link lost it.
    Loss,
    /// A loss burst fault lost it.
    LossBurst,
    /// The receiver was crashed when it arrived.
    NodeDown,
}

impl DropReason {
    /// The name used in traces and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Partition => "partition",
            DropReason::PartitionedInFlight => "partitioned_in_flight",
            DropReason::Loss => "loss",
            DropReason::LossBurst => "loss_burst",
            DropReason::NodeDown => "node_down",
        }
    }
}
