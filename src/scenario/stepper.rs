//! One run of a scenario, one engine step at a time: what [`super::run()`]
//! drives to the end, and what a caller can step to inspect the simulation
//! on the way ([`Stepper`], or [`Scenario::start`] for a registered model).
//!
//! Every step's trace events go to the hash, the trace file, the narrator and
//! the checks in order, so a run stepped to its end has the same trace hash,
//! violations and report as [`super::run()`].

use super::run::{
    empty_report, limit_violation, panic_violation, timeout_violation, verdict_of, Narrator,
};
use super::script::{Outcome, Script, View};
use super::{RunOptions, RunReport, Scenario, Verdict};
use crate::check::{Checker, Interest, Severity, Violation, World};
use crate::engine::{RunEnd, Sim, SimBuilder, Step, TraceEvent, TraceHasher};
use crate::node::{Message, Node, NodeId};
use crate::sweep::WallClock;
use crate::time::SimTime;
use std::cell::Cell;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;

/// A run of a registered model's scenario, stepped by the caller (the
/// message type erased; see [`Stepper`] for your own nodes).
pub trait Stepping {
    /// Runs the next engine step (at most up to the scenario's end), or
    /// the scenario's next `[[steps]]` action when it is due first, and
    /// judges its events; false once the run is over (its end reached, a
    /// safety violation, a limit, or a node's panic).
    fn step(&mut self) -> bool;
    /// The trace events of the last step.
    fn events(&self) -> &[TraceEvent];
    /// True time now.
    fn now(&self) -> SimTime;
    /// The true time at which the next [`Stepping::step`] acts (an event,
    /// a `[[steps]]` action, or the run's end, whichever is first); `None`
    /// once the run is over.
    fn next_time(&self) -> Option<SimTime>;
    /// True if the node is up (started and not crashed; a paused node is up).
    fn is_up(&self, node: NodeId) -> bool;
    /// Violations found so far.
    fn violations(&self) -> &[Violation];
    /// The node's state as its [`Node::debug_state`] shows it (the built-in
    /// models' nodes: their `Debug` view), if it is up.
    fn node_state(&self, node: NodeId) -> Option<String>;
    /// Runs the end-of-run checks (if the end was reached) and reports.
    fn finish(self: Box<Self>) -> RunReport;
}

impl Scenario {
    /// Starts a run of this scenario's model with `seed`, to be stepped
    /// with [`Stepping::step`]; stepped to its end, it reports what
    /// [`super::run()`] does, trace hash included.
    pub fn start(&self, seed: u64, options: RunOptions) -> Box<dyn Stepping> {
        self.model.start(self, seed, options)
    }
}

/// What the checks and outputs of a run keep between steps.
struct Observer {
    names: Vec<String>,
    /// Each check, its "retired" flag (set once it reported a violation)
    /// and its [`Checker::interest`], asked once.
    checks: Vec<(Box<dyn Checker>, bool, Interest)>,
    world: World,
    hasher: TraceHasher,
    report: RunReport,
    narrator: Narrator,
    options: RunOptions,
    trace_error: Option<std::io::Error>,
    index: u64,
    last_time: Rc<Cell<SimTime>>,
}

impl Observer {
    /// Judges one event; false when the run must stop (a safety violation).
    fn observe(&mut self, event: &TraceEvent) -> bool {
        self.last_time.set(event.time);
        if self.options.trace_hash {
            event.hash_into(&mut self.hasher);
        }
        if self.options.event_hashes {
            self.report.event_hashes.push(self.hasher.finish());
        }
        if self.options.capture_event == Some(self.index) {
            self.report.captured_event = Some(event.describe(&self.names));
        }
        self.index += 1;
        if let (Some(out), None) = (self.options.trace.as_mut(), &self.trace_error) {
            self.trace_error = writeln!(out, "{}", event.to_json(&self.names)).err();
        }
        self.narrator.observe(event, &self.names);
        if let Some(on_event) = self.options.on_event.as_mut() {
            on_event(event);
        }
        let mut keep_going = true;
        for (checker, done, interest) in self.checks.iter_mut() {
            if *done || !interest.covers(event) {
                continue;
            }
            if let Some(v) = checker.on_event(event, &self.world) {
                // Safety: stop at the first violation. Liveness: retire this
                // check and run on, so the safety checks still judge the run.
                keep_going = v.severity != Severity::Safety;
                *done = true;
                let around = self.world.around(v.time, self.options.around);
                self.report.around.push(around);
                self.report.violations.push(v);
                if !keep_going {
                    break;
                }
            }
        }
        if self.options.checks {
            self.world.observe(event);
        }
        keep_going
    }
}

