//! Errors in scenario files: the file, the line, the field, and what was expected.
//!
//! Display: `scenarios/x.toml:12: field 'faults[2].node': names node 'n4'; this scenario has n1..n3`.

use std::fmt;
use std::ops::Range;

/// A mistake in a scenario file (or a file that cannot be read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line, if known.
    pub line: Option<usize>,
    /// The field path, e.g. `faults[2].node`, if known.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            if !field.is_empty() && field != "." {
                write!(f, "field '{field}': ")?;
            }
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Turns byte offsets into 1-based line numbers.
#[derive(Clone, Debug)]
pub struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    /// Indexes the line starts of `text`.
    pub fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { starts }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// The line of the start of a span.
    pub fn line_of_span(&self, span: &Range<usize>) -> usize {
        self.line_of(span.start)
    }
}
