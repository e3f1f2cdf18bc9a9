//! The cache as a scenario model: `model = "cache"`, its `[cache]` table
//! and `[workload]` (clients, think, timeout = each read's deadline, keys;
//! `read_fraction` is ignored: every request is a read).

use super::{
    kinds, CacheClient, CacheMsg, CacheParams, CacheServer, Database, Popularity, CACHE, DATABASE,
    KNOWN_BUGS,
};
use crate::model::{KnobInfo, Layout, Model, ModelChecks, ParamError, Servers};
use crate::models::bugs::{BugInfo, Bugs};
use crate::node::{Node, NodeId, Record};
use crate::time::SimDuration;
use serde::Deserialize;
use std::sync::Arc;

/// Clients reading through a cache (`n2`) in front of a database (`n1`).
#[derive(Clone, Copy, Debug, Default)]
pub struct CacheModel;

/// `[cache]`; every key has a default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheTable {
    /// Fetches the database runs at once (default 4).
    pub workers: Option<u32>,
    /// Fetches that may wait in the database's queue; more are shed (default 1000).
    pub queue: Option<u32>,
    /// A fetch's service time at the database, uniform in [shortest, longest] (default ["5ms", "10ms"]).
    pub service: Option<[SimDuration; 2]>,
    /// An entry's time to live, by the cache's clock (default "60s").
    pub ttl: Option<SimDuration>,
    /// Each entry's TTL is uniform in [ttl * (1 - ttl_jitter), ttl]; 0 to below 1 (default 0).
    pub ttl_jitter: Option<f64>,
    /// One database fetch per key in flight; other misses wait for it (default false).
    pub single_flight: Option<bool>,
    /// How long the cache waits for a fetch before answering its waiters with an error (default "1s").
    pub fetch_timeout: Option<SimDuration>,
    /// Load every key at the cache's first start, all with one load time (default false).
    pub prewarm: Option<bool>,
    /// Zipf exponent of key popularity: key k has weight 1/k^zipf; 0 is uniform (default 1).
    pub zipf: Option<f64>,
    /// Famous mistakes to make, e.g. `["ttl_jitter_ignored"]` (default none).
    #[serde(default)]
    pub bugs: Vec<String>,
}

/// The knobs a `set` fault may turn.
const KNOBS: &[KnobInfo] = &[KnobInfo {
    name: "flush",
    nodes: "servers",
    about: "empties the cache (n2) at once, like a restart without the downtime; the value is ignored (give node = \"n2\")",
    min: 0.0,
    max: 1.0,
}];

/// The most database workers (each fetch in service is a map entry and a timer).
const MAX_WORKERS: u32 = 10_000;
/// The longest database queue (memory stays bounded on any input).
const MAX_QUEUE: u32 = 1_000_000;
/// The steepest popularity: past it, every read is of k1 anyway.
const MAX_ZIPF: f64 = 10.0;

fn positive(
    key: &str,
    d: Option<SimDuration>,
    default: SimDuration,
) -> Result<SimDuration, ParamError> {
    match d {
        Some(SimDuration::ZERO) => Err(ParamError::at(key, "0s; expected longer than 0")),
        Some(d) => Ok(d),
        None => Ok(default),
    }
}

fn service(range: Option<[SimDuration; 2]>) -> Result<(SimDuration, SimDuration), ParamError> {
    let [min, max] = range.unwrap_or([SimDuration::from_millis(5), SimDuration::from_millis(10)]);
    if min > max || max == SimDuration::ZERO {
        return Err(ParamError::at(
            "service",
            format!("[{min}, {max}]; expected [shortest, longest], shortest first, longest longer than 0"),
        ));
    }
    Ok((min, max))
}

fn jitter_span(jitter: Option<f64>, ttl: SimDuration) -> Result<SimDuration, ParamError> {
    let j = jitter.unwrap_or(0.0);
    if !(0.0..1.0).contains(&j) {
        return Err(ParamError::at(
            "ttl_jitter",
            format!("{j}; expected a fraction from 0 to below 1 (each TTL is uniform in [ttl * (1 - ttl_jitter), ttl])"),
        ));
    }
    let span = (ttl.as_nanos() as f64 * j) as u64;
    Ok(SimDuration(span.min(ttl.as_nanos().saturating_sub(1))))
}

