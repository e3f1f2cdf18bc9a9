//! The quorum store's rules, one at a time: servers driven by hand through
//! a [`NodeHarness`], and small scenarios run whole for the checks.

use super::server::{ANTI_ENTROPY, REQUEST_TIMEOUT, SLOPPY};
use super::*;
use crate::node::testing::NodeHarness;
use crate::scenario::{run, RunOptions, Scenario};

fn params(servers: usize, r: usize, w: usize, reads: Reads, quorum: Quorum) -> QuorumParams {
    QuorumParams {
        replicas: 3,
        r,
        w,
        read_repair: true,
        anti_entropy: SimDuration::from_millis(500),
        reads,
        quorum,
        timeout: SimDuration::from_millis(100),
        servers,
        keys: 3,
        bugs: crate::models::bugs::Bugs::none(),
    }
}

/// `p` with the famous mistake `bug` switched on.
fn with_bug(mut p: QuorumParams, bug: &str) -> QuorumParams {
    p.bugs = crate::models::bugs::Bugs::parse(&[bug.to_string()], KNOWN_BUGS).unwrap();
    p
}

/// Server `id` of `servers`, with one client after them, started.
fn server(id: u32, p: QuorumParams) -> NodeHarness<QkvMsg, Server> {
    let total = p.servers as u32 + 1;
    let names: Vec<String> = (0..p.servers)
        .map(|i| format!("n{}", i + 1))
        .chain(["c1".to_string()])
        .collect();
    let mut h = NodeHarness::new(NodeId(id), Server::new(p))
        .with_peers((0..total).filter(|&i| i != id).map(NodeId))
        .with_names(names)
        .with_seed(3)
        .with_sync_check();
    h.start();
    h
}

fn v(counter: u64, node: u32) -> Version {
    Version { counter, node }
}

fn entry(counter: u64, node: u32, value: &str) -> Entry {
    Entry {
        version: v(counter, node),
        value: value.to_string(),
    }
}

/// The request id in the first `Read` among `sent`.
fn read_req(sent: &[(NodeId, QkvMsg)]) -> u64 {
    sent.iter()
        .find_map(|(_, m)| match m {
            QkvMsg::Read { req, .. } => Some(*req),
            _ => None,
        })
        .expect("a Read was sent")
}

const CLIENT3: NodeId = NodeId(3);

#[test]
fn a_key_lives_on_n_consecutive_servers_and_the_next_ones_stand_in() {
    let p = params(5, 2, 2, Reads::Eventual, Quorum::Sloppy);
    assert_eq!(p.home(0), [NodeId(0), NodeId(1), NodeId(2)]);
    assert_eq!(p.home(3), [NodeId(3), NodeId(4), NodeId(0)]);
    assert_eq!(p.stand_ins(0), [NodeId(3), NodeId(4)]);
    assert_eq!(p.stand_ins(3), [NodeId(1), NodeId(2)]);
    for key in 0..5 {
        for n in 0..5 {
            assert_eq!(p.is_home(key, NodeId(n)), p.home(key).contains(&NodeId(n)));
        }
    }
}

#[test]
fn a_replica_keeps_only_newer_versions_and_acknowledges_after_syncing() {
    let mut h = server(0, params(3, 2, 2, Reads::Eventual, Quorum::Strict));
    let write = |req, e: Entry| QkvMsg::Write {
        req,
        key: 0,
        entry: e,
        hint: None,
    };
    let sent = h.deliver(NodeId(1), write(7, entry(2, 1, "b")));
    assert_eq!(sent, [(NodeId(1), QkvMsg::WriteAck { req: 7 })]);
    // Older: still acknowledged (it holds something newer), but not kept.
    let sent = h.deliver(NodeId(2), write(8, entry(1, 2, "a")));
    assert_eq!(sent, [(NodeId(2), QkvMsg::WriteAck { req: 8 })]);
    assert_eq!(h.node().copy(0), entry(2, 1, "b"));
    // Same counter, higher coordinator id: newer.
    h.deliver(NodeId(2), write(9, entry(2, 2, "c")));
    assert_eq!(h.node().copy(0), entry(2, 2, "c"));
    // What it kept survives a restart.
    h.restart(Server::new(params(
        3,
        2,
        2,
        Reads::Eventual,
        Quorum::Strict,
    )));
    assert_eq!(h.node().copy(0), entry(2, 2, "c"));
    let applied: Vec<_> = h
        .records_of("apply")
        .into_iter()
        .filter(|d| d.get("start").is_none())
        .map(|d| d["version"].clone())
        .collect();
    assert_eq!(
        applied,
        [serde_json::json!([2, 1]), serde_json::json!([2, 2])]
    );
}

