//! Readers for Jepsen histories: the text log and EDN maps, one event per line.
//!
//! The text log (`jepsen.util` lines; fields split on any whitespace, tabs
//! or runs of spaces):
//!
//! ```text
//! INFO  jepsen.util - 0  :invoke  :cas  [1 4]
//! INFO  jepsen.util - 0  :fail    :cas  [1 4]
//! ```
//!
//! A bare `0 :invoke :read nil` (without the logger prefix) is accepted too;
//! lines from other loggers (`INFO jepsen.core - ...`) are skipped.
//!
//! EDN maps (`:process`, `:type`, `:f`, optional `:key` and `:value`; other
//! keys such as `:time` or `:index` are ignored; events of a non-integer
//! process such as `:nemesis` are skipped):
//!
//! ```text
//! {:process 4, :type :ok, :f :get, :key "5", :value "x 9 1 y"}
//! ```
//!
//! What it does not do: read full EDN (maps, sets, tagged literals and
//! floats as *values* are rejected with an error), or keep Jepsen's clock.
//! Invariants: an event's `time` is its 1-based line number, so events are in
//! file order and no two share a time; keywords become strings with their
//! colon (`:timed-out`); a `:fail` whose value is `:timed-out` becomes `info`
//! (the outcome is unknown, as the etcd logs mean it). Malformed input gives a
//! [`HistoryError`] naming the file, the line and what was expected, never a
//! panic.

use super::{History, HistoryError, HistoryEvent, HistoryFormat, OpType, Value};

/// Values nested deeper than this (`[[[...]]]`) are refused: the reader
/// recurses once per level, and no history needs more than a few.
pub const MAX_DEPTH: usize = 64;

/// Reads a Jepsen text log (`INFO  jepsen.util - <process> <type> <f> <value>`).
pub fn from_jepsen_log(text: &str, file: &str) -> Result<History, HistoryError> {
    super::read_history_file(text, file, HistoryFormat::JepsenLog).map(|f| f.history)
}

/// Reads Jepsen EDN maps, one per line.
pub fn from_jepsen_edn(text: &str, file: &str) -> Result<History, HistoryError> {
    super::read_history_file(text, file, HistoryFormat::JepsenEdn).map(|f| f.history)
}

/// One text-log line: `None` for blank lines and other loggers' lines.
pub(super) fn log_line(line: &str, time: u64) -> Result<Option<HistoryEvent>, String> {
    let (head, _) = split_fields(line, 3);
    let skip = match head.as_slice() {
        [] => true,
        [first, ..] if first.parse::<i64>().is_ok() => false,
        [_, logger, "-"] => *logger != "jepsen.util",
        _ => {
            return Err(format!(
                "expected `INFO  jepsen.util - <process> <type> <f> <value>`, found `{}`",
                line.trim()
            ))
        }
    };
    if skip {
        return Ok(None);
    }
    let body = if head[0].parse::<i64>().is_ok() {
        line
    } else {
        split_fields(line, 3).1
    };
    log_fields(body, time).map(Some)
}

/// The `<process> <type> <f> <value>` part of a text-log line.
fn log_fields(body: &str, time: u64) -> Result<HistoryEvent, String> {
    let (fields, rest) = split_fields(body, 3);
    let [process, kind, f] = fields.as_slice() else {
        return Err("expected `<process> <type> <f> <value>` after `jepsen.util -`".to_string());
    };
    let process = process
        .parse::<u64>()
        .map_err(|_| format!("expected a process number, found `{process}`"))?;
    let kind = op_type(keyword(kind)?)?;
    let f = keyword(f)?.to_string();
    let value = parse_whole_value(rest)?;
    Ok(event(process, kind, f, None, value, time))
}

