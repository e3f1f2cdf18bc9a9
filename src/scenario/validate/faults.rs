//! `[[faults]]`: each entry's time (fixed, a range drawn per seed, or a
//! delay after an observation) and what it does.

use super::{describe_names, latency_of, probability, signed_duration, Source};
use crate::fault::target::CRASHED;
use crate::fault::{Action, Fault, FaultTime, Observation, Pick, PlannedFault, Target};
use crate::model::KnobInfo;
use crate::net::LinkChange;
use crate::node::NodeId;
use crate::scenario::file::{FaultSection, ScenarioFile};
use crate::scenario::ScenarioError;
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeSet;
use std::sync::Arc;
use toml::Spanned;

/// The keys a kind requires (besides `kind` and its time).
fn fault_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "partition" => &["groups"],
        "bridge" => &["node", "groups"],
        "one_way" | "set_link" => &["from", "to"],
        "isolate" | "reconnect" | "crash" | "restart" => &["node"],
        "pause" => &["node", "duration"],
        "clock_jump" => &["node", "by"],
        "loss_burst" => &["probability", "duration"],
        "heal" | "heal_all" => &[],
        "set" => &["knob", "value"],
        "byzantine" => &["node", "adversary"],
        _ => return None,
    })
}

/// The keys a kind may take besides those it requires.
fn optional_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "set_link" => &["latency", "loss", "duplicate", "symmetric", "duration"],
        "set" => &["nodes", "node", "duration"],
        "crash" => &["duration"],
        "byzantine" => &["to", "duration"],
        _ => &[],
    }
}

const FAULT_KINDS: &str = "partition, bridge, one_way, isolate, reconnect, heal, crash, restart, pause, clock_jump, loss_burst, set_link, set, heal_all, byzantine";

