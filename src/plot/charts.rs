//! Metric plots: a run's time series with its faults behind them
//! ([`SeriesChart`], `faultlab run --plot-metrics`), and the distribution of
//! a metric over the seeds of one or more sweeps ([`DistributionChart`],
//! `faultlab sweep --plot`).
//!
//! Both know nothing of any model: the series is the `service` observer's
//! [`TimeSeries`], the faults are [`Spans`] read from the trace, and a
//! distribution is a list of numbers per scenario. The number of points
//! drawn is bounded whatever the run or sweep: at most [`MAX_POINTS`] per
//! line (a longer series is merged, interval by interval; a CDF is sampled
//! at evenly spaced ranks), so a picture stays small.

use super::picture::Draw;
use super::spans::{Span, Spans};
use super::FONT;
use crate::check::series::{SeriesRow, TimeSeries};
use crate::time::{SimDuration, SimTime};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The most points drawn per line.
pub const MAX_POINTS: usize = 1500;

/// The size of a picture, in pixels.
pub const SIZE: (u32, u32) = (1200, 900);

/// A plotters error in words.
fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A number in a few digits for labels.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

// ---------------------------------------------------------------- time series

/// A run's time series in three panels (rates per second; latency; queue
/// and open breakers) over the run's faults as labelled bands, within a
/// window of time.
pub struct SeriesChart<'a> {
    /// The title (scenario and seed).
    pub title: String,
    /// The series (rows from time 0).
    pub series: &'a TimeSeries,
    /// The faults (those meeting the window).
    pub spans: &'a Spans,
    /// The window drawn: from.
    pub from: SimTime,
    /// The window drawn: to (at most the run's end).
    pub to: SimTime,
}

/// One point of a merged series: what `rows` rows hold together.
#[derive(Clone, Copy, Debug, Default)]
struct Point {
    /// The middle of the merged intervals, in seconds.
    x: f64,
    offered: f64,
    calls: f64,
    served: f64,
    good: f64,
    p50: Option<f64>,
    p99: Option<f64>,
    queue: f64,
    open_breakers: f64,
}

/// Rows merged `per` at a time: counts as rates over the merged length,
/// latencies, queue and breakers as their greatest value.
fn points(rows: &[SeriesRow], per: usize) -> Vec<Point> {
    debug_assert!(per >= 1);
    rows.chunks(per)
        .map(|chunk| {
            let start = chunk[0].start.as_secs_f64();
            let length: u64 = chunk.iter().map(|r| r.length.as_nanos()).sum();
            let secs = SimDuration(length).as_secs_f64();
            let rate = |f: fn(&SeriesRow) -> u64| {
                let n: u64 = chunk.iter().map(f).sum();
                if secs > 0.0 {
                    n as f64 / secs
                } else {
                    0.0
                }
            };
            let most = |f: fn(&SeriesRow) -> Option<SimDuration>| {
                chunk
                    .iter()
                    .filter_map(f)
                    .max()
                    .map(SimDuration::as_secs_f64)
            };
            Point {
                x: start + secs / 2.0,
                offered: rate(|r| r.offered),
                calls: rate(|r| r.calls),
                served: rate(|r| r.served),
                good: rate(|r| r.good),
                p50: most(|r| r.latency_p50),
                p99: most(|r| r.latency_p99),
                queue: chunk.iter().map(|r| r.queue).max().unwrap_or(0) as f64,
                open_breakers: chunk.iter().map(|r| r.open_breakers).max().unwrap_or(0) as f64,
            }
        })
        .collect()
}

/// A line: its legend name, colour, and its pieces (a gap where it has no value).
struct Line {
    name: &'static str,
    color: RGBColor,
    /// Stroke width in pixels (offered is wider, so a line over it shows it).
    width: u32,
    pieces: Vec<Vec<(f64, f64)>>,
}

fn line(name: &'static str, color: RGBColor, pts: &[Point], f: fn(&Point) -> Option<f64>) -> Line {
    let mut pieces: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for p in pts {
        match f(p) {
            Some(y) => pieces
                .last_mut()
                .expect("one piece at least")
                .push((p.x, y)),
            None if !pieces.last().is_some_and(Vec::is_empty) => pieces.push(Vec::new()),
            None => {}
        }
    }
    pieces.retain(|piece| !piece.is_empty());
    Line {
        name,
        color,
        width: 2,
        pieces,
    }
}

