//! A protocol defined here, registered as a model with a check of its own,
//! runs from scenario text through the library and through the command
//! line ([`faultlab::cli::run_with_args`]): run, sweep and list output, and
//! file:line:field errors for its own table. Misuse (an unknown or missing
//! model, a check the model does not offer, another model's table) is exit 2
//! with a line.

use faultlab::check::{CheckInfo, Checker, Severity, Violation, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::model::{Layout, ModelChecks, ParamError};
use faultlab::node::Record;
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::{Ctx, Model, Node, NodeId, Registry, SimDuration, SimTime, TimerId};
use serde::Deserialize;

/// Every node pings its peers every `interval`; n1 raises an alarm at
/// `alarm_at` if the scenario says so.
struct PingPong;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PingTable {
    interval: Option<SimDuration>,
    alarm_at: Option<SimDuration>,
}

#[derive(Clone, Debug)]
struct PingParams {
    interval: SimDuration,
    alarm_at: Option<SimDuration>,
}

#[derive(Clone, Debug, Hash)]
struct Ping;

const BEAT: u64 = 1;
const ALARM: u64 = 2;

struct Pinger(PingParams);

impl Node<Ping> for Pinger {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Ping>) {
        ctx.set_timer(self.0.interval, BEAT);
        if let (Some(at), NodeId(0)) = (self.0.alarm_at, ctx.id()) {
            ctx.set_timer(at, ALARM);
        }
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_, Ping>, _from: NodeId, _msg: Ping) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Ping>, timer: TimerId) {
        if timer.tag() == ALARM {
            ctx.record("alarm", serde_json::json!({}));
            return;
        }
        ctx.record("beat", serde_json::json!({}));
        ctx.broadcast(Ping);
        ctx.set_timer(self.0.interval, BEAT);
    }
}

impl Model for PingPong {
    type Table = PingTable;
    type Params = PingParams;
    type Msg = Ping;

    fn name(&self) -> &'static str {
        "pingpong"
    }

    fn about(&self) -> &'static str {
        "nodes ping each other; n1 may raise an alarm"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["no_alarm"],
            default: &["no_alarm"],
            always: &[],
        }
    }

    fn params(&self, table: PingTable, _layout: &Layout) -> Result<PingParams, ParamError> {
        let interval = table.interval.unwrap_or(SimDuration::from_millis(100));
        if interval == SimDuration::ZERO {
            return Err(ParamError::at("interval", "must be longer than 0"));
        }
        Ok(PingParams {
            interval,
            alarm_at: table.alarm_at,
        })
    }

    fn narrate(&self, _params: &PingParams, record: &Record) -> Option<String> {
        (record.kind == "alarm").then(|| "RAISES THE ALARM".to_string())
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        &["beat"]
    }

    fn node(&self, params: &PingParams, _layout: &Layout, _id: NodeId) -> Box<dyn Node<Ping>> {
        Box::new(Pinger(params.clone()))
    }
}

/// Safety: no node ever records `alarm`. Reports how many pings went out
/// as a metric.
#[derive(Default)]
struct NoAlarm {
    sent: u64,
}

