//! Timing noise (`[noise]`): timers fire late by the jitter and never early,
//! a handler's sends leave after its processing time and after the disk
//! syncs it waits for, a crash before a sync completes loses the write and
//! the sends that waited for it, syncs complete in order, and every knob on
//! is still deterministic while all of them at zero change nothing.

use faultlab::engine::{EventKind, Noise, Sim, SimBuilder, TraceEvent};
use faultlab::fault::{Fault, TimedFault};
use faultlab::net::{Latency, LinkSpec, Topology};
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::{Ctx, Node, NodeId, SimDuration, SimTime, TimerId};
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Ping(u64);

const MS: u64 = 1_000_000;
const N1: NodeId = NodeId(0);
const N2: NodeId = NodeId(1);

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn constant(n_ms: u64) -> Option<Latency> {
    Some(Latency::Constant(ms(n_ms)))
}

/// Two nodes (or more) on links of constant 1ms latency.
fn builder<N: Node<Ping> + 'static>(
    nodes: usize,
    seed: u64,
    noise: Noise,
    node: impl Fn(NodeId) -> N + 'static,
) -> SimBuilder<Ping> {
    let link = LinkSpec {
        latency: Latency::Constant(ms(1)),
        ..LinkSpec::default()
    };
    SimBuilder::new(seed, nodes, move |id| {
        Box::new(node(id)) as Box<dyn Node<Ping>>
    })
    .topology(Topology::full_mesh(nodes, link))
    .noise(noise)
}

fn collect(sim: &mut Sim<Ping>, end_ms: u64) -> Vec<TraceEvent> {
    let mut events = Vec::new();
    sim.run_until(SimTime(end_ms * MS), |e| {
        events.push(e.clone());
        true
    });
    events
}

/// (time in ms, sender, receiver) of every send event.
fn sends(events: &[TraceEvent]) -> Vec<(f64, NodeId, NodeId)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Send { to, .. } => Some((e.time.0 as f64 / MS as f64, e.node?, to)),
            _ => None,
        })
        .collect()
}

/// (time in ms, receiver) of every delivery.
fn deliveries(events: &[TraceEvent]) -> Vec<(f64, NodeId)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Deliver { .. } => Some((e.time.0 as f64 / MS as f64, e.node?)),
            _ => None,
        })
        .collect()
}

fn fault_at(t_ms: u64, fault: Fault) -> TimedFault {
    TimedFault {
        at: SimTime(t_ms * MS),
        fault,
    }
}

// ---- timer jitter ----

/// Sets `count` timers at start, the k-th due at local k ms (its tag), and
/// notes how late each fired on its own (exact) clock.
struct Timers {
    count: u64,
    lateness: Rc<RefCell<Vec<i64>>>,
}

impl Node<Ping> for Timers {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Ping>) {
        for k in 1..=self.count {
            ctx.set_timer(ms(k), k * MS);
        }
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Ping>, _: NodeId, _: Ping) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Ping>, timer: TimerId) {
        let late = ctx.now_local().0 - timer.tag() as i64;
        self.lateness.borrow_mut().push(late);
    }
}

