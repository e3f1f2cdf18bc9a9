//! A retry budget: a token bucket that lets retries through only while
//! enough recent calls succeed.

use serde::Deserialize;

/// The bucket's parameters. The defaults are those of the AWS SDKs'
/// "standard" retry mode: 500 tokens, a retry costs 5 (10 after a
/// timeout), a success puts 1 back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetParams {
    /// Tokens the bucket holds when full (and at the start).
    pub capacity: u32,
    /// Tokens a retry after an error takes.
    pub retry_cost: u32,
    /// Tokens a retry after a timeout takes.
    pub timeout_cost: u32,
    /// Tokens a successful call puts back (up to `capacity`).
    pub success_refund: u32,
}

impl Default for BudgetParams {
    fn default() -> Self {
        BudgetParams {
            capacity: 500,
            retry_cost: 5,
            timeout_cost: 10,
            success_refund: 1,
        }
    }
}

impl BudgetParams {
    /// Checks the parameters; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.retry_cost == 0 || self.timeout_cost == 0 {
            return Err(
                "`retry_cost` and `timeout_cost` must be at least 1 (a free retry is no budget)"
                    .into(),
            );
        }
        if self.capacity < self.retry_cost.min(self.timeout_cost) {
            return Err(format!(
                "`capacity` ({}) must hold at least one retry ({} tokens)",
                self.capacity,
                self.retry_cost.min(self.timeout_cost)
            ));
        }
        Ok(())
    }
}

/// A token bucket of retries: a retry is allowed only if it can pay its
/// cost; successes refill it. First attempts are always free. While calls
/// fail, the bucket drains and retries stop, so a client facing an
/// overloaded server sends about one call per request instead of
/// `max_attempts`; once calls succeed again, it refills.
#[derive(Clone, Debug)]
pub struct RetryBudget {
    params: BudgetParams,
    tokens: u32,
}

impl RetryBudget {
    /// A full bucket.
    pub fn new(params: BudgetParams) -> RetryBudget {
        RetryBudget {
            params,
            tokens: params.capacity,
        }
    }

    /// Takes the cost of one retry (`timeout`: the failed attempt timed
    /// out) and returns true, or returns false and takes nothing if the
    /// bucket cannot pay.
    pub fn try_acquire(&mut self, timeout: bool) -> bool {
        let cost = if timeout {
            self.params.timeout_cost
        } else {
            self.params.retry_cost
        };
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }

    /// True if the bucket could pay for one retry (`timeout`: the failed
    /// attempt timed out), taking nothing. Only the service model's
    /// `budget_not_charged` bug lets a retry through on this alone.
    pub fn can_pay(&self, timeout: bool) -> bool {
        let cost = if timeout {
            self.params.timeout_cost
        } else {
            self.params.retry_cost
        };
        self.tokens >= cost
    }

    /// A call succeeded: refill by `success_refund`, up to `capacity`.
    pub fn on_success(&mut self) {
        self.tokens = (self.tokens + self.params.success_refund).min(self.params.capacity);
        debug_assert!(self.tokens <= self.params.capacity);
    }

    /// Tokens left.
    pub fn tokens(&self) -> u32 {
        self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_under_failure_and_refills_on_success() {
        let mut b = RetryBudget::new(BudgetParams {
            capacity: 20,
            retry_cost: 5,
            timeout_cost: 10,
            success_refund: 1,
        });
        assert!(b.try_acquire(true)); // 10 left
        assert!(b.try_acquire(false)); // 5 left
        assert!(!b.try_acquire(true)); // cannot pay 10
        assert_eq!(b.tokens(), 5);
        assert!(b.try_acquire(false)); // 0 left
        assert!(!b.try_acquire(false));
        for _ in 0..5 {
            b.on_success();
        }
        assert!(b.try_acquire(false));
        for _ in 0..100 {
            b.on_success();
        }
        assert_eq!(b.tokens(), 20, "never above capacity");
    }

    #[test]
    fn defaults_are_the_sdk_standard_mode_and_validate() {
        let p = BudgetParams::default();
        assert_eq!(
            (p.capacity, p.retry_cost, p.timeout_cost, p.success_refund),
            (500, 5, 10, 1)
        );
        assert!(p.validate().is_ok());
        let free = BudgetParams { retry_cost: 0, ..p };
        assert!(free.validate().unwrap_err().contains("retry_cost"));
        let tiny = BudgetParams { capacity: 1, ..p };
        assert!(tiny.validate().unwrap_err().contains("capacity"));
    }
}
