//! PBFT's messages, the request digest and the replicas' key-value machine.

use crate::node::NodeId;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// A client operation on key number `key` (`k1` is key 0).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Op {
    /// Read a key.
    Get {
        /// The key.
        key: u32,
    },
    /// Overwrite a key.
    Put {
        /// The key.
        key: u32,
        /// The new value.
        value: String,
    },
    /// Append to a key.
    Append {
        /// The key.
        key: u32,
        /// What to append.
        value: String,
    },
}

impl Op {
    /// The key it is about.
    pub fn key(&self) -> u32 {
        match self {
            Op::Get { key } | Op::Put { key, .. } | Op::Append { key, .. } => *key,
        }
    }
}

/// A client's request: `<REQUEST, o, t, c>` of the paper, with `seq` as the
/// timestamp `t`. Clients are honest, and the paper's client signature is
/// modelled by no adversary ever forging one.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Request {
    /// The client `c`.
    pub client: NodeId,
    /// The timestamp `t`: increasing per client.
    pub seq: u64,
    /// The operation `o`.
    pub op: Op,
}

/// A digest: a 64-bit hash of the request; [`NULL_DIGEST`] for the null
/// request of a view change's gaps.
pub type Digest = u64;

/// The digest of the null request.
pub const NULL_DIGEST: Digest = 0;

/// The digest of `request` (`None`: the null request). SipHash with fixed
/// keys: the same on every run and every machine.
pub fn digest(request: Option<&Request>) -> Digest {
    let Some(request) = request else {
        return NULL_DIGEST;
    };
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new_with_keys(0x5042_4654, 0x1999);
    request.hash(&mut hasher);
    match hasher.finish() {
        NULL_DIGEST => 1,
        d => d,
    }
}

/// The result of an executed operation, as replies carry it.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// A get's value.
    Value(String),
    /// A put or append took effect.
    Applied,
}

/// A prepared certificate as a view-change carries it: sequence `seq`
/// prepared in view `view` with `digest` (and the request, or `None` for a
/// null request). The paper's proof (the pre-prepare and 2f prepares) is
/// taken as given: view-changes are modelled as signed, and no adversary
/// forges one.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Prepared {
    /// The sequence number `n`.
    pub seq: u64,
    /// The view it prepared in.
    pub view: u64,
    /// The request's digest.
    pub digest: Digest,
    /// The request (`None`: null).
    pub request: Option<Request>,
}

/// A re-issued pre-prepare in a new-view's set `O`.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Reissue {
    /// The sequence number.
    pub seq: u64,
    /// The digest.
    pub digest: Digest,
    /// The request (`None`: null).
    pub request: Option<Request>,
}

/// What replicas and clients send each other. The sender is the delivered
/// `from` (authenticated channels): a message never names its sender.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum PbftMsg {
    /// Client to replica: please execute.
    Request(Request),
    /// Primary to backups: request `request` (digest `digest`) gets
    /// sequence `seq` in `view`.
    PrePrepare {
        /// The view `v`.
        view: u64,
        /// The sequence number `n`.
        seq: u64,
        /// The digest `d`.
        digest: Digest,
        /// The request (`None`: the null request).
        request: Option<Request>,
    },
    /// Backup to all: I accepted that pre-prepare.
    Prepare {
        /// The view.
        view: u64,
        /// The sequence number.
        seq: u64,
        /// The digest.
        digest: Digest,
    },
    /// Replica to all: I have prepared it.
    Commit {
        /// The view.
        view: u64,
        /// The sequence number.
        seq: u64,
        /// The digest.
        digest: Digest,
    },
    /// Replica to client: the result of its request `seq`.
    Reply {
        /// The replica's view (the client learns the primary from it).
        view: u64,
        /// The request's timestamp.
        seq: u64,
        /// The result.
        outcome: Outcome,
    },
    /// Replica to all: move to view `new_view`; what I have prepared.
    ViewChange {
        /// The view `v + 1` (or later) it moves to.
        new_view: u64,
        /// Its prepared certificates (the highest view for each sequence).
        prepared: Vec<Prepared>,
    },
    /// New primary to all: view `view` starts, justified by 2f+1
    /// view-changes, with the re-issued pre-prepares `O`.
    NewView {
        /// The new view.
        view: u64,
        /// The view-changes it gathered: (sender, their certificates).
        view_changes: Vec<(NodeId, Vec<Prepared>)>,
        /// The pre-prepares `O` it re-issues, one per sequence number
        /// from 1 to the highest prepared one (null requests in the gaps).
        pre_prepares: Vec<Reissue>,
    },
}

/// The set `O` of the paper computed from view-changes: for each sequence
/// number from 1 to the highest in any certificate, the request of the
/// certificate with the highest view, or the null request if none.
pub fn reissues(view_changes: &[(NodeId, Vec<Prepared>)]) -> Vec<Reissue> {
    let mut best: BTreeMap<u64, &Prepared> = BTreeMap::new();
    for (_, certs) in view_changes {
        for cert in certs {
            match best.get(&cert.seq) {
                Some(b) if b.view >= cert.view => {}
                _ => {
                    best.insert(cert.seq, cert);
                }
            }
        }
    }
    let max = best.keys().next_back().copied().unwrap_or(0);
    (1..=max)
        .map(|seq| match best.get(&seq) {
            Some(cert) => Reissue {
                seq,
                digest: cert.digest,
                request: cert.request.clone(),
            },
            None => Reissue {
                seq,
                digest: NULL_DIGEST,
                request: None,
            },
        })
        .collect()
}

/// The replicated key-value machine with the paper's reply cache: the last
/// reply sent to each client, so a request is executed at most once.
#[derive(Debug, Default)]
pub struct Kv {
    values: BTreeMap<u32, String>,
    last_reply: BTreeMap<NodeId, (u64, Outcome)>,
}

impl Kv {
    /// The cached reply for `request` if it was executed already
    /// (`Some(None)`: an older request, nobody waits for it), else `None`.
    pub fn cached(&self, request: &Request) -> Option<Option<Outcome>> {
        let (seq, outcome) = self.last_reply.get(&request.client)?;
        match request.seq.cmp(seq) {
            std::cmp::Ordering::Greater => None,
            std::cmp::Ordering::Equal => Some(Some(outcome.clone())),
            std::cmp::Ordering::Less => Some(None),
        }
    }

    /// Executes `request` (at most once) and gives the reply to send, if any.
    pub fn execute(&mut self, request: &Request) -> Option<Outcome> {
        if let Some(cached) = self.cached(request) {
            return cached;
        }
        let outcome = match &request.op {
            Op::Get { key } => Outcome::Value(self.get(*key).to_string()),
            Op::Put { key, value } => {
                self.values.insert(*key, value.clone());
                Outcome::Applied
            }
            Op::Append { key, value } => {
                self.values.entry(*key).or_default().push_str(value);
                Outcome::Applied
            }
        };
        self.last_reply
            .insert(request.client, (request.seq, outcome.clone()));
        Some(outcome)
    }

    /// The value of `key` (`""` if never written).
    pub fn get(&self, key: u32) -> &str {
        self.values.get(&key).map_or("", String::as_str)
    }

    /// Keys written and clients known, for the state view.
    pub fn size(&self) -> (usize, usize) {
        (self.values.len(), self.last_reply.len())
    }
}
