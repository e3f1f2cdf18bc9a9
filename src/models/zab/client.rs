//! A key-value client of the Zab ensemble, in a closed loop: think, send
//! the command to a server (any: followers forward to the leader), wait
//! for the leader's answer; with no answer within a quarter of the timeout,
//! send the same command to another server; at the timeout, record `info`
//! and continue as a new process (as the Raft model's client does).
//!
//! Every attempt of one operation carries the same (client, seq), so the
//! state machine applies it at most once. Reads are commands too: they go
//! through the broadcast and are answered when delivered, so the history
//! can be judged for linearizability.

use super::ZabMsg;
use crate::history::{OpType, Value};
use crate::models::raft::client::key_name;
use crate::models::raft::msg::{ClientCommand, Op, Outcome};
use crate::models::workload::Workload;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use std::rc::Rc;

const THINK: u64 = 1;
const ATTEMPT: u64 = 2;
const DEADLINE: u64 = 3;

const PROCESS_KEY: &str = "client/process";

/// The operation a client waits for.
#[derive(Debug)]
struct Open {
    command: Rc<ClientCommand>,
    f: &'static str,
    input: Value,
    target: NodeId,
}

/// A client running get / put / append / cas through the broadcast.
#[derive(Debug)]
pub struct ZabClient {
    workload: Workload,
    process: u64,
    counter: u64,
    leader_guess: Option<NodeId>,
    last_seen: Vec<String>,
    open: Option<Open>,
    attempt_timer: Option<TimerId>,
    deadline_timer: Option<TimerId>,
}

impl ZabClient {
    /// Client number `index` (0-based) of the workload.
    pub fn new(workload: Workload, index: u32) -> ZabClient {
        ZabClient {
            workload,
            process: u64::from(index),
            counter: 0,
            leader_guess: None,
            last_seen: vec![String::new(); workload.keys.max(1) as usize],
            open: None,
            attempt_timer: None,
            deadline_timer: None,
        }
    }

    fn think(&mut self, ctx: &mut Ctx<'_, ZabMsg>) {
        let (low, high) = (
            self.workload.think_min.as_nanos(),
            self.workload.think_max.as_nanos(),
        );
        let pause = ctx.rng().between(low, high);
        ctx.set_timer(SimDuration::from_nanos(pause), THINK);
    }

    fn random_server(ctx: &mut Ctx<'_, ZabMsg>, avoid: Option<NodeId>) -> NodeId {
        let n = ctx.peers().len() as u64;
        let draw = ctx.rng().below(n) as usize;
        let mut pick = ctx.peers()[draw];
        if Some(pick) == avoid && n > 1 {
            let at = ctx.peers().iter().position(|p| *p == pick).unwrap_or(0);
            let shift = 1 + ctx.rng().below(n - 1) as usize;
            pick = ctx.peers()[(at + shift) % n as usize];
        }
        pick
    }

    fn draw_op(&mut self, ctx: &mut Ctx<'_, ZabMsg>) -> (Op, &'static str, Value) {
        let key = ctx.rng().below(self.last_seen.len() as u64) as u32;
        if ctx.rng().below(1_000_000) < u64::from(self.workload.read_ppm) {
            return (Op::Get { key }, "get", Value::Nil);
        }
        let token = format!("{}.{} ", self.process, self.counter);
        match ctx.rng().below(3) {
            0 => (
                Op::Put {
                    key,
                    value: token.clone(),
                },
                "put",
                Value::Str(token),
            ),
            1 => (
                Op::Append {
                    key,
                    value: token.clone(),
                },
                "append",
                Value::Str(token),
            ),
            _ => {
                let expected = self.last_seen[key as usize].clone();
                let input = Value::List(vec![
                    Value::Str(expected.clone()),
                    Value::Str(token.clone()),
                ]);
                let op = Op::Cas {
                    key,
                    expected,
                    new: token,
                };
                (op, "cas", input)
            }
        }
    }

