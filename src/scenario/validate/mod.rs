//! From [`ScenarioFile`] to [`Scenario`]: every semantic rule, each error
//! with its line and field.

mod faults;
mod steps;

use super::file::*;
use super::script::{self, Step, StepAction};
use super::{Lines, Scenario, ScenarioError};
use crate::check::service::MetricsConfig;
use crate::check::{self, LivenessBound};
use crate::clock::{Clock, MAX_DRIFT_PPM};
use crate::engine::{Limits, Noise};
use crate::fault::chaos::{ChaosAim, ChaosConfig, SWARM_SCALE};
use crate::fault::points::{FaultPointsConfig, PointKind};
use crate::fault::{PlannedFault, Target};
use crate::model::{Configured, Layout, ParamError};
use crate::models::workload::Workload;
use crate::net::{Latency, LinkSpec, Ordering, Topology};
use crate::node::NodeId;
use crate::registry::{CheckDef, Entry, Registry};
use crate::rng::Probability;
use crate::time::{SimDuration, SimTime, MAX_SCENARIO_DURATION};
use std::ops::Range;
use std::sync::Arc;
use toml::de::{DeTable, DeValue};

/// The most nodes a scenario may have, servers and clients together. The
/// network keeps a table of every ordered pair, so memory grows with the
/// square: 1000 nodes take about 130 MB.
pub const MAX_NODES: usize = 1000;
use toml::Spanned;

/// Where errors point: the file and its lines.
struct Source<'a> {
    file: &'a str,
    lines: Lines,
}

impl Source<'_> {
    fn error(
        &self,
        span: Option<Range<usize>>,
        field: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: span.map(|s| self.lines.line_of_span(&s)),
            field: (!field.is_empty()).then(|| field.to_string()),
            message: message.into(),
        }
    }

    fn at<T>(
        &self,
        spanned: &Spanned<T>,
        field: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.error(Some(spanned.span()), field, message)
    }
}

pub(super) fn parse(
    text: &str,
    file: &str,
    registry: &Registry,
) -> Result<Scenario, ScenarioError> {
    let src = Source {
        file,
        lines: Lines::new(text),
    };
    let (raw, chosen) = deserialize(text, registry, &src)?;
    build(raw, chosen, registry, &src)
}

/// The model's entry, where the file names it, and its `[<name>]` table if
/// the file has one.
struct ChosenModel<'a> {
    entry: Arc<dyn Entry>,
    model_span: Range<usize>,
    table: Option<Spanned<DeValue<'a>>>,
}

/// Reads the file: the model's own table is taken out (each model reads its
/// own, see [`ModelTable`]); the rest is a [`ScenarioFile`].
fn deserialize<'a>(
    text: &'a str,
    registry: &Registry,
    src: &Source<'_>,
) -> Result<(ScenarioFile, Option<ChosenModel<'a>>), ScenarioError> {
    let root = DeTable::parse(text).map_err(|e| {
        src.error(
            e.span(),
            "",
            format!("not valid TOML: {}", e.message().trim()),
        )
    })?;
    let span = root.span();
    let mut root = root.into_inner();
    // The model, if named: an unknown one is the first thing to say.
    let mut chosen = match root.get("model") {
        Some(spanned) => match spanned.get_ref() {
            DeValue::String(name) => match registry.model(name) {
                Some(entry) => Some(ChosenModel {
                    entry: Arc::clone(entry),
                    model_span: spanned.span(),
                    table: None,
                }),
                None => {
                    return Err(src.error(
                        Some(spanned.span()),
                        "model",
                        format!(
                            "unknown model '{name}'; expected one of {}",
                            registry.model_names().join(", ")
                        ),
                    ))
                }
            },
            _ => None, // serde names the wrong type below
        },
        None => None,
    };
    for name in registry.model_names() {
        let Some((key, value)) = root.remove_entry(name) else {
            continue;
        };
        match &mut chosen {
            Some(model) if model.entry.name() == name => model.table = Some(value),
            Some(model) => {
                return Err(src.error(
                    Some(key.span()),
                    name,
                    format!(
                        "[{name}] holds the parameters of model '{name}', but this scenario's model is '{}'; remove the table or set model = \"{name}\"",
                        model.entry.name()
                    ),
                ));
            }
            // Without a model, serde says so below.
            None => {}
        }
    }
    let de = toml::de::Deserializer::from(Spanned::new(span, root));
    let raw: ScenarioFile =
        serde_path_to_error::deserialize(de).map_err(|e| serde_error(e, "", src))?;
    Ok((raw, chosen))
}

/// A serde error as a scenario error; `prefix` is the table the value was
/// read from (e.g. `"raft"`), or empty for the file.
fn serde_error(
    e: serde_path_to_error::Error<toml::de::Error>,
    prefix: &str,
    src: &Source<'_>,
) -> ScenarioError {
    let mut field = join_field(prefix, &field_path(e.path()));
    let inner = e.into_inner();
    let message = inner.message().trim();
    // "missing field `x`" is reported at the table; name the key itself.
    if let Some(key) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        field = join_field(&field, key);
    }
    src.error(inner.span(), &field, explain_serde(message))
}

fn join_field(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}.{b}"),
    }
}

/// A model's `[<name>]` table, for the model to read its parameters from
/// with the same errors (file, line, field) as the rest of the file.
pub(crate) struct ModelTable<'a> {
    name: &'static str,
    /// The table, or `None` if the file has none.
    value: Option<Spanned<DeValue<'a>>>,
    /// Where the file says `model = ...`.
    model_span: Range<usize>,
    src: &'a Source<'a>,
}

