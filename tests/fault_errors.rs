//! The `[[faults]]` keys for times, triggers, targets in lists and
//! `set_link`: each mistake names the file, the line, the field and what
//! was expected.

use faultlab::scenario::Scenario;

const HEARTBEAT: &str =
    "model = \"heartbeat\"\nduration = \"10s\"\n[heartbeat]\ninterval = \"100ms\"\ntimeout = \"500ms\"\n[nodes]\ncount = 3\n";
const RAFT: &str = "model = \"raft\"\nduration = \"5s\"\n[raft]\nelection_timeout = [\"150ms\", \"300ms\"]\nheartbeat_interval = \"50ms\"\n[workload]\nclients = 1\ntimeout = \"100ms\"\n[nodes]\ncount = 3\n";

/// The 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("'{needle}' is not in the text"))
        + 1
}

/// Asserts the error of `base` + `fault`: at the line containing `at`,
/// in `field`, saying `message`.
#[track_caller]
fn check(base: &str, fault: &str, at: &str, field: &str, message: &str) {
    let text = format!("{base}[[faults]]\n{fault}");
    let e = Scenario::parse(&text, "bad.toml").expect_err("an error");
    assert_eq!(e.file, "bad.toml", "{e}");
    assert_eq!(e.line, Some(line_of(&text, at)), "wrong line: {e}");
    assert_eq!(e.field.as_deref(), Some(field), "{e}");
    assert!(e.message.contains(message), "{e}\nwanted: {message}");
}

#[test]
fn time_ranges() {
    let crash = "kind = \"crash\"\nnode = \"n1\"\n";
    let bad = |at: &str, message: &str| {
        check(
            HEARTBEAT,
            &format!("at = {at}\n{crash}"),
            "at =",
            "faults[0].at",
            message,
        )
    };
    bad(
        "[\"2s\", \"1s\"]",
        "the range starts at 2s, after its end 1s; expected [earliest, latest]",
    );
    bad("[\"1s\", \"2s\", \"3s\"]", "a list of 3 values; expected a time such as \"2s\" or a range such as [\"2s\", \"2.075s\"]");
    bad("5", "5: expected a time such as \"2s\"");
    bad("[\"1s\", 2]", "2: expected a time such as");
    bad("[\"1s\", \"soon\"]", "expected a time such as");
    bad(
        "[\"1s\", \"11s\"]",
        "11s is after the end of the run (duration 10s)",
    );
}

#[test]
fn a_fault_needs_a_time_or_a_trigger() {
    check(
        HEARTBEAT,
        "kind = \"crash\"\nnode = \"n1\"\n",
        "[[faults]]",
        "faults[0].at",
        "a fault needs at (a time such as \"2s\" or a range [\"2s\", \"2.075s\"]) or after",
    );
    check(
        HEARTBEAT,
        "at = \"1s\"\ndelay = \"1s\"\nkind = \"heal\"\n",
        "delay =",
        "faults[0].delay",
        "delay applies only with after",
    );
}