/// A run of your own nodes (built by a factory) in a scenario's world,
/// stepped by the caller, with the simulation in view ([`Stepper::sim`]).
pub struct Stepper<M: Message> {
    sim: Sim<M>,
    observer: Observer,
    end: SimTime,
    expect: String,
    /// The scenario's `[[steps]]`, if it has any, and its server count.
    script: Option<Script>,
    servers: usize,
    /// How the run ended, once it has.
    ended: Option<RunEnd>,
    /// The wall-clock limit, if any ([`RunOptions::wall_clock_limit`]).
    wall_clock: Option<WallClock>,
}

impl<M: Message> Stepper<M> {
    /// Builds the simulation of `scenario` with `seed` and the nodes of
    /// `factory` (as [`super::run_custom`] does). A panic in the factory
    /// is not caught here.
    pub fn new(
        scenario: &Scenario,
        seed: u64,
        options: RunOptions,
        factory: impl FnMut(NodeId) -> Box<dyn Node<M>> + 'static,
    ) -> Stepper<M> {
        Stepper::with_clock(
            scenario,
            seed,
            options,
            factory,
            Rc::new(Cell::new(SimTime::ZERO)),
        )
    }

    /// [`Stepper::new`], setting `last_time` to each event's time as it is observed.
    pub(super) fn with_clock(
        scenario: &Scenario,
        seed: u64,
        mut options: RunOptions,
        factory: impl FnMut(NodeId) -> Box<dyn Node<M>> + 'static,
        last_time: Rc<Cell<SimTime>>,
    ) -> Stepper<M> {
        let names = scenario.names.clone();
        let schedule = scenario.fault_schedule(seed);
        let mut builder = SimBuilder::new(seed, names.len(), factory)
            .names(names.clone())
            .peers(scenario.peers.clone())
            .topology(scenario.topology.clone())
            .faults(schedule.timed)
            .triggers(schedule.triggered)
            .limits(scenario.limits)
            .noise(scenario.noise.clone())
            .fault_points(scenario.fault_points(seed))
            .describe_messages(options.trace.is_some() || options.describe_messages);
        for (i, clock) in scenario.clocks.iter().enumerate() {
            builder = builder.clock(NodeId(i as u32), *clock);
        }
        let sim = builder.build();
        let setup = crate::registry::CheckSetup {
            liveness: scenario.liveness,
            history_model: scenario.model.history_model(),
            linearizability_memory: scenario.linearizability_memory,
            servers: scenario.servers,
            metrics: scenario.metrics,
            keep_series: options.series,
            committed_records: scenario.model.committed_records(),
        };
        // By name: a caller may have taken checks out of `scenario.checks`.
        let mut checkers: Vec<Box<dyn Checker>> = scenario
            .checks
            .iter()
            .map(|name| {
                scenario
                    .check_defs
                    .iter()
                    .find(|def| def.info.name == name)
                    .expect("validated check names")
                    .build(&setup)
            })
            .collect();
        let mut report = empty_report(scenario, seed);
        if !options.checks {
            checkers.clear();
            report.checks.clear();
            options.extra_checks.clear();
        }
        for extra in std::mem::take(&mut options.extra_checks) {
            report.checks.push(extra.name().to_string());
            checkers.push(extra);
        }
        if !scenario.steps.is_empty() {
            report.checks.push("steps".to_string());
        }
        let mut trace_error = None;
        if let Some(out) = options.trace.as_mut() {
            let header = serde_json::json!({"kind": "run", "scenario": scenario.file, "seed": seed, "model": scenario.model.name(), "nodes": names});
            trace_error = writeln!(out, "{header}").err();
        }
        let narrator = Narrator::new(Arc::clone(&scenario.model), options.narrate);
        let wall_clock = options.wall_clock_limit.map(WallClock::start);
        Stepper {
            sim,
            observer: Observer {
                world: World::new(names.clone()),
                names,
                checks: checkers
                    .into_iter()
                    .map(|c| {
                        let interest = c.interest();
                        (c, false, interest)
                    })
                    .collect(),
                hasher: TraceHasher::default(),
                report,
                narrator,
                options,
                trace_error,
                index: 0,
                last_time,
            },
            end: scenario.end(),
            expect: scenario.expect.clone(),
            script: (!scenario.steps.is_empty()).then(|| Script::new(scenario.steps.clone(), seed)),
            servers: scenario.servers,
            ended: None,
            wall_clock,
        }
    }

    /// The same run, with Byzantine nodes forging messages by `tamper` (a
    /// model's [`crate::Model::tamper`]); call before the first step.
    pub fn tamper(mut self, tamper: Option<crate::engine::Tamper<M>>) -> Self {
        self.sim.set_tamper(tamper);
        self
    }

