//! Crashes and pauses, proved through the engine: a crash keeps synced
//! storage and loses unsynced writes, timers and arriving messages; a pause
//! delays messages and timers without dropping them, and the node cannot
//! tell; a crash during a pause drops what the pause held.

use faultlab::engine::{EventKind, Sim, SimBuilder, TraceEvent};
use faultlab::fault::{Fault, TimedFault};
use faultlab::net::{DropReason, Latency, LinkSpec, Ordering, Topology};
use faultlab::{Ctx, Node, NodeId, SimDuration, SimTime, TimerId};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Msg {
    Ping(u64),
}

const MS: u64 = 1_000_000;

fn at_ms(n: u64) -> SimTime {
    SimTime(n * MS)
}

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

const N1: NodeId = NodeId(0);

fn fault_at(t_ms: u64, fault: Fault) -> TimedFault {
    TimedFault {
        at: at_ms(t_ms),
        fault,
    }
}

fn mesh(n: usize, latency: Latency, ordering: Ordering) -> Topology {
    Topology::full_mesh(
        n,
        LinkSpec {
            latency,
            ordering,
            ..LinkSpec::default()
        },
    )
}

fn collect(sim: &mut Sim<Msg>, end: SimTime) -> Vec<TraceEvent> {
    let mut events = Vec::new();
    sim.run_until(end, |e| {
        events.push(e.clone());
        true
    });
    events
}

/// What one node value saw: its incarnation number and each call.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Saw {
    Start {
        incarnation: u32,
        a: Option<Vec<u8>>,
        b: Option<Vec<u8>>,
    },
    Message {
        incarnation: u32,
        from: NodeId,
        msg: Msg,
        local_ns: i64,
    },
    Timer {
        incarnation: u32,
        tag: u64,
        local_ns: i64,
    },
}

type Log = Rc<RefCell<Vec<Saw>>>;

/// A test node for both roles:
/// - on start it logs its storage's "a" and "b", and on its first start
///   writes "a" and syncs, then writes "b" without syncing;
/// - it sets the timers in `timers` (local delay, tag) at every start, or only
///   at the first start if `timers_once`;
/// - it sends `Ping(k)` to node 0 at local `ping_first + k * ping_every`,
///   for `k < pings`;
/// - it logs every message and timer.
#[derive(Clone, Default)]
struct Plan {
    timers: Vec<(u64, u64)>,
    restart_timers: Vec<(u64, u64)>,
    pings: u64,
    ping_first_ms: u64,
    ping_every_ms: u64,
}

struct Probe {
    incarnation: u32,
    plan: Plan,
    next_ping: u64,
    log: Log,
}

const PING_TAG: u64 = u64::MAX;

