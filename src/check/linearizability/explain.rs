//! Words for a violation: the contradiction first, then the operations
//! involved.
//!
//! What it does: from a finished search, builds a [`Witness`]: the
//! operation that cannot be placed after the longest linearizable prefix
//! the search found (what it returned, the state it needs), the state after
//! the prefix and the prefix's last write, the other operations real time
//! allows next, and a bounded window of the operations involved (at most
//! [`MAX_INVOLVED`]). [`render`] puts it in words, with times and client
//! names in a [`Style`] the caller chooses (raw history times for a history
//! file, seconds and client names for a run).
//!
//! What it does not do: search again or claim the prefix is the only one.
//! Invariant: it reads a finished search and changes nothing but the
//! spec's interned tables; the witness depends only on the search.

use super::search::Search;
use super::spec::{Operation, SequentialSpec};
use std::fmt::Write;

/// At most this many operations are listed as involved.
pub const MAX_INVOLVED: usize = 16;

/// At most this many other operations that cannot come next are listed.
const MAX_OTHERS: usize = 4;

/// How many of the prefix's last operations the window always shows.
const PREFIX_TAIL: usize = 4;

/// One operation of a witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessOp {
    /// The operation as in the history (process, times, server).
    pub op: Operation,
    /// What it did or saw, in the model's words (`returned 4`).
    pub what: String,
    /// Its place in the longest linearizable prefix (1-based), if it is in it.
    pub position: Option<usize>,
}

/// Why a history part is not linearizable, as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The part: `key "k1"`, or `the register` for a history without keys.
    pub subject: String,
    /// Operations of the part that the search considered.
    pub operations: usize,
    /// Length of the longest linearizable prefix found.
    pub prefix_len: usize,
    /// The operation that cannot be placed: of those real time allows next,
    /// the one that does not fit the state and returned first (it had to
    /// take effect by its completion).
    pub stuck: WitnessOp,
    /// The state `stuck` needs, in words (`the key holds "a"`), if it
    /// observes one.
    pub needs: Option<String>,
    /// The state after the prefix, in words.
    pub holds: String,
    /// The prefix's last operation that changed or set the state.
    pub last_write: Option<WitnessOp>,
    /// The prefix's last write that completed before `stuck` was invoked,
    /// if it is not `last_write`.
    pub settled: Option<WitnessOp>,
    /// The prefix's last operation after which the state was what `stuck`
    /// needs (where the value it saw came from), if any.
    pub source: Option<WitnessOp>,
    /// The operations real time allows next, each with why it cannot come
    /// next (`stuck` among them), at most [`MAX_OTHERS`] + 1.
    pub next: Vec<(WitnessOp, String)>,
    /// How many more such operations were left out of `next`.
    pub next_omitted: usize,
    /// The unplaced operation that returns first: nothing invoked after its
    /// completion can come first.
    pub first_return: Option<WitnessOp>,
    /// The operations involved, by invocation time (at most [`MAX_INVOLVED`]).
    pub involved: Vec<WitnessOp>,
}

impl Witness {
    /// When the violation shows: the completion of the operation that
    /// cannot be placed (`None` if it never completed).
    pub fn time(&self) -> Option<u64> {
        self.stuck.op.ret
    }
}

/// How a report shows times and processes.
pub struct Style<'a> {
    /// A history time in words (`t=12`, or `2.345s`).
    pub time: &'a dyn Fn(u64) -> String,
    /// The end of an interval in words (`15` after `t=12..`, or `2.401s`).
    pub end: &'a dyn Fn(u64) -> String,
    /// A process in words (`process 3`, or `c1 (process 3)`).
    pub who: &'a dyn Fn(u64) -> String,
}

impl Style<'_> {
    /// Times as the history has them (`t=12`) and processes by number.
    pub fn raw() -> Style<'static> {
        Style {
            time: &|t| format!("t={t}"),
            end: &|t| t.to_string(),
            who: &|p| format!("process {p}"),
        }
    }
}

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

/// The interval of an operation: `[t=12..15]`, or `[2.100s..no response]`.
fn interval(op: &Operation, style: &Style) -> String {
    let call = (style.time)(op.call);
    match op.ret {
        Some(ret) => format!("[{call}..{}]", (style.end)(ret)),
        None => format!("[{call}..no response]"),
    }
}

/// One operation in words: `read by process 3 [t=12..15] returned 4`,
/// and `, answered by n2` when the history names the server.
fn op_words(w: &WitnessOp, style: &Style) -> String {
    let m = &w.op;
    let server = m
        .server
        .as_ref()
        .map_or(String::new(), |s| format!(", answered by {s}"));
    format!(
        "{} by {} {} {}{server}",
        m.f,
        (style.who)(m.process),
        interval(m, style),
        w.what
    )
}

