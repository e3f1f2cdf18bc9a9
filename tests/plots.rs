//! Metric plots through the command line: `run --plot-metrics` (a run's
//! time series over its fault bands) and `sweep --plot` (a metric's
//! distribution over seeds, several scenarios on one chart). Structure
//! tests on the SVG (lines, bands, legend entries), the PNG's size from
//! its header, and the errors a user meets.

use faultlab::cli::run_with_args;
use faultlab::Registry;

/// Runs the command line; exit code, stdout, stderr.
fn faultlab(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with_args(&Registry::builtin(), args, &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// A fresh path in the temp dir (removed if it exists).
fn temp_path(name: &str) -> String {
    let path = std::env::temp_dir().join(format!("faultlab-plots-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path.to_string_lossy().into_owned()
}

/// How many times `needle` occurs in `text`.
fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// The text elements' contents, trimmed.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = t.split_once('>')?.1;
            Some(body.split("</text>").next()?.trim().to_string())
        })
        .collect()
}

/// Data lines and legend samples: the plots draw both with width 2.
const THICK_LINE: &str = "<polyline fill=\"none\" opacity=\"1\" stroke=";

fn thick_lines(svg: &str) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter(|p| {
            p.split("/>")
                .next()
                .is_some_and(|p| p.contains("stroke-width=\"2\""))
        })
        .count()
}

#[test]
fn a_metastable_runs_series_has_three_panels_eight_lines_and_its_fault_as_a_band() {
    let path = temp_path("spike.svg");
    let (code, out, err) = faultlab(&[
        "run",
        "scenarios/service-metastable-spike.toml",
        "--seed",
        "1",
        "--plot-metrics",
        &path,
    ]);
    // Stuck, as the scenario expects: goodput never recovers.
    assert_eq!(code, 4, "{out}{err}");
    assert!(
        out.contains(&format!("metric plot written to {path}")) && out.contains("1 fault bands"),
        "{out}"
    );
    // The collector judges nothing: it is not among the run's checks.
    assert!(!out.contains("plot_faults"), "{out}");
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    assert!(svg.contains(THICK_LINE));
    // Rates (offered, calls, throughput, goodput), latency (p50, p99) and
    // load (queue, breakers): each line once as data (latency stops when
    // nothing succeeds any more: one piece) and once in its legend.
    // Offered is drawn wider, under the others.
    assert_eq!(thick_lines(&svg), 2 * 7, "{svg}");
    assert_eq!(count(&svg, "stroke-width=\"6\""), 2, "{svg}");
    let texts = texts(&svg);
    for name in [
        "offered",
        "calls (retries included)",
        "throughput (served)",
        "goodput (ok in time)",
        "latency p50",
        "latency p99",
        "queue (sum over servers)",
        "open breakers",
        "fault: set",
    ] {
        assert_eq!(
            texts.iter().filter(|t| *t == name).count(),
            1,
            "legend entry {name}: {texts:?}"
        );
    }
    // The spike (a `set` of the clients' rate for 3s) behind each of the
    // three panels, and labelled once.
    assert_eq!(count(&svg, "opacity=\"0.18\""), 3, "{svg}");
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.starts_with("set rate = 10 on {c1,c2,c3,c4} for 3s"))
            .count(),
        1,
        "{texts:?}"
    );
    for axis in [
        "time (s)",
        "per second",
        "latency of ok requests (s)",
        "count",
    ] {
        assert!(texts.iter().any(|t| t == axis), "axis {axis}: {texts:?}");
    }
    assert!(
        texts
            .iter()
            .any(|t| t == "scenarios/service-metastable-spike.toml · seed 1"),
        "title: {texts:?}"
    );
    std::fs::remove_file(&path).unwrap();
}

/// The points of the data lines drawn 6 pixels wide (offered: its data
/// line, then its legend sample).
fn wide_line_points(svg: &str) -> Vec<usize> {
    svg.split("<polyline")
        .skip(1)
        .filter_map(|p| {
            let p = p.split("/>").next()?;
            if !p.contains("stroke-width=\"6\"") {
                return None;
            }
            let points = p.split("points=\"").nth(1)?.split('"').next()?;
            Some(points.split_whitespace().count())
        })
        .collect()
}

