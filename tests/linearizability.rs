//! The linearizability checker: the corpus of public histories, a
//! brute-force oracle on small random histories, budgets, and explanations.
//!
//! The corpus is kept in the repository (`tests/data/linearizability/`, with
//! its README on format, source and licence).

use faultlab::check::linearizability::{
    check, check_stream, LinModel, LinOptions, LinReport, LinVerdict,
};
use faultlab::history::{read_history, History, HistoryEvent, HistoryFormat, OpType, Value};
use proptest::prelude::*;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/linearizability")
}

fn load(file: &str) -> History {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_history(&text, file, HistoryFormat::Auto).unwrap_or_else(|e| panic!("{e}"))
}

fn run(history: &History, model: LinModel, max_steps: u64) -> LinReport {
    let options = LinOptions {
        max_steps,
        ..LinOptions::default()
    };
    check(history, model, &options, &|| false).expect("well-formed history")
}

// ---------------------------------------------------------------- corpus

#[test]
fn every_corpus_file_gets_its_expected_verdict() {
    let csv_path = corpus_dir().join("expected.csv");
    let csv = std::fs::read_to_string(&csv_path).unwrap_or_else(|e| {
        panic!(
            "the corpus is part of the repository: {}: {e}",
            csv_path.display()
        )
    });
    let mut checked = 0;
    for line in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let (file, model, expected, ops) = (fields[0], fields[1], fields[2], fields[3]);
        let model = if model.starts_with("kv") {
            LinModel::Kv
        } else {
            LinModel::CasRegister
        };
        let report = run(&load(file), model, LinOptions::default().max_steps);
        let want = match expected {
            "false" => LinVerdict::NotLinearizable,
            _ => LinVerdict::Linearizable,
        };
        assert_eq!(report.verdict, want, "{file}: {:?}", report.explanation);
        assert_eq!(
            report.operations.to_string(),
            ops,
            "{file}: invoked operations"
        );
        if want == LinVerdict::NotLinearizable {
            assert!(report.explanation.is_some(), "{file}: no explanation");
        }
        // Streamed from the file, the same judgement, step for step.
        let path = corpus_dir().join(file);
        let mut reader = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let streamed = check_stream(
            &mut reader,
            file,
            HistoryFormat::Auto,
            model,
            &LinOptions::default(),
            &|| false,
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("never stopped");
        assert_eq!(
            (streamed.verdict, streamed.steps, &streamed.explanation),
            (report.verdict, report.steps, &report.explanation),
            "{file}: streamed"
        );
        checked += 1;
    }
    assert_eq!(checked, 109, "expected.csv lists 109 files");
}

#[test]
fn the_hard_kv_file_fails_fast_on_an_easy_key() {
    let report = run(
        &load("kv/c50-bad.txt"),
        LinModel::Kv,
        LinOptions::default().max_steps,
    );
    assert_eq!(report.verdict, LinVerdict::NotLinearizable);
    assert_eq!(report.partitions, 10);
    assert!(report.failing_key.is_some());
    assert!(report.steps < 2_000_000, "took {} steps", report.steps);
}

// ---------------------------------------------------------------- budgets

#[test]
fn a_tiny_step_budget_gives_unknown() {
    let history = load("jepsen/etcd_002.log");
    let report = run(&history, LinModel::CasRegister, 1_000);
    assert_eq!(report.verdict, LinVerdict::Unknown);
    assert!(report.steps <= 1_000, "{} steps", report.steps);
    let text = report.explanation.expect("unknown says why");
    assert!(text.contains("step budget"), "{text}");
}

#[test]
fn should_stop_gives_unknown() {
    let history = load("kv/c50-ok.txt");
    let report = check(&history, LinModel::Kv, &LinOptions::default(), &|| true).unwrap();
    assert_eq!(report.verdict, LinVerdict::Unknown);
    let polls = Cell::new(0);
    let later = || {
        polls.set(polls.get() + 1);
        polls.get() > 20
    };
    let report = check(&history, LinModel::Kv, &LinOptions::default(), &later).unwrap();
    assert_eq!(report.verdict, LinVerdict::Unknown);
    assert!(report.explanation.unwrap().contains("caller stopped"));
}

