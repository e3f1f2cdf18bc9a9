//! Network semantics, proved through the engine: loss and duplication rates,
//! partitions (groups, one-way, bridges, isolation), in-flight drops, and
//! FIFO versus any-order links.

use faultlab::engine::{EventKind, Sim, SimBuilder, TraceEvent};
use faultlab::fault::{Fault, TimedFault};
use faultlab::net::{Cut, DropReason, Latency, LinkSpec, Ordering, Topology};
use faultlab::rng::Probability;
use faultlab::{Ctx, Node, NodeId, SimDuration, SimTime, TimerId};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

#[derive(Clone, Debug, Hash)]
struct Packet {
    seq: u64,
}

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn at_ms(n: u64) -> SimTime {
    SimTime(n * 1_000_000)
}

fn ids(xs: &[u32]) -> Vec<NodeId> {
    xs.iter().map(|&x| NodeId(x)).collect()
}

fn link(latency: Latency, loss: f64, duplicate: f64, ordering: Ordering) -> LinkSpec {
    LinkSpec {
        latency,
        loss: Probability::from_f64(loss).unwrap(),
        duplicate: Probability::from_f64(duplicate).unwrap(),
        ordering,
    }
}

/// Runs to `end`, returning every trace event.
fn collect(sim: &mut Sim<Packet>, end: SimTime) -> Vec<TraceEvent> {
    let mut events = Vec::new();
    sim.run_until(end, |e| {
        events.push(e.clone());
        true
    });
    events
}

/// Sends `count` packets to node 1 at start and counts what it receives.
struct Blaster {
    count: u64,
    received: Rc<RefCell<Vec<u32>>>,
}

impl Node<Packet> for Blaster {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Packet>) {
        if ctx.id() == NodeId(0) {
            for seq in 0..self.count {
                ctx.send(NodeId(1), Packet { seq });
            }
        }
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Packet>, _from: NodeId, msg: Packet) {
        self.received.borrow_mut()[msg.seq as usize] += 1;
    }
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Packet>, _timer: TimerId) {}
}

/// `|observed - p * n| <= 5 sigma` for a binomial(n, p) count.
fn assert_binomial(what: &str, observed: u64, n: u64, p: f64) {
    let mean = p * n as f64;
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    let deviation = (observed as f64 - mean).abs();
    assert!(
        deviation <= 5.0 * sigma,
        "{what}: observed {observed} of {n}, expected {mean:.0} +- {:.0} (5 sigma)",
        5.0 * sigma
    );
}

#[test]
fn loss_and_duplication_rates_stay_within_five_sigma_over_100k_messages() {
    const COUNT: u64 = 100_000;
    let received = Rc::new(RefCell::new(vec![0u32; COUNT as usize]));
    let shared = received.clone();
    let spec = link(Latency::Constant(ms(1)), 0.1, 0.05, Ordering::Any);
    let mut sim = SimBuilder::new(11, 2, move |_| {
        Box::new(Blaster {
            count: COUNT,
            received: shared.clone(),
        }) as Box<dyn Node<Packet>>
    })
    .topology(Topology::full_mesh(2, spec))
    .build();
    let events = collect(&mut sim, SimTime(1_000_000_000));

    let stats = *sim.stats();
    let traced_losses = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Drop {
                    reason: DropReason::Loss,
                    ..
                }
            )
        })
        .count() as u64;
    let traced_duplicates = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Duplicate { .. }))
        .count() as u64;
    let traced_deliveries = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Deliver { .. }))
        .count() as u64;
    assert_eq!(stats.messages_sent, COUNT);
    assert_eq!(stats.dropped(DropReason::Loss), traced_losses);
    assert_eq!(
        stats.messages_dropped, traced_losses,
        "only loss may drop here"
    );
    assert_eq!(stats.messages_duplicated, traced_duplicates);
    assert_eq!(stats.messages_delivered, traced_deliveries);
    assert_eq!(traced_deliveries, COUNT - traced_losses + traced_duplicates);

    assert_binomial("loss", traced_losses, COUNT, 0.1);
    // Duplication is drawn only for messages that were not lost.
    assert_binomial(
        "duplication",
        traced_duplicates,
        COUNT - traced_losses,
        0.05,
    );

    let received = received.borrow();
    let never = received.iter().filter(|&&c| c == 0).count() as u64;
    let twice = received.iter().filter(|&&c| c == 2).count() as u64;
    assert!(
        received.iter().all(|&c| c <= 2),
        "a packet arrived more than twice"
    );
    assert_eq!(never, traced_losses, "lost packets must never arrive");
    assert_eq!(
        twice, traced_duplicates,
        "duplicated packets must arrive exactly twice"
    );
}

/// Sends one packet to every peer when its timer fires at 10ms.
struct MeshSender;

