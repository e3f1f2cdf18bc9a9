//! A latency histogram of bounded size: log buckets with 64 sub-buckets per
//! power of two (HdrHistogram's layout), for percentiles within 0.8%.
//!
//! Values below 128 ns have a bucket each (exact). A value `v` from 128 up
//! falls in the bucket `[t << s, (t + 1) << s)` with `t = v >> s` in
//! `64..128`; a percentile reports its bucket's midpoint (clamped to the
//! least and greatest value recorded), so its error is at most half a
//! bucket, `0.5 / 64` of the value: under 0.8%. At most 3,776 buckets
//! exist for the whole `u64` range; a histogram keeps the counts from its
//! least to its greatest bucket used (at most 30 KB however many values
//! it counts; 64 buckets a power of two the values span), and clearing it
//! costs that range.

/// Sub-buckets per power of two: the precision (64: relative error under 0.8%).
const SUB_BUCKETS: u64 = 64;
/// Values below this have a bucket each.
const EXACT_BELOW: u64 = 2 * SUB_BUCKETS;

/// Counts of values (nanoseconds) in log buckets; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct LatencyHistogram {
    /// Counts of the buckets `low..low + counts.len()`.
    counts: Vec<u64>,
    low: usize,
    count: u64,
    min: u64,
    max: u64,
}

/// The bucket of `v`.
fn bucket_of(v: u64) -> u16 {
    if v < EXACT_BELOW {
        return v as u16;
    }
    let exponent = 63 - u64::from(v.leading_zeros()); // >= 7
    let shift = exponent - 6;
    let top = v >> shift; // 64..128
    debug_assert!((SUB_BUCKETS..EXACT_BELOW).contains(&top));
    (EXACT_BELOW + (exponent - 7) * SUB_BUCKETS + (top - SUB_BUCKETS)) as u16
}

/// The value a bucket stands for: the value itself below 128, else the
/// bucket's midpoint.
fn value_of(bucket: u16) -> u64 {
    let b = u64::from(bucket);
    if b < EXACT_BELOW {
        return b;
    }
    let exponent = (b - EXACT_BELOW) / SUB_BUCKETS + 7;
    let top = (b - EXACT_BELOW) % SUB_BUCKETS + SUB_BUCKETS;
    let shift = exponent - 6;
    let low = top << shift;
    low + ((1u64 << shift) >> 1)
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> LatencyHistogram {
        LatencyHistogram::default()
    }

    /// Counts one value.
    pub fn record(&mut self, value: u64) {
        let b = usize::from(bucket_of(value));
        if self.counts.is_empty() {
            self.low = b;
        } else if b < self.low {
            let more = self.low - b;
            self.counts.splice(0..0, std::iter::repeat_n(0, more));
            self.low = b;
        }
        let i = b - self.low;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        if self.count == 0 {
            (self.min, self.max) = (value, value);
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
    }

    /// How many values were counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q`-quantile (0 < q <= 1) by nearest rank: the least value with
    /// at least `ceil(q * count)` values at or below it, within 0.8%;
    /// `None` if empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        debug_assert!(q > 0.0 && q <= 1.0, "quantile {q}");
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let bucket = (self.low + i) as u16;
                return Some(value_of(bucket).clamp(self.min, self.max));
            }
        }
        debug_assert!(false, "the counts add up to count");
        Some(self.max)
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        self.counts.clear();
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact_and_buckets_cover_u64() {
        for v in 0..EXACT_BELOW {
            assert_eq!(value_of(bucket_of(v)), v);
        }
        assert_eq!(bucket_of(u64::MAX), 128 + 56 * 64 + 63);
        // Buckets are in value order.
        let probes = [127, 128, 129, 255, 256, 1_000, 1 << 20, 1 << 40, u64::MAX];
        for pair in probes.windows(2) {
            assert!(bucket_of(pair[0]) <= bucket_of(pair[1]), "{pair:?}");
        }
    }

    #[test]
    fn every_value_is_reported_within_0_8_percent() {
        // A spread of values over many powers of two, each alone.
        let mut v: u64 = 100;
        while v < u64::MAX / 3 {
            let reported = value_of(bucket_of(v));
            let error = (reported as f64 - v as f64).abs() / v as f64;
            assert!(error <= 0.5 / 64.0, "{v}: reported {reported}");
            v = v / 2 * 3 + 7;
        }
    }

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let mut h = LatencyHistogram::new();
        assert_eq!(h.quantile(0.5), None);
        for ms in 1..=100u64 {
            h.record(ms * 1_000_000);
        }
        let p50 = h.quantile(0.5).unwrap() as f64;
        let p99 = h.quantile(0.99).unwrap() as f64;
        assert!((p50 / 50e6 - 1.0).abs() < 0.008, "{p50}");
        assert!((p99 / 99e6 - 1.0).abs() < 0.008, "{p99}");
        // Clamped to what was recorded: the top value is exact.
        assert_eq!(h.quantile(1.0), Some(100_000_000));
        assert_eq!(h.count(), 100);
        // One value: exact.
        let mut one = LatencyHistogram::new();
        one.record(123_456_789);
        assert_eq!(one.quantile(0.99), Some(123_456_789));
        // The same values in falling order (buckets grow downwards).
        let mut falling = LatencyHistogram::new();
        for ms in (1..=100u64).rev() {
            falling.record(ms * 1_000_000);
        }
        for q in [0.01, 0.5, 0.99, 1.0] {
            assert_eq!(falling.quantile(q), h.quantile(q), "{q}");
        }
        h.clear();
        assert_eq!((h.count(), h.quantile(0.5)), (0, None));
        h.record(5);
        assert_eq!(h.quantile(0.5), Some(5), "clear forgets min and max too");
    }
}
