//! Every class of mistake in a scenario file is reported with the line, the
//! field, and what was expected; user input never panics the parser.

use faultlab::scenario::{Scenario, ScenarioError};
use std::process::Command;

/// A valid scenario of 9 lines; tests append to it, so their first line is 10.
const BASE: &str = r#"model = "heartbeat"
duration = "10s"

[heartbeat]
interval = "100ms"
timeout = "500ms"

[nodes]
count = 3
"#;

/// Parses `text`, which must be rejected, and returns the error.
fn err(text: &str) -> ScenarioError {
    match Scenario::parse(text, "bad.toml") {
        Ok(_) => panic!("accepted a bad scenario:\n{text}"),
        Err(e) => e,
    }
}

/// `BASE` followed by `extra`.
fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// Asserts the error's line, that its field equals or contains `field`, and
/// that its message contains `message`.
#[track_caller]
fn assert_error(e: &ScenarioError, line: usize, field: &str, message: &str) {
    assert_eq!(e.file, "bad.toml", "{e}");
    assert_eq!(e.line, Some(line), "wrong line: {e}");
    let got = e.field.as_deref().unwrap_or("");
    assert!(
        got == field || got.contains(field),
        "field {got:?} should name {field:?}: {e}"
    );
    assert!(
        e.message.contains(message),
        "message should contain {message:?}: {e}"
    );
}

/// Parses `text` and checks the error (see [`assert_error`]).
#[track_caller]
fn check(text: &str, line: usize, field: &str, message: &str) {
    let e = err(text);
    assert_error(&e, line, field, message);
}

// ---- TOML syntax and shape ----

#[test]
fn invalid_toml_names_the_line() {
    let e = err("model = \"heartbeat\"\nduration = \"10s\"\n\n[nodes\ncount = 3\n");
    assert_eq!(e.line, Some(4), "{e}");
    assert_eq!(e.field, None, "{e}");
    assert!(e.message.contains("not valid TOML"), "{e}");
}

#[test]
fn unknown_top_level_key() {
    check(
        &with("colour = \"red\"\n"),
        10,
        "colour",
        "unknown key `colour`",
    );
}

#[test]
fn unknown_key_in_network() {
    check(
        &with("[network]\nloss = 0.1\njitter = \"1ms\"\n"),
        12,
        "network.jitter",
        "unknown key `jitter`",
    );
}

#[test]
fn unknown_key_in_fault() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"n1\"\nwhen = \"2s\"\n"),
        14,
        "faults[0].when",
        "unknown key `when`",
    );
}

#[test]
fn unknown_key_in_latency_inline_table() {
    check(
        &with("[network]\nlatency = { dist = \"constant\", value = \"2ms\", jitter = \"1ms\" }\n"),
        11,
        "network.latency.jitter",
        "unknown key `jitter`",
    );
}

#[test]
fn unknown_key_in_chaos() {
    check(
        &with("[chaos]\nuntil = \"5s\"\ncrash_evry = \"1s\"\n"),
        12,
        "chaos.crash_evry",
        "unknown key `crash_evry`",
    );
}

#[test]
fn unknown_key_in_limits() {
    check(
        &with("[limits]\nmax_event = 10\n"),
        11,
        "limits.max_event",
        "unknown key `max_event`",
    );
}

#[test]
fn wrong_type() {
    check(
        "model = \"heartbeat\"\nduration = \"10s\"\n[heartbeat]\ninterval = \"100ms\"\ntimeout = \"500ms\"\n[nodes]\ncount = \"five\"\n",
        7,
        "nodes.count",
        "wrong type: found string",
    );
}

#[test]
fn missing_model() {
    // serde reports a missing key at the table that lacks it: here the whole
    // file, so line 1.
    let text = BASE.replacen("model = \"heartbeat\"\n", "", 1);
    check(&text, 1, "model", "missing field `model`");
}

#[test]
fn missing_duration() {
    let text = BASE.replacen("duration = \"10s\"\n", "", 1);
    check(&text, 1, "duration", "missing field `duration`");
}

#[test]
fn missing_nodes() {
    let text = BASE.replacen("[nodes]\ncount = 3\n", "", 1);
    check(&text, 1, "nodes", "missing field `nodes`");
}

#[test]
fn missing_heartbeat_timeout() {
    // The line is the [heartbeat] header's.
    let text = BASE.replacen("timeout = \"500ms\"\n", "", 1);
    check(&text, 4, "heartbeat.timeout", "missing field `timeout`");
}

// ---- durations ----

#[test]
fn duration_without_unit() {
    check(
        &BASE.replacen("interval = \"100ms\"", "interval = \"5\"", 1),
        5,
        "heartbeat.interval",
        "has no unit",
    );
}

#[test]
fn duration_with_unknown_unit() {
    check(
        &BASE.replacen("duration = \"10s\"", "duration = \"5h\"", 1),
        2,
        "duration",
        "unknown unit 'h'",
    );
}

