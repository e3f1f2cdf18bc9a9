//! The space-time (Lamport) diagram of one run: one lane per node (servers,
//! then clients), true time flowing left to right, messages as arrows from
//! send to delivery, faults as shaded bands, roles as lane colours, client
//! operations as bars, and the first violation marked where it was found.
//!
//! Time runs left to right because a run is long and its nodes are few:
//! a wide picture fits a screen and a slide, lane names read horizontally,
//! and the time axis reads like any chart's.
//!
//! Model-agnostic: [`collect`] reads the engine's trace events and a few
//! generic record conventions (its module docs list them), and the
//! scenario's model may write short notes on the lanes through
//! [`crate::Model::lane_note`]; nothing here names a model. Within the window every message is drawn; beyond
//! [`DiagramOptions::max_messages`] an even, deterministic sample is (all
//! the dropped ones first, up to a tenth of the cap), and the legend says
//! how many of how many.

pub mod collect;
mod draw;

pub use collect::{Collector, Shapes};
pub use draw::{
    band_color, render, to_svg, Drawn, ARROW, DROPPED, DUPLICATE, IN_FLIGHT, VIOLATION, WIDTH,
};
pub use draw::{role_color, NOTE, NOTE_LANE};

use crate::scenario::{run, RunOptions, RunReport, Scenario};
use crate::time::SimTime;
use std::cell::RefCell;
use std::rc::Rc;

/// The default cap on arrows drawn (`--plot-max-messages`).
pub const DEFAULT_MAX_MESSAGES: usize = 2000;

/// What part of a run to draw, and how much.
#[derive(Clone, Copy, Debug)]
pub struct DiagramOptions {
    /// From this true time.
    pub from: SimTime,
    /// To this true time (`None`: the run's end).
    pub to: Option<SimTime>,
    /// Draw at most this many message copies (sampled beyond).
    pub max_messages: usize,
}

impl Default for DiagramOptions {
    fn default() -> Self {
        DiagramOptions {
            from: SimTime::ZERO,
            to: None,
            max_messages: DEFAULT_MAX_MESSAGES,
        }
    }
}

/// A diagram ready to draw: the shapes in a window, the lanes, the title.
#[derive(Clone, Debug)]
pub struct Diagram {
    /// Node names, one lane each (servers, then clients).
    pub names: Vec<String>,
    /// How many lanes are servers.
    pub servers: usize,
    /// The window drawn.
    pub from: SimTime,
    /// The window drawn.
    pub to: SimTime,
    /// What to draw (arrows already sampled).
    pub shapes: Shapes,
    /// Message copies in the window, before sampling.
    pub messages_total: usize,
    /// The first line: scenario, seed, model, verdict.
    pub title: String,
    /// The first violation: its time, lanes, name and explanation.
    pub violation: Option<(SimTime, Vec<u32>, String, String)>,
}

/// A collector fed by a run: hand its `on_event` to [`RunOptions`], then
/// [`DiagramBuilder::finish`] with the report.
pub struct DiagramBuilder {
    collector: Rc<RefCell<Option<Collector>>>,
    names: Vec<String>,
    servers: usize,
    options: DiagramOptions,
}

impl DiagramBuilder {
    /// A builder for `scenario`'s nodes and `options`' window.
    pub fn new(scenario: &Scenario, options: DiagramOptions) -> DiagramBuilder {
        let to = options.to.unwrap_or(SimTime::MAX);
        // The model's lane notes, its type erased: the collector sees a function.
        let model = std::sync::Arc::clone(&scenario.model);
        let collector = Collector::new(scenario.names.clone(), options.from, to)
            .with_notes(Box::new(move |record| model.lane_note(record)));
        let model = std::sync::Arc::clone(&scenario.model);
        let collector = collector.with_roles(Box::new(move |record| model.lane_role(record)));
        DiagramBuilder {
            collector: Rc::new(RefCell::new(Some(collector))),
            names: scenario.names.clone(),
            servers: scenario.servers,
            options,
        }
    }

