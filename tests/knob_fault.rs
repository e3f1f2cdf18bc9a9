//! The `set` fault: a model's knob turned mid-run on named nodes, groups
//! (`"clients"`, `"servers"`, `"all"`) or targets, set back after its
//! duration; crashed nodes skipped, paused ones served when they resume;
//! and each mistake in the fault named with its file, line and field.

use faultlab::model::{KnobInfo, Layout, ModelChecks, ParamError};
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::{Ctx, Model, Node, NodeId, Registry, SimDuration, TimerId};
use serde::Deserialize;
use serde_json::Value;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// Clients have a knob `rate`, servers a knob `size`; every node also
/// claims `ghost` in the model's list but answers it with `None`. A knob
/// turn records `turned` and pokes n1 (so its effects show in the trace);
/// every node records its `level` each 500ms.
struct Dial;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DialTable {}

#[derive(Clone, Debug, Hash)]
struct Poke;

struct DialNode {
    client: bool,
    value: f64,
}

impl Node<Poke> for DialNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Poke>) {
        ctx.set_timer(SimDuration::from_millis(500), 0);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Poke>, _from: NodeId, _msg: Poke) {
        ctx.record("poked", serde_json::json!({}));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Poke>, _timer: TimerId) {
        ctx.record("level", serde_json::json!({ "value": self.value }));
        ctx.set_timer(SimDuration::from_millis(500), 0);
    }

    fn on_knob(&mut self, ctx: &mut Ctx<'_, Poke>, knob: &str, value: f64) -> Option<f64> {
        let mine = if self.client { "rate" } else { "size" };
        if knob != mine {
            return None;
        }
        ctx.record("turned", serde_json::json!({ "to": value }));
        ctx.send(NodeId(0), Poke);
        Some(std::mem::replace(&mut self.value, value))
    }
}

impl Model for Dial {
    type Table = DialTable;
    type Params = ();
    type Msg = Poke;

    fn name(&self) -> &'static str {
        "dial"
    }

    fn about(&self) -> &'static str {
        "nodes with knobs"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &[],
            default: &[],
            always: &[],
        }
    }

    fn knobs(&self) -> &'static [KnobInfo] {
        &[
            KnobInfo {
                name: "rate",
                nodes: "clients",
                about: "requests per second",
                min: 0.0,
                max: 100.0,
            },
            KnobInfo {
                name: "size",
                nodes: "servers",
                about: "workers",
                min: 1.0,
                max: 10.0,
            },
            KnobInfo {
                name: "ghost",
                nodes: "all",
                about: "claimed, never answered",
                min: 0.0,
                max: 1.0,
            },
        ]
    }

    fn roles(&self) -> &'static [&'static str] {
        &[]
    }

    fn uses_workload(&self) -> bool {
        true
    }

    fn params(&self, _table: DialTable, _layout: &Layout) -> Result<(), ParamError> {
        Ok(())
    }

    fn node(&self, _params: &(), layout: &Layout, id: NodeId) -> Box<dyn Node<Poke>> {
        let client = id.index() >= layout.servers;
        Box::new(DialNode {
            client,
            value: if client { 10.0 } else { 2.0 },
        })
    }
}

fn registry() -> Registry {
    Registry::builtin().with(Dial)
}

const BASE: &str = "model = \"dial\"\nduration = \"5s\"\n[nodes]\ncount = 2\n[workload]\nclients = 2\ntimeout = \"1s\"\n";

fn scenario(faults: &str) -> Scenario {
    Scenario::parse_with(&registry(), &format!("{BASE}{faults}"), "dial.toml")
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A `Write` whose bytes the test reads afterwards.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The run's trace events (JSON lines, header left out), and its hash.
fn trace(scenario: &Scenario, seed: u64) -> (Vec<Value>, String) {
    let out = Shared::default();
    let options = RunOptions {
        trace: Some(Box::new(out.clone())),
        narrate: 1000,
        ..RunOptions::default()
    };
    let report = run(scenario, seed, options);
    let bytes = out.0.borrow();
    let events = std::str::from_utf8(&bytes)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (events, report.trace_hash)
}

/// The events of one kind (`"knob"`, `"fault"`, or a record kind).
fn of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["kind"] == kind || e["record"] == kind)
        .collect()
}