impl ModelTable<'_> {
    /// The table as `T` (an absent table reads as an empty one).
    pub(crate) fn read<T: serde::de::DeserializeOwned>(&self) -> Result<T, ScenarioError> {
        let name = self.name;
        match &self.value {
            Some(value) => {
                let de = toml::de::ValueDeserializer::from(value.clone());
                serde_path_to_error::deserialize(de).map_err(|e| serde_error(e, name, self.src))
            }
            None => {
                let empty = Spanned::new(self.model_span.clone(), DeValue::Table(DeTable::new()));
                let de = toml::de::ValueDeserializer::from(empty);
                serde_path_to_error::deserialize(de).map_err(
                    |e: serde_path_to_error::Error<toml::de::Error>| {
                        let why = explain_serde(e.into_inner().message().trim());
                        self.src.error(
                            Some(self.model_span.clone()),
                            name,
                            format!("model \"{name}\" needs a [{name}] table ({why})"),
                        )
                    },
                )
            }
        }
    }

    /// A model's own error, at its key's line (or the table's).
    pub(crate) fn param_error(&self, e: ParamError) -> ScenarioError {
        let table_span = self
            .value
            .as_ref()
            .map_or(self.model_span.clone(), |v| v.span());
        let key_span = match (&e.key, self.value.as_ref().map(|v| v.get_ref())) {
            (Some(key), Some(DeValue::Table(table))) => table.get(key.as_str()).map(|v| v.span()),
            _ => None,
        };
        let field = match &e.key {
            Some(key) => format!("{}.{key}", self.name),
            None => self.name.to_string(),
        };
        self.src
            .error(Some(key_span.unwrap_or(table_span)), &field, e.message)
    }
}

/// The path as a user writes it: `faults[0].node`, without the private keys
/// through which `toml::Spanned` deserializes its value.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if key.starts_with("$__serde_spanned_private") => {}
            other => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&other.to_string());
            }
        }
    }
    out
}

/// Rewords serde's messages a little for people who write TOML.
fn explain_serde(message: &str) -> String {
    let message = message.replace("invalid type: ", "wrong type: found ");
    if let Some(rest) = message.strip_prefix("unknown field ") {
        return format!("unknown key {rest}");
    }
    message
}

fn build(
    raw: ScenarioFile,
    chosen: Option<ChosenModel<'_>>,
    registry: &Registry,
    src: &Source<'_>,
) -> Result<Scenario, ScenarioError> {
    let chosen = chosen.expect("a file that deserialized names a registered model");
    let entry = &chosen.entry;
    let duration = *raw.duration.get_ref();
    if duration == SimDuration::ZERO {
        return Err(src.at(
            &raw.duration,
            "duration",
            "the run must last longer than 0; expected e.g. \"10s\"",
        ));
    }
    let mut names = node_names(&raw.nodes, src)?;
    let servers = names.len();
    let needs = entry.servers();
    if servers < needs.min {
        return Err(src.at(
            &raw.nodes,
            "nodes",
            format!(
                "the {} model needs at least {} nodes ({}); this scenario has {servers}",
                entry.name(),
                needs.min,
                needs.roles
            ),
        ));
    }
    let workload = if entry.uses_workload() {
        Some(workload(&raw, src)?)
    } else {
        None
    };
    if let Some(workload) = &workload {
        let total = servers + workload.clients as usize;
        if total > MAX_NODES {
            let clients = raw.workload.as_ref().expect("a workload was read");
            return Err(src.at(
                &clients.get_ref().clients,
                "workload.clients",
                format!("{servers} servers and {} clients make {total} nodes; expected at most {MAX_NODES} in all", workload.clients),
            ));
        }
        for i in 1..=workload.clients {
            let name = format!("c{i}");
            if names.contains(&name) {
                return Err(src.at(
                    &raw.nodes,
                    "nodes.names",
                    format!("'{name}' is the name of a client; choose other server names"),
                ));
            }
            names.push(name);
        }
    }
    let table = ModelTable {
        name: entry.name(),
        value: chosen.table,
        model_span: chosen.model_span,
        src,
    };
    let layout = Layout { servers, workload };
    debug_assert_eq!(
        layout.servers + workload.map_or(0, |w| w.clients as usize),
        names.len()
    );
    let model = entry.configure(&table, layout)?;
    let peers = peers_of(servers, names.len());
    let topology = topology(&raw, &names, src)?;
    let clocks = clocks(&raw, &names, src)?;
    let (roles, knobs) = (entry.roles(), entry.knobs());
    let faults = faults::faults(&raw, &names, servers, roles, knobs, duration, src)?;
    let steps = steps::steps(&raw, &names, servers, roles, knobs, duration, src)?;
    let chaos = chaos(&raw, duration, servers, names.len(), roles, src)?;
    let check_defs = checks(&raw, entry.as_ref(), registry, src)?;
    let liveness = liveness(
        &raw,
        model.as_ref(),
        &check_defs,
        faults_end(&faults, &steps, chaos.as_ref()),
        duration,
        src,
    )?;
    let metrics = metrics(&raw, duration, &check_defs, liveness, src)?;
    let expect = expectation(&raw, &check_defs, &steps, src)?;
    let noise = noise(&raw.noise, src)?;
    let defaults = Limits::default();
    let limits = Limits {
        max_events: raw.limits.max_events.unwrap_or(defaults.max_events),
        max_queue: raw.limits.max_queue.unwrap_or(defaults.max_queue),
    };
    let linearizability_memory = match &raw.limits.linearizability_memory {
        None => crate::check::linearizability::DEFAULT_MAX_MEMORY,
        Some(text) => crate::check::linearizability::parse_bytes(text.get_ref())
            .map_err(|e| src.at(text, "limits.linearizability_memory", e))?,
    };
    Ok(Scenario {
        file: src.file.to_string(),
        description: raw.description.unwrap_or_default().trim().to_string(),
        expect,
        model,
        workload,
        duration,
        default_seed: raw.seed.unwrap_or(0),
        names,
        servers,
        peers,
        topology,
        clocks,
        faults,
        chaos,
        steps,
        checks: check_defs.iter().map(|c| c.info.name.to_string()).collect(),
        check_defs,
        liveness,
        limits,
        noise,
        linearizability_memory,
        metrics,
    })
}

