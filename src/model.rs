//! The seam between scenarios and protocols: a [`Model`] is everything a
//! scenario file needs to know about a protocol.
//!
//! A model names itself, reads its parameters from the scenario's
//! `[<name>]` table (serde, unknown keys rejected, errors with file, line
//! and field like every other table), says how many servers it needs and
//! whether it has clients (`[workload]`), which checks it offers, and builds
//! one node per id. Scenario code knows models only through this trait and
//! a [`crate::Registry`]; adding a model is a new folder under
//! `src/models/` and one line in [`crate::Registry::builtin`] (or
//! `Registry::builtin().with(MyModel)` in a user's crate).
//!
//! Nodes are generic over their message type, so scenario code holds a
//! model through the object-safe [`Configured`], implemented once for every
//! model by [`bind`]: it runs the model with
//! [`crate::scenario::run_custom_tampered`] (its nodes and its [`Model::tamper`]).

use crate::check::linearizability::LinModel;
use crate::check::{CheckInfo, Checker};
use crate::models::workload::Workload;
use crate::node::{Message, Node, NodeId, Record};
pub use crate::plot::diagram::collect::Role as LaneRole;
use crate::registry::CheckSetup;
use crate::scenario::{run_custom_tampered, RunOptions, RunReport, Scenario, Stepper, Stepping};
use crate::time::SimDuration;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;

/// A protocol a scenario file can name with `model = "<name>"`.
pub trait Model: Send + Sync + 'static {
    /// The `[<name>]` table as written (derive `Deserialize` with
    /// `#[serde(deny_unknown_fields)]`). When the scenario has no such table
    /// it is read from an empty one, so a model whose fields all have
    /// defaults needs none.
    type Table: DeserializeOwned;
    /// The validated parameters the nodes are built from.
    type Params: Clone + fmt::Debug + Send + Sync + 'static;
    /// The nodes' message type.
    type Msg: Message;

    /// The name scenarios use (`model = "..."`, and the `[...]` table).
    fn name(&self) -> &'static str;
    /// One line on what the model is.
    fn about(&self) -> &'static str;
    /// The checks a scenario may name for it.
    fn checks(&self) -> ModelChecks;
    /// Checks of its own (e.g. two-phase commit's `atomicity`), registered
    /// with the model by [`crate::Registry::with`], so that a model and its
    /// checks enter the registry in one line; none by default. The names
    /// still have to be listed in [`Model::checks`] to be used.
    fn own_checks(&self) -> Vec<OwnCheck> {
        Vec::new()
    }
    /// The servers it needs: the least number, and what each one is.
    fn servers(&self) -> Servers {
        Servers {
            min: 1,
            roles: "every node is a server",
        }
    }
    /// The roles its nodes report with [`Node::role`], which fault targets
    /// may name (`node = "@leader"`); none by default.
    fn roles(&self) -> &'static [&'static str] {
        &[]
    }
    /// The famous mistakes its table's `bugs = [...]` may switch on (see
    /// [`crate::models::bugs`]), for `faultlab list`; none by default.
    fn bugs(&self) -> &'static [crate::models::bugs::BugInfo] {
        &[]
    }
    /// The knobs a scenario's `set` fault may turn on its nodes (see
    /// [`Node::on_knob`]); none by default.
    fn knobs(&self) -> &'static [KnobInfo] {
        &[]
    }
    /// True if it has clients, described by the scenario's `[workload]`
    /// (named c1..cN, after the servers).
    fn uses_workload(&self) -> bool {
        false
    }
    /// Validates the table into parameters; `layout` is the scenario's
    /// servers and clients.
    fn params(&self, table: Self::Table, layout: &Layout) -> Result<Self::Params, ParamError>;
    /// The sequential model its clients' history is judged against.
    fn history_model(&self, _params: &Self::Params) -> LinModel {
        LinModel::Register
    }
    /// How long the system may take to make progress after the faults, when
    /// the scenario has no `[liveness] within`; `None` makes that key
    /// required whenever a liveness check runs.
    fn default_liveness(&self, _params: &Self::Params, _layout: &Layout) -> Option<SimDuration> {
        None
    }
    /// Its periodic work, for the estimate of a run's events (clients'
    /// operations are counted separately); `copies` is how many copies of
    /// each message the network delivers on average.
    fn periodic_work(&self, _params: &Self::Params, _layout: &Layout, _copies: f64) -> Vec<Work> {
        Vec::new()
    }
    /// The events its clients cause in a run of `run`, for the estimate
    /// of a run's events, when they do not run [`Workload`]'s closed loop
    /// for the whole run (an open loop at a rate, or one request each and
    /// stop); `copies` is as in [`Model::periodic_work`]. `None` (the
    /// default) estimates that closed loop from the think time and timeout.
    fn client_events(
        &self,
        _params: &Self::Params,
        _layout: &Layout,
        _run: SimDuration,
        _copies: f64,
    ) -> Option<f64> {
        None
    }
    /// The narrated line of one of its nodes' records, after the node's
    /// name (e.g. `"elected leader of term 3"`); `None` tells it the default
    /// way (`kind key=value ...`).
    fn narrate(&self, _params: &Self::Params, _record: &Record) -> Option<String> {
        None
    }
    /// Record kinds too frequent to narrate (still counted, traced and
    /// checked); client operations, `state` and `commit` are never narrated.
    fn quiet_records(&self) -> &'static [&'static str] {
        &[]
    }
    /// The record kinds its nodes write when an operation is done by the
    /// model's own safety definition: committed or durable (Raft: `commit`,
    /// recorded when an entry is applied after a quorum stored it). The
    /// `progress` check then counts one of these records after the faults
    /// as progress, and no longer a client's `ok` operation, which a buggy
    /// (or lenient) server may send before the work is done; elections
    /// (`leader`) and fenced storage writes (`storage_write`) still count.
    /// None by default: a client `ok` counts, as it always has.
    fn committed_records(&self) -> &'static [&'static str] {
        &[]
    }
    /// A short note (a few characters, e.g. `"c7"` for commit index 7) the
    /// space-time diagram writes on the recording node's lane at the
    /// record's time; `None` (the default) writes nothing. A note that
    /// repeats the lane's previous one is skipped, and notes that would
    /// overlap are thinned (see [`crate::plot::diagram::collect`]).
    fn lane_note(&self, _params: &Self::Params, _record: &Record) -> Option<String> {
        None
    }
    /// The role a record says its node took, coloured on the node's lane
    /// in the space-time diagram (with the term or epoch, if any), until
    /// the next role or a crash; by default the record kinds of
    /// [`crate::plot::diagram::collect::ROLE_RECORDS`] (`leader`,
    /// `candidate`, `follower`, ...) with their `term` field.
    fn lane_role(
        &self,
        _params: &Self::Params,
        record: &Record,
    ) -> Option<(LaneRole, Option<u64>)> {
        crate::plot::diagram::collect::role_by_kind(record)
    }
    /// How a Byzantine node of this model forges messages (see
    /// [`crate::fault::byzantine`]); `None` (the default) makes the
    /// `equivocate` and `corrupt` adversaries send messages unchanged,
    /// while `drop_to` and `replay` work for every model.
    fn tamper(
        &self,
        _params: &Self::Params,
    ) -> Option<Arc<dyn crate::fault::byzantine::Tamper<Self::Msg>>> {
        None
    }
    /// Builds node `id` (servers are `0..layout.servers`, then the clients).
    fn node(&self, params: &Self::Params, layout: &Layout, id: NodeId) -> Box<dyn Node<Self::Msg>>;
}

