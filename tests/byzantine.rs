//! Byzantine nodes on a tiny model: n1 broadcasts a counter every 100ms,
//! every node records what it gets. Each adversary is checked against what
//! the receivers saw and what the trace says the adversary did; then the
//! fault through scenario text (with and without a model's tamper), its
//! duration, `heal_all` keeping it, and determinism.

use faultlab::check::World;
use faultlab::engine::{EventKind, TraceHasher};
use faultlab::fault::byzantine::{Act, Adversary, Tamper};
use faultlab::fault::{Fault, TimedFault};
use faultlab::model::{Layout, ModelChecks, ParamError};
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::{Ctx, Model, Node, NodeId, Registry, SimBuilder, SimDuration, SimTime, TimerId};
use serde::Deserialize;
use std::sync::Arc;

/// The counter n1 sends (`k`-th broadcast).
#[derive(Clone, Debug, Hash, PartialEq)]
struct Num(u64);

/// n1 broadcasts `Num(1)`, `Num(2)`, ... every 100ms; every node records
/// `got {"from", "value"}`.
struct Counter {
    next: u64,
}

impl Node<Num> for Counter {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Num>) {
        if ctx.id() == NodeId(0) {
            ctx.set_timer(SimDuration::from_millis(100), 0);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Num>, from: NodeId, msg: Num) {
        ctx.record("got", serde_json::json!({ "from": from.0, "value": msg.0 }));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Num>, _timer: TimerId) {
        self.next += 1;
        ctx.broadcast(Num(self.next));
        ctx.set_timer(SimDuration::from_millis(100), 0);
    }
}

/// Equivocation: `k` becomes `1000 * k + receiver index`; corruption:
/// `k + 1_000_000` (and the draw's low bit is ignored, so it is a pure
/// function of the message).
struct CounterTamper;

impl Tamper<Num> for CounterTamper {
    fn equivocate(&self, msg: &Num, _from: NodeId, to: NodeId, _draw: u64) -> Option<Num> {
        Some(Num(1000 * msg.0 + u64::from(to.0)))
    }
    fn corrupt(&self, msg: &Num, _from: NodeId, _to: NodeId, _draw: u64) -> Option<Num> {
        Some(Num(msg.0 + 1_000_000))
    }
}

/// What a run saw: each (time, receiver, value) and each adversary act
/// (time, to, act); and the trace hash.
struct Seen {
    got: Vec<(SimTime, NodeId, u64)>,
    acts: Vec<(SimTime, NodeId, Act)>,
    honest: Vec<SimTime>,
    hash: u64,
}

fn run_sim(seed: u64, fault: Fault, tamper: bool, faults_after: Vec<TimedFault>) -> Seen {
    let mut faults = vec![TimedFault {
        at: SimTime::ZERO + SimDuration::from_millis(1050),
        fault,
    }];
    faults.extend(faults_after);
    let tamper: Option<Arc<dyn Tamper<Num>>> = tamper.then(|| Arc::new(CounterTamper) as _);
    let mut sim = SimBuilder::new(seed, 3, |_| {
        Box::new(Counter { next: 0 }) as Box<dyn Node<Num>>
    })
    .faults(faults)
    .tamper(tamper)
    .build();
    let mut seen = Seen {
        got: Vec::new(),
        acts: Vec::new(),
        honest: Vec::new(),
        hash: 0,
    };
    let mut hasher = TraceHasher::default();
    // Broadcasts 1..=29, each delivered by then (latency at most 10ms).
    sim.run_until(SimTime::ZERO + SimDuration::from_millis(2950), |e| {
        e.hash_into(&mut hasher);
        match &e.kind {
            EventKind::Record(r) if r.kind == "got" => {
                let value = r.detail["value"].as_u64().unwrap();
                seen.got.push((e.time, e.node.unwrap(), value));
            }
            EventKind::Byzantine { to, act, .. } => {
                assert_eq!(e.node, Some(NodeId(0)), "only n1 is Byzantine");
                seen.acts.push((e.time, *to, *act));
            }
            EventKind::Honest => seen.honest.push(e.time),
            _ => {}
        }
        true
    });
    seen.hash = hasher.finish();
    seen
}

fn byzantine(adversary: Adversary, duration: Option<SimDuration>) -> Fault {
    Fault::Byzantine {
        node: NodeId(0),
        adversary,
        duration,
    }
}

fn at(ms: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(ms)
}

/// The values `node` received, in order (broadcasts 1..=10 come before
/// the fault at 1.05s).
fn values(seen: &Seen, node: u32) -> Vec<u64> {
    seen.got
        .iter()
        .filter(|(_, n, _)| *n == NodeId(node))
        .map(|(_, _, v)| *v)
        .collect()
}