/// Builds an event, turning `:fail ... :timed-out` into `info`.
fn event(
    process: u64,
    kind: OpType,
    f: String,
    key: Option<String>,
    value: Value,
    time: u64,
) -> HistoryEvent {
    let timed_out = matches!(&value, Value::Str(s) if s == ":timed-out");
    let kind = if kind == OpType::Fail && timed_out {
        OpType::Info
    } else {
        kind
    };
    HistoryEvent {
        process,
        kind,
        f,
        key,
        value,
        time,
        server: None,
    }
}

/// Splits off the first `n` whitespace-separated fields; returns them and the rest.
fn split_fields(line: &str, n: usize) -> (Vec<&str>, &str) {
    let mut fields = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while fields.len() < n && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        fields.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    (fields, rest)
}

/// `:invoke` -> `invoke`, or an error saying a keyword was expected.
fn keyword(token: &str) -> Result<&str, String> {
    token
        .strip_prefix(':')
        .filter(|k| !k.is_empty())
        .ok_or_else(|| format!("expected a keyword such as `:read`, found `{token}`"))
}

/// `invoke` / `ok` / `fail` / `info` as an [`OpType`].
fn op_type(name: &str) -> Result<OpType, String> {
    match name {
        "invoke" => Ok(OpType::Invoke),
        "ok" => Ok(OpType::Ok),
        "fail" => Ok(OpType::Fail),
        "info" => Ok(OpType::Info),
        other => Err(format!(
            "unknown type `:{other}`; expected :invoke, :ok, :fail or :info"
        )),
    }
}

/// Parses text that must hold exactly one value (empty text is `nil`).
fn parse_whole_value(text: &str) -> Result<Value, String> {
    let mut cursor = Cursor::new(text);
    cursor.skip_blank();
    if cursor.at_end() {
        return Ok(Value::Nil);
    }
    let value = cursor.value()?;
    cursor.expect_end()?;
    Ok(value)
}

/// One EDN-map line: `None` for blank lines and non-client processes.
pub(super) fn edn_line(line: &str, time: u64) -> Result<Option<HistoryEvent>, String> {
    let mut cursor = Cursor::new(line);
    cursor.skip_blank();
    if cursor.at_end() {
        return Ok(None);
    }
    let pairs = cursor.map()?;
    cursor.expect_end()?;
    edn_event(&pairs, time)
}

/// Turns the pairs of one EDN map into an event.
fn edn_event(pairs: &[(String, Value)], time: u64) -> Result<Option<HistoryEvent>, String> {
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let process = match get("process") {
        Some(Value::Int(p)) if *p >= 0 => *p as u64,
        Some(Value::Str(_)) => return Ok(None),
        Some(other) => {
            return Err(format!(
                ":process must be a non-negative integer, found {other}"
            ))
        }
        None => {
            return Err(
                "missing :process; expected {:process 0, :type :invoke, :f :read, ...}".to_string(),
            )
        }
    };
    let kind = match get("type") {
        Some(Value::Str(s)) => op_type(keyword(s)?)?,
        _ => return Err("missing or bad :type; expected :invoke, :ok, :fail or :info".to_string()),
    };
    let f = match get("f") {
        Some(Value::Str(s)) => s.strip_prefix(':').unwrap_or(s).to_string(),
        _ => return Err("missing or bad :f; expected a keyword such as :read".to_string()),
    };
    let key = get("key").map(key_text).transpose()?;
    let value = get("value").cloned().unwrap_or(Value::Nil);
    Ok(Some(event(process, kind, f, key, value, time)))
}

/// A key as text: a string as is, an integer in decimal, a keyword with its colon.
fn key_text(value: &Value) -> Result<String, String> {
    match value {
        Value::Str(s) => Ok(s.clone()),
        Value::Int(i) => Ok(i.to_string()),
        other => Err(format!(
            ":key must be a string or an integer, found {other}"
        )),
    }
}

