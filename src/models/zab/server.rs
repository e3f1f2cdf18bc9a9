//! A Zab server: election, discovery, synchronization and broadcast (see
//! the module essay in `super`).

use super::{History, Txn, Vote, ZabMsg, ZabParams, Zxid, EARLY_LIMIT};
use crate::models::raft::kv::KvMachine;
use crate::models::raft::msg::{ClientCommand, Op};
use crate::models::view;
use crate::node::{Ctx, Field, Node, NodeId, TimerId};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Timer: the periodic tick (heartbeats, retries, timeouts).
const TICK: u64 = 1;

const ACCEPTED_KEY: &str = "zab/accepted";
const CURRENT_KEY: &str = "zab/current";
const HISTORY_PREFIX: &str = "zab/h/";

/// Where a server stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZabState {
    /// Electing a leader.
    Looking,
    /// Following `leader`; `synced` once it accepted its NEWLEADER.
    Following {
        /// The leader.
        leader: NodeId,
        /// True once the leader's NEWEPOCH was acknowledged.
        acked_epoch: bool,
        /// True once the leader's NEWLEADER was accepted.
        synced: bool,
    },
    /// Leading: discovery, synchronization, then broadcast.
    Leading,
}

/// A prospective or established leader's bookkeeping.
#[derive(Debug, Default)]
struct Lead {
    /// e', once chosen.
    epoch: Option<u64>,
    /// FOLLOWERINFO heard (its own included): accepted epochs.
    infos: BTreeMap<NodeId, u64>,
    /// ACKEPOCHs heard (its own included): current epoch and history.
    ack_epochs: BTreeMap<NodeId, (u64, History)>,
    /// True once NEWLEADER was sent (the history is fixed).
    synced: bool,
    /// Followers that acked NEWLEADER (its own included).
    ack_newleader: BTreeSet<NodeId>,
    /// True once a quorum acked NEWLEADER: broadcasting.
    broadcasting: bool,
    /// Followers sent NEWLEADER: they get proposals and pings.
    followers: BTreeSet<NodeId>,
    /// Each follower's acknowledged last zxid.
    acked: BTreeMap<NodeId, Zxid>,
    /// Ticks since each follower was last heard.
    silent: BTreeMap<NodeId, u32>,
    /// Ticks since it began leading.
    age: u32,
    /// The counter of its last proposal.
    counter: u64,
}

/// A Zab server.
#[derive(Debug)]
pub struct ZabServer {
    params: ZabParams,
    me: NodeId,
    peers: Vec<NodeId>,
    /// Durable: the last NEWEPOCH acknowledged.
    accepted_epoch: u64,
    /// Durable: the last NEWLEADER accepted.
    current_epoch: u64,
    /// Durable: the history.
    history: Vec<Txn>,
    /// How many of the history's transactions are delivered.
    delivered: usize,
    kv: KvMachine,
    state: ZabState,
    /// Election round.
    round: u64,
    vote: Vote,
    /// Votes heard from looking servers in this round.
    votes: BTreeMap<NodeId, Vote>,
    /// Leaders named by leading or following servers: (leader, epoch).
    claims: BTreeMap<NodeId, (u32, u64)>,
    lead: Lead,
    /// Ticks since the leader was last heard (following) or since the
    /// round began (looking).
    silent: u32,
    /// Early proposals, by the zxid they follow.
    early: BTreeMap<Zxid, Txn>,
    history_full: bool,
}

/// A history transaction as stored: epoch, counter, client, seq, op kind, key, a, b.
type Stored = (u64, u64, u32, u64, u8, u32, String, String);

fn to_stored(t: &Txn) -> Stored {
    let c = &t.command;
    let (kind, key, a, b) = match &c.op {
        Op::Get { key } => (0, *key, String::new(), String::new()),
        Op::Put { key, value } => (1, *key, value.clone(), String::new()),
        Op::Append { key, value } => (2, *key, value.clone(), String::new()),
        Op::Cas { key, expected, new } => (3, *key, expected.clone(), new.clone()),
    };
    (
        t.zxid.epoch,
        t.zxid.counter,
        c.client.0,
        c.seq,
        kind,
        key,
        a,
        b,
    )
}

