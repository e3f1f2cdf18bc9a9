//! The protected storage (`n2`): one register, written by lease holders.
//!
//! Every write carries the writer's fencing token. With fencing on, the
//! storage refuses a token older than the highest it has accepted (equal is
//! fine: the same lease writing again). With fencing off it takes every
//! write, as a storage that trusts the lease would; a write with an older
//! token then overwrites a newer holder's value: the lost update.
//!
//! Invariant: `highest` never decreases; with fencing on, no accepted token
//! is below it. Both are synced with every accepted write.

use super::{LeaseMsg, LeaseParams};
use crate::node::{Ctx, Node, NodeId, TimerId};
use serde_json::json;

const HIGHEST_KEY: &str = "highest_token";
const VALUE_KEY: &str = "value";

/// Whether the storage takes a write with `token` after accepting up to `highest`.
fn admits(fencing: bool, highest: u64, token: u64) -> bool {
    !fencing || token >= highest
}

/// Node `n2`: the resource the lease protects.
#[derive(Debug)]
pub struct LeaseStorage {
    params: LeaseParams,
    highest: u64,
    value: Option<String>,
}

impl LeaseStorage {
    /// A fresh storage node (its state is loaded from disk in `on_start`).
    pub fn new(params: LeaseParams) -> LeaseStorage {
        LeaseStorage {
            params,
            highest: 0,
            value: None,
        }
    }

    fn handle_write(
        &mut self,
        ctx: &mut Ctx<'_, LeaseMsg>,
        from: NodeId,
        token: u64,
        value: String,
    ) {
        let writer = ctx.name(from).to_string();
        if !admits(self.params.fencing, self.highest, token) {
            let highest = self.highest;
            ctx.record(
                "storage_reject",
                json!({ "token": token, "highest": highest, "writer": writer, "value": value }),
            );
            return;
        }
        let before = self.highest;
        self.highest = self.highest.max(token);
        debug_assert!(self.highest >= before, "highest token went backwards");
        ctx.storage().put_json(HIGHEST_KEY, &self.highest);
        ctx.storage().put_json(VALUE_KEY, &value);
        ctx.storage().sync();
        ctx.maybe_fault_point("storage_write");
        ctx.record(
            "storage_write",
            json!({ "token": token, "writer": writer, "value": value }),
        );
        self.value = Some(value);
    }
}

impl Node<LeaseMsg> for LeaseStorage {
    fn on_start(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        self.highest = ctx.storage().get_json(HIGHEST_KEY).unwrap_or(0);
        self.value = ctx.storage().get_json(VALUE_KEY);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, msg: LeaseMsg) {
        match msg {
            LeaseMsg::Write { token, value } => self.handle_write(ctx, from, token, value),
            LeaseMsg::Acquire { .. } | LeaseMsg::Granted { .. } => {} // not for the storage
        }
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, LeaseMsg>, timer: TimerId) {
        debug_assert!(false, "the storage sets no timers, got {timer:?}");
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        let value = self.value.as_deref().map(view::text);
        view::state(
            "LeaseStorage",
            &[("highest", &self.highest), ("value", &value)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::admits;

    #[test]
    fn fencing_refuses_only_older_tokens() {
        assert!(admits(true, 7, 8));
        assert!(admits(true, 7, 7), "the same lease writes again");
        assert!(!admits(true, 7, 6));
    }

    #[test]
    fn without_fencing_every_write_is_taken() {
        assert!(admits(false, 7, 1));
    }
}
