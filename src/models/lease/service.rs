//! The lease service (`n1`): one lease record, judged by its own clock.
//!
//! ```text
//!            Acquire from anyone             Acquire from the holder
//!   FREE ----------------------> HELD(h, token) <---------------------+
//!                                  |   |  renewal: same token,        |
//!                                  |   +- expiry = now + duration ----+
//!                                  | now >= expiry (service's clock)
//!                                  v
//!                               EXPIRED --Acquire from anyone--> HELD(x, token + 1)
//! ```
//!
//! Invariants: the token never decreases, and grows by one with every new
//! lease; the record is synced to disk before the grant is sent, so a
//! restarted service neither forgets a live lease nor reuses a token.

use super::{LeaseMsg, LeaseParams};
use crate::clock::LocalTime;
use crate::node::{Ctx, Node, NodeId, TimerId};
use serde::{Deserialize, Serialize};
use serde_json::json;

const RECORD_KEY: &str = "lease";

/// The service's lease record, as kept on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LeaseRecord {
    /// Index of the holder, if a lease was ever granted.
    holder: Option<u32>,
    /// When the lease ends, in the service's local nanoseconds.
    expiry_ns: i64,
    /// The token of the current (or last) lease; 0 before the first.
    token: u64,
}

/// What the service does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    /// Free or expired: a new lease with the next token.
    NewLease,
    /// The holder asks again before expiry: same token, later expiry.
    Renewal,
    /// Someone else holds an unexpired lease: no answer.
    Refuse,
}

fn decide(record: &LeaseRecord, requester: NodeId, now: LocalTime) -> Decision {
    let Some(holder) = record.holder else {
        return Decision::NewLease;
    };
    if now.0 >= record.expiry_ns {
        Decision::NewLease
    } else if holder == requester.0 {
        Decision::Renewal
    } else {
        Decision::Refuse
    }
}

/// Node `n1`: grants the lease and hands out fencing tokens.
#[derive(Debug)]
pub struct LeaseService {
    params: LeaseParams,
    record: LeaseRecord,
}

impl LeaseService {
    /// A fresh service (its record is loaded from disk in `on_start`).
    pub fn new(params: LeaseParams) -> LeaseService {
        LeaseService {
            params,
            record: LeaseRecord::default(),
        }
    }

    fn handle_acquire(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, sent_at: LocalTime) {
        let now = ctx.now_local();
        let decision = decide(&self.record, from, now);
        if decision == Decision::Refuse {
            return;
        }
        let token = match decision {
            Decision::Renewal => self.record.token,
            _ => self.record.token + 1,
        };
        debug_assert!(
            token >= self.record.token,
            "token went backwards: {} -> {token}",
            self.record.token
        );
        let expiry = now + self.params.lease_duration;
        self.record = LeaseRecord {
            holder: Some(from.0),
            expiry_ns: expiry.0,
            token,
        };
        ctx.storage().put_json(RECORD_KEY, &self.record);
        ctx.storage().sync();
        // The grant is durable, the reply not yet sent.
        ctx.maybe_fault_point("grant");
        let holder = ctx.name(from).to_string();
        let renewal = decision == Decision::Renewal;
        ctx.record_interval(
            "lease_granted",
            now,
            expiry,
            json!({ "holder": holder, "token": token, "renewal": renewal }),
        );
        let duration = self.params.lease_duration;
        ctx.send(
            from,
            LeaseMsg::Granted {
                sent_at,
                token,
                duration,
            },
        );
    }
}

impl Node<LeaseMsg> for LeaseService {
    fn on_start(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        self.record = ctx.storage().get_json(RECORD_KEY).unwrap_or_default();
        let holder = self.record.holder.map(|h| ctx.name(NodeId(h)).to_string());
        ctx.record(
            "lease_service_start",
            json!({ "holder": holder, "token": self.record.token }),
        );
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, msg: LeaseMsg) {
        match msg {
            LeaseMsg::Acquire { sent_at } => self.handle_acquire(ctx, from, sent_at),
            LeaseMsg::Granted { .. } | LeaseMsg::Write { .. } => {} // not for the service
        }
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, LeaseMsg>, timer: TimerId) {
        debug_assert!(false, "the lease service sets no timers, got {timer:?}");
    }

    fn debug_state(&self) -> Option<String> {
        crate::models::view::state("LeaseService", &[("record", &self.record)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N3: NodeId = NodeId(2);
    const N4: NodeId = NodeId(3);

    fn held_by_n3_until(expiry_ns: i64) -> LeaseRecord {
        LeaseRecord {
            holder: Some(N3.0),
            expiry_ns,
            token: 4,
        }
    }

    #[test]
    fn a_free_lease_goes_to_whoever_asks() {
        let free = LeaseRecord::default();
        assert_eq!(decide(&free, N4, LocalTime(-5)), Decision::NewLease);
    }

    #[test]
    fn the_holder_renews_and_others_wait_until_expiry_by_the_service_clock() {
        let record = held_by_n3_until(1_000);
        assert_eq!(decide(&record, N3, LocalTime(999)), Decision::Renewal);
        assert_eq!(decide(&record, N4, LocalTime(999)), Decision::Refuse);
        assert_eq!(decide(&record, N4, LocalTime(1_000)), Decision::NewLease);
    }

    #[test]
    fn an_expired_holder_gets_a_new_lease_not_a_renewal() {
        let record = held_by_n3_until(1_000);
        assert_eq!(decide(&record, N3, LocalTime(1_000)), Decision::NewLease);
    }
}
