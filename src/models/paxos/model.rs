//! Single-decree Paxos as a scenario model: `model = "paxos"` and its
//! `[paxos]` table.

use super::{
    Agreement, Backoff, Liveness, PaxosMsg, PaxosParams, Server, Validity, KNOWN_BUGS,
    PAXOS_AGREEMENT, PAXOS_LIVENESS, PAXOS_VALIDITY,
};
use crate::model::{Layout, Model, ModelChecks, OwnCheck, ParamError, Servers, Work};
use crate::models::bugs::Bugs;
use crate::node::{Node, NodeId, Record};
use crate::time::SimDuration;
use serde::Deserialize;

/// Proposers, acceptors and learners agreeing on one value.
#[derive(Clone, Copy, Debug, Default)]
pub struct PaxosModel;

/// `[paxos]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaxosTable {
    /// How many of the servers (the first ones) propose (default 1).
    pub proposers: Option<u32>,
    /// `"none"` or `"randomized"` (default): what a preempted proposer does.
    pub backoff: Option<String>,
    /// The least random wait before a retry (default 10ms).
    pub backoff_min: Option<SimDuration>,
    /// The greatest random wait before a retry (default 60ms).
    pub backoff_max: Option<SimDuration>,
    /// How long a proposer waits for a majority in a phase (default 50ms).
    pub timeout: Option<SimDuration>,
    /// How often a learner with nothing learned asks (default 100ms).
    pub ask: Option<SimDuration>,
    /// Proposer i (from 0) starts at i * stagger (default 0).
    pub stagger: Option<SimDuration>,
    /// Famous mistakes to make (default none).
    #[serde(default)]
    pub bugs: Vec<String>,
}

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

impl Model for PaxosModel {
    type Table = PaxosTable;
    type Params = PaxosParams;
    type Msg = PaxosMsg;