#[test]
fn triggers() {
    let heal = "kind = \"heal\"\n";
    check(
        HEARTBEAT,
        &format!("after = \"leader elected\"\n{heal}"),
        "after =",
        "faults[0].after",
        "'leader elected' is neither a record kind nor role:ROLE; expected e.g. \"leader\"",
    );
    check(
        HEARTBEAT,
        &format!("after = \"\"\n{heal}"),
        "after =",
        "faults[0].after",
        "neither a record kind",
    );
    check(
        RAFT,
        &format!("after = \"role:boss\"\n{heal}"),
        "after =",
        "faults[0].after",
        "unknown role 'boss'; this model's roles are leader, follower, candidate",
    );
    check(
        HEARTBEAT,
        &format!("after = \"role:leader\"\n{heal}"),
        "after =",
        "faults[0].after",
        "this model reports no roles; only \"role:crashed\"",
    );
    check(
        HEARTBEAT,
        &format!("after = \"suspect\"\nat = [\"1s\", \"2s\"]\n{heal}"),
        "at =",
        "faults[0].at",
        "with after, at is when watching begins: one time",
    );
    check(
        HEARTBEAT,
        &format!("after = \"suspect\"\ndelay = [\"1s\"]\n{heal}"),
        "delay =",
        "faults[0].delay",
        "a list of 1 values",
    );
    check(
        HEARTBEAT,
        &format!("after = \"suspect\"\ndelay = [\"2s\", \"1s\"]\n{heal}"),
        "delay =",
        "faults[0].delay",
        "the range starts at 2s",
    );
    for ok in [
        "after = \"suspect\"\n",
        "after = \"role:crashed\"\nat = \"1s\"\ndelay = [\"0ms\", \"75ms\"]\n",
    ] {
        Scenario::parse(&format!("{HEARTBEAT}[[faults]]\n{ok}{heal}"), "ok.toml")
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn targets_in_groups_from_and_to() {
    let at = "at = \"1s\"\n";
    let groups = |g: &str| format!("{at}kind = \"partition\"\ngroups = {g}\n");
    check(
        RAFT,
        &groups("[[\"@others\"], [\"@others\"]]"),
        "groups =",
        "faults[0].groups[1]",
        "'@others' appears twice",
    );
    check(
        RAFT,
        &groups("[[\"@leader\"], [\"@leader\", \"n2\"]]"),
        "groups =",
        "faults[0].groups[1]",
        "'@leader' appears twice (a node is on one side of a partition)",
    );
    check(
        RAFT,
        &groups("[[\"@leader\"], [\"@boss\"]]"),
        "groups =",
        "faults[0].groups[1]",
        "unknown role 'boss'",
    );
    check(
        HEARTBEAT,
        &groups("[[\"@leader\"], [\"n2\"]]"),
        "groups =",
        "faults[0].groups[0]",
        "this model reports none",
    );
    check(
        RAFT,
        &format!("{at}kind = \"isolate\"\nnode = \"@others\"\n"),
        "node =",
        "faults[0].node",
        "'@others' names a set of servers; it goes in groups, from or to, not in node",
    );
    check(
        RAFT,
        &format!("{at}kind = \"one_way\"\nfrom = [\"@leader\"]\nto = [\"@leader\"]\n"),
        "to =",
        "faults[0].to",
        "'@leader' is in both from and to",
    );
    check(
        RAFT,
        &format!("{at}kind = \"one_way\"\nfrom = []\nto = [\"@leader\"]\n"),
        "from =",
        "faults[0].from",
        "an empty list",
    );
    // @random may come twice (two draws); the same name or role may not.
    for ok in [
        groups("[[\"@random\"], [\"@random\"]]"),
        groups("[[\"@leader\", \"@leader+1\"], [\"@others\"]]"),
    ] {
        Scenario::parse(&format!("{RAFT}[[faults]]\n{ok}"), "ok.toml")
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn set_link() {
    let head = "at = \"1s\"\nkind = \"set_link\"\nfrom = [\"n1\"]\nto = [\"n2\"]\n";
    check(
        HEARTBEAT,
        head,
        "[[faults]]",
        "faults[0].latency",
        "a 'set_link' fault needs at least one of latency, loss, duplicate",
    );
    check(
        HEARTBEAT,
        &format!("{head}loss = 1.5\n"),
        "loss =",
        "faults[0].loss",
        "not a probability",
    );
    check(
        HEARTBEAT,
        &format!("{head}duplicate = -0.1\n"),
        "duplicate =",
        "faults[0].duplicate",
        "not a probability",
    );
    check(
        HEARTBEAT,
        &format!("{head}latency = {{ dist = \"gaussian\" }}\n"),
        "latency =",
        "faults[0].latency.dist",
        "unknown distribution 'gaussian'",
    );
    check(
        HEARTBEAT,
        &format!("{head}latency = {{ dist = \"uniform\", min = \"5ms\" }}\n"),
        "latency =",
        "faults[0].latency.max",
        "latency dist \"uniform\" needs max",
    );
    check(
        HEARTBEAT,
        "at = \"1s\"\nkind = \"set_link\"\nfrom = [\"n1\"]\nloss = 0.1\n",
        "[[faults]]",
        "faults[0].to",
        "a 'set_link' fault needs to",
    );
    check(
        HEARTBEAT,
        "at = \"1s\"\nkind = \"set_link\"\nfrom = [\"n9\"]\nto = [\"n1\"]\nloss = 0.1\n",
        "from =",
        "faults[0].from",
        "names node 'n9'; this scenario has n1..n3",
    );
    check(
        HEARTBEAT,
        "at = \"1s\"\nkind = \"set_link\"\nfrom = [\"n1\", \"n1\"]\nto = [\"n2\"]\nloss = 0.1\n",
        "from =",
        "faults[0].from",
        "node 'n1' is listed twice",
    );
    check(
        RAFT,
        "at = \"1s\"\nkind = \"set_link\"\nfrom = [\"@others\"]\nto = [\"@others\"]\nloss = 0.1\n",
        "to =",
        "faults[0].to",
        "'@others' is listed twice",
    );
    check(HEARTBEAT, "at = \"1s\"\nkind = \"crash\"\nnode = \"n1\"\nlatency = { dist = \"constant\", value = \"1ms\" }\n", "[[faults]]", "faults[0].latency", "does not apply to a 'crash' fault; it takes node");
    check(
        HEARTBEAT,
        "at = \"1s\"\nkind = \"partition\"\ngroups = [[\"n1\"], [\"n2\"]]\nsymmetric = true\n",
        "[[faults]]",
        "faults[0].symmetric",
        "does not apply to a 'partition' fault; it takes groups",
    );
    check(
        HEARTBEAT,
        "at = \"1s\"\nkind = \"heal\"\nloss = 0.5\n",
        "[[faults]]",
        "faults[0].loss",
        "it takes only at (or after) and kind",
    );
    // From and to may share nodes: the links among a set.
    let ok = format!("{HEARTBEAT}[[faults]]\nat = \"1s\"\nkind = \"set_link\"\nfrom = [\"n1\", \"n2\"]\nto = [\"n1\", \"n2\"]\nduplicate = 0.5\nsymmetric = false\nduration = \"1s\"\n");
    Scenario::parse(&ok, "ok.toml").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn huge_lists_of_targets_are_refused_at_once() {
    // Each pick names a different node: a fault has at most as many as
    // there are nodes (here 4), however the file repeats or varies them.
    let random = vec!["\"@random\""; 300_000].join(",");
    check(RAFT, &format!("at = \"1s\"\nkind = \"partition\"\ngroups = [[\"@leader\"], [{random}]]\n"), "groups =", "faults[0].groups[1]", "more than 4 names and targets in one fault; each names a different node, and this scenario has n1, n2, n3, c1");
    let offsets: Vec<String> = (0..100_000).map(|k| format!("\"@leader+{k}\"")).collect();
    check(
        RAFT,
        &format!(
            "at = \"1s\"\nkind = \"set_link\"\nfrom = [{}]\nto = [\"n1\"]\nloss = 0.5\n",
            offsets.join(",")
        ),
        "from =",
        "faults[0].from",
        "more than 4 names and targets",
    );
}

#[test]
fn byzantine_faults() {
    let at = "at = \"1s\"\nkind = \"byzantine\"\nnode = \"n1\"\n";
    check(
        HEARTBEAT,
        &format!("{at}adversary = \"lie\"\n"),
        "adversary =",
        "faults[0].adversary",
        "unknown adversary 'lie'; expected one of equivocate, drop_to, replay, corrupt",
    );
    check(
        HEARTBEAT,
        &format!("{at}adversary = \"drop_to\"\n"),
        "[[faults]]",
        "faults[0].to",
        "adversary = \"drop_to\" needs to, the peers whose messages it drops",
    );
    check(
        HEARTBEAT,
        at,
        "[[faults]]",
        "faults[0].adversary",
        "a 'byzantine' fault needs adversary",
    );
    check(
        HEARTBEAT,
        &format!("{at}adversary = \"replay\"\nto = [\"n2\"]\n"),
        "to =",
        "faults[0].to",
        "to applies only to adversary = \"drop_to\", not to 'replay'",
    );
    check(
        HEARTBEAT,
        &format!("{at}adversary = \"drop_to\"\nto = [\"n2\", \"n9\"]\n"),
        "to =",
        "faults[0].to",
        "names node 'n9'; expected node names (not targets)",
    );
    check(
        HEARTBEAT,
        &format!("{at}adversary = \"drop_to\"\nto = [\"n2\", \"n2\"]\n"),
        "to =",
        "faults[0].to",
        "node 'n2' is listed twice",
    );
    check(
        HEARTBEAT,
        &format!("{at}adversary = \"corrupt\"\nduration = \"0s\"\n"),
        "[[faults]]",
        "faults[0].duration",
        "a duration of 0 would end it at once",
    );
    check(
        HEARTBEAT,
        &format!("{at}adversary = \"corrupt\"\nprobability = 0.5\n"),
        "[[faults]]",
        "faults[0].probability",
        "does not apply to a 'byzantine' fault; it takes node, adversary, to, duration",
    );
    check(
        HEARTBEAT,
        "at = \"1s\"\nkind = \"byzantine\"\nnode = \"@leader\"\nadversary = \"replay\"\n",
        "node =",
        "faults[0].node",
        "'@leader' names a role, but this model reports none",
    );
    // A target is fine where the model reports the role.
    let ok = format!("{RAFT}[[faults]]\nat = \"1s\"\nkind = \"byzantine\"\nnode = \"@leader\"\nadversary = \"equivocate\"\nduration = \"2s\"\n");
    Scenario::parse(&ok, "ok.toml").expect("a Byzantine leader");
}