#[test]
fn timers_fire_late_by_the_jitter_and_never_early() {
    const COUNT: usize = 10_000;
    let lateness = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&lateness);
    let noise = Noise {
        timer_jitter: Some(Latency::Uniform {
            min: SimDuration::ZERO,
            max: ms(1),
        }),
        ..Noise::default()
    };
    let mut sim = builder(1, 7, noise, move |_| Timers {
        count: COUNT as u64,
        lateness: Rc::clone(&seen),
    })
    .build();
    let events = collect(&mut sim, COUNT as u64 + 2);
    let lateness = lateness.borrow();
    assert_eq!(lateness.len(), COUNT, "every timer fired once");
    let fired = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Timer { .. }))
        .count();
    assert_eq!(fired, COUNT);
    let (min, max) = (
        lateness.iter().min().unwrap(),
        lateness.iter().max().unwrap(),
    );
    assert!(*min >= 0, "a timer fired {}ns early", -min);
    assert!(
        *max <= MS as i64,
        "a timer fired {max}ns late, past the 1ms jitter"
    );
    let mean = lateness.iter().sum::<i64>() as f64 / COUNT as f64;
    // Uniform 0-1ms: mean 0.5ms, standard error 0.29ms / 100 = 2.9us.
    assert!(
        (mean - 0.5e6).abs() < 15e3,
        "mean lateness {mean}ns, expected 0.5ms"
    );
    let early_tenth = lateness.iter().filter(|l| **l < 100_000).count();
    let late_tenth = lateness.iter().filter(|l| **l > 900_000).count();
    assert!(
        (800..1200).contains(&early_tenth) && (800..1200).contains(&late_tenth),
        "the range is covered evenly: {early_tenth} in the first tenth, {late_tenth} in the last"
    );
}

#[test]
fn without_jitter_timers_fire_on_time() {
    let lateness = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&lateness);
    let mut sim = builder(1, 7, Noise::default(), move |_| Timers {
        count: 100,
        lateness: Rc::clone(&seen),
    })
    .build();
    collect(&mut sim, 200);
    assert!(lateness.borrow().iter().all(|l| *l == 0));
    assert_eq!(lateness.borrow().len(), 100);
}

#[test]
fn a_clock_jump_keeps_a_timers_jitter() {
    // A 100ms timer with 3ms of jitter; at 10ms the clock steps 50ms
    // forward, so the clock reads 100ms at true 50ms: it fires at 53ms.
    let lateness = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&lateness);
    struct One(Rc<RefCell<Vec<i64>>>);
    impl Node<Ping> for One {
        fn on_start(&mut self, ctx: &mut Ctx<'_, Ping>) {
            ctx.set_timer(ms(100), 100 * MS);
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Ping>, _: NodeId, _: Ping) {}
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Ping>, timer: TimerId) {
            self.0
                .borrow_mut()
                .push(ctx.now_local().0 - timer.tag() as i64);
        }
    }
    let noise = Noise {
        timer_jitter: constant(3),
        ..Noise::default()
    };
    let mut sim = builder(1, 1, noise, move |_| One(Rc::clone(&seen)))
        .faults(vec![fault_at(
            10,
            Fault::ClockJump {
                node: N1,
                by_ns: 50 * MS as i64,
            },
        )])
        .build();
    let events = collect(&mut sim, 200);
    let timer_at: Vec<u64> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Timer { .. }))
        .map(|e| e.time.0)
        .collect();
    assert_eq!(
        timer_at,
        [53 * MS],
        "fired at the jumped deadline plus its jitter"
    );
    assert_eq!(*lateness.borrow(), [3 * MS as i64]);
}

// ---- processing delay ----

/// Sends `burst` pings to n2 at start; every ping to n2 is answered.
struct Pinger {
    burst: u64,
}

