//! The cache model's stories, measured from the runs' own records over
//! several seeds: the database's peak queue, its fetches per key, and
//! goodput (reads answered within their deadline) per second against the
//! baseline before the trigger.
//!
//! - `cache-cold-start.toml`: the cache restarts empty; without coalescing
//!   the database's queue explodes and goodput collapses for seconds;
//! - `cache-cold-start-coalesced.toml`: the same with single flight: one
//!   fetch per key, a short queue, goodput back within about a second;
//! - `cache-ttl-sync.toml`: every entry expires at once, a herd;
//! - `cache-ttl-jitter.toml`: jittered TTLs spread the refreshes.
//!
//! Each story is checked on `SEEDS` seeds (the scenario's own seed first);
//! `FAULTLAB_CACHE_SEEDS=N cargo test --release --test cache_model` checks N.

use faultlab::check::{Checker, Violation, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::SimTime;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Seeds per story in an ordinary `cargo test`.
const SEEDS: u64 = 2;
const MS: u64 = 1_000_000;
/// Goodput is counted in buckets of this many ms.
const BUCKET_MS: u64 = 100;

/// What a run's records say.
#[derive(Debug, Default)]
struct Measures {
    /// Good `done` records per 100 ms bucket.
    good: BTreeMap<u64, u64>,
    /// (time ns, queue) of every database `served` / `shed`.
    queue: Vec<(u64, u64)>,
    /// (time ns, key) of every database fetch the cache started.
    fetches: Vec<(u64, String)>,
}

impl Measures {
    /// Good reads per second over `[from_ms, to_ms)`.
    fn goodput(&self, from_ms: u64, to_ms: u64) -> f64 {
        let n: u64 = self
            .good
            .range(from_ms / BUCKET_MS..to_ms / BUCKET_MS)
            .map(|(_, n)| n)
            .sum();
        n as f64 * 1000.0 / (to_ms - from_ms) as f64
    }

    /// The lowest goodput of any `window_ms` window starting in `[from_ms, to_ms)`, every bucket.
    fn min_goodput(&self, from_ms: u64, to_ms: u64, window_ms: u64) -> f64 {
        (from_ms / BUCKET_MS..to_ms / BUCKET_MS)
            .map(|b| self.goodput(b * BUCKET_MS, b * BUCKET_MS + window_ms))
            .fold(f64::INFINITY, f64::min)
    }

    /// The database's longest queue from `from_ms` on.
    fn peak_queue(&self, from_ms: u64) -> u64 {
        let from = from_ms * MS;
        let waits = self.queue.iter().filter(|(t, _)| *t >= from);
        waits.map(|(_, q)| *q).max().unwrap_or(0)
    }

    /// Database fetches from `from_ms` on, and the most for any one key.
    fn fetches(&self, from_ms: u64) -> (usize, usize) {
        let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
        for (t, key) in &self.fetches {
            if *t >= from_ms * MS {
                *per_key.entry(key).or_default() += 1;
            }
        }
        (
            per_key.values().sum(),
            per_key.values().copied().max().unwrap_or(0),
        )
    }
}

/// A checker that never fails: it collects the records into `Measures`.
struct Collect(Arc<Mutex<Measures>>);

impl Checker for Collect {
    fn name(&self) -> &'static str {
        "collect"
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        let EventKind::Record(record) = &event.kind else {
            return None;
        };
        let t = event.time.as_nanos();
        let d = &record.detail;
        let mut m = self.0.lock().unwrap();
        match record.kind.as_str() {
            "done" if d["good"] == true => *m.good.entry(t / (BUCKET_MS * MS)).or_default() += 1,
            "served" | "shed" => m.queue.push((t, d["queue"].as_u64().unwrap())),
            "miss" if d["coalesced"] == false => {
                m.fetches.push((t, d["key"].as_str().unwrap().to_string()))
            }
            _ => {}
        }
        None
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

fn seeds() -> u64 {
    std::env::var("FAULTLAB_CACHE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEEDS)
}

/// Runs `file` with each seed and hands its measures to `judge`.
fn each_seed(file: &str, mut judge: impl FnMut(u64, &Measures)) {
    let scenario = Scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
    let first = scenario.default_seed;
    for seed in (0..seeds()).map(|i| first + i) {
        let measures = Arc::new(Mutex::new(Measures::default()));
        let options = RunOptions {
            narrate: 0,
            extra_checks: vec![Box::new(Collect(Arc::clone(&measures)))],
            ..RunOptions::default()
        };
        let report = run(&scenario, seed, options);
        assert!(
            report.expectation_met,
            "{file} seed {seed}: {:?}",
            report.violations
        );
        let m = measures.lock().unwrap();
        judge(seed, &m);
    }
}

/// With `FAULTLAB_CACHE_PRINT` set, one line per seed: what a story measured.
fn show(file: &str, seed: u64, values: &[(&str, f64)]) {
    if std::env::var_os("FAULTLAB_CACHE_PRINT").is_some() {
        let shown: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v:.3}")).collect();
        println!("{file} seed {seed}: {}", shown.join(" "));
    }
}

/// The restart is at 2.1 s; the baseline is 0.5-2 s (all hits).
const RESTART_MS: u64 = 2100;
/// Keys in the cold-start scenarios.
const COLD_KEYS: usize = 100;

#[test]
fn cold_start_without_coalescing_is_a_thundering_herd() {
    each_seed("scenarios/cache-cold-start.toml", |seed, m| {
        let base = m.goodput(500, 2000);
        let first = m.goodput(RESTART_MS, RESTART_MS + 1000);
        let second = m.goodput(RESTART_MS + 1000, RESTART_MS + 2000);
        assert!(
            first < 0.35 * base,
            "seed {seed}: goodput {first:.0}/s in the first second, baseline {base:.0}/s"
        );
        assert!(
            second < 0.8 * base,
            "seed {seed}: goodput {second:.0}/s in the second second, baseline {base:.0}/s"
        );
        let peak = m.peak_queue(RESTART_MS);
        assert!(
            peak >= 80,
            "seed {seed}: the database's queue peaked at {peak}"
        );
        let (fetches, most) = m.fetches(RESTART_MS);
        assert!(
            fetches >= 2 * COLD_KEYS && most >= 10,
            "seed {seed}: {fetches} fetches for {COLD_KEYS} keys, {most} of one key"
        );
        show(
            "cold",
            seed,
            &[
                ("first", first / base),
                ("second", second / base),
                ("peak", peak as f64),
                ("fetches", fetches as f64),
                ("most", most as f64),
            ],
        );
    });
}

#[test]
fn cold_start_with_single_flight_fetches_each_key_once_and_rides_it_out() {
    each_seed("scenarios/cache-cold-start-coalesced.toml", |seed, m| {
        let base = m.goodput(500, 2000);
        let first = m.goodput(RESTART_MS, RESTART_MS + 1000);
        let second = m.goodput(RESTART_MS + 1000, RESTART_MS + 2000);
        assert!(
            first >= 0.45 * base,
            "seed {seed}: goodput {first:.0}/s in the first second, baseline {base:.0}/s"
        );
        assert!(
            second >= 0.9 * base,
            "seed {seed}: goodput {second:.0}/s in the second second, baseline {base:.0}/s"
        );
        let peak = m.peak_queue(RESTART_MS);
        assert!(
            peak <= 60,
            "seed {seed}: the database's queue peaked at {peak}"
        );
        let (fetches, most) = m.fetches(RESTART_MS);
        assert!(
            fetches <= COLD_KEYS && most == 1,
            "seed {seed}: {fetches} fetches, {most} of one key"
        );
        show(
            "coalesced",
            seed,
            &[
                ("first", first / base),
                ("second", second / base),
                ("peak", peak as f64),
                ("fetches", fetches as f64),
            ],
        );
    });
}

/// Every entry expires at 4 s (prewarmed at 0 with one TTL); baseline 0.5-3.9 s.
const EXPIRY_MS: u64 = 4000;

#[test]
fn synchronized_ttls_expire_together_into_a_herd() {
    each_seed("scenarios/cache-ttl-sync.toml", |seed, m| {
        let base = m.goodput(500, 3900);
        let low = m.min_goodput(EXPIRY_MS, EXPIRY_MS + 1500, 500);
        assert!(
            low < 0.6 * base,
            "seed {seed}: goodput never below {low:.0}/s, baseline {base:.0}/s"
        );
        let peak = m.peak_queue(EXPIRY_MS);
        assert!(
            peak >= 40,
            "seed {seed}: the database's queue peaked at {peak}"
        );
        let first = m.goodput(EXPIRY_MS, EXPIRY_MS + 1000) / base;
        let second = m.goodput(EXPIRY_MS + 1000, EXPIRY_MS + 2000) / base;
        show(
            "sync",
            seed,
            &[
                ("first", first),
                ("second", second),
                ("low", low / base),
                ("peak", peak as f64),
            ],
        );
    });
}

#[test]
fn jittered_ttls_spread_the_refreshes() {
    each_seed("scenarios/cache-ttl-jitter.toml", |seed, m| {
        let base = m.goodput(500, 1900);
        let low = m.min_goodput(500, 5500, 500);
        assert!(
            low >= 0.75 * base,
            "seed {seed}: goodput fell to {low:.0}/s, baseline {base:.0}/s"
        );
        let peak = m.peak_queue(0);
        assert!(
            peak <= 35,
            "seed {seed}: the database's queue peaked at {peak}"
        );
        show(
            "jitter",
            seed,
            &[("low", low / base), ("peak", peak as f64)],
        );
    });
}

#[test]
fn a_bad_cache_table_is_an_error_naming_its_line_and_key() {
    let scenario = |cache: &str| {
        format!(
            "model = \"cache\"\nduration = \"1s\"\n[cache]\n{cache}\n[nodes]\ncount = 2\n[workload]\nclients = 1\ntimeout = \"100ms\"\n"
        )
    };
    let err = Scenario::parse(&scenario("ttl_jitter = 1.5"), "x.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x.toml:4") && err.contains("cache.ttl_jitter") && err.contains("below 1"),
        "{err}"
    );
    let err = Scenario::parse(&scenario("tll = \"1s\""), "x.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.toml:4") && err.contains("tll"), "{err}");
    let three = scenario("").replace("count = 2", "count = 3");
    let err = Scenario::parse(&three, "x.toml").unwrap_err().to_string();
    assert!(err.contains("exactly two servers"), "{err}");
    assert!(Scenario::parse(&scenario(""), "x.toml").is_ok());
}
