//! Fault times that resolve per seed or at run time, partitions aimed at
//! targets, and link changes mid-run:
//! - `at = ["1s", "1.075s"]` draws a time per seed, within the range;
//! - `after = "leader"` (a record kind) or `"role:leader"` fires `delay`
//!   after the first observation, watching from `at`; one never observed is
//!   traced as skipped at the end;
//! - `groups`, `from`, `to` take targets and `@others`; collisions skip;
//! - `set_link` changes only the links it names, `duration` and `heal_all`
//!   restore them.

use faultlab::engine::{EventKind, TraceEvent};
use faultlab::fault::Fault;
use faultlab::net::{Cut, DropReason};
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::{NodeId, SimTime};

/// Three raft servers and one client, `faults` appended.
fn raft(faults: &str) -> Scenario {
    raft_of(3, faults)
}

fn raft_of(servers: u32, faults: &str) -> Scenario {
    let text = format!(
        "model = \"raft\"\nduration = \"3.5s\"\n[raft]\nelection_timeout = [\"150ms\", \"300ms\"]\nheartbeat_interval = \"50ms\"\n[workload]\nclients = 1\ntimeout = \"100ms\"\n[nodes]\ncount = {servers}\n[liveness]\nafter = \"0s\"\nwithin = \"1s\"\n{faults}"
    );
    Scenario::parse(&text, "timing.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Three heartbeat nodes over constant 5ms links, `faults` appended.
fn heartbeat(faults: &str) -> Scenario {
    let text = format!(
        "model = \"heartbeat\"\nduration = \"3s\"\nchecks = [\"accuracy\"]\n[heartbeat]\ninterval = \"20ms\"\ntimeout = \"2s\"\n[nodes]\ncount = 3\n[network]\nlatency = {{ dist = \"constant\", value = \"5ms\" }}\n{faults}"
    );
    Scenario::parse(&text, "links.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Every trace event of a run.
fn events(scenario: &Scenario, seed: u64) -> Vec<TraceEvent> {
    let mut run = scenario.start(seed, RunOptions::default());
    let mut all = Vec::new();
    while run.step() {
        all.extend(run.events().iter().cloned());
    }
    all
}

/// The applied faults, with their times.
fn faults(events: &[TraceEvent]) -> Vec<(SimTime, Fault)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fault {
                fault,
                applied: true,
            } => Some((e.time, fault.clone())),
            _ => None,
        })
        .collect()
}

/// Times of the records of `kind`, and who recorded them.
fn records(events: &[TraceEvent], kind: &str) -> Vec<(SimTime, NodeId)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Record(r) if r.kind == kind => Some((e.time, e.node.unwrap())),
            _ => None,
        })
        .collect()
}

/// The skip reasons, with the fault's description.
fn skipped(events: &[TraceEvent], names: &[String]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e.kind.fault_line(names))
        .filter(|l| l.starts_with("fault skipped"))
        .collect()
}

fn ms(n: u64) -> SimTime {
    SimTime(n * 1_000_000)
}

#[test]
fn a_range_draws_a_time_per_seed_within_bounds() {
    let scenario = raft("[[faults]]\nat = [\"1s\", \"1.075s\"]\nkind = \"crash\"\nnode = \"n1\"\n");
    let mut times = std::collections::BTreeSet::new();
    for seed in 0..12 {
        let schedule = scenario.fault_schedule(seed);
        let at = schedule.timed[0].at;
        assert!((ms(1000)..=ms(1075)).contains(&at), "seed {seed}: {at}");
        assert_eq!(scenario.fault_schedule(seed), schedule, "seed {seed}");
        times.insert(at);
        if seed < 3 {
            let applied = faults(&events(&scenario, seed));
            assert_eq!(applied, vec![(at, Fault::Crash(NodeId(0)))], "seed {seed}");
        }
    }
    assert!(times.len() > 8, "{times:?}");
}

#[test]
fn a_range_leaves_the_other_streams_alone() {
    // Chaos draws from "faults", times from "fault_times": a range added
    // to the file does not move a single chaos fault.
    let chaos =
        "[chaos]\nuntil = \"3s\"\ncrash_every = \"500ms\"\ndowntime = [\"100ms\", \"300ms\"]\n";
    let plain = raft(chaos);
    let ranged = raft(&format!(
        "{chaos}[[faults]]\nat = [\"1s\", \"2s\"]\nkind = \"heal\"\n"
    ));
    for seed in 0..4 {
        let without: Vec<_> = plain.fault_schedule(seed).timed;
        let mut with = ranged.fault_schedule(seed).timed;
        with.retain(|f| f.fault != Fault::Heal);
        assert_eq!(with, without, "seed {seed}");
    }
}

