//! What clients do: how many, how fast, how patient.
//!
//! A client is a node. It runs a closed loop: think for a uniform time in
//! `[think_min, think_max]`, invoke one operation, wait for the reply or for
//! `timeout`, record the outcome in the history, repeat. A timed-out
//! operation is recorded as `info` (unknown outcome) and, as in Jepsen, the
//! client retires that process id and continues as a new process
//! (`process + clients`), so each process has at most one open operation.

use crate::time::SimDuration;

/// The clients of a scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Workload {
    /// Number of client nodes (named c1..cN).
    pub clients: u32,
    /// Shortest think time between operations.
    pub think_min: SimDuration,
    /// Longest think time between operations.
    pub think_max: SimDuration,
    /// How long a client waits for a reply before recording `info`.
    pub timeout: SimDuration,
    /// Share of operations that are reads, in parts per million.
    pub read_ppm: u32,
    /// How many keys key-value clients spread their operations over
    /// (named "k1".."kN"; single-register models ignore it).
    pub keys: u32,
}
