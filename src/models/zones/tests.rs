//! The zones model's behaviour, read from its records: the statically
//! stable service keeps its goodput through a zone's loss, the on-demand
//! one loses it while its control plane is cut off and scales out when
//! the control plane is reachable.

use super::{ZonesModel, ZonesTable};
use crate::check::{Checker, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::model::{Layout, Model};
use crate::models::workload::Workload;
use crate::scenario::{run, RunOptions, Scenario};
use crate::time::{SimDuration, SimTime};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

/// What the records say, per second of true time.
#[derive(Default)]
struct Tally {
    requests: Vec<u64>,
    good: Vec<u64>,
    done: u64,
    /// (client, id) of every `request` and every `done`: each once.
    issued: BTreeSet<(u32, u64)>,
    ended: BTreeSet<(u32, u64)>,
    sheds: Vec<String>,
    /// `done` records by `why`, from second 9 on.
    whys_late: std::collections::BTreeMap<String, u64>,
    /// True times (ms) of `scale_out` records, and of `backend_down`.
    scale_outs: Vec<u64>,
    backend_down: Vec<u64>,
}

impl Tally {
    /// Good requests done in `[from, to)` seconds, over requests issued then.
    fn goodput(&self, from: usize, to: usize) -> f64 {
        let sum = |v: &[u64]| v.iter().skip(from).take(to - from).sum::<u64>() as f64;
        sum(&self.good) / sum(&self.requests).max(1.0)
    }
}

struct Collect(Rc<RefCell<Tally>>);

impl Checker for Collect {
    fn name(&self) -> &'static str {
        "collect"
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        let EventKind::Record(r) = &event.kind else {
            return None;
        };
        let mut t = self.0.borrow_mut();
        let second = (event.time.0 / 1_000_000_000) as usize;
        let ms = event.time.0 / 1_000_000;
        let bump = |v: &mut Vec<u64>| {
            if v.len() <= second {
                v.resize(second + 1, 0);
            }
            v[second] += 1;
        };
        let key = || (event.node.unwrap().0, r.detail["id"].as_u64().unwrap());
        match r.kind.as_str() {
            "request" => {
                bump(&mut t.requests);
                assert!(t.issued.insert(key()), "request {:?} issued twice", key());
            }
            "done" => {
                t.done += 1;
                assert!(t.issued.contains(&key()), "{:?} done, never issued", key());
                assert!(t.ended.insert(key()), "request {:?} ended twice", key());
                if r.detail["good"].as_bool().unwrap() {
                    bump(&mut t.good);
                }
                if second >= 9 {
                    let why = r.detail["why"].as_str().unwrap().to_string();
                    *t.whys_late.entry(why).or_default() += 1;
                }
            }
            "shed" => t.sheds.push(r.detail["why"].as_str().unwrap().to_string()),
            "scale_out" => t.scale_outs.push(ms),
            "backend_down" => t.backend_down.push(ms),
            _ => {}
        }
        None
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// Runs scenario text with `seed`; the tally of its records.
fn tally(text: &str, seed: u64) -> Tally {
    let scenario = Scenario::parse(text, "zones.toml").unwrap_or_else(|e| panic!("{e}"));
    let shared = Rc::new(RefCell::new(Tally::default()));
    let options = RunOptions {
        narrate: 0,
        extra_checks: vec![Box::new(Collect(Rc::clone(&shared)))],
        ..RunOptions::default()
    };
    let report = run(&scenario, seed, options);
    // The scenarios judge goodput themselves (`goodput_slo`); these tests
    // read the records, so only that verdict may differ from a pass.
    assert!(
        report
            .violations
            .iter()
            .all(|v| v.name == "goodput_below_slo"),
        "{:?}",
        report.violations
    );
    Rc::try_unwrap(shared).ok().unwrap().into_inner()
}

fn file(name: &str) -> String {
    std::fs::read_to_string(format!("scenarios/{name}.toml")).unwrap()
}

/// `text` with the line that sets `key` setting it to `value`.
fn with(text: &str, key: &str, value: &str) -> String {
    let prefix = format!("{key} = ");
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.starts_with(&prefix) {
            true => format!("{prefix}{value}"),
            false => l.to_string(),
        })
        .collect();
    assert!(
        lines.iter().any(|l| l == &format!("{prefix}{value}")),
        "no {key}"
    );
    lines.join("\n") + "\n"
}

#[test]
fn the_statically_stable_service_keeps_its_goodput_through_a_zone_loss() {
    for seed in [1, 2] {
        let t = tally(&file("zones-static"), seed);
        assert!(t.goodput(2, 8) > 0.95, "before: {}", t.goodput(2, 8));
        // From a second after the cut to the heal: the two zones carry it.
        assert!(t.goodput(9, 23) > 0.95, "during: {}", t.goodput(9, 23));
        assert_eq!(
            t.backend_down, [8400; 4],
            "n3..n6 out after two missed checks"
        );
        assert!(t.scale_outs.is_empty(), "nothing is launched");
        assert!(t.sheds.is_empty(), "{:?}", t.sheds);
        let requests: u64 = t.requests.iter().sum();
        // Every request ends but those issued in the last moments.
        assert!(
            t.done <= requests && t.done + 60 > requests,
            "{} of {requests}",
            t.done
        );
    }
}

#[test]
fn the_on_demand_service_loses_its_goodput_while_its_control_plane_is_cut_off() {
    let t = tally(&file("zones-on-demand"), 1);
    assert!(t.goodput(2, 8) > 0.95, "before: {}", t.goodput(2, 8));
    assert!(t.goodput(16, 23) < 0.3, "during: {}", t.goodput(16, 23));
    assert!(t.scale_outs.is_empty(), "the control plane hears nothing");
    // After the heal the queues of the six servers take seconds to drain
    // (their waiting requests are served late: wasted work).
    assert!(
        t.goodput(32, 35) > 0.9,
        "after the heal: {}",
        t.goodput(32, 35)
    );
}

#[test]
fn the_on_demand_service_scales_out_when_its_control_plane_is_reachable() {
    // The control plane in zone b: the partition leaves it with the balancer.
    let text = file("zones-on-demand").replace(
        "[[\"n2\", \"n3\", \"n4\", \"n5\", \"n12\", \"n13\"], [\"n1\",",
        "[[\"n3\", \"n4\", \"n5\", \"n12\", \"n13\"], [\"n1\", \"n2\",",
    );
    assert_ne!(text, file("zones-on-demand"));
    let t = tally(&text, 1);
    let first = t.scale_outs[0];
    assert!((8400..=11_000).contains(&first), "launched at {first}ms");
    // Too late for the first seconds; once the new servers serve, it recovers.
    assert!(
        t.goodput(12, 19) < 0.2,
        "before they serve: {}",
        t.goodput(12, 19)
    );
    assert!(t.goodput(25, 35) > 0.9, "with them: {}", t.goodput(25, 35));
}

#[test]
fn a_set_fault_turns_the_clients_rate_and_the_servers_capacity() {
    let text = format!(
        "{}{}",
        file("zones-static"),
        concat!(
            "[[faults]]\nat = \"2s\"\nkind = \"set\"\nknob = \"rate\"\nvalue = 0\nnodes = \"clients\"\nduration = \"2s\"\n",
            "[[faults]]\nat = \"5s\"\nkind = \"set\"\nknob = \"capacity\"\nvalue = 1\nnodes = [\"n7\"]\n",
        )
    );
    let t = tally(&text, 1);
    assert_eq!(t.requests[2..4], [0, 0], "{:?}", t.requests);
    assert!(t.requests[4] > 50, "the rate is back: {:?}", t.requests);
    // One worker at n7 (5 requests/s of the 11 to 16 it gets): its queue fills and it sheds.
    assert!(!t.sheds.is_empty() && t.sheds.iter().all(|w| w == "queue_full"));
}

#[test]
fn a_restarted_client_numbers_its_requests_anew() {
    let text = format!(
        "{}{}",
        file("zones-static"),
        "[[faults]]\nat = \"3s\"\nkind = \"crash\"\nnode = \"c1\"\n[[faults]]\nat = \"4s\"\nkind = \"restart\"\nnode = \"c1\"\n",
    );
    let t = tally(&text, 1);
    let after: Vec<u64> = t
        .issued
        .iter()
        .filter(|(c, id)| *c == 14 && *id >= 1 << 32)
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(
        after.first(),
        Some(&(1 << 32)),
        "the second incarnation starts at 2^32"
    );
    assert!(after.len() > 1000, "{}", after.len());
}

#[test]
fn with_no_server_in_rotation_requests_fail_at_once() {
    // The static service without its zone fault: every server cut off at 5s.
    let base = with(&file("zones-static"), "duration", "\"12s\"");
    let base = &base[..base.find("[[faults]]").unwrap()];
    let servers: Vec<String> = (3..=14).map(|i| format!("\"n{i}\"")).collect();
    let text = format!(
        "{base}[[faults]]\nat = \"5s\"\nkind = \"partition\"\ngroups = [[{}], [\"n1\", \"n2\", \"c1\", \"c2\"]]\n",
        servers.join(", ")
    );
    let t = tally(&text, 1);
    // From 9s (the calls sent before the balancer noticed have timed
    // out), every request ends at once: no server in rotation.
    let whys: Vec<&str> = t.whys_late.keys().map(String::as_str).collect();
    assert_eq!(whys, ["error"], "{:?}", t.whys_late);
    assert!(t.whys_late["error"] > 300, "{:?}", t.whys_late);
}

#[test]
fn a_server_sheds_beyond_its_queue() {
    let text = with(&with(&file("zones-static"), "queue", "2"), "rate", "200.0");
    let t = tally(&text, 1);
    assert!(t.sheds.len() > 1000, "{}", t.sheds.len());
}

fn table(rate: f64) -> ZonesTable {
    ZonesTable {
        rate,
        active: None,
        workers: None,
        service_time: None,
        queue: None,
        deadline: None,
        health_interval: None,
        unhealthy_after: None,
        report_interval: None,
        target_utilization: None,
        provisioning_delay: None,
        bugs: vec![],
    }
}

#[test]
fn bad_parameters_name_their_key() {
    let layout = Layout {
        servers: 5,
        workload: Some(Workload {
            clients: 1,
            think_min: SimDuration::ZERO,
            think_max: SimDuration::ZERO,
            timeout: SimDuration::from_secs(1),
            read_ppm: 0,
            keys: 1,
        }),
    };
    let key = |t: ZonesTable| ZonesModel.params(t, &layout).unwrap_err().key.unwrap();
    assert_eq!(
        key(ZonesTable {
            active: Some(4),
            ..table(1.0)
        }),
        "active"
    );
    assert_eq!(
        key(ZonesTable {
            active: Some(0),
            ..table(1.0)
        }),
        "active"
    );
    assert_eq!(
        key(ZonesTable {
            workers: Some(0),
            ..table(1.0)
        }),
        "workers"
    );
    assert_eq!(key(table(-1.0)), "rate");
    assert_eq!(key(table(f64::NAN)), "rate");
    let target = |v| ZonesTable {
        target_utilization: Some(v),
        ..table(1.0)
    };
    assert_eq!(key(target(0.0)), "target_utilization");
    assert_eq!(key(target(1.5)), "target_utilization");
    assert_eq!(
        key(ZonesTable {
            unhealthy_after: Some(0),
            ..table(1.0)
        }),
        "unhealthy_after"
    );
    let zero = Some(SimDuration::ZERO);
    assert_eq!(
        key(ZonesTable {
            service_time: zero,
            ..table(1.0)
        }),
        "service_time"
    );
    assert_eq!(
        key(ZonesTable {
            provisioning_delay: zero,
            ..table(1.0)
        }),
        "provisioning_delay"
    );
    let p = ZonesModel.params(table(10.0), &layout).unwrap();
    assert_eq!((p.active, p.deadline), (3, SimDuration::from_secs(1)));
    assert_eq!(p.server_capacity(), 100.0);
}

#[test]
fn bug_rotation_needs_control_plane_takes_the_healthy_zones_out_with_the_control_plane() {
    let text = file("zones-static").replacen(
        "[zones]\n",
        "[zones]\nbugs = [\"rotation_needs_control_plane\"]\n",
        1,
    );
    let t = tally(&text, 1);
    assert!(t.goodput(2, 8) > 0.95, "before: {}", t.goodput(2, 8));
    // n3..n6 out after two missed checks, as without the bug; then, 3
    // report intervals after the control plane's last renewal, the eight
    // healthy servers of zones b and c too.
    assert_eq!(t.backend_down.len(), 12, "{:?}", t.backend_down);
    assert_eq!(t.backend_down[..4], [8400; 4]);
    assert!(
        t.backend_down[4..]
            .iter()
            .all(|&ms| (10_000..10_500).contains(&ms)),
        "{:?}",
        t.backend_down
    );
    // Until the heal (23s) nothing is served: every request fails at once.
    assert!(t.goodput(11, 23) < 0.01, "during: {}", t.goodput(11, 23));
    assert!(
        t.whys_late.get("error").copied().unwrap_or(0) > 1000,
        "{:?}",
        t.whys_late
    );
    // After the heal a renewal brings them back.
    assert!(t.goodput(25, 34) > 0.95, "after: {}", t.goodput(25, 34));
}