/// Builds the witness of a failed search.
pub fn witness<S: SequentialSpec>(search: &mut Search<S>) -> Witness {
    let (prefix, state) = search.best.clone();
    let states = replay(search, &prefix);
    let at = |search: &Search<S>, op: u32| WitnessOp {
        op: search.meta[op as usize].clone(),
        what: search.spec.describe_op(&search.ops[op as usize]),
        position: prefix.iter().position(|&p| p == op).map(|i| i + 1),
    };
    let holds = search.spec.describe_state(state);
    let candidates = search.candidates_after_best();
    let mut next = Vec::new();
    for &op in &candidates {
        let fits = search.spec.apply(state, &search.ops[op as usize]).is_some();
        let why = match fits {
            false => format!("but {holds} after the prefix"),
            true => "it fits here, but no order of the remaining operations works after it".into(),
        };
        next.push((op, fits, why));
    }
    let first_return = search.first_return_after_best();
    let stuck_op = stuck(search, &next, first_return);
    let needs_state = search.spec.must_hold(&search.ops[stuck_op as usize]);
    let needs = needs_state.map(|s| search.spec.describe_state(s));
    let last_write = prefix
        .iter()
        .rev()
        .find(|&&op| !search.spec.read_only(&search.ops[op as usize]))
        .map(|&op| at(search, op));
    let source = needs_state.and_then(|need| {
        let mut i = states.iter().rposition(|&s| s == need)?;
        while i > 0 && states[i - 1] == need {
            i -= 1;
        }
        let op = prefix[i];
        (!search.spec.read_only(&search.ops[op as usize])).then(|| at(search, op))
    });
    let call = search.meta[stuck_op as usize].call;
    let settled = prefix
        .iter()
        .rev()
        .find(|&&op| {
            let done = search.meta[op as usize].ret.is_some_and(|r| r < call);
            done && !search.spec.read_only(&search.ops[op as usize])
        })
        .map(|&op| at(search, op))
        .filter(|w| last_write.as_ref().is_none_or(|l| l.op.event != w.op.event));
    let subject = match &search.key {
        Some(k) => format!("key {k:?}"),
        None => search.spec.unkeyed_words().to_string(),
    };
    let mut shown: Vec<(WitnessOp, String)> = Vec::new();
    // The stuck operation first, then the others in real-time order.
    let order =
        std::iter::once(stuck_op).chain(candidates.iter().copied().filter(|&o| o != stuck_op));
    for op in order.take(MAX_OTHERS + 1) {
        let why = next
            .iter()
            .find(|(o, _, _)| *o == op)
            .map_or(String::new(), |n| n.2.clone());
        shown.push((at(search, op), why));
    }
    let key_ops = [&last_write, &settled, &source];
    let involved = involved(search, &prefix, stuck_op, &candidates, key_ops)
        .into_iter()
        .map(|op| at(search, op))
        .collect();
    Witness {
        subject,
        operations: search.len(),
        prefix_len: prefix.len(),
        stuck: at(search, stuck_op),
        needs,
        holds,
        last_write,
        settled,
        source,
        next_omitted: candidates.len().saturating_sub(shown.len()),
        next: shown,
        first_return: first_return.map(|op| at(search, op)),
        involved,
    }
}

/// The state after each operation of `prefix`, from the initial state.
fn replay<S: SequentialSpec>(search: &mut Search<S>, prefix: &[u32]) -> Vec<S::State> {
    let mut state = search.spec.init();
    let mut states = Vec::with_capacity(prefix.len());
    for &op in prefix {
        match search.spec.apply(state, &search.ops[op as usize]) {
            Some(next) => state = next,
            None => debug_assert!(false, "the best prefix does not replay at op {op}"),
        }
        states.push(state);
    }
    states
}

/// The operation that cannot be placed: of the candidates that do not fit
/// the state, the one that returns first; else the first to return.
fn stuck<S: SequentialSpec>(
    search: &Search<S>,
    next: &[(u32, bool, String)],
    first_return: Option<u32>,
) -> u32 {
    let ret = |op: u32| search.meta[op as usize].ret.unwrap_or(u64::MAX);
    next.iter()
        .filter(|(_, fits, _)| !fits)
        .map(|(op, _, _)| *op)
        .min_by_key(|&op| (ret(op), op))
        .or(first_return)
        .or_else(|| next.first().map(|n| n.0))
        .unwrap_or(0)
}

