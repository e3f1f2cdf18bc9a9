//! The register's servers without failover or sync replication: the
//! primary is the lowest id, replication is fire-and-forget (today's model,
//! kept exactly: its scenarios' traces must not change).

use super::{PbMsg, PrimaryBackupParams, Reads, Request};
use crate::node::{Ctx, Node, NodeId, TimerId};
use serde_json::json;

const ANTI_ENTROPY: u64 = 1;
const VERSION_KEY: &str = "version";
const VALUE_KEY: &str = "value";

/// A replica of the register.
#[derive(Debug)]
pub struct Server {
    params: PrimaryBackupParams,
    version: u64,
    value: Option<i64>,
}

impl Server {
    /// A fresh server (state is loaded from disk in `on_start`).
    pub fn new(params: PrimaryBackupParams) -> Server {
        Server {
            params,
            version: 0,
            value: None,
        }
    }

    fn primary(ctx: &Ctx<'_, PbMsg>) -> NodeId {
        ctx.peers()
            .iter()
            .copied()
            .chain([ctx.id()])
            .min()
            .expect("at least this node")
    }

    fn is_primary(ctx: &Ctx<'_, PbMsg>) -> bool {
        Self::primary(ctx) == ctx.id()
    }

    fn adopt(&mut self, ctx: &mut Ctx<'_, PbMsg>, version: u64, value: Option<i64>) {
        self.version = version;
        self.value = value;
        ctx.storage().put_json(VERSION_KEY, &version);
        ctx.storage().put_json(VALUE_KEY, &value);
        ctx.storage().sync();
        // Adopted a value, before acknowledging it.
        ctx.maybe_fault_point("adopt");
        ctx.record("state", json!({ "version": version, "value": value }));
    }

    fn handle_request(
        &mut self,
        ctx: &mut Ctx<'_, PbMsg>,
        client: NodeId,
        op: u64,
        request: Request,
    ) {
        let local_read = request == Request::Read && self.params.reads == Reads::Local;
        if !local_read && !Self::is_primary(ctx) {
            ctx.send(
                Self::primary(ctx),
                PbMsg::Forward {
                    client,
                    op,
                    request,
                },
            );
            return;
        }
        if let Request::Write(v) = request {
            self.adopt(ctx, self.version + 1, Some(v));
            ctx.broadcast(PbMsg::Replicate {
                version: self.version,
                value: self.value,
            });
        }
        ctx.send(
            client,
            PbMsg::Reply {
                op,
                value: self.value,
            },
        );
    }
}

impl Node<PbMsg> for Server {
    fn on_start(&mut self, ctx: &mut Ctx<'_, PbMsg>) {
        self.version = ctx.storage().get_json(VERSION_KEY).unwrap_or(0);
        self.value = ctx.storage().get_json(VALUE_KEY).unwrap_or(None);
        ctx.record(
            "state",
            json!({ "version": self.version, "value": self.value }),
        );
        if Self::is_primary(ctx) {
            ctx.set_timer(self.params.anti_entropy, ANTI_ENTROPY);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, PbMsg>, from: NodeId, msg: PbMsg) {
        match msg {
            PbMsg::Request { op, request } => self.handle_request(ctx, from, op, request),
            PbMsg::Forward {
                client,
                op,
                request,
            } => self.handle_request(ctx, client, op, request),
            PbMsg::Replicate { version, value } => {
                if version > self.version {
                    self.adopt(ctx, version, value);
                }
            }
            PbMsg::Reply { .. }
            | PbMsg::Heartbeat { .. }
            | PbMsg::Put { .. }
            | PbMsg::PutAck { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, PbMsg>, timer: TimerId) {
        debug_assert_eq!(timer.tag(), ANTI_ENTROPY);
        ctx.broadcast(PbMsg::Replicate {
            version: self.version,
            value: self.value,
        });
        ctx.set_timer(self.params.anti_entropy, ANTI_ENTROPY);
    }

    fn debug_state(&self) -> Option<String> {
        crate::models::view::state(
            "Server",
            &[("version", &self.version), ("value", &self.value)],
        )
    }
}