impl Node<Msg> for Probe {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let a = ctx.storage().get("a").map(<[u8]>::to_vec);
        let b = ctx.storage().get("b").map(<[u8]>::to_vec);
        self.log.borrow_mut().push(Saw::Start {
            incarnation: self.incarnation,
            a,
            b,
        });
        let timers = if self.incarnation == 1 {
            &self.plan.timers
        } else {
            &self.plan.restart_timers
        };
        for &(after_ms, tag) in timers {
            ctx.set_timer(ms(after_ms), tag);
        }
        if self.incarnation == 1 {
            ctx.storage().put("a", b"synced".to_vec());
            ctx.storage().sync();
            ctx.storage().put("b", b"unsynced".to_vec());
            if self.plan.pings > 0 {
                ctx.set_timer(ms(self.plan.ping_first_ms), PING_TAG);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        let local_ns = ctx.now_local().0;
        self.log.borrow_mut().push(Saw::Message {
            incarnation: self.incarnation,
            from,
            msg,
            local_ns,
        });
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        if timer.tag() == PING_TAG {
            ctx.send(N1, Msg::Ping(self.next_ping));
            self.next_ping += 1;
            if self.next_ping < self.plan.pings {
                ctx.set_timer(ms(self.plan.ping_every_ms), PING_TAG);
            }
            return;
        }
        let local_ns = ctx.now_local().0;
        self.log.borrow_mut().push(Saw::Timer {
            incarnation: self.incarnation,
            tag: timer.tag(),
            local_ns,
        });
    }
}

/// Two probes with the given plans (node 0 receives, node 1 pings it);
/// returns the simulation and node 0's log.
fn two_probes(plans: [Plan; 2], topology: Topology, faults: Vec<TimedFault>) -> (Sim<Msg>, Log) {
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let shared = log.clone();
    let mut incarnations = [0u32; 2];
    let sim = SimBuilder::new(7, 2, move |id| {
        incarnations[id.index()] += 1;
        let log = if id == N1 {
            shared.clone()
        } else {
            Rc::new(RefCell::new(Vec::new()))
        };
        let plan = plans[id.index()].clone();
        Box::new(Probe {
            incarnation: incarnations[id.index()],
            plan,
            next_ping: 0,
            log,
        }) as Box<dyn Node<Msg>>
    })
    .topology(topology)
    .faults(faults)
    .build();
    (sim, log)
}

fn pinger(pings: u64, first_ms: u64, every_ms: u64) -> Plan {
    Plan {
        pings,
        ping_first_ms: first_ms,
        ping_every_ms: every_ms,
        ..Plan::default()
    }
}

/// Each message sent to node 0: (msg id, send time, scheduled arrival), in send order.
fn sends_to_n1(events: &[TraceEvent]) -> Vec<(u64, SimTime, SimTime)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Send {
                to, msg, arrival, ..
            } if to == N1 => Some((msg, e.time, arrival)),
            _ => None,
        })
        .collect()
}

/// (msg id, time) of each delivery to node 0, in delivery order.
fn deliveries_to_n1(events: &[TraceEvent]) -> Vec<(u64, SimTime)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Deliver { msg, .. } if e.node == Some(N1) => Some((msg, e.time)),
            _ => None,
        })
        .collect()
}

/// (msg id, time) of each drop of a message to node 0 with `reason`.
fn drops_to_n1(events: &[TraceEvent], reason: DropReason) -> Vec<(u64, SimTime)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Drop {
                to, msg, reason: r, ..
            } if to == N1 && r == reason => Some((msg, e.time)),
            _ => None,
        })
        .collect()
}

fn messages_seen(log: &Log) -> Vec<(u32, u64, i64)> {
    log.borrow()
        .iter()
        .filter_map(|s| match s {
            Saw::Message {
                incarnation,
                msg: Msg::Ping(k),
                local_ns,
                ..
            } => Some((*incarnation, *k, *local_ns)),
            _ => None,
        })
        .collect()
}

fn timers_seen(log: &Log) -> Vec<(u32, u64, i64)> {
    log.borrow()
        .iter()
        .filter_map(|s| match s {
            Saw::Timer {
                incarnation,
                tag,
                local_ns,
            } => Some((*incarnation, *tag, *local_ns)),
            _ => None,
        })
        .collect()
}

fn starts_seen(log: &Log) -> Vec<Saw> {
    log.borrow()
        .iter()
        .filter(|s| matches!(s, Saw::Start { .. }))
        .cloned()
        .collect()
}

#[test]
fn crash_and_restart_keep_synced_writes_and_drop_unsynced_ones() {
    let faults = vec![
        fault_at(1_000, Fault::Crash(N1)),
        fault_at(2_000, Fault::Restart(N1)),
    ];
    let (mut sim, log) = two_probes(
        [Plan::default(), Plan::default()],
        mesh(2, Latency::Constant(ms(1)), Ordering::Any),
        faults,
    );
    sim.run_until(at_ms(500), |_| true);
    assert_eq!(
        sim.storage(N1).get("b"),
        Some(&b"unsynced"[..]),
        "unsynced write visible before the crash"
    );
    assert!(sim.storage(N1).has_unsynced());
    sim.run_until(at_ms(1_500), |_| true);
    assert!(!sim.is_up(N1));
    assert_eq!(sim.storage(N1).get("a"), Some(&b"synced"[..]));
    assert_eq!(
        sim.storage(N1).get("b"),
        None,
        "the crash must lose the unsynced write"
    );
    sim.run_until(at_ms(3_000), |_| true);
    assert!(sim.is_up(N1));
    assert_eq!(
        starts_seen(&log),
        vec![
            Saw::Start {
                incarnation: 1,
                a: None,
                b: None
            },
            Saw::Start {
                incarnation: 2,
                a: Some(b"synced".to_vec()),
                b: None
            },
        ]
    );
}

