//! A heartbeat failure detector: every node pings every other, and suspects
//! a peer it has not heard from for `timeout`.
//!
//! ```text
//!            heard from p                      silent > timeout
//!   TRUSTED <-------------- SUSPECTED  <------------------------ TRUSTED
//! ```
//!
//! Each node, every `interval` of its *local* clock, broadcasts a
//! `Heartbeat` and then checks each peer: if it has been silent for more than
//! `timeout` (by the local clock), the node records `suspect {peer}`; when a
//! heartbeat from a suspected peer arrives, it records `trust {peer}`. The
//! first tick is at a random phase in `[0, interval)` drawn from the node's
//! own stream, so nodes do not beat in lockstep.
//!
//! The node keeps an incarnation number in storage, synced at every start,
//! and sends it in each heartbeat: a restarted node says so.
//!
//! What it teaches: a timeout cannot tell a crashed node from a slow,
//! partitioned or paused one, nor from a peer whose clock runs slow. Under
//! loss, partitions, pauses and drift the detector suspects nodes that are
//! up (false suspicions); it is only *eventually* accurate once the network
//! behaves (the ◇P detector of Chandra and Toueg), and it is complete: a
//! crashed node is eventually suspected by every live one.
//!
//! What it does not model: adaptive timeouts (phi accrual), gossip, or
//! indirect probes (SWIM).
//!
//! Famous bugs ([`KNOWN_BUGS`], switched on with `bugs = [...]` in the
//! `[heartbeat]` table), each breaking one rule of the detector:
//!
//! - `suspicion_never_revoked`. The rule: a suspicion is only a guess, and
//!   any heartbeat from a suspected peer takes it back (`trust`). The bug
//!   keeps a suspicion for good: after a partition, a pause or a lossy
//!   spell, a peer that is up stays suspected forever. A detector that
//!   suspects often is only useful if it also forgives; this one turns every
//!   false suspicion into a permanent one: `lasting_false_suspicion`
//!   (eventual accuracy).
//! - `no_timeout_before_first_heartbeat`. The rule: the silence of a peer
//!   is measured from when the node started if it has never heard from it,
//!   so a peer that is down when the node starts is suspected after
//!   `timeout` like any other. The bug starts a peer's clock only at its
//!   first heartbeat ("I cannot time out what I never heard"): a node that
//!   restarts while a peer is down never suspects that peer:
//!   `undetected_crash` (strong completeness).
//! - `seq_without_incarnation`. The rule: a heartbeat is identified by
//!   (incarnation, seq); a restarted sender counts its seq from 1 again in a
//!   new incarnation. The bug de-duplicates heartbeats by `seq` alone,
//!   dropping any whose seq is not above the highest seen from that sender
//!   (meant to drop the network's duplicates and late copies): after a peer
//!   restarts, its heartbeats are all dropped until its new seq passes the
//!   old one, which takes as long as it had been up before. The restarted
//!   peer stays suspected that long: `lasting_false_suspicion`.
//!
//! Not modelled as a bug: timeouts measured on a clock that jumps. This
//! model has no monotonic clock to get wrong; it already measures silence
//! on the node's local clock, whose jumps (`clock_jump`) cause false
//! suspicions (see `heartbeat-drift`) that clear at the next heartbeat.

mod model;
#[cfg(test)]
mod tests;
pub use model::{HeartbeatModel, HeartbeatTable};

use crate::clock::LocalTime;
use crate::models::bugs::{BugInfo, Bugs};
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;

/// The famous mistakes the detector can make (see the module docs).
pub const KNOWN_BUGS: &[BugInfo] = &[
    BugInfo {
        name: "suspicion_never_revoked",
        about: "a heartbeat from a suspected peer no longer clears the suspicion: every false suspicion (partition, pause, loss) lasts forever",
    },
    BugInfo {
        name: "no_timeout_before_first_heartbeat",
        about: "a peer's silence is timed only from its first heartbeat: a node that starts while a peer is down never suspects it",
    },
    BugInfo {
        name: "seq_without_incarnation",
        about: "heartbeats are de-duplicated by seq alone, ignoring the incarnation: a restarted peer's beats (seq from 1 again) are dropped and it stays suspected",
    },
];

/// The parameters of the detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatParams {
    /// Local time between two heartbeats (and two checks).
    pub interval: SimDuration,
    /// Local silence after which a peer is suspected.
    pub timeout: SimDuration,
    /// Famous mistakes switched on (none by default).
    pub bugs: Bugs,
}

/// The one message: "I am alive", with the sender's incarnation.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Heartbeat {
    /// How many times the sender has started.
    pub incarnation: u64,
    /// The sender's heartbeat count in this incarnation.
    pub seq: u64,
}

const TICK: u64 = 1;
const INCARNATION_KEY: &str = "incarnation";

