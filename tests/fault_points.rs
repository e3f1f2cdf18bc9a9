//! A known-bad model, found by fault-point search and (almost) never by
//! uniform chaos.
//!
//! The sequencer (n1) hands out ticket numbers to clients. It writes its
//! counter to storage, replies at once, and syncs a moment later (a group
//! commit on a short timer): a crash in that window loses the counter, and
//! after the restart it hands the same number out again. The window is
//! `flush_after` (1us) after each of ~70 writes per second, about 0.007%
//! of the time, so a crash at a uniformly random time rarely lands in it; a
//! crash at the `after_write` fault point lands in it every time. With
//! `sync_before_reply = true` the sequencer is correct, and fault points
//! find nothing.
//!
//! The seed counts are pinned (they are deterministic); a debug
//! `cargo test` runs about 240 seeds. `FAULTLAB_SEARCH_SEEDS=10000 cargo
//! test --release --test fault_points -- --nocapture` sweeps the long range
//! for the figures the README quotes: the first failure after 1 seed with
//! fault points, 1,573 with swarm, 9,920 with uniform chaos.

use faultlab::check::{CheckInfo, Checker, Severity, Violation, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::model::{Layout, ModelChecks, ParamError};
use faultlab::scenario::{run, RunOptions, Scenario, Verdict};
use faultlab::sweep::sweep;
use faultlab::{Ctx, Model, Node, NodeId, Registry, SimDuration, SimTime, TimerId};
use serde::Deserialize;
use std::collections::BTreeSet;

struct Sequencer;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeqTable {
    flush_after: Option<SimDuration>,
    sync_before_reply: Option<bool>,
}

#[derive(Clone, Debug)]
struct SeqParams {
    flush_after: SimDuration,
    sync_before_reply: bool,
    think: (SimDuration, SimDuration),
    timeout: SimDuration,
}

#[derive(Clone, Debug, Hash)]
enum SeqMsg {
    Next,
    Ticket(u64),
}

const FLUSH: u64 = 1;
const THINK: u64 = 2;
const TIMEOUT: u64 = 3;

/// n1: the counter, in storage under "next".
struct Server {
    params: SeqParams,
    next: u64,
    flushing: bool,
}

impl Node<SeqMsg> for Server {
    fn on_start(&mut self, ctx: &mut Ctx<'_, SeqMsg>) {
        self.next = ctx.storage().get_json("next").unwrap_or(1);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, SeqMsg>, from: NodeId, msg: SeqMsg) {
        let SeqMsg::Next = msg else { return };
        let ticket = self.next;
        self.next += 1;
        ctx.storage().put_json("next", &self.next);
        if self.params.sync_before_reply {
            ctx.storage().sync();
        } else if !self.flushing {
            // The bug: the reply leaves before the write is durable.
            self.flushing = true;
            ctx.set_timer(self.params.flush_after, FLUSH);
        }
        ctx.maybe_fault_point("granted");
        ctx.send(from, SeqMsg::Ticket(ticket));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, SeqMsg>, _timer: TimerId) {
        self.flushing = false;
        ctx.storage().sync();
    }
}

/// A client: asks for a ticket, records it, thinks, asks again.
struct Client {
    params: SeqParams,
    waiting: Option<TimerId>,
}

impl Client {
    fn ask(&mut self, ctx: &mut Ctx<'_, SeqMsg>) {
        ctx.send(NodeId(0), SeqMsg::Next);
        self.waiting = Some(ctx.set_timer(self.params.timeout, TIMEOUT));
    }

    fn think(&mut self, ctx: &mut Ctx<'_, SeqMsg>) {
        let (low, high) = self.params.think;
        let pause = SimDuration(ctx.rng().between(low.0, high.0));
        ctx.set_timer(pause, THINK);
    }
}

impl Node<SeqMsg> for Client {
    fn on_start(&mut self, ctx: &mut Ctx<'_, SeqMsg>) {
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, SeqMsg>, _from: NodeId, msg: SeqMsg) {
        let (SeqMsg::Ticket(n), Some(timer)) = (msg, self.waiting) else {
            return;
        };
        ctx.cancel_timer(timer);
        self.waiting = None;
        ctx.record("ticket", serde_json::json!({ "n": n }));
        self.think(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, SeqMsg>, timer: TimerId) {
        match timer.tag() {
            THINK => self.ask(ctx),
            _ => {
                self.waiting = None;
                self.think(ctx);
            }
        }
    }
}

impl Model for Sequencer {
    type Table = SeqTable;
    type Params = SeqParams;
    type Msg = SeqMsg;

    fn name(&self) -> &'static str {
        "sequencer"
    }

    fn about(&self) -> &'static str {
        "a ticket sequencer that replies before it syncs (a known-bad model)"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["unique_tickets"],
            default: &["unique_tickets"],
            always: &[],
        }
    }

    fn uses_workload(&self) -> bool {
        true
    }

    fn params(&self, table: SeqTable, layout: &Layout) -> Result<SeqParams, ParamError> {
        let workload = layout.workload.as_ref().expect("a workload model");
        Ok(SeqParams {
            flush_after: table.flush_after.unwrap_or(SimDuration::from_micros(1)),
            sync_before_reply: table.sync_before_reply.unwrap_or(false),
            think: (workload.think_min, workload.think_max),
            timeout: workload.timeout,
        })
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        &["ticket"]
    }

    fn node(&self, params: &SeqParams, layout: &Layout, id: NodeId) -> Box<dyn Node<SeqMsg>> {
        let params = params.clone();
        if id.index() < layout.servers {
            Box::new(Server {
                params,
                next: 1,
                flushing: false,
            })
        } else {
            Box::new(Client {
                params,
                waiting: None,
            })
        }
    }
}

