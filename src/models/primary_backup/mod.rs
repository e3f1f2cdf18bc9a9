//! Primary-backup replication of one register, and its clients.
//!
//! ```text
//!   client --Request--> any server --Forward--> primary
//!   primary: apply write, sync to disk, Reply --> client
//!   primary --Replicate(version, value)--> backups   (after each write,
//!                                                      and every anti_entropy)
//! ```
//!
//! The primary is the server with the lowest id; there is no failover (a
//! crashed primary makes the register unavailable until it restarts from its
//! synced disk). Writes are acknowledged only after the primary syncs them.
//! Replication to backups is asynchronous and best-effort; the primary
//! re-sends its state every `anti_entropy` so backups converge after losses
//! and partitions.
//!
//! Reads are where the lesson is. With `reads = "primary"` every read is
//! answered by the primary, and the register is linearizable. With
//! `reads = "local"` any server answers from its own copy: a backup that has
//! not yet heard of a write serves a stale read, and the linearizability
//! checker catches it. This is the checker's canary: if a run of the local
//! mode ever stops being caught, a test fails.
//!
//! Records: `state {version, value}` whenever a server's copy changes (for
//! the convergence check), and the clients' `op` records (the history).

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