fn from_stored(s: Stored) -> Option<Txn> {
    let (epoch, counter, client, seq, kind, key, a, b) = s;
    let op = match kind {
        0 => Op::Get { key },
        1 => Op::Put { key, value: a },
        2 => Op::Append { key, value: a },
        3 => Op::Cas {
            key,
            expected: a,
            new: b,
        },
        _ => return None,
    };
    Some(Txn {
        zxid: Zxid { epoch, counter },
        command: Rc::new(ClientCommand {
            client: NodeId(client),
            seq,
            op,
        }),
    })
}

fn history_key(pos: usize) -> String {
    format!("{HISTORY_PREFIX}{pos:08}")
}

type C<'a, 'b> = &'a mut Ctx<'b, ZabMsg>;

impl ZabServer {
    /// A fresh server (its durable state is read in `on_start`).
    pub fn new(params: ZabParams) -> ZabServer {
        ZabServer {
            params,
            me: NodeId(0),
            peers: Vec::new(),
            accepted_epoch: 0,
            current_epoch: 0,
            history: Vec::new(),
            delivered: 0,
            kv: KvMachine::default(),
            state: ZabState::Looking,
            round: 0,
            vote: Vote::default(),
            votes: BTreeMap::new(),
            claims: BTreeMap::new(),
            lead: Lead::default(),
            silent: 0,
            early: BTreeMap::new(),
            history_full: false,
        }
    }

    /// Where it stands.
    pub fn state(&self) -> ZabState {
        self.state
    }

    /// Its history's zxids.
    pub fn zxids(&self) -> Vec<Zxid> {
        self.history.iter().map(|t| t.zxid).collect()
    }

    /// How many transactions it delivered.
    pub fn delivered(&self) -> usize {
        self.delivered
    }

    /// Its accepted and current epochs.
    pub fn epochs(&self) -> (u64, u64) {
        (self.accepted_epoch, self.current_epoch)
    }

    fn quorum(&self) -> usize {
        let servers = self.peers.len() + 1;
        servers / 2 + 1
    }

    fn last_zxid(&self) -> Zxid {
        self.history.last().map_or(Zxid::default(), |t| t.zxid)
    }

    fn committed_zxid(&self) -> Zxid {
        if self.delivered == 0 {
            Zxid::default()
        } else {
            self.history[self.delivered - 1].zxid
        }
    }

    fn own_vote(&self) -> Vote {
        Vote {
            epoch: self.current_epoch,
            zxid: self.last_zxid(),
            id: self.me.0,
        }
    }

    // ---- durable state ----

    fn load(&mut self, ctx: C) {
        let storage = ctx.storage();
        self.accepted_epoch = storage.get_json(ACCEPTED_KEY).unwrap_or(0);
        self.current_epoch = storage.get_json(CURRENT_KEY).unwrap_or(0);
        let keys: Vec<String> = storage
            .keys_with_prefix(HISTORY_PREFIX)
            .map(String::from)
            .collect();
        self.history = keys
            .iter()
            .filter_map(|k| storage.get_json::<Stored>(k).and_then(from_stored))
            .collect();
        debug_assert!(
            self.history.windows(2).all(|w| w[0].zxid < w[1].zxid),
            "a stored history's zxids increase"
        );
    }

    fn set_accepted(&mut self, ctx: C, epoch: u64) {
        self.accepted_epoch = epoch;
        ctx.storage().put_json(ACCEPTED_KEY, &epoch);
    }

    fn set_current(&mut self, ctx: C, epoch: u64) {
        self.current_epoch = epoch;
        ctx.storage().put_json(CURRENT_KEY, &epoch);
    }

    fn append(&mut self, ctx: C, txn: Txn) {
        debug_assert!(txn.zxid > self.last_zxid(), "appends in zxid order");
        ctx.storage()
            .put_json(history_key(self.history.len()), &to_stored(&txn));
        self.history.push(txn);
    }

    /// Replaces the history with `new` (writing only what differs).
    fn replace_history(&mut self, ctx: C, new: &[Txn]) {
        let same = self
            .history
            .iter()
            .zip(new)
            .take_while(|(a, b)| a == b)
            .count();
        for pos in new.len()..self.history.len() {
            ctx.storage().delete(&history_key(pos));
        }
        for (pos, txn) in new.iter().enumerate().skip(same) {
            ctx.storage().put_json(history_key(pos), &to_stored(txn));
        }
        self.history = new.to_vec();
        if same < self.delivered {
            // Only a mistake can take back a delivered transaction: start
            // the state machine again, to deliver the new history.
            self.delivered = 0;
            self.kv = KvMachine::default();
        }
        self.early.clear();
    }