#[test]
fn negative_duration() {
    check(
        &BASE.replacen("duration = \"10s\"", "duration = \"-5ms\"", 1),
        2,
        "duration",
        "cannot be negative",
    );
}

#[test]
fn negative_duration_in_fault() {
    check(
        &with("[[faults]]\nat = \"-1s\"\nkind = \"heal\"\n"),
        11,
        "faults[0].at",
        "cannot be negative",
    );
}

#[test]
fn duration_as_a_number() {
    check(
        &BASE.replacen("duration = \"10s\"", "duration = 10", 1),
        2,
        "duration",
        "wrong type: found integer",
    );
}

#[test]
fn zero_duration() {
    check(
        &BASE.replacen("duration = \"10s\"", "duration = \"0\"", 1),
        2,
        "duration",
        "longer than 0",
    );
}

// ---- model ----

#[test]
fn unknown_model() {
    check(
        &BASE.replacen("\"heartbeat\"", "\"chord\"", 1),
        1,
        "model",
        "unknown model 'chord'; expected one of heartbeat",
    );
}

#[test]
fn model_without_its_table() {
    let text = BASE.replacen(
        "[heartbeat]\ninterval = \"100ms\"\ntimeout = \"500ms\"\n",
        "",
        1,
    );
    check(&text, 1, "heartbeat", "needs a [heartbeat] table");
}

#[test]
fn heartbeat_timeout_not_longer_than_interval() {
    check(
        &BASE.replacen("\"500ms\"", "\"100ms\"", 1),
        6,
        "heartbeat.timeout",
        "is not longer than interval",
    );
}

#[test]
fn heartbeat_interval_zero() {
    let e = err(&BASE.replacen("interval = \"100ms\"", "interval = \"0\"", 1));
    assert_eq!(e.field.as_deref(), Some("heartbeat.interval"), "{e}");
    assert!(e.message.contains("longer than 0"), "{e}");
    assert_eq!(e.line, Some(5), "the interval's line: {e}");
}

// ---- nodes and zones ----

#[test]
fn nodes_count_and_names() {
    check(
        &with("names = [\"a\", \"b\"]\n"),
        10,
        "nodes.names",
        "either nodes.count or nodes.names, not both",
    );
}

#[test]
fn nodes_neither_count_nor_names() {
    let e = err(&BASE.replacen("count = 3\n", "", 1));
    assert_eq!(e.field.as_deref(), Some("nodes"), "{e}");
    assert!(e.message.contains("expected nodes.count"), "{e}");
    assert_eq!(e.line, Some(8), "the [nodes] header: {e}");
}

#[test]
fn nodes_count_zero() {
    check(
        &BASE.replacen("count = 3", "count = 0", 1),
        9,
        "nodes.count",
        "0 nodes; expected 1 to 1000",
    );
}

#[test]
fn nodes_count_negative() {
    check(
        &BASE.replacen("count = 3", "count = -2", 1),
        9,
        "nodes.count",
        "integer `-2`, expected u32",
    );
}

#[test]
fn nodes_duplicate_name() {
    check(
        &BASE.replacen("count = 3", "names = [\"a\", \"b\", \"a\"]", 1),
        9,
        "nodes.names[2]",
        "node 'a' is named twice",
    );
}

#[test]
fn nodes_empty_names() {
    check(
        &BASE.replacen("count = 3", "names = []", 1),
        9,
        "nodes.names",
        "at least one node name",
    );
}

#[test]
fn nodes_name_with_space() {
    check(
        &BASE.replacen("count = 3", "names = [\"a\", \"b c\"]", 1),
        9,
        "nodes.names[1]",
        "not a usable node name",
    );
}

#[test]
fn unknown_node_in_fault() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"n9\"\n"),
        13,
        "faults[0].node",
        "names node 'n9'; this scenario has n1..n3",
    );
}

#[test]
fn unknown_node_in_clocks() {
    check(
        &with("[clocks.n9]\ndrift_ppm = 10\n"),
        10,
        "clocks.n9",
        "names node 'n9'",
    );
}

#[test]
fn unknown_node_in_zones() {
    check(
        &with("zones = { a = [\"n1\"], b = [\"n2\", \"n9\"] }\n"),
        10,
        "nodes.zones.b[1]",
        "names node 'n9'",
    );
}

#[test]
fn node_in_two_zones() {
    check(
        &with("zones = { a = [\"n1\", \"n2\"], b = [\"n3\", \"n2\"] }\n"),
        10,
        "nodes.zones.b[1]",
        "node 'n2' is in two zones",
    );
}

// ---- partitions ----

#[test]
fn partition_names_a_node_twice() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"partition\"\ngroups = [[\"n1\", \"n2\"], [\"n2\", \"n3\"]]\n"),
        13,
        "faults[0].groups[1]",
        "node 'n2' appears twice",
    );
}

