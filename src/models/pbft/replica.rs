//! A PBFT replica: the normal case (pre-prepare, prepare, commit, execute
//! in order, reply) and the view change (view-change, new-view), as in
//! sections 4.2 to 4.4 of Castro and Liskov (1999), without checkpoints.

use super::msg::{digest, reissues, Digest, Kv, PbftMsg, Prepared, Reissue, Request};
use super::PbftParams;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// The tag of the request (view-change) timer.
const REQUEST_TIMER: u64 = 1;

/// The most doublings of the view-change timer (2^10 times the base).
const MAX_DOUBLINGS: u32 = 10;

/// What a replica knows about one sequence number.
#[derive(Debug, Default)]
struct Slot {
    /// The pre-prepare it accepted: (view, digest, request).
    pre_prepare: Option<(u64, Digest, Option<Request>)>,
    /// Prepares received (and its own), by (view, digest): who sent them.
    prepares: BTreeMap<(u64, Digest), BTreeSet<NodeId>>,
    /// Commits received (and its own), by (view, digest).
    commits: BTreeMap<(u64, Digest), BTreeSet<NodeId>>,
    /// Its prepared certificate of the highest view, if any.
    prepared: Option<Prepared>,
    /// The view in which it sent a commit, if it did.
    commit_sent: Option<u64>,
    /// Committed-local: the digest and request, to execute in order.
    committed: Option<(Digest, Option<Request>)>,
}

/// One of the n = 3f + 1 replicas (see the module docs).
#[derive(Debug)]
pub struct Replica {
    p: PbftParams,
    id: NodeId,
    view: u64,
    /// True between sending a view-change and entering the new view.
    changing: bool,
    log: BTreeMap<u64, Slot>,
    last_exec: u64,
    /// The primary's next sequence number.
    next_seq: u64,
    kv: Kv,
    /// The newest unexecuted request of each client it has seen.
    pending: BTreeMap<NodeId, Request>,
    /// The primary's requests with a sequence number in this view, not yet executed.
    assigned: BTreeSet<(NodeId, u64)>,
    /// View-changes received for views above (or at, while changing) its own.
    view_changes: BTreeMap<u64, BTreeMap<NodeId, Vec<Prepared>>>,
    timer: Option<TimerId>,
    /// Pre-prepares of a view it has not entered yet (they may overtake
    /// the new-view), replayed when it enters that view; at most `log_limit`.
    early: Vec<(u64, u64, Digest, Option<Request>)>,
    /// View changes since it last executed a request: the timer doubles each.
    attempts: u32,
    log_full: bool,
}

impl Replica {
    /// Replica `id` of a group with parameters `p`.
    pub fn new(p: PbftParams, id: NodeId) -> Replica {
        debug_assert!(id.index() < p.n, "a replica's id is below n");
        Replica {
            p,
            id,
            view: 0,
            changing: false,
            log: BTreeMap::new(),
            last_exec: 0,
            next_seq: 1,
            kv: Kv::default(),
            pending: BTreeMap::new(),
            assigned: BTreeSet::new(),
            view_changes: BTreeMap::new(),
            timer: None,
            early: Vec::new(),
            attempts: 0,
            log_full: false,
        }
    }

    /// The primary of `view`: replica `view mod n`.
    pub fn primary(&self, view: u64) -> NodeId {
        NodeId((view % self.p.n as u64) as u32)
    }

    fn is_primary(&self) -> bool {
        !self.changing && self.primary(self.view) == self.id
    }

    fn is_replica(&self, node: NodeId) -> bool {
        node.index() < self.p.n
    }

    /// The view it is in (or moving to).
    pub fn view(&self) -> u64 {
        self.view
    }

    /// The highest sequence number it executed.
    pub fn last_executed(&self) -> u64 {
        self.last_exec
    }

    /// True while it waits for a new-view.
    pub fn changing(&self) -> bool {
        self.changing
    }

    /// The key-value machine, for tests.
    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    fn send_others(&self, ctx: &mut Ctx<'_, PbftMsg>, msg: PbftMsg) {
        for r in 0..self.p.n as u32 {
            if NodeId(r) != self.id {
                ctx.send(NodeId(r), msg.clone());
            }
        }
    }

