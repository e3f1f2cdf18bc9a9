//! A participant (n2..nN): prepares and votes, applies the decision, and
//! asks the coordinator about transactions it is in doubt about.

use super::{log_key, tx_of_key, TwoPcMsg, TwoPcParams, COORDINATOR};
use crate::models::view;
use crate::node::{Ctx, Node, NodeId, TimerId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// Timer: ask the coordinator about the transactions in doubt.
pub(super) const INQUIRY: u64 = 1;

/// The prefix of a participant's log entries.
pub(super) const LOG: &str = "p/";

/// Where a transaction stands at a participant (its durable log entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Local {
    /// Voted yes, synced; waiting for the decision (in doubt).
    Prepared,
    /// Committed.
    Committed,
    /// Aborted (voted no, or told so).
    Aborted,
}

/// A participant.
#[derive(Debug)]
pub struct Participant {
    params: TwoPcParams,
    /// Its transactions, by id.
    txs: BTreeMap<u64, Local>,
    /// True while the inquiry timer is set.
    asking: bool,
}

impl Participant {
    /// A fresh participant (its log is read in `on_start`).
    pub fn new(params: TwoPcParams) -> Participant {
        Participant {
            params,
            txs: BTreeMap::new(),
            asking: false,
        }
    }

    /// Where `tx` stands here, if it knows it.
    pub fn local(&self, tx: u64) -> Option<Local> {
        self.txs.get(&tx).copied()
    }

    /// The transactions it is in doubt about.
    fn in_doubt(&self) -> Vec<u64> {
        self.txs
            .iter()
            .filter(|(_, s)| **s == Local::Prepared)
            .map(|(tx, _)| *tx)
            .collect()
    }

    /// Writes and syncs `tx`'s new state.
    fn log(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, tx: u64, state: Local) {
        self.txs.insert(tx, state);
        ctx.storage().put_json(log_key(LOG, tx), &state);
        ctx.storage().sync();
    }

    fn arm_inquiry(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>) {
        if !self.asking {
            ctx.set_timer(self.params.inquiry, INQUIRY);
            self.asking = true;
        }
    }

    fn on_prepare(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, from: NodeId, tx: u64) {
        let yes = match self.local(tx) {
            // A repeated Prepare: the same answer as before.
            Some(Local::Prepared | Local::Committed) => true,
            Some(Local::Aborted) => false,
            None => {
                let no = ctx.rng().chance(self.params.abort_probability);
                if no {
                    // A no vote is a veto: abort at once, unilaterally.
                    self.log(ctx, tx, Local::Aborted);
                    ctx.record("vote", json!({ "tx": tx, "yes": false }));
                    ctx.record("abort", json!({ "tx": tx, "why": "voted no" }));
                } else {
                    // The rule: prepared is durable before the yes vote leaves.
                    self.log(ctx, tx, Local::Prepared);
                    ctx.record("prepared", json!({ "tx": tx }));
                    ctx.record("vote", json!({ "tx": tx, "yes": true }));
                    self.arm_inquiry(ctx);
                }
                !no
            }
        };
        ctx.send(from, TwoPcMsg::Vote { tx, yes });
        if yes {
            ctx.maybe_fault_point("prepared");
        }
    }

    fn on_decision(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, from: NodeId, tx: u64, commit: bool) {
        match self.local(tx) {
            Some(Local::Prepared) | None => {
                let state = if commit {
                    Local::Committed
                } else {
                    Local::Aborted
                };
                let was = self.local(tx);
                self.log(ctx, tx, state);
                let kind = if commit { "commit" } else { "abort" };
                let why = if was.is_some() {
                    "decision"
                } else {
                    "decision before prepare"
                };
                ctx.record(kind, json!({ "tx": tx, "why": why }));
            }
            // Applied already: a re-sent decision, acknowledged again.
            Some(Local::Committed | Local::Aborted) => {}
        }
        ctx.send(from, TwoPcMsg::Ack { tx });
    }

    /// Asks the coordinator about every transaction in doubt.
    fn inquire(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>) {
        self.asking = false;
        let doubt = self.in_doubt();
        for &tx in &doubt {
            ctx.record("inquire", json!({ "tx": tx }));
            ctx.send(COORDINATOR, TwoPcMsg::Inquire { tx });
        }
        if !doubt.is_empty() {
            self.arm_inquiry(ctx);
        }
    }
}

impl Node<TwoPcMsg> for Participant {
    fn on_start(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>) {
        let storage = ctx.storage();
        let keys: Vec<String> = storage.keys_with_prefix(LOG).map(String::from).collect();
        for key in keys {
            if let (Some(tx), Some(state)) = (tx_of_key(LOG, &key), storage.get_json(&key)) {
                self.txs.insert(tx, state);
            }
        }
        let doubt = self.in_doubt();
        if !doubt.is_empty() {
            ctx.record("in_doubt", json!({ "txs": doubt }));
            self.arm_inquiry(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, from: NodeId, msg: TwoPcMsg) {
        match msg {
            TwoPcMsg::Prepare { tx } => self.on_prepare(ctx, from, tx),
            TwoPcMsg::Decision { tx, commit } => self.on_decision(ctx, from, tx, commit),
            TwoPcMsg::Vote { .. } | TwoPcMsg::Ack { .. } | TwoPcMsg::Inquire { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, TwoPcMsg>, timer: TimerId) {
        debug_assert_eq!(timer.tag(), INQUIRY, "a participant has one timer");
        self.inquire(ctx);
    }

    fn role(&self) -> Option<&'static str> {
        Some("participant")
    }

    fn debug_state(&self) -> Option<String> {
        let committed = self
            .txs
            .values()
            .filter(|s| **s == Local::Committed)
            .count();
        let aborted = self.txs.values().filter(|s| **s == Local::Aborted).count();
        view::state(
            "Participant",
            &[
                ("in_doubt", &view::first(self.in_doubt())),
                ("committed", &committed),
                ("aborted", &aborted),
            ],
        )
    }
}