/// The checks a model offers.
#[derive(Clone, Copy, Debug)]
pub struct ModelChecks {
    /// Checks a scenario may name.
    pub supported: &'static [&'static str],
    /// Checks run when a scenario names none.
    pub default: &'static [&'static str],
    /// Checks that always run, named or not.
    pub always: &'static [&'static str],
}

/// A check a model brings with it (see [`Model::own_checks`]): what it is
/// and how to build one for a run. Models that share a check return the
/// same `OwnCheck` (the registry keeps the first).
#[derive(Clone, Copy)]
pub struct OwnCheck {
    /// Its name, what it checks, its kind and violation.
    pub info: CheckInfo,
    /// A fresh checker for one run.
    pub build: fn(&CheckSetup) -> Box<dyn Checker>,
}

impl fmt::Debug for OwnCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnCheck").field(&self.info.name).finish()
    }
}

/// A knob of a model's nodes that a `set` fault may turn mid-run.
#[derive(Clone, Copy, Debug)]
pub struct KnobInfo {
    /// Its name, as the fault's `knob` spells it (e.g. `"rate"`).
    pub name: &'static str,
    /// Which nodes have it: `"servers"`, `"clients"` or `"all"`.
    pub nodes: &'static str,
    /// One line on what it means and its unit, e.g. "requests per second each client starts".
    pub about: &'static str,
    /// The least value it takes.
    pub min: f64,
    /// The greatest value it takes.
    pub max: f64,
}

/// The servers a model needs.
#[derive(Clone, Copy, Debug)]
pub struct Servers {
    /// The least number of servers.
    pub min: usize,
    /// What each server is, e.g. "n1 the lease service, n2 the storage, n3.. candidates".
    pub roles: &'static str,
}

/// A scenario's nodes as a model sees them.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// How many servers (node ids `0..servers`).
    pub servers: usize,
    /// The clients, if the model uses `[workload]`.
    pub workload: Option<Workload>,
}

