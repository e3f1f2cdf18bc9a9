//! Leader election with leases, and why a lease alone does not protect the
//! storage: fencing tokens.
//!
//! # The story
//!
//! Amazon elects leaders with leases: the DynamoDB lock client writes a
//! record "held by X for 10 s" and X renews it while it works. Martin
//! Kleppmann ("How to do distributed locking", 2016) showed the flaw in
//! using any such lease to protect a shared resource. The holder checks its
//! lease, then stops (a garbage-collection pause, a page fault, a VM being
//! migrated) for longer than the lease. The lease service, counting on its
//! own clock, sees the lease expire and gives it to someone else, who
//! writes. Then the old holder wakes up and finishes the write it had
//! started, certain it still holds the lease. Two writers; an update lost.
//! A clock that jumps backward does the same without any pause: the holder's
//! "10 s" simply lasts longer in true time.
//!
//! The cure is not a better lease but a *fencing token*: a number the lease
//! service increases with every new lease, carried by every write, and
//! checked by the storage itself, which refuses a token older than the
//! highest it has seen. The stale holder still believes; the storage no
//! longer believes it.
//!
//! # Roles (by node index)
//!
//! | node | role | state |
//! |---|---|---|
//! | `n1` ([`SERVICE`]) | [`LeaseService`] | holder, expiry (in the *service's* local time), token; synced on every grant |
//! | `n2` ([`STORAGE`]) | [`LeaseStorage`] | highest token accepted, last value; synced on every write |
//! | `n3`.. | [`Candidate`] | what it believes: token and expiry in its *own* local time (volatile) |
//!
//! A holder sends [`LeaseMsg::Acquire`] every `renew_interval` of its local
//! clock to renew; the other candidates ask every `renew_interval / 2` to
//! `renew_interval` (drawn at random). The service grants when the lease is
//! free, expired by its own clock, or already the requester's, and replies
//! [`LeaseMsg::Granted`]; otherwise it stays silent. A new lease
//! gets a new token (one more than the last); a renewal keeps the token and
//! moves the expiry.
//!
//! A holder believes it holds the lease until
//!
//! ```text
//! believed_expiry = sent_at + lease_duration - drift_margin     (holder's clock)
//! ```
//!
//! where `sent_at` is its clock's reading when it *sent* the request that was
//! granted. While it believes, it works in a loop, one step every
//! `write_interval` of its clock: send the write it prepared last step, then
//! check the lease (it must still hold at least one more `write_interval`),
//! and if so prepare the next write ([`LeaseMsg::Write`] with its token and a
//! unique value such as `"n3:17"`). Preparing takes the `write_interval`:
//! this is the gap between *check* and *act* that no real program can close,
//! and where the pause falls.
//!
//! # Timeline of the lesson
//!
//! ```text
//!  true time ──────────────────────────────────────────────────────────────►
//!
//!  n3 holder  ●Acquire  ●Granted(7)  ●check ok [ GC pause ...... ] ●Write(7)
//!             ├─ n3's belief: sent_at + duration - margin ─┤
//!  n1 service   ●grant 7 ···· lease 7, by n1's clock ····· ●expired
//!                                                            ●grant 8
//!  n4                                                         ●═ holds 8 ══►
//!                                                              ●Write(8)
//!  n2 storage                                                   ●ok 8 ●Write(7):
//!                                             fencing off: accepted, 8 is lost
//!                                             fencing on:  rejected, 7 < 8
//! ```
//!
//! # Why the holder and the service agree (and when they do not)
//!
//! The service counts the lease from when it *granted* it, by its clock; the
//! holder counts from when it *sent* the request, by its clock, which is
//! earlier in true time. With exact clocks the holder's belief therefore ends
//! before the service's expiry, and a new holder can only be granted after
//! that. With drift up to `ρ` (say 100 ppm = 0.0001) on both clocks, the
//! holder's `lease_duration - drift_margin` may last up to
//! `(d - m) / (1 - ρ)` true seconds and the service's `d` as little as
//! `d / (1 + ρ)`; the belief still ends first when
//!
//! ```text
//! drift_margin >= lease_duration * 2ρ       (e.g. 1 s * 2 * 100 ppm = 200 µs)
//! ```
//!
//! No margin covers a *pause* (the holder checked before it, and acts after)
//! or a *clock jump* backward (the holder's clock is not drifting but stepped:
//! its local expiry now lies further in true time, by the jump). A jump of
//! the service's clock forward ends leases early, with the same effect.
//!
//! # Two different failures, and where they show
//!
//! - *Two nodes believe they hold the lease* at one true time. This is about
//!   beliefs, and it is found from the candidates' `lease` records by the
//!   `lease_exclusivity` check (`lease_overlap`). Fencing cannot prevent it:
//!   the stale holder is paused or misled, and nothing reaches it. After a
//!   pause the overlap is the interval the holder records for its stale
//!   write, from its check (before the pause) to its send (after); after a
//!   backward jump its beliefs and writes map to later true times.
//! - *The storage accepts a stale write*: a write whose token is older than
//!   one it already accepted, the lost update. This is about the protected
//!   resource, found from the storage's `storage_write` records. Fencing
//!   prevents exactly this: the storage rejects the write
//!   (`storage_reject`).
//!
//! So with fencing on, a pause still shows a `lease_overlap` (two beliefs),
//! but no accepted write ever goes back in token order.
//!
//! # Records
//!
//! | node | kind | detail |
//! |---|---|---|
//! | candidate | `lease` (interval) | `{token}`: from receiving a grant to the believed expiry |
//! | candidate | `lease` (interval) | `{token, value}`: from the check to the send of a write, the span it acted on the lease |
//! | candidate | `leader` | `{term}` = the token, with every grant (for the `progress` and `election_safety` checks) |
//! | candidate | `lease_late` | `{token}`: a grant that arrived after the belief it would give had already ended |
//! | service | `lease_granted` (interval) | `{holder, token, renewal}`: from the grant to the expiry by the service's clock |
//! | service | `lease_service_start` | `{holder, token}` recovered from disk |
//! | storage | `storage_write` | `{token, writer, value}` for each accepted write |
//! | storage | `storage_reject` | `{token, highest, writer, value}` for each refused write |
//!
//! Interval records carry true times (`start_true_ns`, `end_true_ns`) added
//! by the engine, which is how the checks see skew, drift and jumps.
//!
//! On the space-time diagram (`--plot`) the model notes on the lanes
//! ([`crate::Model::lane_note`]) who holds the lease by the service and
//! which tokens reach the storage: the service's lane `n4 t2` at each new
//! grant (holder and token; renewals are not noted), the storage's lane
//! `w t2` when it accepts a write with token 2 (a later `w t1` is the lost
//! update) and `rej t1` when fencing refuses one. A note repeating the
//! lane's last is skipped, so a run of writes with one token shows once.
//!
//! # Bugs
//!
//! [`KNOWN_BUGS`] (`[lease] bugs = [...]`): `no_drift_margin`, the holder
//! counts on the whole `lease_duration` from its request, the margin not
//! subtracted (the `if` is in the candidate's grant handler, where the
//! belief is computed); scenarios/lease-bug-no-drift-margin.toml shows the
//! overlap it causes. Fencing's rule (refuse a token older than the highest
//! accepted, take an equal one: the same lease writing again) has no bug
//! switch: with tokens that grow with every grant, taking an equal token
//! is correct, and `fencing = false` already shows the unfenced storage.
//!
//! # What it does not model
//!
//! Lock queues and fairness, a replicated lease service (here one node; its
//! durable disk stands in for DynamoDB), releasing a lease early, or a
//! storage that answers its writers (a fenced holder is not told).

