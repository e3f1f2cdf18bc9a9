//! Two-phase commit as a scenario model: `model = "two_pc"` and its
//! `[two_pc]` table.

use super::{
    Atomicity, Coordinator, Participant, TransactionsDecided, TwoPcMsg, TwoPcParams, ATOMICITY,
    KNOWN_BUGS, TRANSACTIONS_DECIDED,
};
use crate::model::{Layout, Model, ModelChecks, OwnCheck, ParamError, Servers, Work};
use crate::models::bugs::Bugs;
use crate::node::{Node, NodeId, Record};
use crate::rng::Probability;
use crate::time::SimDuration;
use serde::Deserialize;

/// A coordinator committing transactions across participants.
#[derive(Clone, Copy, Debug, Default)]
pub struct TwoPcModel;

/// `[two_pc]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoPcTable {
    /// Transactions the coordinator runs (default 20).
    pub transactions: Option<u32>,
    /// Time between two transactions' starts (default 50ms).
    pub every: Option<SimDuration>,
    /// Probability that a participant votes no (default 0.1).
    pub abort_probability: Option<f64>,
    /// How often an in-doubt participant asks the coordinator (default 100ms).
    pub inquiry: Option<SimDuration>,
    /// How long the coordinator waits for the votes before it aborts (default 200ms).
    pub vote_timeout: Option<SimDuration>,
    /// How often the coordinator re-sends an unacknowledged decision (default 100ms).
    pub resend: Option<SimDuration>,
    /// Famous mistakes to make: `["decision_before_sync"]` (default none).
    #[serde(default)]
    pub bugs: Vec<String>,
}

/// The most transactions a scenario may ask for (a bound on a run's work).
pub const MAX_TRANSACTIONS: u32 = 100_000;

fn positive(
    key: &str,
    value: Option<SimDuration>,
    default_ms: u64,
) -> Result<SimDuration, ParamError> {
    let value = value.unwrap_or(SimDuration::from_millis(default_ms));
    if value == SimDuration::ZERO {
        return Err(ParamError::at(key, "must be longer than 0"));
    }
    Ok(value)
}

impl Model for TwoPcModel {
    type Table = TwoPcTable;
    type Params = TwoPcParams;
    type Msg = TwoPcMsg;

