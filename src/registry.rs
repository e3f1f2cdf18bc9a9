//! The models and checks a scenario may name, looked up by name.
//!
//! [`Registry::builtin`] holds faultlab's own; a user's crate adds its
//! protocol with [`Registry::with`] (and checks of its own with
//! [`Registry::with_check`]) and hands the registry to
//! [`crate::cli::main`] or [`crate::scenario::Scenario::parse_with`].

use crate::check::linearizability::LinModel;
use crate::check::{self, CheckInfo, Checker, LivenessBound};
use crate::model::{bind, Configured, KnobInfo, Layout, Model, ModelChecks, Servers};
use crate::models;
use crate::models::bugs::BugInfo;
use crate::scenario::{ModelTable, ScenarioError};
use std::fmt;
use std::sync::Arc;

/// What a check is built from.
#[derive(Clone, Copy, Debug)]
pub struct CheckSetup {
    /// The scenario's liveness bound.
    pub liveness: LivenessBound,
    /// The sequential model client histories are judged against.
    pub history_model: LinModel,
    /// Bytes the linearizability search may hold.
    pub linearizability_memory: u64,
    /// How many of the nodes are servers (node ids `0..servers`; the rest
    /// are clients).
    pub servers: usize,
    /// The scenario's `[metrics]` section (time-series interval, windows,
    /// SLO), for the `service` family of checks.
    pub metrics: check::service::MetricsConfig,
    /// Keep the time series (see [`crate::scenario::RunOptions::series`]).
    pub keep_series: bool,
    /// The record kinds that mark an operation committed or durable (see
    /// [`crate::Model::committed_records`]); empty: client `ok`s count as progress.
    pub committed_records: &'static [&'static str],
}

type BuildCheck = dyn Fn(&CheckSetup) -> Box<dyn Checker> + Send + Sync;

/// A registered check: what it is and how to build it.
#[derive(Clone)]
pub struct CheckDef {
    /// Its name, kind and violation.
    pub info: CheckInfo,
    build: Arc<BuildCheck>,
}

impl CheckDef {
    /// A fresh checker for one run.
    pub fn build(&self, setup: &CheckSetup) -> Box<dyn Checker> {
        (self.build)(setup)
    }
}

impl fmt::Debug for CheckDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CheckDef").field(&self.info.name).finish()
    }
}

/// A registered model, its type erased.
pub(crate) trait Entry: Send + Sync {
    fn name(&self) -> &'static str;
    fn about(&self) -> &'static str;
    fn checks(&self) -> ModelChecks;
    fn servers(&self) -> Servers;
    fn roles(&self) -> &'static [&'static str];
    fn knobs(&self) -> &'static [KnobInfo];
    fn bugs(&self) -> &'static [BugInfo];
    fn uses_workload(&self) -> bool;
    /// Reads the model's table and validates it for `layout`.
    fn configure(
        &self,
        table: &ModelTable<'_>,
        layout: Layout,
    ) -> Result<Arc<dyn Configured>, ScenarioError>;
}

struct ModelEntry<M: Model>(Arc<M>);

impl<M: Model> Entry for ModelEntry<M> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn about(&self) -> &'static str {
        self.0.about()
    }
    fn checks(&self) -> ModelChecks {
        self.0.checks()
    }
    fn servers(&self) -> Servers {
        self.0.servers()
    }
    fn roles(&self) -> &'static [&'static str] {
        self.0.roles()
    }
    fn knobs(&self) -> &'static [KnobInfo] {
        self.0.knobs()
    }
    fn bugs(&self) -> &'static [BugInfo] {
        self.0.bugs()
    }
    fn uses_workload(&self) -> bool {
        self.0.uses_workload()
    }
    fn configure(
        &self,
        table: &ModelTable<'_>,
        layout: Layout,
    ) -> Result<Arc<dyn Configured>, ScenarioError> {
        let raw: M::Table = table.read()?;
        let params = self
            .0
            .params(raw, &layout)
            .map_err(|e| table.param_error(e))?;
        Ok(bind(Arc::clone(&self.0), params, layout))
    }
}