mod candidate;
mod model;
mod service;
mod storage;

pub use candidate::Candidate;
pub use model::{LeaseModel, LeaseTable};
pub use service::LeaseService;
pub use storage::LeaseStorage;

use crate::clock::LocalTime;
use crate::models::bugs::{BugInfo, Bugs};
use crate::node::{Node, NodeId};
use crate::time::SimDuration;

/// The lease service is node `n1`.
pub const SERVICE: NodeId = NodeId(0);
/// The protected storage is node `n2`.
pub const STORAGE: NodeId = NodeId(1);
/// Candidates are nodes `n3` and up: the first candidate's index.
pub const FIRST_CANDIDATE: u32 = 2;

/// The parameters shared by every role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseParams {
    /// How long a lease lasts: the service's expiry is its clock at the grant
    /// plus this. Default 1 s.
    pub lease_duration: SimDuration,
    /// Local time between two requests of a candidate (a holder's renewals).
    /// Default 300 ms.
    pub renew_interval: SimDuration,
    /// What a holder takes off its belief for clock drift:
    /// `believed_expiry = sent_at + lease_duration - drift_margin`. Safe
    /// against drift `ρ` on every clock when `>= lease_duration * 2ρ`.
    /// Default 50 ms.
    pub drift_margin: SimDuration,
    /// Whether the storage rejects writes with a token older than the highest
    /// it has seen. Default on.
    pub fencing: bool,
    /// Local time between two writes of a holder; also the time a write takes
    /// to prepare, between the lease check and the send. Default 100 ms.
    pub write_interval: SimDuration,
    /// The mistakes switched on (`bugs = [...]`, see [`KNOWN_BUGS`]); none by default.
    pub bugs: Bugs,
}

