//! Famous mistakes a model can be run with: a model's table takes
//! `bugs = ["name", ...]` (empty by default), each a documented one-line
//! deviation from the correct protocol, implemented where the correct rule
//! lives (`if self.bugs.has("decision_before_sync") { ... }` next to the
//! sync, with a comment naming the rule it breaks).

use crate::model::ParamError;

/// One mistake a model knows: its name in `bugs = [...]` and what goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BugInfo {
    /// The name a scenario writes, e.g. `"decision_before_sync"`.
    pub name: &'static str,
    /// One line on the rule it breaks and what goes wrong.
    pub about: &'static str,
}

/// The mistakes a run has switched on (a subset of a model's [`BugInfo`]s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bugs {
    known: &'static [BugInfo],
    on: u64,
}

impl Bugs {
    /// No mistakes.
    pub fn none() -> Bugs {
        Bugs::default()
    }

    /// Reads the table's `bugs` list against the mistakes the model knows;
    /// an unknown or repeated name is an error on the `bugs` key naming the
    /// known ones.
    pub fn parse(names: &[String], known: &'static [BugInfo]) -> Result<Bugs, ParamError> {
        debug_assert!(known.len() <= 64, "at most 64 bugs per model");
        let mut on = 0u64;
        for name in names {
            let Some(i) = known.iter().position(|b| b.name == name) else {
                let list: Vec<String> = known.iter().map(|b| format!("\"{}\"", b.name)).collect();
                let expected = if list.is_empty() {
                    "this model has no bugs to switch on".to_string()
                } else {
                    format!("expected one of {}", list.join(", "))
                };
                return Err(ParamError::at(
                    "bugs",
                    format!("unknown bug '{name}'; {expected}"),
                ));
            };
            if on & (1 << i) != 0 {
                return Err(ParamError::at("bugs", format!("'{name}' is listed twice")));
            }
            on |= 1 << i;
        }
        Ok(Bugs { known, on })
    }

    /// True if the mistake `name` is switched on. `name` must be one the
    /// model knows (a misspelling is a program error, caught in debug builds).
    pub fn has(&self, name: &str) -> bool {
        match self.known.iter().position(|b| b.name == name) {
            Some(i) => self.on & (1 << i) != 0,
            None => {
                debug_assert!(self.on == 0, "'{name}' is not a known bug");
                false
            }
        }
    }

    /// The names switched on, in the model's order.
    pub fn names(&self) -> Vec<&'static str> {
        self.known
            .iter()
            .enumerate()
            .filter(|(i, _)| self.on & (1 << i) != 0)
            .map(|(_, b)| b.name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[BugInfo] = &[
        BugInfo {
            name: "a",
            about: "first",
        },
        BugInfo {
            name: "b",
            about: "second",
        },
    ];

    #[test]
    fn parses_known_names_and_rejects_others() {
        let bugs = Bugs::parse(&["b".into()], KNOWN).unwrap();
        assert!(bugs.has("b") && !bugs.has("a"));
        assert_eq!(bugs.names(), vec!["b"]);
        let err = Bugs::parse(&["c".into()], KNOWN).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("bugs"));
        assert!(err
            .message
            .contains("unknown bug 'c'; expected one of \"a\", \"b\""));
        assert!(Bugs::parse(&["a".into(), "a".into()], KNOWN)
            .unwrap_err()
            .message
            .contains("twice"));
        assert!(!Bugs::none().has("a"));
    }
}
