//! `faultlab merge`: joins the summaries of sweep shards (`sweep --shard K/N
//! --json-out FILE`, run as separate jobs, e.g. a cluster's job array) into
//! the summary one sweep over the whole range prints.
//!
//! A shard file is the object `sweep --json` prints plus what a merge needs
//! (see [`Shown::file_json`]): the shard, the scenario's content hash, its
//! `expect`, and every seed's metric values (sorted), written as Rust's shortest
//! round-trip decimal strings so they parse back bit for bit. Metric figures
//! are recomputed from the merged values, failures are listed in seed order
//! (the lowest [`MAX_FAILURES_KEPT`]), and the exit code is the sweep's.

use super::Io;
use crate::scenario::Verdict;
use crate::sweep::{seed_count, MAX_FAILURES_KEPT};
use crate::time::SimDuration;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;

/// The `format` of a shard file. Raised when what a shard holds changes
/// meaning, so shards of two versions never merge: 2 since the trace hash
/// (and the scenario content hash made with it) changed its encoding.
pub(super) const FORMAT: &str = "faultlab-sweep/2";

/// One listed failing or timed-out seed.
#[derive(Clone, Debug)]
pub(super) struct Listed {
    pub(super) seed: u64,
    pub(super) verdict: Verdict,
    /// The first violation's name (failures only).
    pub(super) name: Option<String>,
    pub(super) explanation: Option<String>,
    pub(super) expectation_met: bool,
    pub(super) reproduce: String,
}

/// Everything a sweep's summary shows, from a sweep or from merged shards.
#[derive(Clone, Debug)]
pub(super) struct Shown {
    pub(super) scenario: String,
    pub(super) seeds: Range<u64>,
    pub(super) shard: Option<(u64, u64)>,
    pub(super) expect: String,
    pub(super) scenario_hash: String,
    pub(super) seeds_run: u64,
    pub(super) passed: u64,
    pub(super) failed: u64,
    pub(super) expectation_met: u64,
    pub(super) events: u64,
    pub(super) timed_out: u64,
    pub(super) failures: Vec<Listed>,
    pub(super) timeouts: Vec<Listed>,
    pub(super) metric_values: BTreeMap<String, Vec<f64>>,
    /// Wall-clock seconds (a merge: the shards' sum).
    pub(super) elapsed: f64,
    pub(super) seed_timeout: Option<std::time::Duration>,
}

/// The content hash of a scenario file with its `--set` flags.
pub(super) fn scenario_hash(io: &Io<'_>, path: &str) -> String {
    let mut hasher = crate::hash::TraceHasher::default();
    hasher.bytes(&std::fs::read(path).unwrap_or_default());
    hasher.bytes(crate::scenario::overrides::flags(&io.sets).as_bytes());
    hasher.hex()
}

impl Shown {
    /// The lowest failing seed and the seeds run up to and including it.
    fn first_failure(&self) -> Option<(u64, u64)> {
        let first = self.failures.first()?.seed;
        Some((
            first,
            seed_count(&(self.seeds.start..first + 1), self.shard),
        ))
    }

    fn stats(&self) -> Vec<crate::sweep::MetricStats> {
        crate::sweep::metric_stats(&self.metric_values)
    }

    /// The exit code: the worst listed failure, else 5 if a seed timed out.
    pub(super) fn exit_code(&self) -> i32 {
        let worst = self
            .failures
            .iter()
            .map(|f| f.verdict)
            .max_by_key(|v| match v {
                Verdict::Violation => 2,
                Verdict::Stuck => 1,
                Verdict::Pass | Verdict::Timeout => 0,
            });
        // A timed-out seed was not judged: exit 5 (undecided) when no seed failed.
        match worst {
            Some(verdict) => verdict.exit_code(),
            None if self.timed_out > 0 => Verdict::Timeout.exit_code(),
            None => 0,
        }
    }

