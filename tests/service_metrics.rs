//! The `service` family of checks in real runs: a small request/response
//! model defined here emits the service records; the run's metrics, time
//! series, `recovers`, `goodput_slo` and `breaker_opens`, the `[metrics]`
//! section and `run --metrics FILE.csv` are checked through the library and
//! the command line.

use faultlab::check::service::{detail, BREAKER, CALL, DONE, QUIET_RECORDS, REQUEST, SERVED};
use faultlab::model::{Layout, ModelChecks, ParamError};
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::{Ctx, Model, Node, NodeId, Registry, SimDuration, TimerId};
use serde::Deserialize;

/// n1 answers every request at once; every other node is a client that
/// sends one request every `every` and counts an answer within `deadline`
/// as good. A client whose answer is late opens its breaker (recorded
/// only) and closes it at the next good answer, unless `stuck`.
struct Echo;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoTable {
    every: SimDuration,
    deadline: SimDuration,
    #[serde(default)]
    stuck: bool,
}

#[derive(Clone, Debug)]
struct EchoParams {
    every: SimDuration,
    deadline: SimDuration,
    stuck: bool,
}

#[derive(Clone, Debug, Hash)]
enum Msg {
    Req(u64),
    Rep(u64),
}

struct Server;

impl Node<Msg> for Server {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}
    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        if let Msg::Req(id) = msg {
            ctx.record(SERVED, detail::served(0));
            ctx.send(from, Msg::Rep(id));
        }
    }
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Msg>, _timer: TimerId) {}
}

struct Client {
    p: EchoParams,
    next: u64,
    /// Local send time of each request, by id.
    sent: Vec<i64>,
    open: bool,
}

impl Node<Msg> for Client {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_timer(self.p.every, 0);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _from: NodeId, msg: Msg) {
        let Msg::Rep(id) = msg else { return };
        let latency = (ctx.now_local().0 - self.sent[id as usize]).max(0) as u64;
        let good = latency <= self.p.deadline.as_nanos();
        ctx.record(DONE, detail::done(id, true, good, latency, 1, "ok"));
        if !good && !self.open {
            self.open = true;
            ctx.record(BREAKER, detail::breaker("open"));
        } else if good && self.open && !self.p.stuck {
            self.open = false;
            ctx.record(BREAKER, detail::breaker("closed"));
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, _timer: TimerId) {
        let id = self.next;
        self.next += 1;
        self.sent.push(ctx.now_local().0);
        ctx.record(REQUEST, detail::request(id));
        ctx.record(CALL, detail::call(id, 1));
        ctx.send(NodeId(0), Msg::Req(id));
        ctx.set_timer(self.p.every, 0);
    }
}

impl Model for Echo {
    type Table = EchoTable;
    type Params = EchoParams;
    type Msg = Msg;
    fn name(&self) -> &'static str {
        "echo"
    }
    fn about(&self) -> &'static str {
        "one server answers at once; clients count answers within a deadline"
    }
    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["service", "recovers", "goodput_slo", "breaker_opens"],
            default: &[],
            always: &["service"],
        }
    }
    fn params(&self, t: EchoTable, _layout: &Layout) -> Result<EchoParams, ParamError> {
        if t.every == SimDuration::ZERO {
            return Err(ParamError::at("every", "must be longer than 0"));
        }
        Ok(EchoParams {
            every: t.every,
            deadline: t.deadline,
            stuck: t.stuck,
        })
    }
    fn quiet_records(&self) -> &'static [&'static str] {
        QUIET_RECORDS
    }
    fn node(&self, p: &EchoParams, _layout: &Layout, id: NodeId) -> Box<dyn Node<Msg>> {
        if id == NodeId(0) {
            return Box::new(Server);
        }
        Box::new(Client {
            p: p.clone(),
            next: 0,
            sent: Vec::new(),
            open: false,
        })
    }
}

fn registry() -> Registry {
    Registry::builtin().with(Echo)
}