/// One detector node.
#[derive(Debug)]
pub struct HeartbeatNode {
    params: HeartbeatParams,
    incarnation: u64,
    seq: u64,
    /// Indexed by peer node index; `None` for non-peers.
    last_heard: Vec<Option<LocalTime>>,
    suspected: Vec<bool>,
    /// Indexed by peer node index: the highest heartbeat seq received from
    /// it (kept for the `seq_without_incarnation` bug only).
    highest_seq: Vec<u64>,
    /// Indexed by peer node index: heard from it since this node started
    /// (kept for the `no_timeout_before_first_heartbeat` bug only).
    heard: Vec<bool>,
}

impl HeartbeatNode {
    /// A fresh node (state is rebuilt in `on_start`).
    pub fn new(params: HeartbeatParams) -> HeartbeatNode {
        HeartbeatNode {
            params,
            incarnation: 0,
            seq: 0,
            last_heard: Vec::new(),
            suspected: Vec::new(),
            highest_seq: Vec::new(),
            heard: Vec::new(),
        }
    }

    fn tick(&mut self, ctx: &mut Ctx<'_, Heartbeat>) {
        self.seq += 1;
        ctx.broadcast(Heartbeat {
            incarnation: self.incarnation,
            seq: self.seq,
        });
        self.check_peers(ctx);
        ctx.set_timer(self.params.interval, TICK);
    }

    fn check_peers(&mut self, ctx: &mut Ctx<'_, Heartbeat>) {
        let now = ctx.now_local();
        for i in 0..self.last_heard.len() {
            let Some(heard) = self.last_heard[i] else {
                continue;
            };
            // The rule: a peer never heard from is timed from this node's
            // start. Bug: time it only from its first heartbeat, so a peer
            // that is down when this node starts is never suspected.
            if self.params.bugs.has("no_timeout_before_first_heartbeat") && !self.heard[i] {
                continue;
            }
            let silent = now.saturating_since(heard);
            if !self.suspected[i] && silent > self.params.timeout {
                self.suspected[i] = true;
                let peer = ctx.name(NodeId(i as u32)).to_string();
                ctx.record(
                    "suspect",
                    json!({ "peer": peer, "silent_ns": silent.as_nanos() }),
                );
            }
        }
    }
}

impl Node<Heartbeat> for HeartbeatNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Heartbeat>) {
        self.incarnation = ctx.storage().get_json::<u64>(INCARNATION_KEY).unwrap_or(0) + 1;
        ctx.storage().put_json(INCARNATION_KEY, &self.incarnation);
        ctx.storage().sync();
        ctx.record("start", json!({ "incarnation": self.incarnation }));
        let size = ctx
            .peers()
            .iter()
            .map(|p| p.index() + 1)
            .max()
            .unwrap_or(0)
            .max(ctx.id().index() + 1);
        self.last_heard = vec![None; size];
        self.suspected = vec![false; size];
        self.highest_seq = vec![0; size];
        self.heard = vec![false; size];
        let now = ctx.now_local();
        for peer in ctx.peers().to_vec() {
            self.last_heard[peer.index()] = Some(now);
        }
        let phase = ctx.rng().below(self.params.interval.as_nanos().max(1));
        ctx.set_timer(SimDuration::from_nanos(phase), TICK);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Heartbeat>, from: NodeId, msg: Heartbeat) {
        let Some(slot) = self.last_heard.get_mut(from.index()) else {
            return;
        };
        if slot.is_none() {
            return; // not a peer
        }
        let i = from.index();
        // The rule: every heartbeat, duplicate or late, proves the sender
        // was up; a heartbeat is named by (incarnation, seq). Bug: drop the
        // ones whose seq alone is not above the highest seen, forgetting
        // that a restarted sender counts from 1 again.
        if self.params.bugs.has("seq_without_incarnation") {
            if msg.seq <= self.highest_seq[i] {
                return;
            }
            self.highest_seq[i] = msg.seq;
        }
        *slot = Some(ctx.now_local());
        self.heard[i] = true;
        // The rule: a heartbeat from a suspected peer clears the suspicion.
        // Bug: once suspected, suspected for good.
        if self.params.bugs.has("suspicion_never_revoked") {
            return;
        }
        if self.suspected[from.index()] {
            self.suspected[from.index()] = false;
            let peer = ctx.name(from).to_string();
            ctx.record("trust", json!({ "peer": peer }));
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Heartbeat>, timer: TimerId) {
        debug_assert_eq!(timer.tag(), TICK, "heartbeat has one timer kind");
        self.tick(ctx);
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view::{self, Shown};
        // Without the parameters; the peers this node suspects by id.
        let suspected = self.suspected.iter().enumerate().filter(|(_, s)| **s);
        let suspected = suspected.map(|(i, _)| Shown(NodeId(i as u32).to_string()));
        view::state(
            "HeartbeatNode",
            &[
                ("incarnation", &self.incarnation),
                ("seq", &self.seq),
                ("last_heard", &view::first(&self.last_heard)),
                ("suspected", &view::first(suspected)),
            ],
        )
    }
}