    /// The hook for [`RunOptions::on_event`].
    pub fn on_event(&self) -> crate::scenario::run::EventHook {
        let collector = Rc::clone(&self.collector);
        Box::new(move |event| {
            if let Some(c) = collector.borrow_mut().as_mut() {
                c.observe(event);
            }
        })
    }

    /// The diagram of the run `report` describes; an error if the window
    /// starts after the run ended.
    pub fn finish(self, report: &RunReport) -> Result<Diagram, String> {
        let end = report.sim_time;
        if self.options.from > end {
            return Err(format!(
                "--from {} is after the run's end ({end}); expected a window within 0s..{end}",
                self.options.from
            ));
        }
        let collector = self.collector.borrow_mut().take().expect("finished once");
        let mut shapes = collector.finish(end);
        let to = self.options.to.unwrap_or(end).min(end);
        let messages_total = shapes.arrows.len();
        shapes.arrows = sample(
            std::mem::take(&mut shapes.arrows),
            self.options.max_messages,
        );
        let lane_of = |name: &str| self.names.iter().position(|n| n == name).map(|i| i as u32);
        let violation = report.violations.first().map(|v| {
            let lanes = v.nodes.iter().filter_map(|n| lane_of(n)).collect();
            (v.time, lanes, v.name.clone(), v.explanation.clone())
        });
        let title = format!(
            "{} · seed {} · {} · {} to {} · verdict {}",
            report.scenario,
            report.seed,
            report.model,
            self.options.from,
            to,
            report.verdict.as_str()
        );
        let title = match shapes.faults_omitted {
            0 => title,
            n => format!("{title} · {n} more faults not drawn"),
        };
        Ok(Diagram {
            names: self.names,
            servers: self.servers,
            from: self.options.from,
            to,
            shapes,
            messages_total,
            title,
            violation,
        })
    }
}

/// Runs `scenario` with `seed` (plus `options`' other settings) and builds
/// its diagram.
pub fn diagram_of_run(
    scenario: &Scenario,
    seed: u64,
    run_options: RunOptions,
    options: DiagramOptions,
) -> Result<(RunReport, Diagram), String> {
    let builder = DiagramBuilder::new(scenario, options);
    let run_options = RunOptions {
        on_event: Some(builder.on_event()),
        ..run_options
    };
    let report = run(scenario, seed, run_options);
    let diagram = builder.finish(&report)?;
    Ok((report, diagram))
}

/// At most `cap` arrows, deterministically: every dropped one first (up
/// to a tenth of the cap), then an even sample of the rest, in their
/// original order.
fn sample(arrows: Vec<collect::Arrow>, cap: usize) -> Vec<collect::Arrow> {
    if arrows.len() <= cap {
        return arrows;
    }
    let dropped = arrows
        .iter()
        .filter(|a| a.fate == collect::Fate::Dropped)
        .count();
    let keep_dropped = dropped.min(cap / 10);
    let (mut drops, mut others) = (Vec::new(), Vec::new());
    for a in arrows {
        if a.fate == collect::Fate::Dropped {
            drops.push(a);
        } else {
            others.push(a);
        }
    }
    let drops = even(drops, keep_dropped);
    let rest = cap - drops.len();
    let mut kept = even(others, rest);
    kept.extend(drops);
    kept.sort_by_key(|a| (a.sent, a.end));
    debug_assert!(kept.len() <= cap, "sampled {} over {cap}", kept.len());
    kept
}

/// `k` of `items`, evenly spaced (the first of each of `k` equal strides).
fn even<T>(items: Vec<T>, k: usize) -> Vec<T> {
    let n = items.len();
    if k >= n {
        return items;
    }
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| k > 0 && (i * k) / n != ((i + 1) * k) / n)
        .map(|(_, x)| x)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_keeps_k_spread_out() {
        let v: Vec<u32> = (0..10).collect();
        assert_eq!(even(v.clone(), 3).len(), 3);
        assert_eq!(even(v.clone(), 0).len(), 0);
        assert_eq!(even(v.clone(), 10), v);
        assert_eq!(even(v, 5), vec![1, 3, 5, 7, 9]);
    }
}
