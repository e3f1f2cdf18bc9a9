//! A rough count of the events one run of a scenario will process, from its
//! parameters alone, so the CLI can warn before a run that takes minutes.
//!
//! The formula counts what dominates each model: periodic timers and the
//! messages they send (heartbeats, Raft heartbeats and their replies,
//! lease renewals, anti-entropy), and client operations in a closed loop
//! (think, request, replication, reply). Each change of the network (a cut
//! or a heal) writes up to an `n * n` table of links, about as much work as
//! `n * n / 100` events, so it counts as that many. It ignores other faults and
//! elections, and assumes a full run (a safety violation stops a run early), so it is good
//! to within an order of magnitude on the shipped scenarios
//! (`tests/input_limits.rs` checks), which is all a warning needs. The real
//! stop is `[limits]`: `max_events` and `max_queue`.

use super::Scenario;
use crate::fault::{Action, Fault};
use crate::models::workload::Workload;
use crate::node::NodeId;
use crate::time::SimDuration;

/// Above this many estimated events per run, `faultlab run` and `sweep`
/// warn that the scenario is heavy (50 million: about a minute of one core).
pub const HEAVY_EVENTS: u64 = 50_000_000;

/// One part of the estimate: events, and what makes them.
struct Term {
    events: f64,
    what: String,
}

impl Scenario {
    /// About how many events one run processes (within an order of
    /// magnitude; see the module docs).
    pub fn estimated_events(&self) -> u64 {
        let total: f64 = self.event_terms().iter().map(|t| t.events).sum();
        total.min(u64::MAX as f64) as u64
    }

    /// `warning: scenario X is heavy: about N events per run (...)` when the
    /// estimate is above [`HEAVY_EVENTS`], naming the busiest part.
    pub fn heavy_warning(&self) -> Option<String> {
        let events = self.estimated_events();
        if events <= HEAVY_EVENTS {
            return None;
        }
        let terms = self.event_terms();
        let busiest = terms
            .iter()
            .max_by(|a, b| a.events.total_cmp(&b.events))
            .map_or(String::new(), |t| format!("mostly {}; ", t.what));
        Some(format!(
            "warning: scenario {} is heavy: about {events} events per run ({busiest}a run stops at limits.max_events = {})",
            self.file, self.limits.max_events
        ))
    }

    fn event_terms(&self) -> Vec<Term> {
        // A script that ends in `stop` ends the run at its end, at the latest.
        let stops = matches!(
            self.steps.last().map(|s| &s.action),
            Some(super::script::StepAction::Stop)
        );
        let longest = if stops {
            self.duration.min(super::script::max_length(&self.steps))
        } else {
            self.duration
        };
        let run = longest.as_nanos() as f64;
        let servers = self.servers as f64;
        let link = self.topology.link(NodeId(0), NodeId(0));
        let latency = link.map_or(0.0, |l| l.latency.mean_estimate().as_nanos() as f64);
        let copies = 1.0 + link.map_or(0.0, |l| l.duplicate.as_f64());
        // How many times `every` fits in the run (at least once).
        let times = |every: SimDuration| run / (every.as_nanos().max(1) as f64);
        let mut terms = Vec::new();
        let mut periodic = |every: SimDuration, per_tick: f64, what: String| {
            terms.push(Term {
                events: times(every) * per_tick,
                what: format!("{what} every {every} for {longest}"),
            })
        };
        for work in self.model.periodic_work(copies) {
            periodic(work.every, work.events_per_tick, work.what);
        }
        let clients = self.model.client_work(copies);
        if let Some(work) = clients {
            periodic(work.every, work.events_per_tick, work.what);
        } else if let Some(w) = &self.workload {
            terms.push(client_ops(w, run, latency, servers, copies));
        }
        let changes = self.network_changes(run);
        if changes > 0.0 {
            terms.push(Term {
                events: changes * servers_and_clients(self).powi(2) / 100.0,
                what: format!(
                    "about {changes:.0} cuts and heals of a network of {} nodes",
                    self.names.len()
                ),
            });
        }
        terms
    }

    /// How many times the network's links change: the file's partitions and
    /// heals, and chaos partitions (each with its heal).
    fn network_changes(&self, run: f64) -> f64 {
        let listed = self
            .faults
            .iter()
            .filter(|f| {
                matches!(
                    f.fault,
                    Fault::Partition(_)
                        | Fault::Heal
                        | Fault::HealAll
                        | Fault::SetLink { .. }
                        | Fault::Aimed {
                            action: Action::Isolate
                                | Action::Partition
                                | Action::Bridge
                                | Action::OneWay
                                | Action::SetLink { .. },
                            ..
                        }
                )
            })
            .count() as f64;
        let chaos = self.chaos.as_ref().map_or(0.0, |c| {
            let until = (c.until.as_nanos() as f64).min(run);
            c.partition_every
                .map_or(0.0, |every| 2.0 * until / every.as_nanos().max(1) as f64)
        });
        listed + chaos
    }
}

fn servers_and_clients(scenario: &Scenario) -> f64 {
    scenario.names.len() as f64
}

/// Closed-loop clients: each operation is a think timer, a request, its
/// replication to the other servers and back, and a reply.
fn client_ops(w: &Workload, run: f64, latency: f64, servers: f64, copies: f64) -> Term {
    let think = (w.think_min.as_nanos() as f64 + w.think_max.as_nanos() as f64) / 2.0;
    let op = (think + (4.0 * latency).min(w.timeout.as_nanos() as f64)).max(1.0);
    let ops = f64::from(w.clients) * run / op;
    Term {
        events: ops * (1.0 + (2.0 + 2.0 * (servers - 1.0)) * copies),
        what: format!("{} clients' operations", w.clients),
    }
}