impl Node<Packet> for MeshSender {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Packet>) {
        ctx.set_timer(ms(10), 0);
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Packet>, _from: NodeId, _msg: Packet) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Packet>, _timer: TimerId) {
        let me = u64::from(ctx.id().0);
        ctx.broadcast(Packet { seq: me });
    }
}

/// Ordered pairs (from, to) that were delivered and that were dropped by a
/// partition at send, when every node sends to every other after `cut`.
struct PairOutcome {
    delivered: BTreeSet<(u32, u32)>,
    cut: BTreeSet<(u32, u32)>,
}

fn every_pair_sends_after(n: usize, cut: Cut) -> PairOutcome {
    let spec = link(Latency::Constant(ms(1)), 0.0, 0.0, Ordering::Any);
    let mut sim = SimBuilder::new(5, n, |_| Box::new(MeshSender) as Box<dyn Node<Packet>>)
        .topology(Topology::full_mesh(n, spec))
        .build();
    sim.run_until(at_ms(5), |_| true);
    sim.partition(cut);
    assert!(
        matches!(
            sim.events(),
            [TraceEvent {
                kind: EventKind::Fault { applied: true, .. },
                ..
            }]
        ),
        "partition not applied: {:?}",
        sim.events()
    );
    let events = collect(&mut sim, at_ms(100));
    let mut outcome = PairOutcome {
        delivered: BTreeSet::new(),
        cut: BTreeSet::new(),
    };
    for e in &events {
        match e.kind {
            EventKind::Deliver { from, .. } => {
                let fresh = outcome.delivered.insert((from.0, e.node.unwrap().0));
                assert!(fresh, "pair delivered twice: {e:?}");
            }
            EventKind::Drop {
                from, to, reason, ..
            } => {
                assert_eq!(reason, DropReason::Partition, "unexpected drop {e:?}");
                assert!(
                    outcome.cut.insert((from.0, to.0)),
                    "pair dropped twice: {e:?}"
                );
            }
            _ => {}
        }
    }
    assert_eq!(sim.stats().messages_sent, (n * (n - 1)) as u64);
    assert_eq!(
        sim.stats().dropped(DropReason::Partition),
        outcome.cut.len() as u64
    );
    assert_eq!(
        outcome.delivered.len() + outcome.cut.len(),
        n * (n - 1),
        "every pair accounted once"
    );
    outcome
}

/// Ordered pairs of distinct nodes among `0..n` for which `blocked` holds.
fn pairs(n: u32, blocked: impl Fn(u32, u32) -> bool) -> BTreeSet<(u32, u32)> {
    (0..n)
        .flat_map(|a| (0..n).map(move |b| (a, b)))
        .filter(|&(a, b)| a != b && blocked(a, b))
        .collect()
}

#[test]
fn group_partition_drops_exactly_the_cross_group_pairs() {
    let left = |x: u32| x < 2;
    let outcome = every_pair_sends_after(5, Cut::Groups(vec![ids(&[0, 1]), ids(&[2, 3, 4])]));
    assert_eq!(outcome.cut, pairs(5, |a, b| left(a) != left(b)));
    assert_eq!(outcome.delivered, pairs(5, |a, b| left(a) == left(b)));
    assert_eq!(outcome.cut.len(), 12);
}

#[test]
fn one_way_cut_blocks_only_the_cut_direction() {
    let outcome = every_pair_sends_after(
        4,
        Cut::OneWay {
            from: ids(&[0, 1]),
            to: ids(&[3]),
        },
    );
    let blocked = |a: u32, b: u32| a < 2 && b == 3;
    assert_eq!(outcome.cut, pairs(4, blocked));
    assert_eq!(outcome.delivered, pairs(4, |a, b| !blocked(a, b)));
    assert!(outcome.delivered.contains(&(3, 0)) && outcome.delivered.contains(&(3, 1)));
}

#[test]
fn bridge_node_talks_to_both_sides_while_the_sides_cannot_talk() {
    // Node 2 is in no group: it bridges {0,1} and {3,4}.
    let side = |x: u32| match x {
        0 | 1 => Some(0),
        3 | 4 => Some(1),
        _ => None,
    };
    let outcome = every_pair_sends_after(5, Cut::Groups(vec![ids(&[0, 1]), ids(&[3, 4])]));
    let blocked = |a: u32, b: u32| matches!((side(a), side(b)), (Some(x), Some(y)) if x != y);
    assert_eq!(outcome.cut, pairs(5, blocked));
    assert_eq!(outcome.delivered, pairs(5, |a, b| !blocked(a, b)));
    for other in [0, 1, 3, 4] {
        assert!(
            outcome.delivered.contains(&(2, other)),
            "bridge -> n{}",
            other + 1
        );
        assert!(
            outcome.delivered.contains(&(other, 2)),
            "n{} -> bridge",
            other + 1
        );
    }
}

