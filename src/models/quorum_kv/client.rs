//! A client in a closed loop of gets and puts over the workload's keys,
//! each sent to a server picked at random (the coordinator).

use super::{key_name, Outcome, QkvMsg};
use crate::history::{OpType, Value};
use crate::models::workload::Workload;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;

pub(crate) const THINK: u64 = 1;
pub(crate) const TIMEOUT: u64 = 2;
const PROCESS_KEY: &str = "client/process";

/// The operation a client waits for.
#[derive(Debug)]
struct Open {
    op: u64,
    key: u32,
    /// The value of a put; `None` for a get.
    put: Option<String>,
    timer: TimerId,
}

/// A client (see the module docs). Its peers must include the servers, n1..nS.
#[derive(Debug)]
pub struct Client {
    workload: Workload,
    servers: usize,
    process: u64,
    next_op: u64,
    open: Option<Open>,
}

impl Client {
    /// Client number `index` (0-based) of the workload, talking to `servers` servers.
    pub fn new(workload: Workload, index: u32, servers: usize) -> Client {
        Client {
            workload,
            servers,
            process: u64::from(index),
            next_op: 0,
            open: None,
        }
    }

    /// Keeps the process id on disk: after a crash the client continues
    /// as a new process, its open operation left unknown in the history.
    fn save_process(&self, ctx: &mut Ctx<'_, QkvMsg>) {
        ctx.storage().put_json(PROCESS_KEY, &self.process);
        ctx.storage().sync();
    }

    fn think(&mut self, ctx: &mut Ctx<'_, QkvMsg>) {
        let (low, high) = (
            self.workload.think_min.as_nanos(),
            self.workload.think_max.as_nanos(),
        );
        let pause = ctx.rng().between(low, high);
        ctx.set_timer(SimDuration::from_nanos(pause), THINK);
    }

    fn invoke_next(&mut self, ctx: &mut Ctx<'_, QkvMsg>) {
        self.next_op += 1;
        let op = self.next_op;
        let key = ctx.rng().below(u64::from(self.workload.keys.max(1))) as u32;
        let is_read = ctx.rng().below(1_000_000) < u64::from(self.workload.read_ppm);
        let (put, msg) = if is_read {
            ctx.invoke(self.process, "get", Some(&key_name(key)), Value::Nil);
            (None, QkvMsg::Get { op, key })
        } else {
            let value = format!("{}.{}", self.process, op);
            ctx.invoke(
                self.process,
                "put",
                Some(&key_name(key)),
                Value::Str(value.clone()),
            );
            (Some(value.clone()), QkvMsg::Put { op, key, value })
        };
        let server = NodeId(ctx.rng().below(self.servers as u64) as u32);
        ctx.send(server, msg);
        let timer = ctx.set_timer(self.workload.timeout, TIMEOUT);
        self.open = Some(Open {
            op,
            key,
            put,
            timer,
        });
    }

    /// Ends the open operation: `outcome` None for a timeout; `server` is
    /// the coordinator that answered, if one did.
    fn finish(
        &mut self,
        ctx: &mut Ctx<'_, QkvMsg>,
        outcome: Option<Outcome>,
        server: Option<NodeId>,
    ) {
        let Some(open) = self.open.take() else {
            return;
        };
        ctx.cancel_timer(open.timer);
        let key = key_name(open.key);
        let (kind, value) = match (&open.put, outcome) {
            (None, Some(Outcome::Value(entry))) => {
                ctx.record(
                    "read_result",
                    json!({ "key": key, "version": entry.version.json() }),
                );
                (OpType::Ok, Value::Str(entry.value))
            }
            (Some(v), Some(Outcome::Written(version))) => {
                ctx.record(
                    "write_acked",
                    json!({ "key": key, "version": version.json() }),
                );
                (OpType::Ok, Value::Str(v.clone()))
            }
            // A get that found no quorum had no effect.
            (None, Some(_)) => (OpType::Fail, Value::Nil),
            (None, None) => (OpType::Info, Value::Nil),
            // A put without W acknowledgements may still have landed somewhere.
            (Some(v), _) => (OpType::Info, Value::Str(v.clone())),
        };
        let f = if open.put.is_some() { "put" } else { "get" };
        match server {
            Some(server) => ctx.complete_from(self.process, kind, f, Some(&key), value, server),
            None => ctx.complete(self.process, kind, f, Some(&key), value),
        }
        if kind == OpType::Info {
            self.process += u64::from(self.workload.clients);
            self.save_process(ctx);
        }
        self.think(ctx);
    }
}

impl Node<QkvMsg> for Client {
    fn on_start(&mut self, ctx: &mut Ctx<'_, QkvMsg>) {
        debug_assert!(self.servers > 0, "a client needs servers");
        if let Some(process) = ctx.storage().get_json::<u64>(PROCESS_KEY) {
            self.process = process + u64::from(self.workload.clients);
        }
        self.save_process(ctx);
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, QkvMsg>, from: NodeId, msg: QkvMsg) {
        let QkvMsg::Reply { op, outcome } = msg else {
            return;
        };
        if self.open.as_ref().is_some_and(|o| o.op == op) {
            self.finish(ctx, Some(outcome), Some(from));
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, QkvMsg>, timer: TimerId) {
        match timer.tag() {
            THINK if self.open.is_none() => self.invoke_next(ctx),
            TIMEOUT if self.open.as_ref().is_some_and(|o| o.timer == timer) => {
                self.finish(ctx, None, None)
            }
            _ => {}
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