/// The most time-series rows a scenario may ask for with `[metrics] interval`.
const MAX_ROWS: u64 = crate::check::service::MAX_ROWS;

/// `[metrics]`: positive durations, whole windows, shares in (0, 1], at
/// most [`MAX_ROWS`] rows; and a window that fits the liveness phase when
/// `recovers` runs.
fn metrics(
    raw: &ScenarioFile,
    duration: SimDuration,
    checks: &[CheckDef],
    liveness: LivenessBound,
    src: &Source<'_>,
) -> Result<MetricsConfig, ScenarioError> {
    let defaults = MetricsConfig::default();
    let empty = MetricsSection {
        interval: None,
        window: None,
        slo: None,
        recover_to: None,
    };
    let section = raw.metrics.as_ref().map_or(&empty, |m| m.get_ref());
    let positive = |d: &Spanned<SimDuration>, key: &str| {
        let value = *d.get_ref();
        if value == SimDuration::ZERO {
            return Err(src.at(
                d,
                &format!("metrics.{key}"),
                "must be longer than 0; expected e.g. \"100ms\"",
            ));
        }
        if value > duration {
            return Err(src.at(
                d,
                &format!("metrics.{key}"),
                format!("{value} is longer than the run (duration {duration})"),
            ));
        }
        Ok(value)
    };
    let interval = match &section.interval {
        None => defaults.interval,
        Some(i) => {
            let interval = positive(i, "interval")?;
            let rows = duration.as_nanos().div_ceil(interval.as_nanos());
            if rows > MAX_ROWS {
                return Err(src.at(
                    i,
                    "metrics.interval",
                    format!(
                        "{interval} makes {rows} time-series rows over {duration}; expected at most {MAX_ROWS} (an interval of at least {})",
                        SimDuration(duration.as_nanos().div_ceil(MAX_ROWS))
                    ),
                ));
            }
            interval
        }
    };
    let window = match &section.window {
        None => MetricsConfig::default_window(interval),
        Some(w) => {
            let window = positive(w, "window")?;
            if !window.as_nanos().is_multiple_of(interval.as_nanos()) {
                return Err(src.at(
                    w,
                    "metrics.window",
                    format!("{window} is not a whole number of intervals ({interval}); expected e.g. {}", MetricsConfig::default_window(interval)),
                ));
            }
            window
        }
    };
    let share = |value: &Option<Spanned<f64>>, key: &str, default: f64| match value {
        None => Ok(default),
        Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 1.0 => Ok(*v.get_ref()),
        Some(v) => Err(src.at(
            v,
            &format!("metrics.{key}"),
            format!(
                "{}; expected a share above 0 and at most 1, e.g. 0.9",
                v.get_ref()
            ),
        )),
    };
    let config = MetricsConfig {
        interval,
        window,
        slo: share(&section.slo, "slo", defaults.slo)?,
        recover_to: share(&section.recover_to, "recover_to", defaults.recover_to)?,
    };
    if checks.iter().any(|c| c.info.name == "recovers") {
        // The first window starts on the first multiple of the interval in
        // the liveness phase, and must end by its deadline.
        let i = interval.as_nanos();
        let first = SimTime(liveness.after.as_nanos().div_ceil(i).saturating_mul(i));
        let due = liveness.after.saturating_add(liveness.within);
        if first.saturating_add(window) > due {
            let message = format!(
                "recovers judges windows of {window} starting on a multiple of the interval ({interval}); the first after the liveness phase begins at {} ends at {}, after the deadline {due} ([liveness] within {}); shorten the window or lengthen within",
                liveness.after,
                first.saturating_add(window),
                liveness.within
            );
            return Err(match (&section.window, &raw.metrics) {
                (Some(w), _) => src.at(w, "metrics.window", message),
                (None, Some(m)) => src.at(m, "metrics.window", message),
                (None, None) => src.at(&raw.model, "metrics.window", message),
            });
        }
    }
    Ok(config)
}

/// `[noise]`: each knob a latency distribution.
fn noise(section: &NoiseSection, src: &Source<'_>) -> Result<Noise, ScenarioError> {
    let knob = |value: &Option<Spanned<LatencySection>>, key: &str| {
        value
            .as_ref()
            .map(|l| latency_of(l, &format!("noise.{key}"), src))
            .transpose()
    };
    Ok(Noise {
        timer_jitter: knob(&section.timer_jitter, "timer_jitter")?,
        processing: knob(&section.processing, "processing")?,
        sync: knob(&section.sync, "sync")?,
    })
}

