//! # faultlab
//!
//! A deterministic simulator for distributed systems. One seed and one
//! scenario file give one run, bit for bit, on any machine: nodes exchange
//! messages over a network that loses, duplicates, delays and reorders them;
//! partitions cut it; clocks are skewed, drift and jump; processes crash,
//! restart and pause. Protocol models run inside, and checkers judge the run.
//!
//! The layers, each depending only on those above it:
//! - [`time`], [`rng`], [`hash`], [`clock`], [`storage`], [`node`], [`history`]: the vocabulary;
//! - [`input`]: reading a user's files (regular files only, size-capped, UTF-8);
//! - [`net`], [`fault`]: the world a node lives in;
//! - [`engine`]: the event loop, the only place that advances time;
//! - [`models`]: protocols (they know [`node`], never [`engine`]), each a
//!   [`model::Model`] that a [`registry::Registry`] holds by name;
//! - [`retry`]: client resilience policies (backoff, retry budget, circuit
//!   breaker), pure types any model's clients may hold;
//! - [`check`]: judges of a run's trace;
//! - [`scenario`]: TOML files wired into a run; [`sweep`]: many seeds;
//!   [`shrink`]: the smallest fault schedule that still fails a seed;
//! - [`plot`]: pictures of runs and sweeps (plotters, an embedded font);
//! - `strategies` (the `proptest` feature): proptest strategies for fault
//!   schedules, to property-test a protocol and shrink what breaks it.
//!
//! A protocol is a type implementing [`node::Node`]; see
//! `examples/bench_engine.rs` for the smallest one, and
//! [`node::testing::NodeHarness`] to unit-test one node without the engine.

pub mod check;
pub mod cli;
pub mod clock;
pub mod engine;
pub mod fault;
pub mod hash;
pub mod history;
pub mod input;
pub mod model;
pub mod models;
pub mod net;
pub mod node;
pub mod plot;
pub mod registry;
pub mod report;
pub mod retry;
pub mod rng;
pub mod scenario;
pub mod shrink;
pub mod storage;
#[cfg(feature = "proptest")]
pub mod strategies;
pub mod sweep;
pub mod time;

pub use engine::{Sim, SimBuilder, Step, TraceEvent};
pub use model::Model;
pub use node::{Ctx, Node, NodeId, TimerId};
pub use registry::Registry;
pub use time::{SimDuration, SimTime};