    fn name(&self) -> &'static str {
        "two_pc"
    }

    fn about(&self) -> &'static str {
        "two-phase commit with a durable coordinator log and presumed abort; in-doubt participants block while the coordinator is down"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["atomicity", "transactions_decided"],
            default: &["atomicity"],
            always: &["atomicity"],
        }
    }

    fn own_checks(&self) -> Vec<OwnCheck> {
        vec![
            OwnCheck {
                info: ATOMICITY,
                build: |_| Box::new(Atomicity::default()),
            },
            OwnCheck {
                info: TRANSACTIONS_DECIDED,
                build: |setup| Box::new(TransactionsDecided::new(setup.liveness.within)),
            },
        ]
    }

    fn servers(&self) -> Servers {
        Servers {
            min: 3,
            roles: "n1 the coordinator, n2..nN the participants",
        }
    }

    fn bugs(&self) -> &'static [crate::models::bugs::BugInfo] {
        KNOWN_BUGS
    }

    fn roles(&self) -> &'static [&'static str] {
        &["coordinator", "participant"]
    }

    fn params(&self, table: TwoPcTable, layout: &Layout) -> Result<TwoPcParams, ParamError> {
        if layout.servers < 3 {
            return Err(ParamError::table(format!(
                "two_pc needs a coordinator and at least two participants; this scenario has {} servers (set [nodes] count >= 3)",
                layout.servers
            )));
        }
        let transactions = table.transactions.unwrap_or(20);
        if !(1..=MAX_TRANSACTIONS).contains(&transactions) {
            return Err(ParamError::at(
                "transactions",
                format!("{transactions}; expected 1 to {MAX_TRANSACTIONS}"),
            ));
        }
        let abort_probability = Probability::from_f64(table.abort_probability.unwrap_or(0.1))
            .map_err(|e| ParamError::at("abort_probability", e))?;
        Ok(TwoPcParams {
            transactions,
            every: positive("every", table.every, 50)?,
            abort_probability,
            inquiry: positive("inquiry", table.inquiry, 100)?,
            vote_timeout: positive("vote_timeout", table.vote_timeout, 200)?,
            resend: positive("resend", table.resend, 100)?,
            participants: layout.servers as u32 - 1,
            bugs: Bugs::parse(&table.bugs, KNOWN_BUGS)?,
        })
    }

    fn default_liveness(&self, p: &TwoPcParams, _layout: &Layout) -> Option<SimDuration> {
        // A decision needs a vote round, a sync and at most a few re-sends.
        Some(SimDuration::from_nanos(
            (p.vote_timeout.as_nanos() + 10 * p.resend.as_nanos().max(p.inquiry.as_nanos()))
                .max(1_000_000_000),
        ))
    }

    /// Each transaction: a prepare, a vote, a decision and an ack per
    /// participant, each sent and received.
    fn periodic_work(&self, p: &TwoPcParams, _layout: &Layout, copies: f64) -> Vec<Work> {
        let n = f64::from(p.participants);
        vec![Work {
            every: p.every,
            events_per_tick: 2.0 + n * 4.0 * (1.0 + copies),
            what: format!("a transaction across {} participants", p.participants),
        }]
    }

    fn narrate(&self, _params: &TwoPcParams, record: &Record) -> Option<String> {
        let d = &record.detail;
        let tx = d.get("tx").and_then(|t| t.as_u64());
        match record.kind.as_str() {
            "begin" => Some(format!("begins tx {} (logged) and asks for votes", tx?)),
            "prepared" => Some(format!("prepared tx {} (synced): in doubt until told", tx?)),
            "vote" => Some(format!(
                "votes {} on tx {}",
                if d.get("yes")?.as_bool()? {
                    "yes"
                } else {
                    "no"
                },
                tx?
            )),
            "decision" => {
                let commit = d.get("commit")?.as_bool()?;
                let presumed = d.get("presumed").and_then(|p| p.as_bool()) == Some(true);
                Some(format!(
                    "decides {} for tx {}{}",
                    if commit { "COMMIT" } else { "ABORT" },
                    tx?,
                    if presumed {
                        " (presumed: begun, never decided before the crash)"
                    } else {
                        ""
                    }
                ))
            }
            "abort" => Some(format!(
                "aborts tx {}{}",
                tx?,
                match d.get("why").and_then(|w| w.as_str()) {
                    Some("voted no") => " (its own no vote)",
                    _ => "",
                }
            )),
            "recovered" => Some(format!(
                "recovers from its log: {} decisions to re-send, {} undecided transactions aborted",
                d.get("decisions")?.as_u64()?,
                d.get("aborted")?.as_u64()?
            )),
            "in_doubt" => Some(format!(
                "restarts in doubt about {}: asks the coordinator",
                d.get("txs")?
            )),
            _ => None,
        }
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        &["inquire"]
    }

    fn lane_note(&self, _params: &TwoPcParams, record: &Record) -> Option<String> {
        let tx = record.detail.get("tx")?.as_u64()?;
        let letter = match record.kind.as_str() {
            "prepared" => "p",
            "commit" => "C",
            "abort" => "A",
            "decision" => {
                if record.detail.get("commit")?.as_bool()? {
                    "dC"
                } else {
                    "dA"
                }
            }
            _ => return None,
        };
        Some(format!("{letter}{tx}"))
    }

    fn node(&self, params: &TwoPcParams, _layout: &Layout, id: NodeId) -> Box<dyn Node<TwoPcMsg>> {
        if id == super::COORDINATOR {
            Box::new(Coordinator::new(*params))
        } else {
            Box::new(Participant::new(*params))
        }
    }
}
