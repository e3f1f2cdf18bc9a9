//! A Raft server: Figure 2 of the paper, one handler per message kind.
//!
//! The module essay (`super`) tells the story; here each function names the
//! rule it implements. Handlers write durable state (term, vote, log) to
//! storage and sync before they send anything that depends on it: the
//! `send` helper asserts there is nothing unsynced.

use super::kv::KvMachine;
use super::log::RaftLog;
use super::msg::{
    AppendReply, AppendRequest, ClientCommand, Command, Entry, Op, Outcome, RaftMsg, VoteReply,
    VoteRequest,
};
use super::{RaftParams, RaftReads};
use crate::clock::LocalTime;
use crate::hash::digest;
use crate::node::{Ctx, Field, Hex16, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;
use std::rc::Rc;

pub(super) const ELECTION: u64 = 1;
pub(super) const HEARTBEAT: u64 = 2;
pub(super) const QUORUM: u64 = 3;

/// Most entries one AppendEntries carries.
const MAX_ENTRIES: usize = 64;

const TERM_KEY: &str = "raft/term";
const VOTE_KEY: &str = "raft/vote";

/// Where a server stands (see the state diagram in the module essay).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Answers leaders and candidates; starts a campaign when the leader is silent.
    Follower,
    /// Asks, without changing any term, whether it could win (PreVote only).
    PreCandidate,
    /// Has incremented its term and voted for itself; asks for votes.
    Candidate,
    /// Replicates its log and answers clients.
    Leader,
}

/// What a leader knows about one follower (Figure 2's nextIndex/matchIndex).
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    /// Index of the next entry to send.
    next: u64,
    /// Highest index known to be replicated there.
    matched: u64,
    /// True while the leader looks for the point where the logs agree: one
    /// AppendEntries at a time, and `next` does not move ahead optimistically.
    probing: bool,
    /// Heard from in the current check-quorum period.
    active: bool,
    /// Highest read-index round it acknowledged in this term.
    acked_round: u64,
    /// When the leader last sent it an AppendEntries (local time).
    last_sent: LocalTime,
}

/// A get waiting for its read index (ReadIndex mode).
#[derive(Clone, Copy, Debug)]
struct PendingRead {
    client: NodeId,
    seq: u64,
    key: u32,
    read_index: u64,
    round: u64,
}

/// One Raft server with its key-value state machine.
#[derive(Debug)]
pub struct RaftServer {
    params: RaftParams,
    // Persistent state on all servers (synced before answering).
    term: u64,
    voted_for: Option<NodeId>,
    log: RaftLog,
    // Volatile state on all servers.
    role: Role,
    leader: Option<NodeId>,
    commit: u64,
    applied: u64,
    kv: KvMachine,
    peers: Vec<NodeId>,
    votes: Vec<NodeId>,
    election_deadline: LocalTime,
    election_timer: Option<TimerId>,
    leader_contact: Option<LocalTime>,
    /// The highest term whose leader this server recorded following (one
    /// `follow` record per term, not one per AppendEntries).
    followed_term: u64,
    // Volatile state on leaders (reset at each election).
    progress: Vec<Progress>,
    heartbeat_timer: Option<TimerId>,
    quorum_timer: Option<TimerId>,
    term_start: u64,
    read_round: u64,
    reads: Vec<PendingRead>,
    scratch: Vec<u64>,
    /// Famous bugs are on: the assertions that a correct server keeps Raft's
    /// invariants give way to the checks, which report the violation.
    lenient: bool,
    /// `vote_not_synced`: a granted vote not yet written to storage.
    vote_unwritten: bool,
}

