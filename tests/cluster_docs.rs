//! The README's "Sweeps on a cluster" scripts work: the Kubernetes Indexed
//! Job's container script and the Slurm job-array script are run here, once
//! per index with `JOB_COMPLETION_INDEX` / `SLURM_ARRAY_TASK_ID` set, on a
//! small seed range, and the README's merge step joins their files into the
//! summary of a single sweep.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_faultlab");
/// The seed range the README's scripts sweep, and the one run here.
const README_SEEDS: &str = "0..100000";
const SMALL_SEEDS: &str = "0..16";

/// The README's section on cluster sweeps.
fn section() -> String {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let start = readme
        .find("\n### Sweeps on a cluster\n")
        .expect("the README has a \"Sweeps on a cluster\" section");
    let rest = &readme[start + 1..];
    let end = rest[4..].find("\n##").map_or(rest.len(), |i| i + 4);
    rest[..end].to_string()
}

/// The fenced blocks of `text` with the language `lang`, in order.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&fence) {
        let body = &rest[at + fence.len()..];
        let end = body.find("```").expect("the block ends");
        found.push(body[..end].to_string());
        rest = &body[end..];
    }
    found
}

/// The number after `key` in `text` (e.g. `completions: 8`).
fn number_after(text: &str, key: &str) -> u64 {
    let at = text
        .find(key)
        .unwrap_or_else(|| panic!("{key} not in {text}"))
        + key.len();
    let digits: String = text[at..]
        .chars()
        .skip_while(|c| *c == ' ')
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key}"))
}

/// The container's `sh -c` script: the literal block after `- |`, dedented.
fn container_script(manifest: &str) -> String {
    let lines: Vec<&str> = manifest.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == "- |")
        .expect("the container's args hold a `- |` script")
        + 1;
    let indent = lines[start].len() - lines[start].trim_start().len();
    lines[start..]
        .iter()
        .take_while(|l| l.len() - l.trim_start().len() >= indent && !l.trim().is_empty())
        .map(|l| format!("{}\n", &l[indent..]))
        .collect()
}

/// The script with the binary, a small seed range and `dir` for the shared
/// directories.
fn localized(script: &str, dir: &Path) -> String {
    let dir = format!("{}/", dir.display());
    script
        .replace("faultlab sweep", &format!("{BIN} sweep"))
        .replace("faultlab merge", &format!("{BIN} merge"))
        .replace(README_SEEDS, SMALL_SEEDS)
        .replace("/shared/faultlab/", &dir)
        .replace("/out/", &dir)
}

fn sh(script: &str, env: Option<(&str, String)>) -> Output {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    if let Some((key, value)) = env {
        command.env(key, value);
    }
    command.output().expect("sh runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn untimed(json: &str) -> serde_json::Value {
    let mut value: serde_json::Value =
        serde_json::from_str(json.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    value.as_object_mut().unwrap().remove("elapsed_ms");
    value
}

fn judged(console: &str) -> Vec<String> {
    console
        .lines()
        .map(|l| l.split(" events in ").next().unwrap_or(l).to_string())
        .collect()
}

/// Runs `script` once per index 0..n with `variable` set, then the README's
/// merge step over the files, and compares with one sweep of the range.
fn shards_then_merge(name: &str, script: &str, variable: &str, n: u64) {
    let dir = std::env::temp_dir().join(format!("faultlab-cluster-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(script.contains(README_SEEDS), "{script}");
    let script = localized(script, &dir);
    for index in 0..n {
        let out = sh(&script, Some((variable, index.to_string())));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{variable}={index}: {}",
            text(&out.stderr)
        );
        assert!(dir.join(format!("shard-{index}.json")).exists());
    }
    let merge_blocks = blocks(&section(), "sh");
    let merge = merge_blocks
        .iter()
        .find(|b| b.contains("faultlab merge"))
        .expect("a merge block");
    let merge = localized(merge, &dir);
    let merged = sh(&merge, None);
    let merged_json = sh(&format!("{} --json", merge.trim_end()), None);
    let single = Command::new(BIN)
        .args(["sweep", "scenarios/raft-chaos.toml", "--seeds", SMALL_SEEDS])
        .output()
        .unwrap();
    let single_json = Command::new(BIN)
        .args([
            "sweep",
            "scenarios/raft-chaos.toml",
            "--seeds",
            SMALL_SEEDS,
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        merged.status.code(),
        single.status.code(),
        "{}",
        text(&merged.stderr)
    );
    assert_eq!(judged(&text(&merged.stdout)), judged(&text(&single.stdout)));
    assert_eq!(
        untimed(&text(&merged_json.stdout)),
        untimed(&text(&single_json.stdout))
    );
    assert_eq!(
        untimed(&text(&merged_json.stdout))["seeds_run"],
        serde_json::json!(16)
    );
}

#[test]
fn the_kubernetes_indexed_job_shards_merge_into_one_sweep() {
    let manifests = blocks(&section(), "yaml");
    let manifest = manifests.first().expect("a Kubernetes manifest");
    assert!(manifest.contains("completionMode: Indexed"), "{manifest}");
    let n = number_after(manifest, "completions:");
    let script = container_script(manifest);
    assert!(
        script.contains(&format!("--shard $JOB_COMPLETION_INDEX/{n} ")),
        "{script}"
    );
    shards_then_merge("k8s", &script, "JOB_COMPLETION_INDEX", n);
}

#[test]
fn the_slurm_job_array_shards_merge_into_one_sweep() {
    let scripts = blocks(&section(), "sh");
    let script = scripts
        .iter()
        .find(|b| b.contains("#SBATCH --array="))
        .expect("a Slurm script");
    let n = number_after(script, "#SBATCH --array=0-") + 1;
    assert!(
        script.contains(&format!("--shard $SLURM_ARRAY_TASK_ID/{n} ")),
        "{script}"
    );
    shards_then_merge("slurm", script, "SLURM_ARRAY_TASK_ID", n);
}