/// Three nodes (n1 serves n2 and n3, 10 requests a second each) for 10s,
/// 5ms each way; n1 is paused for 1s at 4s; `extra` is appended.
fn scenario(extra: &str) -> String {
    format!(
        r#"model = "echo"
duration = "10s"
checks = ["recovers", "goodput_slo", "breaker_opens"]

[echo]
every = "100ms"
deadline = "50ms"

[nodes]
count = 3

[network]
latency = {{ dist = "constant", value = "5ms" }}

[[faults]]
at = "4s"
kind = "pause"
node = "n1"
duration = "1s"

[liveness]
within = "3s"
{extra}"#
    )
}

const METRICS: &str =
    "\n[metrics]\ninterval = \"100ms\"\nwindow = \"500ms\"\nslo = 0.8\nrecover_to = 0.9\n";

fn parse(text: &str) -> Result<Scenario, faultlab::scenario::ScenarioError> {
    Scenario::parse_with(&registry(), text, "echo.toml")
}

fn metric(report: &faultlab::scenario::RunReport, name: &str) -> f64 {
    report
        .metrics
        .iter()
        .find(|(m, _)| m == name)
        .unwrap_or_else(|| panic!("no metric {name}: {:?}", report.metrics))
        .1
}

#[test]
fn a_run_reports_service_metrics_a_series_and_the_checks_verdicts() {
    let s = parse(&scenario(METRICS)).unwrap();
    assert_eq!(s.metrics.interval, SimDuration::from_millis(100));
    assert_eq!(s.metrics.window, SimDuration::from_millis(500));
    assert_eq!((s.metrics.slo, s.metrics.recover_to), (0.8, 0.9));
    let report = run(&s, 1, RunOptions::default());
    assert_eq!(report.verdict.as_str(), "pass", "{:?}", report.violations);
    // 2 clients x 10/s for 10s; the two sent at 10s are not answered by
    // the end; 10 of each client wait out the pause (ok, but late).
    assert_eq!(metric(&report, "service.requests"), 200.0);
    assert_eq!(metric(&report, "service.unfinished"), 2.0);
    assert_eq!(metric(&report, "service.offered_per_s"), 20.0);
    assert_eq!(metric(&report, "service.success_per_s"), 19.8);
    assert_eq!(metric(&report, "service.calls_per_request"), 1.0);
    assert_eq!(metric(&report, "service.goodput_per_s"), 17.8);
    assert_eq!(metric(&report, "service.breaker_opens"), 2.0);
    let p50 = metric(&report, "service.latency_p50_s");
    assert!((p50 - 0.010).abs() < 0.010 * 0.008, "{p50}");
    assert_eq!(metric(&report, "service.latency_p99_s"), 1.002438656);
    // Before the pause at 4s: 39 good answers a client (from 110ms on).
    assert_eq!(metric(&report, "recovers.baseline_per_s"), 19.5);
    // The liveness phase begins when the pause ends, at 5s; (5s, 5.5s] is back.
    assert_eq!(metric(&report, "recovers.recovery_s"), 0.5);
    assert!(
        report
            .check_notes
            .iter()
            .any(|n| n.starts_with("service: offered 20.0/s, throughput 19.8/s, goodput 17.8/s")),
        "{:?}",
        report.check_notes
    );
    let series = report.series.as_ref().expect("the service check's series");
    assert_eq!(series.rows.len(), 100);
    assert!(series.records > 0 && !series.truncated);
    let paused = &series.rows[45];
    assert_eq!(
        (paused.offered, paused.good, paused.served),
        (2, 0, 0),
        "{paused:?}"
    );
    // The late answers come at 5.005s; each client's breaker opens then,
    // and closes at the next good answer.
    assert_eq!(paused.open_breakers, 0);
    assert_eq!(series.rows[50].ok, 22);
    assert_eq!(
        series.rows[50].latency_p99,
        Some(SimDuration(1_002_438_656))
    );
    // A sweep's runs keep no series.
    let lean = run(
        &s,
        1,
        RunOptions {
            series: false,
            ..RunOptions::default()
        },
    );
    assert!(lean.series.is_none());
    assert_eq!(lean.metrics, report.metrics);
    // The trace is the same with or without the checks: they only read.
    let mut bare = s.clone();
    bare.checks.clear();
    assert_eq!(
        run(&bare, 1, RunOptions::default()).trace_hash,
        report.trace_hash
    );
}

