//! Local clocks, proved through the engine: timers set in local time fire at
//! the true time the clock formula gives, and clock jumps move pending timers
//! (forward: earlier, backward: later) while later timers use the new offset.

use faultlab::clock::{Clock, LocalTime};
use faultlab::engine::{EventKind, SimBuilder};
use faultlab::fault::{Fault, TimedFault};
use faultlab::{Ctx, Node, NodeId, SimDuration, SimTime, TimerId};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Hash)]
struct Nothing;

const SEC: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

/// Sets `initial[i]` with tag `i` at start. When a timer of generation `g`
/// (tag `g * 100 + i`) fires and `g < then.len()`, sets `then[g]` with tag
/// `(g + 1) * 100 + i`. Records every set (timer seq, local deadline) and
/// every firing (timer seq, local reading).
struct Planner {
    initial: Vec<SimDuration>,
    then: Vec<SimDuration>,
}

impl Planner {
    fn arm(&self, ctx: &mut Ctx<'_, Nothing>, after: SimDuration, tag: u64) {
        let deadline = ctx.now_local() + after;
        let timer = ctx.set_timer(after, tag);
        ctx.record("set", json!({ "seq": timer.seq(), "deadline": deadline.0 }));
    }
}

impl Node<Nothing> for Planner {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Nothing>) {
        for (i, &after) in self.initial.clone().iter().enumerate() {
            self.arm(ctx, after, i as u64);
        }
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Nothing>, _from: NodeId, _msg: Nothing) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Nothing>, timer: TimerId) {
        ctx.record(
            "fired",
            json!({ "seq": timer.seq(), "local": ctx.now_local().0 }),
        );
        let generation = (timer.tag() / 100) as usize;
        if let Some(&after) = self.then.get(generation) {
            self.arm(
                ctx,
                after,
                (generation as u64 + 1) * 100 + timer.tag() % 100,
            );
        }
    }
}

/// A timer as seen from the trace.
#[derive(Clone, Copy, Debug)]
struct Seen {
    set_at: SimTime,
    deadline: LocalTime,
    fired_at: Option<SimTime>,
    fired_local: Option<LocalTime>,
}

/// Runs `n` planners with the given clocks and faults until `end`; returns
/// each node's timers by seq, in the order they were set.
fn run(
    clocks: &[Clock],
    planner: impl Fn(NodeId) -> Planner + 'static,
    faults: Vec<TimedFault>,
    end: SimTime,
) -> Vec<BTreeMap<u64, Seen>> {
    let mut builder = SimBuilder::new(1, clocks.len(), move |id| {
        Box::new(planner(id)) as Box<dyn Node<Nothing>>
    });
    for (i, &clock) in clocks.iter().enumerate() {
        builder = builder.clock(NodeId(i as u32), clock);
    }
    let mut sim = builder.faults(faults).build();
    let mut seen = vec![BTreeMap::new(); clocks.len()];
    let mut timer_events = Vec::new();
    sim.run_until(end, |e| {
        let node = e.node.map(|n| n.index());
        match &e.kind {
            EventKind::Record(r) if r.kind == "set" => {
                let seq = r.detail["seq"].as_u64().unwrap();
                let deadline = LocalTime(r.detail["deadline"].as_i64().unwrap());
                let timer = Seen {
                    set_at: e.time,
                    deadline,
                    fired_at: None,
                    fired_local: None,
                };
                seen[node.unwrap()].insert(seq, timer);
            }
            EventKind::Record(r) if r.kind == "fired" => {
                let timer: &mut Seen = seen[node.unwrap()]
                    .get_mut(&r.detail["seq"].as_u64().unwrap())
                    .unwrap();
                assert!(timer.fired_at.is_none(), "timer fired twice: {e:?}");
                timer.fired_at = Some(e.time);
                timer.fired_local = Some(LocalTime(r.detail["local"].as_i64().unwrap()));
            }
            EventKind::Timer { timer, .. } => timer_events.push((node.unwrap(), *timer, e.time)),
            _ => {}
        }
        true
    });
    for (node, seq, time) in timer_events {
        assert_eq!(
            seen[node][&seq].fired_at,
            Some(time),
            "trace timer event and record disagree"
        );
    }
    seen
}

fn local_plan(initial: &[u64], then: &[u64]) -> Planner {
    Planner {
        initial: initial.iter().map(|&n| SimDuration(n)).collect(),
        then: then.iter().map(|&n| SimDuration(n)).collect(),
    }
}