impl Node<Ping> for Pinger {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Ping>) {
        if ctx.id() == N1 {
            for i in 0..self.burst {
                ctx.send(N2, Ping(i));
            }
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Ping>, from: NodeId, msg: Ping) {
        if ctx.id() == N2 {
            ctx.send(from, msg);
        }
    }
    fn on_timer(&mut self, _: &mut Ctx<'_, Ping>, _: TimerId) {}
}

#[test]
fn processing_delays_a_handlers_sends_and_a_node_works_one_call_at_a_time() {
    let noise = Noise {
        processing: constant(2),
        ..Noise::default()
    };
    let mut sim = builder(2, 1, noise, |_| Pinger { burst: 2 }).build();
    let events = collect(&mut sim, 50);
    // n1's start: both pings leave after 2ms of processing, arrive at 3ms.
    // n2 answers each in its own call: its CPU is busy until 5ms, then 7ms.
    assert_eq!(
        sends(&events),
        [(2.0, N1, N2), (2.0, N1, N2), (5.0, N2, N1), (7.0, N2, N1)]
    );
    assert_eq!(
        deliveries(&events),
        [(3.0, N2), (3.0, N2), (6.0, N1), (8.0, N1)]
    );
    let mut quiet = builder(2, 1, Noise::default(), |_| Pinger { burst: 2 }).build();
    let events = collect(&mut quiet, 50);
    assert_eq!(
        sends(&events),
        [(0.0, N1, N2), (0.0, N1, N2), (1.0, N2, N1), (1.0, N2, N1)]
    );
}

/// n1 sends Ping(0) at start and Ping(1) from a timer due at 2ms.
struct TwoSends;

impl Node<Ping> for TwoSends {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Ping>) {
        if ctx.id() == N1 {
            ctx.send(N2, Ping(0));
            ctx.set_timer(ms(2), 0);
        }
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Ping>, _: NodeId, _: Ping) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Ping>, _: TimerId) {
        ctx.send(N2, Ping(1));
    }
}

#[test]
fn a_nodes_messages_leave_in_the_order_it_sent_them() {
    // Processing of 0 or 2ms. When the start takes 2ms, its Ping(0) is due
    // at 2ms, the instant the timer fires; a timer call that takes 0ms must
    // still not send Ping(1) ahead of it.
    let mut tied = 0;
    for seed in 0..24 {
        let noise = Noise {
            processing: Some(Latency::Bimodal {
                min: SimDuration::ZERO,
                max: SimDuration::ZERO,
                slow_min: ms(2),
                slow_max: ms(2),
                slow_probability: faultlab::rng::Probability::from_f64(0.5).unwrap(),
            }),
            ..Noise::default()
        };
        let mut sim = builder(2, seed, noise, |_| TwoSends)
            .describe_messages(true)
            .build();
        let events = collect(&mut sim, 50);
        let sent: Vec<(u64, String)> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Send { text, .. } => Some((e.time.0, text.as_deref()?.to_string())),
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            (sent[0].1.as_str(), sent[1].1.as_str()),
            ("Ping(0)", "Ping(1)"),
            "seed {seed}"
        );
        tied += usize::from(sent[0].0 == 2 * MS && sent[1].0 == 2 * MS);
    }
    assert!(tied > 0, "some seed ties the two departures at 2ms");
}

#[test]
fn a_paused_node_sends_when_it_resumes() {
    let noise = Noise {
        processing: constant(2),
        ..Noise::default()
    };
    let mut sim = builder(2, 1, noise, |_| Pinger { burst: 1 })
        .faults(vec![fault_at(
            1,
            Fault::Pause {
                node: N1,
                duration: ms(10),
            },
        )])
        .build();
    let events = collect(&mut sim, 50);
    assert_eq!(sends(&events)[0], (11.0, N1, N2));
    // Crashed during the pause: what the pause held never leaves.
    let mut sim = builder(2, 1, noise_of_processing(2), |_| Pinger { burst: 1 })
        .faults(vec![
            fault_at(
                1,
                Fault::Pause {
                    node: N1,
                    duration: ms(10),
                },
            ),
            fault_at(5, Fault::Crash(N1)),
        ])
        .build();
    let events = collect(&mut sim, 50);
    assert!(sends(&events).is_empty());
    let unsent: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Unsent { .. }))
        .map(|e| (e.time, e.kind.clone()))
        .collect();
    assert_eq!(
        unsent,
        [(SimTime(5 * MS), EventKind::Unsent { messages: 1 })]
    );
}

fn noise_of_processing(n_ms: u64) -> Noise {
    Noise {
        processing: constant(n_ms),
        ..Noise::default()
    }
}

// ---- sync latency ----

/// At start: if its disk holds `k`, records that; else writes `k`, syncs
/// and tells n2. n2 does nothing.
struct Writer;

