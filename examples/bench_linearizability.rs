//! The linearizability checker against the corpus of public histories.
//!
//! Reads `expected.csv` in the corpus directory (default
//! `tests/data/linearizability`, kept in the repository), parses every file once (Jepsen etcd logs
//! with the cas-register model, the kv EDN files with the kv model), then
//! checks each file five times and keeps the median check time (parsing
//! excluded). A file counts as right when the verdict and the number of
//! invoked operations match `expected.csv`.
//!
//! ```text
//! cargo run --release --example bench_linearizability [-- DIR]
//! cargo run --release --example bench_linearizability -- --sequential N [--write FILE]
//! ```
//!
//! One line per file, then last:
//! `etcd_ms=<float> kv_ms=<float> verdicts_ok=<n>/<files>` where the times
//! are sums of per-file medians in milliseconds (wall clock: they vary).
//!
//! `--sequential N` instead generates a correct history of N operations
//! that never overlap (4 processes taking turns, writes of fresh values and
//! reads of the last one, on a register), checks it once and prints
//! `sequential_ops=N verdict=<v> steps=<n> check_ms=<float>` last; with
//! `--write FILE` it writes the history as JSON lines instead of checking
//! it, for `faultlab check FILE --model register`.

use faultlab::check::linearizability::{check, LinModel, LinOptions, LinVerdict};
use faultlab::history::{read_history, History, HistoryEvent, HistoryFormat, OpType, Value};
use std::path::Path;
use std::time::Instant;

#[path = "common/alloc.rs"]
mod alloc;

const PASSES: usize = 5;

/// One corpus file and what it should give.
struct Case {
    file: String,
    model: LinModel,
    expected: Option<bool>,
    ops: usize,
    history: History,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--sequential") {
        std::process::exit(sequential(&args[1..]));
    }
    let dir = args
        .first()
        .cloned()
        .unwrap_or_else(|| "tests/data/linearizability".to_string());
    let cases = match load(Path::new(&dir)) {
        Ok(cases) => cases,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let (mut etcd_ms, mut kv_ms, mut ok) = (0.0, 0.0, 0);
    for case in &cases {
        let (ms, right) = bench(case);
        match case.model {
            LinModel::Kv => kv_ms += ms,
            _ => etcd_ms += ms,
        }
        ok += right as usize;
    }
    println!(
        "etcd_ms={etcd_ms:.1} kv_ms={kv_ms:.1} verdicts_ok={ok}/{}",
        cases.len()
    );
}

/// Reads `expected.csv` and parses every file it names.
fn load(dir: &Path) -> Result<Vec<Case>, String> {
    let csv_path = dir.join("expected.csv");
    let csv =
        std::fs::read_to_string(&csv_path).map_err(|e| format!("{}: {e}", csv_path.display()))?;
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| load_case(dir, line))
        .collect()
}

fn load_case(dir: &Path, line: &str) -> Result<Case, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let [file, model, expected, ops] = fields.as_slice() else {
        return Err(format!("expected.csv: bad line `{line}`"));
    };
    let model = match *model {
        "kv-partitioned-by-key" => LinModel::Kv,
        _ => LinModel::CasRegister,
    };
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let history = read_history(&text, file, HistoryFormat::Auto).map_err(|e| e.to_string())?;
    Ok(Case {
        file: file.to_string(),
        model,
        expected: expected.parse().ok(),
        ops: ops.parse().unwrap_or(0),
        history,
    })
}

/// Median check time in ms over the passes, and whether the verdict is right.
fn bench(case: &Case) -> (f64, bool) {
    let mut times = Vec::with_capacity(PASSES);
    let mut last = None;
    for _ in 0..PASSES {
        let start = Instant::now();
        let report = check(&case.history, case.model, &LinOptions::default(), &|| false);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        last = Some(report);
    }
    times.sort_by(f64::total_cmp);
    let median = times[PASSES / 2];
    let report = match last.expect("at least one pass") {
        Ok(report) => report,
        Err(e) => {
            println!("{:<24} error: {e}", case.file);
            return (median, false);
        }
    };
    let want = match case.expected {
        Some(true) | None => LinVerdict::Linearizable,
        Some(false) => LinVerdict::NotLinearizable,
    };
    let right = report.verdict == want && report.operations == case.ops;
    println!(
        "{:<24} {:<17} ops={:<5} steps={:<9} ms={median:.3}{}",
        case.file,
        report.verdict.to_string(),
        report.operations,
        report.steps,
        if right { "" } else { "  MISMATCH" }
    );
    (median, right)
}

/// `--sequential N [--write FILE]`: generate, then check or write.
fn sequential(args: &[String]) -> i32 {
    let Some(n) = args.first().and_then(|a| a.parse::<u64>().ok()) else {
        eprintln!("error: --sequential expects a number of operations");
        return 2;
    };
    let history = sequential_history(n);
    if let [_, flag, file] = args {
        if flag == "--write" {
            let written = std::fs::File::create(file).and_then(|f| {
                let mut out = std::io::BufWriter::new(f);
                history.write_jsonl(&mut out)
            });
            if let Err(e) = written {
                eprintln!("error: {file}: {e}");
                return 2;
            }
            println!("wrote {n} operations to {file}");
            return 0;
        }
    }
    let start = Instant::now();
    let report = check(
        &history,
        LinModel::Register,
        &LinOptions::default(),
        &|| false,
    )
    .expect("a generated history is well formed");
    println!(
        "sequential_ops={n} verdict={} steps={} check_ms={:.1}",
        report.verdict,
        report.steps,
        start.elapsed().as_secs_f64() * 1000.0
    );
    0
}

/// `n` operations one after another: process `i % 4` writes `i` (even `i`)
/// or reads the last value written (odd `i`).
fn sequential_history(n: u64) -> History {
    let event = |process, kind, f: &str, value, time| HistoryEvent {
        process,
        kind,
        f: f.to_string(),
        key: None,
        value,
        time,
        server: None,
    };
    let mut events = Vec::with_capacity(2 * n as usize);
    for i in 0..n {
        let (f, value) = match i % 2 {
            0 => ("write", Value::Int(i as i64)),
            _ => ("read", Value::Int(i as i64 - 1)),
        };
        let input = if f == "read" {
            Value::Nil
        } else {
            value.clone()
        };
        events.push(event(i % 4, OpType::Invoke, f, input, 10 * i));
        events.push(event(i % 4, OpType::Ok, f, value, 10 * i + 5));
    }
    History { events }
}
