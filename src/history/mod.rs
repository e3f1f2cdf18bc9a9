//! Client histories: what clients asked for and what they were told.
//!
//! A history is a sequence of [`HistoryEvent`]s in real-time order: each
//! operation is an `invoke` followed (maybe) by its completion from the same
//! process: `ok` (it happened, with this result), `fail` (it certainly did not
//! happen), or `info` (unknown: it may take effect at any time after its
//! invocation, or never; Jepsen's term). A process has at most one operation
//! open at a time.
//!
//! The JSON-lines format (one event per line, `time` in nanoseconds):
//!
//! ```text
//! {"process":3,"type":"invoke","f":"write","key":"x","value":5,"time":1200000}
//! {"process":3,"type":"ok","f":"write","key":"x","value":5,"time":1900000}
//! ```
//!
//! `key` may be omitted (single-register histories); so may `server` (on a
//! completion: the server that answered, shown in reports). `value` is `null`, an
//! integer, a string, or a list (e.g. `[1, 4]` for a compare-and-set from 1 to 4).
//!
//! [`read_history`] also reads Jepsen's text logs and EDN maps (see
//! [`jepsen`]) and can tell the three formats apart by their first line.
//! [`read_history_file`] also keeps the line of every event, so an error
//! found later (by the checker) names `file:line:` as a parse error does.

pub mod jepsen;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{BufRead, Write};

/// The four kinds of history event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The client sent the request.
    Invoke,
    /// The operation happened, with the given result.
    Ok,
    /// The operation certainly did not happen.
    Fail,
    /// Unknown outcome (e.g. a timeout).
    Info,
}

impl OpType {
    /// The type as histories spell it: `invoke`, `ok`, `fail` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

/// A value in a history: nil, an integer, a string, or a list of values.
/// In JSON: `null`, a number, a string or an array (read directly, without
/// the buffering an untagged enum costs).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// No value (`null`, Jepsen's `nil`).
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A list, e.g. `[expected, new]` for compare-and-set.
    List(Vec<Value>),
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Builds a [`Value`] from whatever JSON holds.
struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, an integer, a string or a list")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("integer {v} is out of range for a value")))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
        }
    }
}

/// One line of a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEvent {
    /// The client process.
    pub process: u64,
    /// invoke / ok / fail / info.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The operation: `read`, `write`, `cas`, `get`, `put`, `append`.
    pub f: String,
    /// The key, for key-value histories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The argument (on invoke) or the result (on ok).
    #[serde(default = "nil")]
    pub value: Value,
    /// True time in nanoseconds (or any increasing counter).
    pub time: u64,
    /// The server that answered (on a completion), if the client knows it:
    /// a linearizability report names it next to the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

fn nil() -> Value {
    Value::Nil
}

/// A whole history, in real-time order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// The events.
    pub events: Vec<HistoryEvent>,
}

/// A history file that cannot be read: the file, the line and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line, if known.
    pub line: Option<usize>,
    /// 0-based index of the event at fault in [`History::events`], for an
    /// error found after parsing (see [`HistoryFile::locate`]).
    pub event: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.event) {
            (Some(line), _) => write!(f, "{}:{line}: {}", self.file, self.message),
            (None, Some(event)) => {
                write!(f, "{}: event {}: {}", self.file, event + 1, self.message)
            }
            (None, None) => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// A history read from a file, with the 1-based line of each event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryFile {
    /// The file as the user named it.
    pub file: String,
    /// The events.
    pub history: History,
    /// `lines[i]` is the line of `history.events[i]`.
    pub lines: Vec<usize>,
}

impl HistoryFile {
    /// `error` (about an event of this history, e.g. from the checker) with
    /// this file's name and the event's line.
    pub fn locate(&self, mut error: HistoryError) -> HistoryError {
        error.file = self.file.clone();
        if let Some(&line) = error.event.and_then(|e| self.lines.get(e)) {
            error.line = Some(line);
        }
        error
    }
}

impl std::error::Error for HistoryError {}

impl History {
    /// Reads our JSON-lines format; blank lines are skipped.
    pub fn from_jsonl(text: &str, file: &str) -> Result<History, HistoryError> {
        read_history_file(text, file, HistoryFormat::Jsonl).map(|f| f.history)
    }