impl Node<Ping> for Writer {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Ping>) {
        if ctx.id() != N1 {
            return;
        }
        if ctx.storage().get("k").is_some() {
            ctx.record("found", serde_json::Value::Null);
            return;
        }
        ctx.storage().put("k", vec![1]);
        ctx.storage().sync();
        ctx.send(N2, Ping(1));
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Ping>, _: NodeId, _: Ping) {}
    fn on_timer(&mut self, _: &mut Ctx<'_, Ping>, _: TimerId) {}
}

fn sync_noise(sync_ms: u64) -> Noise {
    Noise {
        sync: constant(sync_ms),
        ..Noise::default()
    }
}

#[test]
fn sends_that_follow_a_sync_leave_when_it_completes() {
    let mut sim = builder(2, 1, sync_noise(5), |_| Writer).build();
    let events = collect(&mut sim, 1);
    let disk = sim.storage(N1);
    assert_eq!(
        disk.get("k"),
        Some(&[1u8][..]),
        "the node reads its own write"
    );
    assert_eq!(disk.syncs_in_flight(), 1, "not durable yet");
    assert!(!disk.has_unsynced(), "but synced: sync was called");
    assert!(sends(&events).is_empty(), "the ping waits for the disk");
    let events = collect(&mut sim, 50);
    assert_eq!(sim.storage(N1).syncs_in_flight(), 0);
    assert_eq!(sends(&events), [(5.0, N1, N2)]);
    assert_eq!(deliveries(&events), [(6.0, N2)]);
}

#[test]
fn a_crash_before_the_sync_completes_loses_the_write_and_the_waiting_sends() {
    let mut sim = builder(2, 1, sync_noise(5), |_| Writer)
        .faults(vec![
            fault_at(3, Fault::Crash(N1)),
            fault_at(10, Fault::Restart(N1)),
        ])
        .build();
    let events = collect(&mut sim, 4);
    assert_eq!(sim.storage(N1).get("k"), None, "the write was lost");
    let unsent: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Unsent { .. }))
        .collect();
    assert_eq!(unsent.len(), 1, "the crash says what was never sent");
    assert_eq!(unsent[0].kind, EventKind::Unsent { messages: 1 });
    assert_eq!(
        (unsent[0].time, unsent[0].node),
        (SimTime(3 * MS), Some(N1))
    );
    assert_eq!(
        unsent[0].to_json(&["n1".into(), "n2".into()])["messages"],
        1
    );
    let events = collect(&mut sim, 50);
    // The restarted node finds nothing, writes again, and this time sends.
    assert_eq!(sends(&events), [(15.0, N1, N2)]);
    assert!(!events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Record(_))));
    assert_eq!(sim.stats().messages_sent, 1, "the first ping never left");
}

#[test]
fn a_crash_after_the_sync_completes_keeps_the_write() {
    let mut sim = builder(2, 1, sync_noise(5), |_| Writer)
        .faults(vec![
            fault_at(6, Fault::Crash(N1)),
            fault_at(10, Fault::Restart(N1)),
        ])
        .build();
    let events = collect(&mut sim, 50);
    assert_eq!(sim.storage(N1).get("k"), Some(&[1u8][..]));
    assert_eq!(sends(&events), [(5.0, N1, N2)]);
    let found = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Record(r) if r.kind == "found"))
        .count();
    assert_eq!(found, 1, "the restarted node read its synced write");
    assert!(!events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Unsent { .. })));
}

/// At start writes a, syncs, writes b, syncs, writes c, syncs.
struct ThreeSyncs;

impl Node<Ping> for ThreeSyncs {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Ping>) {
        if ctx.storage().sync_count() > 0 || ctx.storage().get("a").is_some() {
            return;
        }
        for key in ["a", "b", "c"] {
            ctx.storage().put(key, vec![1]);
            ctx.storage().sync();
        }
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Ping>, _: NodeId, _: Ping) {}
    fn on_timer(&mut self, _: &mut Ctx<'_, Ping>, _: TimerId) {}
}

