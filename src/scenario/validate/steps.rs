//! `[[steps]]`: a scenario's test script (see [`crate::scenario::script`]).

use super::faults::fault_of;
use super::faults::time_range;
use super::Source;
use crate::model::KnobInfo;
use crate::scenario::file::{ScenarioFile, StepSection};
use crate::scenario::script::{max_length, Condition, LogIndex, Mode, Step, StepAction};
use crate::scenario::ScenarioError;
use crate::time::SimDuration;
use toml::Spanned;

/// The file's `[[steps]]`, in order.
pub(super) fn steps(
    raw: &ScenarioFile,
    names: &[String],
    servers: usize,
    roles: &[&'static str],
    knobs: &[KnobInfo],
    duration: SimDuration,
    src: &Source<'_>,
) -> Result<Vec<Step>, ScenarioError> {
    let mut out = Vec::new();
    for (i, spanned) in raw.steps.iter().enumerate() {
        let field = format!("steps[{i}]");
        let step = spanned.get_ref();
        let given: Vec<&str> = [
            ("fault", step.fault.is_some()),
            ("sleep", step.sleep.is_some()),
            ("check", step.check.is_some()),
            ("stop", step.stop.is_some()),
        ]
        .iter()
        .filter(|(_, present)| *present)
        .map(|(key, _)| *key)
        .collect();
        if given.len() != 1 {
            return Err(src.at(
                spanned,
                &field,
                format!(
                    "a step does one thing: give exactly one of fault, sleep, check, stop{}",
                    if given.is_empty() {
                        String::new()
                    } else {
                        format!(" (this one gives {})", given.join(" and "))
                    }
                ),
            ));
        }
        let action = match given[0] {
            "fault" => {
                only(spanned, &field, "fault", &[], src)?;
                let fault = step.fault.as_ref().expect("given");
                let f = fault.get_ref();
                let timed = [
                    ("at", f.at.is_some()),
                    ("after", f.after.is_some()),
                    ("delay", f.delay.is_some()),
                ];
                if let Some((key, _)) = timed.iter().find(|(_, given)| *given) {
                    return Err(src.at(
                        fault,
                        &format!("{field}.fault.{key}"),
                        format!("a step's fault happens when the step begins; remove {key} (a sleep step waits, and may draw its time from a range)"),
                    ));
                }
                StepAction::Fault(fault_of(
                    fault,
                    &format!("{field}.fault"),
                    names,
                    servers,
                    roles,
                    knobs,
                    src,
                )?)
            }
            "sleep" => {
                only(spanned, &field, "sleep", &[], src)?;
                let sleep = step.sleep.as_ref().expect("given");
                let (min, max) = time_range(sleep, &format!("{field}.sleep"), src)?;
                if max == SimDuration::ZERO {
                    return Err(src.at(
                        sleep,
                        &format!("{field}.sleep"),
                        "expected a time longer than 0, e.g. \"1s\", or a range [shortest, longest], e.g. [\"0ms\", \"75ms\"]",
                    ));
                }
                StepAction::Sleep { min, max }
            }
            "stop" => {
                only(spanned, &field, "stop", &[], src)?;
                let stop = step.stop.as_ref().expect("given");
                if !*stop.get_ref() {
                    return Err(src.at(
                        stop,
                        &format!("{field}.stop"),
                        "expected stop = true (ends the run here), or no stop key",
                    ));
                }
                if i + 1 != raw.steps.len() {
                    return Err(src.at(
                        stop,
                        &format!("{field}.stop"),
                        "stop ends the run, so it must be the last step",
                    ));
                }
                StepAction::Stop
            }
            _ => check(spanned, &field, servers, roles, src)?,
        };
        out.push(Step {
            label: label(&field, &action),
            action,
        });
    }
    let longest = max_length(&out);
    if longest > duration {
        let first = raw
            .steps
            .first()
            .expect("steps take time only if there are some");
        return Err(src.at(
            first,
            "steps",
            format!("the steps may take up to {longest} (their sleeps, within and for), longer than the run (duration {duration}); make duration at least that long"),
        ));
    }
    Ok(out)
}

/// A check step: its condition and mode.
fn check(
    spanned: &Spanned<StepSection>,
    field: &str,
    servers: usize,
    roles: &[&'static str],
    src: &Source<'_>,
) -> Result<StepAction, ScenarioError> {
    let step = spanned.get_ref();
    let name = step.check.as_ref().expect("a check step");
    let key = format!("{field}.check");
    let condition = match name.get_ref().as_str() {
        "leader" | "no_leader" if !roles.contains(&"leader") => {
            return Err(src.at(
                name,
                &key,
                format!(
                    "'{}' reads which server leads, but this model's nodes report no leader role{}",
                    name.get_ref(),
                    if roles.is_empty() {
                        String::new()
                    } else {
                        format!(" (its roles: {})", roles.join(", "))
                    }
                ),
            ))
        }
        "leader" => Condition::Leader,
        "no_leader" => Condition::NoLeader,
        "same_term" => Condition::SameTerm,
        "no_commit" => Condition::NoCommit,
        "committed" => {
            let Some(index) = &step.index else {
                return Err(src.at(
                    spanned,
                    &format!("{field}.index"),
                    "a 'committed' check needs index, the log index (from 1)",
                ));
            };
            const EXPECTED: &str = "expected a log index from 1 (index = 12), or \"+K\": K above the highest committed when the step begins (index = \"+1\": the next entry)";
            let at = match index.get_ref() {
                toml::Value::Integer(i) if *i >= 1 => LogIndex::At(*i as u64),
                toml::Value::String(text) => match text
                    .strip_prefix('+')
                    .filter(|k| k.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|k| k.parse::<u64>().ok())
                {
                    Some(k) if k >= 1 => LogIndex::Ahead(k),
                    _ => {
                        return Err(src.at(
                            index,
                            &format!("{field}.index"),
                            format!("\"{text}\": {EXPECTED}"),
                        ))
                    }
                },
                other => {
                    return Err(src.at(
                        index,
                        &format!("{field}.index"),
                        format!("{other}: {EXPECTED}"),
                    ))
                }
            };
            let count = match &step.servers {
                None => servers,
                Some(k) if (1..=servers as u64).contains(k.get_ref()) => *k.get_ref() as usize,
                Some(k) => {
                    return Err(src.at(
                        k,
                        &format!("{field}.servers"),
                        format!(
                            "{}; expected 1 to {servers} (the scenario's servers)",
                            k.get_ref()
                        ),
                    ))
                }
            };
            Condition::Committed {
                index: at,
                servers: count,
            }
        }
        other => {
            return Err(src.at(
                name,
                &key,
                format!(
                    "unknown condition '{other}'; expected one of {}",
                    Condition::NAMES.join(", ")
                ),
            ))
        }
    };
    let extra: &[&str] = match condition {
        Condition::Committed { .. } => &["within", "for", "index", "servers"],
        _ => &["within", "for"],
    };
    only(spanned, field, "check", extra, src)?;
    let mode = match (&step.within, &step.for_) {
        (Some(_), Some(f)) => {
            return Err(src.at(
                f,
                &format!("{field}.for"),
                "give within (holds at some moment before the deadline) or for (holds throughout), not both",
            ))
        }
        (Some(w), None) => Mode::Within(positive(w, &format!("{field}.within"), src)?),
        (None, Some(f)) => Mode::For(positive(f, &format!("{field}.for"), src)?),
        (None, None) => Mode::Now,
    };
    Ok(StepAction::Check { condition, mode })
}

fn positive(
    d: &Spanned<SimDuration>,
    field: &str,
    src: &Source<'_>,
) -> Result<SimDuration, ScenarioError> {
    if *d.get_ref() == SimDuration::ZERO {
        return Err(src.at(d, field, "expected a time longer than 0, e.g. \"2s\""));
    }
    Ok(*d.get_ref())
}

/// Rejects the keys a step of kind `what` does not take.
fn only(
    spanned: &Spanned<StepSection>,
    field: &str,
    what: &str,
    allowed: &[&str],
    src: &Source<'_>,
) -> Result<(), ScenarioError> {
    let step = spanned.get_ref();
    let present = [
        ("within", step.within.is_some()),
        ("for", step.for_.is_some()),
        ("index", step.index.is_some()),
        ("servers", step.servers.is_some()),
    ];
    for (key, is_present) in present {
        if is_present && !allowed.contains(&key) {
            return Err(src.at(
                spanned,
                &format!("{field}.{key}"),
                format!(
                    "does not apply to a {what} step{}",
                    if allowed.is_empty() {
                        String::new()
                    } else {
                        format!("; it takes {}", allowed.join(", "))
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// `steps[3] (leader within 2s)`.
fn label(field: &str, action: &StepAction) -> String {
    let what = match action {
        StepAction::Fault(fault) => format!("fault {}", fault.kind()),
        StepAction::Stop => "stop".to_string(),
        StepAction::Sleep { min, max } if min == max => format!("sleep {min}"),
        StepAction::Sleep { min, max } => format!("sleep {min}..{max}"),
        StepAction::Check { condition, mode } => {
            let name = match condition {
                Condition::Committed {
                    index: LogIndex::At(index),
                    servers,
                } => format!("committed index {index} on {servers}"),
                Condition::Committed {
                    index: LogIndex::Ahead(k),
                    servers,
                } => format!("committed index +{k} on {servers}"),
                other => other.name().to_string(),
            };
            match mode {
                Mode::Now => name,
                Mode::Within(d) => format!("{name} within {d}"),
                Mode::For(d) => format!("{name} for {d}"),
            }
        }
    };
    format!("{field} ({what})")
}