#[test]
fn partition_with_one_group() {
    check(
        &with(
            "[[faults]]\nat = \"1s\"\nkind = \"partition\"\ngroups = [[\"n1\", \"n2\", \"n3\"]]\n",
        ),
        13,
        "faults[0].groups",
        "at least two groups",
    );
}

#[test]
fn partition_with_empty_group() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"partition\"\ngroups = [[\"n1\"], []]\n"),
        13,
        "faults[0].groups[1]",
        "an empty group",
    );
}

#[test]
fn partition_with_unknown_node() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"partition\"\ngroups = [[\"n1\"], [\"x\"]]\n"),
        13,
        "faults[0].groups[1]",
        "names node 'x'",
    );
}

#[test]
fn bridge_node_also_in_a_group() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"bridge\"\nnode = \"n1\"\ngroups = [[\"n1\", \"n2\"], [\"n3\"]]\n"),
        14,
        "faults[0].groups[0]",
        "the bridge is on none",
    );
}

#[test]
fn one_way_node_in_from_and_to() {
    check(
        &with(
            "[[faults]]\nat = \"1s\"\nkind = \"one_way\"\nfrom = [\"n1\"]\nto = [\"n2\", \"n1\"]\n",
        ),
        14,
        "faults[0].to",
        "node 'n1' is in both from and to",
    );
}

// ---- faults ----

#[test]
fn unknown_fault_kind() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"explode\"\n"),
        12,
        "faults[0].kind",
        "unknown fault kind 'explode'; expected one of",
    );
}

#[test]
fn fault_missing_a_field_it_needs() {
    // The error points at the [[faults]] table: the key is absent.
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"crash\"\n"),
        10,
        "faults[0].node",
        "a 'crash' fault needs node",
    );
}

#[test]
fn fault_with_a_field_that_does_not_apply() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"n1\"\nby = \"1s\"\n"),
        10,
        "faults[0].by",
        "does not apply to a 'crash' fault; it takes node, duration",
    );
}

#[test]
fn fault_after_the_end_of_the_run() {
    check(
        &with("[[faults]]\nat = \"11s\"\nkind = \"crash\"\nnode = \"n1\"\n"),
        11,
        "faults[0].at",
        "11s is after the end of the run (duration 10s)",
    );
}

#[test]
fn fault_bad_clock_jump() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"clock_jump\"\nnode = \"n1\"\nby = \"back 2s\"\n"),
        14,
        "faults[0].by",
        "a signed duration such as",
    );
}

#[test]
fn fault_loss_burst_probability_out_of_range() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"loss_burst\"\nprobability = -0.5\nduration = \"1s\"\n"),
        13,
        "faults[0].probability",
        "not a probability; expected a number from 0 to 1",
    );
}

// ---- network ----

#[test]
fn loss_out_of_range() {
    check(
        &with("[network]\nloss = 1.5\n"),
        11,
        "network.loss",
        "1.5 is not a probability; expected a number from 0 to 1",
    );
}

#[test]
fn inter_zone_duplicate_out_of_range() {
    check(
        &with("[network.inter_zone]\nduplicate = 2.0\n"),
        11,
        "network.inter_zone.duplicate",
        "not a probability",
    );
}

#[test]
fn unknown_ordering() {
    check(
        &with("[network]\nordering = \"lifo\"\n"),
        11,
        "network.ordering",
        "expected \"fifo\" or \"any\"",
    );
}

#[test]
fn unknown_latency_dist() {
    check(
        &with("[network]\nlatency = { dist = \"gaussian\", mean = \"5ms\" }\n"),
        11,
        "network.latency.dist",
        "unknown distribution 'gaussian'",
    );
}

#[test]
fn latency_field_that_does_not_apply() {
    check(
        &with("[network]\nlatency = { dist = \"constant\", value = \"2ms\", max = \"5ms\" }\n"),
        11,
        "network.latency.max",
        "does not apply to dist \"constant\"; it takes value",
    );
}

#[test]
fn latency_missing_field() {
    check(
        &with("[network]\nlatency = { dist = \"uniform\", min = \"1ms\" }\n"),
        11,
        "network.latency.max",
        "latency dist \"uniform\" needs max",
    );
}

#[test]
fn uniform_min_above_max() {
    check(
        &with("[network]\nlatency = { dist = \"uniform\", min = \"10ms\", max = \"1ms\" }\n"),
        11,
        "network.latency",
        "minimum 10ms is above maximum 1ms",
    );
}

#[test]
fn bimodal_slow_probability_out_of_range() {
    check(
        &with("[network]\nlatency = { dist = \"bimodal\", min = \"1ms\", max = \"2ms\", slow_min = \"5ms\", slow_max = \"9ms\", slow_probability = 3.0 }\n"),
        11,
        "network.latency.slow_probability",
        "not a probability",
    );
}