    /// The object `sweep --json` prints.
    pub(super) fn json(&self) -> Value {
        let metrics: serde_json::Map<String, Value> = self
            .stats()
            .iter()
            .map(|m| {
                let figures = json!({"count": m.count, "min": m.min, "median": m.median, "p90": m.p90, "p99": m.p99, "max": m.max});
                (m.name.clone(), figures)
            })
            .collect();
        let failures: Vec<Value> = self
            .failures
            .iter()
            .map(|f| {
                json!({
                    "seed": f.seed,
                    "verdict": f.verdict.as_str(),
                    "violation": f.name,
                    "explanation": f.explanation,
                    "expectation_met": f.expectation_met,
                    "reproduce": f.reproduce,
                })
            })
            .collect();
        let timeouts: Vec<Value> = self
            .timeouts
            .iter()
            .map(|t| {
                json!({
                    "seed": t.seed,
                    "verdict": t.verdict.as_str(),
                    "explanation": t.explanation,
                    "expectation_met": t.expectation_met,
                    "reproduce": t.reproduce,
                })
            })
            .collect();
        let first_failure = self.first_failure();
        json!({
            "scenario": self.scenario,
            "seeds": format!("{}..{}", self.seeds.start, self.seeds.end),
            "seeds_run": self.seeds_run,
            "passed": self.passed,
            "failed": self.failed,
            "failures_unlisted": self.failed - self.failures.len() as u64,
            "first_failing_seed": first_failure.map(|(seed, _)| seed),
            "seeds_to_first_failure": first_failure.map(|(_, count)| count),
            "expectation_met": self.expectation_met,
            "events": self.events,
            "elapsed_ms": (self.elapsed * 1000.0).round(),
            "failures": failures,
            "seed_timeout_ms": self.seed_timeout.map(|t| t.as_secs_f64() * 1000.0),
            "timed_out": self.timed_out,
            "timeouts_unlisted": self.timed_out - self.timeouts.len() as u64,
            "timeouts": timeouts,
            "metrics": metrics,
        })
    }

    /// The object `--json-out` writes: [`Shown::json`] plus what a merge needs.
    pub(super) fn file_json(&self) -> Value {
        let mut object = self.json();
        let values: serde_json::Map<String, Value> = self
            .metric_values
            .iter()
            .map(|(name, values)| {
                // Sorted, so that the file does not depend on which thread ran which seed.
                let mut sorted = values.clone();
                sorted.sort_by(f64::total_cmp);
                let texts: Vec<String> = sorted.iter().map(|v| v.to_string()).collect();
                (name.clone(), Value::from(texts))
            })
            .collect();
        object["format"] = Value::from(FORMAT);
        object["shard"] = self.shard.map(|(k, n)| format!("{k}/{n}")).into();
        object["scenario_hash"] = Value::from(self.scenario_hash.as_str());
        object["expect"] = Value::from(self.expect.as_str());
        object["seed_timeout_ns"] = self
            .seed_timeout
            .map(|t| t.as_nanos().min(u64::MAX as u128) as u64)
            .into();
        object["metric_values"] = Value::Object(values);
        object
    }

