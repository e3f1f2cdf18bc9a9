//! A Paxos server: an acceptor and a learner, and a proposer if it is one
//! of the first `proposers` servers. Messages to itself are handled in
//! place (queued and run before the handler returns), so a proposer is
//! also its own acceptor without a trip through the network.

use super::{own_value, Backoff, Ballot, PaxosMsg, PaxosParams};
use crate::models::view;
use crate::node::{Ctx, Node, NodeId, TimerId};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Timer: a proposer's first round (when staggered).
const START: u64 = 1;
/// Timer: a proposer's phase timed out.
const TIMEOUT: u64 = 2;
/// Timer: a proposer's backoff is over.
const RETRY: u64 = 3;
/// Timer: a learner with nothing learned asks again.
const ASK: u64 = 4;

/// Storage keys (durable state).
const PROMISED: &str = "acceptor/promised";
const ACCEPTED: &str = "acceptor/accepted";
const ROUND: &str = "proposer/round";
const LEARNED: &str = "learner/learned";

/// The most proposal numbers a learner tallies at once (the lowest are
/// dropped first).
pub const MAX_TALLIES: usize = 64;
/// The most messages a handler may queue to itself (a bound on local work).
const MAX_LOCAL: usize = 64;

/// Where a proposer stands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Not proposing (not a proposer, not started, or done).
    Idle,
    /// Phase 1: the promises so far, with what each acceptor had accepted.
    Preparing {
        ballot: Ballot,
        promises: BTreeMap<NodeId, Option<(Ballot, String)>>,
    },
    /// Phase 2: asked the acceptors to accept `(ballot, value)`.
    Accepting { ballot: Ballot, value: String },
    /// Preempted, waiting for the backoff timer.
    Waiting,
}

/// One Paxos server.
#[derive(Debug)]
pub struct Server {
    params: PaxosParams,
    /// Its index among the proposers, if it is one.
    proposer: Option<u32>,
    // Acceptor (durable).
    promised: Ballot,
    accepted: Option<(Ballot, String)>,
    // Proposer.
    round: u64,
    seen_round: u64,
    phase: Phase,
    timer: Option<TimerId>,
    // Learner.
    learned: Option<(Ballot, String)>,
    tallies: BTreeMap<Ballot, (String, BTreeSet<NodeId>)>,
    /// Messages to itself, handled before the handler returns.
    local: VecDeque<(NodeId, PaxosMsg)>,
}

impl Server {
    /// Server `id` (its durable state is read in `on_start`).
    pub fn new(params: PaxosParams, id: NodeId) -> Server {
        Server {
            params,
            proposer: (id.0 < params.proposers).then_some(id.0),
            promised: Ballot::default(),
            accepted: None,
            round: 0,
            seen_round: 0,
            phase: Phase::Idle,
            timer: None,
            learned: None,
            tallies: BTreeMap::new(),
            local: VecDeque::new(),
        }
    }

    /// The value it learned, if any.
    pub fn learned(&self) -> Option<&str> {
        self.learned.as_ref().map(|(_, v)| v.as_str())
    }

    /// The acceptor's promise and accepted proposal.
    pub fn acceptor_state(&self) -> (Ballot, Option<&(Ballot, String)>) {
        (self.promised, self.accepted.as_ref())
    }

    fn send(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, to: NodeId, msg: PaxosMsg) {
        if to == ctx.id() {
            debug_assert!(self.local.len() < MAX_LOCAL, "local queue overflow");
            self.local.push_back((to, msg));
        } else {
            ctx.send(to, msg);
        }
    }

    /// Sends `msg` to every server, itself included.
    fn send_to_all(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, msg: PaxosMsg) {
        for i in 0..self.params.servers {
            self.send(ctx, NodeId(i), msg.clone());
        }
    }

    /// Handles the messages it sent itself.
    fn drain_local(&mut self, ctx: &mut Ctx<'_, PaxosMsg>) {
        while let Some((_, msg)) = self.local.pop_front() {
            let me = ctx.id();
            self.handle(ctx, me, msg);
        }
    }

    fn handle(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, from: NodeId, msg: PaxosMsg) {
        match msg {
            PaxosMsg::Prepare { ballot } => self.on_prepare(ctx, from, ballot),
            PaxosMsg::Promise { ballot, accepted } => self.on_promise(ctx, from, ballot, accepted),
            PaxosMsg::Accept { ballot, value } => self.on_accept(ctx, from, ballot, value),
            PaxosMsg::Accepted { ballot, value } => self.on_accepted(ctx, from, ballot, value),
            PaxosMsg::Nack { ballot, promised } => self.on_nack(ctx, ballot, promised),
            PaxosMsg::Ask => self.on_ask(ctx, from),
            PaxosMsg::Decided { ballot, value } => self.learn(ctx, ballot, value, "decided"),
        }
    }

    // ----- Acceptor -----