#[test]
fn after_a_record_the_fault_fires_exactly_the_delay_later() {
    let scenario = raft(
        "[[faults]]\nafter = \"leader\"\ndelay = \"150ms\"\nkind = \"crash\"\nnode = \"@leader\"\n",
    );
    for seed in 0..4 {
        let all = events(&scenario, seed);
        let (elected, leader) = records(&all, "leader")[0];
        let applied = faults(&all);
        assert_eq!(
            applied[0],
            (
                elected + faultlab::SimDuration::from_millis(150),
                Fault::Crash(leader)
            ),
            "seed {seed}"
        );
        assert_eq!(applied.len(), 1, "fires once: {applied:?}");
    }
}

#[test]
fn a_delay_range_is_drawn_per_seed_and_at_starts_the_watch() {
    // The first leader is crashed at 0.5s; the trigger watches from 0.6s,
    // so it fires on the next leader's record, not the first one's.
    let scenario = raft(
        "[[faults]]\nat = \"500ms\"\nkind = \"crash\"\nnode = \"@leader\"\n\
         [[faults]]\nafter = \"leader\"\nat = \"600ms\"\ndelay = [\"10ms\", \"90ms\"]\nkind = \"pause\"\nnode = \"@leader\"\nduration = \"50ms\"\n",
    );
    let mut delays = std::collections::BTreeSet::new();
    for seed in 0..6 {
        let all = events(&scenario, seed);
        let seen = records(&all, "leader")
            .into_iter()
            .find(|(t, _)| *t >= ms(600))
            .expect("a second leader");
        let (at, fault) = faults(&all)
            .into_iter()
            .find(|(_, f)| matches!(f, Fault::Pause { .. }))
            .expect("the pause");
        assert_eq!(
            fault,
            Fault::Pause {
                node: seen.1,
                duration: faultlab::SimDuration::from_millis(50)
            }
        );
        let delay = at.0 - seen.0 .0;
        assert!(
            (10_000_000..=90_000_000).contains(&delay),
            "seed {seed}: {delay}"
        );
        delays.insert(delay);
    }
    assert!(delays.len() > 3, "{delays:?}");
}

#[test]
fn a_role_trigger_fires_when_a_server_takes_the_role_or_already_holds_it() {
    let scenario = raft(
        "[[faults]]\nafter = \"role:leader\"\ndelay = \"20ms\"\nkind = \"isolate\"\nnode = \"@leader\"\n\
         [[faults]]\nat = \"1s\"\nkind = \"heal\"\n\
         [[faults]]\nafter = \"role:leader\"\nat = \"2s\"\nkind = \"clock_jump\"\nnode = \"n1\"\nby = \"1ms\"\n\
         [[faults]]\nat = \"2.5s\"\nkind = \"crash\"\nnode = \"n2\"\n\
         [[faults]]\nafter = \"role:crashed\"\nat = \"2.4s\"\ndelay = \"100ms\"\nkind = \"restart\"\nnode = \"@crashed\"\n",
    );
    let all = events(&scenario, 2);
    let (elected, leader) = records(&all, "leader")[0];
    let applied = faults(&all);
    assert_eq!(
        applied[0],
        (
            elected + faultlab::SimDuration::from_millis(20),
            Fault::Partition(Cut::Isolate(leader))
        )
    );
    // A leader exists at 2s: the watch starting then fires at once.
    assert!(applied
        .iter()
        .any(|(t, f)| *t == ms(2000) && matches!(f, Fault::ClockJump { .. })));
    // n2 crashes at 2.5s; "crashed" is a role: restarted 100ms later.
    assert!(
        applied.contains(&(ms(2600), Fault::Restart(NodeId(1)))),
        "{applied:?}"
    );
}

