//! A run's time series: one row per `[metrics] interval`, as the `service`
//! observer measures it, and its CSV form (`faultlab run --metrics FILE.csv`).
//!
//! Row `k` covers the true times `(k * interval, (k + 1) * interval]` (row 0
//! includes time 0), so an event at the run's very end falls in the last
//! row; the last row is shorter when the interval does not divide the run.

use crate::time::{SimDuration, SimTime};
use std::io::{self, Write};

/// The CSV header, in column order.
pub const CSV_HEADER: &str = "time_s,offered,calls,throughput,goodput,success,latency_p50_s,latency_p99_s,queue,open_breakers";

/// What happened in one interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesRow {
    /// Where the interval starts.
    pub start: SimTime,
    /// How long it is (the interval, or less for the run's last row).
    pub length: SimDuration,
    /// `request` records: logical requests issued.
    pub offered: u64,
    /// `call` records: attempts sent, retries included.
    pub calls: u64,
    /// `served` records: replies a server sent after doing the work.
    pub served: u64,
    /// `done` records with `good`: answered ok within the client's deadline.
    pub good: u64,
    /// `done` records with `ok`.
    pub ok: u64,
    /// Median latency of the ok requests done in it, if any.
    pub latency_p50: Option<SimDuration>,
    /// 99th percentile latency of the ok requests done in it, if any.
    pub latency_p99: Option<SimDuration>,
    /// At its end: the sum over servers of their last `queue` gauge.
    pub queue: u64,
    /// At its end: client breakers not closed (open or half-open).
    pub open_breakers: u64,
}

/// A run's time series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeSeries {
    /// The rows' interval.
    pub interval: SimDuration,
    /// The rows, from time 0, one per interval.
    pub rows: Vec<SeriesRow>,
    /// True if the run had more intervals than rows could be kept (the
    /// rows stop there).
    pub truncated: bool,
    /// Service records seen in the run (0: the model emits none).
    pub records: u64,
}

/// `count` per second over `length`.
fn rate(count: u64, length: SimDuration) -> f64 {
    if length == SimDuration::ZERO {
        return 0.0;
    }
    count as f64 * 1e9 / length.as_nanos() as f64
}

impl TimeSeries {
    /// Writes the rows as CSV: [`CSV_HEADER`], then one line per row; the
    /// counts as rates per second, times and latencies in seconds, an empty
    /// cell for a latency of an interval where no request succeeded.
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{CSV_HEADER}")?;
        let secs =
            |d: Option<SimDuration>| d.map_or(String::new(), |d| d.as_secs_f64().to_string());
        for row in &self.rows {
            writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{}",
                row.start.as_secs_f64(),
                rate(row.offered, row.length),
                rate(row.calls, row.length),
                rate(row.served, row.length),
                rate(row.good, row.length),
                rate(row.ok, row.length),
                secs(row.latency_p50),
                secs(row.latency_p99),
                row.queue,
                row.open_breakers,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_small_enough_for_the_cap() {
        // MAX_ROWS rows stay near 10 MB.
        assert!(std::mem::size_of::<SeriesRow>() <= 104);
    }

    #[test]
    fn csv_has_the_header_and_rates_per_second() {
        let series = TimeSeries {
            interval: SimDuration::from_millis(100),
            rows: vec![
                SeriesRow {
                    start: SimTime::ZERO,
                    length: SimDuration::from_millis(100),
                    offered: 10,
                    calls: 13,
                    served: 9,
                    good: 8,
                    ok: 9,
                    latency_p50: Some(SimDuration::from_millis(20)),
                    latency_p99: Some(SimDuration::from_millis(250)),
                    queue: 4,
                    open_breakers: 1,
                },
                SeriesRow {
                    start: SimTime(100_000_000),
                    length: SimDuration::from_millis(50),
                    offered: 3,
                    ..SeriesRow::default()
                },
            ],
            truncated: false,
            records: 52,
        };
        let mut out = Vec::new();
        series.write_csv(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "time_s,offered,calls,throughput,goodput,success,latency_p50_s,latency_p99_s,queue,open_breakers\n\
             0,100,130,90,80,90,0.02,0.25,4,1\n\
             0.1,60,0,0,0,0,,,0,0\n"
        );
    }
}