/// A model as `list` shows it.
#[derive(Clone, Copy, Debug)]
pub struct ModelInfo {
    /// Name in scenario files.
    pub name: &'static str,
    /// One line on what it is.
    pub about: &'static str,
    /// Its checks.
    pub checks: ModelChecks,
    /// The servers it needs.
    pub servers: Servers,
    /// Whether it reads `[workload]`.
    pub uses_workload: bool,
    /// The roles its nodes report, for fault targets (see [`Model::roles`]).
    pub roles: &'static [&'static str],
    /// The knobs a `set` fault may turn (see [`Model::knobs`]).
    pub knobs: &'static [KnobInfo],
    /// The mistakes `bugs = [...]` may switch on (see [`Model::bugs`]).
    pub bugs: &'static [BugInfo],
}

/// Models and checks by name.
#[derive(Clone, Default)]
pub struct Registry {
    models: Vec<Arc<dyn Entry>>,
    checks: Vec<CheckDef>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("models", &self.model_names())
            .field("checks", &self.checks)
            .finish()
    }
}

impl Registry {
    /// No models and no checks.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// faultlab's checks and its models (with the checks they bring):
    /// heartbeat, raft, lease, primary_backup, backoff, cache, zones,
    /// service, two_pc, saga, quorum_kv, paxos, zab, pbft, multi_paxos.
    pub fn builtin() -> Registry {
        let mut registry = Registry::empty();
        for info in check::CATALOGUE {
            let name = info.name;
            registry = registry.with_check(*info, move |setup: &CheckSetup| {
                if name == "availability" {
                    return Box::new(check::availability::Availability::new(setup.servers));
                }
                if name == "progress" {
                    return Box::new(check::invariants::Progress::counting(
                        setup.liveness,
                        setup.committed_records,
                    ));
                }
                if let Some(check) = check::resilience::build(
                    name,
                    setup.metrics,
                    setup.liveness,
                    setup.servers,
                    setup.keep_series,
                ) {
                    return check;
                }
                check::build_with_memory(
                    name,
                    setup.liveness,
                    setup.history_model,
                    setup.linearizability_memory,
                )
                .expect("every catalogued check builds")
            });
        }
        registry
            .with(models::heartbeat::HeartbeatModel)
            .with(models::raft::RaftModel)
            .with(models::lease::LeaseModel)
            .with(models::primary_backup::PrimaryBackupModel)
            .with(models::backoff::BackoffModel)
            .with(models::cache::CacheModel)
            .with(models::zones::ZonesModel)
            .with(models::service::ServiceModel)
            .with(models::two_pc::TwoPcModel)
            .with(models::saga::SagaModel)
            .with(models::quorum_kv::QuorumKvModel)
            .with(models::paxos::PaxosModel)
            .with(models::zab::ZabModel)
            .with(models::pbft::PbftModel)
            .with(models::multi_paxos::MultiPaxosModel)
    }

    /// This registry and `model`, with the checks it brings
    /// ([`Model::own_checks`]). Panics if a model of that name is
    /// registered already, if its name is a scenario key such as `nodes`,
    /// or if one of its checks is named like a different registered check
    /// (mistakes in the program, not in a scenario). A check another model
    /// brought already (the same name and description) is shared.
    pub fn with<M: Model>(mut self, model: M) -> Registry {
        for own in model.own_checks() {
            match self.check(own.info.name) {
                Some(known) => assert!(
                    known.info.about == own.info.about,
                    "model '{}' brings check '{}', but a different check of that name is registered",
                    model.name(),
                    own.info.name
                ),
                None => self = self.with_check(own.info, own.build),
            }
        }
        let name = model.name();
        assert!(
            self.model(name).is_none(),
            "model '{name}' is registered twice"
        );
        assert!(
            !crate::scenario::file::KEYS.contains(&name),
            "model '{name}' is named like a scenario key; its table would be [{name}]"
        );
        self.models.push(Arc::new(ModelEntry(Arc::new(model))));
        self
    }

