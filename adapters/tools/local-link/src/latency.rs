//! Latency samples as an HDR histogram ([`hdrhistogram`]): constant memory however long a
//! demo or bench runs, and percentiles without sorting every sample.

use hdrhistogram::Histogram;

/// Latencies recorded in milliseconds, kept as whole microseconds with 3 significant digits
/// (exact up to 2 048 µs, within 0.1 % above); the maximum is kept exactly.
#[derive(Debug, Clone)]
pub struct Latencies {
    us: Histogram<u64>,
    max_ms: Option<f64>,
}

impl Default for Latencies {
    fn default() -> Self {
        let mut us = Histogram::new(3)
            .unwrap_or_else(|_| unreachable!("3 significant digits is within 0..=5"));
        us.auto(true);
        Self { us, max_ms: None }
    }
}

impl Latencies {
    /// Record one latency in ms (negative, from clock skew, or NaN counts as 0).
    pub fn record_ms(&mut self, ms: f64) {
        let ms = if ms.is_nan() { 0.0 } else { ms.max(0.0) };
        self.max_ms = Some(self.max_ms.map_or(ms, |m| m.max(ms)));
        let us = (ms * 1_000.0).round() as u64;
        // `record` grows the auto-resizing histogram; should growing fail, clamp to its range.
        if self.us.record(us).is_err() {
            self.us.saturating_record(us);
        }
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.us.len()
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.us.is_empty()
    }

    /// Nearest-rank percentile (0..=100) in ms, never above the largest sample; `None`
    /// without samples.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        let max = self.max_ms?;
        let us = self.us.value_at_quantile((p / 100.0).clamp(0.0, 1.0));
        Some((us as f64 / 1_000.0).min(max))
    }

    /// The largest sample in ms; `None` without samples.
    pub fn max_ms(&self) -> Option<f64> {
        self.max_ms
    }
}

#[cfg(test)]
mod tests {
    use super::Latencies;

    #[test]
    fn nearest_rank_percentiles_exact_max_and_empty() {
        let mut l = Latencies::default();
        assert!(l.is_empty());
        assert_eq!(l.percentile_ms(50.0), None);
        assert_eq!(l.max_ms(), None);
        // 0.001 ms … 0.100 ms, and one 250.5 ms outlier.
        for us in 1..=100_u32 {
            l.record_ms(f64::from(us) / 1_000.0);
        }
        l.record_ms(250.5);
        l.record_ms(-3.0); // clock skew: 0
        assert_eq!(l.len(), 102);
        assert_eq!(l.percentile_ms(0.0), Some(0.0));
        // Rank ceil(0.5 × 102) = 51 of 0, 1 … 100 µs, 250 500 µs: 50 µs.
        assert_eq!(l.percentile_ms(50.0), Some(0.050));
        assert_eq!(l.percentile_ms(90.0), Some(0.091));
        assert_eq!(l.max_ms(), Some(250.5));
        let p100 = l.percentile_ms(100.0).unwrap();
        assert!((p100 - 250.5).abs() <= 250.5 * 1e-3, "{p100}");
        assert!(p100 <= 250.5);
    }

    #[test]
    fn large_values_stay_within_a_tenth_of_a_percent() {
        let mut l = Latencies::default();
        for ms in 1..=10_000_u32 {
            l.record_ms(f64::from(ms));
        }
        for (p, want) in [(50.0, 5_000.0), (99.0, 9_900.0)] {
            let got = l.percentile_ms(p).unwrap();
            assert!(
                (got - want).abs() <= want * 1e-3,
                "p{p}: {got} ms, want {want}"
            );
        }
    }
}