fn node_names(
    nodes: &Spanned<NodesSection>,
    src: &Source<'_>,
) -> Result<Vec<String>, ScenarioError> {
    let section = nodes.get_ref();
    let names: Vec<String> = match (&section.count, &section.names) {
        (Some(_), Some(names)) => {
            return Err(src.at(
                names,
                "nodes.names",
                "give either nodes.count or nodes.names, not both",
            ))
        }
        (None, None) => {
            return Err(src.at(
                nodes,
                "nodes",
                "expected nodes.count (e.g. 5) or nodes.names (e.g. [\"a\", \"b\"])",
            ))
        }
        (Some(count), None) => {
            let n = *count.get_ref();
            if !(1..=MAX_NODES).contains(&(n as usize)) {
                return Err(src.at(
                    count,
                    "nodes.count",
                    format!("{n} nodes; expected 1 to {MAX_NODES}"),
                ));
            }
            (1..=n).map(|i| format!("n{i}")).collect()
        }
        (None, Some(list)) => {
            let names = list.get_ref().clone();
            if names.is_empty() {
                return Err(src.at(list, "nodes.names", "expected at least one node name"));
            }
            if names.len() > MAX_NODES {
                return Err(src.at(
                    list,
                    "nodes.names",
                    format!("{} names; expected 1 to {MAX_NODES}", names.len()),
                ));
            }
            for (i, name) in names.iter().enumerate() {
                if name.is_empty() || name.contains(char::is_whitespace) {
                    return Err(src.at(list, &format!("nodes.names[{i}]"), format!("'{name}' is not a usable node name; expected a non-empty name without spaces")));
                }
                if names[..i].contains(name) {
                    return Err(src.at(
                        list,
                        &format!("nodes.names[{i}]"),
                        format!("node '{name}' is named twice"),
                    ));
                }
            }
            names
        }
    };
    Ok(names)
}

fn node_id(
    names: &[String],
    name: &str,
    spanned_at: Range<usize>,
    field: &str,
    src: &Source<'_>,
) -> Result<NodeId, ScenarioError> {
    names
        .iter()
        .position(|n| n == name)
        .map(|i| NodeId(i as u32))
        .ok_or_else(|| {
            src.error(
                Some(spanned_at),
                field,
                format!(
                    "names node '{name}'; this scenario has {}",
                    describe_names(names)
                ),
            )
        })
}

fn describe_names(names: &[String]) -> String {
    let numbered = names
        .iter()
        .enumerate()
        .all(|(i, n)| *n == format!("n{}", i + 1));
    if numbered && names.len() > 2 {
        format!("n1..n{}", names.len())
    } else {
        names.join(", ")
    }
}

/// Servers see the other servers; clients see the servers.
fn peers_of(servers: usize, total: usize) -> Vec<Vec<NodeId>> {
    let server_ids: Vec<NodeId> = (0..servers as u32).map(NodeId).collect();
    (0..total)
        .map(|i| {
            let me = NodeId(i as u32);
            server_ids.iter().copied().filter(|s| *s != me).collect()
        })
        .collect()
}

fn workload(raw: &ScenarioFile, src: &Source<'_>) -> Result<Workload, ScenarioError> {
    let Some(section) = &raw.workload else {
        return Err(src.at(
            &raw.model,
            "workload",
            format!(
                "model \"{}\" needs a [workload] table with clients and timeout",
                raw.model.get_ref()
            ),
        ));
    };
    let w = section.get_ref();
    let clients = *w.clients.get_ref();
    if !(1..=1000).contains(&clients) {
        return Err(src.at(
            &w.clients,
            "workload.clients",
            format!("{clients} clients; expected 1 to 1000"),
        ));
    }
    let [think_min, think_max] = match &w.think {
        Some(t) if t.get_ref()[0] > t.get_ref()[1] => {
            return Err(src.at(
                t,
                "workload.think",
                "[shortest, longest] with shortest first",
            ))
        }
        Some(t) => *t.get_ref(),
        None => [SimDuration::ZERO, SimDuration::from_millis(10)],
    };
    let timeout = *w.timeout.get_ref();
    if timeout == SimDuration::ZERO {
        return Err(src.at(&w.timeout, "workload.timeout", "must be longer than 0"));
    }
    let read_ppm = match &w.read_fraction {
        Some(f) => {
            let p = *f.get_ref();
            if !(0.0..=1.0).contains(&p) {
                return Err(src.at(
                    f,
                    "workload.read_fraction",
                    format!("{p}; expected a number from 0 to 1"),
                ));
            }
            (p * 1_000_000.0).round() as u32
        }
        None => 500_000,
    };
    let keys = match &w.keys {
        Some(k) if !(1..=1000).contains(k.get_ref()) => {
            return Err(src.at(
                k,
                "workload.keys",
                format!("{} keys; expected 1 to 1000", k.get_ref()),
            ))
        }
        Some(k) => *k.get_ref(),
        None => 3,
    };
    Ok(Workload {
        clients,
        think_min,
        think_max,
        timeout,
        read_ppm,
        keys,
    })
}

fn probability(
    value: &Spanned<f64>,
    field: &str,
    src: &Source<'_>,
) -> Result<Probability, ScenarioError> {
    Probability::from_f64(*value.get_ref()).map_err(|e| src.at(value, field, e))
}

fn link_spec(
    section: &NetworkSection,
    base: &LinkSpec,
    prefix: &str,
    src: &Source<'_>,
) -> Result<LinkSpec, ScenarioError> {
    let mut spec = base.clone();
    if let Some(latency) = &section.latency {
        spec.latency = latency_of(latency, &format!("{prefix}.latency"), src)?;
    }
    if let Some(loss) = &section.loss {
        spec.loss = probability(loss, &format!("{prefix}.loss"), src)?;
    }
    if let Some(dup) = &section.duplicate {
        spec.duplicate = probability(dup, &format!("{prefix}.duplicate"), src)?;
    }
    if let Some(ordering) = &section.ordering {
        spec.ordering = match ordering.get_ref().as_str() {
            "fifo" => Ordering::Fifo,
            "any" => Ordering::Any,
            other => {
                return Err(src.at(
                    ordering,
                    &format!("{prefix}.ordering"),
                    format!("'{other}'; expected \"fifo\" or \"any\""),
                ))
            }
        };
    }
    Ok(spec)
}