    fn timer_length(&self) -> SimDuration {
        let doublings = self.attempts.min(MAX_DOUBLINGS);
        SimDuration::from_nanos(self.p.view_change_timeout.as_nanos() << doublings)
    }

    fn arm_timer(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        if self.timer.is_none() {
            self.timer = Some(ctx.set_timer(self.timer_length(), REQUEST_TIMER));
        }
    }

    fn stop_timer(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        if let Some(t) = self.timer.take() {
            ctx.cancel_timer(t);
        }
    }

    // ---- normal case ----

    fn on_request(&mut self, ctx: &mut Ctx<'_, PbftMsg>, from: NodeId, request: Request) {
        match self.kv.cached(&request) {
            Some(Some(outcome)) => {
                let reply = PbftMsg::Reply {
                    view: self.view,
                    seq: request.seq,
                    outcome,
                };
                ctx.send(request.client, reply);
                return;
            }
            Some(None) => return,
            None => {}
        }
        if self
            .pending
            .get(&request.client)
            .is_some_and(|p| p.seq > request.seq)
        {
            return;
        }
        self.pending.insert(request.client, request.clone());
        if self.is_primary() {
            self.propose(ctx, request);
        } else if !self.is_replica(from) && !self.changing {
            // Relay a client's request to the primary (the client
            // broadcast it after a timeout).
            ctx.send(self.primary(self.view), PbftMsg::Request(request));
        }
        self.arm_timer(ctx);
    }

