//! The "ping-pong mesh" engine benchmark.
//!
//! N nodes (`--n`, default 5) each start with K messages in flight (`--k`,
//! default 1). On receipt a node sends one new message to a uniformly random
//! other node. One-way latency is uniform in [1ms, 10ms]. Loss, partitions and
//! chaos are configured but idle (loss probability 0, no faults scheduled),
//! and the trace hash is computed over every event (no trace file). The run
//! stops after D deliveries (`--d`, default 1,000,000).
//!
//! `--mode` (default `both`) chooses what runs:
//! - `faultlab`: the mesh through faultlab's engine. Last line:
//!   `deliveries_per_sec=<float> sim_seconds=<float> checksum=<hex> peak_rss_mb=<float>`.
//!   The checksum is the trace hash, so it is the same on every run of the
//!   same arguments; the rate is wall-clock and varies.
//! - `bare`: the baseline, the same workload in a hand-written loop: a
//!   `std::collections::BinaryHeap` event queue ordered by (time, sequence),
//!   `Box<dyn BareNode>` nodes (a tiny trait of this file), the same RNG kind
//!   seeded the same ([`SimRng::for_node`] for each node's peer choice,
//!   `SimRng::stream(seed, "network")` for latency). Each delivery calls the
//!   node, which picks a random other node and sends; the loop draws the
//!   latency and schedules. No trace is kept: the checksum folds each
//!   delivery's (time, destination, ball) with `mix64`, so the work is not
//!   optimised away. Last line:
//!   `bare_deliveries_per_sec=<float> sim_seconds=<float> checksum=<hex> peak_rss_mb=<float>`.
//! - `both`: faultlab, then bare, each printing its lines, then the last line
//!   `ratio=<faultlab/bare> faultlab_deliveries_per_sec=<float> bare_deliveries_per_sec=<float> n=<N> peak_rss_mb=<float>`.
//!   A ratio of 0.5 means the engine delivers at half the bare loop's rate.
//!
//! ```text
//! cargo run --release --example bench_engine -- --n 5 --k 1 --d 1000000 --seed 1
//! cargo run --release --example bench_engine -- --n 5 --mode faultlab
//! ```
//!
//! `peak_rss_mb` is the process's peak resident set size (`VmHWM` on Linux,
//! `unknown` elsewhere); with `both` it covers both runs.

use faultlab::engine::{SimBuilder, Step, TraceHasher};
use faultlab::net::{Latency, LinkSpec, Ordering, Topology};
use faultlab::rng::{mix64, Probability, SimRng};
use faultlab::{Ctx, Node, NodeId, SimDuration, TimerId};
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::time::Instant;

#[path = "common/alloc.rs"]
mod alloc;
#[path = "common/rss.rs"]
mod rss;

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

/// Which loops run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bare,
    Faultlab,
    Both,
}

struct Args {
    n: usize,
    k: u64,
    d: u64,
    seed: u64,
    mode: Mode,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        n: 5,
        k: 1,
        d: 1_000_000,
        seed: 1,
        mode: Mode::Both,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        if flag == "--mode" {
            args.mode = match value.as_str() {
                "bare" => Mode::Bare,
                "faultlab" => Mode::Faultlab,
                "both" => Mode::Both,
                other => {
                    return Err(format!(
                        "--mode: '{other}'; expected bare, faultlab or both"
                    ))
                }
            };
            continue;
        }
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
                    "unknown flag {other}; expected --n, --k, --d, --seed, --mode"
                ))
            }
        }
    }
    if args.n < 2 {
        return Err("--n must be at least 2".into());
    }
    Ok(args)
}

/// One run's measured figures.
struct Measured {
    deliveries: u64,
    per_sec: f64,
    sim_seconds: f64,
    checksum: String,
}

/// The mesh through faultlab's engine; prints its two lines.
fn run_faultlab(args: &Args) -> Measured {
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
    let measured = Measured {
        deliveries: delivered,
        per_sec: delivered as f64 / elapsed,
        sim_seconds: sim.now().as_secs_f64(),
        checksum: hash.hex(),
    };
    println!(
        "deliveries_per_sec={:.0} sim_seconds={:.3} checksum={} peak_rss_mb={}",
        measured.per_sec,
        measured.sim_seconds,
        measured.checksum,
        rss::peak_rss_mb()
    );
    measured
}

