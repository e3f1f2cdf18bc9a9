//! The backoff experiment as a scenario model: `model = "backoff"`, its
//! `[backoff]` table and `[workload]` (the clients).

use super::{BackoffMsg, BackoffParams, Client, Server, KNOWN_BUGS};
use crate::model::{Layout, Model, ModelChecks, OwnCheck, ParamError, Servers};
use crate::models::bugs::{BugInfo, Bugs};
use crate::node::{Node, NodeId, Record};
use crate::retry::Backoff;
use crate::time::SimDuration;
use serde::Deserialize;

/// One store with optimistic concurrency, and clients that each make one
/// conditional write, retrying conflicts with a backoff policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct BackoffModel;

/// `[backoff]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffTable {
    /// The clients' backoff, e.g. `{ kind = "full_jitter", base = "1ms", cap = "1s" }`.
    pub policy: Backoff,
    /// The server's time per call, read or write (default 1ms).
    pub service: Option<SimDuration>,
    /// Calls the server handles at once; more wait in arrival order
    /// (default: no limit, the store is never the bottleneck).
    pub workers: Option<u32>,
    /// A client gives up after this many attempts (default 1000).
    pub max_attempts: Option<u32>,
    /// Famous mistakes to make, e.g. `["ok_on_timeout"]` (default none).
    #[serde(default)]
    pub bugs: Vec<String>,
}

/// The most attempts a client may be allowed (a bound on a run's work).
pub const MAX_ATTEMPTS_LIMIT: u32 = 1_000_000;

impl Model for BackoffModel {
    type Table = BackoffTable;
    type Params = BackoffParams;
    type Msg = BackoffMsg;

    fn name(&self) -> &'static str {
        "backoff"
    }

    fn bugs(&self) -> &'static [BugInfo] {
        KNOWN_BUGS
    }

    fn about(&self) -> &'static str {
        "clients racing conditional writes to one store, retrying conflicts with backoff and jitter (AWS, 2015)"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["exactly_once", "service", "goodput_slo"],
            default: &["exactly_once"],
            always: &["exactly_once", "service"],
        }
    }

    fn own_checks(&self) -> Vec<OwnCheck> {
        vec![OwnCheck {
            info: super::EXACTLY_ONCE,
            build: |_| Box::new(super::ExactlyOnce::default()),
        }]
    }

    fn servers(&self) -> Servers {
        Servers {
            min: 1,
            roles: "n1 the store, and no other server; clients c1..cN each write once",
        }
    }

    fn uses_workload(&self) -> bool {
        true
    }

    fn params(&self, table: BackoffTable, layout: &Layout) -> Result<BackoffParams, ParamError> {
        if layout.servers != 1 {
            return Err(ParamError::table(format!(
                "the backoff model has exactly one server, the store; this scenario has {} (set [nodes] count = 1)",
                layout.servers
            )));
        }
        table
            .policy
            .validate()
            .map_err(|e| ParamError::at("policy", e))?;
        let service = table.service.unwrap_or(SimDuration::from_millis(1));
        if service == SimDuration::ZERO {
            return Err(ParamError::at("service", "must be longer than 0"));
        }
        if table.workers == Some(0) {
            return Err(ParamError::at(
                "workers",
                "0; expected at least 1 (or leave it out: no limit)",
            ));
        }
        let max_attempts = table.max_attempts.unwrap_or(1000);
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&max_attempts) {
            return Err(ParamError::at(
                "max_attempts",
                format!("{max_attempts}; expected 1 to {MAX_ATTEMPTS_LIMIT}"),
            ));
        }
        Ok(BackoffParams {
            policy: table.policy,
            service,
            workers: table.workers,
            max_attempts,
            bugs: Bugs::parse(&table.bugs, KNOWN_BUGS)?,
        })
    }

    /// Each client makes one write; a round of conflicts costs every
    /// remaining client a call or two, so the calls grow as N^2 / 2 (the
    /// most, with no backoff: N(N+1) if each round has one winner).
    /// Each call is the client's send, the store's receipt and reply, and
    /// the client's receipt.
    fn client_events(
        &self,
        _params: &BackoffParams,
        layout: &Layout,
        _run: SimDuration,
        copies: f64,
    ) -> Option<f64> {
        let n = f64::from(layout.workload.map_or(0, |w| w.clients));
        Some(n * (n + 4.0) / 2.0 * (1.0 + 2.0 * copies))
    }

    fn narrate(&self, _params: &BackoffParams, record: &Record) -> Option<String> {
        let detail = &record.detail;
        match record.kind.as_str() {
            "write" => Some(format!(
                "{}'s write lands (attempt {}): version {}",
                detail.get("client")?.as_str()?,
                detail.get("attempt")?.as_u64()?,
                detail.get("version")?.as_u64()?
            )),
            "gave_up" => Some(format!(
                "gives up its write after {} attempts (last: {})",
                detail.get("attempts")?.as_u64()?,
                detail.get("last")?.as_str()?
            )),
            _ => None,
        }
    }

    /// The contract's per-call records: far too many to narrate.
    fn quiet_records(&self) -> &'static [&'static str] {
        crate::check::service::QUIET_RECORDS
    }

    fn node(
        &self,
        params: &BackoffParams,
        layout: &Layout,
        id: NodeId,
    ) -> Box<dyn Node<BackoffMsg>> {
        if id.index() < layout.servers {
            Box::new(Server::new(*params))
        } else {
            let workload = layout.workload.expect("the backoff model has clients");
            Box::new(Client::new(*params, workload))
        }
    }
}