/// The file's `[[faults]]`, in file order, each with its time as written.
pub(super) fn faults(
    raw: &ScenarioFile,
    names: &[String],
    servers: usize,
    roles: &[&'static str],
    knobs: &[KnobInfo],
    duration: SimDuration,
    src: &Source<'_>,
) -> Result<Vec<PlannedFault>, ScenarioError> {
    let mut out = Vec::new();
    for (i, spanned) in raw.faults.iter().enumerate() {
        let field = format!("faults[{i}]");
        let time = fault_time(spanned, &field, servers, roles, duration, src)?;
        let fault = fault_of(spanned, &field, names, servers, roles, knobs, src)?;
        out.push(PlannedFault { time, fault });
    }
    Ok(out)
}

/// An entry's `at`, `after` and `delay`.
fn fault_time(
    spanned: &Spanned<FaultSection>,
    field: &str,
    servers: usize,
    roles: &[&'static str],
    duration: SimDuration,
    src: &Source<'_>,
) -> Result<FaultTime, ScenarioError> {
    let f = spanned.get_ref();
    let at = match &f.at {
        Some(value) => Some((time_range(value, &format!("{field}.at"), src)?, value)),
        None => None,
    };
    if let Some(((_, latest), value)) = &at {
        if *latest > duration {
            return Err(src.at(
                value,
                &format!("{field}.at"),
                format!("{latest} is after the end of the run (duration {duration})"),
            ));
        }
    }
    let Some(after) = &f.after else {
        if let Some(delay) = &f.delay {
            return Err(src.at(
                delay,
                &format!("{field}.delay"),
                "delay applies only with after (e.g. after = \"leader\", delay = \"150ms\")",
            ));
        }
        let Some(((earliest, latest), _)) = at else {
            return Err(src.at(
                spanned,
                &format!("{field}.at"),
                "a fault needs at (a time such as \"2s\" or a range [\"2s\", \"2.075s\"]) or after (e.g. after = \"leader\")",
            ));
        };
        return Ok(FaultTime::At {
            earliest: SimTime::ZERO + earliest,
            latest: SimTime::ZERO + latest,
        });
    };
    let from = match at {
        None => SimTime::ZERO,
        Some(((earliest, latest), value)) if earliest != latest => {
            return Err(src.at(
                value,
                &format!("{field}.at"),
                "with after, at is when watching begins: one time such as \"1s\", not a range",
            ))
        }
        Some(((earliest, _), _)) => SimTime::ZERO + earliest,
    };
    let (delay_min, delay_max) = match &f.delay {
        Some(value) => time_range(value, &format!("{field}.delay"), src)?,
        None => (SimDuration::ZERO, SimDuration::ZERO),
    };
    Ok(FaultTime::After {
        observation: observation(after, &format!("{field}.after"), servers, roles, src)?,
        from,
        delay_min,
        delay_max,
    })
}

/// `"2s"` or `["2s", "2.075s"]`: the least and the greatest.
pub(super) fn time_range(
    value: &Spanned<toml::Value>,
    field: &str,
    src: &Source<'_>,
) -> Result<(SimDuration, SimDuration), ScenarioError> {
    const EXPECTED: &str = "expected a time such as \"2s\" or a range such as [\"2s\", \"2.075s\"]";
    let one = |v: &toml::Value| -> Result<SimDuration, ScenarioError> {
        let text = v
            .as_str()
            .ok_or_else(|| src.at(value, field, format!("{v}: {EXPECTED}")))?;
        SimDuration::parse_for_scenario(text)
            .map_err(|e| src.at(value, field, format!("{e}; {EXPECTED}")))
    };
    match value.get_ref() {
        toml::Value::Array(items) if items.len() == 2 => {
            let (low, high) = (one(&items[0])?, one(&items[1])?);
            if low > high {
                return Err(src.at(
                    value,
                    field,
                    format!("the range starts at {low}, after its end {high}; expected [earliest, latest]"),
                ));
            }
            Ok((low, high))
        }
        toml::Value::Array(items) => Err(src.at(
            value,
            field,
            format!("a list of {} values; {EXPECTED}", items.len()),
        )),
        v => one(v).map(|d| (d, d)),
    }
}

/// `after = "leader"` (a record kind) or `"role:leader"` (a role).
fn observation(
    after: &Spanned<String>,
    field: &str,
    servers: usize,
    roles: &[&'static str],
    src: &Source<'_>,
) -> Result<Observation, ScenarioError> {
    let text = after.get_ref().as_str();
    if let Some(role) = text.strip_prefix("role:") {
        if role != CRASHED && !roles.contains(&role) {
            let known = if roles.is_empty() {
                format!("this model reports no roles; only \"role:{CRASHED}\"")
            } else {
                format!("this model's roles are {}, {CRASHED}", roles.join(", "))
            };
            return Err(src.at(after, field, format!("unknown role '{role}'; {known}")));
        }
        return Ok(Observation::Role {
            role: role.to_string(),
            servers: servers as u32,
        });
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    if text.is_empty() || !text.chars().all(word) {
        return Err(src.at(
            after,
            field,
            format!("'{text}' is neither a record kind nor role:ROLE; expected e.g. \"leader\" (the first record of that kind) or \"role:leader\""),
        ));
    }
    Ok(Observation::Record(text.to_string()))
}

/// What one fault entry does (its `kind` and the keys that kind takes;
/// its time is the caller's). `field` names the entry in errors, e.g.
/// `faults[2]`; `roles` are the model's, for targets such as `@leader`,
/// and `knobs` its knobs, for `set`.
/// A fault whose nodes are all named is returned resolved; one with a
/// target (`@leader`, `@others`, ...) as [`Fault::Aimed`].
pub(super) fn fault_of(
    spanned: &Spanned<FaultSection>,
    field: &str,
    names: &[String],
    servers: usize,
    roles: &[&'static str],
    knobs: &[KnobInfo],
    src: &Source<'_>,
) -> Result<Fault, ScenarioError> {
    let f = spanned.get_ref();
    let kind = f.kind.get_ref().as_str();
    let Some(required) = fault_fields(kind) else {
        return Err(src.at(
            &f.kind,
            &format!("{field}.kind"),
            format!("unknown fault kind '{kind}'; expected one of {FAULT_KINDS}"),
        ));
    };
    let optional = optional_fields(kind);
    let present = [
        ("node", f.node.is_some()),
        ("groups", f.groups.is_some()),
        ("from", f.from.is_some()),
        ("to", f.to.is_some()),
        ("duration", f.duration.is_some()),
        ("by", f.by.is_some()),
        ("probability", f.probability.is_some()),
        ("latency", f.latency.is_some()),
        ("loss", f.loss.is_some()),
        ("duplicate", f.duplicate.is_some()),
        ("symmetric", f.symmetric.is_some()),
        ("knob", f.knob.is_some()),
        ("value", f.value.is_some()),
        ("nodes", f.nodes.is_some()),
        ("adversary", f.adversary.is_some()),
    ];
    for (key, is_present) in present {
        if is_present && !required.contains(&key) && !optional.contains(&key) {
            let takes: Vec<&str> = required.iter().chain(optional).copied().collect();
            return Err(src.at(
                spanned,
                &format!("{field}.{key}"),
                format!(
                    "does not apply to a '{kind}' fault; it takes {}",
                    if takes.is_empty() {
                        "only at (or after) and kind".to_string()
                    } else {
                        takes.join(", ")
                    }
                ),
            ));
        }
        if !is_present && required.contains(&key) {
            return Err(src.at(
                spanned,
                &format!("{field}.{key}"),
                format!("a '{kind}' fault needs {key}"),
            ));
        }
    }
    let all: Arc<[NodeId]> = (0..servers as u32).map(NodeId).collect();
    // A node name, a target, or (in lists only) `@others`.
    let pick = |text: &str, at: &dyn Fn(String) -> ScenarioError, key: &str, in_list: bool| {
        if text == "@others" {
            return if in_list {
                Ok(Pick::Others(Arc::clone(&all)))
            } else {
                Err(at(format!(
                    "'@others' names a set of servers; it goes in groups, from or to, not in {key}"
                )))
            };
        }
        match Target::parse(text, roles, Arc::clone(&all)) {
            None => names
                .iter()
                .position(|n| n == text)
                .map(|i| Pick::Node(NodeId(i as u32)))
                .ok_or_else(|| {
                    at(format!(
                        "names node '{text}'; this scenario has {}",
                        describe_names(names)
                    ))
                }),
            Some(Ok(target)) => Ok(Pick::Target(target)),
            Some(Err(message)) => Err(at(message)),
        }
    };
    let single = |action: Action| -> Result<Fault, ScenarioError> {
        let n = f.node.as_ref().expect("checked present");
        let at = |m: String| src.at(n, &format!("{field}.node"), m);
        let p = pick(n.get_ref(), &at, "node", false)?;
        Ok(aimed(action, vec![vec![p]]))
    };
    // A list of picks; `seen` holds the texts met so far in the fault
    // (and `seen.1` counts them), and `twice` says what is wrong when a
    // name, a non-random target or @others comes again. Each pick names a
    // different node, so a fault has at most as many as there are nodes.
    let list = |texts: &[String],
                at: &dyn Fn(String) -> ScenarioError,
                seen: &mut (BTreeSet<String>, usize),
                twice: &dyn Fn(&str) -> String|
     -> Result<Vec<Pick>, ScenarioError> {
        let mut out = Vec::with_capacity(texts.len().min(names.len()));
        for text in texts {
            let p = pick(text, at, "", true)?;
            let random = matches!(&p, Pick::Target(t) if t.random);
            if !random && !seen.0.insert(text.clone()) {
                return Err(at(twice(text)));
            }
            seen.1 += 1;
            if seen.1 > names.len() {
                return Err(at(format!(
                    "more than {} names and targets in one fault; each names a different node, and this scenario has {}",
                    names.len(),
                    describe_names(names)
                )));
            }
            out.push(p);
        }
        Ok(out)
    };
    let quoted = |text: &str| {
        if text.starts_with('@') {
            format!("'{text}'")
        } else {
            format!("node '{text}'")
        }
    };
    let mut seen: (BTreeSet<String>, usize) = (BTreeSet::new(), 0);
    let fault = match kind {
        "partition" | "bridge" => {
            let groups = f.groups.as_ref().expect("checked present");
            let mut lists = Vec::new();
            if kind == "bridge" {
                let n = f.node.as_ref().expect("checked present");
                let at = |m: String| src.at(n, &format!("{field}.node"), m);
                lists.push(vec![pick(n.get_ref(), &at, "node", false)?]);
                seen = (BTreeSet::from([n.get_ref().clone()]), 1);
            }
            let twice = |text: &str| {
                format!(
                    "{} appears twice (a node is on one side of a partition{})",
                    quoted(text),
                    if kind == "bridge" {
                        ", and the bridge is on none"
                    } else {
                        ""
                    }
                )
            };
            for (g, group) in groups.get_ref().iter().enumerate() {
                let key = format!("{field}.groups[{g}]");
                let at = |m: String| src.at(groups, &key, m);
                if group.is_empty() {
                    return Err(at("an empty group; expected node names or targets".into()));
                }
                lists.push(list(group, &at, &mut seen, &twice)?);
            }
            if groups.get_ref().len() < 2 {
                return Err(src.at(
                    groups,
                    &format!("{field}.groups"),
                    "a partition needs at least two groups, e.g. [[\"n1\",\"n2\"],[\"n3\"]] or [[\"@leader\"],[\"@others\"]]",
                ));
            }
            let action = if kind == "bridge" {
                Action::Bridge
            } else {
                Action::Partition
            };
            aimed(action, lists)
        }
        "one_way" | "set_link" => {
            let (from, to) = (
                f.from.as_ref().expect("checked"),
                f.to.as_ref().expect("checked"),
            );
            let (from_key, to_key) = (format!("{field}.from"), format!("{field}.to"));
            let from_at = |m: String| src.at(from, &from_key, m);
            let to_at = |m: String| src.at(to, &to_key, m);
            if from.get_ref().is_empty() {
                return Err(from_at(
                    "an empty list; expected node names or targets".into(),
                ));
            }
            if to.get_ref().is_empty() {
                return Err(to_at(
                    "an empty list; expected node names or targets".into(),
                ));
            }
            let listed_twice = |text: &str| format!("{} is listed twice", quoted(text));
            let from_picks = list(from.get_ref(), &from_at, &mut seen, &listed_twice)?;
            let to_picks = if kind == "one_way" {
                let in_both = |text: &str| format!("{} is in both from and to", quoted(text));
                list(to.get_ref(), &to_at, &mut seen, &in_both)?
            } else {
                // set_link's from and to may share nodes, not `@others`.
                let others = seen.0.take("@others");
                let mut to_seen = (others.into_iter().collect(), 0);
                list(to.get_ref(), &to_at, &mut to_seen, &listed_twice)?
            };
            let action = if kind == "one_way" {
                Action::OneWay
            } else {
                Action::SetLink {
                    change: link_change(spanned, field, src)?,
                    symmetric: f.symmetric.unwrap_or(false),
                    duration: f.duration,
                }
            };
            aimed(action, vec![from_picks, to_picks])
        }
        "set" => {
            let (knob, value) = knob_and_value(spanned, field, knobs, src)?;
            // A named node must have the knob; targets pick servers only.
            let check = |p: &Pick, text: &str, at: &dyn Fn(String) -> ScenarioError| {
                match p {
                Pick::Node(id) if !has_knob(knob, *id, servers) => Err(at(format!(
                    "{} has no knob '{}' (it is on the model's {})",
                    quoted(text),
                    knob.name,
                    knob.nodes
                ))),
                Pick::Target(_) | Pick::Others(_) if knob.nodes == "clients" => {
                    Err(at(format!(
                        "targets pick servers, and knob '{}' is on the model's clients; name them, or nodes = \"clients\"",
                        knob.name
                    )))
                }
                _ => Ok(()),
            }
            };
            let picks = match (&f.node, &f.nodes) {
                (Some(n), None) => {
                    let at = |m: String| src.at(n, &format!("{field}.node"), m);
                    let p = pick(n.get_ref(), &at, "node", false)?;
                    check(&p, n.get_ref(), &at)?;
                    vec![p]
                }
                (None, Some(nodes)) => {
                    let key = format!("{field}.nodes");
                    let at = |m: String| src.at(nodes, &key, m);
                    match nodes.get_ref() {
                        toml::Value::String(group) => {
                            knob_group(group, names, servers, knob, &at)?
                        }
                        toml::Value::Array(items) => {
                            let texts = list_texts(items, names.len(), &at)?;
                            let twice = |text: &str| format!("{} is listed twice", quoted(text));
                            let picks = list(&texts, &at, &mut seen, &twice)?;
                            for (p, text) in picks.iter().zip(&texts) {
                                check(p, text, &at)?;
                            }
                            picks
                        }
                        other => return Err(at(format!("{other}: {NODES_EXPECTED}"))),
                    }
                }
                (Some(_), Some(_)) => {
                    return Err(src.at(
                        spanned,
                        &format!("{field}.node"),
                        "give node or nodes, not both",
                    ))
                }
                (None, None) => {
                    return Err(src.at(
                        spanned,
                        &format!("{field}.nodes"),
                        "a 'set' fault needs nodes (\"clients\", \"servers\", \"all\" or a list of names) or node (a name or a target such as \"@leader\")",
                    ))
                }
            };
            let action = Action::Set {
                knob: Arc::from(knob.name),
                value,
                duration: f.duration,
            };
            aimed(action, vec![picks])
        }
        "byzantine" => single(byzantine_action(spanned, field, names, src)?)?,
        "isolate" => single(Action::Isolate)?,
        "reconnect" => single(Action::Reconnect)?,
        "heal" => Fault::Heal,
        "heal_all" => Fault::HealAll,
        "crash" => match f.duration {
            None => single(Action::Crash)?,
            Some(downtime) => single(Action::CrashFor(downtime))?,
        },
        "restart" => single(Action::Restart)?,
        "pause" => single(Action::Pause(f.duration.expect("checked")))?,
        "clock_jump" => single(Action::ClockJump(signed_duration(
            f.by.as_ref().expect("checked"),
            &format!("{field}.by"),
            src,
        )?))?,
        "loss_burst" => Fault::LossBurst {
            probability: probability(
                f.probability.as_ref().expect("checked"),
                &format!("{field}.probability"),
                src,
            )?,
            duration: f.duration.expect("checked"),
        },
        _ => unreachable!("fault_fields accepted '{kind}'"),
    };
    Ok(fault)
}

/// A `byzantine` fault's adversary (with `to` for `drop_to`, and only
/// then) and duration.
fn byzantine_action(
    spanned: &Spanned<FaultSection>,
    field: &str,
    names: &[String],
    src: &Source<'_>,
) -> Result<Action, ScenarioError> {
    use crate::fault::byzantine::{Adversary, ADVERSARIES};
    let f = spanned.get_ref();
    let name = f.adversary.as_ref().expect("checked present");
    let adversary = match name.get_ref().as_str() {
        "equivocate" => Adversary::Equivocate,
        "replay" => Adversary::Replay,
        "corrupt" => Adversary::Corrupt,
        "drop_to" => {
            let Some(to) = &f.to else {
                return Err(src.at(
                    spanned,
                    &format!("{field}.to"),
                    "adversary = \"drop_to\" needs to, the peers whose messages it drops, e.g. to = [\"n2\", \"n3\"]",
                ));
            };
            let key = format!("{field}.to");
            let at = |m: String| src.at(to, &key, m);
            if to.get_ref().is_empty() {
                return Err(at("an empty list; expected node names".into()));
            }
            let mut peers = Vec::with_capacity(to.get_ref().len().min(names.len()));
            for text in to.get_ref() {
                let Some(i) = names.iter().position(|n| n == text) else {
                    return Err(at(format!(
                        "names node '{text}'; expected node names (not targets): this scenario has {}",
                        describe_names(names)
                    )));
                };
                if peers.contains(&NodeId(i as u32)) {
                    return Err(at(format!("node '{text}' is listed twice")));
                }
                peers.push(NodeId(i as u32));
            }
            Adversary::DropTo(peers)
        }
        other => {
            return Err(src.at(
                name,
                &format!("{field}.adversary"),
                format!("unknown adversary '{other}'; expected one of {ADVERSARIES}"),
            ))
        }
    };
    if let (Some(to), false) = (&f.to, matches!(adversary, Adversary::DropTo(_))) {
        return Err(src.at(
            to,
            &format!("{field}.to"),
            format!(
                "to applies only to adversary = \"drop_to\", not to '{}'",
                adversary.name()
            ),
        ));
    }
    if f.duration == Some(SimDuration::ZERO) {
        return Err(src.at(
            spanned,
            &format!("{field}.duration"),
            "a duration of 0 would end it at once; expected e.g. \"2s\", or no duration (Byzantine to the end)",
        ));
    }
    Ok(Action::Byzantine {
        adversary,
        duration: f.duration,
    })
}

/// The fault on named nodes if every pick is a name; else aimed.
fn aimed(action: Action, picks: Vec<Vec<Pick>>) -> Fault {
    let named: Option<Vec<Vec<NodeId>>> = picks
        .iter()
        .map(|list| {
            list.iter()
                .map(|p| match p {
                    Pick::Node(n) => Some(*n),
                    _ => None,
                })
                .collect()
        })
        .collect();
    match named {
        // A crash with a downtime stays aimed: the engine queues its restart.
        Some(nodes) if !matches!(action, Action::CrashFor(_)) => action.on(nodes),
        Some(_) => Fault::Aimed { action, picks },
        None => Fault::Aimed { action, picks },
    }
}

/// `set`'s knob (one of the model's) and value (within the knob's range),
/// and its duration (longer than 0 if given).
fn knob_and_value<'k>(
    spanned: &Spanned<FaultSection>,
    field: &str,
    knobs: &'k [KnobInfo],
    src: &Source<'_>,
) -> Result<(&'k KnobInfo, f64), ScenarioError> {
    let f = spanned.get_ref();
    let name = f.knob.as_ref().expect("checked present");
    let Some(knob) = knobs.iter().find(|k| k.name == name.get_ref()) else {
        let known = if knobs.is_empty() {
            "this model has no knobs (faultlab list shows each model's)".to_string()
        } else {
            let each: Vec<String> = knobs
                .iter()
                .map(|k| format!("{} ({}, {} to {})", k.name, k.nodes, k.min, k.max))
                .collect();
            format!("this model's knobs are {}", each.join(", "))
        };
        return Err(src.at(
            name,
            &format!("{field}.knob"),
            format!("unknown knob '{}'; {known}", name.get_ref()),
        ));
    };
    let value = f.value.as_ref().expect("checked present");
    let v = *value.get_ref();
    // `contains` is false for NaN too.
    if !(knob.min..=knob.max).contains(&v) {
        return Err(src.at(
            value,
            &format!("{field}.value"),
            format!(
                "{v} is outside knob '{}''s range; expected {} to {} ({})",
                knob.name, knob.min, knob.max, knob.about
            ),
        ));
    }
    if f.duration == Some(SimDuration::ZERO) {
        return Err(src.at(
            spanned,
            &format!("{field}.duration"),
            "a duration of 0 would set the knob back at once; expected e.g. \"5s\", or no duration (the value stays)",
        ));
    }
    Ok((knob, v))
}

/// What `nodes` of a `set` takes.
const NODES_EXPECTED: &str = "expected \"clients\", \"servers\", \"all\" or a list of node names and targets such as [\"c1\", \"@leader\"]";

/// True if node `id` has `knob` (by the knob's `nodes`).
fn has_knob(knob: &KnobInfo, id: NodeId, servers: usize) -> bool {
    match knob.nodes {
        "servers" => id.index() < servers,
        "clients" => id.index() >= servers,
        _ => true,
    }
}

/// `nodes = "clients"`, `"servers"` or `"all"`: those nodes, each of
/// which must have `knob`.
fn knob_group(
    group: &str,
    names: &[String],
    servers: usize,
    knob: &KnobInfo,
    at: &dyn Fn(String) -> ScenarioError,
) -> Result<Vec<Pick>, ScenarioError> {
    let all = (0..names.len() as u32).map(NodeId);
    let ids: Vec<NodeId> = match group {
        "servers" => all.take(servers).collect(),
        "clients" => all.skip(servers).collect(),
        "all" => all.collect(),
        other => return Err(at(format!("'{other}': {NODES_EXPECTED}"))),
    };
    if ids.is_empty() {
        return Err(at(format!("this scenario has no {group}")));
    }
    if let Some(id) = ids.iter().find(|&&id| !has_knob(knob, id, servers)) {
        return Err(at(format!(
            "{group} include {}, which has no knob '{}' (it is on the model's {}); expected nodes = \"{}\"",
            names[id.index()],
            knob.name,
            knob.nodes,
            knob.nodes
        )));
    }
    Ok(ids.into_iter().map(Pick::Node).collect())
}

/// The texts of a list of names and targets; at most `max` + 1 are read
/// (the caller refuses more than `max`).
fn list_texts(
    items: &[toml::Value],
    max: usize,
    at: &dyn Fn(String) -> ScenarioError,
) -> Result<Vec<String>, ScenarioError> {
    if items.is_empty() {
        return Err(at("an empty list; expected node names or targets".into()));
    }
    items
        .iter()
        .take(max + 1)
        .map(|item| {
            item.as_str().map(str::to_string).ok_or_else(|| {
                at(format!(
                    "{item}: expected node names or targets, e.g. [\"c1\", \"c2\"]"
                ))
            })
        })
        .collect()
}

/// `set_link`'s latency, loss and duplicate: at least one.
fn link_change(
    spanned: &Spanned<FaultSection>,
    field: &str,
    src: &Source<'_>,
) -> Result<LinkChange, ScenarioError> {
    let f = spanned.get_ref();
    let change = LinkChange {
        latency: match &f.latency {
            Some(l) => Some(latency_of(l, &format!("{field}.latency"), src)?),
            None => None,
        },
        loss: match &f.loss {
            Some(p) => Some(probability(p, &format!("{field}.loss"), src)?),
            None => None,
        },
        duplicate: match &f.duplicate {
            Some(p) => Some(probability(p, &format!("{field}.duplicate"), src)?),
            None => None,
        },
    };
    if change == LinkChange::default() {
        return Err(src.at(
            spanned,
            &format!("{field}.latency"),
            "a 'set_link' fault needs at least one of latency, loss, duplicate",
        ));
    }
    Ok(change)
}