#[test]
fn the_same_budget_gives_the_same_report() {
    let history = load("kv/c50-ok.txt");
    for max_steps in [10_000, 123_457] {
        let a = run(&history, LinModel::Kv, max_steps);
        let b = run(&history, LinModel::Kv, max_steps);
        assert_eq!(a, b);
        assert_eq!(a.verdict, LinVerdict::Unknown);
    }
}

// ---------------------------------------------------------------- explanations

fn ev(
    process: u64,
    kind: OpType,
    f: &str,
    key: Option<&str>,
    value: Value,
    time: u64,
) -> HistoryEvent {
    HistoryEvent {
        process,
        kind,
        f: f.to_string(),
        key: key.map(str::to_string),
        value,
        time,
        server: None,
    }
}

fn s(text: &str) -> Value {
    Value::Str(text.to_string())
}

#[test]
fn an_explanation_names_the_key_the_stuck_operation_and_its_times() {
    let k = Some("x");
    let history = History {
        events: vec![
            ev(1, OpType::Invoke, "put", Some("y"), s("b"), 1),
            ev(1, OpType::Ok, "put", Some("y"), s("b"), 2),
            ev(1, OpType::Invoke, "put", k, s("a"), 10),
            ev(1, OpType::Ok, "put", k, s("a"), 12),
            ev(2, OpType::Invoke, "get", k, Value::Nil, 13),
            ev(2, OpType::Ok, "get", k, s("b"), 15),
        ],
    };
    let report = run(&history, LinModel::Kv, 1_000);
    assert_eq!(report.verdict, LinVerdict::NotLinearizable);
    assert_eq!(report.failing_key.as_deref(), Some("x"));
    assert_eq!((report.operations, report.partitions), (3, 2));
    let text = report.explanation.unwrap();
    assert!(text.starts_with("Key \"x\" is not linearizable"), "{text}");
    assert!(
        text.contains("1. put by process 1 [t=10..12] set \"a\""),
        "{text}"
    );
    assert!(
        text.contains(
            "get by process 2 [t=13..15] returned \"b\", but the key holds \"a\" after the prefix"
        ),
        "{text}"
    );
}

#[test]
fn a_register_explanation_reads_well() {
    let history = History {
        events: vec![
            ev(3, OpType::Invoke, "write", None, Value::Int(7), 1),
            ev(3, OpType::Ok, "write", None, Value::Int(7), 2),
            ev(4, OpType::Invoke, "write", None, Value::Int(5), 3),
            ev(4, OpType::Info, "write", None, Value::Nil, 4),
            ev(3, OpType::Invoke, "read", None, Value::Nil, 12),
            ev(3, OpType::Ok, "read", None, Value::Int(4), 15),
        ],
    };
    let report = run(&history, LinModel::Register, 1_000);
    assert_eq!(report.verdict, LinVerdict::NotLinearizable);
    assert_eq!(report.failing_key, None);
    let text = report.explanation.unwrap();
    assert!(
        text.contains("read by process 3 [t=12..15] returned 4, but the register holds"),
        "{text}"
    );
    assert!(
        !text.contains("set 5"),
        "the unknown write of 5 is never observed, so it is left out: {text}"
    );
    assert!(
        text.contains("whose value nothing observed are left out"),
        "{text}"
    );
}

#[test]
fn malformed_operations_are_errors_not_panics() {
    let history = History {
        events: vec![
            ev(1, OpType::Invoke, "cas", None, Value::Int(3), 1),
            ev(1, OpType::Ok, "cas", None, Value::Int(3), 2),
        ],
    };
    let err = check(
        &history,
        LinModel::CasRegister,
        &LinOptions::default(),
        &|| false,
    )
    .unwrap_err();
    assert_eq!(err.event, Some(0), "{err}");
    assert!(err.to_string().starts_with("history: event 1: "), "{err}");
    assert!(err.message.contains("[expected new]"), "{err}");
    let err = check(&history, LinModel::Kv, &LinOptions::default(), &|| false).unwrap_err();
    assert!(err.message.contains("expected get, put or append"), "{err}");
    let err = "cas".parse::<LinModel>().unwrap_err();
    assert!(err.contains("register, cas-register, kv"), "{err}");
    assert_eq!(
        "cas-register".parse::<LinModel>(),
        Ok(LinModel::CasRegister)
    );
}