fn latency_of(
    spanned: &Spanned<LatencySection>,
    field: &str,
    src: &Source<'_>,
) -> Result<Latency, ScenarioError> {
    let l = spanned.get_ref();
    let need = |value: Option<SimDuration>, key: &str| {
        value.ok_or_else(|| {
            src.at(
                spanned,
                &format!("{field}.{key}"),
                format!("latency dist \"{}\" needs {key}", l.dist),
            )
        })
    };
    let given: Vec<&str> = [
        ("value", l.value.is_some()),
        ("min", l.min.is_some()),
        ("max", l.max.is_some()),
        ("mean", l.mean.is_some()),
        ("stddev", l.stddev.is_some()),
        ("slow_min", l.slow_min.is_some()),
        ("slow_max", l.slow_max.is_some()),
        ("slow_probability", l.slow_probability.is_some()),
    ]
    .into_iter()
    .filter(|(_, present)| *present)
    .map(|(k, _)| k)
    .collect();
    let allowed: &[&str] = match l.dist.as_str() {
        "constant" => &["value"],
        "uniform" => &["min", "max"],
        "normal" => &["mean", "stddev", "min"],
        "exponential" => &["mean", "min"],
        "bimodal" => &["min", "max", "slow_min", "slow_max", "slow_probability"],
        other => {
            return Err(src.at(spanned, &format!("{field}.dist"), format!("unknown distribution '{other}'; expected constant, uniform, normal, exponential or bimodal")))
        }
    };
    if let Some(extra) = given.iter().find(|k| !allowed.contains(k)) {
        return Err(src.at(
            spanned,
            &format!("{field}.{extra}"),
            format!(
                "does not apply to dist \"{}\"; it takes {}",
                l.dist,
                allowed.join(", ")
            ),
        ));
    }
    let ordered = |low: SimDuration, high: SimDuration, what: &str| {
        if low > high {
            Err(src.at(
                spanned,
                field,
                format!("{what}: minimum {low} is above maximum {high}"),
            ))
        } else {
            Ok(())
        }
    };
    Ok(match l.dist.as_str() {
        "constant" => Latency::Constant(need(l.value, "value")?),
        "uniform" => {
            let (min, max) = (need(l.min, "min")?, need(l.max, "max")?);
            ordered(min, max, "uniform")?;
            Latency::Uniform { min, max }
        }
        "normal" => Latency::Normal {
            mean: need(l.mean, "mean")?,
            stddev: need(l.stddev, "stddev")?,
            min: l.min.unwrap_or(SimDuration::ZERO),
        },
        "exponential" => Latency::Exponential {
            mean: need(l.mean, "mean")?,
            min: l.min.unwrap_or(SimDuration::ZERO),
        },
        _ => {
            let (min, max) = (need(l.min, "min")?, need(l.max, "max")?);
            let (slow_min, slow_max) =
                (need(l.slow_min, "slow_min")?, need(l.slow_max, "slow_max")?);
            ordered(min, max, "bimodal fast mode")?;
            ordered(slow_min, slow_max, "bimodal slow mode")?;
            let p = l.slow_probability.ok_or_else(|| {
                src.at(
                    spanned,
                    &format!("{field}.slow_probability"),
                    "latency dist \"bimodal\" needs slow_probability",
                )
            })?;
            let slow_probability = Probability::from_f64(p)
                .map_err(|e| src.at(spanned, &format!("{field}.slow_probability"), e))?;
            Latency::Bimodal {
                min,
                max,
                slow_min,
                slow_max,
                slow_probability,
            }
        }
    })
}

fn topology(
    raw: &ScenarioFile,
    names: &[String],
    src: &Source<'_>,
) -> Result<Topology, ScenarioError> {
    let intra = link_spec(&raw.network, &LinkSpec::default(), "network", src)?;
    let inter = match &raw.network.inter_zone {
        Some(section) => link_spec(section, &intra, "network.inter_zone", src)?,
        None => intra.clone(),
    };
    let zones = &raw.nodes.get_ref().zones;
    if zones.is_empty() {
        return Ok(Topology::zoned(&vec![0; names.len()], intra, inter));
    }
    // Zone 0 is "no zone"; named zones are 1.. in name order.
    let mut zone_of = vec![0usize; names.len()];
    for (z, (zone, members)) in zones.iter().enumerate() {
        for (i, member) in members.get_ref().iter().enumerate() {
            let field = format!("nodes.zones.{zone}[{i}]");
            let id = node_id(names, member.get_ref(), member.span(), &field, src)?;
            if zone_of[id.index()] != 0 {
                return Err(src.at(
                    member,
                    &field,
                    format!("node '{}' is in two zones", member.get_ref()),
                ));
            }
            zone_of[id.index()] = z + 1;
        }
    }
    Ok(Topology::zoned(&zone_of, intra, inter))
}

/// Parses `"-50ms"`, `"+2s"`, `"1.5s"` into signed nanoseconds.
fn signed_duration(
    text: &Spanned<String>,
    field: &str,
    src: &Source<'_>,
) -> Result<i64, ScenarioError> {
    let s = text.get_ref().trim();
    let (sign, rest) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let d = SimDuration::parse(rest).map_err(|e| {
        src.at(
            text,
            field,
            format!("{e}; a signed duration such as \"-50ms\" was expected"),
        )
    })?;
    if d > MAX_SCENARIO_DURATION {
        return Err(src.at(
            text,
            field,
            format!(
                "'{s}' is too large; expected -{MAX_SCENARIO_DURATION} to +{MAX_SCENARIO_DURATION} (100 days of simulated time)"
            ),
        ));
    }
    let ns = i64::try_from(d.as_nanos()).expect("at most MAX_SCENARIO_DURATION");
    Ok(sign * ns)
}

