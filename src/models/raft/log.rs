//! The replicated log in memory, and its durable copy.
//!
//! Index 1 is the first entry; index 0 is the empty prefix, of term 0. The
//! durable copy keeps [`SEGMENT`] entries per key, `log/<segment, 12
//! digits>` (entries 1-16 in `log/000000000000`, 17-32 in the next), each
//! entry in a compact binary form, back to back: about 15 bytes an entry
//! instead of a key, a value and a map node each. Appending extends the
//! last segment ([`Storage::extend`]: its bytes, at most 15 entries, are
//! copied once per sync, not once per entry); truncating rewrites one and
//! deletes the ones after it. Every write leaves a segment holding exactly
//! the entries the log has there, so what a sync makes durable is a prefix
//! of the log, as with one key per entry. Callers sync the storage once per
//! handler, never per entry.
//!
//! Invariant: terms never decrease along the log (a leader appends entries
//! of its current term, which is at least every term it holds), so finding
//! the first or last entry of a term is a binary search.

use super::msg::{ClientCommand, Command, Entry, Op};
use crate::node::NodeId;
use crate::storage::Storage;
use std::rc::Rc;

const LOG_PREFIX: &str = "log/";

/// Entries per storage key.
pub(super) const SEGMENT: u64 = 16;

/// The segment holding the entry at `index` (1-based).
fn segment_of(index: u64) -> u64 {
    debug_assert!(index >= 1, "index 0 is the empty prefix, never stored");
    (index - 1) / SEGMENT
}

/// The storage key of segment `segment`: `log/` and 12 digits (what
/// `format!("log/{segment:012}")` prints, without the formatting machinery).
fn segment_key(segment: u64) -> String {
    let mut key = String::with_capacity(LOG_PREFIX.len() + 12);
    write_segment_key(&mut key, segment);
    key
}

/// Replaces `key` with the storage key of segment `segment`.
fn write_segment_key(key: &mut String, segment: u64) {
    debug_assert!(
        segment < 1_000_000_000_000,
        "log segment {segment} has more than 12 digits"
    );
    key.clear();
    key.push_str(LOG_PREFIX);
    let mut digits = [b'0'; 12];
    let mut rest = segment;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    key.extend(digits.iter().map(|&d| char::from(d)));
}

/// The key of the segment appends go to, kept between appends: it changes
/// once every [`SEGMENT`] entries.
#[derive(Debug, Default)]
struct TailKey {
    /// The segment `text` names (`None`: not built yet).
    segment: Option<u64>,
    text: String,
}

impl TailKey {
    fn of(&mut self, segment: u64) -> &str {
        if self.segment != Some(segment) {
            write_segment_key(&mut self.text, segment);
            self.segment = Some(segment);
        }
        debug_assert_eq!(self.text, segment_key(segment));
        &self.text
    }
}

/// The log: entries in memory, written through to storage.
#[derive(Debug, Default)]
pub(super) struct RaftLog {
    entries: Vec<Entry>,
    /// Scratch space for encoding one entry (kept to spare an allocation).
    encoded: Vec<u8>,
    tail_key: TailKey,
    /// The last slice handed out, from its 0-based start: the next request
    /// for the same entries shares it. Dropped when a truncation changes
    /// the log; an append leaves every slice it has valid.
    shared: Option<(usize, Rc<[Entry]>)>,
}

impl RaftLog {
    /// Reads the log a node synced before (segments 0, 1, ... while present;
    /// every segment but the last is full).
    pub(super) fn load(storage: &Storage) -> RaftLog {
        let mut entries: Vec<Entry> = Vec::new();
        for key in storage.keys_with_prefix(LOG_PREFIX) {
            let segment = entries.len() as u64 / SEGMENT;
            assert!(
                (entries.len() as u64).is_multiple_of(SEGMENT) && key == segment_key(segment),
                "the stored log has a gap before {key} (after {} entries)",
                entries.len()
            );
            let mut reader = Reader(storage.get(key).expect("listed key"));
            while !reader.0.is_empty() {
                let entry =
                    decode(&mut reader).unwrap_or_else(|| panic!("log segment {key} is corrupt"));
                entries.push(entry);
            }
            let held = entries.len() as u64 - segment * SEGMENT;
            assert!(
                (1..=SEGMENT).contains(&held),
                "log segment {key} holds {held} entries"
            );
        }
        RaftLog {
            entries,
            ..RaftLog::default()
        }
    }

