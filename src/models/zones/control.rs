//! The control plane: launches standby servers when the offered load per
//! server stays above the target utilization for [`BREACHES`] reports in
//! a row (as an alarm wants several data points). It never scales in.

use super::{ZonesMsg, ZonesParams};
use crate::node::{Ctx, Node, NodeId, TimerId};
use serde_json::json;
use std::collections::BTreeSet;

/// Reports in a row with the load above the target before a launch.
pub const BREACHES: u32 = 2;

/// The control plane node (n2).
#[derive(Debug)]
pub struct ControlPlane {
    params: ZonesParams,
    /// Servers launched and not yet seen in rotation.
    pending: BTreeSet<NodeId>,
    /// Reports in a row with the load above the target.
    breaches: u32,
}

impl ControlPlane {
    /// A control plane with nothing launched.
    pub fn new(params: ZonesParams) -> ControlPlane {
        ControlPlane {
            params,
            pending: BTreeSet::new(),
            breaches: 0,
        }
    }

    /// One report from the balancer: launch what the load needs.
    fn on_report(
        &mut self,
        ctx: &mut Ctx<'_, ZonesMsg>,
        requests: u64,
        healthy: &[NodeId],
        standby: &[NodeId],
    ) {
        // In rotation, or back to standby (a crash): no longer pending.
        self.pending
            .retain(|s| !healthy.contains(s) && !standby.contains(s));
        let rate = requests as f64 / self.params.report_interval.as_secs_f64();
        let per_server = self.params.target_utilization * self.params.server_capacity();
        let desired = (rate / per_server).ceil() as usize;
        let have = healthy.len() + self.pending.len();
        if desired <= have {
            self.breaches = 0;
            return;
        }
        // An alarm wants the load high in BREACHES reports in a row, not a burst.
        self.breaches += 1;
        if self.breaches < BREACHES {
            return;
        }
        let launch: Vec<NodeId> = standby
            .iter()
            .copied()
            .filter(|s| !self.pending.contains(s))
            .take(desired - have)
            .collect();
        if launch.is_empty() {
            return;
        }
        for &server in &launch {
            ctx.send(server, ZonesMsg::Launch);
            self.pending.insert(server);
        }
        let names: Vec<&str> = launch.iter().map(|&s| ctx.name(s)).collect();
        ctx.record(
            "scale_out",
            json!({ "launch": names, "rate": rate, "desired": desired, "have": have }),
        );
    }
}

impl Node<ZonesMsg> for ControlPlane {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, ZonesMsg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, from: NodeId, msg: ZonesMsg) {
        if let ZonesMsg::Report {
            requests,
            healthy,
            standby,
        } = msg
        {
            // Static stability: the data plane needs nothing from the
            // control plane to keep serving, so a report has no answer.
            // The bug's balancer holds its rotation as a lease renewed here.
            if self.params.bugs.has("rotation_needs_control_plane") {
                ctx.send(from, ZonesMsg::Renew);
            }
            self.on_report(ctx, requests, &healthy, &standby);
        }
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, ZonesMsg>, _timer: TimerId) {}

    fn role(&self) -> Option<&'static str> {
        Some("control_plane")
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        view::state(
            "ControlPlane",
            &[
                ("pending", &view::first(&self.pending)),
                ("breaches", &self.breaches),
            ],
        )
    }
}
