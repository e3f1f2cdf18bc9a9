//! A limit on everything: a runaway run stops and says which limit it hit.

use faultlab::engine::{LimitHit, Limits, RunEnd, SimBuilder, Step};
use faultlab::{Ctx, Node, NodeId, SimTime, TimerId};

#[derive(Clone, Debug, Hash)]
struct Spark;

/// Every message it receives, it sends on twice: the queue doubles forever.
struct Amplifier;

impl Node<Spark> for Amplifier {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Spark>) {
        ctx.broadcast(Spark);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Spark>, _from: NodeId, msg: Spark) {
        ctx.broadcast(msg.clone());
        ctx.broadcast(msg);
    }
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Spark>, _timer: TimerId) {}
}

fn amplifiers(limits: Limits) -> faultlab::Sim<Spark> {
    SimBuilder::new(1, 3, |_| Box::new(Amplifier) as Box<dyn Node<Spark>>)
        .limits(limits)
        .build()
}

#[test]
fn a_growing_queue_stops_at_max_queue() {
    let mut sim = amplifiers(Limits {
        max_events: u64::MAX,
        max_queue: 1_000,
    });
    let end = sim.run_until(SimTime(u64::MAX / 2), |_| true);
    assert_eq!(end, RunEnd::Limit(LimitHit::Queue(1_000)));
    assert!(LimitHit::Queue(1_000)
        .to_string()
        .contains("raise limits.max_queue"));
}

#[test]
fn a_busy_run_stops_at_max_events_and_stays_stopped() {
    let mut sim = amplifiers(Limits {
        max_events: 500,
        max_queue: usize::MAX,
    });
    let end = sim.run_until(SimTime(u64::MAX / 2), |_| true);
    assert_eq!(end, RunEnd::Limit(LimitHit::Events(500)));
    assert_eq!(sim.stats().events, 500);
    assert_eq!(
        sim.step(),
        Step::Limit(LimitHit::Events(500)),
        "no event runs past the limit"
    );
}
