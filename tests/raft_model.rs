//! The Raft model under chaos: 5 servers and 3 clients, crashes, restarts,
//! partitions, pauses, clock jumps and loss bursts among the servers, over
//! several seeds and both read modes. Every run must keep election safety
//! (at most one leader per term), log matching (one digest per committed
//! index) and a linearizable client history, and must make progress.

use faultlab::check::linearizability::{check, LinModel, LinOptions, LinVerdict};
use faultlab::engine::{EventKind, Sim, SimBuilder, TraceEvent};
use faultlab::fault::chaos::ChaosConfig;
use faultlab::history::{History, OpType};
use faultlab::models::raft::{RaftClient, RaftMsg, RaftParams, RaftReads, RaftServer};
use faultlab::models::workload::Workload;
use faultlab::net::{LinkSpec, Topology};
use faultlab::rng::{Probability, SimRng};
use faultlab::scenario::run::history_event;
use faultlab::{Node, NodeId, SimDuration, SimTime};
use std::collections::BTreeMap;

const SERVERS: u32 = 5;
const CLIENTS: u32 = 3;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn workload() -> Workload {
    Workload {
        clients: CLIENTS,
        think_min: ms(0),
        think_max: ms(10),
        timeout: ms(300),
        read_ppm: 300_000,
        keys: 3,
    }
}

/// Chaos among the servers only, for the first 7 of 10 seconds.
fn chaos() -> ChaosConfig {
    ChaosConfig {
        crash_every: Some(ms(2000)),
        downtime: (ms(200), ms(2000)),
        partition_every: Some(ms(2000)),
        partition_duration: (ms(300), ms(2000)),
        pause_every: Some(ms(4000)),
        pause_duration: (ms(50), ms(500)),
        clock_jump_every: Some(ms(5000)),
        clock_jump_max: ms(300),
        loss_burst_every: Some(ms(5000)),
        loss_burst_probability: Probability::from_f64(0.3).expect("a probability"),
        loss_burst_duration: (ms(200), ms(1000)),
        ..ChaosConfig::quiet(SimTime(7_000_000_000))
    }
}

fn build(seed: u64, params: RaftParams) -> Sim<RaftMsg> {
    let total = SERVERS + CLIENTS;
    let servers: Vec<NodeId> = (0..SERVERS).map(NodeId).collect();
    let peers = (0..total)
        .map(|i| servers.iter().copied().filter(|s| s.0 != i).collect())
        .collect();
    let names = (0..total)
        .map(|i| match i < SERVERS {
            true => format!("n{}", i + 1),
            false => format!("c{}", i - SERVERS + 1),
        })
        .collect();
    let link = LinkSpec {
        loss: Probability::from_f64(0.01).expect("a probability"),
        ..LinkSpec::default()
    };
    let faults = chaos().schedule(SERVERS, &mut SimRng::stream(seed, "faults"));
    let wl = workload();
    SimBuilder::new(seed, total as usize, move |id: NodeId| {
        if id.0 < SERVERS {
            Box::new(RaftServer::new(params)) as Box<dyn Node<RaftMsg>>
        } else {
            Box::new(RaftClient::new(wl, id.0 - SERVERS))
        }
    })
    .names(names)
    .peers(peers)
    .topology(Topology::full_mesh(total as usize, link))
    .faults(faults)
    .build()
}

/// Runs 10 simulated seconds and keeps the record events.
fn run(seed: u64, params: RaftParams) -> Vec<TraceEvent> {
    let mut sim = build(seed, params);
    let mut records = Vec::new();
    sim.run_until(SimTime(10_000_000_000), |e| {
        if matches!(e.kind, EventKind::Record(_)) {
            records.push(e.clone());
        }
        true
    });
    records
}

fn records<'a>(
    events: &'a [TraceEvent],
    kind: &'a str,
) -> impl Iterator<Item = (NodeId, &'a serde_json::Value)> + 'a {
    events.iter().filter_map(move |e| match &e.kind {
        EventKind::Record(r) if r.kind == kind => Some((e.node.expect("a node"), &*r.detail)),
        _ => None,
    })
}

fn assert_one_leader_per_term(events: &[TraceEvent], what: &str) {
    let mut leaders: BTreeMap<u64, NodeId> = BTreeMap::new();
    for (node, detail) in records(events, "leader") {
        let term = detail["term"].as_u64().expect("a term");
        let first = *leaders.entry(term).or_insert(node);
        assert_eq!(first, node, "{what}: two leaders in term {term}");
    }
    assert!(leaders.len() >= 2, "{what}: only {} leaders", leaders.len());
}

fn assert_one_digest_per_index(events: &[TraceEvent], what: &str) -> usize {
    let mut committed: BTreeMap<u64, String> = BTreeMap::new();
    for (node, detail) in records(events, "commit") {
        let index = detail["index"].as_u64().expect("an index");
        let digest = detail["digest"].as_str().expect("a digest").to_string();
        let first = committed.entry(index).or_insert_with(|| digest.clone());
        assert_eq!(
            *first, digest,
            "{what}: {node} committed another entry at {index}"
        );
    }
    committed.len()
}

fn assert_linearizable(events: &[TraceEvent], what: &str) -> usize {
    let history = History {
        events: events.iter().filter_map(history_event).collect(),
    };
    let report = check(&history, LinModel::Kv, &LinOptions::default(), &|| false)
        .unwrap_or_else(|e| panic!("{what}: malformed history: {e}"));
    assert_eq!(
        report.verdict,
        LinVerdict::Linearizable,
        "{what}: {:?}",
        report.explanation
    );
    let ok = |e: &&faultlab::history::HistoryEvent| e.kind == OpType::Ok;
    history.events.iter().filter(ok).count()
}

fn check_seeds(params: RaftParams, seeds: std::ops::Range<u64>) {
    for seed in seeds {
        let what = format!("seed {seed}, {params:?}");
        let events = run(seed, params);
        assert_one_leader_per_term(&events, &what);
        let committed = assert_one_digest_per_index(&events, &what);
        let ok = assert_linearizable(&events, &what);
        assert!(
            committed > 100,
            "{what}: only {committed} entries committed"
        );
        assert!(ok > 100, "{what}: only {ok} operations succeeded");
    }
}

#[test]
fn raft_with_log_reads_is_safe_under_chaos() {
    check_seeds(RaftParams::default(), 1..7);
}

#[test]
fn raft_with_pre_vote_check_quorum_and_read_index_is_safe_under_chaos() {
    let params = RaftParams {
        pre_vote: true,
        check_quorum: true,
        reads: RaftReads::ReadIndex,
        ..RaftParams::default()
    };
    check_seeds(params, 1..7);
}

#[test]
fn leader_noop_false_is_refused_with_read_index_reads() {
    let text = "model = \"raft\"\nduration = \"2s\"\n[raft]\nelection_timeout = [\"150ms\", \"300ms\"]\nheartbeat_interval = \"50ms\"\nreads = \"read_index\"\nleader_noop = false\n[workload]\nclients = 1\ntimeout = \"100ms\"\n[nodes]\ncount = 3\n";
    let err = faultlab::scenario::Scenario::parse(text, "noop.toml").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("raft.leader_noop"), "{message}");
    assert!(message.contains("its no-op"), "{message}");
    let log_reads = text.replace("reads = \"read_index\"\n", "");
    assert!(faultlab::scenario::Scenario::parse(&log_reads, "noop.toml").is_ok());
}