#[test]
fn a_put_writes_one_more_than_the_highest_version_its_query_found() {
    let mut h = server(0, params(3, 2, 2, Reads::Consistent, Quorum::Strict));
    let sent = h.deliver(
        CLIENT3,
        QkvMsg::Put {
            op: 1,
            key: 0,
            value: "x".into(),
        },
    );
    assert_eq!(
        sent.len(),
        3,
        "the version query goes to the three home replicas"
    );
    let req = read_req(&sent);
    assert!(h
        .deliver(
            NodeId(1),
            QkvMsg::ReadAck {
                req,
                entry: entry(4, 2, "old")
            }
        )
        .is_empty());
    let sent = h.deliver(
        NodeId(2),
        QkvMsg::ReadAck {
            req,
            entry: entry(2, 1, "older"),
        },
    );
    let new = entry(5, 0, "x");
    let writes: Vec<NodeId> = sent
        .iter()
        .filter(|(_, m)| matches!(m, QkvMsg::Write { entry, hint: None, .. } if *entry == new))
        .map(|(to, _)| *to)
        .collect();
    assert_eq!(writes, [NodeId(0), NodeId(1), NodeId(2)]);
    // Acknowledged to the client after W = 2 replicas, not before.
    assert!(h.deliver(NodeId(1), QkvMsg::WriteAck { req }).is_empty());
    let sent = h.deliver(NodeId(2), QkvMsg::WriteAck { req });
    let reply = QkvMsg::Reply {
        op: 1,
        outcome: Outcome::Written(v(5, 0)),
    };
    assert_eq!(sent, [(CLIENT3, reply)]);
}

#[test]
fn two_puts_at_once_through_one_coordinator_get_different_versions() {
    let mut h = server(0, params(3, 2, 2, Reads::Consistent, Quorum::Strict));
    let a = read_req(&h.deliver(
        CLIENT3,
        QkvMsg::Put {
            op: 1,
            key: 0,
            value: "a".into(),
        },
    ));
    let b = read_req(&h.deliver(
        CLIENT3,
        QkvMsg::Put {
            op: 2,
            key: 0,
            value: "b".into(),
        },
    ));
    let mut versions = Vec::new();
    for req in [a, b] {
        h.deliver(
            NodeId(1),
            QkvMsg::ReadAck {
                req,
                entry: Entry::default(),
            },
        );
        let sent = h.deliver(
            NodeId(2),
            QkvMsg::ReadAck {
                req,
                entry: Entry::default(),
            },
        );
        versions.extend(sent.iter().find_map(|(_, m)| match m {
            QkvMsg::Write { entry, .. } => Some(entry.version),
            _ => None,
        }));
    }
    assert_eq!(versions, [v(1, 0), v(2, 0)]);
}

#[test]
fn a_consistent_read_writes_back_before_answering_when_replicas_disagree() {
    let mut h = server(0, params(3, 2, 2, Reads::Consistent, Quorum::Strict));
    let req = read_req(&h.deliver(CLIENT3, QkvMsg::Get { op: 1, key: 0 }));
    h.deliver(
        NodeId(1),
        QkvMsg::ReadAck {
            req,
            entry: entry(3, 1, "new"),
        },
    );
    let sent = h.deliver(
        NodeId(2),
        QkvMsg::ReadAck {
            req,
            entry: entry(2, 1, "old"),
        },
    );
    // Only n2 holds (3, n2): the newest goes to the others, no answer yet.
    assert!(
        sent.iter().all(|(_, m)| matches!(m, QkvMsg::Write { .. })),
        "{sent:?}"
    );
    let to: Vec<NodeId> = sent.iter().map(|(n, _)| *n).collect();
    assert_eq!(to, [NodeId(0), NodeId(2)]);
    let sent = h.deliver(NodeId(2), QkvMsg::WriteAck { req });
    let reply = QkvMsg::Reply {
        op: 1,
        outcome: Outcome::Value(entry(3, 1, "new")),
    };
    assert_eq!(sent, [(CLIENT3, reply)]);
    // The last copy comes in: n1's own, older; read repair sends it the newest.
    let sent = h.deliver(
        NodeId(0),
        QkvMsg::ReadAck {
            req,
            entry: Entry::default(),
        },
    );
    assert_eq!(
        sent,
        [(
            NodeId(0),
            QkvMsg::Update {
                key: 0,
                entry: entry(3, 1, "new")
            }
        )]
    );
    assert_eq!(
        h.records_of("read_repair").len(),
        1,
        "n3 has the write-back"
    );
}

