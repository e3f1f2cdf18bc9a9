//! `--set KEY=VALUE`: a field of a scenario changed from the command line.
//!
//! The one place overrides apply is the scenario's text, before any
//! validation: the file is read as a TOML document, each override writes
//! its value at its dotted path (creating tables as needed), and the edited
//! text is validated like any file. An existing key keeps its line, so an
//! error in an untouched field still names its line; an error in an
//! overridden field says the value came from `--set`.

use super::ScenarioError;
use toml_edit::{DocumentMut, Item, Table, Value};

/// One `--set KEY=VALUE`: a dotted path and a TOML value.
#[derive(Clone, Debug)]
pub struct Override {
    /// The dotted path as written, e.g. `raft.bugs`.
    pub key: String,
    /// The path's parts.
    path: Vec<String>,
    /// The value as written, e.g. `["vote_not_synced"]`.
    pub value: String,
    parsed: Value,
}

impl Override {
    /// Parses `KEY=VALUE`; the error says what was expected.
    pub fn parse(text: &str) -> Result<Override, String> {
        let (key, value) = text.split_once('=').ok_or_else(|| {
            format!("'{text}' has no '='; expected KEY=VALUE, e.g. duration='\"5s\"' or 'raft.bugs=[\"vote_not_synced\"]'")
        })?;
        let key = key.trim();
        let path: Vec<String> = key.split('.').map(str::to_string).collect();
        let valid = |part: &String| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !path.iter().all(valid) {
            return Err(format!(
                "'{key}' is not a key; expected a dotted path of names (letters, digits, '_', '-'), e.g. workload.clients or chaos.crash.rate"
            ));
        }
        let parsed: Value = value.trim().parse().map_err(|_| {
            format!(
                "'{value}' (for {key}) is not a TOML value; expected e.g. 5, 0.1, true, \"5s\" (a string needs its quotes: --set '{key}=\"{value}\"') or [\"a\", \"b\"]"
            )
        })?;
        Ok(Override {
            key: key.to_string(),
            path,
            value: value.trim().to_string(),
            parsed,
        })
    }

    /// The flag as a shell word list, for reproduce commands:
    /// ` --set 'KEY=VALUE'`.
    pub fn flag(&self) -> String {
        let word = format!("{}={}", self.key, self.value);
        format!(" --set '{}'", word.replace('\'', r"'\''"))
    }

    /// Whether a validation error in `field` is about this override's value.
    fn covers(&self, field: &str) -> bool {
        let under = |long: &str, short: &str| {
            long == short
                || long
                    .strip_prefix(short)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        };
        under(field, &self.key) || under(&self.key, field)
    }
}

/// The reproduce-command suffix of `overrides` (empty without any).
pub fn flags(overrides: &[Override]) -> String {
    overrides.iter().map(Override::flag).collect()
}

/// `text` with every override applied, in order. Text that is not TOML
/// comes back unchanged (validation reports its syntax error); a path that
/// runs through a value that is not a table is an error naming the flag.
pub fn apply(text: &str, overrides: &[Override]) -> Result<String, String> {
    if overrides.is_empty() {
        return Ok(text.to_string());
    }
    let Ok(mut doc) = text.parse::<DocumentMut>() else {
        return Ok(text.to_string());
    };
    for o in overrides {
        set(doc.as_table_mut(), o)?;
    }
    Ok(doc.to_string())
}

fn set(root: &mut Table, o: &Override) -> Result<(), String> {
    let (last, parents) = o.path.split_last().expect("a key has at least one part");
    let bad = |walked: &str, expected: String| {
        format!("--set {}={}: {walked} {expected}", o.key, o.value)
    };
    let mut table: &mut dyn toml_edit::TableLike = root;
    let mut walked = String::new();
    let mut i = 0;
    while i < parents.len() {
        let part = &parents[i];
        walked = if walked.is_empty() {
            part.clone()
        } else {
            format!("{walked}.{part}")
        };
        if table.get(part).is_none() {
            let mut new = Table::new();
            new.set_implicit(true);
            table.insert(part, Item::Table(new));
        }
        let item = table.get_mut(part).expect("present or just inserted");
        if item.is_array_of_tables() {
            let array = item.as_array_of_tables_mut().expect("checked");
            let len = array.len();
            i += 1;
            let index = parents.get(i).and_then(|p| p.parse::<usize>().ok()).ok_or_else(|| {
                bad(&walked, format!("is a list of {len} tables; expected an index after it and a key inside, e.g. {walked}.0.KEY"))
            })?;
            table = array.get_mut(index).ok_or_else(|| {
                bad(
                    &walked,
                    format!("has {len} entries; index {index} is out of range"),
                )
            })?;
            walked = format!("{walked}.{index}");
        } else {
            table = item.as_table_like_mut().ok_or_else(|| {
                bad(
                    &walked,
                    "is a value in the scenario, not a table; expected a key inside a table"
                        .to_string(),
                )
            })?;
        }
        i += 1;
    }
    table.insert(last, Item::Value(o.parsed.clone()));
    Ok(())
}

