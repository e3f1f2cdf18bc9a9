//! Lease-based leadership as a scenario model: `model = "lease"` and its
//! `[lease]` table.

use super::{LeaseMsg, LeaseParams, KNOWN_BUGS};
use crate::model::{Layout, Model, ModelChecks, ParamError, Servers, Work};
use crate::models::bugs::Bugs;
use crate::node::{Node, NodeId, Record};
use crate::time::SimDuration;
use serde::Deserialize;

/// A lease service, a fenced storage, and candidates.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeaseModel;

/// `[lease]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseTable {
    /// How long a grant lasts.
    pub duration: SimDuration,
    /// How often a holder renews.
    pub renew_interval: SimDuration,
    /// How much a holder subtracts from the lease before it stops acting.
    pub drift_margin: Option<SimDuration>,
    /// Storage rejects writes with older fencing tokens.
    pub fencing: bool,
    /// How often a holder writes to the protected storage (default 100ms).
    pub write_interval: Option<SimDuration>,
    /// Mistakes to switch on (see [`super::KNOWN_BUGS`]; default none).
    #[serde(default)]
    pub bugs: Vec<String>,
}

impl Model for LeaseModel {
    type Table = LeaseTable;
    type Params = LeaseParams;
    type Msg = LeaseMsg;

    fn name(&self) -> &'static str {
        "lease"
    }

    fn about(&self) -> &'static str {
        "lease-based leadership (n1 lease service, n2 fenced storage, n3.. candidates)"
    }

    fn bugs(&self) -> &'static [crate::models::bugs::BugInfo] {
        KNOWN_BUGS
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["lease_exclusivity", "no_lost_update", "progress"],
            default: &["lease_exclusivity", "no_lost_update"],
            always: &[],
        }
    }

    fn servers(&self) -> Servers {
        Servers {
            min: 3,
            roles: "n1 the lease service, n2 the storage, n3.. candidates",
        }
    }

    fn params(&self, l: LeaseTable, _layout: &Layout) -> Result<LeaseParams, ParamError> {
        let lease_duration = l.duration;
        let renew_interval = l.renew_interval;
        if lease_duration == SimDuration::ZERO {
            return Err(ParamError::at("duration", "must be longer than 0"));
        }
        if renew_interval == SimDuration::ZERO || renew_interval >= lease_duration {
            return Err(ParamError::at("renew_interval", format!("{renew_interval}; expected longer than 0 and shorter than the lease ({lease_duration}), or the holder would lose it between renewals")));
        }
        let drift_margin = l.drift_margin.unwrap_or(SimDuration::ZERO);
        if drift_margin >= lease_duration {
            return Err(ParamError::at(
                "drift_margin",
                format!("{drift_margin}; expected shorter than the lease ({lease_duration})"),
            ));
        }
        let write_interval = match l.write_interval {
            Some(SimDuration::ZERO) => {
                return Err(ParamError::at("write_interval", "must be longer than 0"))
            }
            Some(w) => w,
            None => SimDuration::from_millis(100),
        };
        let params = LeaseParams {
            lease_duration,
            renew_interval,
            drift_margin,
            fencing: l.fencing,
            write_interval,
            bugs: Bugs::parse(&l.bugs, KNOWN_BUGS)?,
        };
        params.validate().map_err(ParamError::table)?;
        Ok(params)
    }

    fn default_liveness(&self, p: &LeaseParams, _layout: &Layout) -> Option<SimDuration> {
        Some(SimDuration(p.lease_duration.as_nanos().saturating_mul(3)))
    }

    fn periodic_work(&self, p: &LeaseParams, layout: &Layout, copies: f64) -> Vec<Work> {
        let candidates = (layout.servers as f64 - 2.0).max(0.0);
        vec![
            Work {
                every: p.renew_interval,
                events_per_tick: candidates * (1.0 + 2.0 * copies),
                what: format!("{} candidates renewing", layout.servers.saturating_sub(2)),
            },
            Work {
                every: p.write_interval,
                events_per_tick: 1.0 + 2.0 * copies,
                what: "the holder's writes".to_string(),
            },
        ]
    }

    /// The service's new grants (`n4 t2`: holder and token) and the tokens
    /// of the writes the storage accepts (`w t2`) or refuses (`rej t1`).
    fn lane_note(&self, _params: &LeaseParams, record: &Record) -> Option<String> {
        let token = record.detail.get("token")?.as_u64()?;
        match record.kind.as_str() {
            "lease_granted" if record.detail.get("renewal")?.as_bool() == Some(false) => {
                let holder = record.detail.get("holder")?.as_str()?;
                Some(format!("{holder} t{token}"))
            }
            "storage_write" => Some(format!("w t{token}")),
            "storage_reject" => Some(format!("rej t{token}")),
            _ => None,
        }
    }

    fn node(&self, params: &LeaseParams, _layout: &Layout, id: NodeId) -> Box<dyn Node<LeaseMsg>> {
        super::node(id, *params)
    }
}
