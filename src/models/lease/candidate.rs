//! A candidate (`n3` and up): asks for the lease, and while it believes it
//! holds it, writes to the storage.
//!
//! ```text
//!                 Granted, belief ends after now + write_interval
//!   CANDIDATE -----------------------------------------------> HOLDER
//!       ^                                                        |  every write_interval:
//!       |   check fails: belief ends before the next send        |  send the prepared write,
//!       +--------------------------------------------------------+  check, prepare the next
//! ```
//!
//! A holder sends `Acquire` every `renew_interval` (local) to renew; the
//! others ask after a random `[renew_interval / 2, renew_interval]` from
//! their own stream. Candidate `k` (0 for `n3`) first asks at
//! `k * renew_interval / candidates`, so the first lease goes to `n3` and
//! teaching scenarios know whom to pause.
//!
//! The belief is the candidate's own: `sent_at + duration - drift_margin` on
//! its local clock, for the request the grant answers. It is not on disk; a
//! restarted candidate believes nothing until the service grants again.
//!
//! Invariants: the highest token it has held never decreases; it prepares a
//! write only if its belief lasts until the write is due; every write sent
//! carries the token it held when it checked.

use super::{LeaseMsg, LeaseParams, FIRST_CANDIDATE, SERVICE, STORAGE};
use crate::clock::LocalTime;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;

const TRY: u64 = 1;
const WRITE: u64 = 2;
const WRITES_KEY: &str = "writes";

/// What the candidate believes it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Belief {
    token: u64,
    /// Believed expiry, on this node's clock.
    until: LocalTime,
}

/// A write checked against the lease and waiting to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Prepared {
    token: u64,
    value: String,
    /// The local time of the lease check.
    checked_at: LocalTime,
}

/// A node that wants the lease (`n3` and up).
#[derive(Debug)]
pub struct Candidate {
    params: LeaseParams,
    belief: Option<Belief>,
    highest_token: u64,
    prepared: Option<Prepared>,
    /// True while the write loop's timer is set.
    writing: bool,
    /// The pending `Acquire` timer.
    try_timer: Option<TimerId>,
    /// Writes prepared so far, over every incarnation (synced).
    writes: u64,
}

impl Candidate {
    /// A fresh candidate (its write count is loaded from disk in `on_start`).
    pub fn new(params: LeaseParams) -> Candidate {
        Candidate {
            params,
            belief: None,
            highest_token: 0,
            prepared: None,
            writing: false,
            try_timer: None,
            writes: 0,
        }
    }

    /// The local delay of the first request: `rank * renew_interval / candidates`.
    fn first_try(&self, ctx: &Ctx<'_, LeaseMsg>) -> SimDuration {
        let rank = u128::from(ctx.id().0.saturating_sub(FIRST_CANDIDATE));
        let others = ctx.peers().iter().filter(|p| p.0 >= FIRST_CANDIDATE);
        let count = others.count() as u128 + 1;
        let renew = u128::from(self.params.renew_interval.as_nanos());
        SimDuration::from_nanos((renew * rank / count) as u64)
    }

    /// Sends `Acquire`; asks again after `renew_interval` if it holds the
    /// lease, or after a random delay in `[renew_interval / 2, renew_interval]`
    /// if not (so waiting candidates do not ask in lockstep).
    fn ask(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        let sent_at = ctx.now_local();
        ctx.send(SERVICE, LeaseMsg::Acquire { sent_at });
        let renew = self.params.renew_interval.as_nanos();
        let holds = self.belief.is_some_and(|b| b.until > sent_at);
        let next = if holds {
            renew
        } else {
            ctx.rng().between(renew / 2, renew)
        };
        self.try_timer = Some(ctx.set_timer(SimDuration::from_nanos(next), TRY));
    }

    /// A new holder renews every `renew_interval` from the request that won.
    fn renew_from(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, sent_at: LocalTime) {
        if let Some(timer) = self.try_timer.take() {
            ctx.cancel_timer(timer);
        }
        let next = (sent_at + self.params.renew_interval).saturating_since(ctx.now_local());
        self.try_timer = Some(ctx.set_timer(next, TRY));
    }

    fn handle_granted(
        &mut self,
        ctx: &mut Ctx<'_, LeaseMsg>,
        sent_at: LocalTime,
        token: u64,
        duration: SimDuration,
    ) {
        if token < self.highest_token {
            return; // a late answer about a lease this node has since replaced
        }
        let now = ctx.now_local();
        // The rule: a holder counts on `duration - drift_margin` from its
        // request, so drift between its clock and the service's cannot make
        // it act after the service's expiry. Bug `no_drift_margin` skips the
        // subtraction.
        let margin = if self.params.bugs.has("no_drift_margin") {
            SimDuration::ZERO
        } else {
            self.params.drift_margin
        };
        let mut until = sent_at + duration - margin;
        if until <= now {
            ctx.record("lease_late", json!({ "token": token }));
            return;
        }
        if let Some(belief) = self.belief.filter(|b| b.token == token) {
            until = until.max(belief.until); // a reordered, older renewal
        }
        let was_holding = self.belief.is_some_and(|b| b.until > now);
        if !was_holding {
            self.renew_from(ctx, sent_at);
        }
        self.highest_token = token;
        self.belief = Some(Belief { token, until });
        ctx.record_interval("lease", now, until, json!({ "token": token }));
        ctx.record("leader", json!({ "term": token }));
        if !self.writing {
            self.prepare_next(ctx);
            self.arm_write_timer(ctx);
        }
    }