    fn sync(ctx: C) {
        if ctx.storage().has_unsynced() {
            ctx.storage().sync();
        }
    }

    // ---- delivery ----

    /// Delivers the history up to and including `upto`.
    fn deliver_upto(&mut self, ctx: C, upto: Zxid) {
        while self.delivered < self.history.len() && self.history[self.delivered].zxid <= upto {
            let pos = self.delivered;
            let txn = self.history[pos].clone();
            let outcome = self.kv.apply(&txn.command);
            self.delivered += 1;
            ctx.record_fields(
                "deliver",
                vec![
                    ("client", Field::from(txn.command.client.0)),
                    ("counter", Field::U64(txn.zxid.counter)),
                    ("epoch", Field::U64(txn.zxid.epoch)),
                    ("pos", Field::U64(pos as u64)),
                    ("seq", Field::U64(txn.command.seq)),
                ],
            );
            if self.state == ZabState::Leading {
                if let Some(outcome) = outcome {
                    let seq = txn.command.seq;
                    ctx.send(txn.command.client, ZabMsg::Reply { seq, outcome });
                }
            }
        }
    }

    // ---- election ----

    fn start_looking(&mut self, ctx: C, why: &str) {
        if self.state == ZabState::Leading {
            ctx.record(
                "stepped_down",
                json!({ "epoch": self.lead.epoch.unwrap_or(0), "why": why }),
            );
        }
        self.state = ZabState::Looking;
        self.lead = Lead::default();
        self.early.clear();
        self.new_round(ctx, self.round + 1);
    }

    fn new_round(&mut self, ctx: C, round: u64) {
        self.round = round;
        self.votes.clear();
        self.claims.clear();
        self.silent = 0;
        self.vote = self.own_vote();
        self.votes.insert(self.me, self.vote);
        ctx.record("looking", json!({ "round": round }));
        self.send_vote(ctx, None);
    }

    fn send_vote(&mut self, ctx: C, to: Option<NodeId>) {
        let msg = ZabMsg::Notification {
            round: self.round,
            vote: self.vote,
            looking: true,
        };
        match to {
            Some(to) => ctx.send(to, msg),
            None => {
                for &p in &self.peers {
                    ctx.send(p, msg.clone());
                }
            }
        }
    }

    fn on_notification(&mut self, ctx: C, from: NodeId, round: u64, vote: Vote, looking: bool) {
        if looking
            && matches!(self.state, ZabState::Following { leader, acked_epoch: false, .. } if leader == from)
        {
            // The server it chose is still looking: it had not decided for
            // itself (it adopted a better vote). Look again, in its round.
            self.state = ZabState::Looking;
            self.round = self.round.max(round);
            self.votes.clear();
            self.claims.clear();
            self.silent = 0;
            self.vote = self.own_vote();
            self.votes.insert(self.me, self.vote);
            ctx.record("looking", json!({ "round": self.round }));
        }
        if self.state != ZabState::Looking {
            if looking {
                // Tell a looking server whom we follow.
                let leader = match self.state {
                    ZabState::Following { leader, .. } => leader.0,
                    _ => self.me.0,
                };
                let vote = Vote {
                    epoch: self.accepted_epoch,
                    zxid: self.last_zxid(),
                    id: leader,
                };
                ctx.send(
                    from,
                    ZabMsg::Notification {
                        round: self.round,
                        vote,
                        looking: false,
                    },
                );
            }
            return;
        }
        if !looking {
            self.claims.insert(from, (vote.id, vote.epoch));
            let leader = NodeId(vote.id);
            let backers = self.claims.values().filter(|(l, _)| *l == vote.id).count();
            let leader_says = self.claims.get(&leader).map(|(l, _)| *l) == Some(vote.id);
            if leader != self.me && leader_says && backers + 1 >= self.quorum() {
                self.follow(ctx, leader);
            }
            return;
        }
        if round > self.round {
            self.round = round;
            self.votes.clear();
            self.claims.clear();
            self.vote = self.own_vote().max(vote);
            self.votes.insert(self.me, self.vote);
            self.send_vote(ctx, None);
        } else if round < self.round {
            self.send_vote(ctx, Some(from));
            return;
        } else if vote > self.vote {
            self.vote = vote;
            self.votes.insert(self.me, self.vote);
            self.send_vote(ctx, None);
        }
        self.votes.insert(from, vote);
        let agree = self.votes.values().filter(|v| **v == self.vote).count();
        if agree >= self.quorum() {
            let leader = NodeId(self.vote.id);
            if leader == self.me {
                self.become_leader(ctx);
            } else {
                self.follow(ctx, leader);
            }
        }
    }

