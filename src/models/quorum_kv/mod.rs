//! A Dynamo-style quorum-replicated key-value store, and its clients.
//!
//! ```text
//!   client --Get/Put--> any server (the coordinator for this request)
//!   coordinator --Read--> the key's N home replicas --ReadAck(version, value)-->
//!   coordinator --Write(version, value)--> replicas --WriteAck--> (W of them)
//!   coordinator --Reply--> client
//!   every anti_entropy: replicas exchange Digests of their versions and pull
//!   newer ones (Want / Update); stand-ins hand their hints home (Handoff)
//! ```
//!
//! Each key `k` (key index `i`) lives on `replicas` (N) consecutive servers
//! of a ring, starting at server `i mod servers`: its preference list, or
//! home replicas. Any server coordinates a request; the client picks one at
//! random. Versions are `(counter, coordinator id)`, totally ordered, and a
//! replica keeps the highest version it has seen (last writer wins). A
//! replica syncs a value to disk before it acknowledges it.
//!
//! Writes ask R home replicas for their version, pick the next counter, and
//! write `(counter + 1, coordinator)` to the home replicas, acknowledging the
//! client after W of them answered. Reads depend on `reads`:
//!
//! - `eventual` (the DynamoDB default): the coordinator answers with the
//!   first replica's answer. A replica that has not yet received the latest
//!   write answers with the old value: the classic "update, then read back,
//!   and see the old value" of eventually consistent reads.
//! - `consistent` (ABD): the coordinator reads R replicas, takes the
//!   highest version and, unless W of them already hold it, writes it back
//!   to W replicas before answering. With R + W > N every read quorum meets
//!   every write quorum, and a read never returns something older than a
//!   completed write nor than an earlier read: linearizable. With R + W <= N
//!   the quorums may miss each other and stale reads come back.
//!
//! `read_repair` (default on) sends each read to all N home replicas; once
//! they have answered (or the request's time is up), the coordinator writes
//! the newest value to the ones that answered with an older one. Anti-entropy
//! repairs what read repair does not see.
//!
//! `quorum = "strict"` counts only home replicas: during a partition a write
//! that cannot reach W of them fails (the client hears "unavailable" and
//! records an unknown outcome). `quorum = "sloppy"` keeps writes available:
//! when home replicas have not answered within a quarter of the request's
//! `timeout`, the coordinator writes to stand-ins further along the ring,
//! each with a hint naming the home replica it stands in for, and counts
//! their acknowledgements. (The version query also proceeds then with the
//! versions it has, its own included: during a partition two sides may pick
//! the same counter; the coordinator id decides which write wins.) A
//! stand-in keeps its hints on disk, apart from its own data, and hands each
//! to its home replica on every anti-entropy tick until it is acknowledged:
//! hinted handoff. After the heal the replicas converge. Reads ask home
//! replicas only, in both modes: a sloppy quorum is about writes.
//!
//! A coordinator that is itself a home replica asks itself through the
//! network like any other replica (its own messages may be delayed or lost
//! as the scenario's links say).
//!
//! Records: `apply {key, version, value}` when a home replica's copy
//! changes (and `start: true` with what it holds when it starts), `hint`
//! when a stand-in keeps a hint and `handoff` when it hands it home,
//! `read_repair` when a coordinator repairs a stale replica, `unavailable`
//! when it gives up on a request, and at the clients the history (`op`),
//! `write_acked {key, version}` and `read_result {key, version}`.
//!
//! Checks: `linearizability` of the history (the kv model),
//! `replica_convergence` (at the end, every running home replica of a key
//! holds at least the highest version of that key written more than the
//! liveness bound before the end, hints included: violation `divergence`),
//! `progress`, and the measuring `quorum_metrics` (stale read rate, write
//! latency p50/p99, read repairs, unavailable writes, hinted writes).
//!
//! Famous bugs ([`KNOWN_BUGS`], switched on with `bugs = [...]` in the
//! `[quorum_kv]` table), each breaking one rule above:
//!
//! - `read_without_write_back` (consistent reads). The rule: a read may
//!   answer only once W replicas hold the value it returns. The bug answers
//!   with the highest of the R copies at once: a read that saw a write still
//!   in flight (one replica has it) returns the new value, and a later read
//!   whose quorum misses that replica returns the old one: a new-old
//!   inversion, `not_linearizable`, though R + W > N.
//! - `write_without_version_read`. The rule: a put first asks R replicas
//!   for the highest version and writes one above it. The bug skips the
//!   query and numbers the write from what the coordinator itself knows (its
//!   own copy, if it is a home replica, and the counters it issued): a
//!   coordinator that missed other coordinators' writes picks a version
//!   below an acknowledged write, and last writer wins throws its write
//!   away though the client was told it succeeded: a later read returns the
//!   older value, `not_linearizable`.
//! - `last_arrival_wins`. The rule: a replica keeps a copy only if its
//!   version is higher than the one it holds (last *writer* wins). The bug
//!   keeps whatever arrives last: a late write-back, read repair or
//!   anti-entropy update carrying an older version overwrites a newer
//!   acknowledged one, and reads go back in time: `not_linearizable` (or, if
//!   nothing reads it, `divergence`).

mod check;
mod client;
mod model;
mod server;
#[cfg(test)]
mod tests;

pub use check::{QuorumMetrics, ReplicaConvergence, QUORUM_METRICS, REPLICA_CONVERGENCE};
pub use client::Client;
pub use model::{QuorumKvModel, QuorumKvTable};
pub use server::Server;

use crate::models::bugs::{BugInfo, Bugs};
use crate::node::NodeId;
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};

