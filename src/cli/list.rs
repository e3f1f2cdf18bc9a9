//! `faultlab list`: the registry's models and checks, and a directory's scenarios.

use super::Io;
use crate::registry::Registry;
use crate::scenario::Scenario;

pub(super) fn cmd_list(io: &mut Io<'_>, registry: &Registry, dir: &str) -> i32 {
    outln!(io, "models:");
    for model in registry.models() {
        outln!(io, "  {:<15} {}", model.name, model.about);
        let checks = model.checks;
        let always = if checks.always.is_empty() {
            "none".to_string()
        } else {
            checks.always.join(", ")
        };
        let or_none = |names: &[&str]| {
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        outln!(
            io,
            "  {:<15} checks: {} (default: {}; always: {always})",
            "",
            or_none(checks.supported),
            or_none(checks.default)
        );
        let clients = if model.uses_workload {
            "; clients c1..cN from [workload]"
        } else {
            ""
        };
        outln!(
            io,
            "  {:<15} nodes: at least {} ({}){clients}",
            "",
            model.servers.min,
            model.servers.roles
        );
        let roles: String = model.roles.iter().map(|r| format!("@{r}, ")).collect();
        outln!(
            io,
            "  {:<15} fault targets: {roles}@crashed, @isolated, @random (+K after any; @others in groups, from, to)",
            ""
        );
        for k in model.knobs {
            outln!(
                io,
                "  {:<15} knob {} on {}, {} to {}: {}",
                "",
                k.name,
                k.nodes,
                k.min,
                k.max,
                k.about
            );
        }
        for b in model.bugs {
            outln!(io, "  {:<15} bug {}: {}", "", b.name, b.about);
        }
    }
    outln!(io, "checks:");
    for c in registry.checks().map(|c| &c.info) {
        let kind = match c.severity {
            _ if c.violation.is_empty() => "measure",
            crate::check::Severity::Safety => "safety",
            crate::check::Severity::Liveness => "liveness",
        };
        let violation = if c.violation.is_empty() {
            "(never fails)"
        } else {
            c.violation
        };
        outln!(
            io,
            "  {:<20} {kind:<8} -> {violation:<24} {}",
            c.name,
            c.about
        );
    }
    outln!(
        io,
        "step conditions ([[steps]] check = ...): {} (leader and no_leader for models with a leader role)",
        crate::scenario::script::Condition::NAMES.join(", ")
    );
    let mut files: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.path().to_string_lossy().into_owned())
            .filter(|p| p.ends_with(".toml"))
            .collect(),
        Err(e) => {
            errln!(io, "error: cannot read the scenario directory '{dir}': {e}");
            return 2;
        }
    };
    files.sort();
    // One column wide enough for the longest name.
    let width = files.iter().map(|f| f.chars().count()).max().unwrap_or(0);
    outln!(io, "scenarios in {dir}:");
    let mut code = 0;
    for file in files {
        match Scenario::load_with(registry, &file) {
            Ok(s) => {
                let about = s
                    .description
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                outln!(io, "  {file:<width$} expect {:<24} {about}", s.expect);
            }
            Err(e) => {
                outln!(io, "  {file:<width$} INVALID: {e}");
                code = 2;
            }
        }
    }
    code
}