/// The colour of a fault kind's bands.
pub fn band_color(kind: &str) -> RGBColor {
    match kind {
        "crash" => RGBColor(214, 39, 40),
        "pause" => RGBColor(255, 127, 14),
        "partition" | "one_way" | "isolate" => RGBColor(148, 103, 189),
        "set" | "set_link" => RGBColor(31, 119, 180),
        "loss_burst" => RGBColor(127, 127, 127),
        _ => RGBColor(140, 86, 75),
    }
}

/// The opacity of a band's fill (the SVG's `opacity`, found by tests).
pub const BAND_OPACITY: f64 = 0.18;

impl SeriesChart<'_> {
    /// The rows whose middle lies in the window.
    fn rows(&self) -> &[SeriesRow] {
        let middle = |r: &SeriesRow| r.start + SimDuration(r.length.as_nanos() / 2);
        let rows = &self.series.rows;
        let first = rows.partition_point(|r| middle(r) < self.from);
        let last = rows.partition_point(|r| middle(r) <= self.to);
        &rows[first..last.max(first)]
    }

    fn lines(&self) -> (Vec<Point>, usize) {
        let rows = self.rows();
        let per = rows.len().div_ceil(MAX_POINTS).max(1);
        (points(rows, per), per)
    }

    /// The x range in seconds: the window (a few pixels at least).
    fn x_range(&self) -> (f64, f64) {
        let x0 = self.from.as_secs_f64();
        (x0, self.to.as_secs_f64().max(x0 + 1e-3))
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        (y_desc, lines): (&str, &[Line]),
        with_bands: bool,
        band_labels: bool,
    ) -> Result<(), String> {
        let (x_start, x_end) = self.x_range();
        let y_top = lines
            .iter()
            .flat_map(|l| l.pieces.iter().flatten().map(|p| p.1))
            .fold(0.0f64, f64::max);
        let y_top = if y_top > 0.0 { y_top * 1.12 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .build_cartesian_2d(x_start..x_end, 0.0..y_top)
            .map_err(text)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc(y_desc)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(text)?;
        if with_bands {
            self.draw_bands(&mut chart, y_top, band_labels)?;
        }
        for l in lines {
            for (i, piece) in l.pieces.iter().enumerate() {
                let style = l.color.stroke_width(l.width);
                let drawn = chart
                    .draw_series(LineSeries::new(piece.iter().copied(), style))
                    .map_err(text)?;
                if i == 0 {
                    let (color, width) = (l.color, l.width);
                    drawn.label(l.name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
                    });
                }
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 13))
            .draw()
            .map_err(text)
    }

    fn draw_bands<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<
            '_,
            DB,
            Cartesian2d<
                plotters::coord::types::RangedCoordf64,
                plotters::coord::types::RangedCoordf64,
            >,
        >,
        y_top: f64,
        labels: bool,
    ) -> Result<(), String> {
        let (x_start, x_end) = self.x_range();
        // An instant (a clock jump) is drawn a few pixels wide.
        let least = (x_end - x_start) / 500.0;
        let mut kinds: Vec<&'static str> = Vec::new();
        for band in &self.spans.spans {
            let color = band_color(band.kind);
            let (x0, x1) = clip(band, (x_start, x_end));
            let x1 = x1.max(x0 + least);
            let drawn = chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x1, y_top)],
                    color.mix(BAND_OPACITY).filled(),
                )))
                .map_err(text)?;
            if labels && !kinds.contains(&band.kind) {
                kinds.push(band.kind);
                drawn
                    .label(format!("fault: {}", band.kind))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 20, y + 6)], color.mix(0.4).filled())
                    });
            }
        }
        if labels {
            self.draw_band_labels(chart, y_top)?;
        }
        Ok(())
    }

    fn draw_band_labels<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<
            '_,
            DB,
            Cartesian2d<
                plotters::coord::types::RangedCoordf64,
                plotters::coord::types::RangedCoordf64,
            >,
        >,
        y_top: f64,
    ) -> Result<(), String> {
        // Staggered in four rows from the top, so neighbours overlap less.
        let range = self.x_range();
        let labels = self.spans.spans.iter().enumerate().map(|(i, band)| {
            let y = y_top * (0.97 - 0.07 * (i % 4) as f64);
            Text::new(
                band_label(band),
                (clip(band, range).0, y),
                (FONT, 12).into_font().color(&band_color(band.kind)),
            )
        });
        chart.draw_series(labels).map_err(text)?;
        Ok(())
    }
}

