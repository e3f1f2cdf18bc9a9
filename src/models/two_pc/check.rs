//! `atomicity` and `transactions_decided`: two-phase commit's own checks.
//!
//! From the records: the coordinator's `decision {tx, commit}`, the
//! participants' `prepared {tx}`, `commit {tx}` and `abort {tx}`.
//! `atomicity` fails the moment a transaction is both committed and
//! aborted (by two participants, or by a participant against the
//! coordinator's decision), and measures how long participants were in
//! doubt. `transactions_decided` fails at the end if a running participant
//! has been in doubt for longer than the liveness bound.

use crate::check::{CheckInfo, Checker, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// The `atomicity` check as the registry lists it.
pub const ATOMICITY: CheckInfo = CheckInfo {
    name: "atomicity",
    about: "no transaction is committed by one participant and aborted by another or by the coordinator; measures in-doubt time (two_pc model)",
    severity: Severity::Safety,
    violation: "not_atomic",
};

/// The `transactions_decided` check as the registry lists it.
pub const TRANSACTIONS_DECIDED: CheckInfo = CheckInfo {
    name: "transactions_decided",
    about: "at the end, no running participant has been in doubt (prepared, undecided) for longer than the liveness bound (two_pc model)",
    severity: Severity::Liveness,
    violation: "in_doubt_forever",
};

/// One outcome and when and where it was recorded.
#[derive(Clone, Debug)]
struct Seen {
    commit: bool,
    node: String,
    time: SimTime,
}

fn word(commit: bool) -> &'static str {
    if commit {
        "commit"
    } else {
        "abort"
    }
}

/// What the check knows about one transaction.
#[derive(Clone, Debug, Default)]
struct Tx {
    /// The coordinator's decisions, in order (more than one only if it
    /// lost one in a crash).
    decisions: Vec<Seen>,
    /// Each participant's outcome.
    outcomes: BTreeMap<String, Seen>,
}

impl Tx {
    /// An outcome here that contradicts `commit`, if any (a participant's
    /// first, else the coordinator's latest decision).
    fn contradiction(&self, commit: bool, except: &str) -> Option<&Seen> {
        self.outcomes
            .values()
            .find(|o| o.commit != commit && o.node != except)
            .or_else(|| self.decisions.last().filter(|d| d.commit != commit))
    }
}

/// The `atomicity` checker.
#[derive(Debug, Default)]
pub struct Atomicity {
    txs: BTreeMap<u64, Tx>,
    /// (participant, tx) -> when it prepared, until it learns the outcome.
    in_doubt: BTreeMap<(String, u64), SimTime>,
    /// Time in doubt of every resolved prepare, in seconds.
    resolved: Vec<f64>,
    /// Still in doubt at the end.
    at_end: usize,
    /// The longest still-open doubt at the end, in seconds.
    open_max: f64,
    reported: bool,
}

impl Atomicity {
    fn violation(time: SimTime, nodes: Vec<String>, explanation: String) -> Violation {
        Violation {
            name: ATOMICITY.violation.into(),
            check: ATOMICITY.name.into(),
            severity: Severity::Safety,
            time,
            nodes,
            explanation,
        }
    }

    fn on_decision(
        &mut self,
        node: &str,
        tx: u64,
        commit: bool,
        time: SimTime,
    ) -> Option<Violation> {
        let entry = self.txs.entry(tx).or_default();
        let earlier = entry.decisions.last().cloned();
        entry.decisions.push(Seen {
            commit,
            node: node.to_string(),
            time,
        });
        let against = entry
            .outcomes
            .values()
            .find(|o| o.commit != commit)
            .cloned()?;
        let before = match earlier {
            Some(e) if e.commit != commit => format!(
                " (it had decided {} at {}: that decision was lost before it was durable)",
                word(e.commit),
                e.time
            ),
            _ => String::new(),
        };
        Some(Self::violation(
            time,
            vec![node.to_string(), against.node.clone()],
            format!(
                "{node} decided {} for tx {tx} at {time}{before}, but {} had already {} it at {}",
                word(commit),
                against.node,
                if against.commit {
                    "committed"
                } else {
                    "aborted"
                },
                against.time
            ),
        ))
    }

    fn on_outcome(
        &mut self,
        node: &str,
        tx: u64,
        commit: bool,
        time: SimTime,
    ) -> Option<Violation> {
        if let Some(since) = self.in_doubt.remove(&(node.to_string(), tx)) {
            self.resolved
                .push(time.saturating_since(since).as_secs_f64());
        }
        let entry = self.txs.entry(tx).or_default();
        entry.outcomes.insert(
            node.to_string(),
            Seen {
                commit,
                node: node.to_string(),
                time,
            },
        );
        if let Some(against) = entry.contradiction(commit, node).cloned() {
            let (did, other) = if against.commit {
                ("committed", "decided commit")
            } else {
                ("aborted", "decided abort")
            };
            let theirs = if entry.outcomes.contains_key(&against.node) {
                did
            } else {
                other
            };
            return Some(Self::violation(
                time,
                vec![node.to_string(), against.node.clone()],
                format!(
                    "{node} {} tx {tx} at {time}, but {} {theirs} it at {}: half a transaction",
                    if commit { "committed" } else { "aborted" },
                    against.node,
                    against.time
                ),
            ));
        }
        if commit && entry.decisions.is_empty() {
            return Some(Self::violation(
                time,
                vec![node.to_string()],
                format!("{node} committed tx {tx} at {time}, which the coordinator never decided to commit"),
            ));
        }
        None
    }