    /// The simulation as it is now: time, nodes up or down, clocks,
    /// storage, network, counters.
    pub fn sim(&self) -> &Sim<M> {
        &self.sim
    }

    /// See [`Stepping::next_time`].
    pub fn next_time(&self) -> Option<SimTime> {
        if self.ended.is_some() {
            return None;
        }
        let due = self
            .script
            .as_ref()
            .and_then(Script::due)
            .filter(|due| *due <= self.end);
        let next = match (self.sim.next_event_time(), due) {
            (Some(event), Some(due)) => event.min(due),
            (event, due) => event.or(due).unwrap_or(self.end),
        };
        Some(next.min(self.end).max(self.sim.now()))
    }

    /// Runs the next engine step (see [`Stepping::step`]).
    pub fn step(&mut self) -> bool {
        if self.ended.is_some() {
            return false;
        }
        if self.wall_clock.as_mut().is_some_and(WallClock::expired) {
            self.ended = Some(RunEnd::Stopped);
            return false;
        }
        let (sim, observer, end) = (&mut self.sim, &mut self.observer, self.end);
        let (script, servers) = (&mut self.script, self.servers);
        let stepped = catch_unwind(AssertUnwindSafe(|| {
            // The script acts first when it is due no later than the next event.
            if let Some(script) = script.as_mut() {
                if let Some(due) = script.due() {
                    if due <= end && sim.next_event_time().is_none_or(|t| t >= due) {
                        sim.advance_to(due);
                        return run_script(script, sim, observer, servers);
                    }
                }
            }
            // As `Sim::run_until(end, ..)`, one step at a time.
            if sim.next_event_time().is_none_or(|t| t > end) {
                return Some(sim.run_until(end, |_| true));
            }
            match sim.step_until(end) {
                Step::Ran => {}
                Step::Idle => return Some(sim.run_until(end, |_| true)),
                Step::Limit(hit) => return Some(RunEnd::Limit(hit)),
            }
            for event in sim.events() {
                if !observer.observe(event) {
                    return Some(RunEnd::Stopped);
                }
                if let Some(script) = script.as_mut() {
                    script.observe(event);
                }
            }
            match script.as_mut() {
                Some(script) if !script.is_over() => run_script(script, sim, observer, servers),
                _ => None,
            }
        }));
        self.ended = match stepped {
            Ok(ended) => ended,
            Err(payload) => {
                let node = self
                    .sim
                    .in_handler()
                    .map(|n| self.observer.names[n.index()].as_str());
                let violation = panic_violation(payload.as_ref(), self.sim.now(), node);
                self.observer.report.violations.push(violation);
                Some(RunEnd::Stopped)
            }
        };
        if self.ended == Some(RunEnd::Reached) {
            // A script's `stop` ends the run early: judge it there.
            self.end = self.end.min(self.sim.now());
        }
        self.ended.is_none()
    }

    /// The trace events of the last step.
    pub fn events(&self) -> &[TraceEvent] {
        self.sim.events()
    }

    /// Violations found so far.
    pub fn violations(&self) -> &[Violation] {
        &self.observer.report.violations
    }