// ---- clocks ----

#[test]
fn drift_beyond_the_limit() {
    check(
        &with("[clocks.n2]\ndrift_ppm = 600000\n"),
        11,
        "clocks.n2.drift_ppm",
        "600000 ppm; expected -500000 to 500000",
    );
}

#[test]
fn drift_most_negative_integer_does_not_panic() {
    check(
        &with("[clocks.n2]\ndrift_ppm = -9223372036854775808\n"),
        11,
        "clocks.n2.drift_ppm",
        "expected -500000 to 500000",
    );
}

#[test]
fn bad_signed_offset() {
    check(
        &with("[clocks.n2]\noffset = \"2 seconds\"\n"),
        11,
        "clocks.n2.offset",
        "a signed duration such as \"-50ms\" was expected",
    );
}

#[test]
fn signed_offset_without_unit() {
    check(
        &with("[clocks.n2]\noffset = \"-50\"\n"),
        11,
        "clocks.n2.offset",
        "has no unit",
    );
}

// ---- chaos ----

#[test]
fn chaos_until_after_the_end() {
    check(
        &with("[chaos]\nuntil = \"20s\"\n"),
        11,
        "chaos.until",
        "20s is after the end of the run (duration 10s)",
    );
}

#[test]
fn chaos_interval_zero() {
    // The error points at the [chaos] table.
    check(
        &with("[chaos]\nuntil = \"5s\"\ncrash_every = \"0\"\n"),
        10,
        "chaos.crash_every",
        "a mean interval of 0",
    );
}

#[test]
fn chaos_fault_points_are_checked() {
    let chaos = "[chaos]\nuntil = \"5s\"\n";
    check(
        &with(&format!(
            "{chaos}fault_points = [\"after_write\", \"crash\"]\n"
        )),
        12,
        "chaos.fault_points",
        "unknown fault point 'crash'; expected \"after_write\"",
    );
    check(
        &with(&format!("{chaos}fault_points = [\"after_record\"]\n")),
        12,
        "chaos.fault_points",
        "unknown fault point 'after_record'",
    );
    check(
        &with(&format!("{chaos}fault_points = [\"point\", \"point\"]\n")),
        12,
        "chaos.fault_points",
        "'point' is named twice",
    );
    check(
        &with(&format!("{chaos}fault_points = []\n")),
        12,
        "chaos.fault_points",
        "an empty list",
    );
    check(
        &with(&format!("{chaos}fault_point_probability = 0.1\n")),
        12,
        "chaos.fault_point_probability",
        "no fault points to use it",
    );
    let points = format!("{chaos}fault_points = [\"point:vote\"]\n");
    check(
        &with(&format!("{points}fault_point_probability = 1.5\n")),
        13,
        "chaos.fault_point_probability",
        "1.5 is not a probability",
    );
    check(
        &with(&format!("{points}fault_point_probability = [0.0, 0.1]\n")),
        13,
        "chaos.fault_point_probability",
        "expected [low, high] with 0 < low < high",
    );
    check(
        &with(&format!("{points}fault_point_probability = \"often\"\n")),
        13,
        "chaos.fault_point_probability",
        "expected a probability (e.g. 0.05) or a range [low, high]",
    );
    check(
        &with(&format!(
            "{points}fault_point_downtime = [\"5ms\", \"1ms\"]\n"
        )),
        10,
        "chaos.fault_point_downtime",
        "[5ms, 1ms] is not a range",
    );
    check(
        &with(&format!("{chaos}swarm = \"yes\"\n")),
        12,
        "chaos.swarm",
        "expected a boolean",
    );
    // 50,000 crashes are allowed; swarm may make them four times as many.
    let busy = format!("{chaos}crash_every = \"100us\"\n");
    assert!(Scenario::parse(&with(&busy), "ok.toml").is_ok());
    check(
        &with(&format!("{busy}swarm = true\n")),
        10,
        "chaos.crash_every",
        "shortened up to 4x by swarm, would schedule up to about 200000 faults",
    );
    // Valid: a fixed probability, a range, the model's own points.
    let ok = with(&format!(
        "{points}fault_point_probability = [0.001, 0.1]\nfault_point_downtime = [\"0ms\", \"5ms\"]\nswarm = true\ncrash_every = \"1s\"\n"
    ));
    let s = Scenario::parse(&ok, "ok.toml").expect("valid fault points");
    assert!(s
        .chaos
        .as_ref()
        .is_some_and(|c| c.swarm && c.fault_points.is_some()));
}

