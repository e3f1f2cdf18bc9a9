//! The balancer: health checks, round-robin over the servers in rotation,
//! and load reports to the control plane.

use super::{
    Outcome, ServerState, ZonesMsg, ZonesParams, CONTROL_PLANE, FIRST_SERVER,
    ROTATION_LEASE_REPORTS,
};
use crate::clock::LocalTime;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;

const HEALTH: u64 = 1;
const REPORT: u64 = 2;

/// What the balancer knows of one server.
#[derive(Clone, Copy, Debug)]
struct Backend {
    id: NodeId,
    /// Receives requests.
    in_rotation: bool,
    /// The current check is unanswered.
    awaiting: bool,
    /// Checks missed in a row.
    missed: u32,
    /// The state it last answered with.
    state: Option<ServerState>,
}

/// The balancer node (n1).
#[derive(Debug)]
pub struct Balancer {
    params: ZonesParams,
    backends: Vec<Backend>,
    /// The health check round.
    seq: u64,
    /// Where round-robin looks next.
    next: usize,
    /// Requests since the last report.
    requests: u64,
    /// Under `rotation_needs_control_plane`: when the control plane last
    /// renewed the rotation (the balancer's start counts as a renewal).
    renewed_at: LocalTime,
}

impl Balancer {
    /// A balancer for servers n3..n`servers`, the first `params.active`
    /// of them in rotation.
    pub fn new(params: ZonesParams, servers: usize) -> Balancer {
        let backends = (FIRST_SERVER..servers as u32)
            .map(|i| {
                let active = i < FIRST_SERVER + params.active;
                Backend {
                    id: NodeId(i),
                    in_rotation: active,
                    awaiting: false,
                    missed: 0,
                    state: None,
                }
            })
            .collect();
        Balancer {
            params,
            backends,
            seq: 0,
            next: 0,
            requests: 0,
            renewed_at: LocalTime(0),
        }
    }

    /// True unless the `rotation_needs_control_plane` bug is on and the
    /// control plane has not renewed the rotation for the lease's length.
    fn may_serve(&self, ctx: &Ctx<'_, ZonesMsg>) -> bool {
        if !self.params.bugs.has("rotation_needs_control_plane") {
            return true;
        }
        let lease = SimDuration::from_nanos(
            self.params.report_interval.as_nanos() * ROTATION_LEASE_REPORTS,
        );
        ctx.now_local().saturating_since(self.renewed_at) <= lease
    }

    /// Puts a server in or out of rotation, recording the change.
    fn rotate(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, i: usize, in_rotation: bool) {
        let b = &mut self.backends[i];
        if b.in_rotation == in_rotation {
            return;
        }
        b.in_rotation = in_rotation;
        let server = ctx.name(b.id).to_string();
        if in_rotation {
            ctx.record("backend_up", json!({ "server": server }));
        } else {
            let missed = b.missed;
            ctx.record(
                "backend_down",
                json!({ "server": server, "missed": missed }),
            );
        }
    }

    fn check_health(&mut self, ctx: &mut Ctx<'_, ZonesMsg>) {
        self.seq += 1;
        // Static stability: the rotation follows the servers' health
        // alone. The bug also empties it when the control plane's lease
        // on it has run out.
        if !self.may_serve(ctx) {
            for i in 0..self.backends.len() {
                self.rotate(ctx, i, false);
            }
        }
        for i in 0..self.backends.len() {
            let b = &mut self.backends[i];
            if b.awaiting {
                b.missed += 1;
                if b.missed >= self.params.unhealthy_after {
                    self.rotate(ctx, i, false);
                }
            }
            let b = &mut self.backends[i];
            b.awaiting = true;
            ctx.send(b.id, ZonesMsg::Health { seq: self.seq });
        }
        ctx.set_timer(self.params.health_interval, HEALTH);
    }

    fn on_health(
        &mut self,
        ctx: &mut Ctx<'_, ZonesMsg>,
        from: NodeId,
        seq: u64,
        state: ServerState,
    ) {
        let Some(i) = self.backends.iter().position(|b| b.id == from) else {
            return;
        };
        if seq != self.seq {
            return; // an answer to an earlier round, late
        }
        let b = &mut self.backends[i];
        b.awaiting = false;
        b.missed = 0;
        b.state = Some(state);
        let serve = self.may_serve(ctx);
        self.rotate(ctx, i, state == ServerState::Active && serve);
    }

    fn route(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, client: NodeId, id: u64, attempt: u32) {
        self.requests += 1;
        let n = self.backends.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if self.backends[i].in_rotation {
                self.next = (i + 1) % n;
                let to = self.backends[i].id;
                ctx.send(
                    to,
                    ZonesMsg::Forward {
                        client,
                        id,
                        attempt,
                    },
                );
                return;
            }
        }
        let reply = ZonesMsg::Reply {
            id,
            attempt,
            outcome: Outcome::NoBackend,
        };
        ctx.send(client, reply);
    }

    fn report(&mut self, ctx: &mut Ctx<'_, ZonesMsg>) {
        let healthy = self
            .backends
            .iter()
            .filter(|b| b.in_rotation)
            .map(|b| b.id)
            .collect();
        let standby = self
            .backends
            .iter()
            .filter(|b| b.state == Some(ServerState::Standby) && b.missed == 0)
            .map(|b| b.id)
            .collect();
        let requests = std::mem::take(&mut self.requests);
        ctx.send(
            CONTROL_PLANE,
            ZonesMsg::Report {
                requests,
                healthy,
                standby,
            },
        );
        ctx.set_timer(self.params.report_interval, REPORT);
    }
}

impl Node<ZonesMsg> for Balancer {
    fn on_start(&mut self, ctx: &mut Ctx<'_, ZonesMsg>) {
        self.renewed_at = ctx.now_local();
        ctx.set_timer(self.params.health_interval, HEALTH);
        ctx.set_timer(self.params.report_interval, REPORT);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, from: NodeId, msg: ZonesMsg) {
        match msg {
            ZonesMsg::Request { id, attempt } => self.route(ctx, from, id, attempt),
            ZonesMsg::HealthOk { seq, state } => self.on_health(ctx, from, seq, state),
            ZonesMsg::Renew => self.renewed_at = ctx.now_local(),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, timer: TimerId) {
        match timer.tag() {
            HEALTH => self.check_health(ctx),
            _ => self.report(ctx),
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some("balancer")
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        // Each backend by name: out of rotation with its missed checks.
        let (rotation, out): (Vec<&Backend>, Vec<&Backend>) =
            self.backends.iter().partition(|b| b.in_rotation);
        let out = out
            .iter()
            .map(|b| view::Shown(format!("{} ({:?}, missed {})", b.id, b.state, b.missed)));
        view::state(
            "Balancer",
            &[
                (
                    "in_rotation",
                    &view::first(rotation.iter().map(|b| view::Shown(b.id.to_string()))),
                ),
                ("out_of_rotation", &view::first(out)),
                ("next", &self.next),
                ("seq", &self.seq),
                ("requests", &self.requests),
            ],
        )
    }
}