    fn follow(&mut self, ctx: C, leader: NodeId) {
        self.state = ZabState::Following {
            leader,
            acked_epoch: false,
            synced: false,
        };
        self.silent = 0;
        self.early.clear();
        ctx.record(
            "follower",
            json!({ "leader": leader.0, "round": self.round }),
        );
        ctx.send(
            leader,
            ZabMsg::FollowerInfo {
                accepted: self.accepted_epoch,
            },
        );
    }

    // ---- leader: discovery and synchronization ----

    fn become_leader(&mut self, ctx: C) {
        self.state = ZabState::Leading;
        self.lead = Lead::default();
        self.lead.infos.insert(self.me, self.accepted_epoch);
        ctx.record("leader", json!({ "round": self.round }));
    }

    fn on_follower_info(&mut self, ctx: C, from: NodeId, accepted: u64) {
        if self.state != ZabState::Leading {
            return;
        }
        self.lead.silent.insert(from, 0);
        match self.lead.epoch {
            Some(epoch) => ctx.send(from, ZabMsg::NewEpoch { epoch }),
            None => {
                self.lead.infos.insert(from, accepted);
                if self.lead.infos.len() >= self.quorum() {
                    let epoch = self.lead.infos.values().max().copied().unwrap_or(0) + 1;
                    self.lead.epoch = Some(epoch);
                    self.set_accepted(ctx, epoch);
                    ctx.record("newepoch", json!({ "epoch": epoch, "term": epoch }));
                    let mine = (self.current_epoch, Rc::new(self.history.clone()));
                    self.lead.ack_epochs.insert(self.me, mine);
                    let infos: Vec<NodeId> = self.lead.infos.keys().copied().collect();
                    for f in infos.into_iter().filter(|f| *f != self.me) {
                        ctx.send(f, ZabMsg::NewEpoch { epoch });
                    }
                }
            }
        }
    }

    fn on_ack_epoch(&mut self, ctx: C, from: NodeId, epoch: u64, current: u64, history: History) {
        if self.state != ZabState::Leading || self.lead.epoch != Some(epoch) {
            return;
        }
        self.lead.silent.insert(from, 0);
        if self.lead.synced {
            // A late follower: send it the established history.
            self.send_newleader(ctx, from);
            return;
        }
        self.lead.ack_epochs.insert(from, (current, history));
        if self.lead.ack_epochs.len() < self.quorum() {
            return;
        }
        // The most up-to-date history of the quorum: highest current
        // epoch, then highest last zxid.
        let (&best, _) = self
            .lead
            .ack_epochs
            .iter()
            .max_by_key(|(id, (cur, h))| {
                let own = **id == self.me;
                (*cur, h.last().map(|t| t.zxid), own, std::cmp::Reverse(**id))
            })
            .expect("a quorum of acks");
        let history = Rc::clone(&self.lead.ack_epochs[&best].1);
        self.replace_history(ctx, &history);
        self.set_current(ctx, epoch);
        self.lead.synced = true;
        self.lead.ack_newleader.insert(self.me);
        ctx.record(
            "newleader",
            json!({ "epoch": epoch, "len": history.len(), "from": best.0, "term": epoch }),
        );
        let me = self.me;
        let to: Vec<NodeId> = self.lead.ack_epochs.keys().copied().collect();
        for f in to.into_iter().filter(|f| *f != me) {
            self.send_newleader(ctx, f);
        }
    }

    fn send_newleader(&mut self, ctx: C, to: NodeId) {
        let epoch = self.lead.epoch.expect("an epoch once synced");
        self.lead.followers.insert(to);
        ctx.send(
            to,
            ZabMsg::NewLeader {
                epoch,
                history: Rc::new(self.history.clone()),
            },
        );
    }

