//! Mutated scenario files never panic, hang or overflow: each shipped
//! scenario, with bytes flipped, cut short, lines duplicated or dropped,
//! numbers and durations replaced by huge, negative or zero values, either
//! is refused with an error that names a line, or runs (under a small event
//! limit, to stay fast) to any verdict but `node_panic` or `internal_error`:
//! the shipped models never panic, and neither does faultlab.

mod common;

use faultlab::scenario::{run, RunOptions, Scenario};
use proptest::prelude::*;

/// One edit of the file's bytes. Positions are taken modulo the length.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR one byte with a mask.
    Flip(usize, u8),
    /// Keep only the first bytes.
    Cut(usize),
    /// Repeat one line.
    DuplicateLine(usize),
    /// Remove one line.
    DropLine(usize),
    /// Replace the n-th bare number with a value.
    Number(usize, &'static str),
    /// Replace the n-th quoted duration with a value.
    Duration(usize, &'static str),
}

const NUMBERS: &[&str] = &[
    "0",
    "3",
    "0.999",
    "-1",
    "1",
    "7",
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "-0.5",
    "2.5",
    "nan",
];

const DURATIONS: &[&str] = &[
    "\"0\"",
    "\"1ns\"",
    "\"1us\"",
    "\"250ms\"",
    "\"3s\"",
    "\"4000000s\"",
    "\"-5ms\"",
    "\"8640000s\"",
    "\"8640001s\"",
    "\"307445734m\"",
    "\"99999999999999999999s\"",
    "\"+9223372036s\"",
    "\"-9223372036s\"",
    "\"1e9s\"",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    // Numbers and durations most often: they reach validation and the run.
    prop_oneof![
        1 => (any::<usize>(), 1u8..=255).prop_map(|(p, m)| Mutation::Flip(p, m)),
        1 => any::<usize>().prop_map(Mutation::Cut),
        1 => any::<usize>().prop_map(Mutation::DuplicateLine),
        1 => any::<usize>().prop_map(Mutation::DropLine),
        4 => (any::<usize>(), prop::sample::select(NUMBERS)).prop_map(|(i, v)| Mutation::Number(i, v)),
        6 => (any::<usize>(), prop::sample::select(DURATIONS))
            .prop_map(|(i, v)| Mutation::Duration(i, v)),
    ]
}

/// Byte ranges of bare numbers (digits, maybe signed, outside strings and comments).
fn numbers(text: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut i, mut in_string, mut in_comment) = (0, false, false);
    while i < text.len() {
        let c = text[i];
        match c {
            b'\n' => in_comment = false,
            b'#' if !in_string => in_comment = true,
            b'"' if !in_comment => in_string = !in_string,
            b'0'..=b'9' if !in_string && !in_comment => {
                let start = i;
                while i < text.len() && (text[i].is_ascii_digit() || text[i] == b'.') {
                    i += 1;
                }
                out.push((start, i));
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Byte ranges of quoted strings that look like durations (`"150ms"`).
fn durations(text: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'"' {
            let end = text[i + 1..]
                .iter()
                .position(|&c| c == b'"' || c == b'\n')
                .map_or(text.len(), |p| i + 1 + p);
            let inner = &text[i + 1..end];
            if inner.first().is_some_and(u8::is_ascii_digit)
                && inner.last().is_some_and(|c| *c == b's' || *c == b'm')
                && end < text.len()
            {
                out.push((i, end + 1));
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

fn splice(text: &mut Vec<u8>, (start, end): (usize, usize), with: &str) {
    text.splice(start..end, with.bytes());
}

fn apply(text: &mut Vec<u8>, mutation: &Mutation) {
    let lines = |text: &[u8]| -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, &c) in text.iter().enumerate() {
            if c == b'\n' {
                out.push((start, i + 1));
                start = i + 1;
            }
        }
        out
    };
    match *mutation {
        Mutation::Flip(p, mask) if !text.is_empty() => {
            let len = text.len();
            text[p % len] ^= mask;
        }
        Mutation::Cut(p) => text.truncate(p % (text.len() + 1)),
        Mutation::DuplicateLine(n) => {
            let all = lines(text);
            if let Some(&(start, end)) = all.get(n % all.len().max(1)) {
                let line = text[start..end].to_vec();
                text.splice(end..end, line);
            }
        }
        Mutation::DropLine(n) => {
            let all = lines(text);
            if let Some(&(start, end)) = all.get(n % all.len().max(1)) {
                text.drain(start..end);
            }
        }
        Mutation::Number(n, value) => {
            let all = numbers(text);
            if let Some(&range) = all.get(n % all.len().max(1)) {
                splice(text, range, value);
            }
        }
        Mutation::Duration(n, value) => {
            let all = durations(text);
            if let Some(&range) = all.get(n % all.len().max(1)) {
                splice(text, range, value);
            }
        }
        Mutation::Flip(..) => {}
    }
}

fn shipped() -> Vec<(String, Vec<u8>)> {
    common::scenario_files()
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).expect("a shipped scenario");
            (f, bytes)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_scenarios_are_refused_with_a_line_or_run_without_panic(
        which in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..3),
        seed in 0u64..1000,
    ) {
        let files = shipped();
        let (file, original) = &files[which % files.len()];
        let mut bytes = original.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        // Invalid UTF-8 is refused by `input::read_text` before parsing
        // (with its line); here the text goes through lossily.
        let text = String::from_utf8_lossy(&bytes);
        match Scenario::parse(&text, file) {
            Err(e) => prop_assert!(e.line.is_some(), "no line in: {}\n{}", e, text),
            Ok(mut scenario) => {
                scenario.limits.max_events = scenario.limits.max_events.min(3_000);
                scenario.limits.max_queue = scenario.limits.max_queue.min(100_000);
                let report = run(&scenario, seed, RunOptions { narrate: 0, ..RunOptions::default() });
                for v in &report.violations {
                    prop_assert!(
                        v.name != "node_panic" && v.name != "internal_error",
                        "{} after {:?} (seed {}): {}: {}\n{}",
                        file, mutations, seed, v.name, v.explanation, text
                    );
                }
            }
        }
    }
}

#[test]
fn the_mutators_find_numbers_and_durations() {
    let text = b"a = 12\nb = \"150ms\" # 7\nc = [\"1.5s\", \"x\"]\n".to_vec();
    assert_eq!(numbers(&text), [(4, 6)]);
    assert_eq!(durations(&text), [(11, 18), (28, 34)]);
    let mut edited = text.clone();
    apply(&mut edited, &Mutation::Duration(1, "\"8640001s\""));
    assert_eq!(
        String::from_utf8(edited).unwrap(),
        "a = 12\nb = \"150ms\" # 7\nc = [\"8640001s\", \"x\"]\n"
    );
}