    /// Writes the JSON-lines format.
    pub fn write_jsonl(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for event in &self.events {
            let line = serde_json::to_string(event).map_err(std::io::Error::other)?;
            writeln!(out, "{line}")?;
        }
        Ok(())
    }

    /// Number of invoked operations.
    pub fn operation_count(&self) -> usize {
        self.events
            .iter()
            .filter(|e| e.kind == OpType::Invoke)
            .count()
    }
}

/// The file formats [`read_history`] understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryFormat {
    /// Decide from the first non-blank line: `{"` is JSON lines, `{:` is
    /// EDN, anything else is a Jepsen text log.
    Auto,
    /// Our JSON lines ([`History::from_jsonl`]).
    Jsonl,
    /// Jepsen's text log ([`jepsen::from_jepsen_log`]).
    JepsenLog,
    /// Jepsen EDN maps, one per line ([`jepsen::from_jepsen_edn`]).
    JepsenEdn,
}

/// Reads a history in the given format; `file` names it in errors.
pub fn read_history(
    text: &str,
    file: &str,
    format: HistoryFormat,
) -> Result<History, HistoryError> {
    read_history_file(text, file, format).map(|f| f.history)
}

/// Reads a history in the given format and keeps each event's line.
pub fn read_history_file(
    text: &str,
    file: &str,
    format: HistoryFormat,
) -> Result<HistoryFile, HistoryError> {
    let read = read_history_file_within(text, file, format, &|| false)?;
    Ok(read.expect("never stopped"))
}

/// How many lines are read between two calls of `should_stop`.
pub const POLL_LINES: usize = 1 << 16;

/// [`read_history_file`] that gives up (`Ok(None)`) when `should_stop`
/// says so (polled every [`POLL_LINES`] lines), for a caller with a time
/// budget.
pub fn read_history_file_within(
    text: &str,
    file: &str,
    format: HistoryFormat,
    should_stop: &dyn Fn() -> bool,
) -> Result<Option<HistoryFile>, HistoryError> {
    let mut read = HistoryFile {
        file: file.to_string(),
        ..HistoryFile::default()
    };
    let finished = for_each_event(
        &mut text.as_bytes(),
        file,
        format,
        should_stop,
        &mut |line, event| {
            read.history.events.push(event);
            read.lines.push(line);
            Ok(())
        },
    )?;
    Ok(finished.then_some(read))
}

/// The longest line a history may have: 1 MiB.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads a history from `reader` one line at a time and hands each event,
/// with its 1-based line, to `visit`; nothing else is kept, so a caller
/// that keeps less than the events (the linearizability check keeps
/// operations) reads a history of any length in that much memory. `Auto`
/// decides the format from the first non-blank line. Returns `Ok(false)` if
/// `should_stop` fired (polled every [`POLL_LINES`] lines). Errors (a line
/// that does not parse, is not UTF-8, or is longer than [`MAX_LINE_BYTES`],
/// or an error from `visit`) name the file and the line.
pub fn for_each_event(
    reader: &mut dyn std::io::BufRead,
    file: &str,
    format: HistoryFormat,
    should_stop: &dyn Fn() -> bool,
    visit: &mut dyn FnMut(usize, HistoryEvent) -> Result<(), HistoryError>,
) -> Result<bool, HistoryError> {
    let mut format = format;
    let mut bytes = Vec::new();
    for number in 1.. {
        if number % POLL_LINES == 0 && should_stop() {
            return Ok(false);
        }
        let at = |message: String| HistoryError {
            file: file.to_string(),
            line: Some(number),
            event: None,
            message,
        };
        bytes.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = std::io::Read::take(&mut *reader, limit)
            .read_until(b'\n', &mut bytes)
            .map_err(|e| at(format!("cannot read the history: {e}")))?;
        if read == 0 {
            break;
        }
        if bytes.len() > MAX_LINE_BYTES {
            return Err(at(format!(
                "the line is longer than {MAX_LINE_BYTES} bytes; expected one event per line"
            )));
        }
        let line = std::str::from_utf8(&bytes).map_err(|e| {
            let offset = e.valid_up_to();
            at(format!(
                "the history is not UTF-8 text: invalid byte 0x{:02x} at byte {offset} of the line",
                bytes[offset]
            ))
        })?;
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if format == HistoryFormat::Auto {
            if line.trim().is_empty() {
                continue;
            }
            format = detect_format(line);
        }
        let parsed = match format {
            HistoryFormat::JepsenLog => jepsen::log_line(line, number as u64),
            HistoryFormat::JepsenEdn => jepsen::edn_line(line, number as u64),
            HistoryFormat::Jsonl | HistoryFormat::Auto => jsonl_line(line),
        };
        if let Some(event) = parsed.map_err(at)? {
            visit(number, event)?;
        }
    }
    Ok(true)
}