/// A span's stretch in seconds, cut to the range `(x0, x1)`.
fn clip(span: &Span, (x0, x1): (f64, f64)) -> (f64, f64) {
    let start = span.start.as_secs_f64().clamp(x0, x1);
    (start, span.end.as_secs_f64().clamp(start, x1))
}

/// A band's label: the fault's words, cut short.
fn band_label(band: &Span) -> String {
    const MAX: usize = 44;
    if band.label.chars().count() <= MAX {
        format!(" {}", band.label)
    } else {
        let cut: String = band.label.chars().take(MAX - 1).collect();
        format!(" {cut}…")
    }
}

impl Draw for SeriesChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (pts, per) = self.lines();
        let mut title = self.title.clone();
        if per > 1 {
            title.push_str(&format!(" · each point merges {per} intervals"));
        }
        if self.series.truncated {
            title.push_str(" · series truncated");
        }
        if self.spans.omitted > 0 {
            title.push_str(&format!(" · {} more faults not drawn", self.spans.omitted));
        }
        let root = root.titled(&title, (FONT, 20)).map_err(text)?;
        let panels = root.split_evenly((3, 1));
        let rates = [
            Line {
                width: 6,
                ..line("offered", RGBColor(190, 190, 190), &pts, |p| {
                    Some(p.offered)
                })
            },
            line(
                "calls (retries included)",
                RGBColor(255, 127, 14),
                &pts,
                |p| Some(p.calls),
            ),
            line("throughput (served)", RGBColor(31, 119, 180), &pts, |p| {
                Some(p.served)
            }),
            line("goodput (ok in time)", RGBColor(44, 160, 44), &pts, |p| {
                Some(p.good)
            }),
        ];
        let latency = [
            line("latency p50", RGBColor(31, 119, 180), &pts, |p| p.p50),
            line("latency p99", RGBColor(214, 39, 40), &pts, |p| p.p99),
        ];
        let load = [
            line(
                "queue (sum over servers)",
                RGBColor(148, 103, 189),
                &pts,
                |p| Some(p.queue),
            ),
            line("open breakers", RGBColor(214, 39, 40), &pts, |p| {
                Some(p.open_breakers)
            }),
        ];
        self.panel(&panels[0], ("per second", &rates), true, true)?;
        self.panel(
            &panels[1],
            ("latency of ok requests (s)", &latency),
            true,
            false,
        )?;
        self.panel(&panels[2], ("count", &load), true, false)?;
        Ok(())
    }
}

// ---------------------------------------------------------------- distributions

/// How a distribution is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The empirical CDF: the fraction of seeds at or below each value.
    Cdf,
    /// A histogram: the fraction of seeds in each bin (outlines, so that
    /// several scenarios overlap readably).
    Hist,
}

impl Kind {
    /// `cdf` or `hist`.
    pub fn parse(text: &str) -> Result<Kind, String> {
        match text {
            "cdf" => Ok(Kind::Cdf),
            "hist" => Ok(Kind::Hist),
            other => Err(format!(
                "'{other}' is not a plot kind; expected cdf or hist"
            )),
        }
    }
}

/// One scenario's values of the metric.
pub struct Group {
    /// Its name in the legend (the scenario file's stem).
    pub name: String,
    /// The values, sorted.
    pub values: Vec<f64>,
    /// Seeds run (some may not report the metric).
    pub seeds_run: u64,
}

/// The distribution of one metric over seeds, for one or more scenarios.
pub struct DistributionChart {
    /// The title.
    pub title: String,
    /// The metric's name (its unit is read from its suffix).
    pub metric: String,
    /// CDF or histogram.
    pub kind: Kind,
    /// The scenarios' values, each sorted.
    pub groups: Vec<Group>,
}

/// The unit a metric's name ends with, for the axis label.
pub fn unit_of(metric: &str) -> &'static str {
    let last = metric.rsplit('.').next().unwrap_or(metric);
    if last.ends_with("_per_s") {
        "per second"
    } else if last.ends_with("_s") {
        "s"
    } else if last.ends_with("_ms") {
        "ms"
    } else if last.contains("fraction") {
        "fraction"
    } else {
        ""
    }
}

/// The colour of the `i`th scenario.
fn group_color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
}

impl DistributionChart {
    /// True if the x axis is logarithmic: every value positive, the
    /// greatest at least 20 times the least.
    pub fn log_x(&self) -> bool {
        let all = || self.groups.iter().flat_map(|g| g.values.iter().copied());
        let least = all().fold(f64::INFINITY, f64::min);
        let most = all().fold(f64::NEG_INFINITY, f64::max);
        least > 0.0 && most / least >= 20.0
    }