    fn name(&self) -> &'static str {
        "paxos"
    }

    fn about(&self) -> &'static str {
        "single-decree Paxos (Paxos Made Simple): durable acceptors, proposers that retry with higher numbers (duelling proposers livelock without backoff)"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["paxos_agreement", "paxos_validity", "paxos_liveness"],
            default: &["paxos_agreement", "paxos_validity", "paxos_liveness"],
            always: &["paxos_agreement", "paxos_validity"],
        }
    }

    fn own_checks(&self) -> Vec<OwnCheck> {
        vec![
            OwnCheck {
                info: PAXOS_AGREEMENT,
                build: |setup| Box::new(Agreement::new(setup.servers)),
            },
            OwnCheck {
                info: PAXOS_VALIDITY,
                build: |_| Box::new(Validity::default()),
            },
            OwnCheck {
                info: PAXOS_LIVENESS,
                build: |setup| Box::new(Liveness::new(setup.liveness, setup.servers)),
            },
        ]
    }

    fn servers(&self) -> Servers {
        Servers {
            min: 3,
            roles: "every server is an acceptor and a learner; n1..nP (P = proposers) also propose, each its own value v-nX (fault targets: @proposer for those, @acceptor for the rest)",
        }
    }

    fn roles(&self) -> &'static [&'static str] {
        &["proposer", "acceptor"]
    }

    fn bugs(&self) -> &'static [crate::models::bugs::BugInfo] {
        KNOWN_BUGS
    }

    fn params(&self, table: PaxosTable, layout: &Layout) -> Result<PaxosParams, ParamError> {
        if layout.servers < 3 {
            return Err(ParamError::table(format!(
                "paxos needs at least three servers (acceptors); this scenario has {} (set [nodes] count >= 3)",
                layout.servers
            )));
        }
        let servers = layout.servers as u32;
        let proposers = table.proposers.unwrap_or(1);
        if !(1..=servers).contains(&proposers) {
            return Err(ParamError::at(
                "proposers",
                format!("{proposers}; expected 1 to {servers} (the servers)"),
            ));
        }
        let backoff = match table.backoff.as_deref().unwrap_or("randomized") {
            "none" => Backoff::None,
            "randomized" => Backoff::Randomized,
            other => {
                return Err(ParamError::at(
                    "backoff",
                    format!("'{other}'; expected \"none\" or \"randomized\""),
                ))
            }
        };
        let backoff_min = positive("backoff_min", table.backoff_min, 10)?;
        let backoff_max = positive("backoff_max", table.backoff_max, 60)?;
        if backoff_max < backoff_min {
            return Err(ParamError::at(
                "backoff_max",
                "must be at least backoff_min",
            ));
        }
        Ok(PaxosParams {
            servers,
            proposers,
            backoff,
            backoff_min,
            backoff_max,
            timeout: positive("timeout", table.timeout, 50)?,
            ask: positive("ask", table.ask, 100)?,
            stagger: table.stagger.unwrap_or(SimDuration::ZERO),
            bugs: Bugs::parse(&table.bugs, KNOWN_BUGS)?,
        })
    }

    fn default_liveness(&self, p: &PaxosParams, _layout: &Layout) -> Option<SimDuration> {
        // A few rounds, each a timeout and a backoff, and an ask.
        let round = p.timeout.as_nanos() + p.backoff_max.as_nanos();
        Some(SimDuration::from_nanos(
            (10 * round + 2 * p.ask.as_nanos()).max(1_000_000_000),
        ))
    }

    /// Each proposer's rounds: a prepare, a promise, an accept and an
    /// accepted to everyone, about once per timeout while it contends.
    fn periodic_work(&self, p: &PaxosParams, _layout: &Layout, copies: f64) -> Vec<Work> {
        let n = f64::from(p.servers);
        let round = f64::from(p.proposers) * (n * 3.0 + n * n) * (1.0 + copies);
        if p.proposers > 1 && p.backoff == Backoff::None {
            // Duelling proposers without backoff may preempt each other for
            // the whole run: a round every timeout.
            vec![Work {
                every: p.timeout,
                events_per_tick: round,
                what: format!(
                    "duelling rounds of {} proposers over {} acceptors",
                    p.proposers, p.servers
                ),
            }]
        } else {
            // One proposer, or backoff: a value is chosen within a round or
            // two and the servers fall quiet (learners that missed it ask);
            // about one round's events per second of the run.
            vec![Work {
                every: SimDuration::from_secs(1),
                events_per_tick: round,
                what: format!(
                    "a round of {} proposers over {} acceptors until one is chosen",
                    p.proposers, p.servers
                ),
            }]
        }
    }

    fn narrate(&self, _params: &PaxosParams, record: &Record) -> Option<String> {
        let d = &record.detail;
        let number = || -> Option<String> {
            Some(format!(
                "({}, n{})",
                d.get("round")?.as_u64()?,
                d.get("by")?.as_u64()? + 1
            ))
        };
        let value = || d.get("value").and_then(|v| v.as_str()).map(String::from);
        match record.kind.as_str() {
            "propose" => Some(format!("wants to propose '{}'", value()?)),
            "prepare" => Some(format!("prepares proposal {}", number()?)),
            "promise" => Some(format!("promises {} (synced)", number()?)),
            "phase2" => Some(format!(
                "has a majority of promises for {}: asks to accept '{}'{}",
                number()?,
                value()?,
                if d.get("adopted")?.as_bool()? {
                    " (adopted from a promise)"
                } else {
                    ""
                }
            )),
            "accepted" => Some(format!("accepts {} = '{}' (synced)", number()?, value()?)),
            "nack" => Some(format!("refuses {}: promised higher", number()?)),
            "learned" => Some(format!("LEARNS '{}' (proposal {})", value()?, number()?)),
            "retry" => Some(format!(
                "preempted ({}): retries after {} ms",
                d.get("why")?.as_str()?,
                d.get("wait_ms")?
            )),
            "recovered" => Some(format!(
                "restarts: promised {}, accepted {}, learned {}",
                d.get("promised")?,
                d.get("accepted")?,
                d.get("learned")?
            )),
            _ => None,
        }
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        &[]
    }

    fn lane_note(&self, _params: &PaxosParams, record: &Record) -> Option<String> {
        let d = &record.detail;
        let round = d.get("round")?.as_u64()?;
        let letter = match record.kind.as_str() {
            "prepare" => "P",
            "promise" => "p",
            "accepted" => "a",
            "learned" => "L",
            _ => return None,
        };
        Some(format!("{letter}{round}"))
    }

    fn node(&self, params: &PaxosParams, _layout: &Layout, id: NodeId) -> Box<dyn Node<PaxosMsg>> {
        Box::new(Server::new(*params, id))
    }
}