/// The lease model's known mistakes (`[lease] bugs = [...]`).
pub const KNOWN_BUGS: &[BugInfo] = &[BugInfo {
    name: "no_drift_margin",
    about: "a holder believes its lease for the whole duration from its request, not subtracting the drift margin: with its clock slow (or the service's fast) it still acts after the service has granted the lease to another, and two holders overlap",
}];

impl Default for LeaseParams {
    /// Lease 1 s, renew every 300 ms, margin 50 ms, fencing on, write every 100 ms.
    fn default() -> Self {
        LeaseParams {
            lease_duration: SimDuration::from_secs(1),
            renew_interval: SimDuration::from_millis(300),
            drift_margin: SimDuration::from_millis(50),
            fencing: true,
            write_interval: SimDuration::from_millis(100),
            bugs: Bugs::none(),
        }
    }
}

impl LeaseParams {
    /// The belief a holder may count on: `lease_duration - drift_margin`.
    pub fn believed_duration(&self) -> SimDuration {
        SimDuration(
            self.lease_duration
                .as_nanos()
                .saturating_sub(self.drift_margin.as_nanos()),
        )
    }

    /// Checks that a holder can renew and write within its belief; says what
    /// is wrong otherwise.
    pub fn validate(&self) -> Result<(), String> {
        let believed = self.believed_duration();
        if self.renew_interval.as_nanos() == 0 || self.write_interval.as_nanos() == 0 {
            return Err("renew_interval and write_interval must be longer than 0".into());
        }
        if self.drift_margin >= self.lease_duration {
            return Err(format!(
                "drift_margin {} is not shorter than lease_duration {}; no holder would ever believe it holds the lease",
                self.drift_margin, self.lease_duration
            ));
        }
        if self.renew_interval >= believed {
            return Err(format!(
                "renew_interval {} is not shorter than lease_duration - drift_margin = {believed}; a holder would lose its lease between renewals",
                self.renew_interval
            ));
        }
        if self.write_interval >= believed {
            return Err(format!(
                "write_interval {} is not shorter than lease_duration - drift_margin = {believed}; a holder could never write",
                self.write_interval
            ));
        }
        Ok(())
    }
}

/// Messages of the lease model.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum LeaseMsg {
    /// Candidate to service: "give me the lease, or extend mine". `sent_at`
    /// is the candidate's clock when it sent this; the service only echoes it.
    Acquire {
        /// The sender's local clock reading at the send.
        sent_at: LocalTime,
    },
    /// Service to candidate: the lease is yours, with `token`, for
    /// `duration` (by the service's clock, from the grant).
    Granted {
        /// The `sent_at` of the request this answers.
        sent_at: LocalTime,
        /// The fencing token of this lease.
        token: u64,
        /// The lease duration the service counts.
        duration: SimDuration,
    },
    /// Holder to storage: write `value` under the lease with `token`.
    Write {
        /// The writer's fencing token.
        token: u64,
        /// A unique value, `"<writer>:<count>"`.
        value: String,
    },
}

/// What a node does in this model, by its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `n1`: grants leases.
    Service,
    /// `n2`: the protected storage.
    Storage,
    /// `n3` and up: want the lease, and write while they hold it.
    Candidate,
}

/// The role of a node (see the module's table).
pub fn role(id: NodeId) -> Role {
    match id {
        SERVICE => Role::Service,
        STORAGE => Role::Storage,
        _ => Role::Candidate,
    }
}

/// A fresh node for `id` in its role; use as (part of) a node factory.
pub fn node(id: NodeId, params: LeaseParams) -> Box<dyn Node<LeaseMsg>> {
    match role(id) {
        Role::Service => Box::new(LeaseService::new(params)),
        Role::Storage => Box::new(LeaseStorage::new(params)),
        Role::Candidate => Box::new(Candidate::new(params)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_roles_follow_the_index() {
        assert_eq!(LeaseParams::default().validate(), Ok(()));
        assert_eq!(role(NodeId(0)), Role::Service);
        assert_eq!(role(NodeId(1)), Role::Storage);
        assert_eq!(role(NodeId(2)), Role::Candidate);
        assert_eq!(role(NodeId(7)), Role::Candidate);
    }

    #[test]
    fn validate_names_the_broken_parameter() {
        let long_renewal = LeaseParams {
            renew_interval: SimDuration::from_millis(960),
            ..LeaseParams::default()
        };
        let err = long_renewal.validate().unwrap_err();
        assert!(err.contains("renew_interval 960ms"), "{err}");
        let huge_margin = LeaseParams {
            drift_margin: SimDuration::from_secs(1),
            ..LeaseParams::default()
        };
        assert!(huge_margin.validate().unwrap_err().contains("drift_margin"));
    }
}