#[test]
fn an_empty_history_is_linearizable() {
    let report = run(&History::default(), LinModel::Kv, 10);
    assert_eq!(report.verdict, LinVerdict::Linearizable);
    assert_eq!(
        (report.operations, report.partitions, report.steps),
        (0, 0, 0)
    );
}

// ---------------------------------------------------------------- oracle

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Ok,
    Fail,
    Info,
    Never,
}

/// One generated operation: what it does and how it ended.
#[derive(Clone, Debug)]
struct GenOp {
    process: u64,
    f: &'static str,
    key: Option<String>,
    input: Value,
    output: Value,
    end: End,
}

/// One operation as the oracle sees it.
#[derive(Clone, Debug)]
struct Interval {
    op: GenOp,
    call: u64,
    ret: Option<u64>,
}

fn gen_op(model: LinModel, process: u64, choice: u8, a: u8, b: u8, end: u8) -> GenOp {
    let int = |x: u8| {
        if x == 3 {
            Value::Nil
        } else {
            Value::Int(x as i64)
        }
    };
    let text = |x: u8| s(["", "x", "y", "xy", "yx", "xx"][x as usize % 6]);
    let key = (model == LinModel::Kv).then(|| ["a", "b"][b as usize % 2].to_string());
    let (f, input, output) = match (model, choice % 3) {
        (LinModel::Kv, 0) => ("get", Value::Nil, text(a)),
        (LinModel::Kv, 1) => ("put", text(1 + a % 2), text(1 + a % 2)),
        (LinModel::Kv, _) => ("append", text(1 + a % 2), text(1 + a % 2)),
        (_, 0) => ("read", Value::Nil, int(a % 4)),
        (LinModel::CasRegister, 2) => {
            let pair = Value::List(vec![int(a % 4), int(b % 3)]);
            ("cas", pair.clone(), pair)
        }
        (_, _) => ("write", int(a % 3), int(a % 3)),
    };
    let end = match end % 10 {
        0 | 1 => End::Fail,
        2 | 3 => End::Info,
        4 => End::Never,
        _ => End::Ok,
    };
    GenOp {
        process,
        f,
        key,
        input,
        output,
        end,
    }
}

/// Interleaves the processes' operations by `schedule` into events and
/// the oracle's intervals. Times advance by 0 or 1 per event (ties allowed).
fn interleave(ops: Vec<GenOp>, schedule: &[(u8, bool)]) -> (History, Vec<Interval>) {
    let mut queues: BTreeMap<u64, Vec<GenOp>> = BTreeMap::new();
    for op in ops.into_iter().rev() {
        queues.entry(op.process).or_default().push(op);
    }
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    let (mut events, mut intervals, mut time) = (Vec::new(), Vec::new(), 0);
    let mut i = 0;
    while queues.values().any(|q| !q.is_empty())
        || open
            .values()
            .any(|&o| intervals_end(&intervals, o) != End::Never)
    {
        let (pick, tick) = schedule[i % schedule.len()];
        let process = (pick as u64 + (i / schedule.len()) as u64) % 3;
        i += 1;
        time += tick as u64;
        step_process(
            process,
            time,
            &mut queues,
            &mut open,
            &mut events,
            &mut intervals,
        );
        assert!(i < 10_000, "the schedule does not finish");
    }
    (History { events }, intervals)
}

fn intervals_end(intervals: &[Interval], at: usize) -> End {
    intervals[at].op.end
}

