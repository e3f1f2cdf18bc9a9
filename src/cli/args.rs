//! Parsers of flag values (seed ranges, thread counts, budgets, shards).

pub(super) fn parse_seeds(text: &str) -> Result<std::ops::Range<u64>, String> {
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("'{s}' is not a seed; expected a whole number"))
    };
    let range = if let Some((a, b)) = text.split_once("..=") {
        number(a)?..number(b)?.checked_add(1).ok_or("seed range too large")?
    } else if let Some((a, b)) = text.split_once("..") {
        number(a)?..number(b)?
    } else {
        let n = number(text)?;
        n..n.checked_add(1).ok_or("seed range too large")?
    };
    if range.is_empty() {
        return Err(format!("'{text}' holds no seeds; expected e.g. 0..1000"));
    }
    Ok(range)
}

/// The most threads `--jobs` may ask for.
const MAX_JOBS: usize = 1024;

pub(super) fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n @ 1..=MAX_JOBS) => Ok(n),
        _ => Err(format!(
            "'{text}' is not a number of threads; expected a whole number from 1 to {MAX_JOBS}"
        )),
    }
}

pub(super) fn parse_budget(text: &str) -> Result<std::time::Duration, String> {
    let d = crate::time::SimDuration::parse(text)?;
    Ok(std::time::Duration::from_nanos(d.as_nanos()))
}

/// `--seed-timeout`: a positive wall-clock duration (`30s`, `500ms`).
pub(super) fn parse_seed_timeout(text: &str) -> Result<std::time::Duration, String> {
    let d = crate::time::SimDuration::parse(text)?;
    if d.as_nanos() == 0 {
        return Err(format!(
            "'{text}' is no time at all; expected a positive duration such as \"30s\" or \"500ms\""
        ));
    }
    Ok(std::time::Duration::from_nanos(d.as_nanos()))
}

pub(super) fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("'{text}' is not a shard; expected K/N, e.g. 0/4"))?;
    let k: u64 = k
        .parse()
        .map_err(|_| format!("'{k}' is not a whole number"))?;
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{n}' is not a whole number"))?;
    if n == 0 || k >= n {
        return Err(format!("shard {k}/{n}: expected 0 <= K < N"));
    }
    Ok((k, n))
}

/// A true time for `--from` / `--to`: a duration since the start (`1.9s`).
pub(super) fn parse_time(text: &str) -> Result<crate::time::SimTime, String> {
    crate::time::SimDuration::parse(text).map(|d| crate::time::SimTime(d.as_nanos()))
}
