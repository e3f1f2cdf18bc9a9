//! Built-in protocol models. Each is a set of [`crate::node::Node`]
//! implementations; models know the node API, never the engine.
//!
//! - [`bugs`]: the famous mistakes a model can be switched to make.
//! - [`backoff`]: clients racing conditional writes to one store, retrying
//!   conflicts with backoff and jitter (the AWS experiment, 2015).
//! - [`cache`]: clients reading through a cache in front of a database;
//!   cold starts and synchronized TTLs make thundering herds, single flight
//!   and jittered TTLs tame them.
//! - [`heartbeat`]: an all-to-all heartbeat failure detector.
//! - [`lease`]: leader election with leases; a pause or a clock jump makes
//!   two holders, and fencing tokens keep the storage safe.
//! - [`paxos`]: single-decree Paxos (Paxos Made Simple): durable
//!   acceptors, proposers retrying with higher numbers; duelling proposers
//!   livelock without a randomized backoff.
//! - [`pbft`]: PBFT (Castro and Liskov 1999), n = 3f + 1 replicas
//!   tolerating f Byzantine ones: pre-prepare, prepare, commit and the view
//!   change, replicating a key-value store, with its own agreement and
//!   validity checks and a `Tamper` for Byzantine replicas.
//! - [`primary_backup`]: a replicated register with clients; with local
//!   reads it serves stale reads (the linearizability canary); failover
//!   with epochs loses acknowledged writes under async replication, and
//!   sync replication stalls while a backup is away (`durability`).
//! - [`quorum_kv`]: a Dynamo-style key-value store with N replicas per key
//!   and R/W quorums; eventual reads are stale, ABD reads with R + W > N
//!   are linearizable, sloppy quorums stay writable in a partition.
//! - [`multi_paxos`]: Multi-Paxos (Lamport, "Paxos Made Simple" §3) with a
//!   stable leader, replicating the same key-value store as Raft.
//! - [`raft`]: Raft consensus (Figure 2, PreVote, CheckQuorum, ReadIndex)
//!   replicating a key-value store, with its clients.
//! - [`saga`]: an orchestrated saga (flight, hotel, payment) with a durable
//!   saga log, retries, idempotency keys and compensations in reverse.
//! - [`zones`]: a service over availability zones with a balancer and a
//!   control plane that scales out: static stability.
//! - [`service`]: servers with workers and a bounded queue, clients that
//!   time out and retry (backoff, retry budget, circuit breaker): overload,
//!   metastable failure and load shedding.
//! - [`two_pc`]: two-phase commit with a durable coordinator log and
//!   presumed abort; participants in doubt block while the coordinator is
//!   down, and a decision sent before it is synced breaks atomicity.
//! - [`zab`]: Zab, ZooKeeper's atomic broadcast (election, discovery,
//!   synchronization, broadcast with epochs and zxids) replicating a
//!   key-value store; a leader that commits before a quorum acked breaks
//!   agreement.
//! - [`workload`]: what clients do.
//! - [`view`]: the nodes' bounded state views (`faultlab replay --state`).
//!
//! Each model is also a [`crate::Model`] (in its `model.rs`): its name, its
//! `[<name>]` table, its servers and clients, its checks, its node factory.
//! Adding a model is a new folder here (the nodes and a `model.rs`) and one
//! line in [`crate::Registry::builtin`]; nothing in `scenario/`, `engine/`,
//! `check/` or the CLI changes, since they know models only through the
//! trait and the registry.

pub mod backoff;
pub mod bugs;
pub mod cache;
pub mod heartbeat;
pub mod lease;
pub mod multi_paxos;
pub mod paxos;
pub mod pbft;
pub mod primary_backup;
pub mod quorum_kv;
pub mod raft;
pub mod saga;
pub mod service;
pub mod two_pc;
pub mod view;
pub mod workload;
pub mod zab;
pub mod zones;
