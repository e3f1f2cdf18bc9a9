//! Peak resident set size of this process, for the benchmarks' last lines.
//!
//! Included by the benchmark examples with
//! `#[path = "common/rss.rs"] mod rss;` (a directory without `main.rs`, so
//! Cargo does not take it for an example of its own).

/// The peak resident set size in MiB, formatted for a `peak_rss_mb=` field:
/// `VmHWM` from `/proc/self/status` on Linux (one decimal), `unknown`
/// elsewhere or when the file cannot be read.
pub fn peak_rss_mb() -> String {
    peak_rss_kb()
        .map(|kb| format!("{:.1}", kb as f64 / 1024.0))
        .unwrap_or_else(|| "unknown".to_string())
}

/// `VmHWM` in KiB (Linux only).
#[cfg(target_os = "linux")]
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    // "VmHWM:\t   12345 kB"
    line["VmHWM:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// No portable source of the peak outside Linux.
#[cfg(not(target_os = "linux"))]
fn peak_rss_kb() -> Option<u64> {
    None
}