#[test]
fn equivocate_tells_each_peer_its_own_story() {
    let seen = run_sim(1, byzantine(Adversary::Equivocate, None), true, vec![]);
    let (n2, n3) = (values(&seen, 1), values(&seen, 2));
    // Before the fault both got 1..=10; after it, 1000k + their own index.
    let honest = |v: &Vec<u64>| v.iter().filter(|x| **x <= 10).count();
    assert_eq!((honest(&n2), honest(&n3)), (10, 10), "{n2:?} {n3:?}");
    assert!(
        n2.iter().filter(|v| **v > 10).all(|v| v % 1000 == 1),
        "{n2:?}"
    );
    assert!(
        n3.iter().filter(|v| **v > 10).all(|v| v % 1000 == 2),
        "{n3:?}"
    );
    assert!(n2.contains(&11_001) && n3.contains(&11_002));
    // Each forged message is traced, to each peer, after the fault only.
    assert_eq!(seen.acts.len(), 2 * 19, "broadcasts 11..=29 to two peers");
    assert!(seen
        .acts
        .iter()
        .all(|(t, _, act)| *act == Act::Equivocated && *t > at(1050)));
}

#[test]
fn corrupt_sends_the_models_corruption() {
    let seen = run_sim(2, byzantine(Adversary::Corrupt, None), true, vec![]);
    for node in [1, 2] {
        let got = values(&seen, node);
        assert!(got.contains(&10) && got.contains(&1_000_011), "{got:?}");
        assert!(!got.iter().any(|v| (11..1_000_000).contains(v)), "{got:?}");
    }
    assert!(seen.acts.iter().all(|(_, _, a)| *a == Act::Corrupted));
}

#[test]
fn drop_to_silences_the_listed_peers_only() {
    let seen = run_sim(
        3,
        byzantine(Adversary::DropTo(vec![NodeId(2)]), None),
        true,
        vec![],
    );
    let mut n2 = values(&seen, 1);
    n2.sort_unstable();
    assert_eq!(n2, (1..=29).collect::<Vec<u64>>(), "n2 gets every value");
    assert_eq!(values(&seen, 2), (1..=10).collect::<Vec<u64>>());
    assert_eq!(seen.acts.len(), 19);
    assert!(seen
        .acts
        .iter()
        .all(|(_, to, a)| *to == NodeId(2) && *a == Act::Dropped));
}

#[test]
fn replay_resends_old_messages_from_a_bounded_ring() {
    let seen = run_sim(4, byzantine(Adversary::Replay, None), false, vec![]);
    // Every send after the fault but the first (the ring is empty then)
    // also resends one earlier message of the fault's time.
    assert_eq!(seen.acts.len(), 2 * 19 - 1);
    assert!(seen.acts.iter().all(|(_, _, a)| *a == Act::Replayed));
    let all: Vec<u64> = [1, 2].iter().flat_map(|n| values(&seen, *n)).collect();
    assert_eq!(all.len(), 2 * 29 + 2 * 19 - 1, "each replay is delivered");
    // Replays are old values: some value arrives twice.
    for node in [1, 2] {
        let got = values(&seen, node);
        let mut unique = got.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique,
            (1..=29).collect::<Vec<u64>>(),
            "nothing new is forged"
        );
    }
}

#[test]
fn without_a_tamper_equivocate_and_corrupt_change_nothing() {
    for adversary in [Adversary::Equivocate, Adversary::Corrupt] {
        let seen = run_sim(5, byzantine(adversary, None), false, vec![]);
        assert!(seen.acts.is_empty());
        assert!(seen.got.iter().all(|(_, _, v)| *v <= 29));
    }
}

#[test]
fn a_duration_ends_it_and_heal_all_does_not() {
    let seen = run_sim(
        6,
        byzantine(Adversary::Equivocate, Some(SimDuration::from_millis(500))),
        true,
        vec![],
    );
    assert_eq!(seen.honest, [at(1550)]);
    assert!(seen.acts.iter().all(|(t, _, _)| *t < at(1550)));
    assert_eq!(seen.acts.len(), 2 * 5, "broadcasts 11..=15");
    let healed = run_sim(
        6,
        byzantine(Adversary::Equivocate, None),
        true,
        vec![TimedFault {
            at: at(1500),
            fault: Fault::HealAll,
        }],
    );
    assert!(healed.honest.is_empty());
    assert!(healed.acts.iter().any(|(t, _, _)| *t > at(2500)));
}

#[test]
fn same_seed_same_trace_with_every_adversary() {
    for (i, adversary) in [
        Adversary::Equivocate,
        Adversary::Corrupt,
        Adversary::Replay,
        Adversary::DropTo(vec![NodeId(1)]),
    ]
    .into_iter()
    .enumerate()
    {
        let a = run_sim(9, byzantine(adversary.clone(), None), true, vec![]);
        let b = run_sim(9, byzantine(adversary.clone(), None), true, vec![]);
        assert_eq!(a.hash, b.hash, "adversary {i}");
        assert_eq!(a.got, b.got);
    }
}

