//! A Multi-Paxos server: acceptor, learner and would-be leader (see the
//! module docs of [`super`] for the protocol).
//!
//! ```text
//!   follower --election timeout--> candidate: Prepare(b, from) to all
//!   candidate --majority of promises--> leader: re-propose, fill gaps, serve
//!   candidate --timeout--> candidate with a higher ballot
//!   leader/candidate --nack or message of a higher ballot--> follower
//! ```
//!
//! The acceptor's promise and accepted values are written to storage and
//! synced before the reply that depends on them is sent (`send` asserts
//! nothing is unsynced).

use super::msg::{AcceptedValue, MpMsg};
use super::MpParams;
use crate::hash::digest;
use crate::models::raft::kv::KvMachine;
use crate::models::raft::msg::{ClientCommand, Command, Op, Outcome};
use crate::node::{Ctx, Field, Hex16, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Timer tag: the election timeout (followers and candidates).
pub const ELECTION: u64 = 1;
/// Timer tag: the leader's heartbeat.
pub const HEARTBEAT: u64 = 2;

const PROMISED_KEY: &str = "mp/promised";
const SLOT_PREFIX: &str = "mp/slot/";
/// Chosen slots sent in one catch-up message.
const CATCH_UP_BATCH: usize = 64;
/// Client commands a candidate holds until it leads.
const QUEUE_LIMIT: usize = 256;

/// What a server is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Following a leader (or waiting for one).
    Follower,
    /// Running phase 1 with its ballot.
    Candidate,
    /// Leading with its ballot: phase 2 only.
    Leader,
}

/// A proposal of the leader waiting for a majority of accepts.
#[derive(Debug)]
struct Proposal {
    command: Rc<Command>,
    acks: Vec<NodeId>,
}

/// One server (see the module docs).
#[derive(Debug)]
pub struct MpServer {
    params: MpParams,
    peers: Vec<NodeId>,
    // Acceptor (durable, synced before replying).
    promised: u64,
    accepted: BTreeMap<u64, (u64, Rc<Command>)>,
    // Learner.
    chosen: BTreeMap<u64, (u64, Rc<Command>)>,
    executed: u64,
    kv: KvMachine,
    // Proposer.
    role: Role,
    ballot: u64,
    /// The highest ballot seen in any message (a campaign goes above it).
    seen: u64,
    leader: Option<NodeId>,
    from_slot: u64,
    promises: Vec<NodeId>,
    reported: BTreeMap<u64, (u64, Rc<Command>)>,
    proposals: BTreeMap<u64, Proposal>,
    next_slot: u64,
    queue: Vec<ClientCommand>,
    log_full: bool,
    election_timer: Option<TimerId>,
    heartbeat_timer: Option<TimerId>,
}

impl MpServer {
    /// A server with these parameters (state is loaded in `on_start`).
    pub fn new(params: MpParams) -> MpServer {
        MpServer {
            params,
            peers: Vec::new(),
            promised: 0,
            accepted: BTreeMap::new(),
            chosen: BTreeMap::new(),
            executed: 0,
            kv: KvMachine::default(),
            role: Role::Follower,
            ballot: 0,
            seen: 0,
            leader: None,
            from_slot: 1,
            promises: Vec::new(),
            reported: BTreeMap::new(),
            proposals: BTreeMap::new(),
            next_slot: 1,
            queue: Vec::new(),
            log_full: false,
            election_timer: None,
            heartbeat_timer: None,
        }
    }

    /// The server's role.
    pub fn current_role(&self) -> Role {
        self.role
    }

    /// Slots executed (1..=executed), in order.
    pub fn executed(&self) -> u64 {
        self.executed
    }

    /// The ballot this acceptor has promised.
    pub fn promised(&self) -> u64 {
        self.promised
    }

    fn servers(&self) -> u64 {
        self.peers.len() as u64 + 1
    }

    fn majority(&self) -> usize {
        self.servers() as usize / 2 + 1
    }

    /// The smallest ballot above `above` owned by this server.
    fn ballot_above(&self, ctx: &Ctx<'_, MpMsg>, above: u64) -> u64 {
        ballot_above(self.servers(), u64::from(ctx.id().0), above)
    }