    fn on_prepare(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, from: NodeId, ballot: Ballot) {
        if ballot < self.promised {
            ctx.record("nack", json!({ "round": ballot.round, "by": ballot.by }));
            let promised = self.promised;
            self.send(ctx, from, PaxosMsg::Nack { ballot, promised });
            return;
        }
        if ballot > self.promised {
            self.promised = ballot;
            ctx.storage().put_json(PROMISED, &ballot);
            // Bug `promise_not_synced` breaks "the promise is stable
            // storage before the reply": the write waits for the next sync.
            if !self.params.bugs.has("promise_not_synced") {
                ctx.storage().sync();
            }
            ctx.record("promise", json!({ "round": ballot.round, "by": ballot.by }));
        }
        let accepted = self.accepted.clone();
        self.send(ctx, from, PaxosMsg::Promise { ballot, accepted });
        ctx.maybe_fault_point("promised");
    }

    fn on_accept(
        &mut self,
        ctx: &mut Ctx<'_, PaxosMsg>,
        from: NodeId,
        ballot: Ballot,
        value: String,
    ) {
        if ballot < self.promised {
            ctx.record("nack", json!({ "round": ballot.round, "by": ballot.by }));
            let promised = self.promised;
            self.send(ctx, from, PaxosMsg::Nack { ballot, promised });
            return;
        }
        if self.accepted.as_ref().map(|(b, _)| *b) != Some(ballot) {
            self.promised = ballot;
            self.accepted = Some((ballot, value.clone()));
            ctx.storage().put_json(PROMISED, &ballot);
            ctx.storage().put_json(ACCEPTED, &self.accepted);
            ctx.storage().sync();
            ctx.record(
                "accepted",
                json!({ "round": ballot.round, "by": ballot.by, "value": value }),
            );
        }
        debug_assert!(
            self.accepted.as_ref().is_some_and(|(_, v)| *v == value),
            "one proposal number, two values: {ballot:?}"
        );
        self.send_to_all(ctx, PaxosMsg::Accepted { ballot, value });
        ctx.maybe_fault_point("accepted");
    }

    // ----- Proposer -----

    /// Starts a new round with a higher number than any it used or saw.
    fn start_round(&mut self, ctx: &mut Ctx<'_, PaxosMsg>) {
        let Some(index) = self.proposer else { return };
        if self.learned.is_some() {
            self.phase = Phase::Idle;
            return;
        }
        self.round = self.round.max(self.seen_round) + 1;
        ctx.storage().put_json(ROUND, &self.round);
        ctx.storage().sync();
        let ballot = Ballot {
            round: self.round,
            by: index,
        };
        ctx.record("prepare", json!({ "round": ballot.round, "by": ballot.by }));
        self.phase = Phase::Preparing {
            ballot,
            promises: BTreeMap::new(),
        };
        self.arm(ctx, self.params.timeout, TIMEOUT);
        self.send_to_all(ctx, PaxosMsg::Prepare { ballot });
    }

    fn arm(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, after: crate::time::SimDuration, tag: u64) {
        if let Some(old) = self.timer.take() {
            ctx.cancel_timer(old);
        }
        self.timer = Some(ctx.set_timer(after, tag));
    }

    fn current_ballot(&self) -> Option<Ballot> {
        match &self.phase {
            Phase::Preparing { ballot, .. } | Phase::Accepting { ballot, .. } => Some(*ballot),
            Phase::Idle | Phase::Waiting => None,
        }
    }

    fn on_promise(
        &mut self,
        ctx: &mut Ctx<'_, PaxosMsg>,
        from: NodeId,
        ballot: Ballot,
        accepted: Option<(Ballot, String)>,
    ) {
        let majority = self.params.majority();
        let Phase::Preparing {
            ballot: mine,
            promises,
        } = &mut self.phase
        else {
            return;
        };
        if *mine != ballot {
            return;
        }
        promises.insert(from, accepted);
        if promises.len() < majority {
            return;
        }
        // P2c: the value of the highest-numbered proposal reported.
        let highest = promises.values().flatten().max_by_key(|(b, _)| *b).cloned();
        let own = own_value(ctx.name(ctx.id()));
        // Bug `ignore_accepted_value` breaks P2c: it proposes its own value
        // whatever the promises reported.
        let (value, adopted) = match highest {
            Some((_, v)) if !self.params.bugs.has("ignore_accepted_value") => {
                let adopted = v != own;
                (v, adopted)
            }
            _ => (own, false),
        };
        ctx.record(
            "phase2",
            json!({ "round": ballot.round, "by": ballot.by, "value": value, "adopted": adopted }),
        );
        self.phase = Phase::Accepting {
            ballot,
            value: value.clone(),
        };
        self.arm(ctx, self.params.timeout, TIMEOUT);
        self.send_to_all(ctx, PaxosMsg::Accept { ballot, value });
    }

    fn on_nack(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, ballot: Ballot, promised: Ballot) {
        self.seen_round = self.seen_round.max(promised.round);
        if self.current_ballot() == Some(ballot) {
            self.preempted(ctx, "nack");
        }
    }