/// Completes the process's open operation, or invokes its next one.
fn step_process(
    process: u64,
    time: u64,
    queues: &mut BTreeMap<u64, Vec<GenOp>>,
    open: &mut BTreeMap<u64, usize>,
    events: &mut Vec<HistoryEvent>,
    intervals: &mut Vec<Interval>,
) {
    let event =
        |op: &GenOp, kind, value| ev(op.process, kind, op.f, op.key.as_deref(), value, time);
    if let Some(&at) = open.get(&process) {
        let op = intervals[at].op.clone();
        let kind = match op.end {
            End::Never => return,
            End::Ok => OpType::Ok,
            End::Fail => OpType::Fail,
            End::Info => OpType::Info,
        };
        events.push(event(
            &op,
            kind,
            if kind == OpType::Ok {
                op.output.clone()
            } else {
                Value::Nil
            },
        ));
        if kind == OpType::Ok {
            intervals[at].ret = Some(time);
        }
        open.remove(&process);
    } else if let Some(queue) = queues.get_mut(&process) {
        let Some(op) = queue.pop() else { return };
        if op.end == End::Never {
            queue.clear();
        }
        events.push(event(&op, OpType::Invoke, op.input.clone()));
        open.insert(process, intervals.len());
        intervals.push(Interval {
            op,
            call: time,
            ret: None,
        });
    }
}

/// Applies an operation that took effect, in the oracle's own terms.
fn oracle_apply(model: LinModel, state: &Value, op: &GenOp, known: bool) -> Option<Value> {
    let text = |v: &Value| match v {
        Value::Str(s) => s.clone(),
        _ => String::new(),
    };
    match op.f {
        "read" | "get" if !known => Some(state.clone()),
        "read" => (*state == op.output).then(|| state.clone()),
        "get" => (text(state) == text(&op.output)).then(|| state.clone()),
        "write" | "put" => Some(op.input.clone()),
        "append" => Some(s(&(text(state) + &text(&op.input)))),
        "cas" => match &op.input {
            Value::List(pair) if *state == pair[0] => Some(pair[1].clone()),
            _ => None,
        },
        other => panic!("{model:?} cannot {other}"),
    }
}

/// Exhaustive search: place operations one at a time, respecting real time;
/// `ok` operations must all be placed, unknown ones may be placed or not.
fn oracle(
    model: LinModel,
    ops: &[Interval],
    placed: &mut Vec<bool>,
    state: &mut BTreeMap<Option<String>, Value>,
) -> bool {
    if ops
        .iter()
        .zip(placed.iter())
        .all(|(o, &p)| p || o.ret.is_none())
    {
        return true;
    }
    for i in 0..ops.len() {
        if placed[i] || !oracle_may_go_next(ops, placed, i) {
            continue;
        }
        let op = &ops[i].op;
        let initial = if model == LinModel::Kv {
            s("")
        } else {
            Value::Nil
        };
        let before = state.get(&op.key).cloned().unwrap_or(initial);
        if let Some(after) = oracle_apply(model, &before, op, ops[i].ret.is_some()) {
            placed[i] = true;
            state.insert(op.key.clone(), after);
            let found = oracle(model, ops, placed, state);
            placed[i] = false;
            state.insert(op.key.clone(), before);
            if found {
                return true;
            }
        }
    }
    false
}

/// No unplaced operation returned before `i` was invoked.
fn oracle_may_go_next(ops: &[Interval], placed: &[bool], i: usize) -> bool {
    (0..ops.len()).all(|j| j == i || placed[j] || ops[j].ret.is_none_or(|ret| ret >= ops[i].call))
}

/// A model, raw operations (process, choice, a, b, end), and a schedule.
type RawHistory = (LinModel, Vec<(u64, u8, u8, u8, u8)>, Vec<(u8, bool)>);