impl Checker for NoAlarm {
    fn name(&self) -> &'static str {
        "no_alarm"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        if let EventKind::Send { .. } = &event.kind {
            self.sent += 1;
        }
        let EventKind::Record(record) = &event.kind else {
            return None;
        };
        let node = event.node?;
        (record.kind == "alarm").then(|| Violation {
            name: "alarm_raised".into(),
            check: "no_alarm".into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: vec![world.name(node).to_string()],
            explanation: format!("{} raised an alarm", world.name(node)),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        vec![("no_alarm.sent".to_string(), self.sent as f64)]
    }
}

fn registry() -> Registry {
    Registry::builtin().with(PingPong).with_check(
        CheckInfo {
            name: "no_alarm",
            about: "no node raises an alarm",
            severity: Severity::Safety,
            violation: "alarm_raised",
        },
        |_| Box::new(NoAlarm::default()),
    )
}

/// Three nodes for two seconds; `extra` goes into the `[pingpong]` table.
fn scenario(extra: &str) -> String {
    format!(
        "model = \"pingpong\"\nduration = \"2s\"\n\n[pingpong]\ninterval = \"50ms\"\n{extra}\n[nodes]\ncount = 3\n"
    )
}

/// Writes `text` to a file of its own for the command line.
fn file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!(
        "faultlab-custom-model-{}-{name}.toml",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("write temp file");
    path.to_string_lossy().into_owned()
}

/// Runs the command line; returns the exit code, stdout and stderr.
fn cli(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = faultlab::cli::run_with_args(&registry(), args, &mut out, &mut err);
    let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8 output");
    (code, text(out), text(err))
}

#[test]
fn the_library_runs_a_registered_model_from_scenario_text() {
    let s = Scenario::parse_with(&registry(), &scenario(""), "ping.toml").unwrap();
    assert_eq!(s.model.name(), "pingpong");
    assert_eq!(s.checks, ["no_alarm"]);
    let a = run(&s, 7, RunOptions::default());
    assert_eq!(a.verdict.as_str(), "pass", "{:?}", a.violations);
    assert!(a.stats.messages_delivered > 0, "{:?}", a.stats);
    let b = run(&s, 7, RunOptions::default());
    assert_eq!(a.trace_hash, b.trace_hash);

    let alarmed = Scenario::parse_with(&registry(), &scenario("alarm_at = \"1s\""), "a.toml");
    let report = run(&alarmed.unwrap(), 7, RunOptions::default());
    assert_eq!(report.verdict.as_str(), "violation");
    assert_eq!(report.violations[0].name, "alarm_raised");
    // The model narrates its alarm its own way and keeps its beats quiet.
    assert_eq!(report.narration, ["    1.000s  n1 RAISES THE ALARM"]);
    assert!(report
        .observations
        .iter()
        .any(|(k, n)| k == "beat" && *n > 10));
}

#[test]
fn the_builtin_registry_does_not_know_it() {
    let e = Scenario::parse(&scenario(""), "ping.toml").unwrap_err();
    assert_eq!(e.line, Some(1), "{e}");
    assert!(
        e.message.contains(
            "unknown model 'pingpong'; expected one of heartbeat, raft, lease, primary_backup"
        ),
        "{e}"
    );
}

#[test]
fn the_cli_runs_sweeps_and_lists_it() {
    let pass = file("pass", &scenario(""));
    let (code, out, err) = cli(&["run", &pass, "--seed", "3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("model pingpong"), "{out}");
    assert!(out.contains("no_alarm"), "{out}");
    assert_eq!(err, "");

    let alarm = file("alarm", &scenario("alarm_at = \"1s\""));
    let (code, out, _) = cli(&["run", &alarm]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("alarm_raised"), "{out}");

    let (code, out, err) = cli(&["sweep", &pass, "--seeds", "0..3", "--jobs", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 passed, 0 failed"), "{out}");

    let dir = std::env::temp_dir().join(format!("faultlab-custom-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ping.toml"), scenario("")).unwrap();
    let (code, out, err) = cli(&["list", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("pingpong        nodes ping each other"),
        "{out}"
    );
    assert!(
        out.contains("checks: no_alarm (default: no_alarm; always: none)"),
        "{out}"
    );
    assert!(
        out.contains("no_alarm             safety   -> alarm_raised"),
        "{out}"
    );
    assert!(
        out.contains("nodes: at least 1 (every node is a server)\n"),
        "{out}"
    );
    assert!(
        out.contains("nodes: at least 3 (n1 the lease service, n2 the storage, n3.. candidates)\n"),
        "{out}"
    );
    assert!(out.contains("; clients c1..cN from [workload]"), "{out}");
    assert!(
        out.contains("raft"),
        "the built-in models are listed too: {out}"
    );
    assert!(out.contains("ping.toml"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
    for f in [pass, alarm] {
        std::fs::remove_file(f).unwrap();
    }
}

/// Runs `text` through `faultlab run`; asserts exit 2 and a message on stderr
/// with the file, `line` and `what`.
#[track_caller]
fn refused(name: &str, text: &str, line: usize, what: &str) {
    let path = file(name, text);
    let (code, out, err) = cli(&["run", &path]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(code, 2, "{out}{err}");
    let location = format!("error: {path}:{line}: ");
    assert!(err.starts_with(&location), "{location:?} in {err}");
    assert!(err.contains(what), "{what:?} in {err}");
}

#[test]
fn its_own_table_gets_file_line_field_errors() {
    refused(
        "unknown-key",
        &scenario("intervall = \"5ms\""),
        6,
        "unknown key `intervall`",
    );
    refused(
        "zero",
        &scenario("").replace("\"50ms\"", "\"0\""),
        5,
        "field 'pingpong.interval': must be longer than 0",
    );
    refused(
        "type",
        &scenario("alarm_at = 5"),
        6,
        "field 'pingpong.alarm_at': wrong type: found integer",
    );
}

#[test]
fn misuse_is_exit_2_with_a_line() {
    refused(
        "unknown-model",
        &scenario("").replace("\"pingpong\"", "\"chord\""),
        1,
        "unknown model 'chord'; expected one of heartbeat, raft, lease, primary_backup, backoff, cache, zones, service, two_pc, saga, quorum_kv, paxos, zab, pbft, multi_paxos, pingpong",
    );
    refused(
        "no-model",
        &scenario("").replace("model = \"pingpong\"\n", ""),
        1,
        "missing field `model`",
    );
    refused(
        "foreign-check",
        &scenario("").replace("[pingpong]", "checks = [\"linearizability\"]\n[pingpong]"),
        4,
        "check 'linearizability' does not apply to model 'pingpong'; it supports no_alarm",
    );
    refused(
        "foreign-table",
        &format!(
            "{}[raft]\nelection_timeout = [\"150ms\", \"300ms\"]\n",
            scenario("")
        ),
        9,
        "[raft] holds the parameters of model 'raft', but this scenario's model is 'pingpong'",
    );
}

/// A model named like a scenario key would take that table: refused when
/// it is registered.
struct Nodes;

impl Model for Nodes {
    type Table = PingTable;
    type Params = PingParams;
    type Msg = Ping;
    fn name(&self) -> &'static str {
        "nodes"
    }
    fn about(&self) -> &'static str {
        "a model with a bad name"
    }
    fn checks(&self) -> ModelChecks {
        PingPong.checks()
    }
    fn params(&self, table: PingTable, layout: &Layout) -> Result<PingParams, ParamError> {
        PingPong.params(table, layout)
    }
    fn node(&self, params: &PingParams, layout: &Layout, id: NodeId) -> Box<dyn Node<Ping>> {
        PingPong.node(params, layout, id)
    }
}

#[test]
#[should_panic(expected = "model 'nodes' is named like a scenario key")]
fn a_model_may_not_take_a_scenario_keys_name() {
    let _ = Registry::builtin().with(Nodes);
}

#[test]
#[should_panic(expected = "model 'pingpong' is registered twice")]
fn a_model_is_registered_once() {
    let _ = registry().with(PingPong);
}

#[test]
fn a_stepped_run_reports_what_run_does() {
    let options = || RunOptions {
        narrate: 0,
        ..RunOptions::default()
    };
    // Built-in models, one passing and one showing its violation.
    for file in [
        "scenarios/heartbeat-chaos.toml",
        "scenarios/pb-stale-reads.toml",
    ] {
        let s = Scenario::load(file).unwrap();
        let whole = run(&s, s.default_seed, options());
        let mut stepping = s.start(s.default_seed, options());
        let mut steps = 0u64;
        while stepping.step() {
            steps += 1;
            assert!(stepping.now() <= s.end());
            if steps == 100 {
                // A built-in node shows its state (its Debug view).
                let state = (0..s.servers as u32)
                    .find_map(|n| stepping.node_state(NodeId(n)))
                    .expect("a server is up");
                let kind = if file.contains("heartbeat") {
                    "HeartbeatNode"
                } else {
                    "Server"
                };
                assert!(state.starts_with(kind), "{state}");
            }
        }
        let stepped = stepping.finish();
        assert!(steps > 0);
        assert_eq!(stepped.trace_hash, whole.trace_hash, "{file}");
        assert_eq!(stepped.violations, whole.violations, "{file}");
        assert_eq!(stepped.expectation_met, whole.expectation_met, "{file}");
        assert!(stepped.expectation_met, "{file}");
    }
}

#[test]
fn a_stepper_shows_the_simulation_of_its_own_nodes() {
    use faultlab::scenario::{run_custom, Stepper};
    let s = Scenario::parse_with(&registry(), &scenario("alarm_at = \"1s\""), "a.toml").unwrap();
    let params = PingParams {
        interval: SimDuration::from_millis(50),
        alarm_at: Some(SimDuration::from_secs(1)),
    };
    let factory = |p: PingParams| move |_| Box::new(Pinger(p.clone())) as Box<dyn Node<Ping>>;
    let options = || RunOptions {
        extra_checks: vec![Box::new(NoAlarm::default())],
        ..RunOptions::default()
    };
    let mut stepper = Stepper::new(&s, 5, options(), factory(params.clone()));
    while stepper.step() {
        assert!(stepper.violations().is_empty() || stepper.sim().now() >= SimTime(1_000_000_000));
    }
    // The alarm at 1s stopped the run there, with every node up.
    assert_eq!(stepper.sim().now(), SimTime(1_000_000_000));
    assert!((0..3).all(|n| stepper.sim().is_up(NodeId(n))));
    assert_eq!(
        stepper.sim().node_state(NodeId(0)),
        None,
        "Pinger shows no state"
    );
    assert!(stepper.sim().stats().messages_delivered > 0);
    let stepped = stepper.finish();
    let whole = run_custom(&s, 5, options(), factory(params));
    assert_eq!(stepped.trace_hash, whole.trace_hash);
    assert_eq!(stepped.violations[0].name, "alarm_raised");
    assert_eq!(stepped.violations, whole.violations);
}

#[test]
fn metrics_and_check_outcomes_reach_the_report_and_the_sweep() {
    let s = Scenario::parse_with(&registry(), &scenario(""), "ping.toml").unwrap();
    let report = run(&s, 1, RunOptions::default());
    assert_eq!(
        report.check_outcomes,
        [("no_alarm".to_string(), "ok".to_string())]
    );
    let sent = report.metrics.iter().find(|(m, _)| m == "no_alarm.sent");
    assert!(sent.is_some_and(|(_, n)| *n > 10.0), "{:?}", report.metrics);

    let path = file("metrics", &scenario(""));
    let (code, out, err) = cli(&["sweep", &path, "--seeds", "0..4", "--jobs", "2", "--json"]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let m = &json["metrics"]["no_alarm.sent"];
    assert_eq!(m["count"], 4, "{json}");
    for key in ["min", "median", "p90", "p99", "max"] {
        assert!(m[key].as_f64().is_some_and(|v| v > 10.0), "{key}: {json}");
    }
    assert!(m["min"].as_f64() <= m["max"].as_f64());
}