#[test]
fn chaos_aim_is_checked() {
    let chaos = "[chaos]\nuntil = \"5s\"\ncrash_every = \"1s\"\n";
    check(
        &with(&format!("{chaos}aim = \"leader\"\n")),
        13,
        "chaos.aim",
        "'leader' is not a target; expected a role such as \"@leader\"",
    );
    check(
        &with(&format!("{chaos}aim = \"@primary\"\n")),
        13,
        "chaos.aim",
        "'@primary' names a role, but this model reports none",
    );
    check(
        &with(&format!("{chaos}aim_share = 0.5\n")),
        13,
        "chaos.aim_share",
        "no aim to share",
    );
    check(
        &with(&format!("{chaos}aim = \"@random\"\naim_share = 0.0\n")),
        14,
        "chaos.aim_share",
        "0 would aim nothing",
    );
    check(
        &with(&format!("{chaos}aim = \"@random\"\naim_share = 2.0\n")),
        14,
        "chaos.aim_share",
        "2 is not a probability",
    );
    let ok = with(&format!("{chaos}aim = \"@random\"\naim_share = 0.25\n"));
    let s = Scenario::parse(&ok, "ok.toml").expect("a valid aim");
    let aim = s.chaos.and_then(|c| c.aim).expect("an aim");
    assert_eq!(aim.target.text(), "@random");
    assert_eq!(aim.share.as_f64(), 0.25);
}

#[test]
fn chaos_range_reversed() {
    // The error points at the [chaos] table.
    check(
        &with("[chaos]\nuntil = \"5s\"\ncrash_every = \"1s\"\ndowntime = [\"5s\", \"1s\"]\n"),
        10,
        "chaos.downtime",
        "[5s, 1s] is not a range; expected [shortest, longest]",
    );
}

#[test]
fn chaos_range_of_one() {
    check(
        &with("[chaos]\nuntil = \"5s\"\ndowntime = [\"1s\"]\n"),
        12,
        "chaos.downtime",
        "expected an array of length 2",
    );
}

#[test]
fn chaos_loss_burst_probability_out_of_range() {
    check(
        &with("[chaos]\nuntil = \"5s\"\nloss_burst_probability = 1.01\n"),
        12,
        "chaos.loss_burst_probability",
        "not a probability",
    );
}

// ---- checks, expect, liveness ----

#[test]
fn unknown_check() {
    check(
        &BASE.replacen(
            "duration = \"10s\"\n",
            "duration = \"10s\"\nchecks = [\"accuracy\", \"safety\"]\n",
            1,
        ),
        3,
        "checks[1]",
        "unknown check 'safety'; expected one of accuracy, strong_completeness, eventual_accuracy, linearizability",
    );
}

#[test]
fn check_that_does_not_apply_to_the_model() {
    check(
        &BASE.replacen(
            "duration = \"10s\"\n",
            "duration = \"10s\"\nchecks = [\"linearizability\"]\n",
            1,
        ),
        3,
        "checks[0]",
        "check 'linearizability' does not apply to model 'heartbeat'; it supports accuracy",
    );
}

#[test]
fn check_listed_twice() {
    check(
        &BASE.replacen(
            "duration = \"10s\"\n",
            "duration = \"10s\"\nchecks = [\"accuracy\", \"accuracy\"]\n",
            1,
        ),
        3,
        "checks[1]",
        "check 'accuracy' is listed twice",
    );
}

#[test]
fn expect_an_outcome_the_checks_cannot_produce() {
    check(
        &BASE.replacen("duration = \"10s\"\n", "duration = \"10s\"\nexpect = \"false_suspicion\"\nchecks = [\"strong_completeness\"]\n", 1),
        3,
        "expect",
        "'false_suspicion' is not an outcome of this scenario's checks; expected \"pass\" or one of undetected_crash",
    );
}

#[test]
fn expect_an_unknown_outcome() {
    check(
        &BASE.replacen(
            "duration = \"10s\"\n",
            "duration = \"10s\"\nexpect = \"deadlock\"\n",
            1,
        ),
        3,
        "expect",
        "'deadlock' is not an outcome of this scenario's checks",
    );
}

#[test]
fn liveness_after_past_the_end() {
    check(
        &with("[liveness]\nafter = \"9.5s\"\nwithin = \"1s\"\n"),
        11,
        "liveness.after",
        "the run ends at 10.000s, before the liveness bound",
    );
}

#[test]
fn liveness_default_bound_past_the_end() {
    // Without `after`, the liveness phase begins at the last fault; the error
    // points at the duration, which is what should grow.
    check(
        &with("[[faults]]\nat = \"9.9s\"\nkind = \"crash\"\nnode = \"n1\"\n"),
        2,
        "duration",
        "make duration at least that long",
    );
}

// ---- files and every example ----

#[test]
fn unreadable_file() {
    let path = std::env::temp_dir().join(format!("faultlab-missing-{}.toml", std::process::id()));
    let path = path.to_str().expect("temp path is UTF-8");
    let e = Scenario::load(path).expect_err("a missing file cannot load");
    assert_eq!(e.line, None, "{e}");
    assert_eq!(e.field, None, "{e}");
    assert_eq!(e.file, path);
    assert!(e.message.contains("cannot read the scenario file"), "{e}");
}