    /// Runs the end-of-run checks (if the end was reached) and reports.
    /// A run not stepped to its end is judged as far as it went.
    pub fn finish(self) -> RunReport {
        let Stepper {
            sim,
            observer,
            end,
            expect,
            ended,
            script,
            wall_clock,
            ..
        } = self;
        let Observer {
            mut checks,
            world,
            hasher,
            mut report,
            narrator,
            mut options,
            trace_error,
            index,
            ..
        } = observer;
        match ended {
            Some(RunEnd::Reached) => {
                for (checker, done, _) in checks.iter_mut() {
                    if *done {
                        continue;
                    }
                    if let Some(v) = checker.finish(end, &world) {
                        let safety = v.severity == Severity::Safety;
                        report.around.push(world.around(v.time, options.around));
                        report.violations.push(v);
                        if safety {
                            break;
                        }
                    }
                }
            }
            Some(RunEnd::Stopped) | None => {}
            Some(RunEnd::Limit(hit)) => {
                let v = limit_violation(hit, sim.now());
                report.around.push(world.around(v.time, options.around));
                report.violations.push(v);
            }
        }
        if let Some(out) = options.trace.as_mut() {
            report.trace_error = trace_error
                .or_else(|| out.flush().err())
                .map(|e| e.to_string());
        }
        report.check_notes = checks.iter().filter_map(|(c, _, _)| c.note()).collect();
        if sim.byzantine_untampered() {
            report.check_notes.push(
                "byzantine: this model has no tamper, so equivocate and corrupt sent its messages unchanged"
                    .to_string(),
            );
        }
        if let Some(script) = &script {
            report.check_notes.push(format!(
                "steps: {} of {} ran",
                script.position(),
                script.len()
            ));
        }
        report.inconclusive_checks = checks
            .iter()
            .filter(|(c, _, _)| c.inconclusive())
            .map(|(c, _, _)| c.name().to_string())
            .collect();
        let mut world = world;
        report.history = world.take_history();
        report.sim_time = sim.now();
        report.stats = *sim.stats();
        report.trace_events = index;
        if options.trace_hash {
            report.trace_hash = hasher.hex();
        }
        let (lines, omitted, counts, faults) = narrator.into_parts();
        report.narration = lines;
        report.narration_omitted = omitted;
        report.observations = counts;
        report.faults = faults;
        report.metrics = checks.iter().flat_map(|(c, _, _)| c.metrics()).collect();
        report.series = checks.iter_mut().find_map(|(c, _, _)| c.take_series());
        report.metrics.sort_by(|a, b| a.0.cmp(&b.0));
        report.verdict = verdict_of(&report.violations);
        let stopped_after = wall_clock.and_then(|w| w.stopped_after.map(|e| (w.limit, e)));
        if let Some((limit, elapsed)) = stopped_after {
            // A violation found before the limit keeps its verdict.
            let events = report.stats.events;
            let timeout = timeout_violation(limit, elapsed, report.sim_time, events);
            report
                .around
                .push(world.around(timeout.time, options.around));
            report.violations.push(timeout);
            if report.verdict == Verdict::Pass {
                report.verdict = Verdict::Timeout;
            }
        }
        report.check_outcomes = crate::report::summary::check_outcomes(&report);
        // A timed-out run met no expectation: it was not judged to its end.
        report.expectation_met = if report.verdict == Verdict::Timeout {
            false
        } else if expect == "pass" {
            report.verdict == Verdict::Pass
        } else {
            report.violations.iter().any(|v| v.name == expect)
        };
        report
    }
}

/// Lets the script act at the simulation's current time until it waits:
/// applies its faults (their events judged like any other), tells its
/// lines, reports its violations. `Some` when the run must stop.
fn run_script<M: Message>(
    script: &mut Script,
    sim: &mut Sim<M>,
    observer: &mut Observer,
    servers: usize,
) -> Option<RunEnd> {
    loop {
        let position = script.position();
        let outcome = script.poll(sim.now(), &SimView { sim, servers });
        match outcome {
            None => {}
            Some(Outcome::Line(line)) => observer.narrator.line(sim.now(), &line),
            Some(Outcome::Fault(fault)) => {
                sim.apply(fault);
                for event in sim.events() {
                    if !observer.observe(event) {
                        return Some(RunEnd::Stopped);
                    }
                    script.observe(event);
                }
            }
            Some(Outcome::Stop) => return Some(RunEnd::Reached),
            Some(Outcome::Violation(v)) => {
                let safety = v.severity == Severity::Safety;
                observer.report.violations.push(v);
                if safety {
                    return Some(RunEnd::Stopped);
                }
            }
        }
        if script.position() == position {
            return None;
        }
    }
}

/// The simulation as a script sees it.
struct SimView<'a, M> {
    sim: &'a Sim<M>,
    servers: usize,
}

impl<M: Message> View for SimView<'_, M> {
    fn servers(&self) -> usize {
        self.servers
    }
    fn is_up(&self, node: NodeId) -> bool {
        self.sim.is_up(node)
    }
    fn role(&self, node: NodeId) -> Option<(&'static str, u64)> {
        self.sim.role(node)
    }
    fn is_open(&self, from: NodeId, to: NodeId) -> bool {
        self.sim.topology().is_open(from, to)
    }
    fn name(&self, node: NodeId) -> &str {
        &self.sim.names()[node.index()]
    }
}

impl<M: Message> Stepping for Stepper<M> {
    fn step(&mut self) -> bool {
        Stepper::step(self)
    }

    fn events(&self) -> &[TraceEvent] {
        Stepper::events(self)
    }

    fn now(&self) -> SimTime {
        self.sim.now()
    }

    fn violations(&self) -> &[Violation] {
        Stepper::violations(self)
    }

    fn next_time(&self) -> Option<SimTime> {
        Stepper::next_time(self)
    }

    fn is_up(&self, node: NodeId) -> bool {
        self.sim.is_up(node)
    }

    fn node_state(&self, node: NodeId) -> Option<String> {
        self.sim.node_state(node)
    }

    fn finish(self: Box<Self>) -> RunReport {
        Stepper::finish(*self)
    }
}