impl RaftServer {
    /// A fresh server; `on_start` loads its durable state. Its peers (from
    /// the simulation) must be exactly the other servers.
    pub fn new(params: RaftParams) -> RaftServer {
        assert!(
            params.election_timeout_min <= params.election_timeout_max,
            "election_timeout_min {} is above election_timeout_max {}",
            params.election_timeout_min,
            params.election_timeout_max
        );
        RaftServer {
            params,
            term: 0,
            voted_for: None,
            log: RaftLog::default(),
            role: Role::Follower,
            leader: None,
            commit: 0,
            applied: 0,
            kv: KvMachine::default(),
            peers: Vec::new(),
            votes: Vec::new(),
            election_deadline: LocalTime(0),
            election_timer: None,
            leader_contact: None,
            followed_term: 0,
            progress: Vec::new(),
            heartbeat_timer: None,
            quorum_timer: None,
            term_start: 0,
            read_round: 0,
            reads: Vec::new(),
            scratch: Vec::new(),
            lenient: !params.bugs.names().is_empty(),
            vote_unwritten: false,
        }
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Follower, pre-candidate, candidate or leader.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The leader of the current term, if this server knows it.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// Who this server voted for in the current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    /// Highest log index known to be committed.
    pub fn commit_index(&self) -> u64 {
        self.commit
    }

    /// Highest log index applied to the state machine.
    pub fn last_applied(&self) -> u64 {
        self.applied
    }

    /// Index of the last log entry.
    pub fn last_log_index(&self) -> u64 {
        self.log.last_index()
    }

    /// Term of the entry at `index` (0 for index 0), if the log has it.
    pub fn log_term_at(&self, index: u64) -> Option<u64> {
        self.log.term_at(index)
    }

    /// The string a key holds in this server's state machine.
    pub fn value(&self, key: u32) -> &str {
        self.kv.get(key)
    }

    fn majority(&self) -> usize {
        let size = self.peers.len() + 1;
        size / 2 + 1
    }

    // ----- durable state -------------------------------------------------

    fn set_term(&mut self, ctx: &mut Ctx<'_, RaftMsg>, term: u64) {
        debug_assert!(
            term > self.term,
            "term must only grow: {} -> {term}",
            self.term
        );
        self.term = term;
        self.voted_for = None;
        self.vote_unwritten = false;
        // Bug `term_not_persisted` breaks "currentTerm is persistent state,
        // on stable storage before responding to RPCs" (Figure 2).
        if !self.params.bugs.has("term_not_persisted") {
            ctx.storage().put(TERM_KEY, term.to_le_bytes().to_vec());
        }
        ctx.storage().put(VOTE_KEY, Vec::new());
    }

    /// Appends to the log (without the terms-only-grow assertion when bugs
    /// are on: they may break it, and the checks report what follows).
    fn append_entry(&mut self, ctx: &mut Ctx<'_, RaftMsg>, entry: Entry) {
        if self.lenient {
            self.log.append_unchecked(ctx.storage(), entry);
        } else {
            self.log.append(ctx.storage(), entry);
        }
    }

    /// Bug `no_step_down`: a leader that ignores a higher term.
    fn ignores_higher_term(&self) -> bool {
        self.role == Role::Leader && self.params.bugs.has("no_step_down")
    }

    /// Bug `vote_not_synced`: the vote granted earlier reaches storage only
    /// when the server next handles a timer (a write-behind cache).
    fn write_late_vote(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        if std::mem::take(&mut self.vote_unwritten) {
            if let Some(candidate) = self.voted_for {
                ctx.storage()
                    .put(VOTE_KEY, candidate.0.to_le_bytes().to_vec());
            }
        }
    }

    fn set_vote(&mut self, ctx: &mut Ctx<'_, RaftMsg>, candidate: NodeId) {
        debug_assert!(
            self.voted_for.is_none_or(|v| v == candidate),
            "second vote in term {}: {:?} then {candidate}",
            self.term,
            self.voted_for
        );
        self.voted_for = Some(candidate);
        let bytes = candidate.0.to_le_bytes().to_vec();
        ctx.storage().put(VOTE_KEY, bytes);
        ctx.record(
            "vote",
            json!({ "term": self.term, "candidate": candidate.0 }),
        );
    }

    fn sync(ctx: &mut Ctx<'_, RaftMsg>) {
        if ctx.storage().has_unsynced() {
            ctx.storage().sync();
        }
    }

    fn send(ctx: &mut Ctx<'_, RaftMsg>, to: NodeId, msg: RaftMsg) {
        debug_assert!(
            !ctx.storage().has_unsynced(),
            "{} sends {msg:?} before syncing its state",
            ctx.id()
        );
        ctx.send(to, msg);
    }

    fn load(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        let storage = ctx.storage();
        let word = |bytes: &[u8]| bytes.try_into().ok().map(u64::from_le_bytes);
        self.term = storage.get(TERM_KEY).and_then(word).unwrap_or(0);
        self.voted_for = storage
            .get(VOTE_KEY)
            .and_then(|b| b.try_into().ok())
            .map(|b| NodeId(u32::from_le_bytes(b)));
        self.log = RaftLog::load(storage);
    }

    // ----- timers and roles ----------------------------------------------

    /// Followers and candidates: a new randomized timeout from now. The
    /// timer is lazy: it fires at the old deadline and re-arms if moved.
    fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        let (low, high) = (
            self.params.election_timeout_min.as_nanos(),
            self.params.election_timeout_max.as_nanos(),
        );
        let timeout = SimDuration::from_nanos(ctx.rng().between(low, high));
        self.election_deadline = ctx.now_local() + timeout;
        if self.election_timer.is_none() {
            self.election_timer = Some(ctx.set_timer(timeout, ELECTION));
        }
    }

