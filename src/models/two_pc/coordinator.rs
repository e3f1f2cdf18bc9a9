//! The coordinator (n1): begins transactions, collects votes, decides,
//! logs and sends the decision, re-sends it until acknowledged, and
//! recovers from its log after a crash (presumed abort).

use super::{log_key, tx_of_key, TwoPcMsg, TwoPcParams};
use crate::models::view;
use crate::node::{Ctx, Node, NodeId, TimerId};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Timer: start the next transaction.
pub(super) const START: u64 = 1;
/// Timer: a transaction's votes are due.
pub(super) const VOTES_DUE: u64 = 2;
/// Timer: re-send unacknowledged decisions.
pub(super) const RESEND: u64 = 3;

/// The prefix of the coordinator's log entries (`tx/0000000007`).
pub(super) const LOG: &str = "tx/";
/// The prefix of its end entries: every participant acknowledged the
/// decision, so a restart need not send it again.
pub(super) const END: &str = "end/";

/// A transaction's entry in the coordinator's durable log: `None` from its
/// begin until its decision.
type LogEntry = Option<bool>;

/// Where a transaction stands at the coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Collecting votes: the participants that voted yes so far.
    Voting(BTreeSet<NodeId>),
    /// Decided (true: commit); the participants that acknowledged it.
    Decided(bool, BTreeSet<NodeId>),
}

/// The coordinator.
#[derive(Debug)]
pub struct Coordinator {
    params: TwoPcParams,
    /// The transactions in its log, by id.
    txs: BTreeMap<u64, Phase>,
    /// The id of the next transaction to begin.
    next_tx: u64,
    /// The votes-due timers, to the transaction each is for.
    votes_due: BTreeMap<TimerId, u64>,
    /// True while a re-send timer is set.
    resending: bool,
    /// `decision_before_sync`: a decision is written but not yet synced.
    unsynced_decision: bool,
}

impl Coordinator {
    /// A fresh coordinator (its log is read in `on_start`).
    pub fn new(params: TwoPcParams) -> Coordinator {
        Coordinator {
            params,
            txs: BTreeMap::new(),
            next_tx: 1,
            votes_due: BTreeMap::new(),
            resending: false,
            unsynced_decision: false,
        }
    }

    /// The decision on `tx`, if it has one (true: commit).
    pub fn decision(&self, tx: u64) -> Option<bool> {
        match self.txs.get(&tx)? {
            Phase::Decided(commit, _) => Some(*commit),
            Phase::Voting(_) => None,
        }
    }

    fn all_participants(&self) -> usize {
        self.params.participants as usize
    }

    /// Begins the next transaction: log it (synced), then ask for votes.
    fn begin(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>) {
        let tx = self.next_tx;
        debug_assert!(
            !self.txs.contains_key(&tx),
            "tx {tx} is begun once: ids come after every logged one"
        );
        self.next_tx += 1;
        ctx.storage()
            .put_json(log_key(LOG, tx), &(None as LogEntry));
        ctx.storage().sync();
        self.txs.insert(tx, Phase::Voting(BTreeSet::new()));
        ctx.record("begin", json!({ "tx": tx }));
        for p in self.params.participant_ids() {
            ctx.send(p, TwoPcMsg::Prepare { tx });
        }
        let timer = ctx.set_timer(self.params.vote_timeout, VOTES_DUE);
        self.votes_due.insert(timer, tx);
        if self.next_tx <= u64::from(self.params.transactions) {
            ctx.set_timer(self.params.every, START);
        }
    }

    /// Decides `tx`: log the decision, sync, then send it to everyone.
    fn decide(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, tx: u64, commit: bool, presumed: bool) {
        debug_assert!(
            self.decision(tx).is_none(),
            "tx {tx} is decided only once per life"
        );
        self.votes_due.retain(|_, t| *t != tx);
        self.txs.insert(tx, Phase::Decided(commit, BTreeSet::new()));
        let mut detail = json!({ "tx": tx, "commit": commit });
        if presumed {
            detail["presumed"] = json!(true);
        }
        ctx.record("decision", detail);
        ctx.storage().put_json(log_key(LOG, tx), &Some(commit));
        if self.params.bugs.has("decision_before_sync") {
            // The bug breaks the rule "log the decision durably before
            // telling anyone": it sends first and syncs in its next handler.
            self.unsynced_decision = true;
        } else {
            // The rule: the decision is durable before any participant hears it.
            ctx.storage().sync();
        }
        for p in self.params.participant_ids() {
            ctx.send(p, TwoPcMsg::Decision { tx, commit });
        }
        ctx.maybe_fault_point("decision_sent");
        self.arm_resend(ctx);
    }

    /// `decision_before_sync`: the sync its previous handler left out.
    fn sync_late(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>) {
        if self.unsynced_decision {
            ctx.storage().sync();
            self.unsynced_decision = false;
        }
    }

    fn arm_resend(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>) {
        if !self.resending {
            ctx.set_timer(self.params.resend, RESEND);
            self.resending = true;
        }
    }