    /// Prints the text summary `sweep` prints.
    pub(super) fn print_text(&self, io: &mut Io<'_>) {
        let path = &self.scenario;
        outln!(
            io,
            "sweep {path} · seeds {}..{} · {} runs",
            self.seeds.start,
            self.seeds.end,
            self.seeds_run
        );
        for f in &self.failures {
            outln!(
                io,
                "seed {}: {} {}: {}",
                f.seed,
                f.verdict.as_str(),
                f.name.as_deref().unwrap_or_default(),
                f.explanation.as_deref().unwrap_or_default()
            );
            outln!(io, "  reproduce: {}", f.reproduce);
        }
        for t in &self.timeouts {
            let explanation = t.explanation.as_deref().unwrap_or_default();
            outln!(io, "seed {}: timeout: {explanation}", t.seed);
            outln!(io, "  reproduce: {}", t.reproduce);
        }
        for m in &self.stats() {
            outln!(
                io,
                "metric {}: {} seeds · min {} · median {} · p90 {} · p99 {} · max {}",
                m.name,
                m.count,
                m.min,
                m.median,
                m.p90,
                m.p99,
                m.max
            );
        }
        match self.first_failure() {
            Some((seed, count)) => outln!(
                io,
                "first failure: seed {seed}, after {count} seeds (seeds_to_first_failure {count})"
            ),
            None => outln!(io, "first failure: none in {} seeds", self.seeds_run),
        }
        let unlisted = self.failed - self.failures.len() as u64;
        if unlisted > 0 {
            outln!(
                io,
                "... and {unlisted} more failing seeds (the {} lowest are listed)",
                self.failures.len()
            );
        }
        let timeouts_unlisted = self.timed_out - self.timeouts.len() as u64;
        if timeouts_unlisted > 0 {
            outln!(
                io,
                "... and {timeouts_unlisted} more timed-out seeds (the {} lowest are listed)",
                self.timeouts.len()
            );
        }
        // Only a sweep with a limit says how many seeds it stopped.
        let timed_out = match self.seed_timeout {
            Some(limit) => format!(
                ", {} timed out (--seed-timeout {})",
                self.timed_out,
                SimDuration(limit.as_nanos().min(u64::MAX as u128) as u64)
            ),
            None => String::new(),
        };
        outln!(io,
            "{} passed, {} failed{timed_out} · expectation ({}) met in {}/{} · {} events in {:.1}s ({:.0} seeds/s)",
            self.passed,
            self.failed,
            self.expect,
            self.expectation_met,
            self.seeds_run,
            self.events,
            self.elapsed,
            self.seeds_run as f64 / self.elapsed.max(1e-9)
        );
    }

    /// Reads a shard file's object back.
    fn from_file_json(value: &Value) -> Result<Shown, String> {
        match value.get("format").and_then(Value::as_str) {
            Some(FORMAT) => {}
            Some(other) if other.starts_with("faultlab-sweep/") => {
                return Err(format!(
                    "\"format\": \"{other}\" is a shard of another faultlab version; this one reads \"{FORMAT}\": run that shard again with this version"
                ))
            }
            _ => {
                return Err(format!(
                    "not a sweep shard summary (expected \"format\": \"{FORMAT}\", as `sweep --json-out` writes)"
                ))
            }
        }
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("\"{key}\" is missing or not a string"))
        };
        let number = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("\"{key}\" is missing or not a whole number"))
        };
        let seeds_text = text("seeds")?;
        let seeds = super::args::parse_seeds(&seeds_text)
            .map_err(|e| format!("\"seeds\": {e}"))
            .and_then(|r| match seeds_text.contains("..=") {
                false => Ok(r),
                true => Err(format!("\"seeds\": '{seeds_text}' is not A..B")),
            })?;
        let shard = match value.get("shard") {
            Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(super::args::parse_shard(s).map_err(|e| format!("\"shard\": {e}"))?)
            }
            _ => return Err("\"shard\" is missing (expected \"K/N\" or null)".into()),
        };
        let seed_timeout = match value.get("seed_timeout_ns") {
            Some(Value::Null) => None,
            Some(v) => Some(std::time::Duration::from_nanos(
                v.as_u64()
                    .ok_or("\"seed_timeout_ns\" is not a whole number")?,
            )),
            None => return Err("\"seed_timeout_ns\" is missing".into()),
        };
        let elapsed_ms = value
            .get("elapsed_ms")
            .and_then(Value::as_f64)
            .ok_or("\"elapsed_ms\" is missing or not a number")?;
        let mut metric_values = BTreeMap::new();
        let values = value
            .get("metric_values")
            .and_then(Value::as_object)
            .ok_or("\"metric_values\" is missing or not an object")?;
        for (name, list) in values {
            let list = list
                .as_array()
                .ok_or_else(|| format!("\"metric_values\".{name} is not a list"))?;
            let parsed = list
                .iter()
                .map(|v| v.as_str().and_then(|s| s.parse::<f64>().ok()))
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| format!("\"metric_values\".{name}: expected numbers as strings"))?;
            metric_values.insert(name.clone(), parsed);
        }
        let shown = Shown {
            scenario: text("scenario")?,
            seeds,
            shard,
            expect: text("expect")?,
            scenario_hash: text("scenario_hash")?,
            seeds_run: number("seeds_run")?,
            passed: number("passed")?,
            failed: number("failed")?,
            expectation_met: number("expectation_met")?,
            events: number("events")?,
            timed_out: number("timed_out")?,
            failures: listed(value, "failures")?,
            timeouts: listed(value, "timeouts")?,
            metric_values,
            elapsed: elapsed_ms / 1000.0,
            seed_timeout,
        };
        if shown.seeds_run != seed_count(&shown.seeds, shown.shard)
            || shown.seeds_run != shown.passed + shown.failed + shown.timed_out
            || shown.failures.len() as u64 > shown.failed
            || shown.timeouts.len() as u64 > shown.timed_out
        {
            return Err("its counts do not add up (seeds_run, passed, failed, timed_out)".into());
        }
        Ok(shown)
    }
}

