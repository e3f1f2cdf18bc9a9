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

/// A popped event: its time and what it does.
pub(crate) struct Entry<M> {
    pub time: SimTime,
    pub payload: Payload<M>,
}

/// A queued event's place in the order, and the slot of [`EventQueue`]'s
/// payload table its payload waits in. Small and `Copy`, so the heap moves
/// 24 bytes per step whatever the message type.
#[derive(Clone, Copy, Debug)]
struct Key {
    time: SimTime,
    seq: u64,
    slot: u32,
}

impl Key {
    /// (time, seq) as one number: earlier time first, then lower seq.
    /// Sequence numbers are unique, so no two keys rank the same.
    #[inline]
    fn rank(&self) -> u128 {
        (u128::from(self.time.0) << 64) | u128::from(self.seq)
    }
}

/// The queue of pending events: a binary min-heap of [`Key`]s by rank; the
/// payloads wait in a table of slots, reused through a free list, so a
/// payload is written once and read once however often the heap reorders.
///
/// The heap is hand-written rather than `std::collections::BinaryHeap`
/// for one reason: a push places the new key by moving parents down into
/// the hole and writes it once, at its final place, instead of writing it
/// at the end and reading it back (a read of a just-written value stalls).
pub(crate) struct EventQueue<M> {
    /// `heap[i]` ranks no later than `heap[2i+1]` and `heap[2i+2]`.
    heap: Vec<Key>,
    /// Payload slots: `Some` while its event is queued.
    payloads: Vec<Option<Payload<M>>>,
    /// The empty slots of `payloads`.
    free: Vec<u32>,
    next_seq: u64,
    next_front_seq: u64,
}

impl<M> EventQueue<M> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::new(),
            payloads: Vec::new(),
            free: Vec::new(),
            next_seq: 1 << 63,
            next_front_seq: 1 << 63,
        }
    }

    /// Queues `payload` at `time`, after everything already queued for then.
    #[inline(always)]
    pub fn push(&mut self, time: SimTime, payload: Payload<M>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.insert(time, seq, payload);
    }

    /// Queues `payload` ahead of everything else at `time`.
    pub fn push_front(&mut self, time: SimTime, payload: Payload<M>) {
        self.next_front_seq -= 1;
        self.insert(time, self.next_front_seq, payload);
    }

    /// Stores `payload` in a free slot and queues its key. Always inlined,
    /// so the caller's payload is built right in its slot, not built on the
    /// stack and copied (a copy that reads back what was just written).
    #[inline(always)]
    fn insert(&mut self, time: SimTime, seq: u64, payload: Payload<M>) {
        let slot = self.free_slot();
        let place = &mut self.payloads[slot as usize];
        debug_assert!(place.is_none(), "free slot {slot} holds a payload");
        *place = Some(payload);
        self.sift_in(time, seq, slot);
    }

    /// An empty slot of `payloads` (a new one if none is free).
    #[inline]
    fn free_slot(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            let slot = u32::try_from(self.payloads.len()).expect("2^32 queued events");
            self.payloads.push(None);
            slot
        })
    }

    /// Adds the key (given as parts, so it comes in registers) to the heap:
    /// parents that rank later move down into the hole until its place is
    /// found; the key is written there, once.
    fn sift_in(&mut self, time: SimTime, seq: u64, slot: u32) {
        let key = Key { time, seq, slot };
        let hole = self.heap.len();
        self.heap.push(key);
        sift_up(&mut self.heap[..], hole, key);
        debug_assert_eq!(self.heap.len() + self.free.len(), self.payloads.len());
    }

    /// Takes the earliest event (ties by scheduling order).
    #[inline]
    pub fn pop(&mut self) -> Option<Entry<M>> {
        let key = self.pop_key()?;
        let payload = self.payloads[key.slot as usize]
            .take()
            .expect("a queued key's slot holds its payload");
        self.free.push(key.slot);
        Some(Entry {
            time: key.time,
            payload,
        })
    }

    /// Removes the root key. The last key fills the root's hole: the hole
    /// first sinks to the bottom along the earlier child (one comparison a
    /// level), then the last key rises from there to its place (usually
    /// not far: it was a leaf).
    fn pop_key(&mut self) -> Option<Key> {
        let last = self.heap.pop()?;
        // A local slice: its pointer and length stay in registers while
        // the keys move.
        let heap = &mut self.heap[..];
        let Some(&top) = heap.first() else {
            return Some(last);
        };
        let len = heap.len();
        let mut hole = 0;
        let mut child = 1;
        while child + 1 < len {
            if heap[child + 1].rank() < heap[child].rank() {
                child += 1;
            }
            heap[hole] = heap[child];
            hole = child;
            child = 2 * hole + 1;
        }
        if child < len {
            heap[hole] = heap[child];
            hole = child;
        }
        sift_up(heap, hole, last);
        Some(top)
    }

    /// The time of the earliest event.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.first().map(|k| k.time)
    }

    /// How many events are queued.
    #[inline]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

