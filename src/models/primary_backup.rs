//! Primary-backup replication of one register, and its clients.
//!
//! ```text
//!   client --Request--> any server --Forward--> primary
//!   primary: apply write, sync to disk, Reply --> client
//!   primary --Replicate(version, value)--> backups   (after each write,
//!                                                      and every anti_entropy)
//! ```
//!
//! The primary is the server with the lowest id; there is no failover (a
//! crashed primary makes the register unavailable until it restarts from its
//! synced disk). Writes are acknowledged only after the primary syncs them.
//! Replication to backups is asynchronous and best-effort; the primary
//! re-sends its state every `anti_entropy` so backups converge after losses
//! and partitions.
//!
//! Reads are where the lesson is. With `reads = "primary"` every read is
//! answered by the primary, and the register is linearizable. With
//! `reads = "local"` any server answers from its own copy: a backup that has
//! not yet heard of a write serves a stale read, and the linearizability
//! checker catches it. This is the checker's canary: if a run of the local
//! mode ever stops being caught, a test fails.
//!
//! Records: `state {version, value}` whenever a server's copy changes (for
//! the convergence check), and the clients' `op` records (the history).

mod model;
pub use model::{PrimaryBackupModel, PrimaryBackupTable};

use super::workload::Workload;
use crate::history::{OpType, Value};
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;

/// Which servers may answer a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// Only the primary (linearizable).
    Primary,
    /// Any server, from its own copy (stale reads).
    Local,
}

/// Server parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrimaryBackupParams {
    /// Who answers reads.
    pub reads: Reads,
    /// How often the primary re-sends its state to the backups.
    pub anti_entropy: SimDuration,
}

/// A client's request.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Request {
    /// Read the register.
    Read,
    /// Write a value.
    Write(i64),
}

/// Messages between clients and servers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum PbMsg {
    /// Client to any server.
    Request { op: u64, request: Request },
    /// A backup passing a request to the primary, on behalf of `client`.
    Forward {
        client: NodeId,
        op: u64,
        request: Request,
    },
    /// Server to client: the register's value after the operation.
    Reply { op: u64, value: Option<i64> },
    /// Primary to backups: the current state.
    Replicate { version: u64, value: Option<i64> },
}

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
            PbMsg::Reply { .. } => {}
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

    fn finish(&mut self, ctx: &mut Ctx<'_, PbMsg>, outcome: OpType, value: Option<i64>) {
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
        ctx.complete(self.process, outcome, f, None, value);
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

    fn on_message(&mut self, ctx: &mut Ctx<'_, PbMsg>, _from: NodeId, msg: PbMsg) {
        let PbMsg::Reply { op, value } = msg else {
            return;
        };
        match self.open {
            Some((open, _, timer)) if open == op => {
                ctx.cancel_timer(timer);
                self.finish(ctx, OpType::Ok, value);
            }
            _ => {} // a reply to an operation that already timed out
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, PbMsg>, timer: TimerId) {
        match timer.tag() {
            THINK => self.invoke_next(ctx),
            TIMEOUT => self.finish(ctx, OpType::Info, None),
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