#[test]
fn a_trigger_never_observed_or_due_after_the_end_is_traced_as_skipped() {
    let scenario = raft(
        "[[faults]]\nafter = \"no_such_record\"\nkind = \"crash\"\nnode = \"n1\"\n\
         [[faults]]\nafter = \"leader\"\ndelay = \"4s\"\nkind = \"crash\"\nnode = \"n2\"\n",
    );
    let all = events(&scenario, 1);
    assert!(faults(&all).is_empty());
    let said = skipped(&all, &scenario.names);
    assert_eq!(said.len(), 2, "{said:?}");
    assert_eq!(
        said[0],
        "fault skipped: after = \"no_such_record\" was not observed from 0.000s to 3.500s (crash n1)"
    );
    assert!(
        said[1].starts_with("fault skipped: after = \"leader\" was observed at ")
            && said[1].ends_with(", after 3.500s (crash n2)"),
        "{}",
        said[1]
    );
    let first = all
        .iter()
        .find(|e| matches!(e.kind, EventKind::Skipped { .. }))
        .unwrap();
    assert_eq!(first.time, ms(3500), "traced at the end");
    // The JSON trace and the report say so too.
    let report = run(
        &scenario,
        1,
        RunOptions {
            narrate: 100,
            ..RunOptions::default()
        },
    );
    assert!(report
        .narration
        .iter()
        .any(|l| l.contains("fault skipped: after = \"no_such_record\"")));
    assert_eq!(
        first.to_json(&scenario.names)["skipped"],
        "after = \"no_such_record\" was not observed from 0.000s to 3.500s"
    );
}

#[test]
fn groups_take_targets_and_others() {
    let scenario = raft_of(
        5,
        "[[faults]]\nafter = \"leader\"\ndelay = \"50ms\"\nkind = \"partition\"\ngroups = [[\"@leader\", \"@leader+1\"], [\"@others\"]]\n",
    );
    for seed in 0..3 {
        let all = events(&scenario, seed);
        let leader = records(&all, "leader")[0].1;
        let next = NodeId((leader.0 + 1) % 5);
        let others: Vec<NodeId> = (0..5)
            .map(NodeId)
            .filter(|n| *n != leader && *n != next)
            .collect();
        let (_, fault) = faults(&all)[0].clone();
        // Clients are in no group: they reach both sides.
        assert_eq!(
            fault,
            Fault::Partition(Cut::Groups(vec![vec![leader, next], others])),
            "seed {seed}"
        );
    }
}

#[test]
fn a_one_way_cut_and_a_bridge_take_targets() {
    let scenario = raft(
        "[[faults]]\nat = \"1s\"\nkind = \"one_way\"\nfrom = [\"@leader\"]\nto = [\"@others\"]\n\
         [[faults]]\nat = \"2s\"\nkind = \"heal\"\n\
         [[faults]]\nat = \"2.5s\"\nkind = \"bridge\"\nnode = \"@leader\"\ngroups = [[\"@leader+1\"], [\"@leader+2\"]]\n",
    );
    let all = events(&scenario, 1);
    let applied = faults(&all);
    let Fault::Partition(Cut::OneWay { from, to }) = &applied[0].1 else {
        panic!("{applied:?}");
    };
    assert_eq!(from.len(), 1);
    assert_eq!(to.len(), 2);
    assert!(!to.contains(&from[0]));
    let Fault::Partition(Cut::Groups(groups)) = &applied[2].1 else {
        panic!("{applied:?}");
    };
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups.iter().flatten().count(),
        2,
        "the bridge is in no group"
    );
}

#[test]
fn two_picks_naming_one_server_or_others_naming_nobody_skip_the_fault() {
    let scenario = raft(
        "[[faults]]\nat = \"1s\"\nkind = \"partition\"\ngroups = [[\"@leader+1\"], [\"@leader+4\"]]\n\
         [[faults]]\nat = \"1.5s\"\nkind = \"partition\"\ngroups = [[\"@leader\"], [\"@leader+1\", \"@leader+2\"], [\"@others\"]]\n\
         [[faults]]\nat = \"2s\"\nkind = \"set_link\"\nfrom = [\"@leader\"]\nto = [\"@leader\"]\nloss = 0.5\n",
    );
    let all = events(&scenario, 1);
    let leader = records(&all, "leader")[0].1;
    let next = &scenario.names[(leader.index() + 1) % 3];
    let said = skipped(&all, &scenario.names);
    assert_eq!(
        said,
        vec![
            format!(
                "fault skipped: @leader+1 and @leader+4 both name {next} (partition {{@leader+1}} | {{@leader+4}})"
            ),
            "fault skipped: @others names nobody (partition {@leader} | {@leader+1,@leader+2} | {@others})".to_string(),
        ]
    );
    // set_link's from and to may share a node (a self-link is never changed).
    assert!(faults(&all)
        .iter()
        .any(|(_, f)| matches!(f, Fault::SetLink { .. })));
}

/// The latency of each message `from -> to` sent in `[start, end)`.
fn latencies(all: &[TraceEvent], from: u32, to: u32, start: u64, end: u64) -> Vec<u64> {
    all.iter()
        .filter(|e| e.node == Some(NodeId(from)) && (ms(start)..ms(end)).contains(&e.time))
        .filter_map(|e| match &e.kind {
            EventKind::Send { to: t, arrival, .. }
                if *t == NodeId(to) && *arrival != SimTime::MAX =>
            {
                Some((arrival.0 - e.time.0) / 1_000_000)
            }
            _ => None,
        })
        .collect()
}