    fn on_ack_newleader(&mut self, ctx: C, from: NodeId, epoch: u64, last: Zxid) {
        if self.state != ZabState::Leading || self.lead.epoch != Some(epoch) {
            return;
        }
        self.lead.silent.insert(from, 0);
        self.lead.acked.insert(from, last);
        self.lead.ack_newleader.insert(from);
        if !self.lead.broadcasting && self.lead.ack_newleader.len() >= self.quorum() {
            self.lead.broadcasting = true;
            self.lead.counter = 0;
            let upto = self.last_zxid();
            self.deliver_upto(ctx, upto);
            let to: Vec<NodeId> = self.lead.ack_newleader.iter().copied().collect();
            for f in to.into_iter().filter(|f| *f != self.me) {
                ctx.send(f, ZabMsg::Commit { epoch, upto });
            }
        } else if self.lead.broadcasting {
            self.try_commit(ctx);
            let upto = self.committed_zxid();
            ctx.send(from, ZabMsg::Commit { epoch, upto });
        }
    }

    // ---- leader: broadcast ----

    fn on_request(&mut self, ctx: C, command: Rc<ClientCommand>) {
        match self.state {
            ZabState::Following {
                leader,
                synced: true,
                ..
            } => ctx.send(leader, ZabMsg::Request(command)),
            ZabState::Leading if self.lead.broadcasting => self.propose(ctx, command),
            _ => {} // no leader yet: the client tries again
        }
    }

    fn propose(&mut self, ctx: C, command: Rc<ClientCommand>) {
        if self.history.len() >= self.params.history_limit {
            if !self.history_full {
                self.history_full = true;
                ctx.record(
                    "history_full",
                    json!({ "limit": self.params.history_limit }),
                );
            }
            return;
        }
        let epoch = self.lead.epoch.expect("broadcasting has an epoch");
        self.lead.counter += 1;
        let prev = self.last_zxid();
        let txn = Txn {
            zxid: Zxid {
                epoch,
                counter: self.lead.counter,
            },
            command,
        };
        self.append(ctx, txn.clone());
        ctx.record_fields(
            "propose",
            vec![
                ("counter", Field::U64(self.lead.counter)),
                ("epoch", Field::U64(epoch)),
            ],
        );
        let followers: Vec<NodeId> = self.lead.followers.iter().copied().collect();
        for f in followers {
            let (prev, txn) = (prev, txn.clone());
            ctx.send(f, ZabMsg::Propose { epoch, prev, txn });
        }
        if self.params.bugs.has("commit_before_quorum") {
            // The bug: the leader's own ack commits (the rule: a quorum's acks).
            let upto = self.last_zxid();
            self.deliver_upto(ctx, upto);
        } else {
            self.try_commit(ctx);
        }
    }

    fn on_ack(&mut self, ctx: C, from: NodeId, epoch: u64, upto: Zxid) {
        if self.state != ZabState::Leading || self.lead.epoch != Some(epoch) {
            return;
        }
        self.lead.silent.insert(from, 0);
        let known = self.lead.acked.entry(from).or_default();
        *known = (*known).max(upto);
        if self.lead.broadcasting {
            self.try_commit(ctx);
        }
    }