#[test]
fn a_crash_drops_pending_timers_for_the_old_and_the_new_incarnation() {
    // First incarnation: timers at 1.5s (tag 1) and 5s (tag 2); crash at 1s.
    // Second incarnation (restart at 2s): one timer after 1s (tag 3).
    let plan = Plan {
        timers: vec![(1_500, 1), (5_000, 2)],
        restart_timers: vec![(1_000, 3)],
        ..Plan::default()
    };
    let (mut sim, log) = two_probes(
        [plan, Plan::default()],
        mesh(2, Latency::Constant(ms(1)), Ordering::Any),
        Vec::new(),
    );
    sim.run_until(at_ms(1_000), |_| true);
    assert_eq!(sim.pending_timers(N1), 2);
    sim.crash(N1);
    assert_eq!(sim.pending_timers(N1), 0, "a crash forgets the timers");
    sim.run_until(at_ms(2_000), |_| true);
    assert_eq!(
        sim.now(),
        at_ms(2_000),
        "skipping stale timers must not run past the end time"
    );
    sim.restart(N1);
    let events = collect(&mut sim, at_ms(10_000));
    let timer_events: Vec<&TraceEvent> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Timer { .. }))
        .collect();
    assert_eq!(
        timer_events.len(),
        1,
        "only the new incarnation's timer fires: {timer_events:?}"
    );
    assert_eq!(timer_events[0].time, at_ms(3_000));
    assert_eq!(timers_seen(&log), vec![(2, 3, (3_000 * MS) as i64)]);
}

