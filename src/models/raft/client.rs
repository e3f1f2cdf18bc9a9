//! A key-value client of the Raft cluster, in a closed loop.
//!
//! ```text
//!   think --> invoke --> attempt: send to the leader it believes in
//!                        (or a random server)
//!     NotLeader{hint}  -> resend to the hint at once (a few times), else
//!                         wait a little and try a random server
//!     no answer        -> after attempt_timeout, try a random server
//!     answer           -> ok (or fail: a cas that found another value)
//!     deadline         -> info (outcome unknown); continue as a new process
//! ```
//!
//! Every attempt of one operation sends the same command, with the same
//! (client, seq), so the state machine applies it at most once however many
//! copies reach the log. That is what makes `fail` for a cas honest: the
//! command was applied, found another value, and no copy will ever apply.
//!
//! The client stores its process id and an incarnation number on disk, so
//! that after a crash it continues as a new process with fresh sequence
//! numbers (the servers' dedup table must not mistake new commands for old).
//!
//! Other models that replicate the same key-value machine through a log
//! (Multi-Paxos) run this client too, with their own messages: a message
//! type that carries requests and replies implements [`KvClientMsg`], and
//! the client is [`KvClient`] of it ([`RaftClient`] for Raft's).

use super::msg::{push_number, ClientCommand, Op, Outcome, RaftMsg};
use crate::history::{OpType, Value};
use crate::models::workload::Workload;
use crate::node::Message;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use std::marker::PhantomData;

const THINK: u64 = 1;
const ATTEMPT: u64 = 2;
const DEADLINE: u64 = 3;

/// Redirects followed at once within one operation; after that, back off.
const MAX_QUICK_REDIRECTS: u32 = 3;

const PROCESS_KEY: &str = "client/process";
const INCARNATION_KEY: &str = "client/incarnation";

/// The operation a client is waiting for.
#[derive(Debug)]
struct OpenOp {
    command: ClientCommand,
    f: &'static str,
    input: Value,
    target: NodeId,
    redirects: u32,
}

/// The messages a [`KvClient`] sends and reads: a request carrying a
/// command, and a reply to one (leader redirects are replies too).
pub trait KvClientMsg: Message {
    /// The client's name in `faultlab replay --state` (e.g. `"RaftClient"`).
    const CLIENT: &'static str;
    /// The message asking a server to run `command`.
    fn request(command: ClientCommand) -> Self;
    /// The reply this message is, if it is one: the command's sequence
    /// number and its outcome.
    fn reply(self) -> Option<(u64, Outcome)>;
}

impl KvClientMsg for RaftMsg {
    const CLIENT: &'static str = "RaftClient";
    fn request(command: ClientCommand) -> RaftMsg {
        RaftMsg::ClientRequest(command)
    }
    fn reply(self) -> Option<(u64, Outcome)> {
        match self {
            RaftMsg::ClientReply { seq, outcome } => Some((seq, outcome)),
            _ => None,
        }
    }
}

/// The client of Raft's cluster.
pub type RaftClient = KvClient<RaftMsg>;

/// A client running get / put / append / cas against the cluster (see the
/// module docs), speaking messages `M`. Its peers must be the servers.
#[derive(Debug)]
pub struct KvClient<M> {
    workload: Workload,
    index: u32,
    process: u64,
    incarnation: u64,
    counter: u64,
    leader_guess: Option<NodeId>,
    last_seen: Vec<String>,
    open: Option<OpenOp>,
    attempt_timer: Option<TimerId>,
    deadline_timer: Option<TimerId>,
    messages: PhantomData<fn() -> M>,
}

impl<M: KvClientMsg> KvClient<M> {
    /// Client number `index` (0-based) of the workload.
    pub fn new(workload: Workload, index: u32) -> KvClient<M> {
        KvClient {
            messages: PhantomData,
            workload,
            index,
            process: u64::from(index),
            incarnation: 0,
            counter: 0,
            leader_guess: None,
            last_seen: vec![String::new(); workload.keys.max(1) as usize],
            open: None,
            attempt_timer: None,
            deadline_timer: None,
        }
    }

    /// How long one attempt waits before trying another server.
    fn attempt_timeout(&self) -> SimDuration {
        SimDuration::from_nanos((self.workload.timeout.as_nanos() / 4).max(1_000_000))
    }

    /// The pause before retrying when no server knows a leader.
    fn backoff(&self) -> SimDuration {
        SimDuration::from_nanos((self.workload.timeout.as_nanos() / 16).max(1_000_000))
    }