    /// The last five entries, for the server's state view.
    pub(super) fn view(&self) -> crate::models::view::Shown {
        crate::models::view::last(&self.entries, 5)
    }

    /// Index of the last entry (0 if empty).
    #[inline]
    pub(super) fn last_index(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Term of the last entry (0 if empty).
    #[inline]
    pub(super) fn last_term(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// Term of the entry at `index` (0 at index 0); `None` past the end.
    #[inline]
    pub(super) fn term_at(&self, index: u64) -> Option<u64> {
        match index {
            0 => Some(0),
            i => self.entries.get(i as usize - 1).map(|e| e.term),
        }
    }

    /// The entry at `index` (1-based, must exist).
    #[inline]
    pub(super) fn entry(&self, index: u64) -> &Entry {
        &self.entries[index as usize - 1]
    }

    /// Up to `max` entries starting at `from`, shared (the same entries
    /// asked again, e.g. for the next follower, cost no copy).
    pub(super) fn slice(&mut self, from: u64, max: usize) -> Rc<[Entry]> {
        let start = (from as usize - 1).min(self.entries.len());
        let end = (start + max).min(self.entries.len());
        if let Some((at, shared)) = &self.shared {
            if *at == start && shared.len() == end - start {
                debug_assert!(
                    **shared == self.entries[start..end],
                    "a shared slice outlived a change of the log"
                );
                return Rc::clone(shared);
            }
        }
        let slice: Rc<[Entry]> = self.entries[start..end].into();
        self.shared = Some((start, Rc::clone(&slice)));
        slice
    }

    /// The first index holding `term` (or after which it would go).
    pub(super) fn first_index_of_term(&self, term: u64) -> u64 {
        self.entries.partition_point(|e| e.term < term) as u64 + 1
    }

    /// The last index holding `term`, if the log has an entry of that term.
    pub(super) fn last_index_of_term(&self, term: u64) -> Option<u64> {
        let after = self.entries.partition_point(|e| e.term <= term);
        (after > 0 && self.entries[after - 1].term == term).then_some(after as u64)
    }

    /// §5.4.1: is a log ending at (`last_index`, `last_term`) at least as up
    /// to date as this one? Later last term wins; equal terms, longer wins.
    pub(super) fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// Appends one entry and writes its segment (not yet synced).
    pub(super) fn append(&mut self, storage: &mut Storage, entry: Entry) {
        debug_assert!(
            entry.term >= self.last_term(),
            "log terms must not decrease: {} after {}",
            entry.term,
            self.last_term()
        );
        self.append_unchecked(storage, entry);
    }

    /// [`RaftLog::append`] without the check that terms do not decrease:
    /// for a server running with famous bugs, whose logs may break it (the
    /// checks, not an assertion, must report what follows).
    pub(super) fn append_unchecked(&mut self, storage: &mut Storage, entry: Entry) {
        let index = self.last_index() + 1;
        let key = self.tail_key.of(segment_of(index));
        if (index - 1).is_multiple_of(SEGMENT) {
            debug_assert!(
                storage.get(key).is_none(),
                "segment {key} outlived a truncation"
            );
            let mut bytes = Vec::with_capacity(32);
            encode(&entry, &mut bytes);
            storage.put(key, bytes);
        } else {
            // The segment holds exactly the entries before this one (see
            // the module comment): appending its bytes rewrites it.
            self.encoded.clear();
            encode(&entry, &mut self.encoded);
            storage.extend(key, &self.encoded);
        }
        self.entries.push(entry);
    }

    /// Deletes the entries from `index` on (not yet synced): rewrites the
    /// segment that keeps some of its entries, deletes the ones after it.
    pub(super) fn truncate_from(&mut self, storage: &mut Storage, index: u64) {
        debug_assert!(index >= 1, "cannot truncate the empty prefix");
        let last = self.last_index();
        if index > last {
            return;
        }
        self.entries.truncate(index as usize - 1);
        self.shared = None;
        let first = segment_of(index);
        let kept = (first * SEGMENT) as usize..self.entries.len();
        if kept.is_empty() {
            storage.delete(&segment_key(first));
        } else {
            let mut bytes = Vec::with_capacity(kept.len() * 32);
            for entry in &self.entries[kept] {
                encode(entry, &mut bytes);
            }
            storage.put(segment_key(first), bytes);
        }
        for segment in first + 1..=segment_of(last) {
            storage.delete(&segment_key(segment));
        }
    }
}

const TAG_NOOP: u8 = 0;
const TAG_GET: u8 = 1;
const TAG_PUT: u8 = 2;
const TAG_APPEND: u8 = 3;
const TAG_CAS: u8 = 4;

/// Encodes an entry: term, then a tag, then the command's fields (integers
/// as LEB128 varints, strings as varint length + bytes): a put of a short
/// value takes about 15 bytes.
fn encode(entry: &Entry, out: &mut Vec<u8>) {
    put_varint(out, entry.term);
    let Command::Client(command) = entry.command.as_ref() else {
        out.push(TAG_NOOP);
        return;
    };
    let tag = match &command.op {
        Op::Get { .. } => TAG_GET,
        Op::Put { .. } => TAG_PUT,
        Op::Append { .. } => TAG_APPEND,
        Op::Cas { .. } => TAG_CAS,
    };
    out.push(tag);
    put_varint(out, u64::from(command.client.0));
    put_varint(out, command.seq);
    put_varint(out, u64::from(command.op.key()));
    match &command.op {
        Op::Get { .. } => {}
        Op::Put { value, .. } | Op::Append { value, .. } => put_str(out, value),
        Op::Cas { expected, new, .. } => {
            put_str(out, expected);
            put_str(out, new);
        }
    }
}

/// Seven bits a byte, low first; the high bit says "more".
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over encoded bytes.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    /// A varint of at most 64 bits (`None` if longer or cut short).
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return None;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint()?).ok()
    }
    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.varint()?).ok()?;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

