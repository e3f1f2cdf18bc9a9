//! Unit tests: the quorum rules on one replica, and whole exchanges among
//! four replicas driven by hand (FIFO delivery), with and without the
//! Byzantine [`PbftTamper`] applied to some replicas' messages.

use super::replica::Replica;
use super::*;
use crate::fault::byzantine::Tamper;
use crate::node::testing::NodeHarness;
use crate::node::NodeId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const CLIENT: NodeId = NodeId(4);
const TIMER: u64 = 1;

fn params() -> PbftParams {
    PbftParams {
        f: 1,
        n: 4,
        view_change_timeout: crate::time::SimDuration::from_millis(200),
        log_limit: 100,
    }
}

fn request(seq: u64, value: &str) -> Request {
    Request {
        client: CLIENT,
        seq,
        op: Op::Put {
            key: 0,
            value: value.into(),
        },
    }
}

fn harness(id: u32) -> NodeHarness<PbftMsg, Replica> {
    let mut h = NodeHarness::new(NodeId(id), Replica::new(params(), NodeId(id)))
        .with_peers((0..4).filter(|i| *i != id).map(NodeId))
        .with_names(["n1", "n2", "n3", "n4", "c1"])
        .with_seed(1);
    h.start();
    h
}

/// Four replicas and a message queue; `byzantine` replicas' messages go
/// through the tamper's `equivocate`; `down` replicas get nothing.
struct Cluster {
    nodes: Vec<NodeHarness<PbftMsg, Replica>>,
    queue: VecDeque<(NodeId, NodeId, PbftMsg)>,
    to_client: Vec<(NodeId, PbftMsg)>,
    byzantine: BTreeSet<u32>,
    down: BTreeSet<u32>,
}

impl Cluster {
    fn new(byzantine: &[u32]) -> Cluster {
        Cluster {
            nodes: (0..4).map(harness).collect(),
            queue: VecDeque::new(),
            to_client: Vec::new(),
            byzantine: byzantine.iter().copied().collect(),
            down: BTreeSet::new(),
        }
    }

    fn push(&mut self, from: NodeId, out: Vec<(NodeId, PbftMsg)>) {
        let tamper = PbftTamper { n: 4 };
        for (to, msg) in out {
            let msg = if self.byzantine.contains(&from.0) {
                tamper.equivocate(&msg, from, to, 7).unwrap_or(msg)
            } else {
                msg
            };
            self.queue.push_back((from, to, msg));
        }
    }