fn bounded(
    key: &str,
    value: Option<u32>,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ParamError> {
    let v = value.unwrap_or(default);
    if v < min || v > max {
        return Err(ParamError::at(key, format!("{v}; expected {min} to {max}")));
    }
    Ok(v)
}

impl Model for CacheModel {
    type Table = CacheTable;
    type Params = CacheParams;
    type Msg = CacheMsg;

    fn name(&self) -> &'static str {
        "cache"
    }

    fn about(&self) -> &'static str {
        "clients reading through a cache with TTLs in front of a database with limited workers: cold starts, thundering herds, single flight, jittered TTLs"
    }

    /// No existing check judges goodput: the runs are measured from their
    /// records (`done`, `served`, `hit`, `miss`).
    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["service", "recovers", "goodput_slo"],
            default: &[],
            always: &["service"],
        }
    }

    fn servers(&self) -> Servers {
        Servers {
            min: 2,
            roles: "n1 the database, n2 the cache, no other servers",
        }
    }

    fn knobs(&self) -> &'static [KnobInfo] {
        KNOBS
    }

    fn bugs(&self) -> &'static [BugInfo] {
        KNOWN_BUGS
    }

    fn uses_workload(&self) -> bool {
        true
    }

    fn params(&self, table: CacheTable, layout: &Layout) -> Result<CacheParams, ParamError> {
        if layout.servers != 2 {
            return Err(ParamError::table(format!(
                "the cache model has exactly two servers (n1 the database, n2 the cache); this scenario has {}",
                layout.servers
            )));
        }
        let Some(workload) = layout.workload else {
            return Err(ParamError::table(
                "the cache model needs a [workload] table (its clients)",
            ));
        };
        let zipf = table.zipf.unwrap_or(1.0);
        if !(0.0..=MAX_ZIPF).contains(&zipf) {
            return Err(ParamError::at(
                "zipf",
                format!("{zipf}; expected 0 (uniform) to {MAX_ZIPF}"),
            ));
        }
        let (service_min, service_max) = service(table.service)?;
        let ttl = positive("ttl", table.ttl, SimDuration::from_secs(60))?;
        Ok(CacheParams {
            workers: bounded("workers", table.workers, 4, 1, MAX_WORKERS)?,
            queue: bounded("queue", table.queue, 1000, 0, MAX_QUEUE)?,
            service_min,
            service_max,
            ttl,
            ttl_jitter_span: jitter_span(table.ttl_jitter, ttl)?,
            single_flight: table.single_flight.unwrap_or(false),
            fetch_timeout: positive(
                "fetch_timeout",
                table.fetch_timeout,
                SimDuration::from_secs(1),
            )?,
            prewarm: table.prewarm.unwrap_or(false),
            popularity: Arc::new(Popularity::zipf(workload.keys.max(1), zipf)),
            bugs: Bugs::parse(&table.bugs, KNOWN_BUGS)?,
        })
    }

    /// Two deadlines and a fetch timeout, and a second to spare.
    fn default_liveness(&self, p: &CacheParams, layout: &Layout) -> Option<SimDuration> {
        let timeout = layout.workload.map_or(0, |w| w.timeout.as_nanos());
        Some(SimDuration(
            SimDuration::from_secs(1)
                .as_nanos()
                .saturating_add(timeout.saturating_mul(2))
                .saturating_add(p.fetch_timeout.as_nanos()),
        ))
    }

    /// `cold` and `flush` in words.
    fn narrate(&self, _params: &CacheParams, record: &Record) -> Option<String> {
        match record.kind.as_str() {
            kinds::COLD => Some(
                "comes up empty (a cold cache): every read misses until the database refills it"
                    .to_string(),
            ),
            kinds::FLUSH => {
                let entries = record.detail.get("entries")?.as_u64()?;
                Some(format!("is flushed: {entries} fresh entries dropped"))
            }
            _ => None,
        }
    }

    /// Per request: the clients' `request`, `call`, `done`, the cache's
    /// `hit` and `miss`, the database's `served` and `shed`.
    fn quiet_records(&self) -> &'static [&'static str] {
        &[
            kinds::REQUEST,
            kinds::CALL,
            kinds::DONE,
            kinds::SERVED,
            kinds::SHED,
            kinds::HIT,
            kinds::MISS,
        ]
    }

    fn node(&self, params: &CacheParams, layout: &Layout, id: NodeId) -> Box<dyn Node<CacheMsg>> {
        match id {
            DATABASE => Box::new(Database::new(params)),
            CACHE => Box::new(CacheServer::new(params)),
            _ => {
                let workload = layout.workload.expect("the cache model has clients");
                Box::new(CacheClient::new(workload, Arc::clone(&params.popularity)))
            }
        }
    }
}