/// One line of our JSON lines: `None` if blank.
fn jsonl_line(line: &str) -> Result<Option<HistoryEvent>, String> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(line).map(Some).map_err(|e| {
        format!(
            "{e}; expected a JSON object with process, type (invoke|ok|fail|info), f, optional key, value and time"
        )
    })
}

/// The format of a history, judged from its first non-blank line (never `Auto`).
pub fn detect_format(text: &str) -> HistoryFormat {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let Some(inside) = first.strip_prefix('{') else {
        return HistoryFormat::JepsenLog;
    };
    match inside.trim_start().starts_with(':') {
        true => HistoryFormat::JepsenEdn,
        false => HistoryFormat::Jsonl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_detects_each_format() {
        assert_eq!(detect_format("\n {\"process\":1}"), HistoryFormat::Jsonl);
        assert_eq!(detect_format("{:process 1}"), HistoryFormat::JepsenEdn);
        assert_eq!(
            detect_format("INFO  jepsen.util - 0 :invoke :read nil"),
            HistoryFormat::JepsenLog
        );
        assert_eq!(detect_format(""), HistoryFormat::JepsenLog);
        let h = read_history("0 :invoke :read nil\n", "x", HistoryFormat::Auto).unwrap();
        assert_eq!(h.events.len(), 1);
        let err = read_history("{:process 1", "x.edn", HistoryFormat::Auto).unwrap_err();
        assert!(err.to_string().starts_with("x.edn:1: "), "{err}");
    }

    #[test]
    fn jsonl_round_trips() {
        let text = r#"{"process":3,"type":"invoke","f":"write","key":"x","value":5,"time":1200000}
{"process":3,"type":"ok","f":"write","key":"x","value":5,"time":1900000}
{"process":1,"type":"invoke","f":"cas","value":[1,4],"time":2000000}
{"process":1,"type":"info","f":"cas","value":null,"time":2500000}
"#;
        let history = History::from_jsonl(text, "h.jsonl").unwrap();
        assert_eq!(history.events.len(), 4);
        assert_eq!(
            history.events[2].value,
            Value::List(vec![Value::Int(1), Value::Int(4)])
        );
        assert_eq!(history.events[2].key, None);
        let mut out = Vec::new();
        history.write_jsonl(&mut out).unwrap();
        assert_eq!(
            History::from_jsonl(std::str::from_utf8(&out).unwrap(), "again").unwrap(),
            history
        );
    }

    #[test]
    fn values_other_than_nil_integers_strings_and_lists_are_errors() {
        let line = |v: &str| {
            format!(
                "{{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"value\":{v},\"time\":1}}"
            )
        };
        let ok = History::from_jsonl(&line("[null,-3,\"a\",[]]"), "v.jsonl").unwrap();
        assert_eq!(
            ok.events[0].value,
            Value::List(vec![
                Value::Nil,
                Value::Int(-3),
                Value::Str("a".into()),
                Value::List(vec![])
            ])
        );
        for bad in ["1.5", "true", "{}", "18446744073709551615"] {
            let err = History::from_jsonl(&format!("\n{}", line(bad)), "v.jsonl").unwrap_err();
            assert!(err.to_string().starts_with("v.jsonl:2: "), "{bad}: {err}");
        }
    }

    #[test]
    fn a_bad_line_names_its_number() {
        let err = History::from_jsonl("\n{\"process\":1}\n", "h.jsonl").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.to_string().starts_with("h.jsonl:2: "), "{err}");
    }
}
