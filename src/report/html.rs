//! The self-contained HTML report of one run (`faultlab report`): the
//! scenario's description, the space-time diagram as inline SVG, the
//! narrated events, the checks, each violation anchored and linked from the
//! top, and the reproduce command.
//!
//! Self-contained: no scripts, no external style sheets, fonts or images;
//! the page loads offline. Every text that comes from the scenario or the
//! run is escaped with [`escape`].

use crate::check::Severity;
use crate::scenario::{RunReport, Scenario};
use std::fmt::Write;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, safe inside elements and
/// quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The anchor of the `i`-th violation (from 1): `violation-i`.
pub fn violation_id(i: usize) -> String {
    format!("violation-{i}")
}

const STYLE: &str =
    "body{font-family:sans-serif;max-width:1300px;margin:1em auto;padding:0 1em;color:#222}\
pre{background:#f5f5f5;padding:.6em;overflow-x:auto;white-space:pre-wrap}\
.violation{border-left:4px solid #c00;padding:.2em .8em;margin:.6em 0;background:#fff3f3}\
.ok{color:#070}.violated{color:#c00;font-weight:bold}.unknown{color:#a60}\
figure{margin:0;overflow-x:auto}svg{max-width:100%;height:auto}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}";

/// The whole page for `report`, a run of `scenario`, with `svg` (the
/// diagram, from [`crate::plot::diagram::to_svg`]) and the diagram's
/// window `window` (e.g. `0s to 8s`); `this_page` is the command that
/// writes this page again, if known.
pub fn page(
    scenario: &Scenario,
    report: &RunReport,
    svg: &str,
    window: &str,
    this_page: Option<&str>,
) -> String {
    let mut h = String::new();
    let title = format!("{} · seed {}", report.scenario, report.seed);
    let _ = writeln!(h, "<!DOCTYPE html>");
    let _ = writeln!(h, "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">");
    let _ = writeln!(h, "<title>faultlab report: {}</title>", escape(&title));
    let _ = writeln!(h, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(h, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        h,
        "<p>model <b>{}</b> · {} nodes · {} simulated · verdict <b class=\"{}\">{}</b> (expected: {}, {})</p>",
        escape(report.model),
        scenario.names.len(),
        escape(&scenario.duration.to_string()),
        if report.violations.is_empty() { "ok" } else { "violated" },
        escape(report.verdict.as_str()),
        escape(&report.expect),
        if report.expectation_met { "met" } else { "NOT met" },
    );
    if !report.violations.is_empty() {
        let _ = writeln!(h, "<p>Violations:</p>\n<ul>");
        for (i, v) in report.violations.iter().enumerate() {
            let _ = writeln!(
                h,
                "<li><a href=\"#{}\">{} at {}</a></li>",
                violation_id(i + 1),
                escape(&v.name),
                escape(&v.time.to_string())
            );
        }
        let _ = writeln!(h, "</ul>");
    }
    let _ = writeln!(
        h,
        "<h2>Reproduce</h2>\n<pre>{}</pre>",
        escape(&report.reproduce)
    );
    if let Some(again) = this_page {
        let _ = writeln!(h, "<p>This page: <code>{}</code></p>", escape(again));
    }
    if !scenario.description.trim().is_empty() {
        let _ = writeln!(
            h,
            "<h2>Scenario</h2>\n<pre class=\"description\">{}</pre>",
            escape(scenario.description.trim_end())
        );
    }
    let _ = writeln!(h, "<h2 id=\"diagram\">Space-time diagram</h2>");
    let _ = writeln!(h, "<figure>\n{}", inline_svg(svg));
    let _ = write!(h, "<figcaption>{}", escape(window));
    // The diagram marks the first violation only.
    if let Some(v) = report.violations.first() {
        let _ = write!(
            h,
            " · <a href=\"#{}\">{}</a> marked at {} on {}",
            violation_id(1),
            escape(&v.name),
            escape(&v.time.to_string()),
            escape(&v.nodes.join(", "))
        );
    }
    let _ = writeln!(h, "</figcaption>\n</figure>");
    let _ = writeln!(h, "<h2>Checks</h2>");
    if report.check_outcomes.is_empty() {
        let _ = writeln!(h, "<p>No checks.</p>");
    } else {
        let _ = writeln!(h, "<table>\n<tr><th>check</th><th>outcome</th></tr>");
        for (c, outcome) in &report.check_outcomes {
            let class = match outcome.as_str() {
                "violated" => "violated",
                "unknown" => "unknown",
                _ => "ok",
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"{class}\">{}</td></tr>",
                escape(c),
                escape(outcome)
            );
        }
        let _ = writeln!(h, "</table>");
    }
    for note in &report.check_notes {
        let _ = writeln!(h, "<p>check {}</p>", escape(note));
    }
    if !report.violations.is_empty() {
        let _ = writeln!(h, "<h2>Violations</h2>");
    }
    for (i, v) in report.violations.iter().enumerate() {
        let severity = match v.severity {
            Severity::Safety => "safety",
            Severity::Liveness => "liveness",
        };
        let _ = writeln!(
            h,
            "<div class=\"violation\" id=\"{}\">\n<h3>{} ({severity}, check {})</h3>\n<p>at {} on {} (<a href=\"#diagram\">diagram</a>)</p>\n<p>{}</p>\n<h4>Around it</h4>\n<pre>{}</pre>\n</div>",
            violation_id(i + 1),
            escape(&v.name),
            escape(&v.check),
            escape(&v.time.to_string()),
            escape(&v.nodes.join(", ")),
            escape(&v.explanation),
            escape(&report.around.get(i).map_or(String::new(), |a| a.join("\n")))
        );
    }
    let _ = writeln!(
        h,
        "<h2>Narrated events</h2>\n<pre>{}</pre>",
        escape(super::summary::body(report).trim())
    );
    let _ = writeln!(h, "</body>\n</html>");
    h
}

/// The SVG without its XML declaration, ready to sit inside HTML.
fn inline_svg(svg: &str) -> &str {
    let svg = svg.trim_start();
    match (svg.starts_with("<?xml"), svg.find("?>")) {
        (true, Some(end)) => svg[end + 2..].trim_start(),
        _ => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn inline_svg_drops_the_xml_declaration() {
        assert_eq!(inline_svg("<?xml version=\"1.0\"?>\n<svg/>"), "<svg/>");
        assert_eq!(inline_svg("<svg/>"), "<svg/>");
    }
}