    /// Rules for all servers: a higher term makes a server a follower.
    /// Also how candidates yield to a leader, and leaders step down.
    /// A leader that steps down records `stepped_down {"term"}`, the term
    /// it led.
    fn become_follower(&mut self, ctx: &mut Ctx<'_, RaftMsg>, term: u64, leader: Option<NodeId>) {
        let led = self.term;
        if term > self.term {
            self.set_term(ctx, term);
        }
        let was_leader = self.role == Role::Leader;
        self.role = Role::Follower;
        self.leader = leader;
        if was_leader {
            ctx.record("stepped_down", json!({ "term": led }));
            self.end_leadership(ctx);
        }
        if self.election_timer.is_none() {
            self.reset_election_timer(ctx);
        }
    }

    fn end_leadership(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        let timers = [self.heartbeat_timer.take(), self.quorum_timer.take()];
        for timer in timers.into_iter().flatten() {
            ctx.cancel_timer(timer);
        }
        Self::sync(ctx);
        for read in std::mem::take(&mut self.reads) {
            let outcome = Outcome::NotLeader { leader_hint: None };
            let seq = read.seq;
            Self::send(ctx, read.client, RaftMsg::ClientReply { seq, outcome });
        }
    }

    /// Followers: election timeout elapsed without hearing from a leader.
    fn on_election_timeout(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        self.election_timer = None;
        if self.role == Role::Leader {
            return;
        }
        let now = ctx.now_local();
        if now < self.election_deadline {
            let rest = self.election_deadline.saturating_since(now);
            self.election_timer = Some(ctx.set_timer(rest, ELECTION));
            return;
        }
        if self.params.pre_vote {
            self.start_pre_vote(ctx);
        } else {
            self.start_election(ctx);
        }
    }

    fn vote_request(&self, term: u64, pre_vote: bool) -> RaftMsg {
        RaftMsg::RequestVote(VoteRequest {
            term,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
            pre_vote,
        })
    }

    /// PreVote: ask whether we could win in term + 1, changing nothing durable.
    fn start_pre_vote(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes.clear();
        self.votes.push(ctx.id());
        self.reset_election_timer(ctx);
        if self.votes.len() >= self.majority() {
            return self.start_election(ctx);
        }
        let request = self.vote_request(self.term + 1, true);
        Self::sync(ctx);
        for &peer in &self.peers {
            Self::send(ctx, peer, request.clone());
        }
    }

    /// Candidates: increment currentTerm, vote for self, reset the election
    /// timer, send RequestVote to all other servers. Records `candidate
    /// {"term"}`, the term it stands in.
    fn start_election(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        self.set_term(ctx, self.term + 1);
        self.set_vote(ctx, ctx.id());
        self.role = Role::Candidate;
        ctx.record("candidate", json!({ "term": self.term }));
        self.leader = None;
        self.votes.clear();
        self.votes.push(ctx.id());
        self.reset_election_timer(ctx);
        Self::sync(ctx);
        // A crash here: the new term and self-vote must survive it.
        ctx.maybe_fault_point("election");
        if self.votes.len() >= self.majority() {
            return self.become_leader(ctx);
        }
        let request = self.vote_request(self.term, false);
        for &peer in &self.peers {
            Self::send(ctx, peer, request.clone());
        }
    }

    /// Candidates: votes from a majority make a leader. It appends a no-op
    /// of its term (so it can commit, and serve reads) and sends heartbeats.
    fn become_leader(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        debug_assert_eq!(
            self.voted_for,
            Some(ctx.id()),
            "leader did not vote for itself"
        );
        self.role = Role::Leader;
        self.leader = Some(ctx.id());
        ctx.record("leader", json!({ "term": self.term }));
        let next = self.log.last_index() + 1;
        for &peer in &self.peers {
            self.progress[peer.index()] = Progress {
                next,
                probing: true,
                last_sent: LocalTime(i64::MIN),
                ..Progress::default()
            };
        }
        self.term_start = next;
        self.read_round = 0;
        self.reads.clear();
        if self.params.leader_noop {
            let noop = Entry {
                term: self.term,
                command: Rc::new(Command::Noop),
            };
            self.append_entry(ctx, noop);
            Self::sync(ctx);
        }
        self.heartbeat_timer = Some(ctx.set_timer(self.params.heartbeat_interval, HEARTBEAT));
        if self.params.check_quorum {
            let period = self.params.election_timeout_min;
            self.quorum_timer = Some(ctx.set_timer(period, QUORUM));
        }
        self.broadcast_append(ctx);
        self.advance_leader_commit(ctx);
    }

