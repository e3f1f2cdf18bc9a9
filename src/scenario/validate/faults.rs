//! `[[faults]]`: each entry's time and what it does.

use super::{node_id, probability, signed_duration, Source};
use crate::fault::{Action, Fault, Target, TimedFault};
use crate::net::Cut;
use crate::node::NodeId;
use crate::scenario::file::{FaultSection, ScenarioFile};
use crate::scenario::ScenarioError;
use crate::time::{SimDuration, SimTime};
use toml::Spanned;

fn fault_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "partition" => &["groups"],
        "bridge" => &["node", "groups"],
        "one_way" => &["from", "to"],
        "isolate" | "reconnect" | "crash" | "restart" => &["node"],
        "pause" => &["node", "duration"],
        "clock_jump" => &["node", "by"],
        "loss_burst" => &["probability", "duration"],
        "heal" | "heal_all" => &[],
        _ => return None,
    })
}

const FAULT_KINDS: &str = "partition, bridge, one_way, isolate, reconnect, heal, crash, restart, pause, clock_jump, loss_burst, heal_all";

/// The file's `[[faults]]`, sorted by time.
pub(super) fn faults(
    raw: &ScenarioFile,
    names: &[String],
    servers: usize,
    roles: &[&'static str],
    duration: SimDuration,
    src: &Source<'_>,
) -> Result<Vec<TimedFault>, ScenarioError> {
    let mut out = Vec::new();
    for (i, spanned) in raw.faults.iter().enumerate() {
        let f = spanned.get_ref();
        let field = format!("faults[{i}]");
        let Some(at) = &f.at else {
            return Err(src.at(
                spanned,
                &format!("{field}.at"),
                "a fault needs at, its time, e.g. at = \"2s\"",
            ));
        };
        let at = *at.get_ref();
        if at > duration {
            return Err(src.at(
                spanned,
                &format!("{field}.at"),
                format!("{at} is after the end of the run (duration {duration})"),
            ));
        }
        let fault = fault_of(spanned, &field, names, servers, roles, src)?;
        out.push(TimedFault {
            at: SimTime::ZERO + at,
            fault,
        });
    }
    out.sort_by_key(|f| f.at);
    Ok(out)
}

/// What one fault entry does (its `kind` and the keys that kind takes;
/// its time is the caller's). `field` names the entry in errors, e.g.
/// `faults[2]`; `roles` are the model's, for targets such as `@leader`.
pub(super) fn fault_of(
    spanned: &Spanned<FaultSection>,
    field: &str,
    names: &[String],
    servers: usize,
    roles: &[&'static str],
    src: &Source<'_>,
) -> Result<Fault, ScenarioError> {
    let f = spanned.get_ref();
    let kind = f.kind.get_ref().as_str();
    let Some(allowed) = fault_fields(kind) else {
        return Err(src.at(
            &f.kind,
            &format!("{field}.kind"),
            format!("unknown fault kind '{kind}'; expected one of {FAULT_KINDS}"),
        ));
    };
    let present = [
        ("node", f.node.is_some()),
        ("groups", f.groups.is_some()),
        ("from", f.from.is_some()),
        ("to", f.to.is_some()),
        ("duration", f.duration.is_some()),
        ("by", f.by.is_some()),
        ("probability", f.probability.is_some()),
    ];
    for (key, is_present) in present {
        if is_present && !allowed.contains(&key) {
            return Err(src.at(
                spanned,
                &format!("{field}.{key}"),
                format!(
                    "does not apply to a '{kind}' fault; it takes {}",
                    if allowed.is_empty() {
                        "only at and kind".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            ));
        }
        if !is_present && allowed.contains(&key) {
            return Err(src.at(
                spanned,
                &format!("{field}.{key}"),
                format!("a '{kind}' fault needs {key}"),
            ));
        }
    }
    let node = |key: &str| -> Result<NodeId, ScenarioError> {
        let n = f.node.as_ref().expect("checked present");
        if n.get_ref().starts_with('@') {
            return Err(src.at(
                n,
                &format!("{field}.{key}"),
                format!("'{}' is a target; a '{kind}' fault takes a node name (targets such as \"@leader\" are for crash, restart, pause, isolate and clock_jump)", n.get_ref()),
            ));
        }
        node_id(names, n.get_ref(), n.span(), &format!("{field}.{key}"), src)
    };
    // A node name, or a target resolved when the fault fires.
    let aimed = |action: Action| -> Result<Fault, ScenarioError> {
        let n = f.node.as_ref().expect("checked present");
        let all = (0..servers as u32).map(NodeId).collect();
        match Target::parse(n.get_ref(), roles, all) {
            None => Ok(action.on(node_id(
                names,
                n.get_ref(),
                n.span(),
                &format!("{field}.node"),
                src,
            )?)),
            Some(Ok(target)) => Ok(Fault::Aimed { action, target }),
            Some(Err(message)) => Err(src.at(n, &format!("{field}.node"), message)),
        }
    };
    let group_list =
        |spanned: &Spanned<Vec<String>>, key: &str| -> Result<Vec<NodeId>, ScenarioError> {
            let mut ids: Vec<NodeId> = Vec::new();
            let mut seen = vec![false; names.len()];
            for name in spanned.get_ref() {
                let id = node_id(names, name, spanned.span(), &format!("{field}.{key}"), src)?;
                if std::mem::replace(&mut seen[id.index()], true) {
                    return Err(src.at(
                        spanned,
                        &format!("{field}.{key}"),
                        format!("node '{name}' is listed twice"),
                    ));
                }
                ids.push(id);
            }
            Ok(ids)
        };
    let fault = match kind {
        "partition" | "bridge" => {
            let groups = f.groups.as_ref().expect("checked present");
            let mut ids: Vec<Vec<NodeId>> = Vec::new();
            let mut seen: Vec<NodeId> = Vec::new();
            if kind == "bridge" {
                seen.push(node("node")?);
            }
            for (g, group) in groups.get_ref().iter().enumerate() {
                let mut members = Vec::new();
                for name in group {
                    let id = node_id(
                        names,
                        name,
                        groups.span(),
                        &format!("{field}.groups[{g}]"),
                        src,
                    )?;
                    if seen.contains(&id) {
                        return Err(src.at(groups, &format!("{field}.groups[{g}]"), format!("node '{name}' appears twice (a node is on one side of a partition{})", if kind == "bridge" { ", and the bridge is on none" } else { "" })));
                    }
                    seen.push(id);
                    members.push(id);
                }
                if members.is_empty() {
                    return Err(src.at(
                        groups,
                        &format!("{field}.groups[{g}]"),
                        "an empty group; expected node names",
                    ));
                }
                ids.push(members);
            }
            if ids.len() < 2 {
                return Err(src.at(
                    groups,
                    &format!("{field}.groups"),
                    "a partition needs at least two groups, e.g. [[\"n1\",\"n2\"],[\"n3\"]]",
                ));
            }
            Fault::Partition(Cut::Groups(ids))
        }
        "one_way" => {
            let from = group_list(f.from.as_ref().expect("checked"), "from")?;
            let to = group_list(f.to.as_ref().expect("checked"), "to")?;
            if let Some(both) = from.iter().find(|n| to.contains(n)) {
                return Err(src.at(
                    f.to.as_ref().expect("checked"),
                    &format!("{field}.to"),
                    format!("node '{}' is in both from and to", names[both.index()]),
                ));
            }
            Fault::Partition(Cut::OneWay { from, to })
        }
        "isolate" => aimed(Action::Isolate)?,
        "reconnect" => aimed(Action::Reconnect)?,
        "heal" => Fault::Heal,
        "heal_all" => Fault::HealAll,
        "crash" => aimed(Action::Crash)?,
        "restart" => aimed(Action::Restart)?,
        "pause" => aimed(Action::Pause(f.duration.expect("checked")))?,
        "clock_jump" => aimed(Action::ClockJump(signed_duration(
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
