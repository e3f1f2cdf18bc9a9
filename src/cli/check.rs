//! `faultlab check`: a history file judged for linearizability.

use super::Io;

/// `faultlab check`; `limits` is the wall-clock budget (from before the file
/// is read) and the search's memory budget in bytes.
pub(super) fn cmd_check(
    io: &mut Io<'_>,
    path: &str,
    model: &str,
    format: &str,
    limits: (std::time::Duration, u64),
    json: bool,
) -> i32 {
    use crate::check::linearizability::{check_stream, LinModel, LinOptions, LinVerdict};
    use crate::history::HistoryFormat;
    let (budget, max_memory) = limits;
    let started = std::time::Instant::now();
    let deadline = started + budget;
    let should_stop = || std::time::Instant::now() >= deadline;
    let model: LinModel = match model.parse() {
        Ok(m) => m,
        Err(e) => {
            errln!(io, "error: --model: {e}");
            return 2;
        }
    };
    let format = match format {
        "jsonl" => HistoryFormat::Jsonl,
        "jepsen-log" => HistoryFormat::JepsenLog,
        "jepsen-edn" => HistoryFormat::JepsenEdn,
        _ => HistoryFormat::Auto,
    };
    // The history is streamed: only its operations are kept, never its text
    // or its events.
    let mut reader = match crate::input::open_text(
        std::path::Path::new(path),
        "history",
        crate::input::MAX_HISTORY_BYTES,
    ) {
        Ok(reader) => reader,
        Err(e) => {
            errln!(io, "error: {path}: {}", e.message);
            return 2;
        }
    };
    let options = LinOptions {
        max_memory,
        ..LinOptions::default()
    };
    let checked = check_stream(&mut reader, path, format, model, &options, &should_stop);
    if reader.get_ref().limit() == 0 {
        let max = crate::input::MAX_HISTORY_BYTES;
        errln!(io, "error: {path}: the history grew past {max} bytes while it was read; at most {max} bytes are read");
        return 2;
    }
    let report = match checked {
        Ok(None) => crate::check::linearizability::LinReport {
            verdict: LinVerdict::Unknown,
            operations: 0,
            partitions: 0,
            steps: 0,
            explanation: Some(
                "Unknown: the time budget (--budget) ran out while the history was read.".into(),
            ),
            failing_key: None,
            witness: None,
        },
        Ok(Some(report)) => report,
        Err(e) => {
            errln!(io, "error: {e}");
            return 2;
        }
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (verdict, code) = match report.verdict {
        LinVerdict::Linearizable => ("linearizable", 0),
        LinVerdict::NotLinearizable => ("not-linearizable", 3),
        LinVerdict::Unknown => ("unknown", 5),
    };
    if json {
        outln!(
            io,
            "{}",
            serde_json::json!({
                "file": path,
                "verdict": verdict,
                "operations": report.operations,
                "partitions": report.partitions,
                "steps": report.steps,
                "elapsed_ms": (elapsed_ms * 1000.0).round() / 1000.0,
                "failing_key": report.failing_key,
                "explanation": report.explanation,
            })
        );
    } else {
        outln!(io,
            "{path}: {} operations in {} partition(s): {verdict} ({} search steps, {elapsed_ms:.1} ms)",
            report.operations, report.partitions, report.steps
        );
        if let Some(explanation) = &report.explanation {
            outln!(io, "{explanation}");
        }
    }
    code
}
