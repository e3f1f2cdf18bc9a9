//! Words for a violation: which key, how far the search got, and what could
//! not come next.
//!
//! What it does: prints the longest linearizable prefix the search found
//! (each operation with its function, process, times and what it did or
//! saw), the model state after it, and for each operation that real time
//! allows next, why it cannot be placed there. What it does not do: search
//! again or claim the prefix is the only one. Invariant: it reads a finished
//! search and changes nothing but the spec's interned tables.

use super::search::Search;
use super::spec::{Operation, SequentialSpec};
use std::fmt::Write;

/// Prefixes longer than this are shown as their head, a count, and their tail.
const SHOW_HEAD: usize = 10;
const SHOW_TAIL: usize = 30;

/// The key in words: `key "5"` or `the history (no key)`.
pub fn key_words(key: &Option<String>) -> String {
    match key {
        Some(k) => format!("key {k:?}"),
        None => "the history (no key)".to_string(),
    }
}

/// `text` with its first letter in upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
}

/// The interval of an operation: `[t=12..15]`, or `[t=12..no response]`.
pub fn interval(op: &Operation) -> String {
    match op.ret {
        Some(ret) => format!("[t={}..{}]", op.call, ret),
        None => format!("[t={}..no response]", op.call),
    }
}

/// One operation in words: `read by process 3 [t=12..15] returned 4`.
fn op_words<S: SequentialSpec>(search: &Search<S>, op: u32) -> String {
    let m = &search.meta[op as usize];
    let what = search.spec.describe_op(&search.ops[op as usize]);
    format!("{} by process {} {} {what}", m.f, m.process, interval(m))
}

/// The whole explanation of a failed search.
pub fn explain<S: SequentialSpec>(search: &mut Search<S>) -> String {
    let mut out = String::new();
    let (prefix, state) = search.best.clone();
    let _ = writeln!(
        out,
        "{} is not linearizable: no order of its {} operations that took or may have taken effect fits the model \
         (failed operations, reads with unknown results, and writes of unknown outcome whose value nothing observed are left out).",
        capitalised(&key_words(&search.key)),
        search.len()
    );
    write_prefix(&mut out, search, &prefix);
    let holds = search.spec.describe_state(state);
    let _ = writeln!(
        out,
        "After this prefix {holds}. No operation that real time allows next can be placed:"
    );
    for op in search.candidates_after_best() {
        let _ = writeln!(out, "  - {}", why_not(search, op, state, &holds));
    }
    if let Some(op) = search.first_return_after_best() {
        let m = &search.meta[op as usize];
        let ret = m
            .ret
            .map_or("its response".to_string(), |t| format!("t={t}"));
        let _ = write!(
            out,
            "({} by process {} {} had to take effect by {ret}, so nothing invoked after it can come first.)",
            m.f,
            m.process,
            interval(m)
        );
    }
    out
}

/// The prefix, one numbered line per operation (long prefixes elided).
fn write_prefix<S: SequentialSpec>(out: &mut String, search: &Search<S>, prefix: &[u32]) {
    if prefix.is_empty() {
        let _ = writeln!(out, "No operation can be linearized first.");
        return;
    }
    let _ = writeln!(
        out,
        "Longest linearizable prefix found ({} of {} operations), in order:",
        prefix.len(),
        search.len()
    );
    let elide = prefix.len() > SHOW_HEAD + SHOW_TAIL + 1;
    for (i, &op) in prefix.iter().enumerate() {
        if elide && i == SHOW_HEAD {
            let hidden = prefix.len() - SHOW_HEAD - SHOW_TAIL;
            let _ = writeln!(out, "   ... ({hidden} more operations) ...");
        }
        if elide && i >= SHOW_HEAD && i < prefix.len() - SHOW_TAIL {
            continue;
        }
        let _ = writeln!(out, "  {:>3}. {}", i + 1, op_words(search, op));
    }
}

/// Why `op` cannot come right after the prefix (in `state`).
fn why_not<S: SequentialSpec>(
    search: &mut Search<S>,
    op: u32,
    state: S::State,
    holds: &str,
) -> String {
    let words = op_words(search, op);
    match search.spec.apply(state, &search.ops[op as usize]) {
        None => format!("{words}, but {holds} after the prefix"),
        Some(_) => {
            format!("{words}: fits here, but no order of the remaining operations works after it")
        }
    }
}