/// The famous mistakes the store can make (see the module docs).
pub const KNOWN_BUGS: &[BugInfo] = &[
    BugInfo {
        name: "read_without_write_back",
        about: "a consistent read answers with the highest of R copies without first writing it back to W replicas: a later read can return the older value (new-old inversion)",
    },
    BugInfo {
        name: "write_without_version_read",
        about: "a put skips the version query and numbers its write from the coordinator's own copy: it can get a version below an acknowledged write and lose to it",
    },
    BugInfo {
        name: "last_arrival_wins",
        about: "a replica keeps whatever copy arrives last, not the highest version: a late write-back or repair overwrites a newer acknowledged write",
    },
];

/// How reads are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// The first replica's answer (may be stale).
    Eventual,
    /// R replicas, highest version, written back to W (ABD).
    Consistent,
}

/// Which servers count towards a write quorum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quorum {
    /// Only the key's home replicas.
    Strict,
    /// Stand-ins further along the ring too, with hinted handoff.
    Sloppy,
}

/// The store's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuorumParams {
    /// Home replicas per key (N).
    pub replicas: usize,
    /// Replies a read (and a write's version query) waits for.
    pub r: usize,
    /// Acknowledgements a write (and a write-back) waits for.
    pub w: usize,
    /// Repair stale replicas a read saw.
    pub read_repair: bool,
    /// How often replicas exchange digests and stand-ins hand off hints.
    pub anti_entropy: SimDuration,
    /// How reads are served.
    pub reads: Reads,
    /// Strict or sloppy quorums.
    pub quorum: Quorum,
    /// How long a coordinator works on a request before answering "unavailable".
    pub timeout: SimDuration,
    /// How many servers the ring has.
    pub servers: usize,
    /// How many keys the clients use.
    pub keys: u32,
    /// Famous mistakes switched on (none by default).
    pub bugs: Bugs,
}

impl QuorumParams {
    /// The home replicas of key `key`, in ring order.
    pub fn home(&self, key: u32) -> Vec<NodeId> {
        debug_assert!(self.replicas <= self.servers, "N <= servers");
        (0..self.replicas)
            .map(|j| NodeId(((key as usize + j) % self.servers) as u32))
            .collect()
    }

    /// The servers after the home replicas on the ring: stand-ins for a sloppy quorum.
    pub fn stand_ins(&self, key: u32) -> Vec<NodeId> {
        (self.replicas..self.servers)
            .map(|j| NodeId(((key as usize + j) % self.servers) as u32))
            .collect()
    }

    /// True if `node` is a home replica of `key`.
    pub fn is_home(&self, key: u32, node: NodeId) -> bool {
        let offset = (node.index() + self.servers - key as usize % self.servers) % self.servers;
        offset < self.replicas
    }
}

/// A version: a counter, and the coordinator that wrote it (ties broken by id).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Version {
    /// The counter, one more than the highest a write's query found.
    pub counter: u64,
    /// The coordinator's node index.
    pub node: u32,
}

impl Version {
    /// As records spell it: `[counter, node]`.
    pub fn json(self) -> serde_json::Value {
        serde_json::json!([self.counter, self.node])
    }
}

/// A replica's copy of a key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// Its version ((0, 0) before any write).
    pub version: Version,
    /// Its value (`""` before any write).
    pub value: String,
}

/// How a coordinator answers a client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A get's result.
    Value(Entry),
    /// A put's version, written to W replicas.
    Written(Version),
    /// Not enough replicas answered in time (a put may still have landed somewhere).
    Unavailable,
}

/// Messages between clients and servers, and among servers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QkvMsg {
    /// Client to a coordinator: read key `key`.
    Get {
        /// The client's operation number.
        op: u64,
        /// The key index.
        key: u32,
    },
    /// Client to a coordinator: write `value` to key `key`.
    Put {
        /// The client's operation number.
        op: u64,
        /// The key index.
        key: u32,
        /// The value.
        value: String,
    },
    /// Coordinator to client.
    Reply {
        /// The client's operation number.
        op: u64,
        /// What happened.
        outcome: Outcome,
    },
    /// Coordinator to replica: your copy of `key`?
    Read {
        /// The coordinator's request id.
        req: u64,
        /// The key index.
        key: u32,
    },
    /// Replica to coordinator: my copy.
    ReadAck {
        /// The coordinator's request id.
        req: u64,
        /// The replica's copy.
        entry: Entry,
    },
    /// Coordinator to replica (or stand-in, with `hint`): keep this if newer.
    Write {
        /// The coordinator's request id.
        req: u64,
        /// The key index.
        key: u32,
        /// The copy to keep.
        entry: Entry,
        /// The home replica a stand-in keeps it for (sloppy quorum).
        hint: Option<NodeId>,
    },
    /// Replica to coordinator: I hold it (or something newer), on disk.
    WriteAck {
        /// The coordinator's request id.
        req: u64,
    },
    /// Anti-entropy: my versions of the keys we share.
    Digest {
        /// (key, version) pairs.
        versions: Vec<(u32, Version)>,
    },
    /// Anti-entropy: send me your copies of these keys (yours are newer).
    Want {
        /// Key indexes.
        keys: Vec<u32>,
    },
    /// Anti-entropy or read repair: a newer copy.
    Update {
        /// The key index.
        key: u32,
        /// The copy.
        entry: Entry,
    },
    /// Stand-in to home replica: a hinted write, handed home.
    Handoff {
        /// The key index.
        key: u32,
        /// The copy.
        entry: Entry,
    },
    /// Home replica to stand-in: got it, drop the hint.
    HandoffAck {
        /// The key index.
        key: u32,
        /// The version received.
        version: Version,
    },
}

/// The history name of key number `key` (`k1` is key 0).
pub fn key_name(key: u32) -> String {
    format!("k{}", key + 1)
}
