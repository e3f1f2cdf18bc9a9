//! The zones model as a scenario model: `model = "zones"`, its `[zones]`
//! table and `[workload]` (the clients and their timeout).

use super::{
    Balancer, Client, ControlPlane, Server, ZonesMsg, ZonesParams, FIRST_SERVER, KNOWN_BUGS,
};
use crate::model::{KnobInfo, Layout, Model, ModelChecks, ParamError, Work};
use crate::models::bugs::{BugInfo, Bugs};
use crate::node::{Node, NodeId, Record};
use crate::time::SimDuration;
use serde::Deserialize;

/// A service over zones with a balancer and a control plane (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct ZonesModel;

/// `[zones]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZonesTable {
    /// Requests per second each client offers (Poisson arrivals).
    pub rate: f64,
    /// Servers in service from the start, n3 on (default: all of them);
    /// the rest are standby, for the control plane to launch.
    pub active: Option<u32>,
    /// Requests a server works on at once (default 2).
    pub workers: Option<u32>,
    /// Mean time a request takes a worker, uniform from half to one and a
    /// half of it (default 20ms).
    pub service_time: Option<SimDuration>,
    /// Requests a server lets wait before it sheds (default 100).
    pub queue: Option<u32>,
    /// A request done later than this is not good (default: the
    /// `[workload]` timeout).
    pub deadline: Option<SimDuration>,
    /// How often the balancer checks each server (default 100ms).
    pub health_interval: Option<SimDuration>,
    /// Checks missed in a row that take a server out of rotation (default 3).
    pub unhealthy_after: Option<u32>,
    /// How often the balancer reports the load to the control plane (default 1s).
    pub report_interval: Option<SimDuration>,
    /// Load per server, as a share of its capacity, above which the
    /// control plane launches servers (default 0.75).
    pub target_utilization: Option<f64>,
    /// How long a launched server takes to come into service (default 10s).
    pub provisioning_delay: Option<SimDuration>,
    /// Famous mistakes to make, e.g. `["rotation_needs_control_plane"]` (default none).
    #[serde(default)]
    pub bugs: Vec<String>,
}

const KNOBS: &[KnobInfo] = &[
    KnobInfo {
        name: "rate",
        nodes: "clients",
        about: "requests per second the client offers (Poisson arrivals)",
        min: 0.0,
        max: 100_000.0,
    },
    KnobInfo {
        name: "capacity",
        nodes: "servers",
        about: "a server's workers (requests at once; the balancer and control plane have none)",
        min: 1.0,
        max: 1000.0,
    },
];

/// A duration that must be longer than zero, or its default.
fn positive(
    value: Option<SimDuration>,
    key: &str,
    default: SimDuration,
) -> Result<SimDuration, ParamError> {
    match value {
        Some(SimDuration::ZERO) => Err(ParamError::at(key, "must be longer than 0")),
        Some(d) => Ok(d),
        None => Ok(default),
    }
}

impl Model for ZonesModel {
    type Table = ZonesTable;
    type Params = ZonesParams;
    type Msg = ZonesMsg;

