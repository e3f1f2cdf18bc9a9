//! Faults as `[[faults]]` entries: the writer of the shrinker's output.
//!
//! [`fault_to_toml`] turns any [`Fault`] at a fixed time into the table a
//! scenario file holds, so that loading it gives the same fault back: every
//! variant round-trips (tested below). Durations and times are written
//! exactly, to the nanosecond ([`duration_text`]); probabilities as the
//! float their 2^-32 threshold is, which reads back to the same threshold.
//! Aimed faults keep their targets (`@leader`, `@others`) as written.

use crate::fault::{Action, Fault, Pick};
use crate::net::{Cut, Latency, LinkChange};
use crate::node::NodeId;
use crate::rng::Probability;
use crate::time::{SimDuration, SimTime};
use toml::{Table, Value};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A duration as scenario files write it, exact to the nanosecond and as
/// short as that allows: `2s`, `1.5s`, `2.00019s`, `150ms`, `190.5us`, `7ns`.
pub fn duration_text(d: SimDuration) -> String {
    let n = d.as_nanos();
    let (unit, scale) = match n {
        0 => return "0s".to_string(),
        n if n >= NANOS_PER_SEC => ("s", NANOS_PER_SEC),
        n if n >= 1_000_000 => ("ms", 1_000_000),
        n if n >= 1_000 => ("us", 1_000),
        _ => ("ns", 1),
    };
    let (whole, frac) = (n / scale, n % scale);
    if frac == 0 {
        return format!("{whole}{unit}");
    }
    let digits = scale.ilog10() as usize;
    let frac = format!("{frac:0digits$}");
    format!("{whole}.{}{unit}", frac.trim_end_matches('0'))
}

/// A true time as a fault's `at`: its [`duration_text`] since the start.
pub fn time_text(t: SimTime) -> String {
    duration_text(SimDuration(t.as_nanos()))
}

/// A signed duration (a clock jump's `by`): `-1.5s`, `+250ms`.
pub fn signed_text(by_ns: i64) -> String {
    let sign = if by_ns < 0 { "-" } else { "+" };
    format!("{sign}{}", duration_text(SimDuration(by_ns.unsigned_abs())))
}

fn probability(p: Probability) -> Value {
    Value::Float(p.as_f64())
}

fn names_of(nodes: &[NodeId], names: &[String]) -> Value {
    Value::Array(
        nodes
            .iter()
            .map(|n| Value::String(names[n.index()].clone()))
            .collect(),
    )
}

fn picks_of(picks: &[Pick], names: &[String]) -> Value {
    Value::Array(picks.iter().map(|p| Value::String(p.text(names))).collect())
}

/// A latency distribution as `[network] latency` writes it.
pub fn latency_to_toml(latency: &Latency) -> Table {
    let mut t = Table::new();
    let mut put = |key: &str, d: SimDuration| {
        t.insert(key.into(), Value::String(duration_text(d)));
    };
    let dist = match latency {
        Latency::Constant(value) => {
            put("value", *value);
            "constant"
        }
        Latency::Uniform { min, max } => {
            put("min", *min);
            put("max", *max);
            "uniform"
        }
        Latency::Normal { mean, stddev, min } => {
            put("mean", *mean);
            put("stddev", *stddev);
            put("min", *min);
            "normal"
        }
        Latency::Exponential { mean, min } => {
            put("mean", *mean);
            put("min", *min);
            "exponential"
        }
        Latency::Bimodal {
            min,
            max,
            slow_min,
            slow_max,
            slow_probability,
        } => {
            put("min", *min);
            put("max", *max);
            put("slow_min", *slow_min);
            put("slow_max", *slow_max);
            t.insert("slow_probability".into(), probability(*slow_probability));
            "bimodal"
        }
    };
    t.insert("dist".into(), Value::String(dist.into()));
    t
}

fn link_change(t: &mut Table, change: &LinkChange, symmetric: bool, duration: Option<SimDuration>) {
    if let Some(latency) = &change.latency {
        t.insert("latency".into(), Value::Table(latency_to_toml(latency)));
    }
    if let Some(loss) = change.loss {
        t.insert("loss".into(), probability(loss));
    }
    if let Some(duplicate) = change.duplicate {
        t.insert("duplicate".into(), probability(duplicate));
    }
    if symmetric {
        t.insert("symmetric".into(), Value::Boolean(true));
    }
    if let Some(d) = duration {
        t.insert("duration".into(), Value::String(duration_text(d)));
    }
}