#[test]
fn isolate_cuts_every_edge_of_one_node_and_no_other() {
    let outcome = every_pair_sends_after(4, Cut::Isolate(NodeId(2)));
    assert_eq!(outcome.cut, pairs(4, |a, b| a == 2 || b == 2));
    assert_eq!(outcome.delivered, pairs(4, |a, b| a != 2 && b != 2));
    assert_eq!(outcome.cut.len(), 6);
}

/// Node 0 sends packet `seq` to node 1 when its timer with tag `seq` fires;
/// the timers are set at start for the given times.
struct Scripted {
    send_at: Vec<SimDuration>,
}

impl Node<Packet> for Scripted {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Packet>) {
        if ctx.id() == NodeId(0) {
            for (seq, &after) in self.send_at.iter().enumerate() {
                ctx.set_timer(after, seq as u64);
            }
        }
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Packet>, _from: NodeId, _msg: Packet) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Packet>, timer: TimerId) {
        ctx.send(NodeId(1), Packet { seq: timer.tag() });
    }
}

/// Outcome of each message id: delivered (and when) or dropped (and why).
fn outcomes(events: &[TraceEvent]) -> BTreeMap<u64, Result<SimTime, DropReason>> {
    let mut out = BTreeMap::new();
    for e in events {
        match e.kind {
            EventKind::Deliver { msg, .. } => assert!(out.insert(msg, Ok(e.time)).is_none()),
            EventKind::Drop { msg, reason, .. } => assert!(out.insert(msg, Err(reason)).is_none()),
            _ => {}
        }
    }
    out
}

fn two_nodes_with_faults(send_at: Vec<SimDuration>, faults: Vec<(u64, Fault)>) -> Sim<Packet> {
    let spec = link(Latency::Constant(ms(10)), 0.0, 0.0, Ordering::Any);
    let faults = faults
        .into_iter()
        .map(|(t, fault)| TimedFault {
            at: at_ms(t),
            fault,
        })
        .collect();
    SimBuilder::new(3, 2, move |_| {
        Box::new(Scripted {
            send_at: send_at.clone(),
        }) as Box<dyn Node<Packet>>
    })
    .topology(Topology::full_mesh(2, spec))
    .faults(faults)
    .build()
}

#[test]
fn message_in_flight_when_a_partition_starts_is_dropped_on_arrival() {
    // Sent at 0 (edge open), cut at 2ms, arrives at 10ms while still cut.
    let split = Fault::Partition(Cut::Groups(vec![ids(&[0]), ids(&[1])]));
    let mut sim =
        two_nodes_with_faults(vec![SimDuration::ZERO], vec![(2, split), (20, Fault::Heal)]);
    let events = collect(&mut sim, at_ms(100));
    let send = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Send { .. }))
        .unwrap();
    assert!(
        matches!(send.kind, EventKind::Send { arrival, .. } if arrival == at_ms(10)),
        "the send itself must go through: {send:?}"
    );
    let drop = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Drop { .. }))
        .expect("a drop");
    assert!(matches!(
        drop.kind,
        EventKind::Drop {
            reason: DropReason::PartitionedInFlight,
            ..
        }
    ));
    assert_eq!(
        drop.time,
        at_ms(10),
        "dropped on arrival, not when the cut started"
    );
    assert_eq!(sim.stats().dropped(DropReason::PartitionedInFlight), 1);
    assert_eq!(sim.stats().messages_delivered, 0);
}

#[test]
fn message_in_flight_across_a_heal_is_delivered_and_a_cut_send_is_not_resurrected() {
    // Packet 0: sent at 0, cut at 2ms, healed at 5ms, arrives at 10ms: delivered.
    // Packet 1: sent at 3ms into the cut: dropped at send; the heal at 5ms
    // does not bring it back.
    let split = Fault::Partition(Cut::Groups(vec![ids(&[0]), ids(&[1])]));
    let mut sim = two_nodes_with_faults(
        vec![SimDuration::ZERO, ms(3)],
        vec![(2, split), (5, Fault::Heal)],
    );
    let events = collect(&mut sim, at_ms(100));
    let out = outcomes(&events);
    assert_eq!(out.len(), 2, "{out:?}");
    let mut by_send_time = out.values();
    assert_eq!(by_send_time.next(), Some(&Ok(at_ms(10))));
    assert_eq!(by_send_time.next(), Some(&Err(DropReason::Partition)));
    let drop = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Drop { .. }))
        .unwrap();
    assert_eq!(
        drop.time,
        at_ms(3),
        "a send into a cut is dropped at send time"
    );
    assert_eq!(sim.stats().messages_delivered, 1);
}

/// Every node sends a numbered packet to every peer every millisecond, and
/// logs (from, to, seq) in delivery order.
struct Streamer {
    remaining: u64,
    next_seq: u64,
    log: Rc<RefCell<Vec<(u32, u32, u64)>>>,
}