    /// One step of the write loop: act on the last check, then check again.
    fn write_step(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        self.send_prepared(ctx);
        self.prepare_next(ctx);
        self.arm_write_timer(ctx);
    }

    fn arm_write_timer(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        self.writing = self.prepared.is_some();
        if self.writing {
            ctx.set_timer(self.params.write_interval, WRITE);
        }
    }

    /// Sends the prepared write without a second look at the lease: the
    /// check was made when it was prepared (this is the gap a pause hits).
    fn send_prepared(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        let Some(Prepared {
            token,
            value,
            checked_at,
        }) = self.prepared.take()
        else {
            return;
        };
        debug_assert!(
            token <= self.highest_token,
            "write token {token} above any held ({})",
            self.highest_token
        );
        let now = ctx.now_local();
        ctx.record_interval(
            "lease",
            checked_at,
            now,
            json!({ "token": token, "value": value.clone() }),
        );
        ctx.send(STORAGE, LeaseMsg::Write { token, value });
    }

    /// Checks the lease; if it holds until the next write is due, prepares
    /// that write.
    fn prepare_next(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        debug_assert!(self.prepared.is_none(), "two writes prepared at once");
        let now = ctx.now_local();
        let due = now + self.params.write_interval;
        let Some(belief) = self.belief.filter(|b| b.until >= due) else {
            return;
        };
        self.writes += 1;
        ctx.storage().put_json(WRITES_KEY, &self.writes);
        ctx.storage().sync();
        ctx.maybe_fault_point("prepare_write");
        let value = format!("{}:{}", ctx.name(ctx.id()), self.writes);
        self.prepared = Some(Prepared {
            token: belief.token,
            value,
            checked_at: now,
        });
    }
}

impl Node<LeaseMsg> for Candidate {
    fn on_start(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        debug_assert!(
            ctx.id().0 >= FIRST_CANDIDATE,
            "{} is not a candidate",
            ctx.id()
        );
        self.writes = ctx.storage().get_json(WRITES_KEY).unwrap_or(0);
        let first = self.first_try(ctx);
        self.try_timer = Some(ctx.set_timer(first, TRY));
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, _from: NodeId, msg: LeaseMsg) {
        match msg {
            LeaseMsg::Granted {
                sent_at,
                token,
                duration,
            } => self.handle_granted(ctx, sent_at, token, duration),
            LeaseMsg::Acquire { .. } | LeaseMsg::Write { .. } => {} // not for a candidate
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, timer: TimerId) {
        match timer.tag() {
            TRY => self.ask(ctx),
            WRITE => self.write_step(ctx),
            other => debug_assert!(false, "unknown timer tag {other}"),
        }
    }

    fn debug_state(&self) -> Option<String> {
        crate::models::view::state(
            "Candidate",
            &[
                ("belief", &self.belief),
                ("highest_token", &self.highest_token),
                ("prepared", &self.prepared),
                ("writing", &self.writing),
                ("try_timer", &self.try_timer),
                ("writes", &self.writes),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EventKind, SimBuilder};
    use crate::net::{Latency, LinkSpec, Topology};
    use crate::time::SimTime;

    /// (node, detail) of each interval record of `kind` in a 3-node run
    /// (service, storage, one candidate) with 10ms links, to `end_ms`.
    fn intervals(kind: &str, end_ms: u64) -> Vec<(NodeId, serde_json::Value)> {
        let params = LeaseParams::default();
        let link = LinkSpec {
            latency: Latency::Constant(SimDuration::from_millis(10)),
            ..LinkSpec::default()
        };
        let mut sim = SimBuilder::new(1, 3, move |id| crate::models::lease::node(id, params))
            .topology(Topology::full_mesh(3, link))
            .build();
        let mut found = Vec::new();
        sim.run_until(SimTime(end_ms * 1_000_000), |e| {
            if let (EventKind::Record(r), Some(node)) = (&e.kind, e.node) {
                if r.kind == kind && r.detail.get("value").is_none() {
                    found.push((node, r.detail.to_json()));
                }
            }
            true
        });
        found
    }

    fn ns(detail: &serde_json::Value, key: &str) -> i64 {
        detail[key].as_i64().expect("a number")
    }

    #[test]
    fn the_belief_counts_from_the_send_and_ends_before_the_service_expiry() {
        // n3 asks at 0, the service grants at 10ms (expiry 1.010s) and n3
        // hears at 20ms: it believes until 0 + 1s - 50ms = 0.950s.
        let beliefs = intervals("lease", 100);
        let grants = intervals("lease_granted", 100);
        assert_eq!(beliefs.len(), 1, "{beliefs:?}");
        assert_eq!(grants.len(), 1, "{grants:?}");
        let (belief, grant) = (&beliefs[0].1, &grants[0].1);
        assert_eq!(ns(belief, "start_true_ns"), 20_000_000);
        assert_eq!(ns(belief, "end_true_ns"), 950_000_000);
        assert_eq!(ns(grant, "start_true_ns"), 10_000_000);
        assert_eq!(ns(grant, "end_true_ns"), 1_010_000_000);
    }

    #[test]
    fn renewals_keep_the_token_and_move_the_belief() {
        // Requests at 0, 300ms, 600ms: beliefs end at 0.95s, 1.25s, 1.55s.
        let beliefs = intervals("lease", 700);
        let ends: Vec<(u64, i64)> = beliefs
            .iter()
            .map(|(_, d)| (d["token"].as_u64().unwrap(), ns(d, "end_local_ns")))
            .collect();
        assert_eq!(
            ends,
            vec![(1, 950_000_000), (1, 1_250_000_000), (1, 1_550_000_000)]
        );
    }
}
