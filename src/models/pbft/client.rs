//! A PBFT client in a closed loop (section 4.1 of the paper).
//!
//! ```text
//!   think --> invoke: send the request to the primary of the view it
//!             last heard of (a `request` record names it for pbft_validity)
//!     no f+1 matching replies after attempt_timeout -> send it to every replica
//!     f+1 matching replies from different replicas  -> ok
//!     deadline                                        -> info; continue as a new process
//! ```
//!
//! Every attempt sends the same request (same timestamp), so the replicas'
//! reply cache executes it at most once. A reply alone proves nothing (a
//! Byzantine replica may lie): f+1 matching ones include a correct one.

use super::msg::{digest, Op, Outcome, PbftMsg, Request};
use crate::history::{OpType, Value};
use crate::models::workload::Workload;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;
use std::collections::BTreeMap;

const THINK: u64 = 1;
const ATTEMPT: u64 = 2;
const DEADLINE: u64 = 3;

const PROCESS_KEY: &str = "client/process";
const INCARNATION_KEY: &str = "client/incarnation";

/// The operation a client waits for.
#[derive(Debug)]
struct OpenOp {
    request: Request,
    f: &'static str,
    input: Value,
    /// The replies so far, one per replica (its latest).
    replies: BTreeMap<NodeId, (u64, Outcome)>,
}

/// A client of the replicas (see the module docs); its peers are the replicas.
#[derive(Debug)]
pub struct PbftClient {
    workload: Workload,
    index: u32,
    /// n = 3f + 1 replicas, ids 0..n.
    n: usize,
    f: usize,
    process: u64,
    incarnation: u64,
    counter: u64,
    view: u64,
    open: Option<OpenOp>,
    attempt_timer: Option<TimerId>,
    deadline_timer: Option<TimerId>,
}

impl PbftClient {
    /// Client number `index` (0-based) of `workload`, for `n` replicas
    /// tolerating `f` faults.
    pub fn new(workload: Workload, index: u32, n: usize, f: usize) -> PbftClient {
        PbftClient {
            workload,
            index,
            n,
            f,
            process: u64::from(index),
            incarnation: 0,
            counter: 0,
            view: 0,
            open: None,
            attempt_timer: None,
            deadline_timer: None,
        }
    }

    fn attempt_timeout(&self) -> SimDuration {
        SimDuration::from_nanos((self.workload.timeout.as_nanos() / 4).max(1_000_000))
    }

    fn load_identity(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        let word = |bytes: &[u8]| bytes.try_into().ok().map(u64::from_le_bytes);
        let storage = ctx.storage();
        if let Some(process) = storage.get(PROCESS_KEY).and_then(word) {
            self.process = process + u64::from(self.workload.clients);
            self.incarnation = storage.get(INCARNATION_KEY).and_then(word).unwrap_or(0) + 1;
        }
        self.save_identity(ctx);
    }

    fn save_identity(&self, ctx: &mut Ctx<'_, PbftMsg>) {
        let storage = ctx.storage();
        storage.put(PROCESS_KEY, self.process.to_le_bytes().to_vec());
        storage.put(INCARNATION_KEY, self.incarnation.to_le_bytes().to_vec());
        storage.sync();
    }

    fn think(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        let (low, high) = (
            self.workload.think_min.as_nanos(),
            self.workload.think_max.as_nanos(),
        );
        let pause = ctx.rng().between(low, high);
        ctx.set_timer(SimDuration::from_nanos(pause), THINK);
    }

    /// A get with probability `read_ppm`, else a put or an append of a
    /// value unique to this operation.
    fn draw_op(&mut self, ctx: &mut Ctx<'_, PbftMsg>) -> (Op, &'static str, Value) {
        let key = ctx.rng().below(u64::from(self.workload.keys.max(1))) as u32;
        if ctx.rng().below(1_000_000) < u64::from(self.workload.read_ppm) {
            return (Op::Get { key }, "get", Value::Nil);
        }
        let token = format!("{}.{} ", self.process, self.counter);
        let input = Value::Str(token.clone());
        if ctx.rng().below(2) == 0 {
            (Op::Put { key, value: token }, "put", input)
        } else {
            (Op::Append { key, value: token }, "append", input)
        }
    }