    fn send(ctx: &mut Ctx<'_, MpMsg>, to: NodeId, msg: MpMsg) {
        debug_assert!(
            !ctx.storage().has_unsynced(),
            "{} sends {msg:?} before syncing its state",
            ctx.name(ctx.id())
        );
        ctx.send(to, msg);
    }

    fn broadcast(&self, ctx: &mut Ctx<'_, MpMsg>, msg: MpMsg) {
        for &peer in &self.peers {
            Self::send(ctx, peer, msg.clone());
        }
    }

    // ----- storage ---------------------------------------------------------

    fn load(&mut self, ctx: &mut Ctx<'_, MpMsg>) {
        let storage = ctx.storage();
        self.promised = storage
            .get(PROMISED_KEY)
            .and_then(|b| b.try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0);
        let keys: Vec<String> = storage
            .keys_with_prefix(SLOT_PREFIX)
            .map(str::to_string)
            .collect();
        for key in keys {
            let slot: Option<u64> = key[SLOT_PREFIX.len()..].parse().ok();
            let value: Option<Json> = storage.get_json(&key);
            if let (Some(slot), Some((ballot, command))) = (slot, value.as_ref().and_then(decode)) {
                self.accepted.insert(slot, (ballot, Rc::new(command)));
            }
        }
    }

    fn persist_promise(&mut self, ctx: &mut Ctx<'_, MpMsg>, ballot: u64) {
        if ballot != self.promised {
            self.promised = ballot;
            ctx.storage()
                .put(PROMISED_KEY, ballot.to_le_bytes().to_vec());
        }
    }

    // ----- acceptor --------------------------------------------------------

    /// Phase 1b: promise `ballot` (synced) and return the values accepted
    /// at or after `from_slot`; `Err(promised)` if a higher one was promised.
    fn on_prepare_local(
        &mut self,
        ctx: &mut Ctx<'_, MpMsg>,
        ballot: u64,
        from_slot: u64,
    ) -> Result<Vec<AcceptedValue>, u64> {
        if ballot < self.promised {
            return Err(self.promised);
        }
        self.persist_promise(ctx, ballot);
        ctx.storage().sync();
        Ok(self
            .accepted
            .range(from_slot..)
            .map(|(&slot, (b, command))| AcceptedValue {
                slot,
                ballot: *b,
                command: Rc::clone(command),
            })
            .collect())
    }

    /// Phase 2b: accept `command` in `slot` (synced) unless a higher ballot
    /// was promised (`Err(promised)`).
    fn on_accept_local(
        &mut self,
        ctx: &mut Ctx<'_, MpMsg>,
        ballot: u64,
        slot: u64,
        command: &Rc<Command>,
    ) -> Result<(), u64> {
        if ballot < self.promised {
            return Err(self.promised);
        }
        self.persist_promise(ctx, ballot);
        let same = self
            .accepted
            .get(&slot)
            .is_some_and(|(b, c)| *b == ballot && c == command);
        if !same {
            self.accepted.insert(slot, (ballot, Rc::clone(command)));
            ctx.storage()
                .put_json(format!("{SLOT_PREFIX}{slot}"), &encode(ballot, command));
        }
        ctx.storage().sync();
        Ok(())
    }

    // ----- roles -----------------------------------------------------------

    fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, MpMsg>) {
        if let Some(timer) = self.election_timer.take() {
            ctx.cancel_timer(timer);
        }
        let (low, high) = (
            self.params.election_timeout_min.as_nanos(),
            self.params.election_timeout_max.as_nanos(),
        );
        let after = SimDuration::from_nanos(ctx.rng().between(low, high));
        self.election_timer = Some(ctx.set_timer(after, ELECTION));
    }

    /// A message of `ballot` from its leader (or would-be leader) `from`:
    /// a higher ballot than ours makes a leader or candidate step down;
    /// any current leader's message postpones the election.
    fn heard_from(&mut self, ctx: &mut Ctx<'_, MpMsg>, from: NodeId, ballot: u64) {
        if ballot > self.ballot && self.role != Role::Follower {
            self.step_down(ctx);
        }
        if self.role == Role::Follower {
            self.leader = Some(from);
            self.reset_election_timer(ctx);
        }
    }

    /// Leaders and candidates: stop; forget proposals (clients retry).
    fn step_down(&mut self, ctx: &mut Ctx<'_, MpMsg>) {
        if self.role == Role::Leader {
            ctx.record("stepped_down", json!({ "term": self.ballot }));
        }
        self.role = Role::Follower;
        self.leader = None;
        self.promises.clear();
        self.reported.clear();
        self.proposals.clear();
        self.queue.clear();
        if let Some(timer) = self.heartbeat_timer.take() {
            ctx.cancel_timer(timer);
        }
        self.reset_election_timer(ctx);
    }

    /// Phase 1a, once for every slot from the first not known chosen.
    fn campaign(&mut self, ctx: &mut Ctx<'_, MpMsg>) {
        let above = self.promised.max(self.ballot).max(self.seen);
        self.ballot = self.ballot_above(ctx, above);
        self.role = Role::Candidate;
        self.leader = None;
        self.proposals.clear();
        self.promises.clear();
        self.reported.clear();
        self.from_slot = self.executed + 1;
        ctx.record("candidate", json!({ "term": self.ballot }));
        self.reset_election_timer(ctx);
        // Bug `skip_phase1_on_takeover` breaks "the leader must first run
        // phase 1 for every slot it does not know chosen": it promises
        // itself, assumes nothing was chosen after its executed prefix and
        // proposes its own commands there.
        if self.params.bugs.has("skip_phase1_on_takeover") {
            self.persist_promise(ctx, self.ballot);
            ctx.storage().sync();
            self.next_slot = self.executed + 1;
            self.become_leader(ctx);
            self.drain_queue(ctx);
            return;
        }
        let (ballot, from_slot) = (self.ballot, self.from_slot);
        let mine = self
            .on_prepare_local(ctx, ballot, from_slot)
            .expect("a ballot above the promise");
        self.promise_from(ctx, ctx.id(), mine);
        if self.role == Role::Candidate {
            self.broadcast(ctx, MpMsg::Prepare { ballot, from_slot });
        }
    }

    /// A promise for our ballot: collect it; on a majority, lead.
    fn promise_from(&mut self, ctx: &mut Ctx<'_, MpMsg>, from: NodeId, values: Vec<AcceptedValue>) {
        if self.role != Role::Candidate || self.promises.contains(&from) {
            return;
        }
        self.promises.push(from);
        for v in values {
            let higher = self
                .reported
                .get(&v.slot)
                .is_none_or(|(b, _)| v.ballot > *b);
            if higher {
                self.reported.insert(v.slot, (v.ballot, v.command));
            }
        }
        if self.promises.len() < self.majority() {
            return;
        }
        // Every slot from `from_slot` to the highest reported: re-propose
        // the value of the highest ballot, or a no-op in a gap.
        let reported = std::mem::take(&mut self.reported);
        let last = reported.keys().next_back().copied().unwrap_or(0);
        let last = last.max(self.chosen.keys().next_back().copied().unwrap_or(0));
        self.next_slot = last.max(self.executed) + 1;
        let end = self.next_slot;
        self.become_leader(ctx);
        // The slots before `end` only: proposals of queued commands follow.
        for slot in self.from_slot..end {
            if self.chosen.contains_key(&slot) {
                continue;
            }
            let command = match reported.get(&slot) {
                Some((_, command)) => Rc::clone(command),
                None => Rc::new(Command::Noop),
            };
            self.propose(ctx, slot, command);
        }
        self.drain_queue(ctx);
    }

    fn become_leader(&mut self, ctx: &mut Ctx<'_, MpMsg>) {
        self.role = Role::Leader;
        self.leader = Some(ctx.id());
        self.promises.clear();
        if let Some(timer) = self.election_timer.take() {
            ctx.cancel_timer(timer);
        }
        ctx.record("leader", json!({ "term": self.ballot }));
        self.send_heartbeats(ctx);
    }

    /// Proposes the client commands that came while campaigning.
    fn drain_queue(&mut self, ctx: &mut Ctx<'_, MpMsg>) {
        let queued = std::mem::take(&mut self.queue);
        for command in queued {
            self.propose_client(ctx, command);
        }
    }

    fn send_heartbeats(&mut self, ctx: &mut Ctx<'_, MpMsg>) {
        let (ballot, executed) = (self.ballot, self.executed);
        self.broadcast(ctx, MpMsg::Heartbeat { ballot, executed });
        self.heartbeat_timer = Some(ctx.set_timer(self.params.heartbeat_interval, HEARTBEAT));
    }

    // ----- leader: phase 2 ------------------------------------------------

    /// A client's command in the next free slot (once per pending (client, seq)).
    fn propose_client(&mut self, ctx: &mut Ctx<'_, MpMsg>, command: ClientCommand) {
        let pending = self.proposals.values().any(|p| match p.command.as_ref() {
            Command::Client(c) => c.client == command.client && c.seq == command.seq,
            Command::Noop => false,
        });
        if pending {
            return;
        }
        if self.next_slot > self.params.max_log {
            if !self.log_full {
                self.log_full = true;
                ctx.record("log_full", json!({ "max_log": self.params.max_log }));
            }
            return;
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        self.propose(ctx, slot, Rc::new(Command::Client(command)));
    }

    /// Phase 2a for `slot`: accept it ourselves, then ask everyone.
    fn propose(&mut self, ctx: &mut Ctx<'_, MpMsg>, slot: u64, command: Rc<Command>) {
        if self.role != Role::Leader {
            return;
        }
        debug_assert!(slot >= 1 && slot <= self.params.max_log.max(self.next_slot));
        debug_assert!(
            !self.proposals.contains_key(&slot),
            "two proposals in slot {slot} with one ballot"
        );
        let ballot = self.ballot;
        if let Err(promised) = self.on_accept_local(ctx, ballot, slot, &command) {
            return self.preempted(ctx, promised);
        }
        let msg = MpMsg::Accept {
            ballot,
            slot,
            command: Rc::clone(&command),
        };
        self.proposals.insert(
            slot,
            Proposal {
                command,
                acks: vec![ctx.id()],
            },
        );
        self.broadcast(ctx, msg);
        self.accepted_by(ctx, ctx.id(), ballot, slot);
    }

    /// An acceptor accepted our proposal in `slot`; on a majority it is chosen.
    fn accepted_by(&mut self, ctx: &mut Ctx<'_, MpMsg>, from: NodeId, ballot: u64, slot: u64) {
        if self.role != Role::Leader || ballot != self.ballot {
            return;
        }
        let majority = self.majority();
        let Some(proposal) = self.proposals.get_mut(&slot) else {
            return;
        };
        if !proposal.acks.contains(&from) {
            proposal.acks.push(from);
        }
        if proposal.acks.len() < majority {
            return;
        }
        let proposal = self.proposals.remove(&slot).expect("just seen");
        let msg = MpMsg::Chosen {
            ballot,
            slot,
            command: Rc::clone(&proposal.command),
        };
        self.broadcast(ctx, msg);
        self.learn(ctx, slot, ballot, proposal.command);
    }

    /// A higher ballot was promised somewhere: stop leading or campaigning.
    fn preempted(&mut self, ctx: &mut Ctx<'_, MpMsg>, promised: u64) {
        self.seen = self.seen.max(promised);
        if promised > self.ballot && self.role != Role::Follower {
            self.step_down(ctx);
        }
    }

    // ----- learner ---------------------------------------------------------

    /// `command` is chosen in `slot`: keep it (the first one heard) and
    /// execute what is now contiguous.
    fn learn(&mut self, ctx: &mut Ctx<'_, MpMsg>, slot: u64, ballot: u64, command: Rc<Command>) {
        if slot <= self.executed || self.chosen.contains_key(&slot) {
            return;
        }
        self.chosen.insert(slot, (ballot, command));
        self.execute(ctx);
    }

    /// Executes chosen slots in order; the leader answers their clients.
    fn execute(&mut self, ctx: &mut Ctx<'_, MpMsg>) {
        let before = self.executed;
        while let Some((ballot, command)) = self.chosen.get(&(self.executed + 1)).cloned() {
            self.executed += 1;
            let slot = self.executed;
            // Typed, in key order: hashed as the JSON object it stands for.
            let mut detail = Vec::with_capacity(5);
            let entry = match command.as_ref() {
                Command::Noop => Field::Str("no-op"),
                Command::Client(c) => {
                    detail.push(("client", Field::from(c.client.0)));
                    Field::from(c.op.describe())
                }
            };
            detail.push(("digest", Field::Hex(Hex16::new(digest(command.as_ref())))));
            detail.push(("entry", entry));
            detail.push(("index", Field::U64(slot)));
            detail.push(("term", Field::U64(ballot)));
            ctx.record_fields("commit", detail);
            let Command::Client(client_command) = command.as_ref() else {
                continue;
            };
            let outcome = self.kv.apply(client_command);
            if let (Role::Leader, Some(outcome)) = (self.role, outcome) {
                let seq = client_command.seq;
                Self::send(
                    ctx,
                    client_command.client,
                    MpMsg::ClientReply { seq, outcome },
                );
            }
        }
        if self.executed > before {
            ctx.record_fields("state", vec![("version", Field::U64(self.executed))]);
        }
    }

    // ----- messages ----------------------------------------------------------

    fn handle(&mut self, ctx: &mut Ctx<'_, MpMsg>, from: NodeId, msg: MpMsg) {
        match &msg {
            MpMsg::Prepare { ballot, .. }
            | MpMsg::Accept { ballot, .. }
            | MpMsg::Heartbeat { ballot, .. } => self.seen = self.seen.max(*ballot),
            _ => {}
        }
        match msg {
            MpMsg::Prepare { ballot, from_slot } => {
                match self.on_prepare_local(ctx, ballot, from_slot) {
                    Ok(accepted) => {
                        self.heard_from(ctx, from, ballot);
                        if self.role == Role::Follower {
                            self.leader = None;
                        }
                        Self::send(ctx, from, MpMsg::Promise { ballot, accepted });
                    }
                    Err(promised) => Self::send(ctx, from, MpMsg::Nack { ballot, promised }),
                }
            }
            MpMsg::Promise { ballot, accepted } => {
                if ballot == self.ballot {
                    self.promise_from(ctx, from, accepted);
                }
            }
            MpMsg::Accept {
                ballot,
                slot,
                command,
            } => match self.on_accept_local(ctx, ballot, slot, &command) {
                Ok(()) => {
                    self.heard_from(ctx, from, ballot);
                    Self::send(ctx, from, MpMsg::Accepted { ballot, slot });
                }
                Err(promised) => Self::send(ctx, from, MpMsg::Nack { ballot, promised }),
            },
            MpMsg::Accepted { ballot, slot } => self.accepted_by(ctx, from, ballot, slot),
            MpMsg::Nack { ballot, promised } => {
                if ballot == self.ballot {
                    self.preempted(ctx, promised);
                }
            }
            MpMsg::Chosen {
                ballot,
                slot,
                command,
            } => self.learn(ctx, slot, ballot, command),
            MpMsg::Heartbeat { ballot, executed } => {
                if ballot < self.promised {
                    let promised = self.promised;
                    return Self::send(ctx, from, MpMsg::Nack { ballot, promised });
                }
                self.heard_from(ctx, from, ballot);
                if executed > self.executed {
                    let executed = self.executed;
                    Self::send(ctx, from, MpMsg::Behind { ballot, executed });
                }
            }
            MpMsg::Behind { ballot, executed } => {
                if self.role != Role::Leader || ballot != self.ballot {
                    return;
                }
                let entries: Vec<AcceptedValue> = self
                    .chosen
                    .range(executed + 1..)
                    .take(CATCH_UP_BATCH)
                    .map(|(&slot, (b, command))| AcceptedValue {
                        slot,
                        ballot: *b,
                        command: Rc::clone(command),
                    })
                    .collect();
                if !entries.is_empty() {
                    Self::send(ctx, from, MpMsg::CatchUp { ballot, entries });
                }
            }
            MpMsg::CatchUp { entries, .. } => {
                for v in entries {
                    self.learn(ctx, v.slot, v.ballot, v.command);
                }
            }
            MpMsg::ClientRequest(command) => match self.role {
                Role::Leader => self.propose_client(ctx, command),
                Role::Candidate if self.queue.len() < QUEUE_LIMIT => self.queue.push(command),
                _ => {
                    let outcome = Outcome::NotLeader {
                        leader_hint: self.leader,
                    };
                    let seq = command.seq;
                    Self::send(ctx, from, MpMsg::ClientReply { seq, outcome });
                }
            },
            MpMsg::ClientReply { .. } => {}
        }
    }

    /// The leader's tick: heartbeats, and accepts resent to those that
    /// have not answered.
    fn on_heartbeat(&mut self, ctx: &mut Ctx<'_, MpMsg>) {
        self.heartbeat_timer = None;
        if self.role != Role::Leader {
            return;
        }
        let ballot = self.ballot;
        let mut resend = Vec::new();
        for (&slot, proposal) in &self.proposals {
            for &peer in &self.peers {
                if !proposal.acks.contains(&peer) {
                    let command = Rc::clone(&proposal.command);
                    resend.push((
                        peer,
                        MpMsg::Accept {
                            ballot,
                            slot,
                            command,
                        },
                    ));
                }
            }
        }
        for (peer, msg) in resend {
            Self::send(ctx, peer, msg);
        }
        self.send_heartbeats(ctx);
    }
}

