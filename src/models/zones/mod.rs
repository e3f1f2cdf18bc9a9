//! Static stability across availability zones: a service spread over
//! zones keeps serving when one zone is lost only if the other zones
//! already hold the capacity; capacity added on demand comes too late, or
//! never, when the thing that adds it is impaired too.
//!
//! After the AWS Builders' Library article "Static stability using
//! Availability Zones" (Becky Weiss and Mike Furr): a statically stable
//! system keeps working through a zone's loss without making any change,
//! because it does not depend on a control plane (launching instances,
//! changing DNS) during the event. Provisioning each zone for half the
//! load, so that any two of three carry all of it, is what that costs.
//!
//! ```text
//!   c1..cN --Request--> n1 balancer --Forward--> n3.. servers (zones a, b, c)
//!      ^                   |   ^  health checks        |
//!      +------------------ | --+--------- Reply --------+
//!                          | Report (requests/s, healthy, standby)
//!                          v
//!                   n2 control plane --Launch--> a standby server
//!                                                (in service after provisioning_delay)
//! ```
//!
//! - Clients (c1..cN) offer an open loop of requests: Poisson arrivals at
//!   `rate` per second each (a knob: a `set` fault may change it), one call
//!   per request (no retries), a `timeout` per call (the `[workload]`
//!   timeout). A request is good if it succeeds within `deadline`.
//! - The balancer (n1) health-checks every server every `health_interval`
//!   and takes one that misses `unhealthy_after` checks in a row out of
//!   rotation (back at its next answer); it spreads requests round-robin
//!   over the servers in rotation (none: the request fails at once), and
//!   reports the offered load to the control plane every
//!   `report_interval`.
//! - Servers (n3..) do `workers` requests at once, each taking a time
//!   uniform from half to one and a half `service_time`; up to `queue`
//!   more wait, in order; beyond that a request is shed. The first `active` servers are
//!   in service from the start; the others are standby, idle until the
//!   control plane launches them (a knob `capacity` sets a server's
//!   workers).
//! - The control plane (n2) adds capacity on demand: when the offered load
//!   per server (in rotation or being provisioned) is above
//!   `target_utilization` of a server's capacity (`workers /
//!   service_time`) in two reports in a row, it launches as many
//!   reachable standby servers as bring it back under, each in service
//!   `provisioning_delay` later. It never removes capacity.
//!
//! The model knows no zones: the scenarios place servers in zones with
//! `[nodes] zones` (for the latency between zones) and take a zone away
//! with a partition. `scenarios/zones-static.toml` provisions each zone for
//! half the load and loses only the calls sent to the lost zone in the
//! 400ms the balancer takes to notice; `scenarios/zones-on-demand.toml`
//! provisions each zone for a third, with standby servers to launch, and
//! puts the control plane in the zone that is lost: the two remaining
//! zones saturate, their queues fill with requests that will be served
//! too late, nothing scales, and goodput stays down until the zone
//! returns and those queues drain.
//!
//! Records, the retry family's (for the `service` measures): clients
//! `request {id}`, `call {id, attempt}`, `done {id, ok, good, latency_ns,
//! calls, why}` (`why`: ok, timeout, shed, or error when no server is in
//! rotation); servers `served {queue}` and `shed {why,
//! queue}` (too frequent to narrate); the balancer `backend_down {server}`
//! and `backend_up {server}`; the control plane `scale_out {launch, rate,
//! desired, have}`; servers `provisioning {}` and `in_service {}`.
//!
//! What it does not model: retries, deadlines carried to servers, scaling
//! in, the balancer's own zones (it stands for a regional, zonal-redundant
//! balancer that a zone's loss does not impair), DNS.
//!
//! # Famous bugs
//!
//! [`KNOWN_BUGS`] (`bugs = [...]` in `[zones]`):
//! `rotation_needs_control_plane`, static stability broken: the balancer's
//! rotation is a lease the control plane renews (a `Renew` answer to each
//! report, sent only under the bug), and every server leaves it when the
//! lease runs out. `scenarios/zones-bug-rotation_needs_control_plane.toml`
//! teaches it; `zones-static` catches it.

mod balancer;
mod client;
mod control;
mod model;
mod server;
#[cfg(test)]
mod tests;