    fn run(&mut self) {
        let mut steps = 0;
        while let Some((from, to, msg)) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 100_000, "the exchange ends");
            if to == CLIENT {
                self.to_client.push((from, msg));
            } else if !self.down.contains(&to.0) {
                let out = self.nodes[to.index()].deliver(from, msg);
                self.push(to, out);
            }
        }
    }

    fn client_sends(&mut self, to: u32, r: Request) {
        self.queue
            .push_back((CLIENT, NodeId(to), PbftMsg::Request(r)));
        self.run();
    }

    fn fire_timers(&mut self, replicas: &[u32]) {
        for &r in replicas {
            let out = self.nodes[r as usize].fire(TIMER);
            self.push(NodeId(r), out);
        }
        self.run();
    }

    /// (seq -> digest) executed by replica `r`.
    fn executed(&self, r: u32) -> BTreeMap<u64, String> {
        self.nodes[r as usize]
            .records_of("execute")
            .iter()
            .map(|d| {
                (
                    d["seq"].as_u64().unwrap(),
                    d["digest"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Sequence numbers where two of `replicas` executed different digests.
    fn disagreements(&self, replicas: &[u32]) -> Vec<u64> {
        let mut by_seq: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        for &r in replicas {
            for (seq, d) in self.executed(r) {
                by_seq.entry(seq).or_default().insert(d);
            }
        }
        by_seq
            .into_iter()
            .filter(|(_, d)| d.len() > 1)
            .map(|(s, _)| s)
            .collect()
    }
}

#[test]
fn the_normal_case_executes_a_request_everywhere_and_replies() {
    let mut c = Cluster::new(&[]);
    c.client_sends(0, request(1, "a"));
    for r in 0..4 {
        assert_eq!(c.executed(r).len(), 1, "n{} executed seq 1", r + 1);
        assert_eq!(c.nodes[r as usize].node().kv().get(0), "a");
    }
    assert!(c.disagreements(&[0, 1, 2, 3]).is_empty());
    let replies = c
        .to_client
        .iter()
        .filter(|(_, m)| {
            matches!(
                m,
                PbftMsg::Reply {
                    seq: 1,
                    outcome: Outcome::Applied,
                    ..
                }
            )
        })
        .count();
    assert_eq!(replies, 4);
    // A retry gets the cached reply, and is not executed again.
    c.client_sends(0, request(1, "a"));
    assert_eq!(c.executed(0).len(), 1);
}

#[test]
fn prepared_needs_2f_backup_prepares_and_committed_2f_plus_1_commits() {
    let mut h = harness(1); // n2, a backup of view 0
    let r = request(1, "a");
    let d = digest(Some(&r));
    let out = h.deliver(
        NodeId(0),
        PbftMsg::PrePrepare {
            view: 0,
            seq: 1,
            digest: d,
            request: Some(r),
        },
    );
    assert_eq!(out.len(), 3, "a prepare to each other replica");
    assert!(out.iter().all(|(_, m)| matches!(
        m,
        PbftMsg::Prepare {
            view: 0,
            seq: 1,
            ..
        }
    )));
    // A prepare from the primary does not count.
    let out = h.deliver(
        NodeId(0),
        PbftMsg::Prepare {
            view: 0,
            seq: 1,
            digest: d,
        },
    );
    assert!(out.is_empty());
    // One for another digest does not either.
    let out = h.deliver(
        NodeId(2),
        PbftMsg::Prepare {
            view: 0,
            seq: 1,
            digest: d ^ 4,
        },
    );
    assert!(out.is_empty());
    // Its own and n3's: 2f = 2, prepared: it commits.
    let out = h.deliver(
        NodeId(2),
        PbftMsg::Prepare {
            view: 0,
            seq: 1,
            digest: d,
        },
    );
    assert!(out.iter().all(|(_, m)| matches!(
        m,
        PbftMsg::Commit {
            view: 0,
            seq: 1,
            ..
        }
    )));
    assert_eq!(out.len(), 3);
    h.deliver(
        NodeId(2),
        PbftMsg::Commit {
            view: 0,
            seq: 1,
            digest: d,
        },
    );
    assert!(h.records_of("execute").is_empty(), "2 commits are not 2f+1");
    let out = h.deliver(
        NodeId(3),
        PbftMsg::Commit {
            view: 0,
            seq: 1,
            digest: d,
        },
    );
    assert_eq!(h.records_of("execute").len(), 1);
    assert!(matches!(out[..], [(CLIENT, PbftMsg::Reply { .. })]));
}

#[test]
fn a_backup_refuses_a_second_pre_prepare_a_wrong_digest_and_a_non_primary() {
    let mut h = harness(1);
    let (a, b) = (request(1, "a"), request(2, "b"));
    let bad = h.deliver(
        NodeId(0),
        PbftMsg::PrePrepare {
            view: 0,
            seq: 1,
            digest: 99,
            request: Some(a.clone()),
        },
    );
    assert!(bad.is_empty(), "digest does not match");
    let not_primary = h.deliver(
        NodeId(2),
        PbftMsg::PrePrepare {
            view: 0,
            seq: 1,
            digest: digest(Some(&a)),
            request: Some(a.clone()),
        },
    );
    assert!(not_primary.is_empty());
    let ok = h.deliver(
        NodeId(0),
        PbftMsg::PrePrepare {
            view: 0,
            seq: 1,
            digest: digest(Some(&a)),
            request: Some(a),
        },
    );
    assert_eq!(ok.len(), 3);
    let other = h.deliver(
        NodeId(0),
        PbftMsg::PrePrepare {
            view: 0,
            seq: 1,
            digest: digest(Some(&b)),
            request: Some(b),
        },
    );
    assert!(other.is_empty(), "a second digest for (v, n) is refused");
}

#[test]
fn the_new_view_keeps_the_highest_view_certificate_and_fills_gaps_with_null() {
    let (a, b) = (request(1, "a"), request(2, "b"));
    let cert = |seq, view, r: &Request| Prepared {
        seq,
        view,
        digest: digest(Some(r)),
        request: Some(r.clone()),
    };
    let o = reissues(&[
        (NodeId(1), vec![cert(1, 0, &a), cert(3, 0, &a)]),
        (NodeId(2), vec![cert(3, 2, &b)]),
        (NodeId(3), vec![]),
    ]);
    assert_eq!(o.len(), 3);
    assert_eq!(o[0].request.as_ref(), Some(&a));
    assert_eq!((o[1].digest, o[1].request.is_none()), (NULL_DIGEST, true));
    assert_eq!(o[2].request.as_ref(), Some(&b), "view 2 beats view 0");
    assert!(reissues(&[]).is_empty());
}

#[test]
fn a_crashed_primary_is_replaced_by_a_view_change_that_keeps_prepared_requests() {
    let mut c = Cluster::new(&[]);
    c.client_sends(0, request(1, "a"));
    c.down.insert(0);
    // The client's retry reaches every backup: they relay it to the dead
    // primary and start their timers.
    for r in 1..4 {
        c.client_sends(r, request(2, "b"));
    }
    c.fire_timers(&[1, 2, 3]);
    for r in 1..4u32 {
        let node = c.nodes[r as usize].node();
        assert_eq!(
            (node.view(), node.changing()),
            (1, false),
            "n{} in view 1",
            r + 1
        );
        assert_eq!(c.executed(r).len(), 2, "seq 1 kept, request 2 executed");
        assert_eq!(node.kv().get(0), "b");
    }
    assert!(c.disagreements(&[1, 2, 3]).is_empty());
    assert_eq!(c.nodes[1].records_of("new_view").len(), 1);
}

#[test]
fn one_view_change_needs_f_plus_1_to_pull_others_and_timers_double() {
    let mut h = harness(2); // n3
    let out = h.deliver(
        NodeId(3),
        PbftMsg::ViewChange {
            new_view: 1,
            prepared: vec![],
        },
    );
    assert!(
        out.is_empty(),
        "one replica alone cannot start a view change"
    );
    assert_eq!(h.node().view(), 0);
    let out = h.deliver(
        NodeId(1),
        PbftMsg::ViewChange {
            new_view: 1,
            prepared: vec![],
        },
    );
    assert_eq!(out.len(), 3, "f+1 = 2 ask: it joins view 1");
    assert!(h.node().changing());
    let first = h.pending(TIMER)[0];
    h.fire(TIMER);
    assert_eq!(h.node().view(), 2);
    let second = h.pending(TIMER)[0];
    assert_eq!(second.as_nanos(), 2 * first.as_nanos(), "the timer doubles");
}

#[test]
fn a_new_view_whose_pre_prepares_do_not_follow_from_its_view_changes_is_refused() {
    let mut h = harness(2);
    let a = request(1, "a");
    let vcs: Vec<(NodeId, Vec<Prepared>)> = (0..3)
        .map(|i| {
            (
                NodeId(i),
                vec![Prepared {
                    seq: 1,
                    view: 0,
                    digest: digest(Some(&a)),
                    request: Some(a.clone()),
                }],
            )
        })
        .collect();
    let forged = vec![Reissue {
        seq: 1,
        digest: NULL_DIGEST,
        request: None,
    }];
    h.deliver(
        NodeId(1),
        PbftMsg::NewView {
            view: 1,
            view_changes: vcs.clone(),
            pre_prepares: forged,
        },
    );
    assert_eq!(h.records_of("bad_new_view").len(), 1);
    assert_eq!(h.node().view(), 0);
    let good = reissues(&vcs);
    let out = h.deliver(
        NodeId(1),
        PbftMsg::NewView {
            view: 1,
            view_changes: vcs,
            pre_prepares: good,
        },
    );
    assert_eq!(h.node().view(), 1);
    assert!(out.iter().any(|(_, m)| matches!(
        m,
        PbftMsg::Prepare {
            view: 1,
            seq: 1,
            ..
        }
    )));
}

#[test]
fn equivocate_lies_to_even_backups_and_corrupt_forges_digests_or_views() {
    let t = PbftTamper { n: 4 };
    let a = request(1, "a");
    let d = digest(Some(&a));
    let pp = PbftMsg::PrePrepare {
        view: 0,
        seq: 5,
        digest: d,
        request: Some(a.clone()),
    };
    // n3 (index 2) is an even backup of view 0: the null request.
    assert_eq!(
        t.equivocate(&pp, NodeId(0), NodeId(2), 0),
        Some(PbftMsg::PrePrepare {
            view: 0,
            seq: 5,
            digest: NULL_DIGEST,
            request: None
        })
    );
    assert_eq!(t.equivocate(&pp, NodeId(0), NodeId(1), 0), None);
    assert_eq!(t.equivocate(&pp, NodeId(0), NodeId(3), 0), None);
    let prepare = PbftMsg::Prepare {
        view: 0,
        seq: 5,
        digest: d,
    };
    assert_eq!(
        t.equivocate(&prepare, NodeId(1), NodeId(0), 0),
        None,
        "the primary hears the truth"
    );
    assert_eq!(
        t.equivocate(&prepare, NodeId(1), NodeId(2), 0),
        Some(PbftMsg::Prepare {
            view: 0,
            seq: 5,
            digest: NULL_DIGEST
        })
    );
    // In view 2 the primary is n3: it hears the truth, n1 does not.
    let commit = PbftMsg::Commit {
        view: 2,
        seq: 5,
        digest: d,
    };
    assert_eq!(t.equivocate(&commit, NodeId(1), NodeId(2), 0), None);
    assert!(t.equivocate(&commit, NodeId(1), NodeId(0), 0).is_some());
    assert_eq!(
        t.equivocate(&PbftMsg::Request(a.clone()), NodeId(1), NodeId(0), 0),
        None
    );
    // corrupt: the pre-prepare's digest no longer matches; a prepare's view
    // or digest changes with the draw.
    match t.corrupt(&pp, NodeId(0), NodeId(1), 6).unwrap() {
        PbftMsg::PrePrepare {
            digest: forged,
            request,
            ..
        } => {
            assert_ne!(forged, d);
            assert_ne!(forged, digest(request.as_ref()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        t.corrupt(&prepare, NodeId(1), NodeId(0), 2),
        Some(PbftMsg::Prepare {
            view: 1,
            seq: 5,
            digest: d
        })
    );
    assert!(
        matches!(t.corrupt(&prepare, NodeId(1), NodeId(0), 1), Some(PbftMsg::Prepare { view: 0, digest: x, .. }) if x != d)
    );
    assert_eq!(
        t.corrupt(&PbftMsg::Request(a), NodeId(1), NodeId(0), 1),
        None
    );
    // A corrupted pre-prepare is refused by a correct backup.
    let mut h = harness(1);
    assert!(h
        .deliver(NodeId(0), t.corrupt(&pp, NodeId(0), NodeId(1), 6).unwrap())
        .is_empty());
}

#[test]
fn one_equivocating_primary_cannot_break_agreement() {
    let mut c = Cluster::new(&[0]);
    for seq in 1..=5 {
        c.client_sends(0, request(seq, &format!("v{seq}")));
    }
    // n2 and n4 execute the client's requests; n3 got null pre-prepares
    // and can gather no quorum for them: it executes nothing, wrongly or not.
    assert_eq!(c.executed(1).len(), 5);
    assert_eq!(c.executed(3).len(), 5);
    assert!(c.executed(2).is_empty());
    assert!(c.disagreements(&[1, 2, 3]).is_empty());
}

#[test]
fn two_equivocating_replicas_of_four_break_agreement() {
    let mut c = Cluster::new(&[0, 1]);
    c.client_sends(0, request(1, "a"));
    // n3 commits the null request at seq 1 (its own, n1's and n2's null
    // commits), n4 the client's (its own, n1's and n2's real ones).
    assert_eq!(c.disagreements(&[2, 3]), vec![1]);
}