/// A tiny EDN reader over one line.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    /// Lists open around the value being read.
    depth: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            text,
            pos: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    /// Skips whitespace and commas (commas are whitespace in EDN).
    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if !(c.is_whitespace() || c == ',') {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn expect_end(&mut self) -> Result<(), String> {
        self.skip_blank();
        match self.at_end() {
            true => Ok(()),
            false => Err(format!(
                "unexpected text after the value: `{}`",
                &self.text[self.pos..]
            )),
        }
    }

    /// `{:k v, ...}` with keyword keys (returned without their colon).
    fn map(&mut self) -> Result<Vec<(String, Value)>, String> {
        if self.peek() != Some('{') {
            return Err("expected an EDN map `{:process 0, :type :invoke, ...}`".to_string());
        }
        self.pos += 1;
        let mut pairs = Vec::new();
        loop {
            self.skip_blank();
            match self.peek() {
                Some('}') => break,
                None => return Err("unterminated map: expected `}`".to_string()),
                Some(_) => pairs.push(self.pair()?),
            }
        }
        self.pos += 1;
        Ok(pairs)
    }

    fn pair(&mut self) -> Result<(String, Value), String> {
        let found = self.text[self.pos..]
            .split_whitespace()
            .next()
            .unwrap_or("");
        if self.peek() != Some(':') {
            return Err(format!(
                "map keys must be keywords such as :process, found `{found}`"
            ));
        }
        let key = match self.value()? {
            Value::Str(k) if k.starts_with(':') => k[1..].to_string(),
            other => {
                return Err(format!(
                    "map keys must be keywords such as :process, found {other}"
                ))
            }
        };
        self.skip_blank();
        if matches!(self.peek(), Some('}') | None) {
            return Err(format!("key :{key} has no value"));
        }
        Ok((key, self.value()?))
    }

    /// nil, true/false, an integer, a string, a keyword, or a vector/list.
    fn value(&mut self) -> Result<Value, String> {
        self.skip_blank();
        match self.peek() {
            Some('"') => self.string(),
            Some('[') => self.list(']'),
            Some('(') => self.list(')'),
            Some('{') | Some('#') => Err("maps and sets are not supported as values".to_string()),
            Some(_) => self.atom(),
            None => Err("expected a value, found the end of the line".to_string()),
        }
    }

    fn list(&mut self, close: char) -> Result<Value, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "lists nested more than {MAX_DEPTH} deep (at byte {} of the line); expected a flat value such as [1 4]",
                self.pos + 1
            ));
        }
        self.depth += 1;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            match self.peek() {
                Some(c) if c == close => break,
                None => return Err(format!("unterminated list: expected `{close}`")),
                Some(_) => items.push(self.value()?),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Value::List(items))
    }

    fn string(&mut self) -> Result<Value, String> {
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.text[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(Value::Str(out));
                }
                '\\' => out.push(unescape(chars.next().map(|(_, e)| e))?),
                c => out.push(c),
            }
        }
        Err("unterminated string: expected a closing `\"`".to_string())
    }

    /// A bare token: nil, true, false, an integer or a keyword.
    fn atom(&mut self) -> Result<Value, String> {
        let rest = &self.text[self.pos..];
        let end = rest
            .find(|c: char| c.is_whitespace() || ",[](){}\"".contains(c))
            .unwrap_or(rest.len());
        let token = &rest[..end];
        self.pos += end;
        match token {
            "" => Err(format!(
                "expected a value, found `{}`",
                rest.chars().next().unwrap_or(' ')
            )),
            "nil" => Ok(Value::Nil),
            "true" | "false" => Ok(Value::Str(token.to_string())),
            t if t.starts_with(':') && t.len() > 1 => Ok(Value::Str(t.to_string())),
            t => t.parse::<i64>().map(Value::Int).map_err(|_| {
                format!("expected nil, an integer, a string, a keyword or [..], found `{t}`")
            }),
        }
    }
}