/// Decodes one entry [`encode`] wrote and moves past it; `None` if the
/// bytes are not an entry.
fn decode(r: &mut Reader<'_>) -> Option<Entry> {
    let term = r.varint()?;
    let tag = r.u8()?;
    if tag == TAG_NOOP {
        let command = Rc::new(Command::Noop);
        return Some(Entry { term, command });
    }
    let client = NodeId(r.u32()?);
    let seq = r.varint()?;
    let key = r.u32()?;
    let op = match tag {
        TAG_GET => Op::Get { key },
        TAG_PUT => Op::Put {
            key,
            value: r.string()?,
        },
        TAG_APPEND => Op::Append {
            key,
            value: r.string()?,
        },
        TAG_CAS => Op::Cas {
            key,
            expected: r.string()?,
            new: r.string()?,
        },
        _ => return None,
    };
    let command = Rc::new(Command::Client(ClientCommand { client, seq, op }));
    Some(Entry { term, command })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_entry(term: u64, op: Op) -> Entry {
        let command = ClientCommand {
            client: NodeId(7),
            seq: 3,
            op,
        };
        Entry {
            term,
            command: Rc::new(Command::Client(command)),
        }
    }

    #[test]
    fn entries_survive_encoding() {
        let entries = [
            Entry {
                term: 1,
                command: Rc::new(Command::Noop),
            },
            client_entry(2, Op::Get { key: 4 }),
            client_entry(
                2,
                Op::Put {
                    key: 0,
                    value: "a".into(),
                },
            ),
            client_entry(
                3,
                Op::Append {
                    key: 1,
                    value: "bc".into(),
                },
            ),
            client_entry(
                3,
                Op::Cas {
                    key: 2,
                    expected: "".into(),
                    new: "é".into(),
                },
            ),
        ];
        for entry in entries {
            let mut bytes = Vec::new();
            encode(&entry, &mut bytes);
            let mut reader = Reader(&bytes);
            assert_eq!(decode(&mut reader), Some(entry));
            assert!(reader.0.is_empty(), "decode reads the whole entry");
            assert_eq!(decode(&mut Reader(&bytes[..bytes.len() - 1])), None);
        }
    }

    #[test]
    fn varints_round_trip_and_reject_overlong_input() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut bytes = Vec::new();
            put_varint(&mut bytes, value);
            let mut reader = Reader(&bytes);
            assert_eq!(reader.varint(), Some(value));
            assert!(reader.0.is_empty());
        }
        assert_eq!(Reader(&[0xff; 11]).varint(), None);
        assert_eq!(
            Reader(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).varint(),
            None
        );
        assert_eq!(Reader(&[0x80]).varint(), None);
    }

    #[test]
    fn segment_keys_are_padded_and_sorted() {
        assert_eq!(segment_key(7), format!("log/{:012}", 7));
        assert_eq!(segment_key(123_456_789_012), "log/123456789012");
        assert!(segment_key(9) < segment_key(10));
        let mut tail = TailKey::default();
        assert_eq!(tail.of(3), segment_key(3));
        assert_eq!(tail.of(3), segment_key(3));
        assert_eq!(tail.of(12), segment_key(12));
        assert_eq!((segment_of(1), segment_of(16), segment_of(17)), (0, 0, 1));
    }

    #[test]
    fn term_searches_use_monotonic_terms() {
        let mut storage = Storage::new();
        let mut log = RaftLog::default();
        for term in [1, 1, 2, 2, 2, 4] {
            let command = Rc::new(Command::Noop);
            log.append(&mut storage, Entry { term, command });
        }
        assert_eq!(log.first_index_of_term(2), 3);
        assert_eq!(log.last_index_of_term(2), Some(5));
        assert_eq!(log.last_index_of_term(3), None);
        assert_eq!(log.first_index_of_term(3), 6);
        log.truncate_from(&mut storage, 4);
        storage.sync();
        let reloaded = RaftLog::load(&storage);
        assert_eq!(reloaded.last_index(), 3);
        assert_eq!(reloaded.last_term(), 2);
    }

    fn terms(log: &RaftLog) -> Vec<u64> {
        (1..=log.last_index()).map(|i| log.entry(i).term).collect()
    }

    /// Appends and truncations across segment boundaries, with syncs and
    /// crashes in between: a reload gives back exactly the synced log.
    #[test]
    fn segments_hold_exactly_the_synced_log() {
        let mut storage = Storage::new();
        let mut log = RaftLog::default();
        let mut synced: Vec<u64> = Vec::new();
        let noop = |term| Entry {
            term,
            command: Rc::new(Command::Noop),
        };
        let steps: &[(&str, u64)] = &[
            ("append", 40),
            ("sync", 0),
            ("truncate", 33),
            ("crash", 0),
            ("truncate", 17),
            ("append", 20),
            ("sync", 0),
            ("truncate", 16),
            ("append", 3),
            ("sync", 0),
            ("truncate", 1),
            ("append", 1),
            ("sync", 0),
            ("append", 50),
            ("crash", 0),
        ];
        for (step, &(what, n)) in steps.iter().enumerate() {
            match what {
                "append" => (0..n).for_each(|_| {
                    let term = log.last_term() + (step as u64 % 2);
                    log.append(&mut storage, noop(term.max(1)));
                }),
                "truncate" => log.truncate_from(&mut storage, n),
                "sync" => {
                    storage.sync();
                    synced = terms(&log);
                }
                _ => {
                    storage.lose_unsynced();
                    log = RaftLog::load(&storage);
                    assert_eq!(terms(&log), synced, "after step {step}");
                }
            }
            assert_eq!(
                terms(&RaftLog::load(&storage)),
                terms(&log),
                "storage and memory differ after step {step}"
            );
        }
        let segments = storage.keys_with_prefix(LOG_PREFIX).count() as u64;
        assert_eq!(segments, log.last_index().div_ceil(SEGMENT));
    }
}