#[test]
fn every_example_scenario_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("scenarios/ exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let path = path.to_str().expect("UTF-8 path");
            if let Err(e) = Scenario::load(path) {
                panic!("{e}");
            }
            count += 1;
        }
    }
    assert!(count > 0, "no scenarios found in {dir}");
}

#[test]
fn binary_reports_a_bad_file_with_exit_code_2() {
    let path = std::env::temp_dir().join(format!(
        "faultlab-bad-{}-{}.toml",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::write(&path, with("[network]\nloss = 1.5\n")).expect("write the bad scenario");
    let output = Command::new(env!("CARGO_BIN_EXE_faultlab"))
        .arg("run")
        .arg(&path)
        .output()
        .expect("run faultlab");
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.starts_with("error: "), "stderr: {stderr}");
    let location = format!("{}:11: field 'network.loss': ", path.display());
    assert!(
        stderr.contains(&location),
        "stderr should contain {location:?}: {stderr}"
    );
    assert!(stderr.contains("not a probability"), "stderr: {stderr}");
}

// ---- huge values: errors, not arithmetic overflow ----

/// The longest duration that parses: 307445734 minutes is just under 2^64 ns.
const HUGE: &str = "307445734m";

/// The message of a duration past the 100-day cap.
const TOO_LONG: &str = "is too long; expected at most 8640000s (100 days of simulated time)";

#[test]
fn huge_heartbeat_timeout_is_refused_on_its_line() {
    let text = BASE.replacen("timeout = \"500ms\"", &format!("timeout = \"{HUGE}\""), 1);
    check(&text, 6, "heartbeat.timeout", TOO_LONG);
}

#[test]
fn huge_liveness_bound_is_refused_on_its_line() {
    check(
        &with(&format!(
            "[liveness]\nafter = \"5s\"\nwithin = \"{HUGE}\"\n"
        )),
        12,
        "liveness.within",
        TOO_LONG,
    );
}

#[test]
fn huge_pause_is_refused_on_its_line() {
    check(
        &with(&format!(
            "[[faults]]\nat = \"5s\"\nkind = \"pause\"\nnode = \"n1\"\nduration = \"{HUGE}\"\n"
        )),
        14,
        "faults[0].duration",
        TOO_LONG,
    );
}

#[test]
fn every_duration_field_is_capped_at_100_days() {
    // Just past the cap (8640000s), in every kind of place a duration sits.
    let long = "8640001s";
    let cases: Vec<(String, usize, &str)> = vec![
        (BASE.replacen("duration = \"10s\"", &format!("duration = \"{long}\""), 1), 2, "duration"),
        (BASE.replacen("interval = \"100ms\"", &format!("interval = \"{long}\""), 1), 5, "heartbeat.interval"),
        (with(&format!("[network]\nlatency = {{ dist = \"constant\", value = \"{long}\" }}\n")), 11, "network.latency.value"),
        (with(&format!("[network]\nlatency = {{ dist = \"exponential\", mean = \"{long}\" }}\n")), 11, "network.latency.mean"),
        (with(&format!("[[faults]]\nat = \"1s\"\nkind = \"loss_burst\"\nprobability = 0.5\nduration = \"{long}\"\n")), 14, "faults[0].duration"),
        (with(&format!("[chaos]\nuntil = \"5s\"\ncrash_every = \"1s\"\ndowntime = [\"1s\", \"{long}\"]\n")), 13, "chaos.downtime"),
        (with(&format!("[chaos]\nuntil = \"5s\"\npause_every = \"{long}\"\n")), 12, "chaos.pause_every"),
        (with(&format!("[chaos]\nuntil = \"5s\"\nclock_jump_every = \"1s\"\nclock_jump_max = \"{long}\"\n")), 13, "chaos.clock_jump_max"),
        (with(&format!("[liveness]\nwithin = \"{long}\"\n")), 11, "liveness.within"),
    ];
    for (text, line, field) in cases {
        check(&text, line, field, TOO_LONG);
    }
    // Exactly 100 days is accepted.
    let longest = BASE.replacen("duration = \"10s\"", "duration = \"8640000s\"", 1);
    Scenario::parse(&longest, "ok.toml").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn clock_offsets_and_jumps_are_capped_at_100_days() {
    let range = "expected -8640000s to +8640000s (100 days of simulated time)";
    check(
        &with("[clocks.n1]\noffset = \"9223372036s\"\n"),
        11,
        "clocks.n1.offset",
        range,
    );
    check(
        &with("[clocks.n2]\noffset = \"-8640001s\"\n"),
        11,
        "clocks.n2.offset",
        range,
    );
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"clock_jump\"\nnode = \"n1\"\nby = \"+9223372036s\"\n"),
        14,
        "faults[0].by",
        range,
    );
    check(
        &with("[clocks.n1]\ndrift_ppm = 9223372036854775807\n"),
        11,
        "clocks.n1.drift_ppm",
        "expected -500000 to 500000",
    );
    let edge = with("[clocks.n1]\noffset = \"+8640000s\"\ndrift_ppm = -500000\n[clocks.n2]\noffset = \"-8640000s\"\n");
    Scenario::parse(&edge, "ok.toml").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn absurd_node_counts_are_refused_before_anything_is_built() {
    check(
        &BASE.replacen("count = 3", "count = 10000000", 1),
        9,
        "nodes.count",
        "10000000 nodes; expected 1 to 1000",
    );
    check(
        &BASE.replacen("count = 3", "count = 1001", 1),
        9,
        "nodes.count",
        "expected 1 to 1000",
    );
    // A names list that long is refused before its names are compared.
    let names: Vec<String> = (0..200_000).map(|i| format!("\"s{i}\"")).collect();
    let text = BASE.replacen("count = 3", &format!("names = [{}]", names.join(",")), 1);
    check(&text, 9, "nodes.names", "200000 names; expected 1 to 1000");
    // Servers and clients together.
    let raft = "model = \"raft\"\nduration = \"5s\"\n[raft]\nelection_timeout = [\"150ms\", \"300ms\"]\nheartbeat_interval = \"50ms\"\n[workload]\nclients = 1000\ntimeout = \"100ms\"\n[nodes]\ncount = 5\n";
    check(
        raft,
        7,
        "workload.clients",
        "5 servers and 1000 clients make 1005 nodes; expected at most 1000 in all",
    );
}

#[test]
fn a_one_way_cut_names_each_node_once() {
    let from = vec!["\"n1\""; 100_000].join(",");
    check(
        &with(&format!(
            "[[faults]]\nat = \"1s\"\nkind = \"one_way\"\nfrom = [{from}]\nto = [\"n2\"]\n"
        )),
        13,
        "faults[0].from",
        "node 'n1' is listed twice",
    );
}

#[test]
fn toml_nested_past_the_parsers_limit_names_its_line() {
    // Deep arrays and deep inline tables, on line 10: an error with the
    // line, not a stack overflow (this runs on a test thread's small stack).
    let arrays = format!("x = {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let tables = format!("x = {}1{}\n", "{ a = ".repeat(10_000), " }".repeat(10_000));
    for nested in [arrays, tables] {
        let e = err(&with(&nested));
        assert_eq!(e.line, Some(10), "{e}");
        assert!(e.message.contains("not valid TOML"), "{e}");
    }
}

#[test]
fn chaos_interval_so_short_it_would_schedule_millions_of_faults() {
    let text = format!("{BASE}[chaos]\nuntil = \"5s\"\ncrash_every = \"1ns\"\n");
    let err = Scenario::parse(&text, "bad.toml").unwrap_err();
    assert_eq!(err.field.as_deref(), Some("chaos.crash_every"), "{err}");
    assert!(err.message.contains("expected at most 100000"), "{err}");
}

#[test]
fn lease_intervals_must_fit_inside_the_believed_lease() {
    let text = "model = \"lease\"\nduration = \"5s\"\n[lease]\nduration = \"1s\"\nrenew_interval = \"300ms\"\ndrift_margin = \"800ms\"\nfencing = true\n[nodes]\ncount = 3\n";
    let err = Scenario::parse(text, "bad.toml").unwrap_err();
    assert_eq!(err.field.as_deref(), Some("lease"), "{err}");
    assert_eq!(err.line, Some(3), "{err}");
    assert!(
        err.message
            .contains("renew_interval 300ms is not shorter than lease_duration - drift_margin"),
        "{err}"
    );
}

#[test]
fn raft_heartbeat_must_be_shorter_than_the_election_timeout() {
    let text = "model = \"raft\"\nduration = \"5s\"\n[raft]\nelection_timeout = [\"150ms\", \"300ms\"]\nheartbeat_interval = \"200ms\"\n[workload]\nclients = 1\ntimeout = \"100ms\"\n[nodes]\ncount = 3\n";
    let err = Scenario::parse(text, "bad.toml").unwrap_err();
    assert_eq!(
        err.field.as_deref(),
        Some("raft.heartbeat_interval"),
        "{err}"
    );
    assert_eq!(err.line, Some(5), "{err}");
}

#[test]
fn a_model_with_clients_needs_a_workload() {
    let text = "model = \"raft\"\nduration = \"5s\"\n[raft]\nelection_timeout = [\"150ms\", \"300ms\"]\nheartbeat_interval = \"50ms\"\n[nodes]\ncount = 3\n";
    let err = Scenario::parse(text, "bad.toml").unwrap_err();
    assert_eq!(err.field.as_deref(), Some("workload"), "{err}");
    assert!(err.message.contains("needs a [workload] table"), "{err}");
}

#[test]
fn the_liveness_bound_is_required_only_when_a_liveness_check_runs() {
    // The lease model's default checks are all safety checks: a run shorter
    // than the default liveness bound (3 x 1s) is fine.
    let text = "model = \"lease\"\nduration = \"2s\"\n[lease]\nduration = \"1s\"\nrenew_interval = \"300ms\"\nfencing = true\n[nodes]\ncount = 3\n";
    Scenario::parse(text, "ok.toml").unwrap_or_else(|e| panic!("{e}"));
    // Naming progress (a liveness check) makes the bound matter.
    let with_progress = text.replace("[lease]", "checks = [\"progress\"]\n[lease]");
    let err = Scenario::parse(&with_progress, "bad.toml").unwrap_err();
    assert_eq!(err.field.as_deref(), Some("duration"), "{err}");
}

// ---- fault targets ----

/// A valid raft scenario of 10 lines; tests append to it, so their first line is 11.
const RAFT: &str = "model = \"raft\"\nduration = \"5s\"\n[raft]\nelection_timeout = [\"150ms\", \"300ms\"]\nheartbeat_interval = \"50ms\"\n[workload]\nclients = 1\ntimeout = \"100ms\"\n[nodes]\ncount = 3\n";

#[test]
fn fault_targets_are_accepted() {
    for target in [
        "@leader",
        "@follower+2",
        "@random",
        "@random:candidate",
        "@crashed",
    ] {
        let text =
            format!("{RAFT}[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"{target}\"\n");
        Scenario::parse(&text, "ok.toml").unwrap_or_else(|e| panic!("{target}: {e}"));
    }
}

#[test]
fn unknown_role_lists_the_models_roles() {
    let text = format!("{RAFT}[[faults]]\nat = \"1s\"\nkind = \"crash\"\nnode = \"@boss\"\n");
    check(
        &text,
        14,
        "faults[0].node",
        "unknown role 'boss'; this model's roles are leader, follower, candidate",
    );
}

#[test]
fn target_offset_must_be_a_count() {
    let text = format!("{RAFT}[[faults]]\nat = \"1s\"\nkind = \"isolate\"\nnode = \"@leader+x\"\n");
    check(&text, 14, "faults[0].node", "'+x' is not a count");
}

#[test]
fn role_target_on_a_model_without_roles() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"pause\"\nnode = \"@leader\"\nduration = \"1s\"\n"),
        13,
        "faults[0].node",
        "this model reports none",
    );
}