#[test]
fn a_window_narrows_the_metric_plot_to_its_rows_and_faults() {
    let spike = "scenarios/service-metastable-spike.toml";
    let path = temp_path("spike-window.svg");
    let plot = |window: &[&str]| {
        let mut args = vec!["run", spike, "--seed", "1", "--plot-metrics", &path];
        args.extend_from_slice(window);
        let (code, out, err) = faultlab(&args);
        assert_eq!(code, 4, "{out}{err}");
        (out, std::fs::read_to_string(&path).unwrap())
    };
    // The whole run: 30 rows of 1s.
    let (_, whole) = plot(&[]);
    assert_eq!(wide_line_points(&whole), vec![30, 2]);
    // 4s to 12s: the 8 rows whose middle lies within, the x axis from 4s,
    // the spike (8s to 11s) behind each panel.
    let (out, svg) = plot(&["--from", "4s", "--to", "12s"]);
    assert!(out.contains("1 fault bands"), "{out}");
    assert_eq!(wide_line_points(&svg), vec![8, 2]);
    let texts = texts(&svg);
    assert!(
        texts
            .iter()
            .any(|t| t == &format!("{spike} · seed 1 · 4.000s to 12.000s")),
        "the title names the window: {texts:?}"
    );
    let ticks: Vec<String> = (4..=12).map(|s| format!("{s}.0")).collect();
    assert!(
        texts.windows(ticks.len()).any(|w| w == ticks.as_slice()),
        "x ticks 4s to 12s: {texts:?}"
    );
    assert_eq!(count(&svg, "opacity=\"0.18\""), 3, "{svg}");
    // From 12s on: the rest of the rows, no fault.
    let (out, svg) = plot(&["--from", "12s"]);
    assert!(out.contains("0 fault bands"), "{out}");
    assert_eq!(wide_line_points(&svg), vec![18, 2]);
    assert_eq!(count(&svg, "opacity=\"0.18\""), 0, "{svg}");
    assert!(!texts_contain(&svg, "fault: set"));
    std::fs::remove_file(&path).unwrap();
}

fn texts_contain(svg: &str, text: &str) -> bool {
    texts(svg).iter().any(|t| t == text)
}