    /// The x range (in plotted units: log10 of the value on a log axis).
    fn x_range(&self, log: bool) -> (f64, f64) {
        let tf = |v: f64| if log { v.log10() } else { v };
        let all = || {
            self.groups
                .iter()
                .flat_map(|g| g.values.iter().copied())
                .map(tf)
        };
        let (lo, hi) = (
            all().fold(f64::INFINITY, f64::min),
            all().fold(f64::NEG_INFINITY, f64::max),
        );
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        let pad = if hi > lo {
            (hi - lo) * 0.04
        } else {
            lo.abs().max(1.0) * 0.1
        };
        (lo - pad, hi + pad)
    }

    /// The CDF of sorted `values` as a step line through at most
    /// [`MAX_POINTS`] ranks (the first and last included).
    fn cdf(values: &[f64], tf: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        let n = values.len();
        if n == 0 {
            return Vec::new();
        }
        let steps = (n - 1).min(MAX_POINTS / 2);
        let mut out = vec![(tf(values[0]), 0.0)];
        let mut previous = 0.0;
        let mut last_value = None;
        for k in 0..=steps {
            let i = (k * (n - 1)).checked_div(steps).unwrap_or(0);
            if last_value == Some(values[i]) {
                continue;
            }
            last_value = Some(values[i]);
            // All the seeds with this value, so a tie is one step.
            let last = values.partition_point(|v| *v <= values[i]);
            let y = last as f64 / n as f64;
            let x = tf(values[i]);
            out.push((x, previous));
            out.push((x, y));
            previous = y;
        }
        out
    }

    /// The histogram of `values` over `bins` equal bins of `range` (plotted
    /// units) as an outline, heights the fraction of `values`.
    fn hist(
        values: &[f64],
        (lo, hi): (f64, f64),
        bins: usize,
        tf: impl Fn(f64) -> f64,
    ) -> Vec<(f64, f64)> {
        let mut counts = vec![0u64; bins];
        let width = (hi - lo) / bins as f64;
        for v in values {
            let b = ((tf(*v) - lo) / width).floor();
            counts[(b.max(0.0) as usize).min(bins - 1)] += 1;
        }
        let n = values.len().max(1) as f64;
        let mut out = vec![(lo, 0.0)];
        for (b, c) in counts.iter().enumerate() {
            let (x0, x1) = (lo + b as f64 * width, lo + (b + 1) as f64 * width);
            let y = *c as f64 / n;
            out.push((x0, y));
            out.push((x1, y));
        }
        out.push((hi, 0.0));
        out
    }

    fn lines(&self, log: bool, range: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
        let tf = move |v: f64| if log { v.log10() } else { v };
        let most = self
            .groups
            .iter()
            .map(|g| g.values.len())
            .max()
            .unwrap_or(0);
        let bins = ((most as f64).sqrt().ceil() as usize).clamp(10, 60);
        self.groups
            .iter()
            .map(|g| match self.kind {
                Kind::Cdf => Self::cdf(&g.values, tf),
                Kind::Hist => Self::hist(&g.values, range, bins, tf),
            })
            .collect()
    }

    fn x_desc(&self, log: bool) -> String {
        let unit = unit_of(&self.metric);
        let mut desc = self.metric.clone();
        if !unit.is_empty() {
            desc.push_str(&format!(" ({unit})"));
        }
        if log {
            desc.push_str(", log scale");
        }
        desc
    }
}

/// The scenarios' names for a title: all of them if short, else their
/// common prefix with `*` and how many.
pub fn names_for_title(names: &[&str]) -> String {
    let all = names.join(", ");
    if all.chars().count() <= 60 || names.len() < 2 {
        return all;
    }
    let first = names[0];
    let common = names[1..].iter().fold(first.len(), |n, name| {
        first
            .char_indices()
            .zip(name.chars())
            .take_while(|((i, a), b)| *i < n && a == b)
            .count()
    });
    let mut prefix: String = first.chars().take(common).collect();
    // Cut back to a word's end: `raft-fig16-150-*`, not `raft-fig16-150-1*`.
    if let Some(cut) = prefix.rfind(['-', '_', '.']) {
        prefix.truncate(cut + 1);
    }
    format!("{prefix}* ({} scenarios)", names.len())
}

/// The median of sorted values (the lower middle one).
fn median(sorted: &[f64]) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[(sorted.len() - 1) / 2])
}

