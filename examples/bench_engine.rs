//! The "ping-pong mesh" engine benchmark.
//!
//! N nodes (`--n`, default 5) each start with K messages in flight (`--k`,
//! default 1). On receipt a node sends one new message to a uniformly random
//! other node. One-way latency is uniform in [1ms, 10ms]. Loss, partitions and
//! chaos are configured but idle (loss probability 0, no faults scheduled),
//! and the trace hash is computed over every event (no trace file). The run
//! stops after D deliveries (`--d`, default 1,000,000).
//!
//! ```text
//! cargo run --release --example bench_engine -- --n 5 --k 1 --d 1000000 --seed 1
//! ```
//!
//! Last line: `deliveries_per_sec=<float> sim_seconds=<float> checksum=<hex>`.
//! The checksum is the trace hash, so it is the same on every run of the same
//! arguments; the rate is wall-clock and varies.

use faultlab::engine::{SimBuilder, Step, TraceHasher};
use faultlab::net::{Latency, LinkSpec, Ordering, Topology};
use faultlab::rng::Probability;
use faultlab::{Ctx, Node, NodeId, SimDuration, TimerId};
use std::time::Instant;

/// A ball passed around the mesh.
#[derive(Clone, Debug, Hash)]
struct Ball(u64);

/// Sends `k` balls at start; on receipt, passes the ball to a random other node.
struct Player {
    k: u64,
}

impl Node<Ball> for Player {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Ball>) {
        for i in 0..self.k {
            let to = pick_other(ctx);
            ctx.send(to, Ball(i));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Ball>, _from: NodeId, msg: Ball) {
        let to = pick_other(ctx);
        ctx.send(to, Ball(msg.0 + 1));
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Ball>, _timer: TimerId) {}
}

fn pick_other(ctx: &mut Ctx<'_, Ball>) -> NodeId {
    let peers = ctx.peers().len() as u64;
    let i = ctx.rng().below(peers) as usize;
    ctx.peers()[i]
}

struct Args {
    n: usize,
    k: u64,
    d: u64,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        n: 5,
        k: 1,
        d: 1_000_000,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number: u64 = value
            .parse()
            .map_err(|_| format!("{flag}: '{value}' is not a whole number"))?;
        match flag.as_str() {
            "--n" => args.n = number as usize,
            "--k" => args.k = number,
            "--d" => args.d = number,
            "--seed" => args.seed = number,
            other => {
                return Err(format!(
                    "unknown flag {other}; expected --n, --k, --d, --seed"
                ))
            }
        }
    }
    if args.n < 2 {
        return Err("--n must be at least 2".into());
    }
    Ok(args)
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("bench_engine: {e}");
        std::process::exit(2);
    });
    let link = LinkSpec {
        latency: Latency::Uniform {
            min: SimDuration::from_millis(1),
            max: SimDuration::from_millis(10),
        },
        loss: Probability::ZERO,
        duplicate: Probability::ZERO,
        ordering: Ordering::Any,
    };
    let k = args.k;
    let mut sim = SimBuilder::new(args.seed, args.n, move |_| {
        Box::new(Player { k }) as Box<dyn Node<Ball>>
    })
    .topology(Topology::full_mesh(args.n, link))
    .build();
    let mut hash = TraceHasher::default();
    let started = Instant::now();
    let mut delivered = 0;
    while sim.stats().messages_delivered < args.d {
        match sim.step() {
            Step::Ran => {}
            other => panic!("the mesh stopped early: {other:?}"),
        }
        for event in sim.events() {
            event.hash_into(&mut hash);
        }
        delivered = sim.stats().messages_delivered;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "n={} k={} deliveries={} events={} seed={}",
        args.n,
        args.k,
        delivered,
        sim.stats().events,
        args.seed
    );
    println!(
        "deliveries_per_sec={:.0} sim_seconds={:.3} checksum={}",
        delivered as f64 / elapsed,
        sim.now().as_secs_f64(),
        hash.hex()
    );
}
