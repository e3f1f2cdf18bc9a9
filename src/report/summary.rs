//! Run summaries: the narrated text `faultlab run` prints, and the one-line
//! JSON object of `--json`.

use crate::net::DropReason;
use crate::scenario::{RunReport, Scenario};
use serde_json::{json, Value};
use std::fmt::Write;

/// The command that reproduces a run with faultlab's own binary.
pub fn reproduce_command(scenario_file: &str, seed: u64) -> String {
    reproduce_with(DEFAULT_COMMAND, scenario_file, seed)
}

/// How faultlab's own binary is run from its repository.
pub const DEFAULT_COMMAND: &str = "cargo run --release --";

/// The command that reproduces a run with the binary `command` runs
/// (e.g. `cargo run --release --example custom_protocol --`).
pub fn reproduce_with(command: &str, scenario_file: &str, seed: u64) -> String {
    format!("{command} run {scenario_file} --seed {seed}")
}

/// Each of the report's checks with its outcome: `ok`, `violated`,
/// `unknown` (it could not decide), or `ok until the run stopped`.
pub fn check_outcomes(report: &RunReport) -> Vec<(String, String)> {
    let stopped = report.violations.iter().any(|v| {
        v.severity == crate::check::Severity::Safety
            || (v.check == "engine" && v.name == crate::scenario::TIMEOUT_VIOLATION)
    });
    report
        .checks
        .iter()
        .map(|c| {
            let outcome = if report.violations.iter().any(|v| &v.check == c) {
                "violated"
            } else if report.inconclusive_checks.contains(c) {
                "unknown"
            } else if !stopped {
                "ok"
            } else {
                "ok until the run stopped"
            };
            (c.clone(), outcome.to_string())
        })
        .collect()
}

/// The header printed before a run: seed and scenario first.
pub fn header(scenario: &Scenario, seed: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "seed {seed} · scenario {}", scenario.file);
    let _ = writeln!(
        out,
        "model {} · {} nodes · {} simulated · checks: {}",
        scenario.model.name(),
        scenario.names.len(),
        scenario.duration,
        if scenario.checks.is_empty() {
            "none".to_string()
        } else {
            scenario.checks.join(", ")
        }
    );
    let noise = &scenario.noise;
    let knobs = [
        ("timer_jitter", &noise.timer_jitter),
        ("processing", &noise.processing),
        ("sync", &noise.sync),
    ];
    let on: Vec<String> = knobs
        .iter()
        .filter_map(|(key, knob)| knob.as_ref().map(|l| format!("{key} {l}")))
        .collect();
    if !on.is_empty() {
        let _ = writeln!(out, "noise: {}", on.join(" · "));
    }
    out.push_str(&search_lines(scenario, seed));
    for line in scenario.description.lines() {
        let _ = writeln!(out, "  | {}", line.trim_end());
    }
    out
}

/// What swarm drew for this seed, and the seed's fault points (nothing
/// when neither is on), e.g. `swarm: crash every 1.31s · partition off` and
/// `fault points: after_write · probability 0.0123 · downtime 1ms-10ms`.
fn search_lines(scenario: &Scenario, seed: u64) -> String {
    let mut out = String::new();
    let Some(chaos) = &scenario.chaos else {
        return out;
    };
    if chaos.swarm {
        let drawn = chaos.for_seed(seed);
        let kinds = [
            ("crash", chaos.crash_every, drawn.crash_every),
            ("partition", chaos.partition_every, drawn.partition_every),
            ("pause", chaos.pause_every, drawn.pause_every),
            ("clock_jump", chaos.clock_jump_every, drawn.clock_jump_every),
            ("loss_burst", chaos.loss_burst_every, drawn.loss_burst_every),
        ];
        let mut parts: Vec<String> = kinds
            .iter()
            .filter(|(_, configured, _)| configured.is_some())
            .map(|(name, _, drawn)| match drawn {
                Some(every) => format!("{name} every {every}"),
                None => format!("{name} off"),
            })
            .collect();
        if chaos.fault_points.is_some() {
            let on = drawn.fault_points.is_some();
            parts.push(format!("fault points {}", if on { "on" } else { "off" }));
        }
        let _ = writeln!(out, "swarm: {}", parts.join(" · "));
    }
    if let Some(aim) = &chaos.aim {
        let _ = writeln!(
            out,
            "aim: {} · share {} of crashes, partitions, pauses and clock jumps",
            aim.target.text(),
            aim.share.as_f64()
        );
    }
    if let Some(points) = scenario.fault_points(seed) {
        let kinds: Vec<String> = points.kinds.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "fault points: {} · probability {:.4} · downtime {}-{}",
            kinds.join(", "),
            points.probability.as_f64(),
            points.downtime.0,
            points.downtime.1
        );
    }
    out
}