    /// Leaders: heartbeats (AppendEntries, maybe empty) during idle
    /// periods. A follower sent an AppendEntries within the last half
    /// interval is skipped: it heard from the leader recently enough.
    fn on_heartbeat(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        let interval = self.params.heartbeat_interval;
        self.heartbeat_timer = Some(ctx.set_timer(interval, HEARTBEAT));
        let due = SimDuration::from_nanos(interval.as_nanos() / 2);
        for i in 0..self.peers.len() {
            let peer = self.peers[i];
            let last_sent = self.progress[peer.index()].last_sent;
            if ctx.now_local().saturating_since(last_sent) >= due {
                self.send_append(ctx, peer);
            }
        }
    }

    /// CheckQuorum: a leader that heard from no majority in the last period
    /// steps down.
    fn on_quorum_check(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        self.quorum_timer = None;
        let mut heard = 1;
        for &peer in &self.peers {
            let progress = &mut self.progress[peer.index()];
            heard += usize::from(progress.active);
            progress.active = false;
        }
        if heard < self.majority() {
            return self.become_follower(ctx, self.term, None);
        }
        let period = self.params.election_timeout_min;
        self.quorum_timer = Some(ctx.set_timer(period, QUORUM));
    }

    /// Leader stickiness (with PreVote or CheckQuorum): a server that heard
    /// from a current leader within the minimum election timeout, or is the
    /// leader, refuses to help depose it.
    fn in_lease(&self, ctx: &Ctx<'_, RaftMsg>) -> bool {
        if !(self.params.pre_vote || self.params.check_quorum) {
            return false;
        }
        if self.role == Role::Leader {
            return true;
        }
        let recent = self.leader_contact.is_some_and(|at| {
            ctx.now_local().saturating_since(at) < self.params.election_timeout_min
        });
        self.leader.is_some() && recent
    }

    // ----- RequestVote ---------------------------------------------------

    /// RequestVote receiver: reply false if term < currentTerm; grant if
    /// votedFor is null or the candidate, and the candidate's log is at
    /// least as up to date as ours.
    fn handle_request_vote(&mut self, ctx: &mut Ctx<'_, RaftMsg>, from: NodeId, req: VoteRequest) {
        if req.pre_vote {
            return self.handle_pre_vote(ctx, from, req);
        }
        if req.term > self.term && self.in_lease(ctx) {
            let reply = VoteReply {
                term: self.term,
                granted: false,
                pre_vote: false,
            };
            return Self::send(ctx, from, RaftMsg::RequestVoteReply(reply));
        }
        // Bug `no_step_down` breaks "if RPC request contains term T >
        // currentTerm: set currentTerm = T, convert to follower": the
        // leader refuses and keeps leading its term.
        if req.term > self.term && self.ignores_higher_term() {
            let reply = VoteReply {
                term: self.term,
                granted: false,
                pre_vote: false,
            };
            return Self::send(ctx, from, RaftMsg::RequestVoteReply(reply));
        }
        if req.term > self.term {
            self.become_follower(ctx, req.term, None);
        }
        // Bug `vote_without_log_check` breaks §5.4.1: "grant only if the
        // candidate's log is at least as up-to-date as receiver's log".
        let log_ok = self.params.bugs.has("vote_without_log_check")
            || self
                .log
                .is_up_to_date(req.last_log_index, req.last_log_term);
        let granted = req.term == self.term && self.voted_for.is_none_or(|v| v == from) && log_ok;
        // Bug `vote_not_synced` breaks "votedFor is persistent state, on
        // stable storage before responding": the vote stays in memory (it
        // is written at the next timer) and the reply goes out at once.
        if granted && self.params.bugs.has("vote_not_synced") {
            self.voted_for = Some(from);
            self.vote_unwritten = true;
            ctx.record("vote", json!({ "term": self.term, "candidate": from.0 }));
            self.reset_election_timer(ctx);
            Self::sync(ctx);
            ctx.maybe_fault_point("vote");
            let reply = VoteReply {
                term: self.term,
                granted,
                pre_vote: false,
            };
            return Self::send(ctx, from, RaftMsg::RequestVoteReply(reply));
        }
        if granted {
            self.set_vote(ctx, from);
            self.reset_election_timer(ctx);
        }
        Self::sync(ctx);
        if granted {
            // Persisted the vote, replying: a crash must not let it vote twice.
            ctx.maybe_fault_point("vote");
        }
        let reply = VoteReply {
            term: self.term,
            granted,
            pre_vote: false,
        };
        Self::send(ctx, from, RaftMsg::RequestVoteReply(reply));
    }