/// The operations involved, by invocation time: the stuck one and the
/// others that real time allows next, the prefix's last write, where the
/// stuck operation's value came from, the prefix's operations concurrent
/// with the stuck one, and the prefix's last few; at most [`MAX_INVOLVED`].
fn involved<S: SequentialSpec>(
    search: &Search<S>,
    prefix: &[u32],
    stuck: u32,
    candidates: &[u32],
    key_ops: [&Option<WitnessOp>; 3],
) -> Vec<u32> {
    let meta = &search.meta;
    let in_prefix = key_ops
        .into_iter()
        .filter_map(|w| w.as_ref().and_then(|w| w.position))
        .map(|p| prefix[p - 1]);
    let call = meta[stuck as usize].call;
    let concurrent = prefix
        .iter()
        .rev()
        .copied()
        .filter(|&op| meta[op as usize].ret.is_none_or(|r| r >= call));
    let mut chosen: Vec<u32> = Vec::new();
    let wanted = std::iter::once(stuck)
        .chain(in_prefix)
        .chain(candidates.iter().copied().take(MAX_OTHERS + 1))
        .chain(prefix.iter().rev().copied().take(PREFIX_TAIL))
        .chain(concurrent);
    for op in wanted {
        if chosen.len() == MAX_INVOLVED {
            break;
        }
        if !chosen.contains(&op) {
            chosen.push(op);
        }
    }
    chosen.sort_by_key(|&op| (meta[op as usize].call, op));
    chosen
}

/// The witness in words: the contradiction, what could come next, and the
/// operations involved.
pub fn render(w: &Witness, style: &Style) -> String {
    let mut out = String::new();
    let stuck = op_words(&w.stuck, style);
    let _ = writeln!(
        out,
        "{} is not linearizable. The operation that cannot be placed: {stuck}.",
        capitalised(&w.subject)
    );
    let after = format!(
        "after the longest linearizable prefix found ({} of {} operations)",
        w.prefix_len, w.operations
    );
    let _ = match &w.needs {
        Some(needs) => write!(
            out,
            "It needs {}, but {after} {}",
            needs.replacen(" holds ", " to hold ", 1),
            w.holds
        ),
        None => write!(out, "{} {after}", capitalised(&w.holds)),
    };
    match &w.last_write {
        Some(write) => {
            let place = write.position.map_or(String::new(), |p| format!("#{p}: "));
            let _ = write!(out, ", last written by {place}{}", op_words(write, style));
            if write.op.ret.is_some_and(|r| r < w.stuck.op.call) {
                let _ = write!(
                    out,
                    ", which completed before the {} was invoked",
                    w.stuck.op.f
                );
            }
            let _ = writeln!(out, ".");
        }
        None => {
            let _ = writeln!(out, "; nothing in the prefix wrote it.");
        }
    }
    if let Some(settled) = &w.settled {
        let place = settled
            .position
            .map_or(String::new(), |p| format!("#{p}: "));
        let _ = writeln!(
            out,
            "Before the {} was invoked, {place}{} had completed.",
            w.stuck.op.f,
            op_words(settled, style)
        );
    }
    if let (Some(source), Some(needs)) = (&w.source, &w.needs) {
        let place = source.position.map_or(String::new(), |p| format!("#{p}: "));
        let _ = writeln!(
            out,
            "In the prefix, {} last by {place}{}.",
            needs.replacen(" holds ", " came to hold ", 1),
            op_words(source, style)
        );
    }
    let _ = writeln!(
        out,
        "No operation that real time allows next can be placed:"
    );
    for (op, why) in &w.next {
        let _ = writeln!(out, "  - {}, {why}", op_words(op, style));
    }
    if w.next_omitted > 0 {
        let _ = writeln!(out, "  ... ({} more)", w.next_omitted);
    }
    if let Some(first) = &w.first_return {
        let by = first
            .op
            .ret
            .map_or("its response".to_string(), |t| (style.time)(t));
        let what = match first.op.event == w.stuck.op.event {
            true => format!("The {}", first.op.f),
            false => op_words(first, style),
        };
        let _ = writeln!(
            out,
            "({what} had to take effect by {by}, so nothing invoked after it can come first.)"
        );
    }
    write_involved(&mut out, w, style);
    let _ = writeln!(
        out,
        "({} operations took or may have taken effect; failed operations, reads with unknown results, \
         and writes of unknown outcome whose value nothing observed are left out.)",
        w.operations
    );
    out.trim_end().to_string()
}

/// The window of operations involved, by invocation time.
fn write_involved(out: &mut String, w: &Witness, style: &Style) {
    if w.prefix_len == 0 {
        let _ = writeln!(out, "No operation can be linearized first.");
    }
    let _ = writeln!(
        out,
        "Operations involved, by invocation ({} of {}; #n is the place in the prefix):",
        w.involved.len(),
        w.operations
    );
    for op in &w.involved {
        let place = op
            .position
            .map_or("not placed".to_string(), |p| format!("#{p}."));
        let mark = match op.op.event == w.stuck.op.event {
            true => "   <- cannot be placed",
            false => "",
        };
        let _ = writeln!(out, "  {place:>10} {}{mark}", op_words(op, style));
    }
}
