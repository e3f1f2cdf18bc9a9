//! Timing noise: timers that fire late, handlers that take time, disks that
//! take time to sync.
//!
//! Three knobs, each a [`Latency`] distribution, all off by default (and
//! then nothing here draws a number or moves an event):
//! - **timer jitter**: every timer fires this much after the true time its
//!   node's clock reaches the deadline (late, never early);
//! - **processing**: every handler call keeps the node's CPU busy for a
//!   sample, from when the CPU is free (at once, or when the previous call's
//!   processing ends); the call's sends leave when its processing ends;
//! - **sync**: every [`Storage::sync`](crate::storage::Storage::sync) takes
//!   a sample of disk time, from when the disk is free; the writes become
//!   durable when it ends, and a crash before loses them.
//!
//! A handler's sends leave at its *departure*: the end of its processing,
//! and no earlier than every sync the node has started so far is complete,
//! so a message never tells of a write the disk may still lose (Raft syncs
//! before it replies: with sync latency its votes and acks leave after the
//! disk write). A node's messages leave in the order it sent them. A
//! departure of now routes the sends at once; a later one queues them, and
//! the network's rules (partitions, loss, latency, message ids) apply when
//! they leave. A node paused at its departure sends when it resumes; a node
//! that crashed before it never sends them (the crash's trace says how many
//! messages were lost: an `unsent` event).
//!
//! Every draw comes from the run's own `"noise"` stream, so noise shifts no
//! draw of the nodes, the network or the faults.

use super::queue::Payload;
use super::trace::EventKind;
use super::Sim;
use crate::net::Latency;
use crate::node::{Message, NodeId};
use crate::time::{SimDuration, SimTime};

/// The timing noise of a run (see the module doc); `Noise::default()` is none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Noise {
    /// Added to every timer's true fire time.
    pub timer_jitter: Option<Latency>,
    /// CPU time of each handler call: its sends leave this much later.
    pub processing: Option<Latency>,
    /// Disk time of each `Storage::sync`.
    pub sync: Option<Latency>,
}

impl Noise {
    /// True if every knob is off.
    pub fn is_off(&self) -> bool {
        self.timer_jitter.is_none() && self.processing.is_none() && self.sync.is_none()
    }

    /// True if a handler's sends may leave later than the handler ran.
    #[inline]
    pub(super) fn delays_sends(&self) -> bool {
        self.processing.is_some() || self.sync.is_some()
    }
}

/// Per-node noise state: when the CPU and the disk are next free, and the
/// sends waiting to leave.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct NodeNoise {
    /// The node's incarnation: a crash moves it on, so departures queued
    /// before the crash are recognised as never sent.
    pub epoch: u32,
    /// The end of the last handler call's processing.
    pub cpu_free: SimTime,
    /// The completion of the last sync started.
    pub disk_free: SimTime,
    /// Messages queued to depart and not yet gone.
    pub waiting: u64,
}

impl<M: Message> Sim<M> {
    /// The lateness of a timer being set now: a sample of the timer jitter.
    #[inline]
    pub(super) fn timer_jitter(&mut self) -> SimDuration {
        match &self.noise.timer_jitter {
            None => SimDuration::ZERO,
            Some(jitter) => jitter.sample(&mut self.noise_rng),
        }
    }

    /// After a handler of `id` ran (its `Storage::sync` count was
    /// `syncs_before`): schedules the completion of the syncs it started,
    /// books its processing time, and returns when its sends may leave.
    pub(super) fn departure(&mut self, id: NodeId, syncs_before: u64) -> SimTime {
        let now = self.now;
        let slot = &mut self.slots[id.index()];
        let noise = &mut slot.noise;
        if let Some(latency) = &self.noise.sync {
            for batch in syncs_before + 1..=slot.storage.sync_count() {
                let done = noise.disk_free.max(now) + latency.sample(&mut self.noise_rng);
                debug_assert!(done >= noise.disk_free, "syncs complete in order");
                noise.disk_free = done;
                if done == now && slot.storage.oldest_in_flight() == Some(batch) {
                    slot.storage.complete_sync(batch);
                } else {
                    let payload = Payload::SyncDone { node: id, batch };
                    self.queue.push(done, payload);
                }
            }
        }
        if let Some(latency) = &self.noise.processing {
            noise.cpu_free = noise.cpu_free.max(now) + latency.sample(&mut self.noise_rng);
        }
        let departure = noise.cpu_free.max(noise.disk_free).max(now);
        debug_assert!(departure >= now, "a departure in the past");
        departure
    }

    /// Sends of `id` that leave at `departure` (after now, or behind a sync
    /// still in flight): queued to route then.
    pub(super) fn queue_departure(
        &mut self,
        id: NodeId,
        departure: SimTime,
        sends: Vec<(NodeId, M)>,
    ) {
        let noise = &mut self.slots[id.index()].noise;
        noise.waiting += sends.len() as u64;
        let payload = Payload::Depart {
            from: id,
            epoch: noise.epoch,
            sends,
        };
        self.queue.push(departure, payload);
    }

    /// A queued departure is due: routes its sends, holds them if the node
    /// is paused, forgets them if it crashed since (false: no event).
    pub(super) fn depart(&mut self, from: NodeId, epoch: u32, sends: Vec<(NodeId, M)>) -> bool {
        let slot = &mut self.slots[from.index()];
        if slot.noise.epoch != epoch {
            return false; // the crash traced them as unsent
        }
        debug_assert!(slot.node.is_some(), "a live departure of a crashed node");
        if slot.paused_until.is_some() {
            slot.held.push(Payload::Depart { from, epoch, sends });
            return false;
        }
        slot.noise.waiting -= sends.len() as u64;
        for (to, msg) in sends {
            self.route(from, to, msg);
        }
        true
    }

    /// A sync's disk time is over: its batch becomes durable (no event;
    /// nothing if a crash lost it).
    pub(super) fn sync_done(&mut self, node: NodeId, batch: u64) -> bool {
        self.slots[node.index()].storage.complete_sync(batch);
        false
    }

    /// The crash of `node`: what waited to leave is never sent (traced as
    /// one `unsent` event), and the CPU and disk start idle after a restart.
    pub(super) fn crash_noise(&mut self, node: NodeId) {
        let noise = &mut self.slots[node.index()].noise;
        let waiting = noise.waiting;
        *noise = super::NodeNoise {
            epoch: noise.epoch.wrapping_add(1),
            ..Default::default()
        };
        if waiting > 0 {
            self.push_event(Some(node), EventKind::Unsent { messages: waiting });
        }
    }
}
