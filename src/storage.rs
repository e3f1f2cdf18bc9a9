//! Durable per-node storage, with writes that are durable only after `sync`.
//!
//! Each node owns one [`Storage`]: a map from string keys to byte values. A
//! write (`put`, `delete`) is visible to the node at once but sits in a
//! pending layer until [`Storage::sync`], the model of `fsync`. A crash drops
//! the pending layer ([`Storage::lose_unsynced`]); the synced layer survives
//! and is what a restarted node reads. There is no torn-write or corruption
//! model yet: a sync is atomic.
//!
//! Keys are kept in a `BTreeMap`, so iteration (`keys_with_prefix`) is in key
//! order and deterministic.

use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeMap;

/// One node's disk.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    durable: BTreeMap<String, Vec<u8>>,
    /// Unsynced writes: `Some(bytes)` is a put, `None` a delete.
    pending: BTreeMap<String, Option<Vec<u8>>>,
    syncs: u64,
}

impl Storage {
    /// An empty disk.
    pub fn new() -> Storage {
        Storage::default()
    }

    /// Writes `value` under `key` (not yet durable).
    pub fn put(&mut self, key: impl Into<String>, value: Vec<u8>) {
        self.pending.insert(key.into(), Some(value));
    }

    /// Deletes `key` (not yet durable).
    pub fn delete(&mut self, key: &str) {
        self.pending.insert(key.to_string(), None);
    }

    /// The current value of `key`, synced or not.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        match self.pending.get(key) {
            Some(Some(bytes)) => Some(bytes),
            Some(None) => None,
            None => self.durable.get(key).map(Vec::as_slice),
        }
    }

    /// Writes `value` as JSON under `key` (not yet durable).
    pub fn put_json<T: Serialize>(&mut self, key: impl Into<String>, value: &T) {
        let bytes = serde_json::to_vec(value).expect("a model value failed to serialise");
        self.put(key, bytes);
    }

    /// Reads the JSON value under `key`; `None` if absent or not a `T`.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.get(key)
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
    }

    /// Makes every pending write durable.
    pub fn sync(&mut self) {
        for (key, value) in std::mem::take(&mut self.pending) {
            match value {
                Some(bytes) => {
                    self.durable.insert(key, bytes);
                }
                None => {
                    self.durable.remove(&key);
                }
            }
        }
        self.syncs += 1;
    }

    /// True if some write is not yet durable.
    pub fn has_unsynced(&self) -> bool {
        !self.pending.is_empty()
    }

    /// How many times `sync` was called.
    pub fn sync_count(&self) -> u64 {
        self.syncs
    }

    /// The crash: forgets every write since the last sync. Returns how many keys were lost.
    pub fn lose_unsynced(&mut self) -> usize {
        let lost = self.pending.len();
        self.pending.clear();
        lost
    }

    /// Current keys starting with `prefix`, in order.
    pub fn keys_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let mut keys: Vec<&str> = self
            .durable
            .keys()
            .filter(|k| {
                k.starts_with(prefix) && !matches!(self.pending.get(k.as_str()), Some(None))
            })
            .map(String::as_str)
            .collect();
        for (k, v) in &self.pending {
            if k.starts_with(prefix) && v.is_some() && !self.durable.contains_key(k) {
                keys.push(k);
            }
        }
        keys.sort_unstable();
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