    /// The coordinator's final decisions: (committed, aborted).
    fn decided(&self) -> (usize, usize) {
        let last = self.txs.values().filter_map(|t| t.decisions.last());
        let commits = last.clone().filter(|d| d.commit).count();
        (commits, last.count() - commits)
    }
}

/// The transactions an `in_doubt {txs}` record lists.
fn txs_of(detail: &serde_json::Value) -> Vec<u64> {
    detail
        .get("txs")
        .and_then(|t| t.as_array())
        .map(|txs| txs.iter().filter_map(|t| t.as_u64()).collect())
        .unwrap_or_default()
}

/// The transaction of a record, if it has one.
fn tx_of(detail: &serde_json::Value) -> Option<u64> {
    detail.get("tx")?.as_u64()
}

impl Checker for Atomicity {
    fn name(&self) -> &'static str {
        ATOMICITY.name
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) else {
            return None;
        };
        let name = world.name(node).to_string();
        if record.kind == "in_doubt" {
            // Restarted prepared: an outcome it recorded but had not made
            // durable is undone, and it is in doubt again from now.
            for tx in txs_of(&record.detail) {
                self.in_doubt
                    .entry((name.clone(), tx))
                    .or_insert(event.time);
            }
            return None;
        }
        let tx = tx_of(&record.detail)?;
        let found = match record.kind.as_str() {
            "prepared" => {
                self.in_doubt.entry((name, tx)).or_insert(event.time);
                None
            }
            "decision" => {
                let commit = record.detail.get("commit")?.as_bool()?;
                self.on_decision(&name, tx, commit, event.time)
            }
            "commit" => self.on_outcome(&name, tx, true, event.time),
            "abort" => self.on_outcome(&name, tx, false, event.time),
            _ => None,
        };
        // One violation per run: the first.
        found.filter(|_| !std::mem::replace(&mut self.reported, true))
    }

    fn finish(&mut self, end: SimTime, _world: &World) -> Option<Violation> {
        self.at_end = self.in_doubt.len();
        self.open_max = self
            .in_doubt
            .values()
            .map(|since| end.saturating_since(*since).as_secs_f64())
            .fold(0.0, f64::max);
        None
    }

    fn note(&self) -> Option<String> {
        let (commits, aborts) = self.decided();
        let max = self.resolved.iter().copied().fold(0.0, f64::max);
        Some(format!(
            "{} transactions decided ({commits} committed, {aborts} aborted); participants in doubt up to {max:.3}s{}",
            commits + aborts,
            if self.at_end > 0 {
                format!(
                    " until told; {} still in doubt at the end (for up to {:.3}s)",
                    self.at_end, self.open_max
                )
            } else {
                String::new()
            }
        ))
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        let (commits, aborts) = self.decided();
        let max = self.resolved.iter().copied().fold(0.0, f64::max);
        let mean = if self.resolved.is_empty() {
            0.0
        } else {
            self.resolved.iter().sum::<f64>() / self.resolved.len() as f64
        };
        vec![
            ("atomicity.committed".into(), commits as f64),
            ("atomicity.aborted".into(), aborts as f64),
            ("atomicity.in_doubt_max_s".into(), max.max(self.open_max)),
            ("atomicity.in_doubt_mean_s".into(), mean),
            ("atomicity.in_doubt_at_end".into(), self.at_end as f64),
        ]
    }
}

/// The `transactions_decided` checker: who prepared what, and when.
#[derive(Debug)]
pub struct TransactionsDecided {
    within: SimDuration,
    /// (participant node, tx) -> when it prepared, until it learns the outcome.
    in_doubt: BTreeMap<(crate::node::NodeId, u64), SimTime>,
}

impl TransactionsDecided {
    /// A checker allowing `within` in doubt (the liveness bound).
    pub fn new(within: SimDuration) -> TransactionsDecided {
        TransactionsDecided {
            within,
            in_doubt: BTreeMap::new(),
        }
    }
}

impl Checker for TransactionsDecided {
    fn name(&self) -> &'static str {
        TRANSACTIONS_DECIDED.name
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) else {
            return None;
        };
        if record.kind == "in_doubt" {
            for tx in txs_of(&record.detail) {
                self.in_doubt.entry((node, tx)).or_insert(event.time);
            }
            return None;
        }
        let tx = tx_of(&record.detail)?;
        match record.kind.as_str() {
            "prepared" => {
                self.in_doubt.entry((node, tx)).or_insert(event.time);
            }
            "commit" | "abort" => {
                self.in_doubt.remove(&(node, tx));
            }
            _ => {}
        }
        None
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        let ((node, tx), since) = self.in_doubt.iter().find(|((node, _), since)| {
            world.status(*node).up && end.saturating_since(**since) > self.within
        })?;
        let name = world.name(*node).to_string();
        Some(Violation {
            name: TRANSACTIONS_DECIDED.violation.into(),
            check: TRANSACTIONS_DECIDED.name.into(),
            severity: Severity::Liveness,
            time: end,
            nodes: vec![name.clone()],
            explanation: format!(
                "{name} prepared tx {tx} at {since} and was still in doubt at the end ({end}), longer than the bound {}",
                self.within
            ),
        })
    }

    fn note(&self) -> Option<String> {
        Some(format!(
            "{} prepared transactions undecided at the end",
            self.in_doubt.len()
        ))
    }
}