#[test]
fn messages_arriving_while_a_node_is_down_are_dropped_with_node_down() {
    // n2 pings at 50ms, 150ms, ... (30 pings); each arrives 10ms later.
    // n1 is down from 1s to 2s: pings 10..=19 arrive then.
    let faults = vec![
        fault_at(1_000, Fault::Crash(N1)),
        fault_at(2_000, Fault::Restart(N1)),
    ];
    let (mut sim, log) = two_probes(
        [Plan::default(), pinger(30, 50, 100)],
        mesh(2, Latency::Constant(ms(10)), Ordering::Any),
        faults,
    );
    let events = collect(&mut sim, at_ms(5_000));
    let sends = sends_to_n1(&events);
    assert_eq!(sends.len(), 30);
    let expected_drops: Vec<(u64, SimTime)> = sends
        .iter()
        .filter(|s| s.2 > at_ms(1_000) && s.2 < at_ms(2_000))
        .map(|s| (s.0, s.2))
        .collect();
    assert_eq!(expected_drops.len(), 10);
    assert_eq!(
        drops_to_n1(&events, DropReason::NodeDown),
        expected_drops,
        "dropped on arrival while down"
    );
    assert_eq!(sim.stats().dropped(DropReason::NodeDown), 10);
    assert_eq!(sim.stats().messages_dropped, 10);
    let seen: Vec<(u32, u64)> = messages_seen(&log)
        .iter()
        .map(|&(i, k, _)| (i, k))
        .collect();
    let expected: Vec<(u32, u64)> = (0..10)
        .map(|k| (1, k))
        .chain((20..30).map(|k| (2, k)))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn a_pause_delays_messages_without_dropping_them_and_the_node_cannot_tell() {
    // n2 pings every 10ms from 5ms (200 pings); latency 1-30ms, any order, so
    // arrival order differs from send order. n1 is paused from 1s to 1.5s.
    let faults = vec![fault_at(
        1_000,
        Fault::Pause {
            node: N1,
            duration: ms(500),
        },
    )];
    let topology = mesh(
        2,
        Latency::Uniform {
            min: ms(1),
            max: ms(30),
        },
        Ordering::Any,
    );
    let (mut sim, log) = two_probes([Plan::default(), pinger(200, 5, 10)], topology, faults);
    let events = collect(&mut sim, at_ms(5_000));
    let (pause_start, resume) = (at_ms(1_000), at_ms(1_500));

    let sends = sends_to_n1(&events);
    assert_eq!(sends.len(), 200);
    assert_eq!(sim.stats().messages_dropped, 0, "a pause drops nothing");
    let deliveries = deliveries_to_n1(&events);
    assert_eq!(deliveries.len(), 200, "every message is delivered");

    // Expected: held messages (arrival in [1s, 1.5s)) at the resume, in
    // arrival order (ties in send order); the rest at their arrival.
    let held = |arrival: SimTime| arrival >= pause_start && arrival < resume;
    let mut expected: Vec<(SimTime, SimTime, u64)> = sends
        .iter()
        .map(|&(id, _, arrival)| (if held(arrival) { resume } else { arrival }, arrival, id))
        .collect();
    expected.sort();
    let expected: Vec<(u64, SimTime)> = expected.iter().map(|&(at, _, id)| (id, at)).collect();
    let held_count = sends.iter().filter(|s| held(s.2)).count();
    assert!(
        held_count >= 40,
        "the pause should hold many messages, held {held_count}"
    );
    assert!(
        sends
            .windows(2)
            .any(|w| w[1].2 < w[0].2 && held(w[0].2) && held(w[1].2)),
        "the held messages should arrive out of send order, or arrival order is not tested"
    );
    assert_eq!(deliveries, expected);
    assert!(
        deliveries
            .iter()
            .all(|&(_, t)| t < pause_start || t >= resume),
        "nothing delivered during the pause"
    );

    // The node saw plain pings, in delivery order, from one incarnation, and
    // read its clock as usual.
    let ping_of: BTreeMap<u64, u64> = sends
        .iter()
        .enumerate()
        .map(|(k, s)| (s.0, k as u64))
        .collect();
    let seen = messages_seen(&log);
    let from_trace: Vec<(u32, u64, i64)> = deliveries
        .iter()
        .map(|&(id, t)| (1, ping_of[&id], t.0 as i64))
        .collect();
    assert_eq!(seen, from_trace);
    assert_eq!(starts_seen(&log).len(), 1, "no restart");
    let starts = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Start { .. }) && e.node == Some(N1))
        .count();
    assert_eq!(starts, 1, "the node started once, at 0");
}

#[test]
fn a_timer_due_during_a_pause_fires_at_the_resume_not_before() {
    // Timers at 1.2s (tag 1, due during the pause) and 2s (tag 2, after it).
    let plan = Plan {
        timers: vec![(1_200, 1), (2_000, 2)],
        ..Plan::default()
    };
    let faults = vec![fault_at(
        1_000,
        Fault::Pause {
            node: N1,
            duration: ms(500),
        },
    )];
    let (mut sim, log) = two_probes(
        [plan, Plan::default()],
        mesh(2, Latency::Constant(ms(1)), Ordering::Any),
        faults,
    );
    sim.run_until(at_ms(1_499), |_| true);
    assert_eq!(
        sim.now(),
        at_ms(1_499),
        "run_until must stop at its end time"
    );
    assert!(sim.is_paused(N1));
    assert!(timers_seen(&log).is_empty(), "fired during the pause");
    let events = collect(&mut sim, at_ms(5_000));
    let timer_times: Vec<SimTime> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Timer { .. }))
        .map(|e| e.time)
        .collect();
    assert_eq!(timer_times, vec![at_ms(1_500), at_ms(2_000)]);
    assert_eq!(
        timers_seen(&log),
        vec![(1, 1, (1_500 * MS) as i64), (1, 2, (2_000 * MS) as i64)]
    );
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::Resume && e.time == at_ms(1_500)));
}