#[test]
fn a_nodes_syncs_complete_in_order_one_after_another() {
    // Constant 2ms each: the disk does one at a time, done at 2, 4, 6ms.
    let survivors = |crash_ms: u64, noise: Noise, seed: u64| {
        let mut sim = builder(1, seed, noise, |_| ThreeSyncs)
            .faults(vec![fault_at(crash_ms, Fault::Crash(N1))])
            .build();
        collect(&mut sim, crash_ms);
        let disk = sim.storage(N1);
        ["a", "b", "c"]
            .into_iter()
            .filter(|k| disk.get(k).is_some())
            .collect::<String>()
    };
    assert_eq!(survivors(1, sync_noise(2), 1), "");
    assert_eq!(survivors(3, sync_noise(2), 1), "a");
    assert_eq!(survivors(5, sync_noise(2), 1), "ab");
    assert_eq!(survivors(7, sync_noise(2), 1), "abc");
    // Random disk times: whatever survives a crash is a prefix.
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..60 {
        let noise = Noise {
            sync: Some(Latency::Uniform {
                min: ms(1),
                max: ms(6),
            }),
            ..Noise::default()
        };
        let kept = survivors(1 + seed % 14, noise, seed);
        assert!("abc".starts_with(&kept), "seed {seed}: {kept} survived");
        seen.insert(kept);
    }
    assert_eq!(seen.len(), 4, "every prefix happens: {seen:?}");
}

// ---- scenarios ----

const NOISE: &str = r#"
[noise]
timer_jitter = { dist = "uniform", min = "0ms", max = "1ms" }
processing = { dist = "exponential", min = "50us", mean = "100us" }
sync = { dist = "uniform", min = "2ms", max = "5ms" }
"#;

const ZERO_NOISE: &str = r#"
[noise]
timer_jitter = { dist = "constant", value = "0ms" }
processing = { dist = "constant", value = "0ms" }
sync = { dist = "constant", value = "0ms" }
"#;

fn scenario_with(file: &str, extra: &str) -> Scenario {
    let text = std::fs::read_to_string(file).expect("scenario file");
    Scenario::parse(&format!("{text}{extra}"), file).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_model_is_deterministic_with_every_knob_on_and_unmoved_at_zero() {
    for (file, seed) in [
        ("scenarios/raft-leader-crash.toml", 1),
        ("scenarios/heartbeat-crash.toml", 5),
        ("scenarios/lease-pause-fenced.toml", 1),
        ("scenarios/pb-primary-reads.toml", 3),
    ] {
        let plain = Scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
        assert!(plain.noise.is_off());
        let noisy = scenario_with(file, NOISE);
        assert!(noisy.noise.timer_jitter.is_some() && noisy.noise.sync.is_some());
        let hash = |s: &Scenario| run(s, seed, RunOptions::default()).trace_hash;
        let first = run(&noisy, seed, RunOptions::default());
        assert!(first.expectation_met, "{file}: {:?}", first.violations);
        assert_eq!(
            first.trace_hash,
            hash(&noisy),
            "{file}: same seed, same hash"
        );
        assert_ne!(
            first.trace_hash,
            hash(&plain),
            "{file}: noise changed nothing"
        );
        let zero = scenario_with(file, ZERO_NOISE);
        assert_eq!(
            hash(&zero),
            hash(&plain),
            "{file}: zero noise moved the trace"
        );
    }
}

#[test]
fn the_run_header_says_which_noise_is_on() {
    let file = "scenarios/heartbeat-crash.toml";
    let plain = Scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
    assert!(!faultlab::report::summary::header(&plain, 1).contains("noise"));
    let header = faultlab::report::summary::header(&scenario_with(file, NOISE), 1);
    assert!(
        header.contains(
            "noise: timer_jitter uniform 0s-1ms · processing exponential 50us + mean 100us · sync uniform 2ms-5ms\n"
        ),
        "{header}"
    );
}