    /// PreVote receiver: grant iff the proposed term is above ours, the log
    /// is up to date and we are not in a leader's lease. Changes nothing.
    fn handle_pre_vote(&mut self, ctx: &mut Ctx<'_, RaftMsg>, from: NodeId, req: VoteRequest) {
        let granted = req.term > self.term
            && !self.in_lease(ctx)
            && self
                .log
                .is_up_to_date(req.last_log_index, req.last_log_term);
        let reply = VoteReply {
            term: if granted { req.term } else { self.term },
            granted,
            pre_vote: true,
        };
        Self::send(ctx, from, RaftMsg::RequestVoteReply(reply));
    }

    fn count_vote(&mut self, from: NodeId) -> bool {
        if !self.votes.contains(&from) {
            self.votes.push(from);
        }
        self.votes.len() >= self.majority()
    }

    /// Candidates and pre-candidates count votes; a higher term in a
    /// reply makes them followers.
    fn handle_vote_reply(&mut self, ctx: &mut Ctx<'_, RaftMsg>, from: NodeId, reply: VoteReply) {
        if reply.pre_vote && reply.granted {
            let ours = self.role == Role::PreCandidate && reply.term == self.term + 1;
            if ours && self.count_vote(from) {
                self.start_election(ctx);
            }
            return;
        }
        // Bug `no_step_down`: a leader ignores the higher term.
        if reply.term > self.term && !self.ignores_higher_term() {
            return self.become_follower(ctx, reply.term, None);
        }
        let ours = self.role == Role::Candidate && reply.term == self.term;
        if ours && reply.granted && !reply.pre_vote && self.count_vote(from) {
            self.become_leader(ctx);
        }
    }

    // ----- AppendEntries -------------------------------------------------