#[test]
fn a_pause_keeps_fifo_order_when_a_message_arrives_exactly_at_the_resume() {
    // FIFO link, 10ms latency. n1 paused from 100ms to 120ms. Ping 0 is sent
    // at 105ms and held (arrives 115ms); ping 1 is sent at 110ms and arrives
    // exactly at 120ms, as n1 resumes. Ping 0 must still come first.
    let faults = vec![fault_at(
        100,
        Fault::Pause {
            node: N1,
            duration: ms(20),
        },
    )];
    let (mut sim, log) = two_probes(
        [Plan::default(), pinger(2, 105, 5)],
        mesh(2, Latency::Constant(ms(10)), Ordering::Fifo),
        faults,
    );
    let events = collect(&mut sim, at_ms(1_000));
    let arrivals: Vec<SimTime> = sends_to_n1(&events).iter().map(|s| s.2).collect();
    assert_eq!(arrivals, vec![at_ms(115), at_ms(120)]);
    let seen: Vec<u64> = messages_seen(&log).iter().map(|&(_, k, _)| k).collect();
    assert_eq!(
        seen,
        vec![0, 1],
        "a resumed node must get held messages before later arrivals"
    );
}

#[test]
fn a_crash_during_a_pause_drops_what_the_pause_held() {
    // n2 pings at 50ms, 150ms, ... (40 pings), arriving 10ms later. n1 has a
    // timer due at 1.3s; it is paused at 1s for 1s, crashed at 1.5s and
    // restarted at 2.5s.
    let plan = Plan {
        timers: vec![(1_300, 1)],
        ..Plan::default()
    };
    let faults = vec![
        fault_at(
            1_000,
            Fault::Pause {
                node: N1,
                duration: ms(1_000),
            },
        ),
        fault_at(1_500, Fault::Crash(N1)),
        fault_at(2_500, Fault::Restart(N1)),
    ];
    let (mut sim, log) = two_probes(
        [plan, pinger(40, 50, 100)],
        mesh(2, Latency::Constant(ms(10)), Ordering::Any),
        faults,
    );
    let mut events = collect(&mut sim, at_ms(1_499));
    assert!(sim.is_paused(N1));
    events.extend(collect(&mut sim, at_ms(1_500)));
    assert!(
        !sim.is_paused(N1) && !sim.is_up(N1),
        "a crash ends the pause"
    );
    events.extend(collect(&mut sim, at_ms(6_000)));

    let sends = sends_to_n1(&events);
    assert_eq!(sends.len(), 40);
    let held: Vec<(u64, SimTime)> = sends
        .iter()
        .filter(|s| s.2 >= at_ms(1_000) && s.2 < at_ms(1_500))
        .map(|s| (s.0, at_ms(1_500)))
        .collect();
    let down: Vec<(u64, SimTime)> = sends
        .iter()
        .filter(|s| s.2 > at_ms(1_500) && s.2 < at_ms(2_500))
        .map(|s| (s.0, s.2))
        .collect();
    assert_eq!(held.len(), 5);
    let expected_drops: Vec<(u64, SimTime)> = held.iter().chain(&down).copied().collect();
    assert_eq!(
        drops_to_n1(&events, DropReason::NodeDown),
        expected_drops,
        "held ones dropped at the crash"
    );
    assert_eq!(sim.stats().messages_dropped, 15);

    assert!(timers_seen(&log).is_empty(), "the held timer must not fire");
    assert!(
        !events.iter().any(|e| e.kind == EventKind::Resume),
        "a crashed node does not resume"
    );
    let seen: Vec<(u32, u64)> = messages_seen(&log)
        .iter()
        .map(|&(i, k, _)| (i, k))
        .collect();
    let expected: Vec<(u32, u64)> = (0..10)
        .map(|k| (1, k))
        .chain((25..40).map(|k| (2, k)))
        .collect();
    assert_eq!(seen, expected);
}