fn arb_history() -> impl Strategy<Value = RawHistory> {
    let model = prop_oneof![
        Just(LinModel::Register),
        Just(LinModel::CasRegister),
        Just(LinModel::Kv)
    ];
    let op = (0u64..3, any::<u8>(), 0u8..6, any::<u8>(), any::<u8>());
    (
        model,
        prop::collection::vec(op, 3..=8),
        prop::collection::vec((0u8..3, any::<bool>()), 1..40),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn the_checker_agrees_with_brute_force((model, raw, schedule) in arb_history()) {
        let ops: Vec<GenOp> = raw.iter().map(|&(p, c, a, b, e)| gen_op(model, p, c, a, b, e)).collect();
        let (history, intervals) = interleave(ops, &schedule);
        let live: Vec<Interval> = intervals.into_iter().filter(|iv| iv.op.end != End::Fail).collect();
        let expected = oracle(model, &live, &mut vec![false; live.len()], &mut BTreeMap::new());
        let report = run(&history, model, 1_000_000);
        let want = if expected { LinVerdict::Linearizable } else { LinVerdict::NotLinearizable };
        prop_assert_eq!(report.verdict, want, "history: {:#?}\nexplanation: {:?}", history.events, report.explanation);
    }
}

#[test]
fn a_chain_of_unknown_cas_operations_is_kept_when_its_end_is_read() {
    // cas nil->1 and cas 1->2 both time out; a read then sees 2. Leaving out
    // the first cas (its value 1 is never read) would make 2 unexplainable:
    // the second cas expects 1, so 1 counts as observed and both stay.
    let history = History {
        events: vec![
            ev(
                1,
                OpType::Invoke,
                "cas",
                None,
                Value::List(vec![Value::Nil, Value::Int(1)]),
                1,
            ),
            ev(1, OpType::Info, "cas", None, Value::Nil, 2),
            ev(
                2,
                OpType::Invoke,
                "cas",
                None,
                Value::List(vec![Value::Int(1), Value::Int(2)]),
                3,
            ),
            ev(2, OpType::Info, "cas", None, Value::Nil, 4),
            ev(3, OpType::Invoke, "read", None, Value::Nil, 10),
            ev(3, OpType::Ok, "read", None, Value::Int(2), 11),
        ],
    };
    assert_eq!(
        run(&history, LinModel::CasRegister, 10_000).verdict,
        LinVerdict::Linearizable
    );
}

#[test]
fn many_unknown_writes_nobody_reads_do_not_explode_the_search() {
    // 40 timed-out writes overlapping 40 reads that all see the one acknowledged value.
    let mut events = vec![
        ev(0, OpType::Invoke, "write", None, Value::Int(1), 0),
        ev(0, OpType::Ok, "write", None, Value::Int(1), 1),
    ];
    for i in 0..40u64 {
        events.push(ev(
            100 + i,
            OpType::Invoke,
            "write",
            None,
            Value::Int(1000 + i as i64),
            2 + i,
        ));
        events.push(ev(100 + i, OpType::Info, "write", None, Value::Nil, 3 + i));
    }
    for i in 0..40u64 {
        events.push(ev(
            200 + i,
            OpType::Invoke,
            "read",
            None,
            Value::Nil,
            100 + 2 * i,
        ));
        events.push(ev(
            200 + i,
            OpType::Ok,
            "read",
            None,
            Value::Int(1),
            101 + 2 * i,
        ));
    }
    let report = run(&History { events }, LinModel::Register, 100_000);
    assert_eq!(
        report.verdict,
        LinVerdict::Linearizable,
        "{:?}",
        report.explanation
    );
}

// ---------------------------------------------------------------- hardening

/// `n` operations one after another: process `i % 4` writes `i` (even `i`)
/// or reads the last value written (odd `i`).
fn sequential(n: u64) -> History {
    let mut events = Vec::with_capacity(2 * n as usize);
    for i in 0..n {
        let (f, input, output) = match i % 2 {
            0 => ("write", Value::Int(i as i64), Value::Int(i as i64)),
            _ => ("read", Value::Nil, Value::Int(i as i64 - 1)),
        };
        events.push(ev(i % 4, OpType::Invoke, f, None, input, 10 * i));
        events.push(ev(i % 4, OpType::Ok, f, None, output, 10 * i + 5));
    }
    History { events }
}

#[test]
fn a_sequential_history_takes_one_step_per_operation() {
    // 1e5 operations that never overlap: once quadratic (and `unknown`).
    // The memo and stacks fit in 16 MiB: O(1) bytes an operation.
    let n = 100_000;
    let options = LinOptions {
        max_memory: 16 << 20,
        ..LinOptions::default()
    };
    let report = check(&sequential(n), LinModel::Register, &options, &|| false).unwrap();
    assert_eq!(
        report.verdict,
        LinVerdict::Linearizable,
        "{:?}",
        report.explanation
    );
    assert_eq!(report.operations, n as usize);
    assert_eq!(report.steps, n);
}

#[test]
fn a_tiny_memory_budget_gives_unknown_and_says_so() {
    let history = load("kv/c50-ok.txt");
    let options = LinOptions {
        max_memory: 64 << 10,
        ..LinOptions::default()
    };
    let report = check(&history, LinModel::Kv, &options, &|| false).unwrap();
    assert_eq!(report.verdict, LinVerdict::Unknown);
    let why = report.explanation.clone().unwrap();
    assert!(why.contains("the memory budget (64 KiB) ran out"), "{why}");
    assert!(report.steps < 700_000, "stopped early: {}", report.steps);
    let again = check(&history, LinModel::Kv, &options, &|| false).unwrap();
    assert_eq!(again, report, "the memory budget is counted, not measured");
    let enough = check(&history, LinModel::Kv, &LinOptions::default(), &|| false).unwrap();
    assert_eq!(enough.verdict, LinVerdict::Linearizable);
}

#[test]
fn timed_out_writes_stop_being_tried_once_their_readers_are_placed() {
    // 30 values are each written and read; then the register is set to 0,
    // 30 writes of those values time out (open forever), and 2,000
    // compare-and-sets count 0, 1, 2, ... No one reads the timed-out values
    // any more: they are dead and never tried (else every subset of them
    // would be tried before each compare-and-set).
    let mut events = Vec::new();
    let mut t = 0;
    let mut push = |events: &mut Vec<HistoryEvent>, p, f, input: Value, kind, output: Value| {
        events.push(ev(p, OpType::Invoke, f, None, input, t));
        events.push(ev(p, kind, f, None, output, t + 1));
        t += 2;
    };
    for i in 0..30 {
        let v = Value::Int(-1 - i);
        push(&mut events, 1, "write", v.clone(), OpType::Ok, v.clone());
        push(&mut events, 2, "read", Value::Nil, OpType::Ok, v);
    }
    push(
        &mut events,
        1,
        "write",
        Value::Int(0),
        OpType::Ok,
        Value::Int(0),
    );
    for i in 0..30 {
        push(
            &mut events,
            100 + i as u64,
            "write",
            Value::Int(-1 - i),
            OpType::Info,
            Value::Nil,
        );
    }
    for j in 0..2_000 {
        let pair = Value::List(vec![Value::Int(j), Value::Int(j + 1)]);
        push(&mut events, 3, "cas", pair.clone(), OpType::Ok, pair);
    }
    let report = run(&History { events }, LinModel::CasRegister, 1_000_000);
    assert_eq!(
        report.verdict,
        LinVerdict::Linearizable,
        "{:?}",
        report.explanation
    );
    assert!(report.steps < 2 * 2_100, "{} steps", report.steps);
}

#[test]
fn concurrent_reads_do_not_multiply_the_search() {
    // Rounds of one write overlapping 16 reads, 8 of the old value and 8 of
    // the new: a read that applies is taken at once, so the subsets of reads
    // are not explored one by one.
    let mut events = Vec::new();
    let mut t = 0;
    for round in 1..=40i64 {
        events.push(ev(0, OpType::Invoke, "write", None, Value::Int(round), t));
        for r in 0..16u64 {
            events.push(ev(
                1 + r,
                OpType::Invoke,
                "read",
                None,
                Value::Nil,
                t + 1 + r,
            ));
        }
        for r in 0..16u64 {
            let seen = if r % 2 == 0 { round - 1 } else { round };
            let seen = if seen == 0 {
                Value::Nil
            } else {
                Value::Int(seen)
            };
            events.push(ev(1 + r, OpType::Ok, "read", None, seen, t + 20 + r));
        }
        events.push(ev(0, OpType::Ok, "write", None, Value::Int(round), t + 40));
        t += 100;
    }
    let report = run(&History { events }, LinModel::Register, 10_000_000);
    assert_eq!(
        report.verdict,
        LinVerdict::Linearizable,
        "{:?}",
        report.explanation
    );
    assert!(report.steps < 100 * 40, "{} steps", report.steps);
}

#[test]
fn errors_found_by_the_checker_name_the_file_line_in_every_format() {
    use faultlab::history::read_history_file;
    // The second invocation of process 1 (while its first is open) is on line 4.
    let files = [
        (
            "h.jsonl",
            "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":1}\n\n\
             {\"process\":2,\"type\":\"invoke\",\"f\":\"read\",\"time\":2}\n\
             {\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":3}\n",
        ),
        (
            "h.log",
            "INFO  jepsen.util - 1 :invoke :read nil\nINFO  jepsen.core - hello\n\
             INFO  jepsen.util - 2 :invoke :read nil\nINFO  jepsen.util - 1 :invoke :read nil\n",
        ),
        (
            "h.edn",
            "{:process 1, :type :invoke, :f :read}\n{:process :nemesis, :type :info, :f :start}\n\
             {:process 2, :type :invoke, :f :read}\n{:process 1, :type :invoke, :f :read}\n",
        ),
    ];
    for (file, text) in files {
        for format in [HistoryFormat::Auto, faultlab::history::detect_format(text)] {
            let read = read_history_file(text, file, format).unwrap();
            let err = check(
                &read.history,
                LinModel::Register,
                &LinOptions::default(),
                &|| false,
            )
            .unwrap_err();
            let located = read.locate(err).to_string();
            assert!(located.starts_with(&format!("{file}:4: ")), "{located}");
            assert!(located.contains("still running"), "{located}");
        }
    }
}