/// The listed seeds under `key` of a shard file.
fn listed(value: &Value, key: &str) -> Result<Vec<Listed>, String> {
    let list = value
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("\"{key}\" is missing or not a list"))?;
    let verdicts = [
        Verdict::Pass,
        Verdict::Violation,
        Verdict::Stuck,
        Verdict::Timeout,
    ];
    list.iter()
        .map(|item| {
            let bad = || format!("\"{key}\": an entry is not a listed seed: {item}");
            let optional = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_string);
            let verdict = item
                .get("verdict")
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            Ok(Listed {
                seed: item.get("seed").and_then(Value::as_u64).ok_or_else(bad)?,
                verdict: verdicts
                    .into_iter()
                    .find(|v| v.as_str() == verdict)
                    .ok_or_else(bad)?,
                name: optional("violation"),
                explanation: optional("explanation"),
                expectation_met: item
                    .get("expectation_met")
                    .and_then(Value::as_bool)
                    .ok_or_else(bad)?,
                reproduce: optional("reproduce").ok_or_else(bad)?,
            })
        })
        .collect()
}

/// Writes `object` (one line) to `file` atomically.
pub(super) fn write_json(file: &str, object: &Value) -> std::io::Result<()> {
    let mut out = crate::report::atomic::AtomicFile::create(file)?;
    writeln!(out, "{object}")?;
    out.commit()
}