    /// AppendEntries receiver (Figure 2, rules 1-5). The first one a
    /// server accepts from the leader of a term (since it started) is
    /// recorded as `follow {"term", "leader"}`.
    fn handle_append_entries(
        &mut self,
        ctx: &mut Ctx<'_, RaftMsg>,
        from: NodeId,
        req: AppendRequest,
    ) {
        if req.term < self.term {
            let reply = self.append_reply(false, 0, None, 0, req.round);
            return Self::send(ctx, from, reply);
        }
        // Bug `no_step_down`: a leader ignores a new leader's higher term
        // and keeps leading its own (it answers as a leader would not).
        if req.term > self.term && self.ignores_higher_term() {
            let reply = self.append_reply(false, 0, None, 0, req.round);
            return Self::send(ctx, from, reply);
        }
        debug_assert!(
            self.lenient || !(self.role == Role::Leader && req.term == self.term),
            "two leaders in term {}: {} and {from}",
            self.term,
            ctx.id()
        );
        if req.term > self.term || self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(ctx, req.term, Some(from));
        }
        self.leader_contact = Some(ctx.now_local());
        self.reset_election_timer(ctx);
        if req.term > self.followed_term {
            self.followed_term = req.term;
            let leader = ctx.name(from).to_string();
            ctx.record("follow", json!({ "term": req.term, "leader": leader }));
        }
        let reply = match self.check_prev(req.prev_log_index, req.prev_log_term) {
            Err((conflict_term, conflict_index)) => {
                self.append_reply(false, 0, conflict_term, conflict_index, req.round)
            }
            Ok(()) => {
                let last_new = self.store_entries(ctx, req.prev_log_index, &req.entries);
                // Appended (synced below), acking: the ack counts towards commit.
                ctx.maybe_fault_point("append");
                self.follow_commit(req.leader_commit, last_new);
                self.append_reply(true, last_new, None, 0, req.round)
            }
        };
        Self::sync(ctx);
        Self::send(ctx, from, reply);
        self.apply_committed(ctx);
    }

    fn append_reply(
        &self,
        success: bool,
        match_index: u64,
        conflict_term: Option<u64>,
        conflict_index: u64,
        round: u64,
    ) -> RaftMsg {
        RaftMsg::AppendEntriesReply(AppendReply {
            term: self.term,
            success,
            match_index,
            conflict_term,
            conflict_index,
            round,
        })
    }

    /// Rule 2: reply false if the log has no entry at prevLogIndex whose
    /// term matches prevLogTerm; the error carries the backtracking hint.
    fn check_prev(&self, prev_index: u64, prev_term: u64) -> Result<(), (Option<u64>, u64)> {
        match self.log.term_at(prev_index) {
            None => Err((None, self.log.last_index() + 1)),
            Some(term) if term != prev_term => {
                Err((Some(term), self.log.first_index_of_term(term)))
            }
            Some(_) => Ok(()),
        }
    }

    /// Rules 3 and 4: delete an existing entry that conflicts with a new one
    /// (same index, different term) and all that follow; append any new
    /// entries not already in the log. Returns the index of the last new entry.
    fn store_entries(&mut self, ctx: &mut Ctx<'_, RaftMsg>, prev: u64, entries: &[Entry]) -> u64 {
        let last_new = prev + entries.len() as u64;
        for (index, entry) in (prev + 1..).zip(entries) {
            match self.log.term_at(index) {
                Some(term) if term == entry.term => continue,
                // Bug `no_truncation` breaks rule 3, "if an existing entry
                // conflicts with a new one, delete the existing entry and
                // all that follow it": the follower keeps its own entry.
                Some(_) if self.params.bugs.has("no_truncation") => continue,
                Some(term) => {
                    assert!(
                        self.lenient || index > self.commit,
                        "{} would truncate committed entry {index} (term {term}, commit {})",
                        ctx.id(),
                        self.commit
                    );
                    self.log.truncate_from(ctx.storage(), index);
                }
                None => {}
            }
            debug_assert_eq!(
                self.log.last_index() + 1,
                index,
                "log matching: gap at {index}"
            );
            self.append_entry(ctx, entry.clone());
        }
        last_new
    }

    /// Rule 5: if leaderCommit > commitIndex, set commitIndex =
    /// min(leaderCommit, index of last new entry).
    fn follow_commit(&mut self, leader_commit: u64, last_new: u64) {
        let target = leader_commit.min(last_new);
        if target > self.commit {
            self.set_commit(target);
        }
    }

    fn set_commit(&mut self, index: u64) {
        debug_assert!(
            index >= self.commit,
            "commit index went back: {} -> {index}",
            self.commit
        );
        debug_assert!(
            index <= self.log.last_index(),
            "commit index {index} beyond the log's end {}",
            self.log.last_index()
        );
        self.commit = index;
    }

    /// Leaders: a reply either advances matchIndex/nextIndex (success) or
    /// moves nextIndex back using the conflict hint, and retries.
    fn handle_append_reply(
        &mut self,
        ctx: &mut Ctx<'_, RaftMsg>,
        from: NodeId,
        reply: AppendReply,
    ) {
        // Bug `no_step_down` breaks "if RPC response contains term T >
        // currentTerm: convert to follower": the leader stays, and counts
        // the reply as an acknowledgement of its leadership.
        if reply.term > self.term && self.ignores_higher_term() {
            let progress = &mut self.progress[from.index()];
            progress.active = true;
            progress.acked_round = progress.acked_round.max(reply.round);
            return self.serve_reads(ctx);
        }
        if reply.term > self.term {
            return self.become_follower(ctx, reply.term, None);
        }
        if self.role != Role::Leader || reply.term < self.term {
            return;
        }
        let progress = &mut self.progress[from.index()];
        progress.active = true;
        progress.acked_round = progress.acked_round.max(reply.round);
        if reply.success {
            self.on_append_accepted(ctx, from, reply.match_index);
        } else {
            self.on_append_rejected(ctx, from, &reply);
        }
        self.serve_reads(ctx);
    }

    fn on_append_accepted(&mut self, ctx: &mut Ctx<'_, RaftMsg>, from: NodeId, match_index: u64) {
        let last = self.log.last_index();
        let progress = &mut self.progress[from.index()];
        progress.matched = progress.matched.max(match_index);
        progress.next = progress.next.max(progress.matched + 1);
        progress.probing = false;
        if progress.next <= last {
            self.send_append(ctx, from);
        }
        self.advance_leader_commit(ctx);
    }

    /// Fast backtracking: if the leader has entries of the conflicting term,
    /// retry after its last one; otherwise at the follower's first index of it.
    fn on_append_rejected(
        &mut self,
        ctx: &mut Ctx<'_, RaftMsg>,
        from: NodeId,
        reply: &AppendReply,
    ) {
        let next = match reply.conflict_term {
            Some(term) => self
                .log
                .last_index_of_term(term)
                .map_or(reply.conflict_index, |i| i + 1),
            None => reply.conflict_index,
        };
        let last = self.log.last_index();
        let progress = &mut self.progress[from.index()];
        progress.next = next.clamp(progress.matched + 1, last + 1);
        progress.probing = true;
        self.send_append(ctx, from);
    }

    /// Sends the entries from nextIndex (at most [`MAX_ENTRIES`]); while not
    /// probing, nextIndex moves past them at once (pipelining).
    fn send_append(&mut self, ctx: &mut Ctx<'_, RaftMsg>, peer: NodeId) {
        let progress = &mut self.progress[peer.index()];
        let prev_log_index = progress.next - 1;
        let prev_log_term = self
            .log
            .term_at(prev_log_index)
            .expect("nextIndex is at most lastIndex + 1");
        let entries = self.log.slice(progress.next, MAX_ENTRIES);
        if !progress.probing {
            progress.next += entries.len() as u64;
        }
        progress.last_sent = ctx.now_local();
        let request = AppendRequest {
            term: self.term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit,
            round: self.read_round,
        };
        Self::send(ctx, peer, RaftMsg::AppendEntries(request));
    }

    fn broadcast_append(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        for i in 0..self.peers.len() {
            self.send_append(ctx, self.peers[i]);
        }
    }

    /// The `majority`-th highest of the leader's own value and its peers'.
    fn quorum_value(&mut self, own: u64, of: impl Fn(&Progress) -> u64) -> u64 {
        self.scratch.clear();
        self.scratch.push(own);
        for peer in &self.peers {
            self.scratch.push(of(&self.progress[peer.index()]));
        }
        self.scratch.sort_unstable_by(|a, b| b.cmp(a));
        self.scratch[self.majority() - 1]
    }

    /// Leaders: if there is an N > commitIndex with a majority of
    /// matchIndex >= N and log[N].term == currentTerm, commit up to N.
    /// Entries of earlier terms commit only by being before N (Figure 8).
    fn advance_leader_commit(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        let n = self.quorum_value(self.log.last_index(), |p| p.matched);
        // Bug `figure8_commit` breaks §5.4.2: "never commit log entries
        // from previous terms by counting replicas".
        let figure8 = self.params.bugs.has("figure8_commit");
        if n > self.commit && (figure8 || self.log.term_at(n) == Some(self.term)) {
            self.set_commit(n);
            self.apply_committed(ctx);
        }
    }

    /// Rules for all servers: if commitIndex > lastApplied, apply entries in
    /// order. The leader answers the client of each command it applies.
    fn apply_committed(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        if self.applied >= self.commit {
            return;
        }
        while self.applied < self.commit {
            self.applied += 1;
            let entry = self.log.entry(self.applied);
            // The entry in the reader's terms, for log_matching's report.
            let (client, text) = match entry.command.as_ref() {
                Command::Noop => (None, Field::Str("no-op")),
                Command::Client(c) => (Some(c.client.0), Field::from(c.op.describe())),
            };
            // In key order (see `Detail::fields`).
            let mut detail = Vec::with_capacity(5);
            if let Some(client) = client {
                detail.push(("client", Field::from(client)));
            }
            detail.push(("digest", Field::Hex(Hex16::new(digest(entry)))));
            detail.push(("entry", text));
            detail.push(("index", Field::U64(self.applied)));
            detail.push(("term", Field::U64(entry.term)));
            ctx.record_fields("commit", detail);
            let Command::Client(command) = entry.command.as_ref() else {
                continue;
            };
            // A get changes nothing: only the leader, which answers it,
            // needs the value it reads.
            if self.role != Role::Leader && matches!(command.op, Op::Get { .. }) {
                continue;
            }
            let outcome = self.kv.apply(command);
            if let (Role::Leader, Some(outcome)) = (self.role, outcome) {
                let reply = RaftMsg::ClientReply {
                    seq: command.seq,
                    outcome,
                };
                Self::send(ctx, command.client, reply);
            }
        }
        ctx.record_fields("state", vec![("version", Field::U64(self.applied))]);
        self.serve_reads(ctx);
    }

    // ----- clients -------------------------------------------------------

    /// Leaders: append the command to the log and replicate it; reply
    /// after it is applied. Others point to the leader they know.
    fn handle_client_request(
        &mut self,
        ctx: &mut Ctx<'_, RaftMsg>,
        from: NodeId,
        command: ClientCommand,
    ) {
        if self.role != Role::Leader {
            let outcome = Outcome::NotLeader {
                leader_hint: self.leader,
            };
            let seq = command.seq;
            return Self::send(ctx, from, RaftMsg::ClientReply { seq, outcome });
        }
        if let (RaftReads::ReadIndex, Op::Get { key }) = (self.params.reads, &command.op) {
            return self.start_read(ctx, from, command.seq, *key);
        }
        let entry = Entry {
            term: self.term,
            command: Rc::new(Command::Client(command)),
        };
        self.append_entry(ctx, entry);
        Self::sync(ctx);
        ctx.maybe_fault_point("leader_append");
        for i in 0..self.peers.len() {
            let peer = self.peers[i];
            if !self.progress[peer.index()].probing {
                self.send_append(ctx, peer);
            }
        }
        self.advance_leader_commit(ctx);
    }

    /// ReadIndex: remember commitIndex (at least this term's no-op) as the
    /// read index, and start a heartbeat round that must be acknowledged by
    /// a majority before the read is answered.
    fn start_read(&mut self, ctx: &mut Ctx<'_, RaftMsg>, client: NodeId, seq: u64, key: u32) {
        self.read_round += 1;
        self.reads.push(PendingRead {
            client,
            seq,
            key,
            read_index: self.commit.max(self.term_start),
            round: self.read_round,
        });
        self.broadcast_append(ctx);
        self.serve_reads(ctx);
    }

    /// Answers the reads whose round a majority acknowledged and whose read
    /// index is applied.
    fn serve_reads(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        if self.reads.is_empty() || self.role != Role::Leader {
            return;
        }
        // Bug `read_without_quorum` breaks §6.4: "the leader must confirm
        // it is still leader (a heartbeat round acknowledged by a majority)
        // before it answers a read".
        let confirmed = if self.params.bugs.has("read_without_quorum") {
            self.read_round
        } else {
            self.quorum_value(self.read_round, |p| p.acked_round)
        };
        let mut i = 0;
        while i < self.reads.len() {
            let read = self.reads[i];
            if read.round > confirmed || read.read_index > self.applied {
                i += 1;
                continue;
            }
            self.reads.remove(i);
            let outcome = Outcome::Value(self.kv.get(read.key).to_string());
            let seq = read.seq;
            Self::send(ctx, read.client, RaftMsg::ClientReply { seq, outcome });
        }
    }
}