/// Safety: no ticket number is handed out twice.
#[derive(Default)]
struct UniqueTickets {
    seen: BTreeSet<u64>,
}

impl Checker for UniqueTickets {
    fn name(&self) -> &'static str {
        "unique_tickets"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let EventKind::Record(record) = &event.kind else {
            return None;
        };
        let n = record.detail["n"]
            .as_u64()
            .filter(|_| record.kind == "ticket")?;
        if self.seen.insert(n) {
            return None;
        }
        let node = event.node?;
        Some(Violation {
            name: "duplicate_ticket".into(),
            check: "unique_tickets".into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: vec![world.name(node).to_string()],
            explanation: format!("ticket {n} was handed out twice"),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

fn registry() -> Registry {
    Registry::builtin().with(Sequencer).with_check(
        CheckInfo {
            name: "unique_tickets",
            about: "no ticket number is handed out twice",
            severity: Severity::Safety,
            violation: "duplicate_ticket",
        },
        |_| Box::new(UniqueTickets::default()),
    )
}

/// The sequencer with three clients for 5 s; `chaos` is the `[chaos]`
/// table's body (crashes of n1 only: clients are never chaos's victims).
fn scenario(model: &str, chaos: &str) -> Scenario {
    let text = scenario_text(model, chaos);
    Scenario::parse_with(&registry(), &text, "sequencer.toml").expect("a valid scenario")
}

/// The scenario text of [`scenario`].
fn scenario_text(model: &str, chaos: &str) -> String {
    format!(
        "model = \"sequencer\"\nduration = \"5s\"\n\n[sequencer]\n{model}\n\
         [nodes]\ncount = 1\n\n\
         [workload]\nclients = 3\nthink = [\"10ms\", \"50ms\"]\ntimeout = \"100ms\"\n\n\
         [chaos]\nuntil = \"4s\"\n{chaos}\n"
    )
}

/// Uniform chaos: a crash every 2 s on average, back after 1-20 ms.
const UNIFORM: &str = "crash_every = \"2s\"\ndowntime = [\"1ms\", \"20ms\"]";
/// Swarm over a mix of kinds: crashes, pauses and partitions.
const SWARM: &str = "swarm = true\ncrash_every = \"2s\"\ndowntime = [\"1ms\", \"20ms\"]\n\
                     pause_every = \"2s\"\npause_duration = [\"1ms\", \"50ms\"]\n\
                     partition_every = \"2s\"\npartition_duration = [\"1ms\", \"50ms\"]";
/// Fault points: a crash right after a write that is not durable yet.
const POINTS: &str = "fault_points = [\"after_write\"]\nfault_point_probability = 0.01\n\
                      fault_point_downtime = [\"1ms\", \"20ms\"]";

/// The number of seeds, from 0, a search runs to its first failure, up to `limit`.
fn seeds_to_first_failure(s: &Scenario, limit: u64) -> Option<u64> {
    let summary = sweep(s, 0..limit, None, &|| {});
    summary.first_failure(&(0..limit), None).map(|(_, n)| n)
}

#[test]
fn fault_points_find_the_reply_before_sync_bug_where_uniform_chaos_does_not() {
    let points = scenario("", POINTS);
    assert_eq!(seeds_to_first_failure(&points, 10), Some(1));
    let uniform = scenario("", UNIFORM);
    assert_eq!(seeds_to_first_failure(&uniform, 200), None);
}

#[test]
fn the_bug_found_is_a_duplicate_ticket_after_a_crash_at_the_point() {
    let report = run(&scenario("", POINTS), 0, RunOptions::default());
    assert_eq!(report.verdict, Verdict::Violation);
    assert_eq!(report.violations[0].name, "duplicate_ticket");
    assert!(
        report
            .narration
            .iter()
            .any(|line| line.contains("n1 reached fault point after_write: it crashes")),
        "{:#?}",
        report.narration
    );
}

#[test]
fn the_model_marks_its_own_point_and_the_fixed_model_survives_every_point() {
    let own = scenario("", &POINTS.replace("after_write", "point:granted"));
    assert_eq!(seeds_to_first_failure(&own, 10), Some(1));
    let fixed = scenario(
        "sync_before_reply = true",
        "fault_points = [\"after_write\", \"point\", \"after_send\"]\nfault_point_probability = 0.05",
    );
    assert_eq!(seeds_to_first_failure(&fixed, 20), None);
}

#[test]
fn sweep_reports_seeds_to_first_failure_in_json_and_text() {
    let path =
        std::env::temp_dir().join(format!("faultlab-fault-points-{}.toml", std::process::id()));
    std::fs::write(&path, scenario_text("", POINTS)).expect("write temp file");
    let path = path.to_string_lossy().into_owned();
    let cli = |args: &[&str]| {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = faultlab::cli::run_with_args(&registry(), args, &mut out, &mut err);
        (code, String::from_utf8(out).expect("UTF-8 output"))
    };
    let (code, out) = cli(&["sweep", &path, "--seeds", "3..8", "--json"]);
    assert_eq!(code, 3, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(json["first_failing_seed"], 3, "{json}");
    assert_eq!(json["seeds_to_first_failure"], 1, "{json}");
    let (_, text) = cli(&["sweep", &path, "--seeds", "3..8"]);
    assert!(
        text.contains("first failure: seed 3, after 1 seeds"),
        "{text}"
    );
    // Every seed passes: null, and the text says so.
    std::fs::write(&path, scenario_text("sync_before_reply = true", POINTS)).expect("write");
    let (code, out) = cli(&["sweep", &path, "--seeds", "0..4", "--json"]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert!(json["seeds_to_first_failure"].is_null(), "{json}");
    let (_, text) = cli(&["sweep", &path, "--seeds", "0..4"]);
    assert!(text.contains("first failure: none in 4 seeds"), "{text}");
    // The run's header says what the seed drew.
    std::fs::write(&path, scenario_text("", POINTS)).expect("write");
    let (_, text) = cli(&["run", &path, "--seed", "0"]);
    assert!(
        text.contains("fault points: after_write · probability 0.0100 · downtime 1ms-20ms\n"),
        "{text}"
    );
    std::fs::write(&path, scenario_text("", SWARM)).expect("write");
    let (_, text) = cli(&["run", &path, "--seed", "0"]);
    let swarm = text
        .lines()
        .find(|l| l.starts_with("swarm: "))
        .expect("a swarm line");
    assert!(
        swarm.contains("crash ") && swarm.contains("pause ") && swarm.contains("partition "),
        "{swarm}"
    );
    let _ = std::fs::remove_file(&path);
}

/// The long sweep for the README's figures (release, gated): each search's
/// first failing seed over seeds 0..limit, pinned.
#[test]
fn uniform_chaos_and_swarm_need_far_more_seeds() {
    let Some(limit) = std::env::var("FAULTLAB_SEARCH_SEEDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return;
    };
    let searches = [
        ("uniform", UNIFORM, 9919),
        ("swarm", SWARM, 1572),
        ("points", POINTS, 0),
    ];
    for (name, chaos, first) in searches {
        let s = scenario("", chaos);
        let summary = sweep(&s, 0..limit, None, &|| {});
        let found = summary.first_failure(&(0..limit), None);
        println!(
            "{name}: first failure {found:?} (seed, seeds run), {} of {limit} seeds fail",
            summary.failed
        );
        let pinned = (first < limit).then_some((first, first + 1));
        assert_eq!(found, pinned, "{name}");
    }
}

/// The failure a fault point found shrinks to a file that fails the same
/// way: its crash is listed 1 ns after the handler that reached the point
/// (an explicit fault at the same nanosecond would run before it).
#[test]
fn a_fault_point_failure_shrinks_to_a_crash_just_after_the_write() {
    use faultlab::shrink::{shrink, ShrinkOptions};
    let dir = std::env::temp_dir().join(format!("faultlab-fp-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("sequencer.toml");
    std::fs::write(&input, scenario_text("", POINTS)).expect("write scenario");
    let output = dir.join("min.toml").to_string_lossy().into_owned();
    let options = ShrinkOptions {
        seed: 0,
        budget: 200,
        check: None,
        output: output.clone(),
    };
    let shrunk = shrink(&registry(), &input.to_string_lossy(), &options, &mut |_| {})
        .expect("the fault-point failure reproduces from its explicit schedule");
    assert_eq!(shrunk.target.name, "duplicate_ticket");
    assert!(
        shrunk.faults.1 <= 2,
        "a crash (and maybe its restart): {:?}",
        shrunk.schedule
    );
    std::fs::write(&output, &shrunk.text).expect("write the shrunk file");
    let from_file = Scenario::parse_with(&registry(), &shrunk.text, &output).expect("it loads");
    assert!(from_file.chaos.is_none(), "fault points are explicit now");
    let report = run(&from_file, from_file.default_seed, RunOptions::default());
    assert_eq!(report.verdict, Verdict::Violation);
    assert_eq!(report.violations[0].name, "duplicate_ticket");
}

#[test]
fn a_crash_at_a_fault_point_is_narrated_with_the_point_and_the_downtime() {
    let scenario = Scenario::load("scenarios/twopc-decision-before-sync.toml").unwrap();
    let report = run(
        &scenario,
        0,
        RunOptions {
            narrate: 1000,
            ..RunOptions::default()
        },
    );
    let line = report
        .narration
        .iter()
        .find(|l| l.contains("reached fault point"))
        .unwrap_or_else(|| panic!("no fault point line in {:#?}", report.narration));
    assert!(
        line.contains("n1 reached fault point point:decision_sent: it crashes, down for "),
        "{line}"
    );
}
