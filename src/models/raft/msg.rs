//! The messages of the Raft model and the commands its log carries.
//!
//! Log entries hold their command behind an `Rc`, so sending entries in an
//! `AppendEntries` copies pointers, not strings. Every type derives `Hash`
//! (the engine digests each message for the trace hash).

use crate::node::NodeId;
use std::rc::Rc;

/// A key-value operation. Keys are numbered from 0 (`k1` is key 0).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Op {
    /// Read a key (`""` if it was never written).
    Get {
        /// The key's number.
        key: u32,
    },
    /// Set a key to `value`.
    Put {
        /// The key's number.
        key: u32,
        /// The new string.
        value: String,
    },
    /// Append `value` to a key's string.
    Append {
        /// The key's number.
        key: u32,
        /// The suffix.
        value: String,
    },
    /// Set a key to `new` iff it holds `expected`.
    Cas {
        /// The key's number.
        key: u32,
        /// The string the key must hold.
        expected: String,
        /// The string it then gets.
        new: String,
    },
}

impl Op {
    /// The key this operation touches.
    pub fn key(&self) -> u32 {
        match self {
            Op::Get { key }
            | Op::Put { key, .. }
            | Op::Append { key, .. }
            | Op::Cas { key, .. } => *key,
        }
    }
}

/// A client's command: the operation and who asked, so a retried command
/// is applied at most once (`seq` grows with every new operation of `client`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct ClientCommand {
    /// The client node.
    pub client: NodeId,
    /// The client's sequence number for this operation.
    pub seq: u64,
    /// What to do.
    pub op: Op,
}

impl Op {
    /// The operation as a reader writes it: `get k1`, `put k2="a"`,
    /// `append k1+="b"`, `cas k3 "a"->"b"` (keys numbered from k1).
    pub fn describe(&self) -> String {
        // Built by hand: every server describes every command it commits,
        // and `format!` with `{:?}` costs several times more. The capacity
        // is exact for strings that need no escaping, so the text becomes
        // a boxed `str` (a record field) without a reallocation.
        // The verb, the key, the separators' length and the quoted strings.
        let (verb, key, separators, quoted): (&str, u32, usize, [&str; 2]) = match self {
            Op::Get { key } => ("get k", *key, 0, ["", ""]),
            Op::Put { key, value } => ("put k", *key, "=".len(), [value, ""]),
            Op::Append { key, value } => ("append k", *key, "+=".len(), [value, ""]),
            Op::Cas { key, expected, new } => ("cas k", *key, " ->".len(), [expected, new]),
        };
        let strings = match self {
            Op::Get { .. } => 0,
            Op::Put { .. } | Op::Append { .. } => 1,
            Op::Cas { .. } => 2,
        };
        let number = u64::from(key) + 1;
        let len = verb.len()
            + decimal_len(number)
            + separators
            + quoted[..strings].iter().map(|s| s.len() + 2).sum::<usize>();
        let mut text = String::with_capacity(len);
        text.push_str(verb);
        push_number(&mut text, number);
        match self {
            Op::Get { .. } => {}
            Op::Put { value, .. } => {
                text.push('=');
                push_quoted(&mut text, value);
            }
            Op::Append { value, .. } => {
                text.push_str("+=");
                push_quoted(&mut text, value);
            }
            Op::Cas { expected, new, .. } => {
                text.push(' ');
                push_quoted(&mut text, expected);
                text.push_str("->");
                push_quoted(&mut text, new);
            }
        }
        debug_assert!(
            text.len() >= len,
            "describe's length estimate {len} exceeds {text:?}"
        );
        text
    }
}