    fn invoke_next(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        self.counter += 1;
        let (op, f, input) = self.draw_op(ctx);
        ctx.invoke(self.process, f, Some(&key_name(op.key())), input.clone());
        let request = Request {
            client: ctx.id(),
            seq: (self.incarnation << 32) | self.counter,
            op,
        };
        ctx.record(
            "request",
            json!({ "client": request.client.0, "cseq": request.seq,
                    "digest": format!("{:016x}", digest(Some(&request))) }),
        );
        let primary = NodeId((self.view % self.n as u64) as u32);
        ctx.send(primary, PbftMsg::Request(request.clone()));
        self.open = Some(OpenOp {
            request,
            f,
            input,
            replies: BTreeMap::new(),
        });
        self.deadline_timer = Some(ctx.set_timer(self.workload.timeout, DEADLINE));
        self.attempt_timer = Some(ctx.set_timer(self.attempt_timeout(), ATTEMPT));
    }

    /// No f+1 matching replies in time: send the request to every replica.
    fn on_attempt_timeout(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        let Some(open) = &self.open else {
            return;
        };
        for r in 0..self.n as u32 {
            ctx.send(NodeId(r), PbftMsg::Request(open.request.clone()));
        }
        self.attempt_timer = Some(ctx.set_timer(self.attempt_timeout(), ATTEMPT));
    }

    fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, PbftMsg>,
        from: NodeId,
        view: u64,
        seq: u64,
        outcome: Outcome,
    ) {
        let f = self.f;
        let Some(open) = self.open.as_mut() else {
            return;
        };
        if open.request.seq != seq || from.index() >= self.n {
            return;
        }
        open.replies.insert(from, (view, outcome.clone()));
        let matching: Vec<u64> = open
            .replies
            .values()
            .filter(|(_, o)| *o == outcome)
            .map(|(v, _)| *v)
            .collect();
        if matching.len() < f + 1 {
            return;
        }
        self.view = self.view.max(matching.iter().copied().min().unwrap_or(0));
        self.finish(ctx, OpType::Ok, Some(outcome), Some(from));
    }

    fn finish(
        &mut self,
        ctx: &mut Ctx<'_, PbftMsg>,
        outcome: OpType,
        result: Option<Outcome>,
        server: Option<NodeId>,
    ) {
        let Some(open) = self.open.take() else {
            return;
        };
        for timer in [self.attempt_timer.take(), self.deadline_timer.take()]
            .into_iter()
            .flatten()
        {
            ctx.cancel_timer(timer);
        }
        let key = key_name(open.request.op.key());
        let value = match (&open.request.op, result) {
            (Op::Get { .. }, Some(Outcome::Value(v))) => Value::Str(v),
            (Op::Get { .. }, _) => Value::Nil,
            _ => open.input,
        };
        match server {
            Some(server) => {
                ctx.complete_from(self.process, outcome, open.f, Some(&key), value, server)
            }
            None => ctx.complete(self.process, outcome, open.f, Some(&key), value),
        }
        if outcome == OpType::Info {
            self.process += u64::from(self.workload.clients);
            self.save_identity(ctx);
        }
        self.think(ctx);
    }
}

/// The history name of key number `key` (`k1` is key 0).
pub fn key_name(key: u32) -> String {
    format!("k{}", key + 1)
}

impl Node<PbftMsg> for PbftClient {
    fn on_start(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        debug_assert!(self.index < self.workload.clients.max(1));
        self.load_identity(ctx);
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, PbftMsg>, from: NodeId, msg: PbftMsg) {
        if let PbftMsg::Reply { view, seq, outcome } = msg {
            self.on_reply(ctx, from, view, seq, outcome);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, PbftMsg>, timer: TimerId) {
        match timer.tag() {
            THINK if self.open.is_none() => self.invoke_next(ctx),
            ATTEMPT if self.attempt_timer == Some(timer) => {
                self.attempt_timer = None;
                self.on_attempt_timeout(ctx)
            }
            DEADLINE if self.deadline_timer == Some(timer) => {
                self.finish(ctx, OpType::Info, None, None)
            }
            _ => {}
        }
    }

    fn debug_state(&self) -> Option<String> {
        Some(format!(
            "PbftClient {{ process: {}, counter: {}, view: {}, open: {:?} }}",
            self.process,
            self.counter,
            self.view,
            self.open.as_ref().map(|o| o.request.seq)
        ))
    }
}