/// Marks an error caused by an override: the message says which flag gave
/// the value, and the line (of the edited text) is dropped. An error on a
/// line the overrides wrote (`edited` differs there from `original`, e.g. a
/// table `--set` created) names every flag.
pub fn blame(
    mut error: ScenarioError,
    overrides: &[Override],
    original: &str,
    edited: &str,
) -> ScenarioError {
    let by_field = error
        .field
        .as_deref()
        .and_then(|field| overrides.iter().rev().find(|o| o.covers(field)));
    let written = error.line.is_some_and(|line| {
        let at = |text: &str| text.lines().nth(line.saturating_sub(1)).map(str::to_string);
        at(original) != at(edited)
    });
    let blamed = match by_field {
        Some(o) => format!("--set {}={}", o.key, o.value),
        None if written => overrides
            .iter()
            .map(|o| format!("--set {}={}", o.key, o.value))
            .collect::<Vec<_>>()
            .join(", "),
        None => return error,
    };
    error.line = None;
    error.message = format!("{} (this value came from {blamed})", error.message);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, flags: &[&str]) -> Result<String, String> {
        let overrides: Vec<Override> = flags.iter().map(|f| Override::parse(f).unwrap()).collect();
        apply(text, &overrides)
    }

    #[test]
    fn an_existing_key_keeps_its_line_and_others_are_untouched() {
        let text = "model = \"raft\"\nduration = \"10s\"\n\n[raft]\nnodes = 3\n";
        let out = set(text, &["duration=\"5s\""]).unwrap();
        assert_eq!(
            out,
            "model = \"raft\"\nduration = \"5s\"\n\n[raft]\nnodes = 3\n"
        );
    }

    #[test]
    fn missing_tables_are_created_and_arrays_of_tables_indexed() {
        let text = "model = \"raft\"\n[[faults]]\nat = \"1s\"\n";
        let out = set(
            text,
            &[
                "raft.bugs=[\"vote_not_synced\"]",
                "chaos.crash.rate=0.5",
                "faults.0.at=\"2s\"",
            ],
        )
        .unwrap();
        let parsed: toml::Table = out.parse().unwrap();
        assert_eq!(parsed["raft"]["bugs"][0].as_str(), Some("vote_not_synced"));
        assert_eq!(parsed["chaos"]["crash"]["rate"].as_float(), Some(0.5));
        assert_eq!(parsed["faults"][0]["at"].as_str(), Some("2s"));
    }

    #[test]
    fn without_overrides_the_text_is_returned_as_is() {
        let text = "# comment\nmodel   =   'x'\n";
        assert_eq!(set(text, &[]).unwrap(), text);
    }

    #[test]
    fn flags_quote_for_the_shell() {
        let o = Override::parse("description='a b'").unwrap();
        assert_eq!(o.flag(), r" --set 'description='\''a b'\'''");
        assert!(Override::parse("x").unwrap_err().contains("KEY=VALUE"));
        assert!(Override::parse("a.=1").unwrap_err().contains("not a key"));
        assert!(Override::parse("a=5s")
            .unwrap_err()
            .contains("not a TOML value"));
    }

    #[test]
    fn blame_names_the_flag_of_the_field() {
        let o = vec![Override::parse("raft.bugs=[\"x\"]").unwrap()];
        let error = ScenarioError {
            file: "f.toml".into(),
            line: Some(9),
            field: Some("raft.bugs".into()),
            message: "unknown bug".into(),
        };
        let blamed = blame(error, &o, "", "");
        assert_eq!(blamed.line, None);
        assert!(blamed
            .message
            .ends_with("(this value came from --set raft.bugs=[\"x\"])"));
        let other = ScenarioError {
            file: "f.toml".into(),
            line: Some(1),
            field: Some("duration".into()),
            message: "bad".into(),
        };
        let kept = blame(other, &o, "a\n", "a\n");
        assert_eq!(kept.line, Some(1));
        assert_eq!(kept.message, "bad");
    }
}