    fn load_identity(&mut self, ctx: &mut Ctx<'_, M>) {
        let word = |bytes: &[u8]| bytes.try_into().ok().map(u64::from_le_bytes);
        let storage = ctx.storage();
        if let Some(process) = storage.get(PROCESS_KEY).and_then(word) {
            self.process = process + u64::from(self.workload.clients);
            self.incarnation = storage.get(INCARNATION_KEY).and_then(word).unwrap_or(0) + 1;
        }
        self.save_identity(ctx);
    }

    fn save_identity(&self, ctx: &mut Ctx<'_, M>) {
        let storage = ctx.storage();
        storage.put(PROCESS_KEY, self.process.to_le_bytes().to_vec());
        storage.put(INCARNATION_KEY, self.incarnation.to_le_bytes().to_vec());
        storage.sync();
    }

    fn think(&mut self, ctx: &mut Ctx<'_, M>) {
        let (low, high) = (
            self.workload.think_min.as_nanos(),
            self.workload.think_max.as_nanos(),
        );
        let pause = ctx.rng().between(low, high);
        ctx.set_timer(SimDuration::from_nanos(pause), THINK);
    }

    fn random_server(ctx: &mut Ctx<'_, M>, avoid: Option<NodeId>) -> NodeId {
        let servers = ctx.peers().len() as u64;
        let draw = ctx.rng().below(servers) as usize;
        let mut pick = ctx.peers()[draw];
        if Some(pick) == avoid && servers > 1 {
            let shift = 1 + ctx.rng().below(servers - 1) as usize;
            let at = ctx.peers().iter().position(|p| *p == pick).unwrap_or(0);
            pick = ctx.peers()[(at + shift) % servers as usize];
        }
        pick
    }

    /// Draws the next operation: a get with probability `read_ppm`, else a
    /// put, append or cas (equally likely) of a value unique to this op.
    fn draw_op(&mut self, ctx: &mut Ctx<'_, M>) -> (Op, &'static str, Value) {
        let key = ctx.rng().below(self.last_seen.len() as u64) as u32;
        let is_read = ctx.rng().below(1_000_000) < u64::from(self.workload.read_ppm);
        if is_read {
            return (Op::Get { key }, "get", Value::Nil);
        }
        // `format!("{process}.{counter} ")`, built by hand (once per op).
        let mut token = String::with_capacity(24);
        push_number(&mut token, self.process);
        token.push('.');
        push_number(&mut token, self.counter);
        token.push(' ');
        match ctx.rng().below(3) {
            0 => {
                let input = Value::Str(token.clone());
                (Op::Put { key, value: token }, "put", input)
            }
            1 => {
                let input = Value::Str(token.clone());
                (Op::Append { key, value: token }, "append", input)
            }
            _ => {
                let expected = self.last_seen[key as usize].clone();
                let pair = vec![Value::Str(expected.clone()), Value::Str(token.clone())];
                let op = Op::Cas {
                    key,
                    expected,
                    new: token,
                };
                (op, "cas", Value::List(pair))
            }
        }
    }

    fn invoke_next(&mut self, ctx: &mut Ctx<'_, M>) {
        self.counter += 1;
        let (op, f, input) = self.draw_op(ctx);
        let key = key_name(op.key());
        ctx.invoke(self.process, f, Some(&key), input.clone());
        let command = ClientCommand {
            client: ctx.id(),
            seq: (self.incarnation << 32) | self.counter,
            op,
        };
        let target = match self.leader_guess {
            Some(leader) => leader,
            None => Self::random_server(ctx, None),
        };
        self.open = Some(OpenOp {
            command,
            f,
            input,
            target,
            redirects: 0,
        });
        self.deadline_timer = Some(ctx.set_timer(self.workload.timeout, DEADLINE));
        self.attempt(ctx, target, self.attempt_timeout());
    }

    /// Sends the open command to `target` and waits up to `wait` for it.
    fn attempt(&mut self, ctx: &mut Ctx<'_, M>, target: NodeId, wait: SimDuration) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        open.target = target;
        ctx.send(target, M::request(open.command.clone()));
        self.rearm_attempt(ctx, wait);
    }

    fn rearm_attempt(&mut self, ctx: &mut Ctx<'_, M>, wait: SimDuration) {
        if let Some(timer) = self.attempt_timer.take() {
            ctx.cancel_timer(timer);
        }
        self.attempt_timer = Some(ctx.set_timer(wait, ATTEMPT));
    }

    /// No answer in time (or a pause after a redirect without hint): try
    /// another server.
    fn on_attempt_timeout(&mut self, ctx: &mut Ctx<'_, M>) {
        self.attempt_timer = None;
        let Some(open) = &self.open else {
            return;
        };
        let avoid = open.target;
        let target = match self.leader_guess.take() {
            Some(leader) if leader != avoid => leader,
            _ => Self::random_server(ctx, Some(avoid)),
        };
        self.attempt(ctx, target, self.attempt_timeout());
    }