fn clocks(
    raw: &ScenarioFile,
    names: &[String],
    src: &Source<'_>,
) -> Result<Vec<Clock>, ScenarioError> {
    let mut clocks = vec![Clock::default(); names.len()];
    for (name, section) in &raw.clocks {
        let field = format!("clocks.{}", name.get_ref());
        let id = node_id(names, name.get_ref(), name.span(), &field, src)?;
        let offset = match &section.offset {
            Some(text) => signed_duration(text, &format!("{field}.offset"), src)?,
            None => 0,
        };
        let drift = match &section.drift_ppm {
            Some(d) if !(-MAX_DRIFT_PPM..=MAX_DRIFT_PPM).contains(d.get_ref()) => {
                return Err(src.at(
                    d,
                    &format!("{field}.drift_ppm"),
                    format!(
                        "{} ppm; expected -{MAX_DRIFT_PPM} to {MAX_DRIFT_PPM}",
                        d.get_ref()
                    ),
                ))
            }
            Some(d) => *d.get_ref(),
            None => 0,
        };
        clocks[id.index()] = Clock::new(offset, drift);
    }
    Ok(clocks)
}

/// Which optional fields each fault kind takes.
fn range(
    pair: Option<[SimDuration; 2]>,
    default: (SimDuration, SimDuration),
    field: &str,
    spanned: &Spanned<ChaosSection>,
    src: &Source<'_>,
) -> Result<(SimDuration, SimDuration), ScenarioError> {
    match pair {
        None => Ok(default),
        Some([low, high]) if low <= high => Ok((low, high)),
        Some([low, high]) => Err(src.at(
            spanned,
            field,
            format!("[{low}, {high}] is not a range; expected [shortest, longest]"),
        )),
    }
}

/// A limit on chaos: the expected number of faults of one kind in a run.
const MAX_CHAOS_FAULTS_PER_KIND: u64 = 100_000;