/// A mistake in a model's parameters: the key (in the model's table) it is
/// about, or the whole table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    /// The key, e.g. `"timeout"`; `None` for the table as a whole.
    pub key: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ParamError {
    /// An error about `key`: the scenario error names its line and `<model>.<key>`.
    pub fn at(key: &str, message: impl Into<String>) -> ParamError {
        ParamError {
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    /// An error about the whole table: the scenario error names its header.
    pub fn table(message: impl Into<String>) -> ParamError {
        ParamError {
            key: None,
            message: message.into(),
        }
    }
}

/// Periodic work: `events_per_tick` events every `every`.
#[derive(Clone, Debug)]
pub struct Work {
    /// The period.
    pub every: SimDuration,
    /// Events each period causes.
    pub events_per_tick: f64,
    /// What it is, e.g. "anti-entropy to 2 backups".
    pub what: String,
}

/// A model with its validated parameters, as a scenario holds it.
pub trait Configured: Send + Sync + fmt::Debug {
    /// The model's name.
    fn name(&self) -> &'static str;
    /// The sequential model its client history is judged against.
    fn history_model(&self) -> LinModel;
    /// The model's default liveness bound, if it has one.
    fn default_liveness(&self) -> Option<SimDuration>;
    /// Its periodic work (see [`Model::periodic_work`]).
    fn periodic_work(&self, copies: f64) -> Vec<Work>;
    /// See [`Model::client_events`].
    fn client_events(&self, run: SimDuration, copies: f64) -> Option<f64>;
    /// See [`Model::narrate`].
    fn narrate(&self, record: &Record) -> Option<String>;
    /// See [`Model::quiet_records`].
    fn quiet_records(&self) -> &'static [&'static str];
    /// See [`Model::committed_records`].
    fn committed_records(&self) -> &'static [&'static str];
    /// See [`Model::lane_note`].
    fn lane_note(&self, record: &Record) -> Option<String>;
    /// See [`Model::lane_role`].
    fn lane_role(&self, record: &Record) -> Option<(LaneRole, Option<u64>)>;
    /// Runs `scenario` with `seed` and this model's nodes.
    fn run(&self, scenario: &Scenario, seed: u64, options: RunOptions) -> RunReport;
    /// Starts a run of `scenario` with `seed` and this model's nodes, to be stepped.
    fn start(&self, scenario: &Scenario, seed: u64, options: RunOptions) -> Box<dyn Stepping>;
}

/// `model` with `params` for `layout`, behind [`Configured`].
pub fn bind<M: Model>(model: Arc<M>, params: M::Params, layout: Layout) -> Arc<dyn Configured> {
    Arc::new(Bound {
        model,
        params,
        layout,
    })
}

struct Bound<M: Model> {
    model: Arc<M>,
    params: M::Params,
    layout: Layout,
}

impl<M: Model> fmt::Debug for Bound<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.model.name())
            .field("params", &self.params)
            .field("layout", &self.layout)
            .finish()
    }
}

impl<M: Model> Bound<M> {
    /// The node factory: the model's `node` with these parameters.
    fn factory(&self) -> impl FnMut(NodeId) -> Box<dyn Node<M::Msg>> + 'static {
        let (model, params, layout) = (
            Arc::clone(&self.model),
            self.params.clone(),
            self.layout.clone(),
        );
        move |id| model.node(&params, &layout, id)
    }
}

impl<M: Model> Configured for Bound<M> {
    fn name(&self) -> &'static str {
        self.model.name()
    }

    fn history_model(&self) -> LinModel {
        self.model.history_model(&self.params)
    }

    fn default_liveness(&self) -> Option<SimDuration> {
        self.model.default_liveness(&self.params, &self.layout)
    }

    fn periodic_work(&self, copies: f64) -> Vec<Work> {
        self.model.periodic_work(&self.params, &self.layout, copies)
    }

    fn client_events(&self, run: SimDuration, copies: f64) -> Option<f64> {
        self.model
            .client_events(&self.params, &self.layout, run, copies)
    }

    fn narrate(&self, record: &Record) -> Option<String> {
        self.model.narrate(&self.params, record)
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        self.model.quiet_records()
    }

    fn committed_records(&self) -> &'static [&'static str] {
        self.model.committed_records()
    }

    fn lane_note(&self, record: &Record) -> Option<String> {
        self.model.lane_note(&self.params, record)
    }

    fn lane_role(&self, record: &Record) -> Option<(LaneRole, Option<u64>)> {
        self.model.lane_role(&self.params, record)
    }

    fn run(&self, scenario: &Scenario, seed: u64, options: RunOptions) -> RunReport {
        let tamper = self.model.tamper(&self.params);
        run_custom_tampered(scenario, seed, options, self.factory(), tamper)
    }

    fn start(&self, scenario: &Scenario, seed: u64, options: RunOptions) -> Box<dyn Stepping> {
        let tamper = self.model.tamper(&self.params);
        Box::new(Stepper::new(scenario, seed, options, self.factory()).tamper(tamper))
    }
}