/// How many decimal digits `n` has.
fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// Appends `n` in decimal.
pub(super) fn push_number(text: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    text.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// Appends `s` as `{:?}` writes it: quoted, escaped where needed.
fn push_quoted(text: &mut String, s: &str) {
    // ASCII only (any other byte is part of a multi-byte char, which the
    // slow path handles as `{:?}` does).
    let plain = |b: u8| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ';
    if s.bytes().all(plain) {
        text.push('"');
        text.push_str(s);
        text.push('"');
    } else {
        use std::fmt::Write;
        write!(text, "{s:?}").expect("writing to a String cannot fail");
    }
}

/// What a log entry asks the state machine to do.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Command {
    /// Nothing: the entry a new leader appends at the start of its term.
    Noop,
    /// A client's command.
    Client(ClientCommand),
}

/// One log entry: the term in which a leader created it, and its command.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Entry {
    /// The leader's term when the entry was created.
    pub term: u64,
    /// The command (shared between the log and messages).
    pub command: Rc<Command>,
}

/// RequestVote arguments (Figure 2), also used for PreVote.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct VoteRequest {
    /// The candidate's term (for a pre-vote: the term it would campaign in).
    pub term: u64,
    /// Index of the candidate's last log entry.
    pub last_log_index: u64,
    /// Term of the candidate's last log entry.
    pub last_log_term: u64,
    /// True for a PreVote: "could I win?", changing no one's term or vote.
    pub pre_vote: bool,
}

/// RequestVote results.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct VoteReply {
    /// The voter's current term (a granted pre-vote echoes the asked term).
    pub term: u64,
    /// True if the vote (or pre-vote) is granted.
    pub granted: bool,
    /// True if this answers a PreVote.
    pub pre_vote: bool,
}

/// AppendEntries arguments (Figure 2), plus the read-index round.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct AppendRequest {
    /// The leader's term.
    pub term: u64,
    /// Index of the entry just before `entries`.
    pub prev_log_index: u64,
    /// Term of that entry.
    pub prev_log_term: u64,
    /// Entries to store (empty for a heartbeat), shared: the leader sends
    /// the same slice of its log to every follower at the same point, and
    /// a delivered copy costs a pointer. Hashes as a `Vec` would (length,
    /// then the entries), so message digests do not depend on it.
    pub entries: Rc<[Entry]>,
    /// The leader's commit index.
    pub leader_commit: u64,
    /// The leader's read-index round when it sent this (echoed in the reply).
    pub round: u64,
}

/// AppendEntries results, with the fast-backtracking hint.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct AppendReply {
    /// The follower's current term.
    pub term: u64,
    /// True if the follower's log matched `prev_log_index`/`prev_log_term`.
    pub success: bool,
    /// On success: the follower's log matches the leader's up to here.
    pub match_index: u64,
    /// On failure: the term of the follower's conflicting entry at
    /// `prev_log_index`, or `None` if its log is shorter than that.
    pub conflict_term: Option<u64>,
    /// On failure: the first index of `conflict_term` in the follower's log,
    /// or its last index + 1 when `conflict_term` is `None`.
    pub conflict_index: u64,
    /// The `round` of the request this answers.
    pub round: u64,
}

/// How a server answers a client.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// A get's result.
    Value(String),
    /// A put, an append or a successful cas took effect.
    Applied,
    /// The cas was applied and found another value: it had no effect.
    CasFailed,
    /// This server is not the leader; try `leader_hint` if known.
    NotLeader {
        /// The leader of the server's current term, if it knows one.
        leader_hint: Option<NodeId>,
    },
}

/// Every message of the Raft model, between servers and from/to clients.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum RaftMsg {
    /// Candidate (or pre-candidate) to servers.
    RequestVote(VoteRequest),
    /// Server to candidate.
    RequestVoteReply(VoteReply),
    /// Leader to followers: entries, or a heartbeat.
    AppendEntries(AppendRequest),
    /// Follower to leader.
    AppendEntriesReply(AppendReply),
    /// Client to any server.
    ClientRequest(ClientCommand),
    /// Server to client: the outcome of the command with `seq`.
    ClientReply {
        /// The command's sequence number.
        seq: u64,
        /// What happened.
        outcome: Outcome,
    },
}
