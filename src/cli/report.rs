//! `faultlab report`: one seed of one scenario as a self-contained HTML
//! page (see [`crate::report::html`]).

use super::{load, run::diagram_options, run::PlotFlags, Io};
use crate::plot::diagram::{self, DiagramBuilder};
use crate::registry::Registry;
use crate::report::atomic::AtomicFile;
use crate::report::html;
use crate::scenario::{run, RunOptions};
use std::io::Write;

/// The flags of `report`.
pub(super) struct ReportFlags {
    /// `--seed`.
    pub(super) seed: Option<u64>,
    /// `-o FILE.html`, the diagram's window and its cap.
    pub(super) page: PlotFlags,
    /// `--narrate N`.
    pub(super) narrate: usize,
}

pub(super) fn cmd_report(
    io: &mut Io<'_>,
    registry: &Registry,
    path: &str,
    flags: ReportFlags,
) -> i32 {
    let ReportFlags {
        seed,
        page,
        narrate,
    } = flags;
    let scenario = match load(io, registry, path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = seed.unwrap_or(scenario.default_seed);
    let builder = match diagram_options(&page, scenario.end()) {
        Ok(options) => DiagramBuilder::new(&scenario, options),
        Err(e) => {
            errln!(io, "error: {e}");
            return 2;
        }
    };
    io.silence_panics();
    let options = RunOptions {
        narrate,
        on_event: Some(builder.on_event()),
        ..RunOptions::default()
    };
    let mut report = run(&scenario, seed, options);
    report.reproduce = super::reproduce(io, path, seed);
    let code = report.verdict.exit_code();
    let again = format!(
        "{} report {path} --seed {seed} -o {}",
        io.command, page.file
    );
    let written = builder
        .finish(&report)
        .and_then(|d| {
            let window = format!("{} to {}", d.from, d.to);
            diagram::to_svg(&d).map(|(svg, drawn)| (svg, drawn, window))
        })
        .and_then(|(svg, drawn, window)| {
            let text = html::page(&scenario, &report, &svg, &window, Some(&again));
            AtomicFile::create(&page.file)
                .and_then(|mut file| {
                    file.write_all(text.as_bytes())?;
                    file.commit()
                })
                .map_err(|e| format!("cannot write the file: {e}"))
                .map(|()| (text.len(), drawn))
        });
    match written {
        Ok((bytes, drawn)) => {
            outln!(
                io,
                "report written to {} ({bytes} bytes; {} violations; diagram: {} lanes, {} of {} messages)",
                page.file,
                report.violations.len(),
                drawn.lanes,
                drawn.arrows + drawn.crosses,
                drawn.messages_total
            );
            outln!(io, "verdict: {}", report.verdict.as_str());
            code
        }
        Err(e) => {
            errln!(io, "error: -o {}: {e}", page.file);
            2
        }
    }
}