/// The bare loop's node interface: its own tiny trait, called through a box.
trait BareNode {
    /// Called once at time 0.
    fn on_start(&mut self, ctx: &mut BareCtx<'_>);
    /// Called on each delivery.
    fn on_message(&mut self, ctx: &mut BareCtx<'_>, from: u32, msg: Ball);
}

/// What a bare node may do: draw from its stream, see its peers, send.
struct BareCtx<'a> {
    rng: &'a mut SimRng,
    peers: &'a [u32],
    sends: &'a mut Vec<(u32, Ball)>,
}

/// The bare loop's player: the same behaviour as [`Player`].
struct BarePlayer {
    k: u64,
}

impl BarePlayer {
    fn pick_other(ctx: &mut BareCtx<'_>) -> u32 {
        let i = ctx.rng.below(ctx.peers.len() as u64) as usize;
        ctx.peers[i]
    }
}

impl BareNode for BarePlayer {
    fn on_start(&mut self, ctx: &mut BareCtx<'_>) {
        for i in 0..self.k {
            let to = Self::pick_other(ctx);
            ctx.sends.push((to, Ball(i)));
        }
    }

    fn on_message(&mut self, ctx: &mut BareCtx<'_>, _from: u32, msg: Ball) {
        let to = Self::pick_other(ctx);
        ctx.sends.push((to, Ball(msg.0 + 1)));
    }
}

/// A scheduled delivery, ordered earliest first (ties by send order).
struct Delivery {
    at: u64,
    seq: u64,
    from: u32,
    to: u32,
    ball: Ball,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Delivery {}

impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Delivery {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        // Reversed: BinaryHeap is a max-heap.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The same mesh in a hand-written loop; prints its two lines.
fn run_bare(args: &Args) -> Measured {
    let n = args.n;
    let (min, max) = (
        SimDuration::from_millis(1).0,
        SimDuration::from_millis(10).0,
    );
    let mut nodes: Vec<Box<dyn BareNode>> = (0..n)
        .map(|_| Box::new(BarePlayer { k: args.k }) as Box<dyn BareNode>)
        .collect();
    let mut rngs: Vec<SimRng> = (0..n)
        .map(|i| SimRng::for_node(args.seed, i as u32))
        .collect();
    let peers: Vec<Vec<u32>> = (0..n as u32)
        .map(|me| (0..n as u32).filter(|&p| p != me).collect())
        .collect();
    let mut net = SimRng::stream(args.seed, "network");
    let mut queue = BinaryHeap::new();
    let mut sends = Vec::new();
    let mut seq = 0u64;
    let mut now = 0u64;
    let mut checksum = 0u64;
    let started = Instant::now();
    let mut schedule =
        |queue: &mut BinaryHeap<Delivery>, sends: &mut Vec<(u32, Ball)>, now: u64, from: u32| {
            for (to, ball) in sends.drain(..) {
                let at = now + net.between(min, max);
                queue.push(Delivery {
                    at,
                    seq,
                    from,
                    to,
                    ball,
                });
                seq += 1;
            }
        };
    for (i, node) in nodes.iter_mut().enumerate() {
        let mut ctx = BareCtx {
            rng: &mut rngs[i],
            peers: &peers[i],
            sends: &mut sends,
        };
        node.on_start(&mut ctx);
        schedule(&mut queue, &mut sends, now, i as u32);
    }
    let mut delivered = 0u64;
    while delivered < args.d {
        let d = queue
            .pop()
            .expect("the bare mesh always has a ball in flight");
        debug_assert!(d.at >= now, "time never goes back");
        now = d.at;
        let to = d.to as usize;
        checksum = mix64(checksum ^ now ^ ((d.to as u64) << 48) ^ d.ball.0);
        let mut ctx = BareCtx {
            rng: &mut rngs[to],
            peers: &peers[to],
            sends: &mut sends,
        };
        nodes[to].on_message(&mut ctx, d.from, d.ball);
        delivered += 1;
        schedule(&mut queue, &mut sends, now, d.to);
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "bare n={} k={} deliveries={} seed={}",
        args.n, args.k, delivered, args.seed
    );
    let measured = Measured {
        deliveries: delivered,
        per_sec: delivered as f64 / elapsed,
        sim_seconds: SimDuration(now).as_secs_f64(),
        checksum: format!("{checksum:016x}"),
    };
    println!(
        "bare_deliveries_per_sec={:.0} sim_seconds={:.3} checksum={} peak_rss_mb={}",
        measured.per_sec,
        measured.sim_seconds,
        measured.checksum,
        rss::peak_rss_mb()
    );
    measured
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("bench_engine: {e}");
        std::process::exit(2);
    });
    match args.mode {
        Mode::Faultlab => {
            run_faultlab(&args);
        }
        Mode::Bare => {
            run_bare(&args);
        }
        Mode::Both => {
            let engine = run_faultlab(&args);
            let bare = run_bare(&args);
            debug_assert_eq!(engine.deliveries, bare.deliveries);
            println!(
                "ratio={:.2} faultlab_deliveries_per_sec={:.0} bare_deliveries_per_sec={:.0} n={} peak_rss_mb={}",
                engine.per_sec / bare.per_sec,
                engine.per_sec,
                bare.per_sec,
                args.n,
                rss::peak_rss_mb()
            );
        }
    }
}