impl Node<RaftMsg> for RaftServer {
    fn role(&self) -> Option<&'static str> {
        Some(match self.role {
            Role::Follower => "follower",
            Role::PreCandidate => "precandidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
    }

    fn role_rank(&self) -> u64 {
        self.term
    }

    /// Rebuilds term, vote and log from storage; everything else starts
    /// over (a follower with nothing committed or applied).
    fn on_start(&mut self, ctx: &mut Ctx<'_, RaftMsg>) {
        self.peers = ctx.peers().to_vec();
        let size = self
            .peers
            .iter()
            .chain([&ctx.id()])
            .map(|n| n.index())
            .max();
        self.progress = vec![Progress::default(); size.unwrap_or(0) + 1];
        self.load(ctx);
        ctx.record("state", json!({ "version": 0 }));
        self.reset_election_timer(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, RaftMsg>, from: NodeId, msg: RaftMsg) {
        match msg {
            RaftMsg::RequestVote(req) => self.handle_request_vote(ctx, from, req),
            RaftMsg::RequestVoteReply(reply) => self.handle_vote_reply(ctx, from, reply),
            RaftMsg::AppendEntries(req) => self.handle_append_entries(ctx, from, req),
            RaftMsg::AppendEntriesReply(reply) => self.handle_append_reply(ctx, from, reply),
            RaftMsg::ClientRequest(command) => self.handle_client_request(ctx, from, command),
            RaftMsg::ClientReply { .. } => {}
        }
        Self::sync(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, RaftMsg>, timer: TimerId) {
        self.write_late_vote(ctx);
        let current = Some(timer);
        match timer.tag() {
            ELECTION if self.election_timer == current => self.on_election_timeout(ctx),
            HEARTBEAT if self.heartbeat_timer == current => self.on_heartbeat(ctx),
            QUORUM if self.quorum_timer == current => self.on_quorum_check(ctx),
            _ => {} // a timer of an earlier role
        }
        Self::sync(ctx);
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        let progress = self.progress.iter().map(|p| (p.next, p.matched));
        view::state(
            "RaftServer",
            &[
                ("term", &self.term),
                ("voted_for", &self.voted_for),
                ("role", &self.role),
                ("leader", &self.leader),
                ("commit", &self.commit),
                ("applied", &self.applied),
                ("last_index", &self.log.last_index()),
                ("log", &self.log.view()),
                ("kv", &self.kv.view()),
                ("votes", &view::first(&self.votes)),
                ("progress (next, matched)", &view::first(progress)),
                ("pending_reads", &self.reads.len()),
                ("election_deadline", &self.election_deadline),
                ("leader_contact", &self.leader_contact),
            ],
        )
    }
}
