//! `zab_agreement`, `zab_total_order` and `zab_primary_order`: Zab's own
//! checks, from the paper's properties, on the servers' `deliver {pos,
//! epoch, counter}` records.
//!
//! One checker, [`Deliveries`], keeps the sequence of transactions
//! delivered at each position (the first server to deliver there fixes
//! it), where each zxid was delivered, and each server's last delivery;
//! each of the three checks reports its own kind of violation:
//! - agreement: a server delivers at position p a transaction other than
//!   the one delivered there before (by anyone);
//! - total order: a server delivers a transaction at a position other than
//!   the one it was delivered at before (a before b here, b before a there);
//! - primary order: along one server's deliveries (since it started) the
//!   zxids do not strictly increase.
//!
//! A restarted server delivers its history again from position 0; that is
//! the same sequence, not a violation.

use super::Zxid;
use crate::check::{CheckInfo, Checker, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// The `zab_agreement` check as the registry lists it.
pub const AGREEMENT: CheckInfo = CheckInfo {
    name: "zab_agreement",
    about: "no two servers deliver different transactions at the same position: every delivered sequence is a prefix of the longest (zab model)",
    severity: Severity::Safety,
    violation: "zab_disagreement",
};

/// The `zab_total_order` check as the registry lists it.
pub const TOTAL_ORDER: CheckInfo = CheckInfo {
    name: "zab_total_order",
    about: "if a server delivers a before b, no server delivers b before a: a transaction has one position (zab model)",
    severity: Severity::Safety,
    violation: "zab_order_broken",
};

/// The `zab_primary_order` check as the registry lists it.
pub const PRIMARY_ORDER: CheckInfo = CheckInfo {
    name: "zab_primary_order",
    about: "each server delivers in increasing zxid order: a leader's proposals in its order, a later epoch's after an earlier's (zab model)",
    severity: Severity::Safety,
    violation: "zab_primary_order_broken",
};

/// Which of the three checks a [`Deliveries`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Property {
    /// `zab_agreement`.
    Agreement,
    /// `zab_total_order`.
    TotalOrder,
    /// `zab_primary_order`.
    PrimaryOrder,
}

impl Property {
    fn info(self) -> CheckInfo {
        match self {
            Property::Agreement => AGREEMENT,
            Property::TotalOrder => TOTAL_ORDER,
            Property::PrimaryOrder => PRIMARY_ORDER,
        }
    }
}

/// The checker behind the three checks.
#[derive(Debug)]
pub struct Deliveries {
    property: Property,
    /// Position -> the zxid delivered there first, by whom and when.
    sequence: Vec<(Zxid, String, SimTime)>,
    /// Zxid -> the position it was delivered at.
    positions: BTreeMap<Zxid, usize>,
    /// Each server's last delivery: position and zxid.
    last: BTreeMap<String, (usize, Zxid)>,
    deliveries: u64,
    reported: bool,
}

impl Deliveries {
    /// A checker for `property`.
    pub fn new(property: Property) -> Deliveries {
        Deliveries {
            property,
            sequence: Vec::new(),
            positions: BTreeMap::new(),
            last: BTreeMap::new(),
            deliveries: 0,
            reported: false,
        }
    }

    fn violation(&self, time: SimTime, nodes: Vec<String>, explanation: String) -> Violation {
        let info = self.property.info();
        Violation {
            name: info.violation.into(),
            check: info.name.into(),
            severity: Severity::Safety,
            time,
            nodes,
            explanation,
        }
    }

    /// Judges one delivery; the violation of this checker's property, if any.
    pub(super) fn deliver(
        &mut self,
        node: &str,
        pos: usize,
        zxid: Zxid,
        time: SimTime,
    ) -> Option<Violation> {
        self.deliveries += 1;
        let mut found = None;
        // Primary order: along this server's deliveries zxids increase (a
        // restart delivers from position 0 again).
        let before = self.last.insert(node.to_string(), (pos, zxid));
        if let Some((last_pos, last_zxid)) = before {
            if pos > last_pos && zxid <= last_zxid && self.property == Property::PrimaryOrder {
                found = Some(self.violation(
                    time,
                    vec![node.to_string()],
                    format!("{node} delivered {zxid} at position {pos} after {last_zxid} at position {last_pos}: zxids must increase along a server's deliveries"),
                ));
            }
        }
        // Total order: one position per transaction.
        match self.positions.get(&zxid) {
            Some(&p) if p != pos && self.property == Property::TotalOrder => {
                let (_, who, when) = &self.sequence[p];
                found = found.or(Some(self.violation(
                    time,
                    vec![node.to_string(), who.clone()],
                    format!("{node} delivered {zxid} at position {pos}, but {who} delivered it at position {p} at {when}: the two order it differently against the transactions between"),
                )));
            }
            Some(_) => {}
            None => {
                self.positions.insert(zxid, pos);
            }
        }
        // Agreement: one transaction per position.
        match self.sequence.get(pos) {
            Some((first, who, when)) if *first != zxid => {
                if self.property == Property::Agreement {
                    found = found.or(Some(self.violation(
                        time,
                        vec![node.to_string(), who.clone()],
                        format!("{node} delivered {zxid} at position {pos}, but {who} delivered {first} there at {when}: their delivered sequences diverge"),
                    )));
                }
            }
            Some(_) => {}
            None => {
                if pos == self.sequence.len() {
                    self.sequence.push((zxid, node.to_string(), time));
                }
            }
        }
        found.filter(|_| !std::mem::replace(&mut self.reported, true))
    }
}

impl Checker for Deliveries {
    fn name(&self) -> &'static str {
        self.property.info().name
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) else {
            return None;
        };
        if record.kind != "deliver" {
            return None;
        }
        let d = &record.detail;
        let pos = d.get("pos")?.as_u64()? as usize;
        let zxid = Zxid {
            epoch: d.get("epoch")?.as_u64()?,
            counter: d.get("counter")?.as_u64()?,
        };
        let name = world.name(node).to_string();
        self.deliver(&name, pos, zxid, event.time)
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }

    fn note(&self) -> Option<String> {
        Some(format!(
            "{} deliveries; {} positions agreed",
            self.deliveries,
            self.sequence.len()
        ))
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        let name = self.property.info().name;
        vec![(format!("{name}.delivered"), self.sequence.len() as f64)]
    }
}