    fn name(&self) -> &'static str {
        "zones"
    }

    fn about(&self) -> &'static str {
        "a service over availability zones: balancer, servers, a control plane that scales out (static stability)"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["service", "recovers", "goodput_slo"],
            default: &[],
            always: &["service"],
        }
    }

    fn servers(&self) -> crate::model::Servers {
        crate::model::Servers {
            min: 3,
            roles: "n1 the balancer, n2 the control plane, n3.. the servers",
        }
    }

    fn roles(&self) -> &'static [&'static str] {
        &[
            "balancer",
            "control_plane",
            "active",
            "standby",
            "provisioning",
        ]
    }

    fn bugs(&self) -> &'static [BugInfo] {
        KNOWN_BUGS
    }

    fn knobs(&self) -> &'static [KnobInfo] {
        KNOBS
    }

    fn uses_workload(&self) -> bool {
        true
    }

    fn params(&self, t: ZonesTable, layout: &Layout) -> Result<ZonesParams, ParamError> {
        let servers = (layout.servers as u32).saturating_sub(FIRST_SERVER);
        let active = t.active.unwrap_or(servers);
        if active == 0 || active > servers {
            return Err(ParamError::at(
                "active",
                format!("{active}; expected 1 to {servers} (the servers n3.. of this scenario)"),
            ));
        }
        let workers = t.workers.unwrap_or(2);
        if !(1..=1000).contains(&workers) {
            return Err(ParamError::at(
                "workers",
                format!("{workers}; expected 1 to 1000"),
            ));
        }
        let queue = t.queue.unwrap_or(100);
        if queue > 1_000_000 {
            return Err(ParamError::at(
                "queue",
                format!("{queue}; expected at most 1000000"),
            ));
        }
        if !(0.0..=100_000.0).contains(&t.rate) {
            return Err(ParamError::at(
                "rate",
                format!("{}; expected 0 to 100000 requests per second", t.rate),
            ));
        }
        let target = t.target_utilization.unwrap_or(0.75);
        if !(target > 0.0 && target <= 1.0) {
            return Err(ParamError::at(
                "target_utilization",
                format!("{target}; expected more than 0, at most 1"),
            ));
        }
        let unhealthy_after = t.unhealthy_after.unwrap_or(3);
        if unhealthy_after == 0 {
            return Err(ParamError::at("unhealthy_after", "expected at least 1"));
        }
        let timeout = layout
            .workload
            .map_or(SimDuration::from_secs(1), |w| w.timeout);
        Ok(ZonesParams {
            active,
            workers,
            service_time: positive(t.service_time, "service_time", SimDuration::from_millis(20))?,
            queue,
            rate: t.rate,
            deadline: positive(t.deadline, "deadline", timeout)?,
            timeout,
            health_interval: positive(
                t.health_interval,
                "health_interval",
                SimDuration::from_millis(100),
            )?,
            unhealthy_after,
            report_interval: positive(
                t.report_interval,
                "report_interval",
                SimDuration::from_secs(1),
            )?,
            target_utilization: target,
            provisioning_delay: positive(
                t.provisioning_delay,
                "provisioning_delay",
                SimDuration::from_secs(10),
            )?,
            bugs: Bugs::parse(&t.bugs, KNOWN_BUGS)?,
        })
    }

    fn periodic_work(&self, p: &ZonesParams, layout: &Layout, copies: f64) -> Vec<Work> {
        let servers = layout.servers.saturating_sub(FIRST_SERVER as usize) as f64;
        vec![Work {
            every: p.health_interval,
            events_per_tick: 1.0 + 2.0 * servers * copies,
            what: format!("health checks of {servers} servers"),
        }]
    }

    /// Open loops at `rate`: each request is the client's send, the
    /// balancer's forward, the server's reply and its relay back.
    fn client_events(
        &self,
        p: &ZonesParams,
        layout: &Layout,
        run: SimDuration,
        copies: f64,
    ) -> Option<f64> {
        let clients = layout.workload.map_or(0, |w| w.clients) as f64;
        Some(clients * p.rate * run.as_secs_f64() * (2.0 + 3.0 * copies))
    }

    fn narrate(&self, p: &ZonesParams, record: &Record) -> Option<String> {
        let d = &record.detail;
        let server = d.get("server").and_then(|s| s.as_str()).unwrap_or("?");
        Some(match record.kind.as_str() {
            "backend_down" => format!(
                "takes {server} out of rotation ({} health checks missed)",
                d.get("missed")?
            ),
            "backend_up" => format!("puts {server} in rotation"),
            "scale_out" => format!(
                "launches {} (offered {:.0}/s needs {} servers; {} in rotation or coming)",
                d.get("launch")?
                    .as_array()?
                    .iter()
                    .filter_map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                d.get("rate")?.as_f64()?,
                d.get("desired")?,
                d.get("have")?
            ),
            "provisioning" => format!("is launched: in service in {}", p.provisioning_delay),
            "in_service" => "comes into service".to_string(),
            _ => return None,
        })
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        crate::check::service::QUIET_RECORDS
    }

    fn node(&self, params: &ZonesParams, layout: &Layout, id: NodeId) -> Box<dyn Node<ZonesMsg>> {
        match id.0 {
            0 => Box::new(Balancer::new(params.clone(), layout.servers)),
            1 => Box::new(ControlPlane::new(params.clone())),
            i if (i as usize) < layout.servers => Box::new(Server::new(
                params.clone(),
                i < FIRST_SERVER + params.active,
            )),
            _ => Box::new(Client::new(params.clone())),
        }
    }
}