#[test]
fn drifting_clock_timers_fire_exactly_at_the_computed_true_times() {
    let clocks = [
        Clock::new(0, 100_000),
        Clock::new(-5 * SEC as i64, -250_000),
        Clock::new(1_234_567_891, 333),
        Clock::new(-7, 500_000),
        Clock::new(42, -500_000),
        Clock::new(0, -1),
    ];
    let durations = [1, 999, MS + 7, SEC, 7_300_000_013];
    let seen = run(
        &clocks,
        move |_| local_plan(&durations, &[3 * MS + 1, SEC + 11, 1]),
        Vec::new(),
        SimTime(200 * SEC),
    );
    for (node, (clock, timers)) in clocks.iter().zip(&seen).enumerate() {
        assert_eq!(
            timers.len(),
            durations.len() * 4,
            "n{}: every timer and follow-up was set",
            node + 1
        );
        for (seq, timer) in timers {
            let fired = timer
                .fired_at
                .unwrap_or_else(|| panic!("n{} timer {seq} never fired", node + 1));
            let expected = clock.true_time_at(timer.deadline, timer.set_at);
            assert_eq!(fired, expected, "n{} timer {seq}: {timer:?}", node + 1);
            // And from first principles: the first tick at which the clock
            // has reached the deadline.
            assert!(
                clock.local_at(fired) >= timer.deadline,
                "n{} timer {seq} fired early",
                node + 1
            );
            assert!(
                fired == timer.set_at || clock.local_at(SimTime(fired.0 - 1)) < timer.deadline,
                "n{} timer {seq} fired late: {timer:?}",
                node + 1
            );
            assert_eq!(
                timer.fired_local,
                Some(clock.local_at(fired)),
                "node saw its own clock"
            );
        }
    }
}

#[test]
fn a_ten_percent_fast_clock_fires_a_one_second_timer_at_0_909s_true_time() {
    let clocks = [Clock::new(0, 100_000), Clock::new(0, -100_000)];
    let seen = run(
        &clocks,
        |_| local_plan(&[SEC], &[]),
        Vec::new(),
        SimTime(10 * SEC),
    );
    let fast = seen[0].values().next().unwrap().fired_at.unwrap();
    let slow = seen[1].values().next().unwrap().fired_at.unwrap();
    // local = 1.1 t reaches 1s at t = 1/1.1 s = 0.909090909..s, first whole ns after.
    assert_eq!(fast, SimTime(909_090_910), "fast clock");
    // local = 0.9 t reaches 1s at t = 1.1111..s.
    assert_eq!(slow, SimTime(1_111_111_112), "slow clock");
    // The clock ticks 1.1ns per ns, so its first reading past 1s is 1s + 1ns.
    assert_eq!(
        seen[0].values().next().unwrap().fired_local,
        Some(LocalTime(SEC as i64 + 1))
    );
}

fn jump(node: u32, at: u64, by_ns: i64) -> TimedFault {
    TimedFault {
        at: SimTime(at),
        fault: Fault::ClockJump {
            node: NodeId(node),
            by_ns,
        },
    }
}

#[test]
fn forward_jump_makes_a_pending_timer_fire_earlier_or_at_once_if_passed() {
    // Both nodes set a 10s timer at 0 on exact clocks.
    // n1: +5s at 2s: local 10s is now reached at true 5s.
    // n2: +8s at 3s: local reads 11s, past the deadline: fires at 3s.
    let faults = vec![
        jump(0, 2 * SEC, 5 * SEC as i64),
        jump(1, 3 * SEC, 8 * SEC as i64),
    ];
    let seen = run(
        &[Clock::default(); 2],
        |_| local_plan(&[10 * SEC], &[]),
        faults,
        SimTime(30 * SEC),
    );
    let n1 = seen[0].values().next().unwrap();
    let n2 = seen[1].values().next().unwrap();
    assert_eq!(n1.fired_at, Some(SimTime(5 * SEC)));
    assert_eq!(n1.fired_local, Some(LocalTime(10 * SEC as i64)));
    assert_eq!(
        n2.fired_at,
        Some(SimTime(3 * SEC)),
        "deadline passed: fires at the jump"
    );
    assert_eq!(n2.fired_local, Some(LocalTime(11 * SEC as i64)));
}

#[test]
fn backward_jump_makes_a_pending_timer_fire_later() {
    // n1: exact clock, 10s timer, -4s at 2s: local 10s is reached at true 14s.
    let faults = vec![jump(0, 2 * SEC, -4 * SEC as i64)];
    let seen = run(
        &[Clock::default()],
        |_| local_plan(&[10 * SEC], &[]),
        faults,
        SimTime(30 * SEC),
    );
    let timer = seen[0].values().next().unwrap();
    assert_eq!(timer.fired_at, Some(SimTime(14 * SEC)));
    assert_eq!(timer.fired_local, Some(LocalTime(10 * SEC as i64)));
}

