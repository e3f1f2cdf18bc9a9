//! Built-in protocol models. Each is a set of [`crate::node::Node`]
//! implementations; models know the node API, never the engine.
//!
//! - [`heartbeat`]: an all-to-all heartbeat failure detector.
//! - [`primary_backup`]: a replicated register with clients; with local
//!   reads it serves stale reads (the linearizability canary).
//! - [`workload`]: what clients do.

pub mod heartbeat;
pub mod primary_backup;
pub mod workload;
