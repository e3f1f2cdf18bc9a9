//! The clients: a closed loop of reads and writes to a random server.

use super::{PbMsg, Request};
use crate::history::{OpType, Value};
use crate::models::workload::Workload;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;

const THINK: u64 = 1;
const TIMEOUT: u64 = 2;

/// A client in a closed loop of reads and writes (see [`super::workload`]).
#[derive(Debug)]
pub struct Client {
    workload: Workload,
    process: u64,
    next_op: u64,
    open: Option<(u64, Request, TimerId)>,
}

impl Client {
    /// Client number `index` (0-based) of the workload.
    pub fn new(workload: Workload, index: u32) -> Client {
        Client {
            workload,
            process: u64::from(index),
            next_op: 0,
            open: None,
        }
    }

    fn think(&mut self, ctx: &mut Ctx<'_, PbMsg>) {
        let (low, high) = (
            self.workload.think_min.as_nanos(),
            self.workload.think_max.as_nanos(),
        );
        let pause = ctx.rng().between(low, high);
        ctx.set_timer(SimDuration::from_nanos(pause), THINK);
    }

    fn invoke_next(&mut self, ctx: &mut Ctx<'_, PbMsg>) {
        self.next_op += 1;
        let op = self.next_op;
        let is_read = ctx.rng().below(1_000_000) < u64::from(self.workload.read_ppm);
        let request = if is_read {
            ctx.invoke(self.process, "read", None, Value::Nil);
            Request::Read
        } else {
            let v = (self.process as i64) * 1_000_000 + op as i64;
            ctx.invoke(self.process, "write", None, Value::Int(v));
            Request::Write(v)
        };
        let servers = ctx.peers().len() as u64;
        let choice = ctx.rng().below(servers) as usize;
        let server = ctx.peers()[choice];
        ctx.send(server, PbMsg::Request { op, request });
        let timer = ctx.set_timer(self.workload.timeout, TIMEOUT);
        self.open = Some((op, request, timer));
    }

    /// Completes the open operation (answered by `server`, if one answered).
    fn finish(
        &mut self,
        ctx: &mut Ctx<'_, PbMsg>,
        outcome: OpType,
        value: Option<i64>,
        server: Option<NodeId>,
    ) {
        let Some((_, request, _)) = self.open.take() else {
            return;
        };
        let (f, value) = match request {
            Request::Read => ("read", value.map_or(Value::Nil, Value::Int)),
            Request::Write(v) => ("write", Value::Int(v)),
        };
        let value = if outcome == OpType::Info && f == "read" {
            Value::Nil
        } else {
            value
        };
        match server {
            Some(server) => ctx.complete_from(self.process, outcome, f, None, value, server),
            None => ctx.complete(self.process, outcome, f, None, value),
        }
        if outcome == OpType::Info {
            self.process += u64::from(self.workload.clients);
        }
        self.think(ctx);
    }
}

impl Node<PbMsg> for Client {
    fn on_start(&mut self, ctx: &mut Ctx<'_, PbMsg>) {
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, PbMsg>, from: NodeId, msg: PbMsg) {
        let PbMsg::Reply { op, value } = msg else {
            return;
        };
        match self.open {
            Some((open, _, timer)) if open == op => {
                ctx.cancel_timer(timer);
                self.finish(ctx, OpType::Ok, value, Some(from));
            }
            _ => {} // a reply to an operation that already timed out
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, PbMsg>, timer: TimerId) {
        match timer.tag() {
            THINK => self.invoke_next(ctx),
            TIMEOUT => self.finish(ctx, OpType::Info, None, None),
            other => debug_assert!(false, "unknown timer tag {other}"),
        }
    }

    fn debug_state(&self) -> Option<String> {
        crate::models::view::state(
            "Client",
            &[
                ("process", &self.process),
                ("next_op", &self.next_op),
                ("open", &self.open),
            ],
        )
    }
}