    /// Commits the highest zxid a quorum (itself included) has.
    fn try_commit(&mut self, ctx: C) {
        let mut acked: Vec<Zxid> = self
            .lead
            .acked
            .iter()
            .filter(|(f, _)| self.lead.followers.contains(f))
            .map(|(_, z)| *z)
            .collect();
        acked.push(self.last_zxid());
        acked.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&upto) = acked.get(self.quorum() - 1) else {
            return;
        };
        if upto <= self.committed_zxid() {
            return;
        }
        let epoch = self.lead.epoch.expect("broadcasting has an epoch");
        self.deliver_upto(ctx, upto);
        let followers: Vec<NodeId> = self.lead.followers.iter().copied().collect();
        for f in followers {
            ctx.send(f, ZabMsg::Commit { epoch, upto });
        }
    }

    fn on_behind(&mut self, ctx: C, from: NodeId, epoch: u64, have: Zxid) {
        if self.state != ZabState::Leading || self.lead.epoch != Some(epoch) {
            return;
        }
        self.lead.silent.insert(from, 0);
        let start = self.history.partition_point(|t| t.zxid <= have);
        if start > 0 && self.history[start - 1].zxid != have {
            return; // not a prefix of ours: it must sync again
        }
        let mut prev = have;
        for txn in self.history[start..].iter().take(EARLY_LIMIT) {
            let txn = txn.clone();
            let next = txn.zxid;
            ctx.send(from, ZabMsg::Propose { epoch, prev, txn });
            prev = next;
        }
    }

    fn leader_tick(&mut self, ctx: C) {
        self.lead.age += 1;
        for s in self.lead.silent.values_mut() {
            *s += 1;
        }
        let limit = self.params.timeout_ticks;
        if !self.lead.broadcasting {
            if self.lead.age > 2 * limit {
                self.start_looking(ctx, "no quorum for the new epoch");
            }
            return;
        }
        let heard = self
            .lead
            .followers
            .iter()
            .filter(|f| self.lead.silent.get(f).is_some_and(|s| *s <= limit))
            .count();
        if heard + 1 < self.quorum() {
            self.start_looking(ctx, "lost its quorum");
            return;
        }
        let epoch = self.lead.epoch.expect("broadcasting has an epoch");
        let (last, commit) = (self.last_zxid(), self.committed_zxid());
        let followers: Vec<NodeId> = self.lead.followers.iter().copied().collect();
        for f in followers {
            ctx.send(
                f,
                ZabMsg::Ping {
                    epoch,
                    last,
                    commit,
                },
            );
        }
    }

    // ---- follower ----

    /// The leader it follows, if `from` is it.
    fn is_leader(&self, from: NodeId) -> bool {
        matches!(self.state, ZabState::Following { leader, .. } if leader == from)
    }

    fn on_new_epoch(&mut self, ctx: C, from: NodeId, epoch: u64) {
        if !self.is_leader(from) {
            return;
        }
        if epoch < self.accepted_epoch {
            self.start_looking(ctx, "an older epoch");
            return;
        }
        self.silent = 0;
        if epoch > self.accepted_epoch {
            self.set_accepted(ctx, epoch);
        }
        if let ZabState::Following { acked_epoch, .. } = &mut self.state {
            *acked_epoch = true;
        }
        ctx.send(
            from,
            ZabMsg::AckEpoch {
                epoch,
                current: self.current_epoch,
                history: Rc::new(self.history.clone()),
            },
        );
    }

    fn on_new_leader(&mut self, ctx: C, from: NodeId, epoch: u64, history: History) {
        if !self.is_leader(from) {
            return;
        }
        if epoch != self.accepted_epoch {
            self.start_looking(ctx, "NEWLEADER of another epoch");
            return;
        }
        self.silent = 0;
        self.replace_history(ctx, &history);
        self.set_current(ctx, epoch);
        if let ZabState::Following { synced, .. } = &mut self.state {
            *synced = true;
        }
        ctx.record("synced", json!({ "epoch": epoch, "len": history.len() }));
        let last = self.last_zxid();
        ctx.send(from, ZabMsg::AckNewLeader { epoch, last });
    }

    /// True if `from` is its leader, of epoch `epoch`, and it is synced.
    fn synced_with(&self, from: NodeId, epoch: u64) -> bool {
        self.is_leader(from)
            && epoch == self.current_epoch
            && matches!(self.state, ZabState::Following { synced: true, .. })
    }

    fn on_propose(&mut self, ctx: C, from: NodeId, epoch: u64, prev: Zxid, txn: Txn) {
        if !self.synced_with(from, epoch) {
            return;
        }
        self.silent = 0;
        if txn.zxid <= self.last_zxid() {
            // A copy of one it has: ack again.
            let upto = self.last_zxid();
            ctx.send(from, ZabMsg::Ack { epoch, upto });
            return;
        }
        if prev != self.last_zxid() {
            if self.early.len() < EARLY_LIMIT {
                self.early.insert(prev, txn);
            }
            return;
        }
        let mut next = Some(txn);
        while let Some(txn) = next.take() {
            if self.history.len() >= self.params.history_limit {
                break;
            }
            let zxid = txn.zxid;
            self.append(ctx, txn);
            ctx.record_fields(
                "ack",
                vec![
                    ("counter", Field::U64(zxid.counter)),
                    ("epoch", Field::U64(zxid.epoch)),
                ],
            );
            next = self.early.remove(&zxid);
        }
        self.early
            .retain(|prev, _| *prev > self.history.last().map_or(Zxid::default(), |t| t.zxid));
        let upto = self.last_zxid();
        ctx.send(from, ZabMsg::Ack { epoch, upto });
    }

    fn on_commit(&mut self, ctx: C, from: NodeId, epoch: u64, upto: Zxid) {
        if !self.synced_with(from, epoch) {
            return;
        }
        self.silent = 0;
        self.deliver_upto(ctx, upto);
    }

    fn on_ping(&mut self, ctx: C, from: NodeId, epoch: u64, last: Zxid, commit: Zxid) {
        if !self.is_leader(from) {
            return;
        }
        self.silent = 0;
        if !self.synced_with(from, epoch) {
            return;
        }
        self.deliver_upto(ctx, commit);
        let have = self.last_zxid();
        if have < last {
            ctx.send(from, ZabMsg::Behind { epoch, have });
        } else {
            ctx.send(from, ZabMsg::Ack { epoch, upto: have });
        }
    }

    fn on_tick(&mut self, ctx: C) {
        ctx.set_timer(self.params.tick, TICK);
        let limit = self.params.timeout_ticks;
        match self.state {
            ZabState::Looking => {
                self.silent += 1;
                if self.silent > limit {
                    self.new_round(ctx, self.round + 1);
                } else {
                    self.send_vote(ctx, None);
                }
            }
            ZabState::Following {
                leader,
                acked_epoch,
                ..
            } => {
                self.silent += 1;
                if self.silent > limit {
                    self.start_looking(ctx, "leader silent");
                } else if !acked_epoch {
                    let accepted = self.accepted_epoch;
                    ctx.send(leader, ZabMsg::FollowerInfo { accepted });
                }
            }
            ZabState::Leading => self.leader_tick(ctx),
        }
    }
}