    /// This registry and a check described by `info`, built by `build` for
    /// each run. Panics if a check of that name is registered already.
    pub fn with_check(
        mut self,
        info: CheckInfo,
        build: impl Fn(&CheckSetup) -> Box<dyn Checker> + Send + Sync + 'static,
    ) -> Registry {
        assert!(
            self.check(info.name).is_none(),
            "check '{}' is registered twice",
            info.name
        );
        self.checks.push(CheckDef {
            info,
            build: Arc::new(build),
        });
        self
    }

    /// The models' names, in registration order.
    pub fn model_names(&self) -> Vec<&'static str> {
        self.models.iter().map(|m| m.name()).collect()
    }

    /// The models, in registration order.
    pub fn models(&self) -> Vec<ModelInfo> {
        self.models
            .iter()
            .map(|m| ModelInfo {
                name: m.name(),
                about: m.about(),
                checks: m.checks(),
                servers: m.servers(),
                uses_workload: m.uses_workload(),
                roles: m.roles(),
                knobs: m.knobs(),
                bugs: m.bugs(),
            })
            .collect()
    }

    /// The checks, in registration order.
    pub fn checks(&self) -> impl Iterator<Item = &CheckDef> {
        self.checks.iter()
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&CheckDef> {
        self.checks.iter().find(|c| c.info.name == name)
    }

    pub(crate) fn model(&self, name: &str) -> Option<&Arc<dyn Entry>> {
        self.models.iter().find(|m| m.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Severity;
    use crate::model::{OwnCheck, ParamError};
    use crate::node::{Ctx, Node, NodeId};

    /// A model that does nothing but bring a check named `shared`.
    struct Bringer {
        name: &'static str,
        about: &'static str,
    }

    struct Idle;
    impl Node<u8> for Idle {
        fn on_start(&mut self, _ctx: &mut Ctx<'_, u8>) {}
        fn on_message(&mut self, _ctx: &mut Ctx<'_, u8>, _from: NodeId, _msg: u8) {}
        fn on_timer(&mut self, _ctx: &mut Ctx<'_, u8>, _timer: crate::node::TimerId) {}
    }

    impl Model for Bringer {
        type Table = toml::Table;
        type Params = ();
        type Msg = u8;
        fn name(&self) -> &'static str {
            self.name
        }
        fn about(&self) -> &'static str {
            "brings a check"
        }
        fn checks(&self) -> ModelChecks {
            ModelChecks {
                supported: &["shared"],
                default: &["shared"],
                always: &[],
            }
        }
        fn own_checks(&self) -> Vec<OwnCheck> {
            vec![OwnCheck {
                info: CheckInfo {
                    name: "shared",
                    about: self.about,
                    severity: Severity::Safety,
                    violation: "",
                },
                build: |_| Box::new(crate::check::availability::Availability::new(1)),
            }]
        }
        fn params(&self, _t: toml::Table, _l: &Layout) -> Result<(), ParamError> {
            Ok(())
        }
        fn node(&self, _p: &(), _l: &Layout, _id: NodeId) -> Box<dyn Node<u8>> {
            Box::new(Idle)
        }
    }

    #[test]
    fn a_model_registers_the_checks_it_brings_and_models_may_share_one() {
        let registry = Registry::empty()
            .with(Bringer {
                name: "a",
                about: "the shared check",
            })
            .with(Bringer {
                name: "b",
                about: "the shared check",
            });
        assert_eq!(
            registry
                .checks()
                .filter(|c| c.info.name == "shared")
                .count(),
            1
        );
        assert_eq!(registry.model_names(), vec!["a", "b"]);
    }

    #[test]
    #[should_panic(expected = "a different check of that name is registered")]
    fn a_different_check_of_the_same_name_is_a_program_error() {
        let _ = Registry::empty()
            .with(Bringer {
                name: "a",
                about: "one check",
            })
            .with(Bringer {
                name: "b",
                about: "another check",
            });
    }
}