/// `(time in ms, node, value, previous or skipped reason, restore)` of each knob event.
fn turns(events: &[Value]) -> Vec<(u64, String, f64, String, bool)> {
    of(events, "knob")
        .iter()
        .map(|e| {
            let outcome = match e.get("previous") {
                Some(p) => p.to_string(),
                None => e["skipped"].as_str().unwrap().to_string(),
            };
            (
                e["t"].as_u64().unwrap() / 1_000_000,
                e["node"].as_str().unwrap().to_string(),
                e["value"].as_f64().unwrap(),
                outcome,
                e["restore"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn turn(
    t: u64,
    node: &str,
    value: f64,
    outcome: &str,
    restore: bool,
) -> (u64, String, f64, String, bool) {
    (t, node.to_string(), value, outcome.to_string(), restore)
}

#[test]
fn a_set_turns_each_node_and_turns_it_back_after_its_duration() {
    let s = scenario(
        "[[faults]]\nat = \"1s\"\nkind = \"set\"\nknob = \"rate\"\nvalue = 40\nnodes = \"clients\"\nduration = \"2s\"\n",
    );
    let (events, _) = trace(&s, 1);
    assert_eq!(
        turns(&events),
        [
            turn(1000, "c1", 40.0, "10.0", false),
            turn(1000, "c2", 40.0, "10.0", false),
            turn(3000, "c1", 10.0, "40.0", true),
            turn(3000, "c2", 10.0, "40.0", true),
        ]
    );
    let fault = of(&events, "fault");
    assert_eq!(fault.len(), 1, "{fault:?}");
    assert_eq!(fault[0]["fault"], "set");
    assert_eq!(fault[0]["detail"], "set rate = 40 on {c1,c2} for 2s");
    assert!(fault[0].get("node").is_none());
    // Each turn is a handler: its record follows the knob event, its send reaches n1.
    let at = |kind: &str, node: &str| {
        events
            .iter()
            .position(|e| (e["kind"] == kind || e["record"] == kind) && e["node"] == node)
            .unwrap()
    };
    assert_eq!(at("turned", "c1"), at("knob", "c1") + 1);
    assert_eq!(of(&events, "turned").len(), 4);
    assert_eq!(of(&events, "poked").len(), 4);
    // The value in between is the new one; before and after, the old (at
    // the same instant, events run in the order they were queued).
    let levels: Vec<(u64, f64)> = of(&events, "level")
        .iter()
        .filter(|e| e["node"] == "c1")
        .map(|e| {
            (
                e["t"].as_u64().unwrap() / 1_000_000,
                e["detail"]["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            (500, 10.0),
            (1000, 40.0), // the fault was queued before this timer
            (1500, 40.0),
            (2000, 40.0),
            (2500, 40.0),
            (3000, 10.0), // and its return too
            (3500, 10.0),
            (4000, 10.0),
            (4500, 10.0),
            (5000, 10.0)
        ]
    );
}

#[test]
fn the_narration_tells_the_fault_and_each_turn() {
    let s = scenario(
        "[[faults]]\nat = \"1s\"\nkind = \"set\"\nknob = \"size\"\nvalue = 4\nnode = \"n2\"\nduration = \"1s\"\n",
    );
    let report = run(
        &s,
        1,
        RunOptions {
            narrate: 100,
            ..RunOptions::default()
        },
    );
    let said: Vec<&str> = report.narration.iter().map(|l| l.trim_start()).collect();
    for line in [
        "1.000s  set size = 4 on {n2} for 1s",
        "1.000s  n2 knob size = 4 (was 2)",
        "2.000s  n2 knob size back to 2 (was 4)",
    ] {
        assert!(said.contains(&line), "no '{line}' in {said:#?}");
    }
    assert_eq!(report.faults, 1);
}

#[test]
fn a_crashed_node_is_skipped_and_a_paused_one_takes_it_when_it_resumes() {
    let s = scenario(concat!(
        "[[faults]]\nat = \"500ms\"\nkind = \"crash\"\nnode = \"c1\"\n",
        "[[faults]]\nat = \"800ms\"\nkind = \"pause\"\nnode = \"c2\"\nduration = \"700ms\"\n",
        "[[faults]]\nat = \"1s\"\nkind = \"set\"\nknob = \"rate\"\nvalue = 5.5\nnodes = [\"c1\", \"c2\"]\nduration = \"1s\"\n",
    ));
    let (events, _) = trace(&s, 3);
    assert_eq!(
        turns(&events),
        [
            turn(1000, "c1", 5.5, "the node is down", false),
            turn(
                1000,
                "c2",
                5.5,
                "the node is paused: held until it resumes",
                false
            ),
            // Held work runs at the resume, in order; the duration counts from then.
            turn(1500, "c2", 5.5, "10.0", false),
            turn(2500, "c2", 10.0, "5.5", true),
        ]
    );
    let resume = events.iter().position(|e| e["kind"] == "resume").unwrap();
    let took = events
        .iter()
        .position(|e| e["kind"] == "knob" && e.get("previous").is_some())
        .unwrap();
    assert!(resume < took, "the resume comes first");
}

#[test]
fn a_paused_node_that_crashes_never_takes_the_value() {
    let s = scenario(concat!(
        "[[faults]]\nat = \"800ms\"\nkind = \"pause\"\nnode = \"c2\"\nduration = \"1s\"\n",
        "[[faults]]\nat = \"1s\"\nkind = \"set\"\nknob = \"rate\"\nvalue = 7\nnode = \"c2\"\n",
        "[[faults]]\nat = \"1.2s\"\nkind = \"crash\"\nnode = \"c2\"\n",
    ));
    let (events, _) = trace(&s, 3);
    assert_eq!(
        turns(&events),
        [
            turn(
                1000,
                "c2",
                7.0,
                "the node is paused: held until it resumes",
                false
            ),
            turn(1200, "c2", 7.0, "the node is down", false),
        ]
    );
}

#[test]
fn a_node_without_the_knob_is_traced_as_skipped() {
    let s = scenario(
        "[[faults]]\nat = \"1s\"\nkind = \"set\"\nknob = \"ghost\"\nvalue = 1\nnodes = \"all\"\nduration = \"1s\"\n",
    );
    let (events, _) = trace(&s, 1);
    let t = turns(&events);
    assert_eq!(t.len(), 4, "no return for a knob nobody took: {t:?}");
    assert!(
        t.iter()
            .all(|(ms, _, _, why, _)| *ms == 1000 && why == "no such knob"),
        "{t:?}"
    );
    assert!(of(&events, "turned").is_empty());
}

#[test]
fn a_return_is_skipped_after_a_later_set_or_a_restart() {
    let s = scenario(concat!(
        "[[faults]]\nat = \"1s\"\nkind = \"set\"\nknob = \"rate\"\nvalue = 20\nnodes = \"clients\"\nduration = \"2s\"\n",
        "[[faults]]\nat = \"1.5s\"\nkind = \"set\"\nknob = \"rate\"\nvalue = 30\nnode = \"c1\"\n",
        "[[faults]]\nat = \"2s\"\nkind = \"crash\"\nnode = \"c2\"\n",
        "[[faults]]\nat = \"2.5s\"\nkind = \"restart\"\nnode = \"c2\"\n",
    ));
    let (events, _) = trace(&s, 1);
    assert_eq!(
        turns(&events),
        [
            turn(1000, "c1", 20.0, "10.0", false),
            turn(1000, "c2", 20.0, "10.0", false),
            turn(1500, "c1", 30.0, "20.0", false),
            turn(3000, "c1", 10.0, "set again since", true),
            turn(
                3000,
                "c2",
                10.0,
                "the node restarted since: it has its configured value",
                true
            ),
        ]
    );
}

#[test]
fn targets_triggers_ranges_and_steps_aim_a_set_like_any_fault() {
    let s = scenario(concat!(
        "[[faults]]\nat = [\"1s\", \"2s\"]\nkind = \"set\"\nknob = \"size\"\nvalue = 3\nnode = \"@random\"\n",
        "[[faults]]\nafter = \"poked\"\ndelay = \"100ms\"\nkind = \"set\"\nknob = \"size\"\nvalue = 9\nnodes = [\"@random\", \"n1\"]\n",
        "[[steps]]\nsleep = \"3s\"\n",
        "[[steps]]\nfault = { kind = \"set\", knob = \"rate\", value = 1, nodes = [\"c2\"] }\n",
    ));
    let (events, _) = trace(&s, 11);
    let t = turns(&events);
    assert_eq!(t.len(), 4, "{t:?}");
    let (first_ms, first_node) = (t[0].0, t[0].1.clone());
    assert!(
        (1000..=2000).contains(&first_ms) && first_node.starts_with('n'),
        "{t:?}"
    );
    // The first turn pokes n1; 100ms after the poke arrives both servers
    // get 9 (@random draws among the servers and n1 is named too: it names
    // n2, or n1 twice, and then the fault is skipped).
    let second: Vec<_> = t.iter().filter(|x| x.2 == 9.0).collect();
    let skipped = of(&events, "fault")
        .iter()
        .any(|e| e.get("skipped").is_some());
    assert!(
        (second.len() == 2 && !skipped) || (second.is_empty() && skipped),
        "{t:?}"
    );
    assert!(
        second
            .iter()
            .all(|x| x.0 > first_ms + 100 && x.0 == second[0].0),
        "{t:?}"
    );
    assert_eq!(t.last().unwrap(), &turn(3000, "c2", 1.0, "10.0", false));
}

#[test]
fn a_set_is_deterministic_and_leaves_runs_without_it_alone() {
    let faults = "[[faults]]\nat = [\"1s\", \"3s\"]\nkind = \"set\"\nknob = \"size\"\nvalue = 3\nnode = \"@random\"\nduration = \"500ms\"\n";
    let s = scenario(faults);
    for seed in 0..4 {
        assert_eq!(trace(&s, seed).1, trace(&s, seed).1);
    }
    let (_, verdict) =
        faultlab::scenario::check_determinism(RunOptions::default(), |o| run(&s, 5, o));
    assert_eq!(verdict.first_difference, None);
    // The same run without the fault has another hash (the set is hashed).
    assert_ne!(trace(&s, 5).1, trace(&scenario(""), 5).1);
}

/// Asserts the error of `BASE` (of `model`) + `fault`: at the line
/// containing `at`, in `field`, saying `message`.
#[track_caller]
fn bad(base: &str, fault: &str, at: &str, field: &str, message: &str) {
    let text = format!("{base}[[faults]]\nat = \"1s\"\nkind = \"set\"\n{fault}");
    let e = Scenario::parse_with(&registry(), &text, "bad.toml").expect_err("an error");
    let line = text.lines().position(|l| l.contains(at)).unwrap() + 1;
    assert_eq!(e.file, "bad.toml", "{e}");
    assert_eq!(e.line, Some(line), "wrong line: {e}");
    assert_eq!(e.field.as_deref(), Some(field), "{e}");
    assert!(e.message.contains(message), "{e}\nwanted: {message}");
}

#[test]
fn mistakes_in_a_set_name_their_line_and_field() {
    let b =
        |fault: &str, at: &str, field: &str, message: &str| bad(BASE, fault, at, field, message);
    b(
        "knob = \"speed\"\nvalue = 1\nnodes = \"all\"\n",
        "knob =",
        "faults[0].knob",
        "unknown knob 'speed'; this model's knobs are rate (clients, 0 to 100), size (servers, 1 to 10), ghost (all, 0 to 1)",
    );
    b(
        "knob = \"rate\"\nvalue = 101\nnodes = \"clients\"\n",
        "value =",
        "faults[0].value",
        "101 is outside knob 'rate''s range; expected 0 to 100 (requests per second)",
    );
    b(
        "knob = \"rate\"\nvalue = nan\nnodes = \"clients\"\n",
        "value =",
        "faults[0].value",
        "NaN is outside",
    );
    b(
        "knob = \"rate\"\nvalue = \"fast\"\nnodes = \"clients\"\n",
        "value =",
        "faults[0].value",
        "",
    );
    b(
        "knob = \"rate\"\nnodes = \"clients\"\n",
        "[[faults]]",
        "faults[0].value",
        "a 'set' fault needs value",
    );
    b(
        "value = 3\nnodes = \"clients\"\n",
        "[[faults]]",
        "faults[0].knob",
        "a 'set' fault needs knob",
    );
    b(
        "knob = \"rate\"\nvalue = 3\n",
        "[[faults]]",
        "faults[0].nodes",
        "a 'set' fault needs nodes (\"clients\", \"servers\", \"all\" or a list of names) or node",
    );
    b(
        "knob = \"rate\"\nvalue = 3\nnode = \"c1\"\nnodes = \"clients\"\n",
        "[[faults]]",
        "faults[0].node",
        "give node or nodes, not both",
    );
    b("knob = \"rate\"\nvalue = 3\nnodes = \"servers\"\n", "nodes =", "faults[0].nodes", "servers include n1, which has no knob 'rate' (it is on the model's clients); expected nodes = \"clients\"");
    b(
        "knob = \"size\"\nvalue = 3\nnodes = \"all\"\n",
        "nodes =",
        "faults[0].nodes",
        "all include c1, which has no knob 'size'",
    );
    b(
        "knob = \"rate\"\nvalue = 3\nnodes = \"everyone\"\n",
        "nodes =",
        "faults[0].nodes",
        "'everyone': expected \"clients\", \"servers\", \"all\" or a list",
    );
    b(
        "knob = \"rate\"\nvalue = 3\nnodes = 3\n",
        "nodes =",
        "faults[0].nodes",
        "3: expected \"clients\"",
    );
    b(
        "knob = \"rate\"\nvalue = 3\nnodes = []\n",
        "nodes =",
        "faults[0].nodes",
        "an empty list",
    );
    b(
        "knob = \"rate\"\nvalue = 3\nnodes = [\"c1\", 2]\n",
        "nodes =",
        "faults[0].nodes",
        "2: expected node names or targets",
    );
    b(
        "knob = \"rate\"\nvalue = 3\nnodes = [\"c1\", \"c1\"]\n",
        "nodes =",
        "faults[0].nodes",
        "node 'c1' is listed twice",
    );
    b(
        "knob = \"size\"\nvalue = 3\nnodes = [\"@random\", \"@random\", \"@random\", \"@random\", \"@random\"]\n",
        "nodes =",
        "faults[0].nodes",
        "more than 4 names and targets in one fault",
    );
    b(
        "knob = \"rate\"\nvalue = 3\nnodes = [\"c1\", \"c9\"]\n",
        "nodes =",
        "faults[0].nodes",
        "names node 'c9'; this scenario has",
    );
    b(
        "knob = \"rate\"\nvalue = 3\nnodes = [\"c1\", \"n2\"]\n",
        "nodes =",
        "faults[0].nodes",
        "node 'n2' has no knob 'rate' (it is on the model's clients)",
    );
    b(
        "knob = \"rate\"\nvalue = 3\nnode = \"@random\"\n",
        "node =",
        "faults[0].node",
        "targets pick servers, and knob 'rate' is on the model's clients",
    );
    b(
        "knob = \"rate\"\nvalue = 3\nnodes = [\"@others\"]\n",
        "nodes =",
        "faults[0].nodes",
        "targets pick servers",
    );
    b(
        "knob = \"size\"\nvalue = 3\nnode = \"@leader\"\n",
        "node =",
        "faults[0].node",
        "'@leader' names a role, but this model reports none",
    );
    b(
        "knob = \"size\"\nvalue = 3\nnode = \"@others\"\n",
        "node =",
        "faults[0].node",
        "'@others' names a set of servers",
    );
    b(
        "knob = \"size\"\nvalue = 3\nnode = \"n1\"\nduration = \"0s\"\n",
        "[[faults]]",
        "faults[0].duration",
        "a duration of 0 would set the knob back at once",
    );
    b(
        "knob = \"size\"\nvalue = 3\nnode = \"n1\"\nby = \"1s\"\n",
        "[[faults]]",
        "faults[0].by",
        "does not apply to a 'set' fault; it takes knob, value, nodes, node, duration",
    );
    // Other kinds do not take the set's keys.
    let text = format!(
        "{BASE}[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"n1\"\nknob = \"rate\"\n"
    );
    let e = Scenario::parse_with(&registry(), &text, "bad.toml").unwrap_err();
    assert_eq!(e.field.as_deref(), Some("faults[0].knob"), "{e}");
    // A model without knobs says so; a step's set is checked the same way.
    let heartbeat = "model = \"heartbeat\"\nduration = \"10s\"\n[heartbeat]\ninterval = \"100ms\"\ntimeout = \"500ms\"\n[nodes]\ncount = 3\n";
    let text = format!("{heartbeat}[[faults]]\nat = \"1s\"\nkind = \"set\"\nknob = \"rate\"\nvalue = 1\nnode = \"n1\"\n");
    let e = Scenario::parse(&text, "hb.toml").unwrap_err();
    assert!(
        e.message.contains(
            "unknown knob 'rate'; this model has no knobs (faultlab list shows each model's)"
        ),
        "{e}"
    );
    let text = format!("{BASE}[[steps]]\nfault = {{ kind = \"set\", knob = \"rate\", value = 500, node = \"c1\" }}\n");
    let e = Scenario::parse_with(&registry(), &text, "step.toml").unwrap_err();
    assert_eq!(e.field.as_deref(), Some("steps[0].fault.value"), "{e}");
    assert_eq!(e.line, Some(text.lines().count()), "{e}");
}

#[test]
fn list_shows_each_models_knobs() {
    let dir = std::env::temp_dir().join(format!("faultlab-knob-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = faultlab::cli::run_with_args(
        &registry(),
        ["list", dir.to_str().unwrap()],
        &mut out,
        &mut err,
    );
    let text = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("knob rate on clients, 0 to 100: requests per second"),
        "{text}"
    );
    assert!(
        text.contains("knob size on servers, 1 to 10: workers"),
        "{text}"
    );
}