/// Puts `key` in the heap's `hole`, or higher: parents that rank later
/// move down into the hole until its place is found; the key is written
/// there, once.
#[inline]
fn sift_up(heap: &mut [Key], mut hole: usize, key: Key) {
    let rank = key.rank();
    while hole > 0 {
        let parent = (hole - 1) / 2;
        if heap[parent].rank() < rank {
            break;
        }
        heap[hole] = heap[parent];
        hole = parent;
    }
    heap[hole] = key;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(node: u32) -> Payload<()> {
        Payload::Start(NodeId(node))
    }

    fn order(queue: &mut EventQueue<()>) -> Vec<(u64, u32)> {
        std::iter::from_fn(|| queue.pop())
            .map(|e| match e.payload {
                Payload::Start(n) => (e.time.0, n.0),
                _ => unreachable!("only starts queued"),
            })
            .collect()
    }

    #[test]
    fn pops_by_time_then_scheduling_order_and_front_first() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), start(0));
        q.push(SimTime(1), start(1));
        q.push(SimTime(5), start(2));
        q.push_front(SimTime(5), start(3));
        q.push_front(SimTime(5), start(4));
        assert_eq!(q.len(), 5);
        assert_eq!(q.peek_time(), Some(SimTime(1)));
        assert_eq!(order(&mut q), [(1, 1), (5, 4), (5, 3), (5, 0), (5, 2)]);
        assert_eq!(q.peek_time(), None);
    }

    #[test]
    fn pops_in_the_order_a_sorted_list_gives() {
        // Pseudo-random times with many ties, pops interleaved with pushes.
        let mut q = EventQueue::new();
        let mut expected: Vec<(u64, u64, u32)> = Vec::new();
        let (mut x, mut seq) = (12345u64, 0u64);
        let mut popped = Vec::new();
        for i in 0..5000u32 {
            x = crate::rng::mix64(x);
            let time = x % 50 + popped.len() as u64;
            q.push(SimTime(time), start(i));
            expected.push((time, seq, i));
            seq += 1;
            if x % 3 == 0 {
                let e = q.pop().expect("non-empty");
                let Payload::Start(n) = e.payload else {
                    unreachable!()
                };
                popped.push((e.time.0, n.0));
                expected.sort_unstable();
                let (t, _, id) = expected.remove(0);
                assert_eq!((t, id), (e.time.0, n.0));
            }
        }
        expected.sort_unstable();
        let rest: Vec<(u64, u32)> = expected.iter().map(|&(t, _, id)| (t, id)).collect();
        assert_eq!(order(&mut q), rest);
    }

    #[test]
    fn slots_are_reused() {
        let mut q = EventQueue::new();
        for round in 0..100u64 {
            q.push(SimTime(round), start(0));
            q.push(SimTime(round + 1), start(1));
            assert!(q.pop().is_some());
        }
        assert_eq!(q.len(), 100);
        assert!(q.payloads.len() <= 101, "{} slots", q.payloads.len());
        let times: Vec<u64> = order(&mut q).iter().map(|(t, _)| *t).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }
}
