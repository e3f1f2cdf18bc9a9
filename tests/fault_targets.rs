//! Faults aimed at roles resolve when they fire: `@leader` is whoever leads
//! then, `@random` draws per seed, `+K` walks the servers, and a target
//! that names nobody is skipped and says so in the trace.

use faultlab::engine::EventKind;
use faultlab::fault::Fault;
use faultlab::net::Cut;
use faultlab::scenario::{run, RunOptions, RunReport, Scenario};

/// Three raft servers, no clients, `faults` appended.
fn raft(faults: &str) -> Scenario {
    let text = format!(
        "model = \"raft\"\nduration = \"3.5s\"\n[raft]\nelection_timeout = [\"150ms\", \"300ms\"]\nheartbeat_interval = \"50ms\"\n[workload]\nclients = 1\ntimeout = \"100ms\"\n[nodes]\ncount = 3\n[liveness]\nwithin = \"1s\"\n{faults}"
    );
    Scenario::parse(&text, "targets.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn go(scenario: &Scenario, seed: u64) -> RunReport {
    let options = RunOptions {
        narrate: 1000,
        ..RunOptions::default()
    };
    run(scenario, seed, options)
}

/// The narrated lines after the time stamp.
fn lines(report: &RunReport) -> Vec<String> {
    report
        .narration
        .iter()
        .map(|l| {
            l.trim_start()
                .split_once(' ')
                .map_or("", |(_, rest)| rest)
                .trim()
                .to_string()
        })
        .collect()
}

/// The node that won the first election, from `nX leader term=1`.
fn first_leader(report: &RunReport) -> String {
    let line = lines(report)
        .into_iter()
        .find(|l| l.contains(" leader "))
        .expect("a leader was elected");
    line.split(' ').next().unwrap().to_string()
}

/// The leader last elected before the narrated line starting with `fault`.
fn leader_before(report: &RunReport, fault: &str) -> String {
    let said = lines(report);
    let at = said
        .iter()
        .position(|l| l.starts_with(fault))
        .expect("the fault");
    let line = said[..at]
        .iter()
        .rev()
        .find(|l| l.contains(" leader "))
        .expect("a leader before the fault");
    line.split(' ').next().unwrap().to_string()
}

fn next(name: &str) -> String {
    let i: u32 = name[1..].parse().unwrap();
    format!("n{}", i % 3 + 1)
}

#[test]
fn at_leader_crashes_whoever_leads_and_plus_one_the_next() {
    let scenario = raft(
        "[[faults]]\nat = \"1s\"\nkind = \"isolate\"\nnode = \"@leader+1\"\n\
         [[faults]]\nat = \"1.5s\"\nkind = \"heal\"\n\
         [[faults]]\nat = \"2s\"\nkind = \"crash\"\nnode = \"@leader\"\n",
    );
    for seed in 0..6 {
        let report = go(&scenario, seed);
        let said = lines(&report);
        let leader = leader_before(&report, "isolate ");
        assert!(
            said.contains(&format!("isolate {}", next(&leader))),
            "seed {seed}: {said:?}"
        );
        let now = leader_before(&report, "crash ");
        assert!(
            said.contains(&format!("crash {now}")),
            "seed {seed}: {said:?}"
        );
    }
}

#[test]
fn a_target_naming_nobody_is_skipped_and_traced() {
    let scenario = raft(
        "[[faults]]\nat = \"1s\"\nkind = \"restart\"\nnode = \"@crashed\"\n\
         [[faults]]\nat = \"1s\"\nkind = \"pause\"\nnode = \"@random:candidate\"\nduration = \"1s\"\n",
    );
    let report = go(&scenario, 1);
    let said = lines(&report);
    assert!(
        said.contains(&"fault skipped: no @crashed (restart @crashed)".to_string()),
        "{said:?}"
    );
    assert!(
        said.contains(
            &"fault skipped: no @random:candidate (pause @random:candidate for 1s)".to_string()
        ),
        "{said:?}"
    );
    assert_eq!(report.faults, 0, "skipped faults are not applied");
    // The JSON trace says so too.
    let path = std::env::temp_dir().join(format!("faultlab-skipped-{}.jsonl", std::process::id()));
    let options = RunOptions {
        trace: Some(Box::new(std::fs::File::create(&path).expect("a temp file"))),
        ..RunOptions::default()
    };
    run(&scenario, 1, options);
    let trace = std::fs::read_to_string(&path).expect("the trace");
    let _ = std::fs::remove_file(&path);
    assert!(trace.contains(r#""skipped":"no @crashed""#), "{trace:.300}");
}

#[test]
fn restart_at_crashed_brings_back_the_crashed_leader() {
    let scenario = raft(
        "[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"@leader\"\n\
         [[faults]]\nat = \"2s\"\nkind = \"restart\"\nnode = \"@crashed\"\n",
    );
    let report = go(&scenario, 3);
    let leader = first_leader(&report);
    let said = lines(&report);
    assert!(said.contains(&format!("restart {leader}")), "{said:?}");
    assert!(report.expectation_met, "{:?}", report.violations);
}

#[test]
fn random_targets_are_deterministic_per_seed_and_vary_across_seeds() {
    let scenario = raft(
        "[[faults]]\nat = \"1s\"\nkind = \"pause\"\nnode = \"@random\"\nduration = \"200ms\"\n\
         [[faults]]\nat = \"2s\"\nkind = \"crash\"\nnode = \"@random:follower\"\n",
    );
    let mut paused = std::collections::BTreeSet::new();
    for seed in 0..8 {
        let a = go(&scenario, seed);
        let b = go(&scenario, seed);
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.narration, b.narration, "seed {seed}");
        let said = lines(&a);
        let pause = said
            .iter()
            .find(|l| l.starts_with("pause "))
            .expect("a pause");
        paused.insert(pause.clone());
        let leader_at_2s = leader_before(&a, "crash ");
        let crash = said
            .iter()
            .find(|l| l.starts_with("crash "))
            .expect("a crash");
        assert_ne!(
            crash,
            &format!("crash {leader_at_2s}"),
            "seed {seed}: a follower, not the leader"
        );
    }
    assert!(
        paused.len() > 1,
        "@random picked the same node for every seed: {paused:?}"
    );
}

#[test]
fn the_isolated_leader_steps_down_after_the_heal() {
    let scenario = Scenario::load("scenarios/raft-leader-isolate.toml").expect("the scenario");
    for seed in [1, 7] {
        let mut run = scenario.start(seed, RunOptions::default());
        let mut isolated = None;
        let mut checked_before = false;
        while run.now() < faultlab::SimTime(5_500_000_000) && run.step() {
            for e in run.events() {
                if let EventKind::Fault {
                    fault: Fault::Partition(Cut::Isolate(n)),
                    ..
                } = &e.kind
                {
                    isolated = Some(*n);
                }
            }
            if !checked_before && run.now() >= faultlab::SimTime(4_900_000_000) {
                // Cut off, it still believes it leads.
                let old = isolated.expect("the leader was isolated");
                let state = run.node_state(old).expect("a raft server's state");
                assert!(state.contains("role: Leader"), "seed {seed}: {state}");
                checked_before = true;
            }
        }
        let old = isolated.expect("the leader was isolated");
        let state = run.node_state(old).expect("a raft server's state");
        assert!(state.contains("role: Follower"), "seed {seed}: {state}");
    }
}

/// Every node a fault names (partitions: every node in a group or side).
fn nodes_hit(fault: &Fault) -> Vec<usize> {
    match fault {
        Fault::Crash(n) | Fault::Restart(n) | Fault::Reconnect(n) => vec![n.index()],
        Fault::Pause { node, .. } | Fault::ClockJump { node, .. } => vec![node.index()],
        Fault::Partition(Cut::Isolate(n)) => vec![n.index()],
        Fault::Partition(Cut::Groups(groups)) => {
            groups.iter().flatten().map(|n| n.index()).collect()
        }
        Fault::Partition(Cut::OneWay { from, to }) => {
            from.iter().chain(to).map(|n| n.index()).collect()
        }
        _ => Vec::new(),
    }
}

#[test]
fn chaos_hits_servers_only_unless_told() {
    let chaos = "[chaos]\nuntil = \"2s\"\ncrash_every = \"300ms\"\npartition_every = \"300ms\"\npause_every = \"300ms\"\nclock_jump_every = \"300ms\"\n";
    let servers_only = raft(chaos);
    let everyone = raft(&format!("{chaos}targets = [\"all\"]\n"));
    let clients_only = raft(&format!("{chaos}targets = [\"clients\"]\n"));
    let (mut client_hit, mut server_hit) = (false, false);
    for seed in 0..50 {
        for f in servers_only.fault_schedule(seed).timed {
            assert!(
                nodes_hit(&f.fault).iter().all(|&n| n < 3),
                "seed {seed}: default chaos touched a client: {:?}",
                f.fault
            );
        }
        for f in clients_only.fault_schedule(seed).timed {
            assert!(nodes_hit(&f.fault).iter().all(|&n| n >= 3), "{:?}", f.fault);
        }
        for f in everyone.fault_schedule(seed).timed {
            let hit = nodes_hit(&f.fault);
            client_hit |= hit.iter().any(|&n| n >= 3);
            server_hit |= hit.iter().any(|&n| n < 3);
        }
    }
    assert!(
        client_hit && server_hit,
        "targets = [\"all\"] reaches both kinds"
    );
}

#[test]
fn a_crash_with_a_duration_restarts_the_same_node_that_much_later() {
    let scenario = raft(
        "[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"@leader\"\nduration = \"300ms\"\n",
    );
    let report = go(&scenario, 3);
    let leader = first_leader(&report);
    let said = lines(&report);
    let crash = said.iter().position(|l| *l == format!("crash {leader}"));
    let restart = said.iter().position(|l| *l == format!("restart {leader}"));
    assert!(crash.is_some() && restart > crash, "{said:?}");
    let at = |line: &str| {
        report
            .narration
            .iter()
            .find(|l| l.trim().ends_with(line))
            .map(|l| l.trim().split(' ').next().unwrap().to_string())
    };
    assert_eq!(at(&format!("crash {leader}")).as_deref(), Some("1.000s"));
    assert_eq!(at(&format!("restart {leader}")).as_deref(), Some("1.300s"));
    assert!(report.expectation_met, "{:?}", report.violations);
    // A named node works the same way.
    let named =
        raft("[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"n2\"\nduration = \"50ms\"\n");
    let said = lines(&go(&named, 3));
    assert!(said.contains(&"crash n2".to_string()), "{said:?}");
    assert!(said.contains(&"restart n2".to_string()), "{said:?}");
}

#[test]
fn aimed_chaos_hits_the_leader_and_restarts_whom_it_crashed() {
    let aimed = raft(
        "[chaos]\nuntil = \"2.5s\"\ncrash_every = \"300ms\"\ndowntime = [\"100ms\", \"200ms\"]\naim = \"@leader\"\naim_share = 1.0\n",
    );
    let mut leaders_crashed = 0;
    for seed in 0..10 {
        let report = go(&aimed, seed);
        let said = lines(&report);
        for (i, line) in said.iter().enumerate() {
            let Some(node) = line.strip_prefix("crash ") else {
                continue;
            };
            // Whoever was crashed is the one restarted next.
            let back = said[i..].iter().find(|l| l.starts_with("restart "));
            if let Some(back) = back {
                assert_eq!(back, &format!("restart {node}"), "seed {seed}: {said:?}");
            }
            if leader_before(&report, line) == node {
                leaders_crashed += 1;
            }
        }
        assert!(
            report.expectation_met,
            "seed {seed}: {:?}",
            report.violations
        );
    }
    assert!(leaders_crashed >= 20, "{leaders_crashed} leaders crashed");
}