    /// The primary assigns the next sequence number to `request`.
    fn propose(&mut self, ctx: &mut Ctx<'_, PbftMsg>, request: Request) {
        if self.assigned.contains(&(request.client, request.seq)) {
            return;
        }
        if self.next_seq > self.p.log_limit {
            if !std::mem::replace(&mut self.log_full, true) {
                ctx.record("log_full", json!({ "limit": self.p.log_limit }));
            }
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.assigned.insert((request.client, request.seq));
        let d = digest(Some(&request));
        let slot = self.log.entry(seq).or_default();
        slot.pre_prepare = Some((self.view, d, Some(request.clone())));
        let msg = PbftMsg::PrePrepare {
            view: self.view,
            seq,
            digest: d,
            request: Some(request),
        };
        self.send_others(ctx, msg);
        self.check_quorums(ctx, seq);
    }

    /// A backup accepts a pre-prepare (or a new-view's re-issued one) if it
    /// is in the view, within the log's bound, its digest is right, and it
    /// accepted no other digest for that view and sequence number.
    fn accept_pre_prepare(
        &mut self,
        ctx: &mut Ctx<'_, PbftMsg>,
        view: u64,
        seq: u64,
        d: Digest,
        request: Option<Request>,
    ) -> bool {
        if view != self.view || self.changing || seq == 0 || seq > self.p.log_limit {
            return false;
        }
        if digest(request.as_ref()) != d {
            return false;
        }
        let slot = self.log.entry(seq).or_default();
        // A second pre-prepare for this view and number: a duplicate, or an
        // equivocating primary's other one (refused either way).
        if slot
            .pre_prepare
            .as_ref()
            .is_some_and(|(v, _, _)| *v == view)
        {
            return false;
        }
        slot.pre_prepare = Some((view, d, request.clone()));
        if let Some(r) = request {
            if self.kv.cached(&r).is_none()
                && self.pending.get(&r.client).is_none_or(|p| p.seq <= r.seq)
            {
                self.pending.insert(r.client, r);
                self.arm_timer(ctx);
            }
        }
        let me = self.id;
        if self.primary(view) != me {
            let slot = self.log.entry(seq).or_default();
            slot.prepares.entry((view, d)).or_default().insert(me);
            self.send_others(
                ctx,
                PbftMsg::Prepare {
                    view,
                    seq,
                    digest: d,
                },
            );
        }
        true
    }

    /// True for messages of its view, or of the next one (kept until it
    /// enters it: they may overtake the new-view).
    fn current_or_next(&self, view: u64) -> bool {
        view == self.view || view == self.view + 1
    }

    fn on_prepare(
        &mut self,
        ctx: &mut Ctx<'_, PbftMsg>,
        from: NodeId,
        view: u64,
        seq: u64,
        d: Digest,
    ) {
        if !self.current_or_next(view) || from == self.primary(view) {
            return; // the primary sends no prepare
        }
        if seq == 0 || seq > self.p.log_limit {
            return;
        }
        let slot = self.log.entry(seq).or_default();
        slot.prepares.entry((view, d)).or_default().insert(from);
        self.check_quorums(ctx, seq);
    }

    fn on_commit(
        &mut self,
        ctx: &mut Ctx<'_, PbftMsg>,
        from: NodeId,
        view: u64,
        seq: u64,
        d: Digest,
    ) {
        if !self.current_or_next(view) || seq == 0 || seq > self.p.log_limit {
            return;
        }
        let slot = self.log.entry(seq).or_default();
        slot.commits.entry((view, d)).or_default().insert(from);
        self.check_quorums(ctx, seq);
    }

    /// Prepared: the pre-prepare of this view and 2f matching prepares
    /// from backups. Committed-local: prepared and 2f+1 matching commits.
    fn check_quorums(&mut self, ctx: &mut Ctx<'_, PbftMsg>, seq: u64) {
        let (view, f, me) = (self.view, self.p.f, self.id);
        let primary = self.primary(view);
        let Some(slot) = self.log.get_mut(&seq) else {
            return;
        };
        let Some((pv, d, request)) = slot.pre_prepare.clone() else {
            return;
        };
        if pv != view {
            return;
        }
        let prepares = slot.prepares.get(&(view, d)).map_or(0, |s| {
            debug_assert!(!s.contains(&primary), "no prepare from the primary counts");
            s.len()
        });
        if prepares < 2 * f {
            return;
        }
        if slot.prepared.as_ref().is_none_or(|p| p.view < view) {
            slot.prepared = Some(Prepared {
                seq,
                view,
                digest: d,
                request: request.clone(),
            });
        }
        if slot.commit_sent != Some(view) {
            slot.commit_sent = Some(view);
            slot.commits.entry((view, d)).or_default().insert(me);
            self.send_others(
                ctx,
                PbftMsg::Commit {
                    view,
                    seq,
                    digest: d,
                },
            );
        }
        let slot = self.log.get_mut(&seq).expect("the slot is there");
        let commits = slot.commits.get(&(view, d)).map_or(0, BTreeSet::len);
        if commits > 2 * f && slot.committed.is_none() {
            slot.committed = Some((d, request));
            self.execute_ready(ctx);
        }
    }

    /// Executes committed requests in sequence order and replies.
    fn execute_ready(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        let mut executed = false;
        while let Some((d, request)) = self
            .log
            .get(&(self.last_exec + 1))
            .and_then(|s| s.committed.clone())
        {
            self.last_exec += 1;
            executed = true;
            let seq = self.last_exec;
            match &request {
                None => ctx.record(
                    "execute",
                    json!({ "seq": seq, "digest": format!("{d:016x}"), "view": self.view, "null": true }),
                ),
                Some(r) => {
                    ctx.record(
                        "execute",
                        json!({ "seq": seq, "digest": format!("{d:016x}"), "view": self.view,
                                "client": r.client.0, "cseq": r.seq }),
                    );
                    let outcome = self.kv.execute(r);
                    if self.pending.get(&r.client).is_some_and(|p| p.seq <= r.seq) {
                        self.pending.remove(&r.client);
                    }
                    self.assigned.remove(&(r.client, r.seq));
                    if let Some(outcome) = outcome {
                        let reply = PbftMsg::Reply {
                            view: self.view,
                            seq: r.seq,
                            outcome,
                        };
                        ctx.send(r.client, reply);
                    }
                }
            }
        }
        if executed && !self.changing {
            self.attempts = 0;
            self.stop_timer(ctx);
            if !self.pending.is_empty() {
                self.arm_timer(ctx);
            }
        }
    }

    // ---- view change ----

    /// Moves to `new_view`: sends a view-change with its prepared
    /// certificates and waits (timer doubled) for the new-view.
    fn start_view_change(&mut self, ctx: &mut Ctx<'_, PbftMsg>, new_view: u64) {
        if new_view <= self.view {
            return;
        }
        self.view = new_view;
        self.changing = true;
        self.attempts = self.attempts.saturating_add(1);
        let prepared: Vec<Prepared> = self
            .log
            .values()
            .filter_map(|s| s.prepared.clone())
            .collect();
        ctx.record(
            "view_change",
            json!({ "view": new_view, "prepared": prepared.len() }),
        );
        self.view_changes.retain(|v, _| *v >= new_view);
        self.view_changes
            .entry(new_view)
            .or_default()
            .insert(self.id, prepared.clone());
        self.send_others(ctx, PbftMsg::ViewChange { new_view, prepared });
        self.stop_timer(ctx);
        self.arm_timer(ctx);
        self.try_new_view(ctx);
    }

    fn on_view_change(
        &mut self,
        ctx: &mut Ctx<'_, PbftMsg>,
        from: NodeId,
        new_view: u64,
        prepared: Vec<Prepared>,
    ) {
        if new_view < self.view || (new_view == self.view && !self.changing) {
            return;
        }
        if prepared.len() as u64 > self.p.log_limit {
            return;
        }
        self.view_changes
            .entry(new_view)
            .or_default()
            .insert(from, prepared);
        // f+1 replicas want a later view: at least one correct one does, so join
        // the smallest such view at once.
        let mut above: BTreeMap<NodeId, u64> = BTreeMap::new();
        for (v, senders) in self.view_changes.range(self.view + 1..) {
            for s in senders.keys() {
                above.entry(*s).or_insert(*v);
            }
        }
        if above.len() > self.p.f {
            let smallest = above.values().min().copied().unwrap_or(self.view + 1);
            self.start_view_change(ctx, smallest);
        }
        self.try_new_view(ctx);
    }

    /// The new primary, with 2f+1 view-changes for its view (its own among
    /// them), sends the new-view and enters the view.
    fn try_new_view(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        if !self.changing || self.primary(self.view) != self.id {
            return;
        }
        let Some(vcs) = self.view_changes.get(&self.view) else {
            return;
        };
        if vcs.len() < 2 * self.p.f + 1 || !vcs.contains_key(&self.id) {
            return;
        }
        let mut chosen: Vec<(NodeId, Vec<Prepared>)> = vec![(self.id, vcs[&self.id].clone())];
        chosen.extend(
            vcs.iter()
                .filter(|(s, _)| **s != self.id)
                .take(2 * self.p.f)
                .map(|(s, p)| (*s, p.clone())),
        );
        let o = reissues(&chosen);
        let msg = PbftMsg::NewView {
            view: self.view,
            view_changes: chosen,
            pre_prepares: o.clone(),
        };
        self.send_others(ctx, msg);
        self.enter_view(ctx, o);
    }

    fn on_new_view(
        &mut self,
        ctx: &mut Ctx<'_, PbftMsg>,
        from: NodeId,
        view: u64,
        view_changes: Vec<(NodeId, Vec<Prepared>)>,
        pre_prepares: Vec<Reissue>,
    ) {
        if from != self.primary(view) || view < self.view || (view == self.view && !self.changing) {
            return;
        }
        let senders: BTreeSet<NodeId> = view_changes.iter().map(|(s, _)| *s).collect();
        let valid = senders.len() == view_changes.len()
            && senders.len() > 2 * self.p.f
            && senders.iter().all(|s| self.is_replica(*s))
            && pre_prepares == reissues(&view_changes)
            && pre_prepares.len() as u64 <= self.p.log_limit;
        if !valid {
            ctx.record("bad_new_view", json!({ "view": view, "from": from.0 }));
            return;
        }
        self.view = view;
        self.changing = true;
        self.enter_view(ctx, pre_prepares);
    }

    /// Enters `self.view` with the re-issued pre-prepares `o`.
    fn enter_view(&mut self, ctx: &mut Ctx<'_, PbftMsg>, o: Vec<Reissue>) {
        debug_assert!(self.changing);
        self.changing = false;
        self.view_changes.retain(|v, _| *v > self.view);
        let view = self.view;
        for slot in self.log.values_mut() {
            slot.prepares.retain(|(v, _), _| *v >= view);
            slot.commits.retain(|(v, _), _| *v >= view);
        }
        ctx.record("new_view", json!({ "view": view, "reissued": o.len() }));
        self.assigned.clear();
        self.next_seq = o.len() as u64 + 1;
        let primary = self.primary(view) == self.id;
        for r in o {
            if primary {
                if let Some(req) = &r.request {
                    self.assigned.insert((req.client, req.seq));
                }
                self.log.entry(r.seq).or_default().pre_prepare =
                    Some((view, r.digest, r.request.clone()));
            } else {
                self.accept_pre_prepare(ctx, view, r.seq, r.digest, r.request);
            }
            self.check_quorums(ctx, r.seq);
        }
        for (v, seq, d, request) in std::mem::take(&mut self.early) {
            if v == view && self.accept_pre_prepare(ctx, v, seq, d, request) {
                self.check_quorums(ctx, seq);
            }
        }
        self.stop_timer(ctx);
        if primary {
            let waiting: Vec<Request> = self.pending.values().cloned().collect();
            for r in waiting {
                self.propose(ctx, r);
            }
        }
        if !self.pending.is_empty() {
            self.arm_timer(ctx);
        }
    }

    fn on_timeout(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        self.timer = None;
        if self.changing || !self.pending.is_empty() {
            let next = self.view + 1;
            self.start_view_change(ctx, next);
        }
    }
}

impl Node<PbftMsg> for Replica {
    fn on_start(&mut self, ctx: &mut Ctx<'_, PbftMsg>) {
        debug_assert_eq!(ctx.id(), self.id);
        ctx.record("state", json!({ "version": 0 }));
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, PbftMsg>, from: NodeId, msg: PbftMsg) {
        if let PbftMsg::Request(request) = msg {
            if self.is_replica(from) || request.client == from {
                self.on_request(ctx, from, request);
            }
            return;
        }
        if !self.is_replica(from) {
            return; // only clients' requests come from clients
        }
        match msg {
            PbftMsg::PrePrepare {
                view,
                seq,
                digest,
                request,
            } => {
                if from != self.primary(view) || from == self.id {
                    return;
                }
                let ahead = view == self.view + 1 || (view == self.view && self.changing);
                if ahead && (self.early.len() as u64) < self.p.log_limit {
                    self.early.push((view, seq, digest, request));
                } else if self.accept_pre_prepare(ctx, view, seq, digest, request) {
                    self.check_quorums(ctx, seq);
                }
            }
            PbftMsg::Prepare { view, seq, digest } => self.on_prepare(ctx, from, view, seq, digest),
            PbftMsg::Commit { view, seq, digest } => self.on_commit(ctx, from, view, seq, digest),
            PbftMsg::ViewChange { new_view, prepared } => {
                self.on_view_change(ctx, from, new_view, prepared)
            }
            PbftMsg::NewView {
                view,
                view_changes,
                pre_prepares,
            } => self.on_new_view(ctx, from, view, view_changes, pre_prepares),
            PbftMsg::Request(_) | PbftMsg::Reply { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, PbftMsg>, timer: TimerId) {
        if timer.tag() == REQUEST_TIMER && self.timer == Some(timer) {
            self.on_timeout(ctx);
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(if self.is_primary() {
            "primary"
        } else {
            "backup"
        })
    }

    fn role_rank(&self) -> u64 {
        self.view
    }

    fn debug_state(&self) -> Option<String> {
        let (keys, clients) = self.kv.size();
        Some(format!(
            "Replica {{ view: {}, changing: {}, last_exec: {}, next_seq: {}, log: {}, pending: {}, keys: {keys}, clients: {clients}, attempts: {} }}",
            self.view, self.changing, self.last_exec, self.next_seq, self.log.len(), self.pending.len(), self.attempts
        ))
    }
}
