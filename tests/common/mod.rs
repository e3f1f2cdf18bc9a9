//! Helpers shared by the integration tests.

/// Every scenario file in `scenarios/`, sorted.
pub fn scenario_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir("scenarios")
        .expect("scenarios/ exists")
        .map(|e| {
            e.expect("readable entry")
                .path()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|p| p.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected the full set of scenarios, found {files:?}"
    );
    files
}
