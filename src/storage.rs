//! Durable per-node storage, with writes that are durable only after `sync`.
//!
//! Each node owns one [`Storage`]: a map from string keys to byte values. A
//! write (`put`, `delete`) is visible to the node at once but sits in a
//! pending layer until [`Storage::sync`], the model of `fsync`. A crash drops
//! the pending layer ([`Storage::lose_unsynced`]); the synced layer survives
//! and is what a restarted node reads. There is no torn-write or corruption
//! model yet: a sync is atomic.
//!
//! A sync takes no time unless the engine makes it *deferred*
//! ([`Storage::set_deferred`], for `[noise] sync`): then `sync` moves the
//! pending writes into an in-flight batch, still visible to the node, that
//! becomes durable when the engine calls [`Storage::complete_sync`] (batches
//! complete in the order they started); a crash before that loses it. The
//! storage knows nothing of time: the engine decides when a batch is done.
//!
//! Pending writes are kept in a `BTreeMap`, durable keys in a `BTreeSet`
//! beside the hash map of durable values, so iteration (`keys_with_prefix`)
//! is in key order and deterministic; a read or write of a durable key is
//! one hash lookup. A key is stored once, as an `Rc<str>` the layers share:
//! writing a key the disk already holds allocates no new key.

use crate::hash::FxBuild;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::rc::Rc;

/// A key, shared between the layers that hold it.
type Key = Rc<str>;

/// Writes not yet durable: `Some(bytes)` is a put, `None` a delete.
type Writes = BTreeMap<Key, Option<Vec<u8>>>;

/// What a sync made durable: the values by key, and the keys in order.
#[derive(Clone, Default)]
struct Durable {
    values: HashMap<Key, Vec<u8>, FxBuild>,
    /// Exactly the keys of `values`, in order.
    keys: BTreeSet<Key>,
}

impl std::fmt::Debug for Durable {
    /// In key order (never the hash map's order).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.keys.iter().map(|k| (k, &self.values[k])))
            .finish()
    }
}

impl Durable {
    fn get_key_value(&self, key: &str) -> Option<(&Key, &Vec<u8>)> {
        self.values.get_key_value(key)
    }

    /// Applies a batch of writes.
    fn apply(&mut self, writes: Writes) {
        for (key, value) in writes {
            self.apply_one(key, value);
        }
    }

    /// Applies one write: `Some(bytes)` a put, `None` a delete.
    fn apply_one(&mut self, key: Key, value: Option<Vec<u8>>) {
        match (value, self.values.get_mut(&key)) {
            (Some(bytes), Some(slot)) => *slot = bytes,
            (Some(bytes), None) => {
                self.keys.insert(Rc::clone(&key));
                self.values.insert(key, bytes);
            }
            (None, _) => {
                if self.values.remove(&key).is_some() {
                    self.keys.remove(&key);
                }
            }
        }
        debug_assert_eq!(
            self.keys.len(),
            self.values.len(),
            "durable keys and values disagree"
        );
    }

    /// The keys starting with `prefix`, in order.
    fn keys_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |k| k.starts_with(prefix))
    }
}

/// One node's disk.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    durable: Durable,
    /// Writes since the last `sync`.
    pending: Writes,
    /// Deferred syncs started and not yet complete, oldest first, each with
    /// its batch id (the `sync_count` it was started as).
    in_flight: VecDeque<(u64, Writes)>,
    deferred: bool,
    syncs: u64,
    /// Puts and deletes ever made (for fault points: did a handler write?).
    writes: u64,
}

impl Storage {
    /// An empty disk.
    pub fn new() -> Storage {
        Storage::default()
    }

    /// Writes `value` under `key` (not yet durable).
    pub fn put(&mut self, key: impl AsRef<str>, value: Vec<u8>) {
        self.write(key.as_ref(), Some(value));
    }

    /// Deletes `key` (not yet durable).
    pub fn delete(&mut self, key: &str) {
        self.write(key, None);
    }

    /// Appends `bytes` to the value under `key` (not yet durable): a put of
    /// the current value, synced or not (empty if absent), followed by
    /// `bytes`. The pending value grows in place; no other layer changes.
    pub fn extend(&mut self, key: &str, bytes: &[u8]) {
        self.writes += 1;
        if let Some(slot) = self.pending.get_mut(key) {
            let value = slot.get_or_insert_with(Vec::new);
            value.extend_from_slice(bytes);
            return;
        }
        // One search of the older layers finds both the value and its key.
        let (key, held) = match self.below_pending(key) {
            Some((k, held)) => (Rc::clone(k), held.unwrap_or_default()),
            None => (Key::from(key), &[][..]),
        };
        let mut value = Vec::with_capacity(held.len() + bytes.len());
        value.extend_from_slice(held);
        value.extend_from_slice(bytes);
        self.pending.insert(key, Some(value));
    }