#[test]
fn a_consistent_read_answers_at_once_when_w_replicas_agree() {
    let mut h = server(0, params(3, 2, 2, Reads::Consistent, Quorum::Strict));
    let req = read_req(&h.deliver(CLIENT3, QkvMsg::Get { op: 1, key: 0 }));
    h.deliver(
        NodeId(1),
        QkvMsg::ReadAck {
            req,
            entry: entry(3, 1, "x"),
        },
    );
    let sent = h.deliver(
        NodeId(2),
        QkvMsg::ReadAck {
            req,
            entry: entry(3, 1, "x"),
        },
    );
    let reply = QkvMsg::Reply {
        op: 1,
        outcome: Outcome::Value(entry(3, 1, "x")),
    };
    assert_eq!(sent, [(CLIENT3, reply)]);
}

#[test]
fn an_eventual_read_answers_with_one_replica_even_a_stale_one() {
    let mut p = params(3, 2, 2, Reads::Eventual, Quorum::Strict);
    p.read_repair = false;
    let mut h = server(0, p);
    let sent = h.deliver(CLIENT3, QkvMsg::Get { op: 1, key: 0 });
    assert_eq!(sent.len(), 1, "one replica is asked: {sent:?}");
    let (chosen, req) = (sent[0].0, read_req(&sent));
    let sent = h.deliver(
        chosen,
        QkvMsg::ReadAck {
            req,
            entry: entry(1, 1, "stale"),
        },
    );
    let reply = QkvMsg::Reply {
        op: 1,
        outcome: Outcome::Value(entry(1, 1, "stale")),
    };
    assert_eq!(sent, [(CLIENT3, reply)]);
}

#[test]
fn a_strict_write_without_w_acknowledgements_is_unavailable() {
    let mut h = server(0, params(5, 2, 2, Reads::Eventual, Quorum::Strict));
    let req = read_req(&h.deliver(
        CLIENT3,
        QkvMsg::Put {
            op: 1,
            key: 0,
            value: "x".into(),
        },
    ));
    h.deliver(
        NodeId(0),
        QkvMsg::ReadAck {
            req,
            entry: Entry::default(),
        },
    );
    assert!(
        h.pending(SLOPPY).is_empty(),
        "no stand-ins in a strict quorum"
    );
    let sent = h.fire(REQUEST_TIMEOUT);
    let reply = QkvMsg::Reply {
        op: 1,
        outcome: Outcome::Unavailable,
    };
    assert_eq!(sent, [(CLIENT3, reply)]);
    assert_eq!(h.records_of("unavailable").len(), 1);
}