impl Node<Packet> for Streamer {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Packet>) {
        ctx.set_timer(ms(1), 0);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Packet>, from: NodeId, msg: Packet) {
        self.log.borrow_mut().push((from.0, ctx.id().0, msg.seq));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Packet>, _timer: TimerId) {
        ctx.broadcast(Packet { seq: self.next_seq });
        self.next_seq += 1;
        self.remaining -= 1;
        if self.remaining > 0 {
            ctx.set_timer(ms(1), 0);
        }
    }
}

/// Streams over links with latency uniform in 1-200ms (and some loss and
/// duplication); returns the delivery log and the number of adjacent
/// inversions per directed link.
fn stream(ordering: Ordering) -> (Vec<(u32, u32, u64)>, usize) {
    const NODES: usize = 3;
    const ROUNDS: u64 = 2_000;
    let log = Rc::new(RefCell::new(Vec::new()));
    let shared = log.clone();
    let spec = link(
        Latency::Uniform {
            min: ms(1),
            max: ms(200),
        },
        0.05,
        0.05,
        ordering,
    );
    let mut sim = SimBuilder::new(21, NODES, move |_| {
        Box::new(Streamer {
            remaining: ROUNDS,
            next_seq: 0,
            log: shared.clone(),
        }) as Box<dyn Node<Packet>>
    })
    .topology(Topology::full_mesh(NODES, spec))
    .build();
    sim.run_until(SimTime(10_000_000_000), |_| true);
    assert_eq!(
        sim.stats().messages_sent,
        (NODES * (NODES - 1)) as u64 * ROUNDS
    );
    let log = log.borrow().clone();
    let mut last: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    let mut inversions = 0;
    for &(from, to, seq) in &log {
        if let Some(previous) = last.insert((from, to), seq) {
            if seq < previous {
                inversions += 1;
            }
        }
    }
    assert_eq!(
        last.len(),
        NODES * (NODES - 1),
        "every directed link carried packets"
    );
    (log, inversions)
}

#[test]
fn fifo_links_never_reorder_even_with_wide_latency_spread() {
    let (log, inversions) = stream(Ordering::Fifo);
    assert!(
        log.len() > 10_000,
        "too few deliveries to mean anything: {}",
        log.len()
    );
    assert_eq!(inversions, 0, "a FIFO link delivered out of send order");
}

#[test]
fn any_order_links_with_wide_latency_spread_do_reorder() {
    // The control for the FIFO test: the same traffic on "any" links must
    // reorder, or the FIFO test could not catch a broken FIFO flag.
    let (log, inversions) = stream(Ordering::Any);
    assert!(
        log.len() > 10_000,
        "too few deliveries to mean anything: {}",
        log.len()
    );
    assert!(
        inversions > 100,
        "only {inversions} reorderings with 1-200ms spread"
    );
}

/// Every node sends one message to every other node at start.
struct Greeter;

#[derive(Clone, Debug, Hash)]
struct Hello;

impl Node<Hello> for Greeter {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Hello>) {
        ctx.broadcast(Hello);
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Hello>, _from: NodeId, _msg: Hello) {}
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Hello>, _timer: TimerId) {}
}

#[test]
fn zones_give_links_inside_and_between_zones_their_own_latency() {
    let text = r#"
model = "heartbeat"
duration = "1s"
checks = ["accuracy"]
[heartbeat]
interval = "100ms"
timeout = "500ms"
[nodes]
count = 5
zones = { az1 = ["n1", "n2"], az2 = ["n3", "n4"] }
[network]
latency = { dist = "constant", value = "1ms" }
[network.inter_zone]
latency = { dist = "constant", value = "30ms" }
"#;
    let scenario = faultlab::scenario::Scenario::parse(text, "zones.toml").expect("valid");
    let zone = |n: u32| match n {
        0 | 1 => 1,
        2 | 3 => 2,
        _ => 0, // n5 is in no zone: a zone of its own
    };
    let mut sim = SimBuilder::new(1, 5, |_| Box::new(Greeter) as Box<dyn Node<Hello>>)
        .topology(scenario.topology.clone())
        .build();
    let mut sends = 0;
    while sim.step() == faultlab::engine::Step::Ran {
        for event in sim.events() {
            if let (EventKind::Send { to, arrival, .. }, Some(from)) = (&event.kind, event.node) {
                let expected_ms = if zone(from.0) == zone(to.0) { 1 } else { 30 };
                assert_eq!(
                    *arrival - event.time,
                    SimDuration::from_millis(expected_ms),
                    "{from:?} -> {to:?}"
                );
                sends += 1;
            }
        }
    }
    assert_eq!(sends, 20, "every ordered pair of 5 nodes");
}