impl Draw for DistributionChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let log = self.log_x();
        let (lo, hi) = self.x_range(log);
        let lines = self.lines(log, (lo, hi));
        let y_top = match self.kind {
            Kind::Cdf => 1.0,
            Kind::Hist => {
                lines
                    .iter()
                    .flatten()
                    .map(|p| p.1)
                    .fold(0.0f64, f64::max)
                    .max(0.01)
                    * 1.1
            }
        };
        let root = root.titled(&self.title, (FONT, 20)).map_err(text)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, 0.0..y_top)
            .map_err(text)?;
        let format_x = |v: &f64| short(if log { 10f64.powf(*v) } else { *v });
        let y_desc = match self.kind {
            Kind::Cdf => "fraction of seeds at or below",
            Kind::Hist => "fraction of seeds in the bin",
        };
        chart
            .configure_mesh()
            .x_desc(self.x_desc(log))
            .y_desc(y_desc)
            .x_label_formatter(&format_x)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(text)?;
        for (i, (group, points)) in self.groups.iter().zip(lines).enumerate() {
            let color = group_color(i);
            let missing = group.seeds_run - group.values.len() as u64;
            let mut label = format!(
                "{} ({} seeds, median {})",
                group.name,
                group.values.len(),
                median(&group.values).map_or("-".into(), short)
            );
            if missing > 0 {
                label.push_str(&format!(", {missing} without it"));
            }
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(text)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        let position = match self.kind {
            Kind::Cdf => SeriesLabelPosition::LowerRight,
            Kind::Hist => SeriesLabelPosition::UpperRight,
        };
        chart
            .configure_series_labels()
            .position(position)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 14))
            .draw()
            .map_err(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cdf_is_drawn_through_a_bounded_number_of_points() {
        let values: Vec<f64> = (0..100_000).map(|i| i as f64).collect();
        let line = DistributionChart::cdf(&values, |v| v);
        assert!(line.len() <= MAX_POINTS + 3, "{}", line.len());
        assert_eq!(line.first(), Some(&(0.0, 0.0)));
        assert_eq!(line.last(), Some(&(99_999.0, 1.0)));
        assert!(line
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        // Ties are one step: half the seeds at 1, half at 2.
        let line = DistributionChart::cdf(&[1.0, 1.0, 2.0, 2.0], |v| v);
        assert_eq!(
            line,
            vec![(1.0, 0.0), (1.0, 0.0), (1.0, 0.5), (2.0, 0.5), (2.0, 1.0)]
        );
    }

    #[test]
    fn a_histogram_holds_every_value_once() {
        let values = [0.0, 0.1, 0.5, 0.9, 1.0];
        let line = DistributionChart::hist(&values, (0.0, 1.0), 2, |v| v);
        assert_eq!(
            line,
            vec![
                (0.0, 0.0),
                (0.0, 0.4),
                (0.5, 0.4),
                (0.5, 0.6),
                (1.0, 0.6),
                (1.0, 0.0)
            ]
        );
    }

    #[test]
    fn a_long_series_is_merged_to_at_most_max_points() {
        let row = |k: u64| SeriesRow {
            start: SimTime(k * 100_000_000),
            length: SimDuration::from_millis(100),
            offered: 2,
            good: 1,
            latency_p99: Some(SimDuration::from_millis(k % 7)),
            queue: k % 5,
            ..SeriesRow::default()
        };
        let rows: Vec<SeriesRow> = (0..10_000).map(row).collect();
        let per = rows.len().div_ceil(MAX_POINTS);
        let merged = points(&rows, per);
        assert!(merged.len() <= MAX_POINTS);
        let first = merged[0];
        assert_eq!(
            (first.offered, first.good),
            (20.0, 10.0),
            "rates per second"
        );
        assert_eq!((first.queue, first.p99), (4.0, Some(0.006)), "the greatest");
    }

    #[test]
    fn units_and_titles() {
        assert_eq!(unit_of("availability.time_without_leader_s"), "s");
        assert_eq!(unit_of("service.goodput_per_s"), "per second");
        assert_eq!(unit_of("recovers.best_fraction"), "fraction");
        assert_eq!(unit_of("service.calls"), "");
        assert_eq!(names_for_title(&["a", "b"]), "a, b");
        let fig16 = [
            "raft-fig16-150-150",
            "raft-fig16-150-151",
            "raft-fig16-150-155",
            "raft-fig16-150-175",
        ];
        assert_eq!(names_for_title(&fig16), "raft-fig16-150-* (4 scenarios)");
    }
}