/// The smallest ballot above `above` owned by server `me` of `n`: the
/// ballots `b > 0` with `b % n == me`.
pub(super) fn ballot_above(n: u64, me: u64, above: u64) -> u64 {
    let mut ballot = above / n * n + me;
    if ballot <= above {
        ballot += n;
    }
    debug_assert!(ballot > above && ballot % n == me);
    ballot
}

/// A stored accepted value as JSON: `{"b": ballot}` for a no-op, plus the
/// client, seq and operation for a client's command.
pub(super) fn encode(ballot: u64, command: &Command) -> Json {
    let Command::Client(c) = command else {
        return json!({ "b": ballot });
    };
    let op = match &c.op {
        Op::Get { key } => json!(["get", key]),
        Op::Put { key, value } => json!(["put", key, value]),
        Op::Append { key, value } => json!(["append", key, value]),
        Op::Cas { key, expected, new } => json!(["cas", key, expected, new]),
    };
    json!({ "b": ballot, "client": c.client.0, "seq": c.seq, "op": op })
}

/// The inverse of [`encode`]; `None` for anything else.
pub(super) fn decode(value: &Json) -> Option<(u64, Command)> {
    let ballot = value.get("b")?.as_u64()?;
    let Some(op) = value.get("op") else {
        return Some((ballot, Command::Noop));
    };
    let op = op.as_array()?;
    let text = |i: usize| op.get(i).and_then(Json::as_str).map(str::to_string);
    let key = u32::try_from(op.get(1)?.as_u64()?).ok()?;
    let op = match op.first()?.as_str()? {
        "get" => Op::Get { key },
        "put" => Op::Put {
            key,
            value: text(2)?,
        },
        "append" => Op::Append {
            key,
            value: text(2)?,
        },
        "cas" => Op::Cas {
            key,
            expected: text(2)?,
            new: text(3)?,
        },
        _ => return None,
    };
    let client = NodeId(u32::try_from(value.get("client")?.as_u64()?).ok()?);
    let seq = value.get("seq")?.as_u64()?;
    Some((ballot, Command::Client(ClientCommand { client, seq, op })))
}

