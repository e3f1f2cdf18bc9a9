//! `faultlab replay`: one seed of one scenario, stepped, its trace events
//! printed one line each ([`crate::report::replay`]) for a window of time,
//! some nodes and some kinds; or, with `--state T`, each node's state at a
//! true time.
//!
//! The run is the same as `run`'s (same seed, same trace hash: the last
//! line says it when the run is stepped to its end). Lines that are not
//! events start with `#`: the header, the violations as the checks find
//! them, and the end. Exit 0 once printed (the verdict is on the last
//! line), 2 for a bad flag.

use super::{load, Io};
use crate::check::Violation;
use crate::engine::EventKind;
use crate::node::NodeId;
use crate::registry::Registry;
use crate::report::replay::{event_line, node_width, seconds, KINDS};
use crate::scenario::{RunOptions, Scenario, Stepping};
use crate::time::SimTime;

/// The flags of `replay`.
pub(super) struct ReplayFlags {
    /// `--seed`.
    pub(super) seed: Option<u64>,
    /// `--from T`: the first true time shown.
    pub(super) from: Option<SimTime>,
    /// `--until T`: the last true time shown (inclusive).
    pub(super) until: Option<SimTime>,
    /// `--node n1,n2`.
    pub(super) nodes: Vec<String>,
    /// `--kinds send,deliver,record:leader`.
    pub(super) kinds: Vec<String>,
    /// `--state T`.
    pub(super) state: Option<SimTime>,
}

/// What a replay shows, validated against the scenario.
struct Filter {
    from: SimTime,
    until: SimTime,
    /// Per node: shown? (all true without `--node`).
    nodes: Vec<bool>,
    /// The kinds shown (all without `--kinds`).
    kinds: Vec<&'static str>,
    /// The record kinds shown (`--kinds record:leader`) when `record` is not.
    records: Vec<String>,
}

impl Filter {
    /// Whether `event` is shown: in the window, at a chosen node (or at
    /// none: the network's events are always shown), of a chosen kind.
    fn shows(&self, event: &crate::TraceEvent) -> bool {
        let kind = match &event.kind {
            EventKind::Record(r) if !self.kinds.contains(&"record") => {
                self.records.iter().any(|k| r.kind == *k)
            }
            other => self.kinds.contains(&other.name()),
        };
        kind && (self.from..=self.until).contains(&event.time)
            && event.node.is_none_or(|n| self.nodes[n.index()])
    }
}