/// The `[[faults]]` entry of `fault` at `at`; `names` are the scenario's
/// node names by id.
pub fn fault_to_toml(at: SimTime, fault: &Fault, names: &[String]) -> Table {
    let mut t = Table::new();
    t.insert("at".into(), Value::String(time_text(at)));
    let kind = match fault {
        Fault::Partition(cut) => cut_entry(&mut t, cut, names),
        Fault::Aimed { action, picks } => aimed(&mut t, action, picks, names),
        Fault::SetLink {
            from,
            to,
            change,
            symmetric,
            duration,
        } => {
            t.insert("from".into(), names_of(from, names));
            t.insert("to".into(), names_of(to, names));
            link_change(&mut t, change, *symmetric, *duration);
            "set_link"
        }
        Fault::Set {
            knob,
            value,
            nodes,
            duration,
        } => {
            set_entry(&mut t, knob, *value, *duration);
            t.insert("nodes".into(), names_of(nodes, names));
            "set"
        }
        Fault::LossBurst {
            probability: p,
            duration,
        } => {
            t.insert("probability".into(), probability(*p));
            t.insert("duration".into(), Value::String(duration_text(*duration)));
            "loss_burst"
        }
        Fault::Heal => "heal",
        Fault::HealAll => "heal_all",
        one => node_entry(&mut t, one, names),
    };
    t.insert("kind".into(), Value::String(kind.into()));
    t
}

/// A partition's keys; its kind.
fn cut_entry(t: &mut Table, cut: &Cut, names: &[String]) -> &'static str {
    match cut {
        Cut::Groups(groups) => {
            let lists = groups.iter().map(|g| names_of(g, names)).collect();
            t.insert("groups".into(), Value::Array(lists));
            "partition"
        }
        Cut::OneWay { from, to } => {
            t.insert("from".into(), names_of(from, names));
            t.insert("to".into(), names_of(to, names));
            "one_way"
        }
        Cut::Isolate(n) => {
            t.insert("node".into(), Value::String(names[n.index()].clone()));
            "isolate"
        }
    }
}

/// The keys of a fault on one node (its `node`, and a pause's duration
/// or a jump's size); its kind.
fn node_entry(t: &mut Table, fault: &Fault, names: &[String]) -> &'static str {
    let (node, kind) = match fault {
        Fault::Reconnect(n) => (n, "reconnect"),
        Fault::Crash(n) => (n, "crash"),
        Fault::Restart(n) => (n, "restart"),
        Fault::Pause { node, duration } => {
            t.insert("duration".into(), Value::String(duration_text(*duration)));
            (node, "pause")
        }
        Fault::ClockJump { node, by_ns } => {
            t.insert("by".into(), Value::String(signed_text(*by_ns)));
            (node, "clock_jump")
        }
        Fault::Byzantine {
            node,
            adversary,
            duration,
        } => {
            byzantine_entry(t, adversary, *duration, names);
            (node, "byzantine")
        }
        other => unreachable!("{} is not a fault on one node", other.kind()),
    };
    t.insert("node".into(), Value::String(names[node.index()].clone()));
    kind
}

/// A Byzantine fault's `adversary`, `to` (drop_to) and `duration`.
fn byzantine_entry(
    t: &mut Table,
    adversary: &crate::fault::byzantine::Adversary,
    duration: Option<SimDuration>,
    names: &[String],
) {
    t.insert("adversary".into(), Value::String(adversary.name().into()));
    if let crate::fault::byzantine::Adversary::DropTo(peers) = adversary {
        t.insert("to".into(), names_of(peers, names));
    }
    if let Some(d) = duration {
        t.insert("duration".into(), Value::String(duration_text(d)));
    }
}

fn set_entry(t: &mut Table, knob: &str, value: f64, duration: Option<SimDuration>) {
    t.insert("knob".into(), Value::String(knob.to_string()));
    t.insert("value".into(), Value::Float(value));
    if let Some(d) = duration {
        t.insert("duration".into(), Value::String(duration_text(d)));
    }
}