#[test]
fn the_world_follows_byzantine_faults() {
    let names: Vec<String> = ["n1", "n2"].map(String::from).to_vec();
    let mut world = World::new(names);
    let event = |ms, node, kind| faultlab::TraceEvent {
        time: at(ms),
        node,
        kind,
    };
    let fault = byzantine(Adversary::Replay, None);
    world.observe(&event(
        100,
        Some(NodeId(0)),
        EventKind::Fault {
            fault,
            applied: true,
        },
    ));
    assert!(world.is_byzantine(NodeId(0)) && !world.is_byzantine(NodeId(1)));
    assert!(
        world
            .faults_in_force()
            .contains("n1 turns Byzantine (replay)"),
        "{}",
        world.faults_in_force()
    );
    world.observe(&event(
        200,
        None,
        EventKind::Fault {
            fault: Fault::HealAll,
            applied: true,
        },
    ));
    assert!(world.is_byzantine(NodeId(0)), "heal_all keeps it");
    world.observe(&event(300, Some(NodeId(0)), EventKind::Honest));
    assert!(!world.is_byzantine(NodeId(0)));
    assert_eq!(world.faults_in_force(), "no faults in force");
    let around = world.around(at(300), SimDuration::from_secs(1)).join("\n");
    assert!(around.contains("n1 is honest again"), "{around}");
}

// ----- through scenario text -----------------------------------------------

/// The counter as a model, with or without its tamper.
struct CounterModel {
    tamper: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoTable {}

impl Model for CounterModel {
    type Table = NoTable;
    type Params = ();
    type Msg = Num;

    fn name(&self) -> &'static str {
        if self.tamper {
            "counter"
        } else {
            "counter_plain"
        }
    }
    fn about(&self) -> &'static str {
        "n1 broadcasts a counter"
    }
    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["progress"],
            default: &[],
            always: &[],
        }
    }
    fn params(&self, _table: NoTable, _layout: &Layout) -> Result<(), ParamError> {
        Ok(())
    }
    fn tamper(&self, _params: &()) -> Option<Arc<dyn Tamper<Num>>> {
        self.tamper.then(|| Arc::new(CounterTamper) as _)
    }
    fn node(&self, _params: &(), _layout: &Layout, _id: NodeId) -> Box<dyn Node<Num>> {
        Box::new(Counter { next: 0 })
    }
}

fn scenario(model: &str, fault: &str) -> Scenario {
    let registry = Registry::builtin()
        .with(CounterModel { tamper: true })
        .with(CounterModel { tamper: false });
    let text = format!(
        "model = \"{model}\"\nduration = \"3s\"\n[nodes]\ncount = 3\n[[faults]]\nat = \"1.05s\"\nkind = \"byzantine\"\nnode = \"n1\"\n{fault}"
    );
    Scenario::parse_with(&registry, &text, "counter.toml").expect("valid")
}

/// The JSON trace lines of a run.
fn trace(s: &Scenario, seed: u64) -> (Vec<serde_json::Value>, faultlab::scenario::RunReport) {
    let path = std::env::temp_dir().join(format!(
        "faultlab-byzantine-{}-{seed}.jsonl",
        std::process::id()
    ));
    let options = RunOptions {
        trace: Some(Box::new(std::fs::File::create(&path).unwrap())),
        ..RunOptions::default()
    };
    let report = run(s, seed, options);
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, report)
}

#[test]
fn scenario_text_wires_the_models_tamper_and_the_trace_shows_it() {
    let s = scenario("counter", "adversary = \"equivocate\"\nduration = \"1s\"\n");
    let (lines, report) = trace(&s, 1);
    let kinds = |k: &str| lines.iter().filter(|l| l["kind"] == k).count();
    assert_eq!(kinds("byzantine"), 2 * 10, "broadcasts 11..=20");
    assert_eq!(kinds("honest"), 1);
    let fault = lines.iter().find(|l| l["fault"] == "byzantine").unwrap();
    assert_eq!(fault["detail"], "n1 turns Byzantine (equivocate) for 1s");
    let act = lines.iter().find(|l| l["kind"] == "byzantine").unwrap();
    assert_eq!(act["act"], "equivocated");
    assert!(report.check_notes.iter().all(|n| !n.contains("tamper")));
    assert_eq!(
        run(&s, 1, RunOptions::default()).trace_hash,
        report.trace_hash
    );

    let drop = scenario("counter", "adversary = \"drop_to\"\nto = [\"n3\"]\n");
    let (lines, _) = trace(&drop, 2);
    let dropped = lines
        .iter()
        .filter(|l| l["kind"] == "byzantine" && l["act"] == "dropped" && l["to"] == "n3");
    assert_eq!(dropped.count(), 20, "broadcasts 11..=30");
}

#[test]
fn a_model_without_tamper_says_so() {
    let s = scenario("counter_plain", "adversary = \"corrupt\"\n");
    let (lines, report) = trace(&s, 3);
    assert!(lines.iter().all(|l| l["kind"] != "byzantine"));
    assert!(
        report
            .check_notes
            .iter()
            .any(|n| n.contains("no tamper") && n.contains("unchanged")),
        "{:?}",
        report.check_notes
    );
}
