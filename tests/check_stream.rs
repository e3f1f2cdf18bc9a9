//! `faultlab check` streams a history: it keeps the operations, never the
//! file's text or its events, so a history is checked in the memory of its
//! operations and the search alone. Measured by a counting allocator (this
//! test binary's own), not by the OS; allocation sizes are deterministic,
//! and every test here takes the allocator's lock, so none allocates while
//! another measures.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{peak_during, ONE_AT_A_TIME};
use faultlab::check::linearizability::{check, check_stream, LinModel, LinOptions, LinVerdict};
use faultlab::history::{for_each_event, read_history, HistoryFormat, MAX_LINE_BYTES};

#[global_allocator]
static COUNTING: counting_alloc::Counting = counting_alloc::Counting;

/// A register written and read by one process after another, never
/// overlapping: `operations` operations in our JSON lines.
fn sequential_history(operations: u64) -> String {
    let mut text = String::new();
    for i in 0..operations {
        let (f, value) = if i % 2 == 0 {
            ("write", i)
        } else {
            ("read", i - 1)
        };
        let process = i % 7;
        let at = 10 * i;
        let invoke = if f == "write" {
            value.to_string()
        } else {
            "null".to_string()
        };
        text.push_str(&format!(
            "{{\"process\":{process},\"type\":\"invoke\",\"f\":\"{f}\",\"value\":{invoke},\"time\":{at}}}\n"
        ));
        text.push_str(&format!(
            "{{\"process\":{process},\"type\":\"ok\",\"f\":\"{f}\",\"value\":{value},\"time\":{}}}\n",
            at + 5
        ));
    }
    text
}

#[test]
fn a_streamed_check_never_holds_the_events() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let text = sequential_history(50_000);
    let options = LinOptions::default();
    let (_, events) =
        peak_during(|| read_history(&text, "seq.jsonl", HistoryFormat::Auto).unwrap());
    let (whole, whole_peak) = peak_during(|| {
        let history = read_history(&text, "seq.jsonl", HistoryFormat::Auto).unwrap();
        check(&history, LinModel::Register, &options, &|| false).unwrap()
    });
    let (streamed, streamed_peak) = peak_during(|| {
        check_stream(
            &mut text.as_bytes(),
            "seq.jsonl",
            HistoryFormat::Auto,
            LinModel::Register,
            &options,
            &|| false,
        )
        .unwrap()
        .expect("never stopped")
    });
    assert_eq!(whole.verdict, LinVerdict::Linearizable);
    assert_eq!(
        (streamed.verdict, streamed.steps),
        (whole.verdict, whole.steps)
    );
    // Reading whole holds the events (and the text) beside the operations;
    // streaming holds one line at a time.
    assert!(
        streamed_peak + events / 2 <= whole_peak,
        "streaming held {streamed_peak} bytes, reading whole {whole_peak}, of which events {events}"
    );
}

#[test]
fn a_streamed_history_names_the_line_of_each_fault() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let check_text = |text: &[u8]| {
        check_stream(
            &mut &text[..],
            "h.jsonl",
            HistoryFormat::Auto,
            LinModel::Register,
            &LinOptions::default(),
            &|| false,
        )
        .map(|r| r.map(|r| r.verdict))
    };
    let ok = b"{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1,\"time\":1}\n";
    // A completion with no invocation: the checker's error, at its line.
    let mut text = ok.to_vec();
    text.extend_from_slice(
        b"\n{\"process\":5,\"type\":\"ok\",\"f\":\"read\",\"value\":1,\"time\":2}\n",
    );
    let e = check_text(&text).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("h.jsonl", Some(3)), "{e}");
    assert!(e.to_string().contains("no open operation"), "{e}");
    // Bytes that are not UTF-8, on the second line.
    let mut text = ok.to_vec();
    text.extend_from_slice(b"{\"process\":0,\xff}\n");
    let e = check_text(&text).unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
    assert!(
        e.message.contains("not UTF-8") && e.message.contains("byte 13"),
        "{e}"
    );
    // A line longer than any event, refused before it is held whole.
    let mut text = ok.to_vec();
    text.extend(std::iter::repeat_n(b' ', MAX_LINE_BYTES + 10));
    let e = check_text(&text).unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.contains("longer than"), "{e}");
}

#[test]
fn reading_stops_when_asked() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let text = "0 :invoke :read nil\n0 :ok :read nil\n".repeat(70_000);
    let mut seen = 0;
    let finished = for_each_event(
        &mut text.as_bytes(),
        "h.log",
        HistoryFormat::Auto,
        &|| true,
        &mut |_, _| {
            seen += 1;
            Ok(())
        },
    )
    .unwrap();
    assert!(!finished, "a budget that has run out stops the reading");
    assert!(seen < 140_000, "{seen} events were read");
}
