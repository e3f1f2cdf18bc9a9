//! Primary-backup replication of one register, and its clients: today's
//! fixed primary, and failover with epochs, sync or async.
//!
//! ```text
//!   client --Request--> any server --Forward--> primary
//!   primary: apply write, sync to disk, then (async) Reply --> client
//!   primary --Put(epoch, wepoch, version, value)--> backups  (each write, or a
//!            batch every ship_every; and every anti_entropy)
//!   backup: adopt, sync, PutAck --> primary; (sync) once every backup acked:
//!            Reply --> client
//!   every server --Heartbeat(epoch, primary?)--> every server (failover)
//! ```
//!
//! **Today's model** (the defaults: `replication = "async"`, no failover,
//! no `ship_every`; run by [`Server`], whose traces never change): the
//! primary is the server with the lowest id, a crashed primary makes the
//! register unavailable until it restarts from its synced disk, writes are
//! acknowledged after the primary's sync, and replication is best-effort
//! (`Replicate`, re-sent every `anti_entropy`). Reads are where its lesson
//! is: with `reads = "primary"` the register is linearizable; with
//! `reads = "local"` a backup that has not yet heard of a write serves a
//! stale read, and the linearizability checker catches it (the checker's
//! canary: if a run of the local mode ever stops being caught, a test fails).
//!
//! **Failover** (`failover = true`, run by [`Replica`]): every server
//! broadcasts a heartbeat every `heartbeat`; a backup that has not heard the
//! primary for `failover_timeout` promotes itself if it is the lowest-id
//! server it has heard within that time and hears a majority of servers
//! (counting itself), so a cut-off backup never promotes itself. Promotion
//! writes a new epoch durably: the least above the highest it knows among
//! its own (n_k of N servers begins epochs k, k + N, k + 2N, ...), so no two
//! servers begin the same epoch and the higher of two primaries wins. Servers and
//! their forwards follow the highest epoch they hear of; a deposed primary
//! that hears a higher epoch steps down, its waiting operations unanswered.
//! A restarted server comes back as a backup of its durable epoch. The new
//! primary's history is the truth: a backup whose state was written in an
//! older epoch takes the new primary's state, even an older one. That is
//! where writes get lost.
//!
//! **Replication** says when the client hears "ok". `async`: after the
//! primary's own sync; the backups catch up with the next ship (each write
//! at once, or a batch every `ship_every`: the replica lag). A failover
//! promotes a backup without the writes of the last batch window: the
//! acknowledged writes are gone (the read-replica promotion story). `sync`:
//! only after every backup has synced the write; a read waits behind the
//! writes not yet on every backup. A failover loses nothing, but one
//! unreachable backup stalls every write (the view is every server: no
//! backup is dropped from it), and each write costs a round trip to the
//! slowest backup (or a batch window).
//!
//! Limits: promotion is not a vote. Two backups that cannot hear each other
//! may both promote themselves (to different epochs; the higher wins when
//! they meet), a deposed primary cut off from everyone keeps answering
//! reads until it hears a higher epoch (leases fix that: see the `lease`
//! model), and a new primary serves the unacknowledged writes it holds
//! before its backups have them. Under chaos (crashes, partitions and
//! pauses together) the history is therefore not always linearizable; the
//! scenarios crash the primary or cut off one backup, and there it is.
//!
//! **Checks**: linearizability (the clients' history), convergence,
//! progress, and the model's own `durability` ([`check`]): no acknowledged
//! write is lost: a promotion to epoch E from state S loses every write
//! acknowledged in an earlier epoch beyond S (violation `lost_write`). It
//! also measures `durability.acked_writes`, `durability.lost_writes`,
//! `durability.failovers` and the
//! primary's write latency, `durability.write_latency_ms_p50` / `_p99`.
//!
//! **Bugs** ([`KNOWN_BUGS`]): `ack_before_replicate`: sync replication
//! acknowledges a write before the backups have it (as async does); the
//! durability check catches the lost write at the next failover.
//!
//! **Records**: `state {version, value}` whenever a server's copy changes
//! (with `epoch`, the write's epoch, from a [`Replica`]), for the
//! convergence check; `promoted {epoch, wepoch, version, value}`,
//! `stepped_down {epoch, version}` and `acked {epoch, version, value,
//! latency_ns}` from a [`Replica`]; and the clients' `op` records (the
//! history). Roles for fault targets: `primary`, `backup` (rank: the epoch),
//! reported by a [`Replica`] only (today's [`Server`] reports none).

mod check;
mod client;
mod model;
mod replica;
mod server;
#[cfg(test)]
mod tests;

pub use check::{Durability, DURABILITY};
pub use client::Client;
pub use model::{PrimaryBackupModel, PrimaryBackupTable, KNOWN_BUGS};
pub use replica::Replica;
pub use server::Server;

use crate::models::bugs::Bugs;
use crate::node::NodeId;
use crate::time::SimDuration;

/// Which servers may answer a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// Only the primary (linearizable).
    Primary,
    /// Any server, from its own copy (stale reads).
    Local,
}

/// Server parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrimaryBackupParams {
    /// Who answers reads.
    pub reads: Reads,
    /// How often the primary re-sends its state to the backups.
    pub anti_entropy: SimDuration,
    /// When the primary acknowledges a write.
    pub replication: Replication,
    /// Heartbeats and promotion of a backup, if on.
    pub failover: Option<Failover>,
    /// How often the primary ships new writes to its backups; zero ships
    /// each write at once.
    pub ship_every: SimDuration,
    /// The famous mistakes switched on (see [`KNOWN_BUGS`]).
    pub bugs: Bugs,
}

impl PrimaryBackupParams {
    /// True for today's model (async, no failover, every write shipped at
    /// once): the legacy [`Server`] runs it, so its traces never change.
    pub fn is_legacy(&self) -> bool {
        self.replication == Replication::Async
            && self.failover.is_none()
            && self.ship_every == SimDuration::ZERO
            && self.bugs.names().is_empty()
    }
}

/// When the primary acknowledges a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replication {
    /// After its own disk sync; backups catch up later.
    Async,
    /// After every backup has synced it too.
    Sync,
}

/// Failure detection and promotion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failover {
    /// How often every server tells the others it is alive (and the
    /// primary that it is the primary).
    pub heartbeat: SimDuration,
    /// A backup that has not heard the primary for this long starts a
    /// failover.
    pub timeout: SimDuration,
}

/// A client's request.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Request {
    /// Read the register.
    Read,
    /// Write a value.
    Write(i64),
}

/// Messages between clients and servers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum PbMsg {
    /// Client to any server.
    Request { op: u64, request: Request },
    /// A backup passing a request to the primary, on behalf of `client`.
    Forward {
        client: NodeId,
        op: u64,
        request: Request,
    },
    /// Server to client: the register's value after the operation.
    Reply { op: u64, value: Option<i64> },
    /// Primary to backups: the current state.
    Replicate { version: u64, value: Option<i64> },
    /// Failover/sync servers: "I am alive, at `epoch`" (and the primary of
    /// it, if `primary`).
    Heartbeat { epoch: u64, primary: bool },
    /// Failover/sync servers: the primary of `epoch` ships its state: the
    /// value written at `version` in epoch `wepoch`.
    Put {
        epoch: u64,
        wepoch: u64,
        version: u64,
        value: Option<i64>,
    },
    /// A backup to the primary of `epoch`: my state is now (`wepoch`,
    /// `version`), synced.
    PutAck {
        epoch: u64,
        wepoch: u64,
        version: u64,
    },
}