impl Node<MpMsg> for MpServer {
    fn role(&self) -> Option<&'static str> {
        Some(match self.role {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
    }

    fn role_rank(&self) -> u64 {
        self.ballot
    }

    /// Loads the acceptor's promise and accepted values; everything else
    /// starts over (nothing executed: it is learned again).
    fn on_start(&mut self, ctx: &mut Ctx<'_, MpMsg>) {
        self.peers = ctx.peers().to_vec();
        self.load(ctx);
        ctx.record("state", json!({ "version": 0 }));
        self.reset_election_timer(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, MpMsg>, from: NodeId, msg: MpMsg) {
        self.handle(ctx, from, msg);
        debug_assert!(
            !ctx.storage().has_unsynced(),
            "a handler left writes unsynced"
        );
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MpMsg>, timer: TimerId) {
        match timer.tag() {
            ELECTION if self.election_timer == Some(timer) => {
                self.election_timer = None;
                if self.role != Role::Leader {
                    self.campaign(ctx);
                }
            }
            HEARTBEAT if self.heartbeat_timer == Some(timer) => self.on_heartbeat(ctx),
            _ => {} // a timer of an earlier role
        }
        debug_assert!(
            !ctx.storage().has_unsynced(),
            "a handler left writes unsynced"
        );
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        view::state(
            "MpServer",
            &[
                ("role", &self.role),
                ("ballot", &self.ballot),
                ("promised", &self.promised),
                ("leader", &self.leader),
                ("executed", &self.executed),
                ("accepted_slots", &self.accepted.len()),
                ("chosen_slots", &self.chosen.len()),
                ("next_slot", &self.next_slot),
                ("proposals", &self.proposals.len()),
                ("queue", &self.queue.len()),
                ("kv", &self.kv.view()),
            ],
        )
    }
}