fn chaos(
    raw: &ScenarioFile,
    duration: SimDuration,
    servers: usize,
    nodes: usize,
    roles: &[&'static str],
    src: &Source<'_>,
) -> Result<Option<ChaosConfig>, ScenarioError> {
    let Some(spanned) = &raw.chaos else {
        return Ok(None);
    };
    let c = spanned.get_ref();
    let (mut servers_hit, mut clients_hit) = (c.targets.is_none(), false);
    if let Some(targets) = &c.targets {
        for t in targets.get_ref() {
            match t.as_str() {
                "servers" => servers_hit = true,
                "clients" => clients_hit = true,
                "all" => (servers_hit, clients_hit) = (true, true),
                other => {
                    return Err(src.at(
                        targets,
                        "chaos.targets",
                        format!(
                        "unknown target '{other}'; expected \"servers\", \"clients\" or \"all\""
                    ),
                    ))
                }
            }
        }
    }
    let victims: Vec<NodeId> = (0..nodes as u32)
        .map(NodeId)
        .filter(|n| {
            if n.index() < servers {
                servers_hit
            } else {
                clients_hit
            }
        })
        .collect();
    if victims.is_empty() {
        let field = "chaos.targets";
        let message =
            "names no node of this scenario (it has no clients); expected e.g. [\"servers\"]";
        return Err(match &c.targets {
            Some(targets) => src.at(targets, field, message),
            None => src.at(spanned, field, message),
        });
    }
    let victims = (victims.len() < nodes).then_some(victims);
    let until = *c.until.get_ref();
    if until > duration {
        return Err(src.at(
            &c.until,
            "chaos.until",
            format!("{until} is after the end of the run (duration {duration})"),
        ));
    }
    let quiet = ChaosConfig::quiet(SimTime::ZERO + until);
    let nonzero = |d: Option<SimDuration>, key: &str| {
        match d {
        Some(SimDuration::ZERO) => Err(src.at(
            spanned,
            &format!("chaos.{key}"),
            "a mean interval of 0 would mean infinitely many faults; expected e.g. \"5s\"",
        )),
        Some(every) if until.as_nanos() / every.as_nanos() > MAX_CHAOS_FAULTS_PER_KIND => Err(src
            .at(
                spanned,
                &format!("chaos.{key}"),
                format!(
                    "a mean interval of {every} until {until} would schedule about {} faults; \
                 expected at most {MAX_CHAOS_FAULTS_PER_KIND} of each kind (a longer interval)",
                    until.as_nanos() / every.as_nanos()
                ),
            )),
        // Swarm may shorten an interval by up to `SWARM_SCALE`.
        Some(every)
            if c.swarm == Some(true)
                && (until.as_nanos() as f64 * SWARM_SCALE / every.as_nanos() as f64)
                    > MAX_CHAOS_FAULTS_PER_KIND as f64 =>
        {
            Err(src.at(
                spanned,
                &format!("chaos.{key}"),
                format!(
                    "a mean interval of {every} until {until}, shortened up to {SWARM_SCALE}x by swarm, \
                 would schedule up to about {} faults; expected at most {MAX_CHAOS_FAULTS_PER_KIND} \
                 of each kind (a longer interval)",
                    (until.as_nanos() as f64 * SWARM_SCALE / every.as_nanos() as f64) as u64
                ),
            ))
        }
        other => Ok(other),
    }
    };
    let fault_points = fault_points(c, spanned, src)?;
    let aim = chaos_aim(c, servers, roles, src)?;
    Ok(Some(ChaosConfig {
        until: quiet.until,
        crash_every: nonzero(c.crash_every, "crash_every")?,
        downtime: range(c.downtime, quiet.downtime, "chaos.downtime", spanned, src)?,
        partition_every: nonzero(c.partition_every, "partition_every")?,
        partition_duration: range(
            c.partition_duration,
            quiet.partition_duration,
            "chaos.partition_duration",
            spanned,
            src,
        )?,
        pause_every: nonzero(c.pause_every, "pause_every")?,
        pause_duration: range(
            c.pause_duration,
            quiet.pause_duration,
            "chaos.pause_duration",
            spanned,
            src,
        )?,
        clock_jump_every: nonzero(c.clock_jump_every, "clock_jump_every")?,
        clock_jump_max: c.clock_jump_max.unwrap_or(quiet.clock_jump_max),
        loss_burst_every: nonzero(c.loss_burst_every, "loss_burst_every")?,
        loss_burst_probability: match &c.loss_burst_probability {
            Some(p) => probability(p, "chaos.loss_burst_probability", src)?,
            None => Probability::from_f64(0.5).expect("0.5 is a probability"),
        },
        loss_burst_duration: range(
            c.loss_burst_duration,
            quiet.loss_burst_duration,
            "chaos.loss_burst_duration",
            spanned,
            src,
        )?,
        victims,
        swarm: c.swarm.unwrap_or(false),
        fault_points,
        aim,
    }))
}

/// `[chaos] aim` (a target of the model's roles) and `aim_share` (default
/// 0.5; without `aim` an error: it would do nothing).
fn chaos_aim(
    c: &ChaosSection,
    servers: usize,
    roles: &[&'static str],
    src: &Source<'_>,
) -> Result<Option<ChaosAim>, ScenarioError> {
    let Some(aim) = &c.aim else {
        return match &c.aim_share {
            Some(share) => Err(src.at(
                share,
                "chaos.aim_share",
                "no aim to share; expected also e.g. aim = \"@leader\"",
            )),
            None => Ok(None),
        };
    };
    let all: Arc<[NodeId]> = (0..servers as u32).map(NodeId).collect();
    let text = aim.get_ref();
    let target = match Target::parse(text, roles, all) {
        Some(Ok(target)) => target,
        Some(Err(e)) => return Err(src.at(aim, "chaos.aim", e)),
        None => {
            return Err(src.at(
                aim,
                "chaos.aim",
                format!("'{text}' is not a target; expected a role such as \"@leader\" or \"@random:follower\""),
            ))
        }
    };
    let share = match &c.aim_share {
        Some(share) => {
            let p = probability(share, "chaos.aim_share", src)?;
            if p.is_zero() {
                return Err(src.at(
                    share,
                    "chaos.aim_share",
                    "0 would aim nothing; expected a probability above 0, e.g. 0.5 (or leave out aim)",
                ));
            }
            p
        }
        None => Probability::from_f64(0.5).expect("0.5 is a probability"),
    };
    Ok(Some(ChaosAim { target, share }))
}

/// The default downtime of a node crashed at a fault point.
const FAULT_POINT_DOWNTIME: (SimDuration, SimDuration) =
    (SimDuration::from_millis(1), SimDuration::from_millis(10));

/// `[chaos] fault_points` and their knobs; `None` if no point is named
/// (the knobs without points are an error: they would do nothing).
fn fault_points(
    c: &ChaosSection,
    spanned: &Spanned<ChaosSection>,
    src: &Source<'_>,
) -> Result<Option<FaultPointsConfig>, ScenarioError> {
    let Some(names) = &c.fault_points else {
        if let Some(p) = &c.fault_point_probability {
            return Err(src.at(
                p,
                "chaos.fault_point_probability",
                "no fault points to use it; expected also e.g. fault_points = [\"after_write\"]",
            ));
        }
        if c.fault_point_downtime.is_some() {
            return Err(src.at(
                spanned,
                "chaos.fault_point_downtime",
                "no fault points to use it; expected also e.g. fault_points = [\"after_write\"]",
            ));
        }
        return Ok(None);
    };
    let field = "chaos.fault_points";
    if names.get_ref().is_empty() {
        return Err(src.at(
            names,
            field,
            "an empty list; expected e.g. [\"after_write\", \"point\"] (or leave the key out)",
        ));
    }
    let mut kinds = Vec::new();
    for name in names.get_ref() {
        let kind = PointKind::parse(name).map_err(|e| src.at(names, field, e))?;
        if kinds.contains(&kind) {
            return Err(src.at(names, field, format!("'{name}' is named twice")));
        }
        kinds.push(kind);
    }
    let probability = match &c.fault_point_probability {
        None => (
            Probability::from_f64(0.01).expect("a probability"),
            Probability::from_f64(0.2).expect("a probability"),
        ),
        Some(value) => point_probability(value, src)?,
    };
    let downtime = range(
        c.fault_point_downtime,
        FAULT_POINT_DOWNTIME,
        "chaos.fault_point_downtime",
        spanned,
        src,
    )?;
    Ok(Some(FaultPointsConfig {
        kinds,
        probability,
        downtime,
    }))
}

/// `fault_point_probability`: `0.05`, or `[0.001, 0.1]` (drawn per seed,
/// log-uniformly: both ends above 0, the first below the second).
fn point_probability(
    value: &Spanned<toml::Value>,
    src: &Source<'_>,
) -> Result<(Probability, Probability), ScenarioError> {
    let field = "chaos.fault_point_probability";
    let number = |v: &toml::Value| match v {
        toml::Value::Float(f) => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        _ => None,
    };
    let expected = "expected a probability (e.g. 0.05) or a range [low, high] (e.g. [0.001, 0.1])";
    let one = |p: f64| Probability::from_f64(p).map_err(|e| src.at(value, field, e));
    match value.get_ref() {
        toml::Value::Array(items) => {
            let ends: Option<Vec<f64>> = items.iter().map(number).collect();
            match ends.as_deref() {
                Some(&[low, high]) => {
                    let (low, high) = (one(low)?, one(high)?);
                    if low.is_zero() || low >= high {
                        return Err(src.at(
                            value,
                            field,
                            format!(
                                "[{}, {}] is not a range for a log-uniform draw; expected [low, high] with 0 < low < high",
                                low.as_f64(),
                                high.as_f64()
                            ),
                        ));
                    }
                    Ok((low, high))
                }
                _ => Err(src.at(value, field, expected)),
            }
        }
        other => match number(other) {
            Some(p) => {
                let p = one(p)?;
                Ok((p, p))
            }
            None => Err(src.at(value, field, expected)),
        },
    }
}

fn checks(
    raw: &ScenarioFile,
    model: &dyn Entry,
    registry: &Registry,
    src: &Source<'_>,
) -> Result<Vec<CheckDef>, ScenarioError> {
    let offered = model.checks();
    let mut out: Vec<CheckDef> = Vec::new();
    let add = |out: &mut Vec<CheckDef>, name: &str| -> Result<(), ScenarioError> {
        if out.iter().any(|c| c.info.name == name) {
            return Ok(());
        }
        match registry.check(name) {
            Some(def) => {
                out.push(def.clone());
                Ok(())
            }
            None => Err(src.at(
                &raw.model,
                "model",
                format!(
                    "model '{}' offers check '{name}', which is not registered; bring it with Model::own_checks or register it with Registry::with_check",
                    model.name()
                ),
            )),
        }
    };
    let Some(list) = &raw.checks else {
        for name in offered.default.iter().chain(offered.always) {
            add(&mut out, name)?;
        }
        return Ok(out);
    };
    for (i, name) in list.iter().enumerate() {
        let field = format!("checks[{i}]");
        let n = name.get_ref().as_str();
        if registry.check(n).is_none() {
            let known: Vec<&str> = registry.checks().map(|c| c.info.name).collect();
            return Err(src.at(
                name,
                &field,
                format!("unknown check '{n}'; expected one of {}", known.join(", ")),
            ));
        }
        if !offered.supported.contains(&n) {
            return Err(src.at(
                name,
                &field,
                format!(
                    "check '{n}' does not apply to model '{}'; it supports {}",
                    model.name(),
                    offered.supported.join(", ")
                ),
            ));
        }
        if out.iter().any(|c| c.info.name == n) {
            return Err(src.at(name, &field, format!("check '{n}' is listed twice")));
        }
        add(&mut out, n)?;
    }
    for always in offered.always {
        add(&mut out, always)?;
    }
    Ok(out)
}

/// When the faults are over at the latest: the timed ones (and the pauses
/// and bursts they start), chaos, and the script's fault steps.
fn faults_end(faults: &[PlannedFault], steps: &[Step], chaos: Option<&ChaosConfig>) -> SimTime {
    // A script's faults come when its steps reach them: the last one at the
    // latest when every step before it took its longest.
    let script_end = steps
        .iter()
        .rposition(|s| matches!(s.action, StepAction::Fault(_)))
        .map(|last| SimTime::ZERO + script::max_length(&steps[..=last]));
    faults
        .iter()
        .map(|f| f.time.latest_known().saturating_add(f.fault.length()))
        .chain(chaos.map(|c| c.until))
        .chain(script_end)
        .max()
        .unwrap_or(SimTime::ZERO)
}

fn liveness(
    raw: &ScenarioFile,
    model: &dyn Configured,
    checks: &[CheckDef],
    last_fault: SimTime,
    duration: SimDuration,
    src: &Source<'_>,
) -> Result<LivenessBound, ScenarioError> {
    let wants_liveness = checks
        .iter()
        .any(|c| c.info.severity == check::Severity::Liveness);
    let (after, within, span) = match &raw.liveness {
        Some(section) => {
            let after = section
                .after
                .as_ref()
                .map(|a| SimTime::ZERO + *a.get_ref())
                .unwrap_or(last_fault);
            (
                after,
                section.within,
                section.after.as_ref().map(|a| a.span()),
            )
        }
        None => match model.default_liveness() {
            Some(within) => (last_fault, within, None),
            // Nothing judges liveness: the bound is never used.
            None if !wants_liveness => (last_fault, SimDuration::ZERO, None),
            None => {
                return Err(src.at(
                    &raw.model,
                    "liveness.within",
                    format!(
                        "model '{}' has no default liveness bound; a liveness check runs, so give [liveness] within = \"...\"",
                        model.name()
                    ),
                ))
            }
        },
    };
    let end = SimTime::ZERO + duration;
    let due = after.saturating_add(within);
    if wants_liveness && due > end {
        let message = format!(
            "the run ends at {end}, before the liveness bound ({} after the liveness phase begins at {after}, so {}); make duration at least that long",
            within, due
        );
        return Err(match span {
            Some(span) => src.error(Some(span), "liveness.after", message),
            None => src.at(&raw.duration, "duration", message),
        });
    }
    Ok(LivenessBound { after, within })
}

fn expectation(
    raw: &ScenarioFile,
    checks: &[CheckDef],
    steps: &[Step],
    src: &Source<'_>,
) -> Result<String, ScenarioError> {
    let Some(expect) = &raw.expect else {
        return Ok("pass".to_string());
    };
    let e = expect.get_ref().as_str();
    if e == "pass" {
        return Ok(e.to_string());
    }
    let reachable: Vec<&str> = checks
        .iter()
        .flat_map(|c| c.info.violations())
        .chain(steps.iter().filter_map(|s| match &s.action {
            StepAction::Check { condition, .. } => Some(condition.violation()),
            _ => None,
        }))
        .chain(["limit_reached", "node_panic"])
        .collect();
    if reachable.contains(&e) {
        Ok(e.to_string())
    } else {
        Err(src.at(
            expect,
            "expect",
            format!(
                "'{e}' is not an outcome of this scenario's checks; expected \"pass\" or one of {}",
                reachable.join(", ")
            ),
        ))
    }
}