/// An aimed fault's keys, its picks as written (`@leader`, `@others`);
/// its kind.
fn aimed(t: &mut Table, action: &Action, picks: &[Vec<Pick>], names: &[String]) -> &'static str {
    debug_assert!(
        !picks.is_empty() && !picks[0].is_empty(),
        "an aimed fault without picks"
    );
    let first = || Value::String(picks[0][0].text(names));
    match action {
        Action::Crash | Action::Restart | Action::Isolate | Action::Reconnect => {
            t.insert("node".into(), first());
            match action {
                Action::Crash => "crash",
                Action::Restart => "restart",
                Action::Isolate => "isolate",
                _ => "reconnect",
            }
        }
        Action::CrashFor(downtime) => {
            t.insert("node".into(), first());
            t.insert("duration".into(), Value::String(duration_text(*downtime)));
            "crash"
        }
        Action::Pause(duration) => {
            t.insert("node".into(), first());
            t.insert("duration".into(), Value::String(duration_text(*duration)));
            "pause"
        }
        Action::ClockJump(by_ns) => {
            t.insert("node".into(), first());
            t.insert("by".into(), Value::String(signed_text(*by_ns)));
            "clock_jump"
        }
        Action::Partition | Action::Bridge => {
            let groups = if matches!(action, Action::Bridge) {
                t.insert("node".into(), first());
                &picks[1..]
            } else {
                picks
            };
            let lists = groups.iter().map(|g| picks_of(g, names)).collect();
            t.insert("groups".into(), Value::Array(lists));
            if matches!(action, Action::Bridge) {
                "bridge"
            } else {
                "partition"
            }
        }
        Action::OneWay | Action::SetLink { .. } => {
            t.insert("from".into(), picks_of(&picks[0], names));
            t.insert("to".into(), picks_of(&picks[1], names));
            match action {
                Action::SetLink {
                    change,
                    symmetric,
                    duration,
                } => {
                    link_change(t, change, *symmetric, *duration);
                    "set_link"
                }
                _ => "one_way",
            }
        }
        Action::Set {
            knob,
            value,
            duration,
        } => {
            set_entry(t, knob, *value, *duration);
            t.insert("nodes".into(), picks_of(&picks[0], names));
            "set"
        }
        Action::Byzantine {
            adversary,
            duration,
        } => {
            t.insert("node".into(), first());
            byzantine_entry(t, adversary, *duration, names);
            "byzantine"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Target;
    use crate::scenario::Scenario;
    use std::sync::Arc;

    #[test]
    fn durations_are_exact_and_short() {
        for (ns, text) in [
            (0, "0s"),
            (7, "7ns"),
            (190_500, "190.5us"),
            (150_000_000, "150ms"),
            (2_000_190_000, "2.00019s"),
            (1_500_000_000, "1.5s"),
            (3_000_000_001, "3.000000001s"),
            (60_000_000_000, "60s"),
        ] {
            assert_eq!(duration_text(SimDuration(ns)), text);
            assert_eq!(SimDuration::parse(text), Ok(SimDuration(ns)), "{text}");
        }
        assert_eq!(signed_text(-1_500_000_000), "-1.5s");
        assert_eq!(signed_text(250_000_000), "+250ms");
    }

    /// Three servers n1..n3 and clients c1, c2 of the service model, whose
    /// servers have the knob `capacity` and clients the knob `rate`.
    const BASE: &str = r#"
model = "service"
duration = "30s"
[service]
workers = 2
queue = 100
service_time = { dist = "exponential", mean = "50ms" }
rate = 5.0
deadline = "3s"
[workload]
clients = 2
timeout = "1s"
[nodes]
count = 3
"#;

    fn round_trip(faults: &[Fault]) {
        let scenario = Scenario::parse(BASE, "base.toml").unwrap_or_else(|e| panic!("{e}"));
        let names = scenario.names.clone();
        let mut table: Table = toml::from_str(BASE).expect("base parses");
        let entries: Vec<Value> = faults
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let at = SimTime(1_000_000_007 * (i as u64 + 1));
                Value::Table(fault_to_toml(at, f, &names))
            })
            .collect();
        table.insert("faults".into(), Value::Array(entries));
        let text = toml::to_string(&table).expect("serialises");
        let back = Scenario::parse(&text, "written.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back.faults.len(), faults.len());
        for (i, (planned, fault)) in back.faults.iter().zip(faults).enumerate() {
            assert_eq!(&planned.fault, fault, "{text}");
            assert_eq!(
                planned.time,
                crate::fault::FaultTime::fixed(SimTime(1_000_000_007 * (i as u64 + 1)))
            );
        }
    }

    #[test]
    fn every_fault_variant_round_trips_through_a_scenario_file() {
        let n = NodeId;
        let ms = SimDuration::from_millis;
        let p = |a, b| Probability::ratio(a, b);
        let change = LinkChange {
            latency: Some(Latency::Bimodal {
                min: ms(1),
                max: ms(3),
                slow_min: SimDuration(50_000_001),
                slow_max: ms(90),
                slow_probability: p(1, 3),
            }),
            loss: Some(p(1, 7)),
            duplicate: Some(Probability::from_f64(0.01).unwrap()),
        };
        let servers: Arc<[NodeId]> = (0..3).map(NodeId).collect();
        let leader = Target {
            role: Some("crashed".into()),
            random: false,
            offset: 1,
            servers: Arc::clone(&servers),
        };
        let random = Target {
            role: None,
            random: true,
            offset: 0,
            servers: Arc::clone(&servers),
        };
        let latencies = [
            Latency::Constant(SimDuration(3)),
            Latency::Uniform {
                min: ms(1),
                max: SimDuration(10_000_001),
            },
            Latency::Normal {
                mean: ms(5),
                stddev: ms(2),
                min: SimDuration::ZERO,
            },
            Latency::Exponential {
                mean: SimDuration(100_500),
                min: ms(1),
            },
        ];
        let mut faults = vec![
            Fault::Partition(Cut::Groups(vec![vec![n(0)], vec![n(1), n(3)]])),
            Fault::Partition(Cut::OneWay {
                from: vec![n(0), n(1)],
                to: vec![n(2)],
            }),
            Fault::Partition(Cut::Isolate(n(2))),
            Fault::Heal,
            Fault::Reconnect(n(2)),
            Fault::Crash(n(1)),
            Fault::Restart(n(1)),
            Fault::Pause {
                node: n(0),
                duration: SimDuration(190_123),
            },
            Fault::ClockJump {
                node: n(2),
                by_ns: -1_500_000_003,
            },
            Fault::ClockJump {
                node: n(2),
                by_ns: 7,
            },
            Fault::LossBurst {
                probability: p(3, 10),
                duration: ms(700),
            },
            Fault::HealAll,
            Fault::SetLink {
                from: vec![n(0)],
                to: vec![n(0), n(1)],
                change: change.clone(),
                symmetric: true,
                duration: Some(ms(5)),
            },
            Fault::Set {
                knob: Arc::from("rate"),
                value: 12.25,
                nodes: vec![n(3), n(4)],
                duration: Some(SimDuration::from_secs(2)),
            },
            Fault::Aimed {
                action: Action::Crash,
                picks: vec![vec![Pick::Target(leader.clone())]],
            },
            Fault::Aimed {
                action: Action::Bridge,
                picks: vec![
                    vec![Pick::Target(random.clone())],
                    vec![Pick::Node(n(0))],
                    vec![Pick::Others(Arc::clone(&servers))],
                ],
            },
            Fault::Aimed {
                action: Action::SetLink {
                    change: change.clone(),
                    symmetric: false,
                    duration: None,
                },
                picks: vec![
                    vec![Pick::Target(leader.clone())],
                    vec![Pick::Others(Arc::clone(&servers))],
                ],
            },
            Fault::Aimed {
                action: Action::OneWay,
                picks: vec![vec![Pick::Target(leader.clone())], vec![Pick::Node(n(1))]],
            },
            Fault::Aimed {
                action: Action::Pause(ms(30)),
                picks: vec![vec![Pick::Target(random)]],
            },
            Fault::Aimed {
                action: Action::Set {
                    knob: Arc::from("capacity"),
                    value: 2.0,
                    duration: None,
                },
                picks: vec![vec![Pick::Target(leader), Pick::Node(n(1))]],
            },
        ];
        for latency in latencies {
            faults.push(Fault::SetLink {
                from: vec![n(1)],
                to: vec![n(2)],
                change: LinkChange {
                    latency: Some(latency),
                    loss: None,
                    duplicate: None,
                },
                symmetric: false,
                duration: None,
            });
        }
        round_trip(&faults);
    }
}
