//! Readable, bounded [`crate::Node::debug_state`] views for the built-in
//! models (what `faultlab replay --state` prints): `Type { field: value }`
//! as a derived `Debug` would write it, but without the parameters every
//! node of a model shares, and with long collections cut to [`KEEP`] items
//! and long strings to [`KEEP_CHARS`] characters, so that a view stays a
//! line however long the run.

use std::fmt;

/// The most items of a collection a view shows.
pub const KEEP: usize = 20;

/// The most characters of a string a view shows.
pub const KEEP_CHARS: usize = 40;

/// Text written as it is by `Debug` (a pre-formatted part of a view).
pub struct Shown(pub String);

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `name { field: value, ... }` with each value's `Debug`.
pub fn state(name: &str, fields: &[(&str, &dyn fmt::Debug)]) -> Option<String> {
    struct View<'a>(&'a str, &'a [(&'a str, &'a dyn fmt::Debug)]);
    impl fmt::Debug for View<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut s = f.debug_struct(self.0);
            for (key, value) in self.1 {
                s.field(key, value);
            }
            s.finish()
        }
    }
    Some(format!("{:?}", View(name, fields)))
}

/// The first [`KEEP`] items: `[a, b, ..N more]`.
pub fn first<T: fmt::Debug>(items: impl IntoIterator<Item = T>) -> Shown {
    let mut shown = Vec::new();
    let mut more = 0usize;
    for item in items {
        if shown.len() < KEEP {
            shown.push(format!("{item:?}"));
        } else {
            more += 1;
        }
    }
    if more > 0 {
        shown.push(format!("..{more} more"));
    }
    Shown(format!("[{}]", shown.join(", ")))
}

/// The last `keep` items: `[..N earlier, y, z]`.
pub fn last<T: fmt::Debug>(items: &[T], keep: usize) -> Shown {
    let earlier = items.len().saturating_sub(keep);
    let mut shown: Vec<String> = items[earlier..].iter().map(|i| format!("{i:?}")).collect();
    if earlier > 0 {
        shown.insert(0, format!("..{earlier} earlier"));
    }
    Shown(format!("[{}]", shown.join(", ")))
}

/// A string cut to [`KEEP_CHARS`] characters: `"abc.."(N chars)`.
pub fn text(s: &str) -> Shown {
    let count = s.chars().count();
    if count <= KEEP_CHARS {
        return Shown(format!("{s:?}"));
    }
    let head: String = s.chars().take(KEEP_CHARS).collect();
    Shown(format!("{head:?}..({count} chars)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_collections_and_strings_are_cut() {
        let items: Vec<u32> = (0..25).collect();
        assert_eq!(
            first(&items).0,
            format!(
                "[{}, ..5 more]",
                (0..20)
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        );
        assert_eq!(
            last(&items, KEEP).0,
            format!(
                "[..5 earlier, {}]",
                (5..25)
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        );
        assert_eq!(first([1, 2]).0, "[1, 2]");
        assert_eq!(last::<u8>(&[], 3).0, "[]");
        assert_eq!(text("ab").0, "\"ab\"");
        let long = "x".repeat(50);
        assert_eq!(text(&long).0, format!("{:?}..(50 chars)", "x".repeat(40)));
        assert_eq!(
            state("Node", &[("term", &3), ("log", &first([1]))]).unwrap(),
            "Node { term: 3, log: [1] }"
        );
    }
}
