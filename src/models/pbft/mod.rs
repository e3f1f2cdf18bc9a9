//! PBFT: Practical Byzantine Fault Tolerance (Castro and Liskov, OSDI 1999),
//! the normal case and the view change, replicating a key-value store for
//! clients.
//!
//! # The protocol, from the paper
//!
//! n = 3f + 1 replicas tolerate f that are Byzantine: crashed, or worse,
//! sending whatever they like. The replicas move through views; the primary
//! of view v is replica v mod n, the others are backups.
//!
//! - **Request.** A client sends its request (operation, timestamp, client)
//!   to the primary it believes in. It accepts a result once f + 1
//!   different replicas sent the same one: at least one of them is correct.
//!   With no such answer in time it sends the request to every replica, and
//!   a backup relays it to the primary.
//! - **Pre-prepare.** The primary assigns the next sequence number n in
//!   view v and sends `PRE-PREPARE(v, n, d)` with the request, d its digest.
//!   A backup accepts it if it is in view v, n is within the log's bound,
//!   d is the request's digest, and it accepted no other digest for (v, n).
//! - **Prepare.** The backup then sends `PREPARE(v, n, d)` to all. A replica
//!   has *prepared* the request when it has the pre-prepare and 2f matching
//!   prepares from different backups: two sets of 2f + 1 replicas share a
//!   correct one, so no other digest can prepare for (v, n).
//! - **Commit.** A prepared replica sends `COMMIT(v, n, d)`; with 2f + 1
//!   matching commits (its own among them) it is *committed-local*, and at
//!   least f + 1 correct replicas prepared it, so a later view keeps it.
//! - **Execute.** Committed requests run in sequence order on the
//!   key-value machine; a reply cache (the last reply per client) makes a
//!   request run at most once, and the result goes to the client.
//! - **View change.** A backup waiting for a request it knows about starts
//!   a timer; when it fires, the backup moves to view v + 1 and sends
//!   `VIEW-CHANGE(v + 1, P)`, P its prepared certificates. A replica that
//!   sees f + 1 view-changes for later views joins the smallest at once.
//!   The primary of v + 1, with 2f + 1 view-changes (its own among them),
//!   sends `NEW-VIEW(v + 1, V, O)`: V the view-changes, O a pre-prepare for
//!   every sequence number up to the highest prepared one, carrying the
//!   request of the certificate with the highest view, or the null request
//!   in a gap. Each backup recomputes O from V and refuses a new-view that
//!   differs, then prepares O's requests in the new view. If the new view
//!   does not execute anything before the timer fires again, the next view
//!   change waits twice as long (2T, 4T, ... up to 1024T).
//!
//! # What is modelled, and how
//!
//! - **Authentication** is the simulator's: a message is delivered with the
//!   true `from`, and messages never name their sender. A Byzantine replica
//!   can lie in a message's contents, never about who sent it. Clients'
//!   requests and the certificates inside view-changes and new-views stand
//!   for the paper's signed messages: no adversary forges them (see
//!   [`tamper`]).
//! - **No checkpoints.** The log is bounded instead: sequence numbers go up
//!   to `log_limit` (default 10 000); at the limit the primary records
//!   `log_full` once and assigns no more (clients then time out). Without
//!   checkpoints a view change carries every prepared certificate and the
//!   new-view re-issues every sequence number from 1, which also lets a
//!   replica that fell behind catch up; there is no state transfer, so a
//!   restarted replica (its state is not persisted) starts empty in view 0
//!   and does not rejoin. The scenarios crash replicas but do not restart
//!   them.
//! - Reads go through the protocol like writes (the paper's read-only
//!   optimisation is not modelled).
//!
//! # Checks
//!
//! - [`AGREEMENT`] (`pbft_agreement`): no two correct replicas execute
//!   different digests at the same sequence number.
//! - [`VALIDITY`] (`pbft_validity`): correct replicas execute only null
//!   requests and requests a client sent.
//! - `linearizability` of the clients' history (a key-value store), and
//!   `progress` after the faults (an `execute` record counts).
//!
//! Records of replicas the world marks Byzantine are skipped by both own
//! checks: safety is a promise about the correct replicas.
//!
//! # Scenarios
//!
//! `pbft-normal` (no faults), `pbft-primary-crash` (the primary crashes:
//! a view change, and progress resumes under n2), `pbft-backup-crash` (a
//! backup crashes: f = 1 tolerated, no view change needed) and
//! `pbft-partitioned-backup` (a backup cut off and healed; without state
//! transfer it stays behind until a view change re-issues the log).

mod check;
mod client;
mod model;
mod msg;
mod replica;
pub mod tamper;
#[cfg(test)]
mod tests;

pub use check::{Agreement, Validity, AGREEMENT, VALIDITY};
pub use client::PbftClient;
pub use model::{PbftModel, PbftTable};
pub use msg::{
    digest, reissues, Digest, Kv, Op, Outcome, PbftMsg, Prepared, Reissue, Request, NULL_DIGEST,
};
pub use replica::Replica;
pub use tamper::PbftTamper;

use crate::time::SimDuration;

/// The validated `[pbft]` table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PbftParams {
    /// Faults tolerated.
    pub f: usize,
    /// Replicas: 3f + 1.
    pub n: usize,
    /// The view-change timer's first length T (doubled on each successive
    /// view change).
    pub view_change_timeout: SimDuration,
    /// The highest sequence number the log holds (no checkpoints).
    pub log_limit: u64,
}