pub(super) fn cmd_replay(
    io: &mut Io<'_>,
    registry: &Registry,
    path: &str,
    flags: ReplayFlags,
) -> i32 {
    let scenario = match load(io, registry, path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let filter = match filter(&scenario, &flags) {
        Ok(filter) => filter,
        Err(e) => {
            errln!(io, "error: {e}");
            return 2;
        }
    };
    let seed = flags.seed.unwrap_or(scenario.default_seed);
    io.silence_panics();
    // Messages are described (their Debug text) only when sends are shown;
    // no time series is kept (the verdict does not need it).
    let options = RunOptions {
        narrate: 0,
        describe_messages: flags.state.is_none() && filter.kinds.contains(&"send"),
        series: false,
        ..RunOptions::default()
    };
    let run = scenario.start(seed, options);
    match flags.state {
        Some(at) => print_states(io, &scenario, seed, run, at, &filter.nodes),
        None => print_events(io, &scenario, seed, run, &filter),
    }
    0
}

/// Checks the flags against the scenario: times within the run, node
/// names and kinds that exist.
fn filter(scenario: &Scenario, flags: &ReplayFlags) -> Result<Filter, String> {
    let end = scenario.end();
    let from = flags.from.unwrap_or(SimTime::ZERO);
    let until = flags.until.unwrap_or(end).min(end);
    if from >= end {
        return Err(format!(
            "--from {}s is at or after the run's end ({}s); expected a time within 0s..{}s",
            seconds(from),
            seconds(end),
            seconds(end)
        ));
    }
    if from > until {
        return Err(format!(
            "--from {}s --until {}s: the window is empty; expected --from no later than --until",
            seconds(from),
            seconds(until)
        ));
    }
    if let Some(at) = flags.state.filter(|at| *at > end) {
        return Err(format!(
            "--state {}s is after the run's end ({}s); expected a time within 0s..{}s",
            seconds(at),
            seconds(end),
            seconds(end)
        ));
    }
    let mut nodes = vec![flags.nodes.is_empty(); scenario.names.len()];
    for name in &flags.nodes {
        match scenario.names.iter().position(|n| n == name) {
            Some(i) => nodes[i] = true,
            None => {
                return Err(format!(
                    "--node '{name}': {} has no such node; expected one of {}",
                    scenario.file,
                    scenario.names.join(", ")
                ))
            }
        }
    }
    let (mut kinds, mut records) = (Vec::new(), Vec::new());
    for kind in &flags.kinds {
        if let Some(record) = kind.strip_prefix("record:").filter(|r| !r.is_empty()) {
            records.push(record.to_string());
            continue;
        }
        match KINDS.iter().find(|k| *k == kind) {
            Some(k) => kinds.push(*k),
            None => {
                return Err(format!(
                    "--kinds '{kind}' is not an event kind; expected some of {}, or record:NAME (the records of one kind)",
                    KINDS.join(", ")
                ))
            }
        }
    }
    if kinds.is_empty() && records.is_empty() {
        kinds = KINDS.to_vec();
    }
    Ok(Filter {
        from,
        until,
        nodes,
        kinds,
        records,
    })
}

/// The first line: the command that gives this output, the model, the window.
fn header(scenario: &Scenario, seed: u64, what: &str) -> String {
    format!(
        "# faultlab replay {} --seed {seed}: model {}, {} nodes, run 0s..{}s; {what}",
        scenario.file,
        scenario.model.name(),
        scenario.names.len(),
        seconds(scenario.end()),
    )
}

/// The violations from index `seen` on, one `#` line each; the new count.
fn print_violations(io: &mut Io<'_>, all: &[Violation], seen: usize) -> usize {
    for v in all.iter().skip(seen) {
        outln!(
            io,
            "# violation {} ({}) at {}s on {}: {}",
            v.name,
            v.check,
            seconds(v.time),
            v.nodes.join(","),
            v.explanation
        );
    }
    all.len()
}

fn print_events(
    io: &mut Io<'_>,
    scenario: &Scenario,
    seed: u64,
    mut run: Box<dyn Stepping>,
    filter: &Filter,
) {
    let window = format!(
        "events {}s..{}s",
        seconds(filter.from),
        seconds(filter.until)
    );
    outln!(io, "{}", header(scenario, seed, &window));
    let width = node_width(&scenario.names);
    let (mut shown, mut seen, mut violations) = (0u64, 0u64, 0);
    while let Some(next) = run.next_time() {
        if next > filter.until {
            break;
        }
        let going = run.step();
        for event in run.events() {
            seen += 1;
            if filter.shows(event) {
                shown += 1;
                outln!(io, "{}", event_line(event, &scenario.names, width));
            }
        }
        violations = print_violations(io, run.violations(), violations);
        if !going {
            break;
        }
    }
    if run.next_time().is_some() {
        outln!(
            io,
            "# {shown} of {seen} events shown; stopped after {}s (the run goes on to {}s)",
            seconds(filter.until),
            seconds(scenario.end())
        );
        return;
    }
    let report = run.finish();
    print_violations(io, &report.violations, violations);
    outln!(
        io,
        "# {shown} of {seen} events shown; the run ended at {}s: {}, trace hash {}",
        seconds(report.sim_time),
        report.verdict.as_str(),
        report.trace_hash
    );
}

fn print_states(
    io: &mut Io<'_>,
    scenario: &Scenario,
    seed: u64,
    mut run: Box<dyn Stepping>,
    at: SimTime,
    nodes: &[bool],
) {
    outln!(
        io,
        "{}",
        header(scenario, seed, &format!("state at {}s", seconds(at)))
    );
    let mut violations = 0;
    while let Some(next) = run.next_time() {
        if next > at {
            break;
        }
        let going = run.step();
        violations = print_violations(io, run.violations(), violations);
        if !going {
            break;
        }
    }
    if run.next_time().is_none() && run.now() < at {
        outln!(
            io,
            "# the run stopped at {}s, before {}s: the states are as it left them",
            seconds(run.now()),
            seconds(at)
        );
    }
    let width = node_width(&scenario.names);
    for (i, name) in scenario.names.iter().enumerate() {
        if !nodes[i] {
            continue;
        }
        let node = NodeId(i as u32);
        let state = if !run.is_up(node) {
            "(down)".to_string()
        } else {
            run.node_state(node)
                .unwrap_or_else(|| "(no state view)".to_string())
        };
        outln!(io, "{name:<width$} {state}");
    }
}