fn drops(all: &[TraceEvent], from: u32, to: u32, start: u64, end: u64) -> usize {
    all.iter()
        .filter(|e| (ms(start)..ms(end)).contains(&e.time))
        .filter(|e| {
            matches!(&e.kind, EventKind::Drop { from: f, to: t, reason: DropReason::Loss, .. }
                if *f == NodeId(from) && *t == NodeId(to))
        })
        .count()
}

#[test]
fn set_link_changes_only_the_named_links_and_duration_restores_them() {
    let scenario = heartbeat(
        "[[faults]]\nat = \"1s\"\nkind = \"set_link\"\nfrom = [\"n1\"]\nto = [\"n2\"]\nlatency = { dist = \"constant\", value = \"50ms\" }\nduration = \"1s\"\n\
         [[faults]]\nat = \"1s\"\nkind = \"set_link\"\nfrom = [\"n3\"]\nto = [\"n1\"]\nloss = 1.0\nduration = \"500ms\"\n",
    );
    let all = events(&scenario, 1);
    let only = |v: Vec<u64>, want: u64| {
        assert!(
            !v.is_empty() && v.iter().all(|&l| l == want),
            "{v:?} (want {want})"
        )
    };
    only(latencies(&all, 0, 1, 0, 1000), 5);
    only(latencies(&all, 0, 1, 1000, 2000), 50);
    only(latencies(&all, 0, 1, 2000, 3000), 5);
    // The reverse direction and the other links keep their latency.
    only(latencies(&all, 1, 0, 1000, 2000), 5);
    only(latencies(&all, 0, 2, 1000, 2000), 5);
    // n3 -> n1 loses everything for 500ms, then nothing; n3 -> n2 nothing.
    assert!(latencies(&all, 2, 0, 1000, 1500).is_empty());
    assert!(drops(&all, 2, 0, 1000, 1500) > 10);
    only(latencies(&all, 2, 0, 1500, 3000), 5);
    assert_eq!(
        drops(&all, 2, 1, 0, 3000) + drops(&all, 2, 0, 1500, 3000),
        0
    );
    let restored: Vec<SimTime> = all
        .iter()
        .filter(|e| matches!(e.kind, EventKind::LinksRestored { .. }))
        .map(|e| e.time)
        .collect();
    assert_eq!(restored, vec![ms(1500), ms(2000)]);
}

#[test]
fn symmetric_links_heal_keeps_and_heal_all_resets() {
    let scenario = heartbeat(
        "[[faults]]\nat = \"500ms\"\nkind = \"partition\"\ngroups = [[\"n1\"], [\"n2\", \"n3\"]]\n\
         [[faults]]\nat = \"1s\"\nkind = \"set_link\"\nfrom = [\"n1\"]\nto = [\"n2\"]\nsymmetric = true\nlatency = { dist = \"constant\", value = \"30ms\" }\n\
         [[faults]]\nat = \"1.5s\"\nkind = \"heal\"\n\
         [[faults]]\nat = \"2s\"\nkind = \"heal_all\"\n",
    );
    let all = events(&scenario, 1);
    let only = |v: Vec<u64>, want: u64| {
        assert!(
            !v.is_empty() && v.iter().all(|&l| l == want),
            "{v:?} (want {want})"
        )
    };
    assert!(latencies(&all, 0, 1, 1000, 1500).is_empty(), "still cut");
    only(latencies(&all, 0, 1, 1500, 2000), 30);
    only(latencies(&all, 1, 0, 1500, 2000), 30);
    only(latencies(&all, 0, 2, 1500, 2000), 5);
    only(latencies(&all, 0, 1, 2000, 3000), 5);
    only(latencies(&all, 1, 0, 2000, 3000), 5);
}

#[test]
fn every_new_knob_on_same_seed_same_hash() {
    let scenario = Scenario::load("scenarios/raft-leader-partition.toml").expect("the scenario");
    let mut hashes = std::collections::BTreeSet::new();
    for seed in [1, 2] {
        let a = run(&scenario, seed, RunOptions::default());
        let b = run(&scenario, seed, RunOptions::default());
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert!(a.expectation_met, "seed {seed}: {:?}", a.violations);
        hashes.insert(a.trace_hash);
    }
    assert_eq!(hashes.len(), 2);
}