    /// Gives up the current round and starts another, now or after a backoff.
    fn preempted(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, why: &str) {
        match self.params.backoff {
            Backoff::None => {
                ctx.record(
                    "retry",
                    json!({ "round": self.round, "why": why, "wait_ms": 0 }),
                );
                self.start_round(ctx);
            }
            Backoff::Randomized => {
                let wait = ctx.rng().between(
                    self.params.backoff_min.as_nanos(),
                    self.params.backoff_max.as_nanos(),
                );
                ctx.record(
                    "retry",
                    json!({ "round": self.round, "why": why, "wait_ms": wait as f64 / 1e6 }),
                );
                self.phase = Phase::Waiting;
                self.arm(ctx, crate::time::SimDuration::from_nanos(wait), RETRY);
            }
        }
    }

    // ----- Learner -----

    fn on_accepted(
        &mut self,
        ctx: &mut Ctx<'_, PaxosMsg>,
        from: NodeId,
        ballot: Ballot,
        value: String,
    ) {
        if self.learned.is_some() {
            return;
        }
        let tally = self
            .tallies
            .entry(ballot)
            .or_insert_with(|| (value.clone(), BTreeSet::new()));
        debug_assert_eq!(tally.0, value, "two values for {ballot:?}");
        tally.1.insert(from);
        let count = tally.1.len();
        while self.tallies.len() > MAX_TALLIES {
            self.tallies.pop_first();
        }
        if count >= self.params.majority() {
            self.learn(ctx, ballot, value, "accepted");
        }
    }

    fn learn(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, ballot: Ballot, value: String, via: &str) {
        if self.learned.is_some() {
            return;
        }
        self.learned = Some((ballot, value.clone()));
        self.tallies.clear();
        ctx.storage().put_json(LEARNED, &self.learned);
        ctx.storage().sync();
        ctx.record(
            "learned",
            json!({ "round": ballot.round, "by": ballot.by, "value": value, "via": via }),
        );
        // A proposer that learned a value stops proposing.
        if let Some(timer) = self.timer.take() {
            ctx.cancel_timer(timer);
        }
        self.phase = Phase::Idle;
    }

    fn on_ask(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, from: NodeId) {
        if let Some((ballot, value)) = self.learned.clone() {
            self.send(ctx, from, PaxosMsg::Decided { ballot, value });
        }
    }

    fn ask(&mut self, ctx: &mut Ctx<'_, PaxosMsg>) {
        if self.learned.is_some() {
            return;
        }
        ctx.broadcast(PaxosMsg::Ask);
        ctx.set_timer(self.params.ask, ASK);
    }

    /// Reads the durable state back after a (re)start.
    fn recover(&mut self, ctx: &mut Ctx<'_, PaxosMsg>) {
        let storage = ctx.storage();
        self.promised = storage.get_json(PROMISED).unwrap_or_default();
        self.accepted = storage
            .get_json::<Option<(Ballot, String)>>(ACCEPTED)
            .flatten();
        self.round = storage.get_json(ROUND).unwrap_or(0);
        self.learned = storage
            .get_json::<Option<(Ballot, String)>>(LEARNED)
            .flatten();
        if self.promised != Ballot::default() || self.round > 0 || self.learned.is_some() {
            ctx.record(
                "recovered",
                json!({
                    "promised": [self.promised.round, self.promised.by],
                    "accepted": self.accepted.as_ref().map(|(b, v)| json!([b.round, b.by, v])),
                    "learned": self.learned.as_ref().map(|(_, v)| v.clone()),
                    "round": self.round,
                }),
            );
        }
    }
}

impl Node<PaxosMsg> for Server {
    fn on_start(&mut self, ctx: &mut Ctx<'_, PaxosMsg>) {
        self.recover(ctx);
        if self.learned.is_none() {
            ctx.set_timer(self.params.ask, ASK);
        }
        if let Some(index) = self.proposer {
            if self.learned.is_none() {
                ctx.record("propose", json!({ "value": own_value(ctx.name(ctx.id())) }));
                let delay = self.params.stagger.as_nanos() * u64::from(index);
                // A restarted proposer starts again at once.
                if delay == 0 || self.round > 0 {
                    self.start_round(ctx);
                } else {
                    self.arm(ctx, crate::time::SimDuration::from_nanos(delay), START);
                }
            }
        }
        self.drain_local(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, from: NodeId, msg: PaxosMsg) {
        self.handle(ctx, from, msg);
        self.drain_local(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, PaxosMsg>, timer: TimerId) {
        match timer.tag() {
            ASK => self.ask(ctx),
            START | RETRY if self.timer == Some(timer) => {
                self.timer = None;
                self.start_round(ctx);
            }
            TIMEOUT if self.timer == Some(timer) => {
                self.timer = None;
                self.preempted(ctx, "timeout");
            }
            _ => {}
        }
        self.drain_local(ctx);
    }

    fn role(&self) -> Option<&'static str> {
        Some(if self.proposer.is_some() {
            "proposer"
        } else {
            "acceptor"
        })
    }

    fn debug_state(&self) -> Option<String> {
        view::state(
            "Paxos",
            &[
                ("promised", &self.promised),
                ("accepted", &self.accepted),
                ("round", &self.round),
                ("phase", &self.phase),
                ("learned", &self.learned),
            ],
        )
    }
}