#[test]
fn the_checks_fail_with_their_numbers() {
    // A pause past the liveness deadline (6.5s): no window recovers in
    // time; breakers stuck open; an SLO the pause breaks.
    let text = scenario("\n[metrics]\nslo = 0.95\n")
        .replace("duration = \"1s\"", "duration = \"4s\"")
        .replace("[echo]\n", "[echo]\nstuck = true\n")
        .replace("within = \"3s\"", "after = \"4.5s\"\nwithin = \"2s\"");
    let report = run(&parse(&text).unwrap(), 1, RunOptions::default());
    assert_eq!(report.verdict.as_str(), "stuck");
    let names: Vec<&str> = report.violations.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        ["no_recovery", "goodput_below_slo", "breaker_stuck_open"]
    );
    let recovery = &report.violations[0];
    assert_eq!(recovery.time.to_string(), "6.500s");
    assert_eq!(
        recovery.explanation,
        "goodput did not come back to 80% of its baseline by 6.500s: the baseline was 19.5/s (good requests per second before the first fault at 4.000s), the target 15.6/s over a 1s window; of the windows from 4.500s to 6.500s, the best, 5.000s to 6.000s, had 0.0/s (0% of the baseline)"
    );
    let slo = &report.violations[1];
    assert_eq!(
        slo.explanation,
        "goodput was 11.8/s, 59% of the offered load of 20.0/s over the run (0s to 10.000s), below the SLO of 95%: 118 of 200 requests were answered ok within their deadline"
    );
    assert_eq!(report.violations[2].nodes, ["n2", "n3"]);
}

#[test]
fn the_metrics_section_is_validated_with_its_line_and_field() {
    // The scenario has 22 lines; [metrics] is on line 24, its keys from 25.
    let cases = [
        ("intervall = \"1s\"", 25, "metrics.intervall", "unknown key"),
        ("interval = \"0s\"", 25, "metrics.interval", "must be longer than 0"),
        ("interval = \"11s\"", 25, "metrics.interval", "longer than the run"),
        ("interval = \"10us\"", 25, "metrics.interval", "makes 1000000 time-series rows over 10s; expected at most 100000 (an interval of at least 100us)"),
        ("interval = \"300ms\"\nwindow = \"1s\"", 26, "metrics.window", "not a whole number of intervals (300ms); expected e.g. 1.2s"),
        ("slo = 0.0", 25, "metrics.slo", "expected a share above 0 and at most 1"),
        ("recover_to = 1.5", 25, "metrics.recover_to", "expected a share above 0 and at most 1"),
        ("recover_to = nan", 25, "metrics.recover_to", "expected a share above 0 and at most 1"),
        ("window = \"2.5s\"\ninterval = \"500ms\"", 25, "metrics.window", "recovers judges windows of 2.5s starting on a multiple of the interval (500ms); the first after the liveness phase begins at 5.000s ends at 7.500s, after the deadline 7.000s ([liveness] within 2s)"),
    ];
    for (keys, line, field, message) in cases {
        let text = scenario(&format!("\n[metrics]\n{keys}\n"))
            .replace("within = \"3s\"", "within = \"2s\"");
        let e = parse(&text)
            .err()
            .unwrap_or_else(|| panic!("accepted {keys}"));
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        assert!(e.message.contains(message), "{e}");
        assert_eq!(e.line, Some(line), "{e}");
    }
    // The first window after 5s ends at 6s: fits a deadline of 7.5s ...
    let fits = scenario("").replace("within = \"3s\"", "within = \"1s\"");
    assert!(parse(&fits).is_ok());
    // ... and the shorter of 0.9s does not (without [metrics]: at `model`).
    let late = scenario("").replace("within = \"3s\"", "within = \"0.9s\"");
    let e = parse(&late).expect_err("no window fits");
    assert_eq!(
        (e.field.as_deref(), e.line),
        (Some("metrics.window"), Some(1)),
        "{e}"
    );
    // Both violations of breaker_opens may be expected.
    for expect in [
        "breaker_never_opened",
        "breaker_stuck_open",
        "goodput_below_slo",
        "no_recovery",
    ] {
        let text = format!("expect = \"{expect}\"\n{}", scenario(""));
        assert!(parse(&text).is_ok(), "{expect}");
    }
}