/// The narrated body and verdict of a finished run.
pub fn body(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out);
    for line in &report.narration {
        let _ = writeln!(out, "{line}");
    }
    if report.narration_omitted > 0 {
        let _ = writeln!(
            out,
            "{:>10}  ... {} more lines (write them all with --trace FILE.jsonl)",
            "", report.narration_omitted
        );
    }
    if report.narration.is_empty() {
        let _ = writeln!(out, "{:>10}  (no faults and no observations)", "");
    }
    let _ = writeln!(out);
    let s = &report.stats;
    let reasons: Vec<String> = [
        DropReason::Partition,
        DropReason::PartitionedInFlight,
        DropReason::Loss,
        DropReason::LossBurst,
        DropReason::NodeDown,
    ]
    .into_iter()
    .filter(|r| s.dropped(*r) > 0)
    .map(|r| format!("{} {}", r.as_str(), s.dropped(r)))
    .collect();
    let _ = writeln!(
        out,
        "{} events · messages sent {}, delivered {}, dropped {}{}, duplicated {} · {} faults · ended at {}",
        s.events,
        s.messages_sent,
        s.messages_delivered,
        s.messages_dropped,
        if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) },
        s.messages_duplicated,
        report.faults,
        report.sim_time
    );
    if !report.observations.is_empty() {
        let counts: Vec<String> = report
            .observations
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(out, "observations: {}", counts.join(", "));
    }
    if !report.check_outcomes.is_empty() {
        let outcomes: Vec<String> = report
            .check_outcomes
            .iter()
            .map(|(c, outcome)| match outcome.as_str() {
                "violated" => {
                    let v = report.violations.iter().find(|v| &v.check == c);
                    format!("{c} VIOLATED ({})", v.map_or("", |v| v.name.as_str()))
                }
                other => format!("{c} {other}"),
            })
            .collect();
        let _ = writeln!(out, "checks: {}", outcomes.join(", "));
    }
    for (name, value) in &report.metrics {
        let _ = writeln!(out, "metric {name} = {value}");
    }
    for note in &report.check_notes {
        let _ = writeln!(out, "check {note}");
    }
    for (i, v) in report.violations.iter().enumerate() {
        let _ = writeln!(
            out,
            "VIOLATION {} ({}, check {}) at {}: {}",
            v.name,
            severity(v),
            v.check,
            v.time,
            v.explanation
        );
        if let Some(around) = report.around.get(i).filter(|a| !a.is_empty()) {
            let _ = writeln!(out, "around it:");
            for line in around {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    let mark = if report.expectation_met {
        "met"
    } else {
        "NOT met"
    };
    let _ = writeln!(
        out,
        "verdict: {} (expected: {}, {mark})",
        report.verdict.as_str(),
        report.expect
    );
    let _ = writeln!(out, "trace hash: {}", report.trace_hash);
    if report.verdict != crate::scenario::Verdict::Pass || !report.expectation_met {
        let _ = writeln!(out, "reproduce: {}", report.reproduce);
    }
    out
}

fn severity(v: &crate::check::Violation) -> &'static str {
    match v.severity {
        crate::check::Severity::Safety => "safety",
        crate::check::Severity::Liveness => "liveness",
    }
}

/// The `--json` object of a run.
pub fn to_json(report: &RunReport) -> Value {
    let s = &report.stats;
    json!({
        "seed": report.seed,
        "scenario": report.scenario,
        "model": report.model,
        "sim_time_ns": report.sim_time.as_nanos(),
        "events": s.events,
        "trace_events": report.trace_events,
        "messages_sent": s.messages_sent,
        "messages_delivered": s.messages_delivered,
        "messages_dropped": s.messages_dropped,
        "messages_duplicated": s.messages_duplicated,
        "faults": report.faults,
        "observations": report.observations.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "trace_hash": report.trace_hash,
        "violations": report.violations.iter().enumerate().map(|(i, v)| json!({
            "name": v.name,
            "check": v.check,
            "severity": v.severity,
            "time_ns": v.time.as_nanos(),
            "nodes": v.nodes,
            "explanation": v.explanation,
            "around": report.around.get(i).cloned().unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "checks": report.checks,
        "check_notes": report.check_notes,
        "check_outcomes": report.check_outcomes.iter().map(|(c, o)| (c.clone(), Value::from(o.as_str()))).collect::<serde_json::Map<String, Value>>(),
        "metrics": report.metrics.iter().map(|(m, v)| (m.clone(), Value::from(*v))).collect::<serde_json::Map<String, Value>>(),
        "inconclusive_checks": report.inconclusive_checks,
        "operations": report.history.operation_count(),
        "verdict": report.verdict.as_str(),
        "expect": report.expect,
        "expectation_met": report.expectation_met,
        "reproduce": report.reproduce,
    })
}