#[test]
fn a_bad_metric_plot_window_is_exit_2_and_no_file() {
    let spike = "scenarios/service-metastable-spike.toml";
    let path = temp_path("spike-bad-window.svg");
    for (window, expected) in [
        (
            &["--from", "5s", "--to", "5s"][..],
            "--from 5.000s --to 5.000s: the window is empty; expected --from before --to",
        ),
        (
            &["--from", "40s"][..],
            "--from 40.000s is at or after the run's end (30.000s)",
        ),
        (&["--to", "soon"][..], "--to"),
    ] {
        let mut args = vec!["run", spike, "--plot-metrics", &path];
        args.extend_from_slice(window);
        let (code, out, err) = faultlab(&args);
        assert_eq!(code, 2, "{window:?}: {out}{err}");
        assert!(err.contains(expected), "{window:?}: {err}");
        assert!(!std::path::Path::new(&path).exists());
    }
    // A window without a picture to draw is an error too.
    let (code, _, err) = faultlab(&["run", spike, "--from", "5s"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--plot-metrics"), "{err}");
}

#[test]
fn a_png_plot_is_a_png_of_the_expected_size() {
    let path = temp_path("budget.PNG");
    let (code, out, err) = faultlab(&[
        "run",
        "scenarios/service-metastable-budget.toml",
        "--plot-metrics",
        &path,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "the PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), faultlab::plot::charts::SIZE);
    // RGB, 8 bits: some pixels are not white (the lines and text).
    assert_eq!((bytes[24], bytes[25]), (8, 2));
    assert!(!std::path::Path::new(&format!("{path}.tmp")).exists());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_model_without_a_series_is_exit_2_and_no_file() {
    let path = temp_path("raft.svg");
    let (code, out, err) = faultlab(&["run", "scenarios/raft-quiet.toml", "--plot-metrics", &path]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!("--plot-metrics {path}")) && err.contains("no time series"),
        "{err}"
    );
    assert!(
        out.contains("verdict: pass"),
        "the summary comes first: {out}"
    );
    assert!(!std::path::Path::new(&path).exists());
}

#[test]
fn a_sweep_draws_one_cdf_per_scenario_with_its_legend() {
    let path = temp_path("backoff.svg");
    let (code, out, err) = faultlab(&[
        "sweep",
        "scenarios/backoff-full_jitter.toml",
        "--seeds",
        "0..3",
        "--jobs",
        "1",
        "--plot",
        &path,
        "--metric",
        "service.calls",
        "--compare",
        "scenarios/backoff-none.toml",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // Each scenario is reported as its own sweep.
    assert!(
        out.contains("sweep scenarios/backoff-full_jitter.toml · seeds 0..3 · 3 runs"),
        "{out}"
    );
    assert!(
        out.contains("sweep scenarios/backoff-none.toml · seeds 0..3 · 3 runs"),
        "{out}"
    );
    assert!(
        out.contains(&format!("distribution plot written to {path}")),
        "{out}"
    );
    let svg = std::fs::read_to_string(&path).unwrap();
    assert_eq!(thick_lines(&svg), 2 * 2, "a line and a legend sample each");
    let texts = texts(&svg);
    for name in ["backoff-full_jitter (3 seeds", "backoff-none (3 seeds"] {
        assert_eq!(
            texts.iter().filter(|t| t.starts_with(name)).count(),
            1,
            "{name}: {texts:?}"
        );
    }
    assert!(
        texts.iter().any(|t| t == "fraction of seeds at or below"),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "service.calls"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t
            .starts_with("service.calls over seeds 0..3 (CDF): backoff-full_jitter, backoff-none")),
        "{texts:?}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_histogram_and_json_output() {
    let path = temp_path("hist.svg");
    let (code, out, err) = faultlab(&[
        "sweep",
        "scenarios/backoff-none.toml",
        "--seeds",
        "0..2",
        "--jobs",
        "1",
        "--json",
        "--plot",
        &path,
        "--metric",
        "service.completion_s",
        "--plot-kind",
        "hist",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let object: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(object["plot"], path.as_str());
    assert_eq!(object["compared"], serde_json::json!([]));
    let svg = std::fs::read_to_string(&path).unwrap();
    let texts = texts(&svg);
    assert!(
        texts.iter().any(|t| t == "fraction of seeds in the bin"),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t == "service.completion_s (s)"),
        "{texts:?}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn an_unknown_metric_lists_the_metrics_the_runs_reported() {
    let path = temp_path("unknown.svg");
    let (code, _, err) = faultlab(&[
        "sweep",
        "scenarios/backoff-none.toml",
        "--seeds",
        "0..1",
        "--plot",
        &path,
        "--metric",
        "service.nope",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--metric service.nope: no seed of scenarios/backoff-none.toml reported it")
            && err.contains("service.calls")
            && err.contains("service.completion_s"),
        "{err}"
    );
    assert!(!std::path::Path::new(&path).exists());
}

#[test]
fn a_bad_compare_file_is_exit_2_before_any_seed_runs() {
    let path = temp_path("compare.svg");
    let (code, out, err) = faultlab(&[
        "sweep",
        "scenarios/backoff-none.toml",
        "--plot",
        &path,
        "--metric",
        "service.calls",
        "--compare",
        "scenarios/no-such-file.toml",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("--compare") && err.contains("scenarios/no-such-file.toml"),
        "{err}"
    );
    assert_eq!(out, "", "nothing ran");
}

#[test]
fn plot_flags_need_each_other() {
    let (code, _, err) = faultlab(&["sweep", "scenarios/backoff-none.toml", "--plot", "x.svg"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--metric"), "{err}");
    let (code, _, err) = faultlab(&["sweep", "scenarios/backoff-none.toml", "--metric", "m"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = faultlab(&[
        "sweep",
        "scenarios/backoff-none.toml",
        "--plot",
        "x.svg",
        "--metric",
        "m",
        "--plot-kind",
        "pie",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected cdf or hist"), "{err}");
}
