//! A fuzz test of the history readers and the checker: mutated corpus files
//! and generated JSON lines, read in every format and checked with every
//! model under small budgets. Whatever the bytes, the answer is a verdict or
//! an error naming the file and a line; never a panic, a hang or a stack
//! overflow. The cases are bounded (a few seconds in a debug build).

use faultlab::check::linearizability::{check, LinModel, LinOptions};
use faultlab::history::{read_history_file, HistoryFormat};
use proptest::prelude::*;

const FORMATS: [HistoryFormat; 4] = [
    HistoryFormat::Auto,
    HistoryFormat::Jsonl,
    HistoryFormat::JepsenLog,
    HistoryFormat::JepsenEdn,
];

const MODELS: [LinModel; 3] = [LinModel::Register, LinModel::CasRegister, LinModel::Kv];

/// The first `lines` lines of a corpus file.
fn corpus_head(file: &str, lines: usize) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/linearizability")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let head: Vec<&str> = text.lines().take(lines).collect();
    (head.join("\n") + "\n").into_bytes()
}

/// Reads `bytes` in every format and checks what reads; asserts the outcome
/// is a verdict or an error with a line.
fn judge(bytes: Vec<u8>) {
    let text = match faultlab::input::text_of(bytes, "history") {
        Ok(text) => text,
        Err(e) => {
            assert!(e.line.is_some(), "a UTF-8 error names its line: {e}");
            return;
        }
    };
    let options = LinOptions {
        max_steps: 2_000,
        max_memory: 1 << 20,
    };
    for format in FORMATS {
        let read = match read_history_file(&text, "f.txt", format) {
            Ok(read) => read,
            Err(e) => {
                assert!(e.line.is_some(), "{format:?}: no line in `{e}`");
                assert!(e.to_string().starts_with("f.txt:"), "{e}");
                continue;
            }
        };
        assert_eq!(read.lines.len(), read.history.events.len());
        for model in MODELS {
            if let Err(e) = check(&read.history, model, &options, &|| false) {
                let e = read.locate(e);
                assert!(e.line.is_some(), "{format:?} {model}: no line in `{e}`");
                assert!(e.to_string().starts_with("f.txt:"), "{e}");
            }
        }
    }
}

/// One edit of a file: overwrite, insert or delete bytes at a position
/// (a fraction of the length), or insert a run of one byte.
#[derive(Clone, Debug)]
enum Mutation {
    Set(u16, u8),
    Insert(u16, Vec<u8>),
    Delete(u16, u8),
    Repeat(u16, u8, u16),
}

/// Bytes that matter to the parsers.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => proptest::sample::select(b"[]{}()\":,-0123456789 \n\t\\#nilokfaiprecsvw".to_vec()),
        1 => any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<u16>(), interesting_byte()).prop_map(|(at, b)| Mutation::Set(at, b)),
        (
            any::<u16>(),
            proptest::collection::vec(interesting_byte(), 1..8)
        )
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<u16>(), any::<u8>()).prop_map(|(at, n)| Mutation::Delete(at, n % 16)),
        (any::<u16>(), interesting_byte(), 1u16..3000)
            .prop_map(|(at, b, n)| Mutation::Repeat(at, b, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |frac: u16, len: usize| (frac as usize * (len + 1)) >> 16;
    match m {
        Mutation::Set(f, b) if !bytes.is_empty() => {
            let i = at(*f, bytes.len() - 1);
            bytes[i] = *b;
        }
        Mutation::Set(..) => {}
        Mutation::Insert(f, new) => {
            let i = at(*f, bytes.len());
            bytes.splice(i..i, new.iter().copied());
        }
        Mutation::Delete(f, n) => {
            let i = at(*f, bytes.len());
            let end = (i + *n as usize).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Repeat(f, b, n) => {
            let i = at(*f, bytes.len());
            bytes.splice(i..i, std::iter::repeat_n(*b, *n as usize));
        }
    }
}

/// A JSON value as text, sometimes nested, sometimes not what is expected.
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        (-3i64..5).prop_map(|i| i.to_string()),
        "[a-z]{0,3}".prop_map(|s| format!("{s:?}")),
        Just("1.5".to_string()),
        Just("true".to_string()),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        proptest::collection::vec(inner, 0..3).prop_map(|items| format!("[{}]", items.join(",")))
    })
}

/// One JSON line: mostly well-formed events, some with odd fields.
fn json_line() -> impl Strategy<Value = String> {
    (
        0u64..4,
        proptest::sample::select(vec!["invoke", "ok", "fail", "info", "bogus"]),
        proptest::sample::select(vec!["read", "write", "cas", "get", "put", "append", "x"]),
        proptest::option::of("[ab]"),
        json_value(),
        0u64..40,
        any::<bool>(),
    )
        .prop_map(|(process, kind, f, key, value, time, extra)| {
            let key = key.map_or(String::new(), |k| format!(",\"key\":\"{k}\""));
            let extra = if extra { "" } else { ",\"zzz\":1" };
            format!(
                "{{\"process\":{process},\"type\":\"{kind}\",\"f\":\"{f}\"{key},\"value\":{value},\"time\":{time}{}}}",
                if time % 7 == 0 { extra } else { "" }
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutated_corpus_files_give_a_verdict_or_a_located_error(
        file in proptest::sample::select(vec![
            "jepsen/etcd_002.log",
            "jepsen/etcd_067.log",
            "kv/c01-ok.txt",
            "kv/c01-bad.txt",
        ]),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = corpus_head(file, 60);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        judge(bytes);
    }

    #[test]
    fn generated_json_lines_give_a_verdict_or_a_located_error(
        lines in proptest::collection::vec(json_line(), 0..40),
    ) {
        judge(lines.join("\n").into_bytes());
    }
}

#[test]
fn the_fuzz_inputs_reach_the_checker() {
    // The corpus heads read and check cleanly, so mutations start from
    // histories that get past the readers.
    for file in ["jepsen/etcd_002.log", "kv/c01-ok.txt"] {
        let text = String::from_utf8(corpus_head(file, 60)).unwrap();
        let read = read_history_file(&text, file, HistoryFormat::Auto).unwrap();
        assert!(read.history.events.len() > 30, "{file}");
    }
}