    /// Records a pending write, reusing the key the disk holds if any.
    fn write(&mut self, key: &str, value: Option<Vec<u8>>) {
        self.writes += 1;
        if let Some(slot) = self.pending.get_mut(key) {
            *slot = value;
            return;
        }
        let key = self.shared_key(key);
        self.pending.insert(key, value);
    }

    /// `key` as a [`Key`]: a clone of the one a layer holds, or a new one.
    fn shared_key(&self, key: &str) -> Key {
        self.below_pending(key)
            .map_or_else(|| Key::from(key), |(k, _)| Rc::clone(k))
    }

    /// The newest write of `key` below the pending layer (in-flight syncs,
    /// newest first, then the durable layer), with the key as held there:
    /// the value is `None` for a delete; `None` if no layer has the key.
    fn below_pending(&self, key: &str) -> Option<(&Key, Option<&[u8]>)> {
        self.in_flight
            .iter()
            .rev()
            .find_map(|(_, writes)| writes.get_key_value(key))
            .map(|(k, v)| (k, v.as_deref()))
            .or_else(|| {
                self.durable
                    .get_key_value(key)
                    .map(|(k, v)| (k, Some(v.as_slice())))
            })
    }

    /// The current value of `key`, synced or not.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        match self.pending.get(key) {
            Some(newest) => newest.as_deref(),
            None => self.below_pending(key)?.1,
        }
    }

    /// Writes `value` as JSON under `key` (not yet durable).
    pub fn put_json<T: Serialize>(&mut self, key: impl AsRef<str>, value: &T) {
        let bytes = serde_json::to_vec(value).expect("a model value failed to serialise");
        self.put(key, bytes);
    }

    /// Reads the JSON value under `key`; `None` if absent or not a `T`.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.get(key)
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
    }

    /// Makes every pending write durable: at once, or, when deferred, when
    /// the engine completes this sync's batch (see [`Storage::set_deferred`]).
    pub fn sync(&mut self) {
        self.syncs += 1;
        if self.deferred {
            let writes = std::mem::take(&mut self.pending);
            self.in_flight.push_back((self.syncs, writes));
        } else {
            debug_assert!(
                self.in_flight.is_empty(),
                "in-flight syncs while not deferred"
            );
            // Drained in place: the emptied map keeps its node for the
            // next handler's writes (no allocation per sync).
            while let Some((key, value)) = self.pending.pop_first() {
                self.durable.apply_one(key, value);
            }
        }
    }

    /// Deferred syncs on or off (the engine's choice, for `[noise] sync`):
    /// when on, each `sync` starts a batch, numbered by [`Storage::sync_count`]
    /// after the call, that is durable only after [`Storage::complete_sync`].
    pub fn set_deferred(&mut self, on: bool) {
        debug_assert!(
            on || self.in_flight.is_empty(),
            "turned off with syncs in flight"
        );
        self.deferred = on;
    }

    /// Makes batch `batch` durable. Batches complete in the order they
    /// started; false (and nothing happens) if the batch is not in flight,
    /// e.g. a crash lost it.
    pub fn complete_sync(&mut self, batch: u64) -> bool {
        match self.in_flight.front() {
            Some((first, _)) if *first == batch => {
                let (_, writes) = self.in_flight.pop_front().expect("front exists");
                self.durable.apply(writes);
                true
            }
            _ => {
                debug_assert!(
                    self.in_flight.iter().all(|(b, _)| *b != batch),
                    "sync batch {batch} completed out of order"
                );
                false
            }
        }
    }

    /// The batch id of the oldest deferred sync in flight: the next to complete.
    pub fn oldest_in_flight(&self) -> Option<u64> {
        self.in_flight.front().map(|(batch, _)| *batch)
    }

    /// How many deferred syncs have started and not completed.
    pub fn syncs_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// True if some write was made since the last `sync` call (a write in a
    /// deferred sync's batch is not durable yet, but it is synced: see
    /// [`Storage::syncs_in_flight`]).
    pub fn has_unsynced(&self) -> bool {
        !self.pending.is_empty()
    }

    /// How many puts and deletes were made, synced or not.
    pub fn write_count(&self) -> u64 {
        self.writes
    }

    /// True if some write is not durable yet: pending, or in a deferred
    /// sync still in flight.
    pub fn has_undurable(&self) -> bool {
        self.has_unsynced() || !self.in_flight.is_empty()
    }

    /// How many times `sync` was called.
    pub fn sync_count(&self) -> u64 {
        self.syncs
    }

    /// The crash: forgets every write that is not durable, pending or in a
    /// sync still in flight. Returns how many writes were lost.
    pub fn lose_unsynced(&mut self) -> usize {
        let lost = self.pending.len() + self.in_flight.iter().map(|(_, w)| w.len()).sum::<usize>();
        self.pending.clear();
        self.in_flight.clear();
        lost
    }

    /// Current keys starting with `prefix`, in order.
    pub fn keys_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        // Every layer's keys, the newest layer's word on each deciding.
        let layers = || {
            std::iter::once(&self.pending)
                .chain(self.in_flight.iter().rev().map(|(_, writes)| writes))
        };
        let mut keys: Vec<&str> = self
            .durable
            .keys_with_prefix(prefix)
            .map(|k| &**k)
            .collect();
        for writes in layers() {
            keys.extend(
                writes
                    .keys()
                    .filter(|k| k.starts_with(prefix))
                    .map(|k| &**k),
            );
        }
        keys.sort_unstable();
        keys.dedup();
        keys.retain(|k| !matches!(layers().find_map(|writes| writes.get(*k)), Some(None)));
        keys.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_writes_are_lost_on_crash() {
        let mut s = Storage::new();
        s.put("a", vec![1]);
        s.sync();
        s.put("b", vec![2]);
        s.delete("a");
        assert_eq!(s.get("a"), None);
        assert_eq!(s.get("b"), Some(&[2u8][..]));
        assert_eq!(s.lose_unsynced(), 2);
        assert_eq!(s.get("a"), Some(&[1u8][..]));
        assert_eq!(s.get("b"), None);
    }

    #[test]
    fn deferred_syncs_are_visible_at_once_and_durable_in_order() {
        let mut s = Storage::new();
        s.set_deferred(true);
        s.put("log/1", vec![1]);
        s.put("gone", vec![0]);
        s.sync();
        s.put("log/2", vec![2]);
        s.delete("gone");
        s.sync();
        s.put("log/3", vec![3]);
        assert_eq!((s.sync_count(), s.syncs_in_flight()), (2, 2));
        assert_eq!(s.oldest_in_flight(), Some(1));
        assert!(s.has_unsynced(), "log/3 awaits a sync call");
        assert_eq!(s.get("log/1"), Some(&[1u8][..]), "in flight, still read");
        assert_eq!(s.get("gone"), None, "the newer batch deletes it");
        assert_eq!(
            s.keys_with_prefix("").collect::<Vec<_>>(),
            ["log/1", "log/2", "log/3"]
        );
        assert!(s.complete_sync(1));
        assert!(!s.complete_sync(1), "done already");
        assert_eq!(s.get("gone"), None);
        // A crash now keeps batch 1 only.
        assert_eq!(s.lose_unsynced(), 3, "log/2, gone (batch 2) and log/3");
        assert_eq!(s.syncs_in_flight(), 0);
        assert!(!s.complete_sync(2), "lost with the crash");
        assert_eq!(
            s.keys_with_prefix("").collect::<Vec<_>>(),
            ["gone", "log/1"]
        );
    }

    #[test]
    fn extend_appends_to_the_newest_value_and_counts_as_a_write() {
        let mut s = Storage::new();
        s.put("seg", vec![1]);
        s.sync();
        s.extend("seg", &[2]);
        s.extend("seg", &[3]);
        s.extend("new", &[4]);
        assert_eq!(s.write_count(), 4);
        assert_eq!(s.get("seg"), Some(&[1u8, 2, 3][..]));
        assert_eq!(s.get("new"), Some(&[4u8][..]));
        assert_eq!(s.lose_unsynced(), 2, "one pending write per key");
        assert_eq!(
            s.get("seg"),
            Some(&[1u8][..]),
            "the durable value is untouched"
        );
        s.delete("seg");
        s.extend("seg", &[5]);
        s.sync();
        assert_eq!(s.get("seg"), Some(&[5u8][..]), "a deleted key starts empty");
        s.set_deferred(true);
        s.extend("seg", &[6]);
        s.sync();
        s.extend("seg", &[7]);
        assert_eq!(
            s.get("seg"),
            Some(&[5u8, 6, 7][..]),
            "in flight, still read"
        );
        assert_eq!(s.lose_unsynced(), 2);
        assert_eq!(s.get("seg"), Some(&[5u8][..]));
    }

    #[test]
    fn prefix_keys_merge_both_layers_in_order() {
        let mut s = Storage::new();
        s.put("log/2", vec![]);
        s.sync();
        s.put("log/1", vec![]);
        s.put("other", vec![]);
        assert_eq!(
            s.keys_with_prefix("log/").collect::<Vec<_>>(),
            ["log/1", "log/2"]
        );
    }
}