/// The character after a backslash in a string.
fn unescape(c: Option<char>) -> Result<char, String> {
    match c {
        Some('n') => Ok('\n'),
        Some('t') => Ok('\t'),
        Some('r') => Ok('\r'),
        Some(c @ ('"' | '\\')) => Ok(c),
        Some(c) => Err(format!("unsupported escape `\\{c}` in a string")),
        None => Err("unterminated string: expected a closing `\"`".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_text_log() {
        let text = "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 4]\n\nINFO  jepsen.core - hello\n\
                    INFO  jepsen.util - 0    :fail   :cas    [1 4]\n\
                    INFO  jepsen.util - 3\t:fail\t:read\t:timed-out\n3 :ok :read nil\n";
        let h = from_jepsen_log(text, "a.log").unwrap();
        assert_eq!(h.events.len(), 4);
        assert_eq!(
            h.events[0].value,
            Value::List(vec![Value::Int(1), Value::Int(4)])
        );
        assert_eq!(h.events[0].time, 1);
        assert_eq!(h.events[1].kind, OpType::Fail);
        assert_eq!(h.events[1].time, 4);
        assert_eq!(h.events[2].kind, OpType::Info);
        assert_eq!(h.events[3].value, Value::Nil);
    }

    #[test]
    fn reads_edn_maps() {
        let text = "{:process 9, :type :invoke, :f :append, :key \"0\", :value \"x 9 0 y\"}\n\
                    {:process :nemesis, :type :info, :f :start}\n\
                    {:process 9, :type :ok, :f :append, :key 0, :value \"a\\\"b\", :time 5}\n";
        let h = from_jepsen_edn(text, "h.edn").unwrap();
        assert_eq!(h.events.len(), 2);
        assert_eq!(h.events[0].key.as_deref(), Some("0"));
        assert_eq!(h.events[1].key.as_deref(), Some("0"));
        assert_eq!(h.events[1].value, Value::Str("a\"b".to_string()));
        assert_eq!(h.events[1].time, 3);
    }

    #[test]
    fn malformed_log_lines_are_errors_with_lines() {
        for (text, needle) in [
            ("INFO  jepsen.util - x :invoke :read nil", "process number"),
            ("INFO  jepsen.util - 1 :begin :read nil", "unknown type"),
            ("INFO  jepsen.util - 1 :invoke read nil", "keyword"),
            (
                "INFO  jepsen.util - 1 :invoke :cas [1 4",
                "unterminated list",
            ),
            ("INFO  jepsen.util - 1 :invoke :read 12abc", "expected nil"),
            ("INFO  jepsen.util - 1 :invoke", "expected `<process>"),
            ("garbage", "expected `INFO"),
        ] {
            let err = from_jepsen_log(&format!("\n{text}\n"), "e.log").unwrap_err();
            assert_eq!(err.line, Some(2), "{text}");
            assert!(err.to_string().starts_with("e.log:2: "), "{err}");
            assert!(err.message.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn malformed_edn_lines_are_errors_with_lines() {
        for (text, needle) in [
            ("{:process 1, :type :invoke", "unterminated map"),
            (
                "{:process 1, :type :invoke, :f :get, :value \"abc}",
                "unterminated string",
            ),
            ("{:type :invoke, :f :get}", "missing :process"),
            ("{:process 1, :type :go, :f :get}", "unknown type"),
            (
                "{:process 1, :type :ok, :f :get, :value {:a 1}}",
                "maps and sets",
            ),
            ("{process 1}", "map keys must be keywords"),
            ("{:process 1, :type :ok, :f :get} extra", "unexpected text"),
            ("{:process -3, :type :ok, :f :get}", "non-negative"),
            ("{:process 1, :type :ok, :f :get, :key}", "has no value"),
            ("[1 2]", "expected an EDN map"),
        ] {
            let err = from_jepsen_edn(text, "e.edn").unwrap_err();
            assert_eq!(err.line, Some(1), "{text}");
            assert!(err.message.contains(needle), "{text}: {err}");
        }
    }
}
