//! The shrinker's scenario file: the original file's TOML table, with its
//! faults replaced by an explicit list.
//!
//! Every section of the original is kept (the model's table, nodes,
//! network, clocks, noise, checks, limits, metrics) except `[chaos]`,
//! whose faults are in the list now. `seed` becomes the shrunk seed,
//! `expect` the violation, and `[liveness]` is written out with the bound
//! the original had (if a liveness check judges it), so that dropping
//! faults does not move it. A
//! [`Candidate`] says what the shrinker changed: the faults, the duration,
//! the number of clients and keys. The file is the serialised table, in
//! reading order (what it is, the model's table, the sections, the faults
//! last), so the original's comments and layout are not kept.

use super::toml::{duration_text, fault_to_toml};
use crate::check::LivenessBound;
use crate::fault::TimedFault;
use crate::time::{SimDuration, SimTime};
use toml::{Table, Value};

/// What a shrinking step may change in the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The faults, in time order (ties: as listed).
    pub faults: Vec<TimedFault>,
    /// The run's duration.
    pub duration: SimDuration,
    /// `[workload] clients`, if the file has a workload.
    pub clients: Option<u32>,
    /// `[workload] keys`, if the file gives it.
    pub keys: Option<u32>,
}

impl Candidate {
    /// Puts the faults back in time order, keeping the order of ties.
    pub fn sort(&mut self) {
        self.faults.sort_by_key(|f| f.at);
    }

    /// The end of the run.
    pub fn end(&self) -> SimTime {
        SimTime::ZERO + self.duration
    }
}

/// The original file's table, ready to take candidates.
#[derive(Clone, Debug)]
pub struct Base {
    table: Table,
    names: Vec<String>,
}

impl Base {
    /// The table of the original `text`, for `seed` and the violation
    /// `expect`; `liveness` is the original's bound if a liveness check
    /// judges it (then written out, so that it stays where it was);
    /// `names` its node names.
    pub fn new(
        text: &str,
        seed: u64,
        expect: &str,
        liveness: Option<LivenessBound>,
        names: Vec<String>,
    ) -> Result<Base, String> {
        let mut table: Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
        table.remove("chaos");
        table.remove("faults");
        match i64::try_from(seed) {
            Ok(seed) => table.insert("seed".into(), Value::Integer(seed)),
            Err(_) => table.remove("seed"),
        };
        table.insert("expect".into(), Value::String(expect.into()));
        if let Some(liveness) = liveness {
            let mut section = Table::new();
            let after = SimDuration(liveness.after.as_nanos());
            section.insert("after".into(), Value::String(duration_text(after)));
            section.insert(
                "within".into(),
                Value::String(duration_text(liveness.within)),
            );
            table.insert("liveness".into(), Value::Table(section));
        }
        Ok(Base { table, names })
    }

    /// `[workload] clients` and `keys` as the original gives them.
    pub fn workload(&self) -> (Option<u32>, Option<u32>) {
        let workload = self.table.get("workload").and_then(Value::as_table);
        let get = |key: &str| {
            workload
                .and_then(|w| w.get(key))
                .and_then(Value::as_integer)
                .and_then(|n| u32::try_from(n).ok())
        };
        (get("clients"), get("keys"))
    }

    /// The scenario file of `candidate`, with `description` (if given).
    pub fn render(&self, candidate: &Candidate, description: Option<&str>) -> String {
        let mut table = self.table.clone();
        if let Some(description) = description {
            table.insert("description".into(), Value::String(description.into()));
        }
        table.insert(
            "duration".into(),
            Value::String(duration_text(candidate.duration)),
        );
        if let Some(Value::Table(workload)) = table.get_mut("workload") {
            if let Some(clients) = candidate.clients {
                workload.insert("clients".into(), Value::Integer(i64::from(clients)));
            }
            if let Some(keys) = candidate.keys {
                workload.insert("keys".into(), Value::Integer(i64::from(keys)));
            }
        }
        if !candidate.faults.is_empty() {
            let faults = candidate
                .faults
                .iter()
                .map(|f| Value::Table(fault_to_toml(f.at, &f.fault, &self.names)))
                .collect();
            table.insert("faults".into(), Value::Array(faults));
        }
        in_reading_order(table)
    }
}

/// The top-level keys written first, in this order (plain values).
const HEAD: [&str; 6] = [
    "description",
    "expect",
    "model",
    "seed",
    "duration",
    "checks",
];

/// The sections written after the model's table, in this order.
const SECTIONS: [&str; 10] = [
    "workload", "nodes", "network", "clocks", "noise", "liveness", "limits", "metrics", "steps",
    "faults",
];

/// `table` as TOML, its keys in the order a reader expects: [`HEAD`], the
/// model's table (any other key), then [`SECTIONS`], the faults last.
/// Each key is serialised alone and the parts joined: plain values first,
/// so the joined text is one valid document.
fn in_reading_order(mut table: Table) -> String {
    let mut parts: Vec<(String, Value)> = Vec::new();
    for key in HEAD {
        parts.extend(table.remove(key).map(|v| (key.to_string(), v)));
    }
    let sections: Vec<(String, Value)> = SECTIONS
        .iter()
        .filter_map(|key| table.remove(*key).map(|v| (key.to_string(), v)))
        .collect();
    parts.extend(std::mem::take(&mut table));
    parts.extend(sections);
    let mut text = String::new();
    for (key, value) in parts {
        let plain = !matches!(value, Value::Table(_) | Value::Array(_))
            || matches!(&value, Value::Array(a) if !a.iter().any(Value::is_table));
        let mut one = Table::new();
        one.insert(key, value);
        if !plain && !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&toml::to_string(&one).expect("a TOML table serialises"));
    }
    text
}