/// Checks that the shards are of one sweep and cover its seeds once each.
fn check_cover(shards: &[(String, Shown)]) -> Result<(), String> {
    let (file0, first) = &shards[0];
    for (file, s) in shards {
        if s.scenario != first.scenario || s.scenario_hash != first.scenario_hash {
            return Err(format!(
                "{file}: a different scenario ({}, content hash {}) from {file0} ({}, content hash {})",
                s.scenario, s.scenario_hash, first.scenario, first.scenario_hash
            ));
        }
        if s.expect != first.expect || s.seed_timeout != first.seed_timeout {
            return Err(format!(
                "{file}: swept with a different expect or --seed-timeout from {file0}"
            ));
        }
    }
    let range = |s: &Shown| format!("{}..{}", s.seeds.start, s.seeds.end);
    if shards.iter().all(|(_, s)| s.seeds == first.seeds) && first.shard.is_some() {
        // Shards K/N of one range: every K once.
        let n = first.shard.map_or(1, |(_, n)| n);
        let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
        for (file, s) in shards {
            let Some((k, this_n)) = s.shard else {
                return Err(format!(
                    "{file}: the whole of seeds {} overlaps the shards of {file0}",
                    range(s)
                ));
            };
            if this_n != n {
                return Err(format!(
                    "{file}: shard {k}/{this_n}, but {file0} is a shard of {n}: different shard counts"
                ));
            }
            if let Some(other) = seen.insert(k, file) {
                return Err(format!(
                    "overlapping shards: {other} and {file} are both shard {k}/{n} of seeds {}",
                    range(s)
                ));
            }
        }
        if let Some(k) = (0..n).find(|k| !seen.contains_key(k)) {
            return Err(format!(
                "missing shard {k}/{n} of seeds {}: no file given holds it",
                range(first)
            ));
        }
        return Ok(());
    }
    // Whole ranges that meet end to end.
    if let Some((file, s)) = shards.iter().find(|(_, s)| s.shard.is_some()) {
        return Err(format!(
            "{file}: shard {} of seeds {}, but not every file is a shard of that range: merge the shards K/N of one range, or whole ranges that meet end to end",
            s.shard.map(|(k, n)| format!("{k}/{n}")).unwrap_or_default(),
            range(s)
        ));
    }
    let mut sorted: Vec<&(String, Shown)> = shards.iter().collect();
    sorted.sort_by_key(|(_, s)| (s.seeds.start, s.seeds.end));
    for pair in sorted.windows(2) {
        let ((a_file, a), (b_file, b)) = (pair[0], pair[1]);
        if b.seeds.start < a.seeds.end {
            return Err(format!(
                "overlapping seeds: {a_file} ({}) and {b_file} ({})",
                range(a),
                range(b)
            ));
        }
        if b.seeds.start > a.seeds.end {
            return Err(format!(
                "missing seeds {}..{} between {a_file} ({}) and {b_file} ({}): no file given holds them",
                a.seeds.end,
                b.seeds.start,
                range(a),
                range(b)
            ));
        }
    }
    Ok(())
}

/// Joins shards already checked by [`check_cover`].
fn join(shards: Vec<(String, Shown)>) -> Shown {
    let mut parts = shards.into_iter().map(|(_, s)| s);
    let mut all = parts.next().expect("at least one shard");
    for s in parts {
        all.seeds = all.seeds.start.min(s.seeds.start)..all.seeds.end.max(s.seeds.end);
        all.seeds_run += s.seeds_run;
        all.passed += s.passed;
        all.failed += s.failed;
        all.expectation_met += s.expectation_met;
        all.events += s.events;
        all.timed_out += s.timed_out;
        all.failures.extend(s.failures);
        all.timeouts.extend(s.timeouts);
        for (name, values) in s.metric_values {
            all.metric_values.entry(name).or_default().extend(values);
        }
        all.elapsed += s.elapsed;
    }
    all.shard = None;
    for list in [&mut all.failures, &mut all.timeouts] {
        list.sort_by_key(|f| f.seed);
        list.truncate(MAX_FAILURES_KEPT);
    }
    debug_assert_eq!(all.seeds_run, seed_count(&all.seeds, None));
    all
}

/// `faultlab merge FILE... [--json] [--json-out FILE]`.
pub(super) fn cmd_merge(
    io: &mut Io<'_>,
    files: &[String],
    json: bool,
    json_out: Option<&str>,
) -> i32 {
    let mut shards = Vec::new();
    for file in files {
        let read = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read it: {e}"))
            .and_then(|text| {
                serde_json::from_str::<Value>(&text)
                    .map_err(|e| format!("not a sweep shard summary (not JSON: {e})"))
            })
            .and_then(|value| Shown::from_file_json(&value));
        match read {
            Ok(shown) => shards.push((file.clone(), shown)),
            Err(e) => {
                errln!(io, "error: {file}: {e}");
                return 2;
            }
        }
    }
    if shards.is_empty() {
        errln!(io, "error: merge: no files given");
        return 2;
    }
    if let Err(e) = check_cover(&shards) {
        errln!(io, "error: merge: {e}");
        return 2;
    }
    let merged = join(shards);
    if let Some(file) = json_out {
        if let Err(e) = write_json(file, &merged.file_json()) {
            errln!(io, "error: --json-out {file}: {e}");
            return 2;
        }
    }
    if json {
        outln!(io, "{}", merged.json());
    } else {
        merged.print_text(io);
    }
    merged.exit_code()
}