#[test]
fn others_where_one_node_is_taken() {
    check(
        &with("[[faults]]\nat = \"1s\"\nkind = \"bridge\"\nnode = \"@others\"\ngroups = [[\"n1\"], [\"n2\"]]\n"),
        13,
        "faults[0].node",
        "'@others' names a set of servers; it goes in groups, from or to, not in node",
    );
}

#[test]
fn chaos_targets_must_be_known_and_name_someone() {
    let chaos = "[chaos]\nuntil = \"2s\"\ncrash_every = \"1s\"\n";
    check(
        &format!("{RAFT}{chaos}targets = [\"servers\", \"leaders\"]\n"),
        14,
        "chaos.targets",
        "unknown target 'leaders'",
    );
    check(
        &with(&format!("{chaos}targets = [\"clients\"]\n")),
        13,
        "chaos.targets",
        "names no node of this scenario",
    );
    for ok in [
        "[\"servers\"]",
        "[\"clients\"]",
        "[\"all\"]",
        "[\"servers\", \"clients\"]",
    ] {
        let text = format!("{RAFT}{chaos}targets = {ok}\n");
        Scenario::parse(&text, "ok.toml").unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

// ---- [noise] ----

#[test]
fn noise_entries_are_checked_like_latencies() {
    check(
        &with("[noise]\nsync = { dist = \"uniform\", min = \"5ms\", max = \"2ms\" }\n"),
        11,
        "noise.sync",
        "minimum 5ms is above maximum 2ms",
    );
    check(
        &with("[noise]\n\nprocessing = { dist = \"pareto\", min = \"1ms\" }\n"),
        12,
        "noise.processing.dist",
        "unknown distribution 'pareto'",
    );
    check(
        &with("[noise]\ntimer_jitter = { dist = \"uniform\", min = \"0ms\", max = \"1h\" }\n"),
        11,
        "noise.timer_jitter.max",
        "unknown unit 'h'",
    );
    check(
        &with("[noise]\njitter = { dist = \"constant\", value = \"1ms\" }\n"),
        11,
        "noise.jitter",
        "unknown key",
    );
    check(
        &with("[noise]\nsync = { dist = \"exponential\", min = \"1ms\" }\n"),
        11,
        "noise.sync.mean",
        "needs mean",
    );
}