pub use balancer::Balancer;
pub use client::Client;
pub use control::ControlPlane;
pub use model::{ZonesModel, ZonesTable};
pub use server::Server;

use crate::models::bugs::{BugInfo, Bugs};
use crate::node::NodeId;
use crate::time::SimDuration;

/// The famous mistakes the model can make (`bugs = [...]`).
pub const KNOWN_BUGS: &[BugInfo] = &[BugInfo {
    name: "rotation_needs_control_plane",
    about: "the balancer holds its rotation as a lease the control plane renews on each load report, and takes every server out when the lease runs out (3 report intervals): static stability broken, a control plane that is lost with a zone takes the healthy zones' servers out of service too",
}];

/// Under `rotation_needs_control_plane`: report intervals the balancer's
/// rotation lasts without an answer from the control plane.
pub const ROTATION_LEASE_REPORTS: u64 = 3;

/// The balancer's node.
pub const BALANCER: NodeId = NodeId(0);
/// The control plane's node.
pub const CONTROL_PLANE: NodeId = NodeId(1);
/// The first server's node (n3).
pub const FIRST_SERVER: u32 = 2;

/// The validated `[zones]` parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ZonesParams {
    /// Servers in service from the start (n3..); the others are standby.
    pub active: u32,
    /// Requests a server works on at once.
    pub workers: u32,
    /// Mean time a request takes a worker (uniform from half to one and a half of it).
    pub service_time: SimDuration,
    /// Requests a server lets wait; more are shed.
    pub queue: u32,
    /// Requests per second each client offers.
    pub rate: f64,
    /// A request that succeeds later than this is not good.
    pub deadline: SimDuration,
    /// How long a client waits for a call's reply.
    pub timeout: SimDuration,
    /// How often the balancer checks each server.
    pub health_interval: SimDuration,
    /// Checks missed in a row that take a server out of rotation.
    pub unhealthy_after: u32,
    /// How often the balancer reports the load to the control plane.
    pub report_interval: SimDuration,
    /// The load per server, as a share of its capacity, above which the
    /// control plane launches servers.
    pub target_utilization: f64,
    /// How long a launched server takes to come into service.
    pub provisioning_delay: SimDuration,
    /// The famous mistakes switched on ([`KNOWN_BUGS`]).
    pub bugs: Bugs,
}

impl ZonesParams {
    /// Requests per second one server completes when busy:
    /// `workers / service_time`.
    pub fn server_capacity(&self) -> f64 {
        f64::from(self.workers) / self.service_time.as_secs_f64()
    }
}

/// A server's lifecycle.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ServerState {
    /// In service.
    Active,
    /// Idle capacity, until the control plane launches it.
    Standby,
    /// Launched, in service after the provisioning delay.
    Provisioning,
}

impl ServerState {
    /// The role it reports, for fault targets (`@random:standby`).
    pub fn role(self) -> &'static str {
        match self {
            ServerState::Active => "active",
            ServerState::Standby => "standby",
            ServerState::Provisioning => "provisioning",
        }
    }
}

/// How a call ended, as a client hears it.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// Served.
    Ok,
    /// A server shed it (queue full, or not in service).
    Shed,
    /// The balancer had no server in rotation.
    NoBackend,
}

/// The messages of the zones model.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ZonesMsg {
    /// Client -> balancer: attempt `attempt` of request `id`.
    Request { id: u64, attempt: u32 },
    /// Balancer -> server: a client's call to serve.
    Forward {
        client: NodeId,
        id: u64,
        attempt: u32,
    },
    /// Server or balancer -> client: how the call ended.
    Reply {
        id: u64,
        attempt: u32,
        outcome: Outcome,
    },
    /// Balancer -> server: are you there?
    Health { seq: u64 },
    /// Server -> balancer: here, in this state.
    HealthOk { seq: u64, state: ServerState },
    /// Balancer -> control plane: `requests` arrived in the last
    /// `report_interval`; the servers in rotation and the standby servers
    /// that answer.
    Report {
        requests: u64,
        healthy: Vec<NodeId>,
        standby: Vec<NodeId>,
    },
    /// Control plane -> standby server: come into service.
    Launch,
    /// Control plane -> balancer: your report arrived, keep routing. Sent
    /// only under the `rotation_needs_control_plane` bug: a statically
    /// stable balancer needs no answer from the control plane.
    Renew,
}