#[test]
fn after_a_jump_on_a_drifting_clock_timers_follow_the_jumped_clock() {
    // 10% fast. A 3s timer set at 0 would fire at 2.727s; the clock steps
    // back 2s at 1s, so local 3s is reached at (3 + 2) / 1.1 = 4.545s. The
    // 1s follow-up set then uses the new offset too.
    let original = Clock::new(0, 100_000);
    let jumped = Clock::new(-2 * SEC as i64, 100_000);
    let faults = vec![jump(0, SEC, -2 * SEC as i64)];
    let seen = run(
        &[original],
        |_| local_plan(&[3 * SEC], &[SEC]),
        faults,
        SimTime(30 * SEC),
    );
    let timers: Vec<&Seen> = seen[0].values().collect();
    assert_eq!(timers.len(), 2);
    let (first, second) = (timers[0], timers[1]);
    assert_eq!(
        original.true_time_at(first.deadline, SimTime::ZERO),
        SimTime(2_727_272_728)
    );
    assert_eq!(
        first.fired_at,
        Some(jumped.true_time_at(first.deadline, SimTime(SEC)))
    );
    assert_eq!(first.fired_at, Some(SimTime(4_545_454_546)));
    let set_at = second.set_at;
    assert_eq!(set_at, first.fired_at.unwrap());
    assert_eq!(
        second.deadline,
        jumped.local_at(set_at) + SimDuration(SEC),
        "set from the jumped reading"
    );
    assert_eq!(
        second.fired_at,
        Some(jumped.true_time_at(second.deadline, set_at))
    );
    assert_eq!(second.fired_at, Some(SimTime(5_454_545_455)));
    assert_ne!(
        second.fired_at,
        Some(original.true_time_at(second.deadline, set_at))
    );
}

#[test]
fn now_local_reflects_a_jump_and_later_timers_use_the_new_offset() {
    // A 100ms ticker on an exact clock. n1's clock jumps +5s at 1.05s, n2's
    // -5s at 1.05s.
    let faults = vec![
        jump(0, 1_050 * MS, 5 * SEC as i64),
        jump(1, 1_050 * MS, -5 * SEC as i64),
    ];
    let ticker = |_: NodeId| local_plan(&[100 * MS], &[100 * MS; 99]);
    let seen = run(&[Clock::default(); 2], ticker, faults, SimTime(30 * SEC));
    let ticks = |node: usize| -> Vec<(u64, i64)> {
        seen[node]
            .values()
            .map(|t| (t.fired_at.unwrap().0, t.fired_local.unwrap().0))
            .collect()
    };

    let forward = ticks(0);
    assert_eq!(forward.len(), 100);
    for (i, &(true_ns, local_ns)) in forward.iter().enumerate() {
        let (expected_true, expected_local) = match i {
            0..=9 => ((i as u64 + 1) * 100 * MS, (i as i64 + 1) * 100 * MS as i64),
            // The tick due at local 1.1s: the clock read 6.05s at the jump.
            10 => (1_050 * MS, 6_050 * MS as i64),
            _ => (
                1_050 * MS + (i as u64 - 10) * 100 * MS,
                6_050 * MS as i64 + (i as i64 - 10) * 100 * MS as i64,
            ),
        };
        assert_eq!(
            (true_ns, local_ns),
            (expected_true, expected_local),
            "forward tick {i}"
        );
    }

    let backward = ticks(1);
    assert_eq!(backward.len(), 100);
    for (i, &(true_ns, local_ns)) in backward.iter().enumerate() {
        let expected_local = (i as i64 + 1) * 100 * MS as i64;
        let expected_true = match i {
            0..=9 => (i as u64 + 1) * 100 * MS,
            // Local 1.1s and later come 5s later in true time.
            _ => (i as u64 + 1) * 100 * MS + 5 * SEC,
        };
        assert_eq!(
            (true_ns, local_ns),
            (expected_true, expected_local),
            "backward tick {i}"
        );
    }
}

#[test]
fn clocks_at_the_ends_of_i64_and_a_huge_jump_never_hang() {
    // n1 reads just under i64::MAX, n2 just above i64::MIN and runs at half
    // speed, n3 jumps by i64::MAX/1e9 seconds ("+9223372036s") at 0.5s. Each
    // used to spin in `true_time_at`; now every timer fires where the
    // formula says, and the jump fires n3's pending timer at once.
    let clocks = [
        Clock::new(i64::MAX - SEC as i64, 0),
        Clock::new(i64::MIN + 1, -500_000),
        Clock::default(),
    ];
    let faults = vec![jump(2, 500 * MS, 9_223_372_036 * SEC as i64)];
    let seen = run(
        &clocks,
        |_| local_plan(&[MS, SEC], &[SEC, SEC]),
        faults,
        SimTime(10 * SEC),
    );
    for (node, clock) in clocks.iter().take(2).enumerate() {
        assert!(!seen[node].is_empty());
        for (seq, timer) in &seen[node] {
            let Some(fired) = timer.fired_at else {
                continue; // due after the end of the run
            };
            assert!(
                clock.local_at(fired) >= timer.deadline,
                "n{} {seq}",
                node + 1
            );
            assert!(
                fired == timer.set_at || clock.local_at(SimTime(fired.0 - 1)) < timer.deadline,
                "n{} timer {seq} fired late: {timer:?}",
                node + 1
            );
        }
    }
    let jumped: Vec<Option<SimTime>> = seen[2].values().map(|t| t.fired_at).collect();
    assert_eq!(jumped[0], Some(SimTime(MS)), "before the jump");
    assert_eq!(
        jumped[1],
        Some(SimTime(500 * MS)),
        "the 1s timer fires at the jump"
    );
}