#[test]
fn a_sloppy_write_turns_to_stand_ins_which_hand_their_hints_home() {
    let p = params(5, 2, 2, Reads::Eventual, Quorum::Sloppy);
    let mut h = server(0, p);
    let req = read_req(&h.deliver(
        CLIENT3,
        QkvMsg::Put {
            op: 1,
            key: 0,
            value: "x".into(),
        },
    ));
    // Only n1 (itself) answers the query: after a quarter it goes on...
    h.deliver(
        NodeId(0),
        QkvMsg::ReadAck {
            req,
            entry: Entry::default(),
        },
    );
    let sent = h.fire(SLOPPY);
    assert_eq!(
        sent.len(),
        3,
        "the write goes to the home replicas: {sent:?}"
    );
    h.deliver(NodeId(0), QkvMsg::WriteAck { req });
    // ...and after another quarter n2 and n3 get stand-ins n4 and n5.
    let sent = h.fire(SLOPPY);
    let hinted: Vec<(NodeId, Option<NodeId>)> = sent
        .iter()
        .map(|(to, m)| match m {
            QkvMsg::Write { hint, .. } => (*to, *hint),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        hinted,
        [(NodeId(3), Some(NodeId(1))), (NodeId(4), Some(NodeId(2)))]
    );
    let sent = h.deliver(NodeId(3), QkvMsg::WriteAck { req });
    assert_eq!(
        sent,
        [(
            CLIENT3,
            QkvMsg::Reply {
                op: 1,
                outcome: Outcome::Written(v(1, 0))
            }
        )]
    );

    // The stand-in n4 keeps the hint apart from its own copies, on disk...
    let mut stand_in = server(3, p);
    let write = QkvMsg::Write {
        req,
        key: 0,
        entry: entry(1, 0, "x"),
        hint: Some(NodeId(1)),
    };
    assert_eq!(
        stand_in.deliver(NodeId(0), write),
        [(NodeId(0), QkvMsg::WriteAck { req })]
    );
    stand_in.restart(Server::new(p));
    assert_eq!(stand_in.node().hinted(), [(NodeId(1), 0, v(1, 0))]);
    // ...hands it home on each anti-entropy tick until n2 acknowledges it.
    for _ in 0..2 {
        let sent = stand_in.fire(ANTI_ENTROPY);
        assert!(sent.contains(&(
            NodeId(1),
            QkvMsg::Handoff {
                key: 0,
                entry: entry(1, 0, "x")
            }
        )));
    }
    stand_in.deliver(
        NodeId(1),
        QkvMsg::HandoffAck {
            key: 0,
            version: v(1, 0),
        },
    );
    assert!(stand_in.node().hinted().is_empty());
    assert_eq!(stand_in.records_of("handoff").len(), 1);

    // The home replica keeps a handed-off copy like any newer one.
    let mut home = server(1, p);
    let sent = home.deliver(
        NodeId(3),
        QkvMsg::Handoff {
            key: 0,
            entry: entry(1, 0, "x"),
        },
    );
    assert_eq!(
        sent,
        [(
            NodeId(3),
            QkvMsg::HandoffAck {
                key: 0,
                version: v(1, 0)
            }
        )]
    );
    assert_eq!(home.node().copy(0), entry(1, 0, "x"));
}

#[test]
fn anti_entropy_pulls_newer_copies_and_pushes_its_own() {
    let p = params(3, 2, 2, Reads::Eventual, Quorum::Strict);
    let mut h = server(0, p);
    h.deliver(
        NodeId(1),
        QkvMsg::Update {
            key: 0,
            entry: entry(5, 1, "mine"),
        },
    );
    let sent = h.deliver(
        NodeId(1),
        QkvMsg::Digest {
            versions: vec![(0, v(3, 1)), (1, v(2, 2))],
        },
    );
    assert_eq!(
        sent,
        [
            (
                NodeId(1),
                QkvMsg::Update {
                    key: 0,
                    entry: entry(5, 1, "mine")
                }
            ),
            (NodeId(1), QkvMsg::Want { keys: vec![1] }),
        ]
    );
}

const SCENARIO: &str = r#"
expect = "pass"
model = "quorum_kv"
duration = "3s"
checks = ["replica_convergence"]

[quorum_kv]
anti_entropy = "200ms"
read_repair = false

[workload]
clients = 2
think = ["5ms", "20ms"]
timeout = "300ms"
read_fraction = 0.2
keys = 1

[nodes]
count = 3

[network]
latency = { dist = "uniform", min = "1ms", max = "5ms" }

[[faults]]
at = "0s"
kind = "set_link"
from = ["n1", "n2", "c1", "c2"]
to = ["n3"]
loss = 1.0

[liveness]
within = "500ms"
"#;

#[test]
fn replica_convergence_catches_a_replica_that_never_catches_up_and_passes_after_a_heal() {
    let cut = Scenario::parse(SCENARIO, "cut.toml").expect("parses");
    let report = run(&cut, 1, RunOptions::default());
    let v = report
        .violations
        .first()
        .expect("n3 hears nothing: divergence");
    assert_eq!(v.name, "divergence");
    assert_eq!(v.nodes[0], "n3");
    assert!(
        v.explanation.contains("home replica n3 of k1"),
        "{}",
        v.explanation
    );

    let healed = SCENARIO.replace("loss = 1.0", "loss = 1.0\nduration = \"1s\"");
    let healed = Scenario::parse(&healed, "healed.toml").expect("parses");
    let report = run(&healed, 1, RunOptions::default());
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[test]
fn mistakes_in_the_table_name_their_key() {
    for (line, key) in [
        ("replicas = 4", "replicas"),
        ("r = 4", "r"),
        ("w = 0", "w"),
        ("reads = \"strong\"", "reads"),
        ("quorum = \"loose\"", "quorum"),
        ("timeout = \"0s\"", "timeout"),
    ] {
        let text = SCENARIO.replace("read_repair = false", line);
        let err = Scenario::parse(&text, "bad.toml")
            .expect_err(line)
            .to_string();
        assert!(err.contains(&format!("quorum_kv.{key}")), "{line}: {err}");
    }
}

#[test]
fn quorum_metrics_counts_a_read_older_than_an_acknowledged_write_as_stale() {
    let eventual = Scenario::parse(
        &std::fs::read_to_string("scenarios/quorum-eventual-stale-read.toml").expect("exists"),
        "scenarios/quorum-eventual-stale-read.toml",
    )
    .expect("parses");
    let report = run(&eventual, 0, RunOptions::default());
    let metric = |name: &str| {
        report
            .metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .expect(name)
    };
    let (stale, reads) = (
        metric("quorum_metrics.stale_reads"),
        metric("quorum_metrics.reads"),
    );
    assert!(
        stale >= 1.0,
        "the run shows a stale read: {:?}",
        report.metrics
    );
    assert_eq!(metric("quorum_metrics.stale_read_rate"), stale / reads);
    assert!(
        metric("quorum_metrics.write_latency_ms_p50")
            <= metric("quorum_metrics.write_latency_ms_p99")
    );
}

#[test]
fn a_read_without_write_back_answers_with_a_copy_only_one_replica_holds() {
    let p = with_bug(
        params(3, 2, 2, Reads::Consistent, Quorum::Strict),
        "read_without_write_back",
    );
    let mut h = server(0, p);
    let req = read_req(&h.deliver(CLIENT3, QkvMsg::Get { op: 1, key: 0 }));
    h.deliver(
        NodeId(1),
        QkvMsg::ReadAck {
            req,
            entry: entry(3, 1, "new"),
        },
    );
    let sent = h.deliver(
        NodeId(2),
        QkvMsg::ReadAck {
            req,
            entry: entry(2, 1, "old"),
        },
    );
    // The rule broken: only n2 holds "new", yet the client hears it at
    // once, with no write-back (the correct read waits: see
    // a_consistent_read_writes_back_before_answering_when_replicas_disagree).
    let reply = QkvMsg::Reply {
        op: 1,
        outcome: Outcome::Value(entry(3, 1, "new")),
    };
    assert_eq!(sent, [(CLIENT3, reply)]);
}

#[test]
fn a_write_without_version_read_numbers_its_version_from_its_own_copy() {
    for bug in [false, true] {
        let p = params(5, 2, 2, Reads::Consistent, Quorum::Strict);
        let p = if bug {
            with_bug(p, "write_without_version_read")
        } else {
            p
        };
        // n4 is not a home replica of k1 (n1-n3): it holds no copy.
        let mut h = server(3, p);
        let client = NodeId(5);
        let sent = h.deliver(
            client,
            QkvMsg::Put {
                op: 1,
                key: 0,
                value: "x".into(),
            },
        );
        let written = |sent: &[(NodeId, QkvMsg)]| {
            sent.iter().find_map(|(_, m)| match m {
                QkvMsg::Write { entry, .. } => Some(entry.version),
                _ => None,
            })
        };
        if bug {
            // The rule broken: no query; the write goes out at once with
            // version (1, n4), whatever the replicas hold (here (7, n2),
            // which the correct put passes).
            assert!(sent.iter().all(|(_, m)| matches!(m, QkvMsg::Write { .. })));
            assert_eq!(written(&sent), Some(v(1, 3)));
        } else {
            let req = read_req(&sent);
            h.deliver(
                NodeId(0),
                QkvMsg::ReadAck {
                    req,
                    entry: entry(7, 1, "old"),
                },
            );
            let sent = h.deliver(
                NodeId(1),
                QkvMsg::ReadAck {
                    req,
                    entry: entry(7, 1, "old"),
                },
            );
            assert_eq!(written(&sent), Some(v(8, 3)));
        }
    }
}

#[test]
fn with_last_arrival_wins_a_replica_keeps_an_older_copy_that_arrives_late() {
    for bug in [false, true] {
        let p = params(3, 2, 2, Reads::Consistent, Quorum::Strict);
        let p = if bug {
            with_bug(p, "last_arrival_wins")
        } else {
            p
        };
        let mut h = server(0, p);
        h.deliver(
            NodeId(1),
            QkvMsg::Update {
                key: 0,
                entry: entry(5, 1, "new"),
            },
        );
        // A late write-back of an older copy.
        h.deliver(
            NodeId(2),
            QkvMsg::Write {
                req: 9,
                key: 0,
                entry: entry(4, 2, "old"),
                hint: None,
            },
        );
        if bug {
            // The rule broken: the replica went back in time.
            assert_eq!(h.node().copy(0), entry(4, 2, "old"));
        } else {
            assert_eq!(h.node().copy(0), entry(5, 1, "new"));
        }
    }
}
