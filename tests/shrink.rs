//! `faultlab shrink` and `sweep --shrink`: a pinned chaos failure shrinks
//! to a few faults that fail the same way when run from the written file;
//! the output is the same bytes every time; mistakes are exit 2.

use faultlab::cli::run_with_args;
use faultlab::scenario::{run, RunOptions, Scenario, Verdict};
use faultlab::Registry;

/// Lease without fencing under chaos of every kind: seed 4 loses an update.
const LEASE_CHAOS: &str = "tests/data/shrink/lease-chaos.toml";

fn cli(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with_args(&Registry::builtin(), args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

fn temp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("faultlab-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name).to_string_lossy().into_owned()
}

fn run_quiet(scenario: &Scenario, seed: u64) -> faultlab::scenario::RunReport {
    run(
        scenario,
        seed,
        RunOptions {
            narrate: 0,
            ..RunOptions::default()
        },
    )
}

#[test]
fn a_chaos_failure_shrinks_to_a_few_faults_that_fail_the_same_way_from_the_file() {
    let original = Scenario::load(LEASE_CHAOS).expect("loads");
    let before = run_quiet(&original, 4);
    assert_eq!(before.verdict, Verdict::Violation);
    assert_eq!(before.violations[0].name, "lost_update");
    assert!(
        before.faults > 3,
        "the failing run has {} faults",
        before.faults
    );

    let file = temp("lease-min.toml");
    let (code, out, err) = cli(&["shrink", LEASE_CHAOS, "--seed", "4", "-o", &file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("lost_update (check no_lost_update)"), "{out}");
    assert!(out.contains(&format!("written to {file}")), "{out}");
    // Not a terminal: one progress line per improvement on stderr.
    assert!(err.lines().all(|l| l.starts_with("shrink: run ")), "{err}");
    assert!(!err.is_empty());

    // Written in reading order: what it is first, the faults last.
    let text = std::fs::read_to_string(&file).expect("written");
    assert!(
        text.starts_with("description = \"\"\"\nShrunk by `faultlab shrink` from"),
        "{text}"
    );
    let order: Vec<usize> = [
        "\nexpect = ",
        "\nmodel = ",
        "\nseed = 4\n",
        "\nduration = ",
        "\n[lease]",
        "\n[nodes]",
        "\n[[faults]]",
    ]
    .iter()
    .map(|key| text.find(key).unwrap_or_else(|| panic!("{key} in {text}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");

    // The file loads, keeps the original's sections, and fails the same
    // way with its own default seed.
    let shrunk = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(shrunk.chaos.is_none());
    assert!(
        (1..=3).contains(&shrunk.faults.len()),
        "{} faults",
        shrunk.faults.len()
    );
    assert_eq!(shrunk.expect, "lost_update");
    assert_eq!(shrunk.default_seed, 4);
    assert_eq!(shrunk.names, original.names);
    assert_eq!(shrunk.checks, original.checks);
    assert!(shrunk.duration < original.duration);
    let after = run_quiet(&shrunk, shrunk.default_seed);
    assert!(after.expectation_met, "{:?}", after.violations);
    assert_eq!(after.violations[0].check, "no_lost_update");
    // The description says where it came from and narrates the schedule.
    for part in [
        "from tests/data/shrink/lease-chaos.toml, seed 4: lost_update (check no_lost_update)",
        &format!("faults {} -> {}", before.faults, shrunk.faults.len()),
        " runs.",
        "The schedule (true time: fault):",
        "pause n",
    ] {
        assert!(
            shrunk.description.contains(part),
            "{part}: {}",
            shrunk.description
        );
    }
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let (a, b) = (temp("same-a.toml"), temp("same-b.toml"));
    for file in [&a, &b] {
        let (code, out, err) = cli(&["shrink", LEASE_CHAOS, "--seed", "8", "-o", file]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn the_budget_bounds_the_runs_and_the_result_still_fails() {
    let file = temp("budget.toml");
    let (code, out, err) = cli(&[
        "shrink",
        LEASE_CHAOS,
        "--seed",
        "4",
        "--budget",
        "3",
        "--check",
        "no_lost_update",
        "-o",
        &file,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // The original seed, the explicit schedule, 3 tries, the final file.
    assert!(out.contains("· 6 runs (budget spent)"), "{out}");
    let shrunk = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(shrunk.description.contains("the budget of 3 ran out"));
    assert!(run_quiet(&shrunk, 4).expectation_met);
}

#[test]
fn a_seed_that_passes_or_a_scenario_with_steps_is_exit_2() {
    let (code, out, err) = cli(&["shrink", LEASE_CHAOS, "--seed", "0", "-o", &temp("x.toml")]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert_eq!(err.trim_end(), "error: seed 0 passes; nothing to shrink");
    assert!(!std::path::Path::new(&temp("x.toml")).exists());

    let (code, _, err) = cli(&[
        "shrink",
        "scenarios/raft-lab-basic-agree.toml",
        "--seed",
        "1",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("has [[steps]], a script; shrink works on [[faults]] and [chaos] only"),
        "{err}"
    );

    let (code, _, err) = cli(&["shrink", LEASE_CHAOS, "--seed", "4", "--check", "progress"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "--check progress: tests/data/shrink/lease-chaos.toml runs the checks no_lost_update"
        ),
        "{err}"
    );

    let (code, _, err) = cli(&["shrink", LEASE_CHAOS, "--seed", "4", "-o", LEASE_CHAOS]);
    assert_eq!(code, 2);
    assert!(err.contains("that is the scenario being shrunk"), "{err}");

    let (code, out, err) = cli(&[
        "shrink",
        LEASE_CHAOS,
        "--seed",
        "4",
        "--budget",
        "0",
        "-o",
        "no/such/dir/min.toml",
    ]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("error: -o no/such/dir/min.toml: cannot write the file"),
        "{err}"
    );

    let (code, _, err) = cli(&["shrink", "no/such.toml", "--seed", "4"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: no/such.toml"), "{err}");

    for args in [
        &["shrink", LEASE_CHAOS][..],
        &["shrink", LEASE_CHAOS, "--seed", "x"],
        &["shrink", LEASE_CHAOS, "--seed", "4", "--budget", "-1"],
    ] {
        let (code, _, err) = cli(args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
}

#[test]
fn sweep_shrink_writes_one_file_per_violation_from_its_lowest_seed() {
    let dir = temp("sweep-dir");
    // Seeds 4, 5 and 8 lose an update: one file, from seed 4.
    let (code, out, err) = cli(&[
        "sweep",
        LEASE_CHAOS,
        "--seeds",
        "4..9",
        "--jobs",
        "1",
        "--shrink",
        "--shrink-dir",
        &dir,
    ]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.is_empty(), "quiet when not a terminal: {err}");
    let file = format!("{dir}/lease-chaos-lost_update-min.toml");
    assert!(
        out.contains("shrunk seed 4: lost_update (check no_lost_update): faults 15 -> 1 · "),
        "{out}"
    );
    assert!(out.contains(&format!("written to {file}")), "{out}");
    assert_eq!(out.matches("shrunk seed").count(), 1, "{out}");
    let shrunk = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(run_quiet(&shrunk, 4).expectation_met);

    let (code, out, err) = cli(&[
        "sweep",
        LEASE_CHAOS,
        "--seeds",
        "8..9",
        "--json",
        "--shrink",
        "--shrink-dir",
        &dir,
    ]);
    assert_eq!(code, 3, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim_end()).expect("one JSON object");
    let shrunk = &json["shrunk"][0];
    assert_eq!(shrunk["seed"], 8);
    assert_eq!(shrunk["violation"], "lost_update");
    assert_eq!(shrunk["check"], "no_lost_update");
    assert_eq!(shrunk["faults_before"], 10);
    assert_eq!(shrunk["faults_after"], 1);
    assert_eq!(shrunk["file"], file.as_str());
}

/// Every node's timer fires at 100ms (exact clocks: the same true time,
/// in node order); `one_fire` fails at the end if two nodes recorded `fire`.
mod race {
    use faultlab::check::{CheckInfo, Checker, Severity, Violation, World};
    use faultlab::engine::{EventKind, TraceEvent};
    use faultlab::model::{Layout, ModelChecks, ParamError};
    use faultlab::{Ctx, Model, Node, NodeId, Registry, SimDuration, SimTime, TimerId};

    pub struct Race;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Table {}

    #[derive(Clone, Debug, Hash)]
    pub struct Nothing;

    struct Racer;

    impl Node<Nothing> for Racer {
        fn on_start(&mut self, ctx: &mut Ctx<'_, Nothing>) {
            ctx.set_timer(SimDuration::from_millis(100), 0);
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Nothing>, _: NodeId, _: Nothing) {}
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Nothing>, _: TimerId) {
            ctx.record("fire", serde_json::json!({}));
        }
    }

    impl Model for Race {
        type Table = Table;
        type Params = ();
        type Msg = Nothing;
        fn name(&self) -> &'static str {
            "race"
        }
        fn about(&self) -> &'static str {
            "every node records fire at 100ms"
        }
        fn checks(&self) -> ModelChecks {
            ModelChecks {
                supported: &["one_fire"],
                default: &["one_fire"],
                always: &[],
            }
        }
        fn params(&self, _: Table, _: &Layout) -> Result<(), ParamError> {
            Ok(())
        }
        fn node(&self, _: &(), _: &Layout, _: NodeId) -> Box<dyn Node<Nothing>> {
            Box::new(Racer)
        }
    }

    #[derive(Default)]
    struct OneFire {
        fired: u32,
    }

    impl Checker for OneFire {
        fn name(&self) -> &'static str {
            "one_fire"
        }
        fn on_event(&mut self, event: &TraceEvent, _: &World) -> Option<Violation> {
            if let EventKind::Record(record) = &event.kind {
                self.fired += u32::from(record.kind == "fire");
            }
            None
        }
        fn finish(&mut self, end: SimTime, _: &World) -> Option<Violation> {
            (self.fired >= 2).then(|| Violation {
                name: "second_fire".into(),
                check: "one_fire".into(),
                severity: Severity::Safety,
                time: end,
                nodes: Vec::new(),
                explanation: format!("{} nodes fired", self.fired),
            })
        }
    }

    pub fn registry() -> Registry {
        Registry::builtin().with(Race).with_check(
            CheckInfo {
                name: "one_fire",
                about: "at most one node fires",
                severity: Severity::Safety,
                violation: "second_fire",
            },
            |_| Box::new(OneFire::default()),
        )
    }
}

#[test]
fn an_explicit_schedule_that_does_not_fail_the_same_way_is_exit_2() {
    // The trigger crashes n2 right after n1 fires, when n2's timer (due at
    // the same nanosecond, queued first) has fired too: two fire. As a
    // fault at a fixed time, the crash comes before both timers: one fires.
    let text = "model = \"race\"\nduration = \"1s\"\n[race]\n[nodes]\ncount = 2\n\
                [[faults]]\nafter = \"fire\"\nkind = \"crash\"\nnode = \"n2\"\n";
    let path = temp("race.toml");
    std::fs::write(&path, text).expect("write");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let out_file = temp("race-min.toml");
    let args = ["shrink", &path, "--seed", "0", "-o", &out_file];
    let code = run_with_args(&race::registry(), args, &mut out, &mut err);
    let err = String::from_utf8(err).expect("utf-8");
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "error: seed 0 of {path} fails with second_fire (check one_fire), but not with its faults (1) as an explicit schedule: the run passes; nothing shrunk (see README, Shrinking)"
        )
    );
    assert!(out.is_empty());
    assert!(!std::path::Path::new(&out_file).exists());
}
