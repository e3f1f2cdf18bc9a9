//! Client-side resilience policies, as small pure types a model's client
//! (or a user's own protocol) holds and consults: how long to wait before
//! a retry ([`Backoff`]), whether a retry is affordable ([`RetryBudget`]),
//! and whether to call a dependency at all ([`CircuitBreaker`]).
//!
//! None of them knows the engine: they take the node's local time and its
//! random stream as arguments, so a run stays deterministic, and each can
//! be unit-tested alone. Scenario tables read them with serde (durations
//! as `"100ms"`), e.g.
//!
//! ```toml
//! backoff = { kind = "full_jitter", base = "10ms", cap = "1s" }
//! budget = { capacity = 500, retry_cost = 5, timeout_cost = 10, success_refund = 1 }
//! breaker = { window = 20, min_calls = 10, failure_rate = 0.5, cooldown = "5s", probes = 3 }
//! ```

mod backoff;
mod breaker;
mod budget;

pub use backoff::Backoff;
pub use breaker::{BreakerParams, BreakerState, CircuitBreaker};
pub use budget::{BudgetParams, RetryBudget};