    /// Follows a NotLeader answer.
    fn redirect(&mut self, ctx: &mut Ctx<'_, M>, hint: Option<NodeId>) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        self.leader_guess = hint;
        match hint {
            Some(leader) if leader != open.target && open.redirects < MAX_QUICK_REDIRECTS => {
                open.redirects += 1;
                self.attempt(ctx, leader, self.attempt_timeout());
            }
            _ => self.rearm_attempt(ctx, self.backoff()),
        }
    }

    /// Completes the open operation with `outcome` (answered by `server`,
    /// if a server answered) and goes back to thinking.
    fn finish(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        outcome: OpType,
        result: Option<String>,
        server: Option<NodeId>,
    ) {
        let Some(open) = self.open.take() else {
            return;
        };
        let timers = [self.attempt_timer.take(), self.deadline_timer.take()];
        for timer in timers.into_iter().flatten() {
            ctx.cancel_timer(timer);
        }
        let key = open.command.op.key();
        let value = match (&open.command.op, outcome) {
            (Op::Get { .. }, OpType::Ok) => Value::Str(result.clone().unwrap_or_default()),
            (Op::Get { .. }, _) => Value::Nil,
            _ => open.input,
        };
        let key = key_name(key);
        match server {
            Some(server) => {
                ctx.complete_from(self.process, outcome, open.f, Some(&key), value, server)
            }
            None => ctx.complete(self.process, outcome, open.f, Some(&key), value),
        }
        self.remember(open.command.op, outcome, result);
        if outcome == OpType::Info {
            self.process += u64::from(self.workload.clients);
            self.save_identity(ctx);
        }
        self.think(ctx);
    }

    /// Keeps the last value this client knows a key held (a cas expects it).
    fn remember(&mut self, op: Op, outcome: OpType, result: Option<String>) {
        if outcome != OpType::Ok {
            return;
        }
        match op {
            Op::Get { key } => self.last_seen[key as usize] = result.unwrap_or_default(),
            Op::Put { key, value }
            | Op::Cas {
                key, new: value, ..
            } => self.last_seen[key as usize] = value,
            Op::Append { .. } => {}
        }
    }

    fn handle_reply(&mut self, ctx: &mut Ctx<'_, M>, from: NodeId, seq: u64, outcome: Outcome) {
        if self
            .open
            .as_ref()
            .is_none_or(|open| open.command.seq != seq)
        {
            return; // an answer to an operation already finished
        }
        match outcome {
            Outcome::NotLeader { leader_hint } => self.redirect(ctx, leader_hint),
            Outcome::Value(value) => {
                self.leader_guess = Some(from);
                self.finish(ctx, OpType::Ok, Some(value), Some(from));
            }
            Outcome::Applied => {
                self.leader_guess = Some(from);
                self.finish(ctx, OpType::Ok, None, Some(from));
            }
            Outcome::CasFailed => {
                self.leader_guess = Some(from);
                self.finish(ctx, OpType::Fail, None, Some(from));
            }
        }
    }
}

/// The history name of key number `key` (`k1` is key 0).
pub fn key_name(key: u32) -> String {
    let mut name = String::with_capacity(11);
    name.push('k');
    push_number(&mut name, u64::from(key) + 1);
    name
}

impl<M: KvClientMsg> Node<M> for KvClient<M> {
    fn on_start(&mut self, ctx: &mut Ctx<'_, M>) {
        debug_assert!(
            self.index < self.workload.clients.max(1),
            "client index out of range"
        );
        self.load_identity(ctx);
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, M>, from: NodeId, msg: M) {
        if let Some((seq, outcome)) = msg.reply() {
            self.handle_reply(ctx, from, seq, outcome);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, M>, timer: TimerId) {
        match timer.tag() {
            THINK if self.open.is_none() => self.invoke_next(ctx),
            ATTEMPT if self.attempt_timer == Some(timer) => self.on_attempt_timeout(ctx),
            DEADLINE if self.deadline_timer == Some(timer) => {
                self.finish(ctx, OpType::Info, None, None)
            }
            _ => {} // a timer of a finished operation
        }
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        let last_seen = self.last_seen.iter().map(|v| view::text(v));
        view::state(
            M::CLIENT,
            &[
                ("process", &self.process),
                ("incarnation", &self.incarnation),
                ("counter", &self.counter),
                ("leader_guess", &self.leader_guess),
                ("open", &self.open),
                ("attempt_timer", &self.attempt_timer),
                ("deadline_timer", &self.deadline_timer),
                ("last_seen", &view::first(last_seen)),
            ],
        )
    }
}
