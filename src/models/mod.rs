//! Built-in protocol models. Each is a set of [`crate::node::Node`]
//! implementations; models know the node API, never the engine.
//!
//! - [`heartbeat`]: an all-to-all heartbeat failure detector.

pub mod heartbeat;