impl Node<ZabMsg> for ZabServer {
    fn on_start(&mut self, ctx: &mut Ctx<'_, ZabMsg>) {
        self.me = ctx.id();
        self.peers = ctx.peers().to_vec();
        self.load(ctx);
        ctx.set_timer(self.params.tick, TICK);
        self.start_looking(ctx, "start");
        Self::sync(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, ZabMsg>, from: NodeId, msg: ZabMsg) {
        match msg {
            ZabMsg::Notification {
                round,
                vote,
                looking,
            } => self.on_notification(ctx, from, round, vote, looking),
            ZabMsg::FollowerInfo { accepted } => self.on_follower_info(ctx, from, accepted),
            ZabMsg::NewEpoch { epoch } => self.on_new_epoch(ctx, from, epoch),
            ZabMsg::AckEpoch {
                epoch,
                current,
                history,
            } => self.on_ack_epoch(ctx, from, epoch, current, history),
            ZabMsg::NewLeader { epoch, history } => self.on_new_leader(ctx, from, epoch, history),
            ZabMsg::AckNewLeader { epoch, last } => self.on_ack_newleader(ctx, from, epoch, last),
            ZabMsg::Propose { epoch, prev, txn } => self.on_propose(ctx, from, epoch, prev, txn),
            ZabMsg::Ack { epoch, upto } => self.on_ack(ctx, from, epoch, upto),
            ZabMsg::Commit { epoch, upto } => self.on_commit(ctx, from, epoch, upto),
            ZabMsg::Ping {
                epoch,
                last,
                commit,
            } => self.on_ping(ctx, from, epoch, last, commit),
            ZabMsg::Behind { epoch, have } => self.on_behind(ctx, from, epoch, have),
            ZabMsg::Request(command) => self.on_request(ctx, command),
            ZabMsg::Reply { .. } => {}
        }
        // Every durable change is synced before the messages that depend
        // on it leave.
        Self::sync(ctx);
        debug_assert!(
            self.delivered <= self.history.len(),
            "delivers only what it has"
        );
        debug_assert!(
            self.current_epoch <= self.accepted_epoch,
            "current epoch never passes the accepted one"
        );
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ZabMsg>, timer: TimerId) {
        debug_assert_eq!(timer.tag(), TICK, "a server has one timer");
        self.on_tick(ctx);
        Self::sync(ctx);
    }

    fn role(&self) -> Option<&'static str> {
        match self.state {
            ZabState::Looking => Some("looking"),
            ZabState::Following { .. } => Some("follower"),
            ZabState::Leading => Some("leader"),
        }
    }

    fn role_rank(&self) -> u64 {
        self.accepted_epoch
    }

    fn debug_state(&self) -> Option<String> {
        view::state(
            "ZabServer",
            &[
                ("state", &self.state),
                ("accepted_epoch", &self.accepted_epoch),
                ("current_epoch", &self.current_epoch),
                ("history_len", &self.history.len()),
                ("last_zxid", &self.last_zxid()),
                ("delivered", &self.delivered),
                ("round", &self.round),
                ("vote", &self.vote),
                ("kv", &self.kv.view()),
            ],
        )
    }
}