fn temp(name: &str) -> String {
    let path = std::env::temp_dir().join(format!("faultlab-service-{}-{name}", std::process::id()));
    path.to_string_lossy().into_owned()
}

fn cli(registry: &Registry, args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = faultlab::cli::run_with_args(registry, args, &mut out, &mut err);
    let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8 output");
    (code, text(out), text(err))
}

#[test]
fn run_writes_the_series_as_csv_and_json_carries_the_metrics() {
    let file = temp("echo.toml");
    std::fs::write(&file, scenario(METRICS)).unwrap();
    let csv = temp("echo.csv");
    let (code, out, err) = cli(&registry(), &["run", &file, "--metrics", &csv]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "time series written to {csv} (100 rows of 100ms, CSV)"
        )),
        "{out}"
    );
    assert!(out.contains("metric service.goodput_per_s = 17.8"), "{out}");
    assert!(out.contains("check service: offered 20.0/s"), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 101);
    assert_eq!(lines[0], faultlab::check::series::CSV_HEADER);
    // Row 0, [0, 100ms]: a request from each client at 100ms; row 1: their
    // answers at 110ms and the next requests.
    assert_eq!(lines[1], "0,20,20,0,0,0,,,0,0", "{text}");
    assert_eq!(lines[2], "0.1,20,20,20,20,20,0.01,0.01,0,0", "{text}");
    assert_eq!(lines[46], "4.5,20,20,0,0,0,,,0,0");

    let (code, out, _) = cli(&registry(), &["run", &file, "--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(json["metrics"]["service.requests"], 200.0);
    assert_eq!(json["check_outcomes"]["recovers"], "ok");

    let (code, out, _) = cli(&registry(), &["sweep", &file, "--seeds", "0..3", "--json"]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(json["metrics"]["service.goodput_per_s"]["count"], 3);
}

#[test]
fn metrics_of_a_model_without_service_records_is_an_error() {
    let csv = temp("raft.csv");
    let (code, out, err) = cli(
        &Registry::builtin(),
        &["run", "scenarios/raft-quiet.toml", "--metrics", &csv],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("verdict: pass"),
        "the run is reported first: {out}"
    );
    assert!(
        err.contains(&format!("error: --metrics {csv}: the scenario's model (raft) emitted no service records (request, call, done, served, shed, breaker)")),
        "{err}"
    );
    assert!(!std::path::Path::new(&csv).exists());
    assert!(!std::path::Path::new(&format!("{csv}.tmp")).exists());
}

#[test]
fn a_bad_metrics_key_is_exit_2_with_file_line_and_field() {
    let file = temp("bad-metrics.toml");
    let text = std::fs::read_to_string("scenarios/raft-quiet.toml").unwrap();
    let lines = text.lines().count();
    std::fs::write(&file, format!("{text}\n[metrics]\nintervall = \"100ms\"\n")).unwrap();
    let (code, out, err) = cli(
        &Registry::builtin(),
        &["run", &file, "--metrics", &temp("x.csv")],
    );
    assert_eq!(code, 2, "{out}{err}");
    let expected = format!(
        "error: {file}:{}: field 'metrics.intervall': unknown key `intervall`, expected one of `interval`, `window`, `slo`, `recover_to`",
        lines + 3
    );
    assert_eq!(err.trim_end(), expected);
    assert!(out.is_empty(), "nothing runs: {out}");
}

#[test]
fn list_shows_the_service_checks() {
    let (code, out, _) = cli(&registry(), &["list", "tests/data"]);
    assert_eq!(code, 0, "{out}");
    // The checks section (a model is named `service` too).
    let checks = &out[out.find("\nchecks:").expect("a checks section")..];
    let line = |name: &str| {
        checks
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {checks}"))
            .to_string()
    };
    assert!(line("service").contains("measure  -> (never fails)"));
    assert!(line("recovers").contains("liveness -> no_recovery"));
    assert!(line("goodput_slo").contains("liveness -> goodput_below_slo"));
    assert!(line("breaker_opens").contains("liveness -> breaker_never_opened, breaker_stuck_open"));
}
