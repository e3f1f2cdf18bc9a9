//! The README's scenario example is a real scenario: it parses and runs.

use faultlab::scenario::{run, RunOptions, Scenario};

#[test]
fn the_readme_scenario_example_parses_and_runs() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + readme[start..].find("```").expect("the block ends");
    let text = &readme[start..end];
    let scenario = Scenario::parse(text, "README.md example").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.model.name(), "heartbeat");
    assert!(scenario.chaos.is_some() && !scenario.faults.is_empty());
    let report = run(
        &scenario,
        7,
        RunOptions {
            narrate: 0,
            ..RunOptions::default()
        },
    );
    assert!(report.stats.events > 0);
}