#[test]
fn deeply_nested_values_are_an_error_with_a_line_not_a_stack_overflow() {
    let deep = "[".repeat(40_000);
    let files = [
        (
            "d.jsonl",
            format!("\n{{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"value\":{deep},\"time\":1}}\n"),
        ),
        ("d.log", format!("\nINFO  jepsen.util - 1 :invoke :write {deep}\n")),
        ("d.edn", format!("\n{{:process 1, :type :invoke, :f :write, :value {deep}}}\n")),
    ];
    for (file, text) in files {
        let err = read_history(&text, file, HistoryFormat::Auto).unwrap_err();
        assert!(err.to_string().starts_with(&format!("{file}:2: ")), "{err}");
    }
    // 64 levels are fine; 65 are not.
    let ok = format!("1 :invoke :write {}1{}", "[".repeat(64), "]".repeat(64));
    read_history(&ok, "ok.log", HistoryFormat::JepsenLog).unwrap();
    let over = format!("1 :invoke :write {}1{}", "[".repeat(65), "]".repeat(65));
    let err = read_history(&over, "over.log", HistoryFormat::JepsenLog).unwrap_err();
    assert!(err.message.contains("nested more than 64 deep"), "{err}");
}

#[test]
fn should_stop_is_polled_while_a_large_history_is_prepared() {
    let history = sequential(200_000);
    let polls = std::cell::Cell::new(0u32);
    let stop = || {
        polls.set(polls.get() + 1);
        true
    };
    let report = check(&history, LinModel::Register, &LinOptions::default(), &stop).unwrap();
    assert_eq!(report.verdict, LinVerdict::Unknown);
    assert_eq!(
        (report.steps, polls.get()),
        (0, 1),
        "stopped during prepare"
    );
}

#[test]
fn many_keys_are_scheduled_in_linear_time() {
    // 20,000 keys of one put and one get each: one step per operation, and
    // the round-robin over parts keeps its memory count in O(parts).
    let mut events = Vec::new();
    for k in 0..20_000u64 {
        let key = k.to_string();
        let t = 10 * k;
        events.push(ev(1, OpType::Invoke, "put", Some(&key), s("x"), t));
        events.push(ev(1, OpType::Ok, "put", Some(&key), s("x"), t + 1));
        events.push(ev(2, OpType::Invoke, "get", Some(&key), Value::Nil, t + 2));
        events.push(ev(2, OpType::Ok, "get", Some(&key), s("x"), t + 3));
    }
    let report = run(&History { events }, LinModel::Kv, 1_000_000);
    assert_eq!(report.verdict, LinVerdict::Linearizable);
    assert_eq!((report.partitions, report.steps), (20_000, 40_000));
}