    fn invoke_next(&mut self, ctx: &mut Ctx<'_, ZabMsg>) {
        self.counter += 1;
        let (op, f, input) = self.draw_op(ctx);
        ctx.invoke(self.process, f, Some(&key_name(op.key())), input.clone());
        let command = Rc::new(ClientCommand {
            client: ctx.id(),
            // The process in the high bits: a new process never reuses a seq.
            seq: (self.process << 32) | self.counter,
            op,
        });
        let target = match self.leader_guess {
            Some(leader) => leader,
            None => Self::random_server(ctx, None),
        };
        self.open = Some(Open {
            command,
            f,
            input,
            target,
        });
        self.deadline_timer = Some(ctx.set_timer(self.workload.timeout, DEADLINE));
        self.attempt(ctx, target);
    }

    fn attempt(&mut self, ctx: &mut Ctx<'_, ZabMsg>, target: NodeId) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        open.target = target;
        ctx.send(target, ZabMsg::Request(Rc::clone(&open.command)));
        let wait = SimDuration::from_nanos((self.workload.timeout.as_nanos() / 4).max(1_000_000));
        self.attempt_timer = Some(ctx.set_timer(wait, ATTEMPT));
    }

    fn finish(
        &mut self,
        ctx: &mut Ctx<'_, ZabMsg>,
        outcome: OpType,
        result: Option<String>,
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
        let key = key_name(open.command.op.key());
        let value = match (&open.command.op, outcome) {
            (Op::Get { .. }, OpType::Ok) => Value::Str(result.clone().unwrap_or_default()),
            (Op::Get { .. }, _) => Value::Nil,
            _ => open.input,
        };
        match server {
            Some(s) => ctx.complete_from(self.process, outcome, open.f, Some(&key), value, s),
            None => ctx.complete(self.process, outcome, open.f, Some(&key), value),
        }
        if outcome == OpType::Ok {
            match &open.command.op {
                Op::Get { key } => self.last_seen[*key as usize] = result.unwrap_or_default(),
                Op::Put { key, value }
                | Op::Cas {
                    key, new: value, ..
                } => self.last_seen[*key as usize] = value.clone(),
                Op::Append { .. } => {}
            }
        }
        if outcome == OpType::Info {
            self.process += u64::from(self.workload.clients);
            ctx.storage().put_json(PROCESS_KEY, &self.process);
            ctx.storage().sync();
        }
        self.think(ctx);
    }
}

impl Node<ZabMsg> for ZabClient {
    fn on_start(&mut self, ctx: &mut Ctx<'_, ZabMsg>) {
        if let Some(process) = ctx.storage().get_json::<u64>(PROCESS_KEY) {
            // Restarted: continue as a new process.
            self.process = process + u64::from(self.workload.clients);
        }
        ctx.storage().put_json(PROCESS_KEY, &self.process);
        ctx.storage().sync();
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, ZabMsg>, from: NodeId, msg: ZabMsg) {
        let ZabMsg::Reply { seq, outcome } = msg else {
            return;
        };
        if self.open.as_ref().is_none_or(|o| o.command.seq != seq) {
            return; // an answer to an operation already finished
        }
        self.leader_guess = Some(from);
        match outcome {
            Outcome::Value(v) => self.finish(ctx, OpType::Ok, Some(v), Some(from)),
            Outcome::Applied => self.finish(ctx, OpType::Ok, None, Some(from)),
            Outcome::CasFailed => self.finish(ctx, OpType::Fail, None, Some(from)),
            Outcome::NotLeader { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ZabMsg>, timer: TimerId) {
        match timer.tag() {
            THINK if self.open.is_none() => self.invoke_next(ctx),
            ATTEMPT if self.attempt_timer == Some(timer) => {
                self.attempt_timer = None;
                let avoid = self.open.as_ref().map(|o| o.target);
                self.leader_guess = None;
                let target = Self::random_server(ctx, avoid);
                self.attempt(ctx, target);
            }
            DEADLINE if self.deadline_timer == Some(timer) => {
                self.finish(ctx, OpType::Info, None, None)
            }
            _ => {}
        }
    }

    fn debug_state(&self) -> Option<String> {
        crate::models::view::state(
            "ZabClient",
            &[
                ("process", &self.process),
                ("counter", &self.counter),
                ("leader_guess", &self.leader_guess),
                ("open", &self.open),
            ],
        )
    }
}
