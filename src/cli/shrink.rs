//! `faultlab shrink`: a failing seed's smallest fault schedule, written as
//! a scenario file (see [`crate::shrink`]); and the same for `sweep --shrink`.

use super::Io;
use crate::registry::Registry;
use crate::report::atomic::AtomicFile;
use crate::shrink::toml::{duration_text, time_text};
use crate::shrink::{shrink_with, Progress, ShrinkOptions, Shrunk};
use std::io::Write;

/// The flags of `shrink`.
pub(super) struct ShrinkFlags {
    /// `--seed`.
    pub(super) seed: u64,
    /// `-o FILE` (default: `<stem>-<violation>-min.toml` here).
    pub(super) output: Option<String>,
    /// `--budget RUNS`.
    pub(super) budget: u32,
    /// `--check NAME`.
    pub(super) check: Option<String>,
}

pub(super) fn cmd_shrink(
    io: &mut Io<'_>,
    registry: &Registry,
    path: &str,
    flags: ShrinkFlags,
) -> i32 {
    if let Some(output) = &flags.output {
        if same_file(output, path) {
            errln!(
                io,
                "error: -o {output}: that is the scenario being shrunk; write the shrunk scenario to another file"
            );
            return 2;
        }
    }
    io.silence_panics();
    let options = ShrinkOptions {
        seed: flags.seed,
        budget: flags.budget,
        check: flags.check,
        output: flags
            .output
            .clone()
            .unwrap_or_else(|| format!("{}-min.toml", stem(path))),
    };
    let shrunk = match shrink_one(io, registry, path, &options, true) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let file = flags
        .output
        .unwrap_or_else(|| default_file(path, &shrunk.target.name));
    if let Err(code) = write(io, &file, &shrunk) {
        return code;
    }
    outln!(
        io,
        "shrink {path} · seed {}: {} (check {})",
        options.seed,
        shrunk.target.name,
        shrunk.target.check
    );
    outln!(io, "{}", sizes(&shrunk));
    for line in &shrunk.schedule {
        outln!(io, "  {line}");
    }
    outln!(
        io,
        "{} at {} · written to {file}",
        shrunk.target.name,
        time_text(shrunk.violation_time)
    );
    outln!(io, "run it: {} run {file}", io.command);
    0
}

/// Shrinks one seed, reporting progress on stderr: a status line on a
/// terminal, else one line per improvement if `lines` (else nothing). An
/// error is printed (exit 2).
pub(super) fn shrink_one(
    io: &mut Io<'_>,
    registry: &Registry,
    path: &str,
    options: &ShrinkOptions,
    lines: bool,
) -> Result<Shrunk, i32> {
    let terminal = io.progress;
    let err = &mut *io.err;
    let mut status = false;
    let mut report = |p: &Progress| match p {
        Progress::Run { runs, faults } if terminal => {
            let _ = write!(
                err,
                "\rshrink: {runs} runs · smallest so far {faults} faults   "
            );
            status = true;
        }
        Progress::Run { .. } => {}
        Progress::Improved {
            runs,
            step,
            faults,
            duration,
        } if !terminal && lines => {
            let _ = writeln!(
                err,
                "shrink: run {runs}: {step}: {faults} faults, duration {}",
                duration_text(*duration)
            );
        }
        Progress::Improved { .. } => {}
    };
    let result = shrink_with(registry, path, &io.sets.clone(), options, &mut report);
    if status {
        let _ = writeln!(io.err);
    }
    result.map_err(|e| {
        errln!(io, "error: {e}");
        2
    })
}

/// `faults 61 -> 2 · clients 3 -> 1 · duration 15s -> 2.35s · 87 runs`.
pub(super) fn sizes(s: &Shrunk) -> String {
    let mut parts = vec![format!("faults {} -> {}", s.faults.0, s.faults.1)];
    if let Some((a, b)) = s.clients {
        parts.push(format!("clients {a} -> {b}"));
    }
    parts.push(format!(
        "duration {} -> {}",
        duration_text(s.duration.0),
        duration_text(s.duration.1)
    ));
    let budget = if s.budget_spent {
        " (budget spent)"
    } else {
        ""
    };
    parts.push(format!("{} runs{budget}", s.runs));
    parts.join(" · ")
}

/// Writes the shrunk file whole or not at all; exit 2 on failure.
pub(super) fn write(io: &mut Io<'_>, file: &str, shrunk: &Shrunk) -> Result<(), i32> {
    AtomicFile::create(file)
        .and_then(|mut f| {
            f.write_all(shrunk.text.as_bytes())?;
            f.commit()
        })
        .map_err(|e| {
            errln!(io, "error: -o {file}: cannot write the file: {e}");
            2
        })
}

/// `<scenario-stem>-<violation>-min.toml`.
pub(super) fn default_file(path: &str, violation: &str) -> String {
    format!("{}-{violation}-min.toml", stem(path))
}

/// True if `a` and `b` name the same existing file.
fn same_file(a: &str, b: &str) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn stem(path: &str) -> String {
    std::path::Path::new(path)
        .file_stem()
        .map_or_else(|| path.to_string(), |s| s.to_string_lossy().into_owned())
}

/// `sweep --shrink`: shrinks the lowest failing seed of each distinct
/// violation in `failures` (sorted by seed) and writes each into `dir`;
/// prints a line per result unless `json`, and returns them as JSON.
pub(super) fn shrink_failures(
    io: &mut Io<'_>,
    registry: &Registry,
    path: &str,
    failures: &[crate::sweep::SeedOutcome],
    dir: &str,
    json: bool,
) -> Vec<serde_json::Value> {
    let mut done: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for failure in failures {
        // A timed-out seed was not judged: there is nothing to shrink.
        if failure.verdict == crate::scenario::Verdict::Timeout {
            continue;
        }
        let Some((name, _)) = &failure.violation else {
            continue;
        };
        if done.contains(name) {
            continue;
        }
        done.push(name.clone());
        let file = std::path::Path::new(dir)
            .join(default_file(path, name))
            .to_string_lossy()
            .into_owned();
        let options = ShrinkOptions {
            seed: failure.seed,
            budget: crate::shrink::DEFAULT_BUDGET,
            check: None,
            output: file.clone(),
        };
        let Ok(shrunk) = shrink_one(io, registry, path, &options, false) else {
            errln!(
                io,
                "  (while shrinking seed {} of {path}: {name})",
                failure.seed
            );
            continue;
        };
        if write(io, &file, &shrunk).is_err() {
            continue;
        }
        if !json {
            outln!(
                io,
                "shrunk seed {}: {} (check {}): {} · written to {file}",
                failure.seed,
                shrunk.target.name,
                shrunk.target.check,
                sizes(&shrunk)
            );
        }
        out.push(serde_json::json!({
            "seed": failure.seed,
            "violation": shrunk.target.name,
            "check": shrunk.target.check,
            "faults_before": shrunk.faults.0,
            "faults_after": shrunk.faults.1,
            "runs": shrunk.runs,
            "budget_spent": shrunk.budget_spent,
            "file": file,
        }));
    }
    out
}
