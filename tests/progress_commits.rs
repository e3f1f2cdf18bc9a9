//! The `progress` check counts what the model calls done, not what a
//! client was told. `eager` (defined here) acknowledges every write to its
//! client at once and commits it later, once 3 of its 4 servers hold it:
//! on a 2|2 split nothing can commit, yet the clients keep hearing `ok`.
//! Counting client acknowledgements, the check passes it; once the model
//! names its commit record ([`faultlab::Model::committed_records`]), the
//! check reports `no_progress`, and it still passes the same model when
//! the split heals and commits resume.

use faultlab::history::{OpType, Value};
use faultlab::model::{Layout, ModelChecks, ParamError};
use faultlab::scenario::{run, RunOptions, Scenario, Verdict};
use faultlab::sweep::sweep;
use faultlab::{Ctx, Model, Node, NodeId, Registry, SimDuration, TimerId};
use serde::Deserialize;
use serde_json::json;

/// Acknowledges before it commits; `declares` says whether it names its
/// `commit` record as the mark of a committed write.
struct Eager {
    declares: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EagerTable {}

#[derive(Clone, Debug, Hash)]
enum Msg {
    /// Please store write `seq` of the sender.
    Store { seq: u64 },
    /// I stored the receiver's write `seq`.
    Stored { seq: u64 },
}

/// Servers in the cluster, and how many must hold a write for it to commit.
const SERVERS: usize = 4;
const QUORUM: usize = 3;

#[derive(Default)]
struct EagerNode {
    seq: u64,
    /// Copies of each own write stored (itself included), by seq.
    copies: std::collections::BTreeMap<u64, usize>,
}

impl Node<Msg> for EagerNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_timer(SimDuration::from_millis(50), 0);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, _timer: TimerId) {
        // The mistake: the client hears `ok` before a quorum holds the write.
        self.seq += 1;
        let (process, value) = (u64::from(ctx.id().0), Value::Int(self.seq as i64));
        ctx.invoke(process, "write", None, value.clone());
        ctx.complete(process, OpType::Ok, "write", None, value);
        self.copies.insert(self.seq, 1);
        ctx.broadcast(Msg::Store { seq: self.seq });
        ctx.set_timer(SimDuration::from_millis(50), 0);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Store { seq } => ctx.send(from, Msg::Stored { seq }),
            Msg::Stored { seq } => {
                let Some(copies) = self.copies.get_mut(&seq) else {
                    return;
                };
                *copies += 1;
                if *copies == QUORUM {
                    let id = ctx.id().0;
                    ctx.record("commit", json!({ "writer": id, "seq": seq }));
                }
            }
        }
    }
}

impl Model for Eager {
    type Table = EagerTable;
    type Params = ();
    type Msg = Msg;

    fn name(&self) -> &'static str {
        if self.declares {
            "eager_declared"
        } else {
            "eager"
        }
    }

    fn about(&self) -> &'static str {
        "acknowledges writes before a quorum holds them"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["progress"],
            default: &["progress"],
            always: &[],
        }
    }

    fn servers(&self) -> faultlab::model::Servers {
        faultlab::model::Servers {
            min: SERVERS,
            roles: "every node is a server",
        }
    }

    fn params(&self, _table: EagerTable, layout: &Layout) -> Result<(), ParamError> {
        if layout.servers != SERVERS {
            return Err(ParamError::table("eager runs on exactly 4 servers"));
        }
        Ok(())
    }

    fn committed_records(&self) -> &'static [&'static str] {
        if self.declares {
            &["commit"]
        } else {
            &[]
        }
    }

    fn node(&self, _params: &(), _layout: &Layout, _id: NodeId) -> Box<dyn Node<Msg>> {
        Box::<EagerNode>::default()
    }
}

fn registry() -> Registry {
    Registry::builtin()
        .with(Eager { declares: false })
        .with(Eager { declares: true })
}

/// Four servers split 2|2 at 1s (healed at `heal`, if given); progress is
/// due within 1s of 1.5s.
fn split(model: &str, heal: Option<&str>) -> Scenario {
    let heal = heal.map_or(String::new(), |at| {
        format!("\n[[faults]]\nat = \"{at}\"\nkind = \"heal\"\n")
    });
    let text = format!(
        r#"
model = "{model}"
duration = "4s"
expect = "no_progress"
checks = ["progress"]
[nodes]
count = 4
[[faults]]
at = "1s"
kind = "partition"
groups = [["n1", "n2"], ["n3", "n4"]]
{heal}
[liveness]
after = "1.5s"
within = "1s"
"#
    );
    Scenario::parse_with(&registry(), &text, &format!("{model}-split.toml")).unwrap()
}

#[test]
fn client_acks_fool_a_check_that_counts_them() {
    let scenario = split("eager", None);
    let report = run(&scenario, 1, RunOptions::default());
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.violations);
    // Not one write committed after the split, yet every one was acked.
    let commits = report.observations.iter().find(|(k, _)| k == "commit");
    assert!(
        commits.is_some_and(|(_, n)| *n > 0),
        "{:?}",
        report.observations
    );
    let summary = sweep(&scenario, 0..50, None, &|| {});
    assert_eq!(summary.passed, 50, "acks count: every seed passes");
    assert_eq!(summary.expectation_met, 0);
}

#[test]
fn a_model_that_names_its_commits_is_judged_by_them() {
    let scenario = split("eager_declared", None);
    let report = run(&scenario, 1, RunOptions::default());
    assert_eq!(report.verdict, Verdict::Stuck, "{:?}", report.violations);
    let violation = &report.violations[0];
    assert_eq!(violation.name, "no_progress");
    assert!(
        violation.explanation.starts_with(
            "nothing was committed (no `commit` record; client acknowledgements do not count) and no leader was elected between 1.500s (the liveness phase) and 2.500s"
        ),
        "{}",
        violation.explanation
    );
    let summary = sweep(&scenario, 0..50, None, &|| {});
    assert_eq!(summary.expectation_met, 50, "no seed is fooled");
    assert_eq!(summary.passed, 0);
}

#[test]
fn commits_after_a_heal_are_progress() {
    let scenario = split("eager_declared", Some("1.6s"));
    let summary = sweep(&scenario, 0..20, None, &|| {});
    assert_eq!(summary.passed, 20, "{:?}", summary.failures.first());
}

#[test]
fn the_command_line_reports_the_unfooled_check() {
    let path = std::env::temp_dir().join(format!(
        "faultlab-progress-commits-{}.toml",
        std::process::id()
    ));
    let scenario = "model = \"eager_declared\"\nduration = \"4s\"\nexpect = \"no_progress\"\nchecks = [\"progress\"]\n[nodes]\ncount = 4\n[[faults]]\nat = \"1s\"\nkind = \"partition\"\ngroups = [[\"n1\", \"n2\"], [\"n3\", \"n4\"]]\n[liveness]\nafter = \"1.5s\"\nwithin = \"1s\"\n";
    std::fs::write(&path, scenario).unwrap();
    let path = path.to_string_lossy().into_owned();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let args = ["sweep", path.as_str(), "--seeds", "0..10", "--jobs", "1"];
    let code = faultlab::cli::run_with_args(&registry(), args, &mut out, &mut err);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("0 passed, 10 failed · expectation (no_progress) met in 10/10"),
        "{out}"
    );
    assert!(
        out.contains("seed 0: stuck no_progress: nothing was committed"),
        "{out}"
    );
    std::fs::remove_file(path).ok();
}