    /// Re-sends every decision some participant has not acknowledged.
    fn resend(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>) {
        self.resending = false;
        let mut pending = false;
        let participants: Vec<NodeId> = self.params.participant_ids().collect();
        for (&tx, phase) in &self.txs {
            if let Phase::Decided(commit, acked) = phase {
                for &p in participants.iter().filter(|p| !acked.contains(p)) {
                    ctx.send(
                        p,
                        TwoPcMsg::Decision {
                            tx,
                            commit: *commit,
                        },
                    );
                    pending = true;
                }
            }
        }
        if pending {
            self.arm_resend(ctx);
        }
    }

    fn on_vote(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, from: NodeId, tx: u64, yes: bool) {
        let all = self.all_participants();
        let Some(Phase::Voting(yes_votes)) = self.txs.get_mut(&tx) else {
            return; // decided already (a late vote): the decision stands
        };
        if !yes {
            self.decide(ctx, tx, false, false);
            return;
        }
        yes_votes.insert(from);
        if yes_votes.len() == all {
            self.decide(ctx, tx, true, false);
        }
    }

    fn on_ack(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, from: NodeId, tx: u64) {
        let all = self.all_participants();
        if let Some(Phase::Decided(_, acked)) = self.txs.get_mut(&tx) {
            if acked.insert(from) && acked.len() == all {
                // The end record: nobody will ask about `tx` again.
                ctx.storage().put_json(log_key(END, tx), &true);
                ctx.storage().sync();
            }
        }
    }

    fn on_inquire(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, from: NodeId, tx: u64) {
        match self.txs.get(&tx) {
            Some(Phase::Decided(commit, _)) => {
                let commit = *commit;
                ctx.send(from, TwoPcMsg::Decision { tx, commit });
            }
            // Still collecting votes: the participant asks again later.
            Some(Phase::Voting(_)) => {}
            // Presumed abort: no record of it, so it never committed.
            None => {
                ctx.send(from, TwoPcMsg::Decision { tx, commit: false });
            }
        }
    }
}

impl Node<TwoPcMsg> for Coordinator {
    fn on_start(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>) {
        let storage = ctx.storage();
        let keys: Vec<String> = storage.keys_with_prefix(LOG).map(String::from).collect();
        let logged: Vec<(u64, LogEntry, bool)> = keys
            .iter()
            .filter_map(|k| {
                let tx = tx_of_key(LOG, k)?;
                let ended = storage.get(&log_key(END, tx)).is_some();
                Some((tx, storage.get_json(k)?, ended))
            })
            .collect();
        let everyone: BTreeSet<NodeId> = self.params.participant_ids().collect();
        let (mut resent, mut aborted) = (0u64, 0u64);
        for (tx, entry, ended) in logged {
            self.next_tx = self.next_tx.max(tx + 1);
            match entry {
                Some(commit) if ended => {
                    self.txs
                        .insert(tx, Phase::Decided(commit, everyone.clone()));
                }
                Some(commit) => {
                    self.txs.insert(tx, Phase::Decided(commit, BTreeSet::new()));
                    resent += 1;
                }
                // Begun, never decided: presumed abort (logged first).
                None => {
                    self.decide(ctx, tx, false, true);
                    aborted += 1;
                }
            }
        }
        if resent + aborted > 0 {
            ctx.record(
                "recovered",
                json!({ "decisions": resent, "aborted": aborted, "next_tx": self.next_tx }),
            );
            self.resend(ctx);
        }
        if self.next_tx <= u64::from(self.params.transactions) {
            ctx.set_timer(self.params.every, START);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, from: NodeId, msg: TwoPcMsg) {
        self.sync_late(ctx);
        match msg {
            TwoPcMsg::Vote { tx, yes } => self.on_vote(ctx, from, tx, yes),
            TwoPcMsg::Ack { tx } => self.on_ack(ctx, from, tx),
            TwoPcMsg::Inquire { tx } => self.on_inquire(ctx, from, tx),
            TwoPcMsg::Prepare { .. } | TwoPcMsg::Decision { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, timer: TimerId) {
        self.sync_late(ctx);
        match timer.tag() {
            START => self.begin(ctx),
            VOTES_DUE => {
                if let Some(tx) = self.votes_due.remove(&timer) {
                    if self.decision(tx).is_none() {
                        self.decide(ctx, tx, false, false);
                    }
                }
            }
            RESEND => self.resend(ctx),
            other => debug_assert!(false, "unknown coordinator timer {other}"),
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some("coordinator")
    }

    fn debug_state(&self) -> Option<String> {
        let voting: Vec<u64> = self
            .txs
            .iter()
            .filter(|(_, p)| matches!(p, Phase::Voting(_)))
            .map(|(tx, _)| *tx)
            .collect();
        let unacked: Vec<u64> = self
            .txs
            .iter()
            .filter(|(_, p)| matches!(p, Phase::Decided(_, a) if a.len() < self.all_participants()))
            .map(|(tx, _)| *tx)
            .collect();
        view::state(
            "Coordinator",
            &[
                ("next_tx", &self.next_tx),
                ("voting", &view::first(voting)),
                ("unacked", &view::first(unacked)),
                ("unsynced_decision", &self.unsynced_decision),
            ],
        )
    }
}
