//! The event queue: a binary heap ordered by (time, sequence number).
//!
//! Every scheduled event gets the next sequence number, so events at the same
//! true time run in the order they were scheduled: ties are never broken by
//! memory address or hash order.
//!
//! One exception, [`EventQueue::push_front`]: work that was held back (the
//! messages and timers of a paused node) is put *before* everything already
//! queued for the same instant, in the order given, so a resume never lets a
//! later arrival overtake an earlier one. Front entries take sequence numbers
//! counting down from 2^63; ordinary ones count up from there.

use crate::node::{NodeId, TimerId};
use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What a queued event does.
pub(crate) enum Payload<M> {
    Start(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        msg_id: u64,
        msg: M,
        arrived: bool,
    },
    Timer {
        node: NodeId,
        id: TimerId,
        generation: u32,
    },
    Fault(u32),
    Resume {
        node: NodeId,
        generation: u32,
    },
    LossBurstEnd {
        generation: u32,
    },
    /// A handler's sends leave (timing noise); `epoch` is the sender's
    /// incarnation when it sent them.
    Depart {
        from: NodeId,
        epoch: u32,
        sends: Vec<(NodeId, M)>,
    },
    /// A deferred sync's disk time is over.
    SyncDone {
        node: NodeId,
        batch: u64,
    },
    /// Trigger `n` starts watching.
    Arm(u32),
    /// Trigger `n`'s watch ends.
    Expire(u32),
    /// Link change `n` (a `set_link` with a duration) ends.
    RestoreLinks(u32),
    /// A Byzantine fault on `node` with a duration ends (if `generation`
    /// is still the node's).
    ByzantineEnd {
        node: NodeId,
        generation: u32,
    },
    /// Knob task `task` (a `set` fault's turn, or its return) reaches `node`.
    Knob {
        node: NodeId,
        task: u32,
    },
}

pub(crate) struct Entry<M> {
    pub time: SimTime,
    pub seq: u64,
    pub payload: Payload<M>,
}

impl<M> PartialEq for Entry<M> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<M> Eq for Entry<M> {}
impl<M> PartialOrd for Entry<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Entry<M> {
    /// Reversed, so the max-heap pops the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// The queue of pending events.
pub(crate) struct EventQueue<M> {
    heap: BinaryHeap<Entry<M>>,
    next_seq: u64,
    next_front_seq: u64,
}

impl<M> EventQueue<M> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 1 << 63,
            next_front_seq: 1 << 63,
        }
    }

    #[inline]
    pub fn push(&mut self, time: SimTime, payload: Payload<M>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, payload });
    }

    /// Queues `payload` ahead of everything else at `time`.
    pub fn push_front(&mut self, time: SimTime, payload: Payload<M>) {
        self.next_front_seq -= 1;
        self.heap.push(Entry {
            time,
            seq: self.next_front_seq,
            payload,
        });
    }

    #[inline]
    pub fn pop(&mut self) -> Option<Entry<M>> {
        self.heap.pop()
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }
}
