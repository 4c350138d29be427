//! Replay scheduling (pure: the caller passes instants in and does the sleeping and sending).
//!
//! - [`Scheduler`] maps capture timestamps to send instants for a [`Speed`].
//! - [`TimingErrors`] accumulates send-time errors and gives p50/p90/p99/max.
//! - [`ReplayFilter`] selects messages by nation, payload kind and capture-time window.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use trilink_schema::{Nation, PayloadKind};

use crate::decode::DecodedRecord;
use crate::jsonl::JsonlRecord;

/// Replay pace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Recorded pace scaled by a factor (1.0 = as recorded, 10.0 = ten times faster).
    Factor(f64),
    /// As fast as possible: every message is due immediately.
    Max,
}

/// A speed factor that is not a finite positive number.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("speed factor must be a finite number > 0, got {0}")]
pub struct BadSpeed(pub f64);

impl Speed {
    /// A checked speed factor.
    pub fn factor(f: f64) -> Result<Self, BadSpeed> {
        if f.is_finite() && f > 0.0 {
            Ok(Self::Factor(f))
        } else {
            Err(BadSpeed(f))
        }
    }
}

/// Maps capture timestamps to send instants: the first message is due at `start`, each later
/// one at `start + (ts - first_ts) / factor`. A message whose timestamp is earlier than the
/// first one's is due at `start` (capture order is kept; time never runs backwards).
#[derive(Debug, Clone)]
pub struct Scheduler {
    speed: Speed,
    start: Instant,
    origin: Option<DateTime<Utc>>,
}

impl Scheduler {
    /// A scheduler whose first message is due at `start`.
    pub fn new(speed: Speed, start: Instant) -> Self {
        Self {
            speed,
            start,
            origin: None,
        }
    }

    /// Start a new pass (e.g. `--loop`): the next message is due at `start` again.
    pub fn restart(&mut self, start: Instant) {
        self.start = start;
        self.origin = None;
    }

    /// The capture timestamp anchored at `start` (the first message's), once known.
    pub fn origin(&self) -> Option<DateTime<Utc>> {
        self.origin
    }

    /// When the message captured at `ts` is due. With [`Speed::Max`] that is always `start`
    /// (send at once).
    pub fn due(&mut self, ts: DateTime<Utc>) -> Instant {
        let origin = *self.origin.get_or_insert(ts);
        let Speed::Factor(f) = self.speed else {
            return self.start;
        };
        let offset_ns = (ts - origin).num_nanoseconds().unwrap_or(i64::MAX).max(0);
        let scaled = (offset_ns as f64 / f).min(u64::MAX as f64);
        self.start
            .checked_add(Duration::from_nanos(scaled as u64))
            .unwrap_or(self.start)
    }
}

/// Send-time errors (actual − due) of a replay, for its summary: an HDR histogram of the
/// absolute error in whole microseconds (3 significant digits: exact up to 2 048 µs, within
/// 0.1 % above), so that a long replay takes constant memory.
#[derive(Debug, Clone)]
pub struct TimingErrors {
    /// Absolute errors, µs (auto-resizing).
    abs_us: Histogram<u64>,
    /// The largest absolute error, ns (exact).
    max_ns: u64,
    /// Samples sent early.
    early: usize,
}

impl Default for TimingErrors {
    fn default() -> Self {
        Self::new()
    }
}

/// Percentiles of the absolute send-time error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingSummary {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
    /// Samples sent early (before their due instant).
    pub early: usize,
}

impl TimingErrors {
    /// Significant decimal digits kept by the histogram.
    const SIGFIG: u8 = 3;

    /// An empty accumulator.
    pub fn new() -> Self {
        let mut abs_us = Histogram::new(Self::SIGFIG).unwrap_or_else(|_| {
            unreachable!("3 significant digits is within hdrhistogram's 0..=5")
        });
        abs_us.auto(true);
        Self {
            abs_us,
            max_ns: 0,
            early: 0,
        }
    }

    /// Record that a message due at `due` was sent at `actual`.
    pub fn record(&mut self, due: Instant, actual: Instant) {
        let abs = if actual >= due {
            actual.duration_since(due)
        } else {
            self.early += 1;
            due.duration_since(actual)
        };
        let ns = u64::try_from(abs.as_nanos()).unwrap_or(u64::MAX);
        self.max_ns = self.max_ns.max(ns);
        // `record` grows the auto-resizing histogram (`saturating_record` would clamp to the
        // current range instead); should growing fail, the value is clamped to the range.
        let us = ns / 1_000;
        if self.abs_us.record(us).is_err() {
            self.abs_us.saturating_record(us);
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        usize::try_from(self.abs_us.len()).unwrap_or(usize::MAX)
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.abs_us.is_empty()
    }

    /// Nearest-rank percentiles of the absolute error (µs resolution); `None` without samples.
    pub fn summary(&self) -> Option<TimingSummary> {
        if self.is_empty() {
            return None;
        }
        let pick = |p: f64| -> Duration {
            // The histogram reports the highest value equivalent to the sample's bucket; never
            // above the exact maximum.
            let us = self.abs_us.value_at_quantile(p / 100.0);
            Duration::from_micros(us).min(Duration::from_nanos(self.max_ns))
        };
        Some(TimingSummary {
            count: self.len(),
            p50: pick(50.0),
            p90: pick(90.0),
            p99: pick(99.0),
            max: Duration::from_nanos(self.max_ns),
            early: self.early,
        })
    }
}

/// Which messages a replay sends. Empty sets mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayFilter {
    /// Nations to keep (origin nation for envelopes, the flow's nation for national frames).
    pub nations: BTreeSet<Nation>,
    /// Payload kinds to keep.
    pub kinds: BTreeSet<PayloadKind>,
    /// Keep messages captured at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Keep messages captured before this time.
    pub until: Option<DateTime<Utc>>,
}

impl ReplayFilter {
    /// Whether a message passes. `kind` is `None` when unknown (raw bytes), which fails a
    /// non-empty kind filter.
    pub fn matches(&self, nation: Nation, kind: Option<PayloadKind>, ts: DateTime<Utc>) -> bool {
        (self.nations.is_empty() || self.nations.contains(&nation))
            && (self.kinds.is_empty() || kind.is_some_and(|k| self.kinds.contains(&k)))
            && self.from.is_none_or(|f| ts >= f)
            && self.until.is_none_or(|u| ts < u)
    }

    /// For a decoded national frame.
    pub fn matches_record(&self, r: &DecodedRecord) -> bool {
        self.matches(r.nation, Some(r.envelope.payload.kind()), r.timestamp)
    }

    /// For a JSON Lines record (nation = the envelope's origin).
    pub fn matches_jsonl(&self, r: &JsonlRecord) -> bool {
        self.matches(r.envelope.origin, Some(r.envelope.payload.kind()), r.ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_790_000_000_000 + ms).unwrap()
    }

    #[test]
    fn recorded_pace_and_scaled() {
        let start = Instant::now();
        let mut s = Scheduler::new(Speed::factor(1.0).unwrap(), start);
        assert_eq!(s.due(t(0)), start);
        assert_eq!(s.due(t(250)), start + Duration::from_millis(250));
        assert_eq!(s.due(t(1000)), start + Duration::from_secs(1));
        let mut s = Scheduler::new(Speed::factor(10.0).unwrap(), start);
        s.due(t(500));
        assert_eq!(s.due(t(1500)), start + Duration::from_millis(100));
        // out-of-order timestamp: due at start, not before it
        assert_eq!(s.due(t(0)), start);
    }

    #[test]
    fn max_speed_is_always_due_now_and_restart_reanchors() {
        let start = Instant::now();
        let mut s = Scheduler::new(Speed::Max, start);
        assert_eq!(s.due(t(0)), start);
        assert_eq!(s.due(t(99_000)), start);
        let mut s = Scheduler::new(Speed::Factor(2.0), start);
        s.due(t(0));
        let later = start + Duration::from_secs(5);
        s.restart(later);
        assert_eq!(s.due(t(0)), later);
        assert_eq!(s.due(t(2000)), later + Duration::from_secs(1));
    }

    #[test]
    fn bad_speeds_are_rejected() {
        for f in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Speed::factor(f).is_err());
        }
    }

    #[test]
    fn percentiles() {
        let base = Instant::now() + Duration::from_secs(1);
        let mut e = TimingErrors::new();
        assert!(e.summary().is_none());
        for us in 1..=100u64 {
            e.record(base, base + Duration::from_micros(us));
        }
        e.record(base + Duration::from_millis(1), base);
        let s = e.summary().unwrap();
        assert_eq!(s.count, 101);
        assert_eq!(s.p50, Duration::from_micros(51));
        assert_eq!(s.p90, Duration::from_micros(91));
        assert_eq!(s.p99, Duration::from_micros(100));
        assert_eq!(s.max, Duration::from_millis(1));
        assert_eq!(s.early, 1);
    }

    #[test]
    fn percentiles_of_many_samples_stay_within_a_tenth_of_a_percent() {
        let base = Instant::now() + Duration::from_secs(1);
        let mut e = TimingErrors::new();
        // 1 µs … 100 ms, plus 250 ns late (rounds to 0 µs) once.
        for us in 1..=100_000u64 {
            e.record(base, base + Duration::from_micros(us));
        }
        e.record(base, base + Duration::from_nanos(250));
        let s = e.summary().unwrap();
        assert_eq!(s.count, 100_001);
        for (got, want_us) in [(s.p50, 50_000.0), (s.p90, 90_000.0), (s.p99, 99_000.0)] {
            let got_us = got.as_secs_f64() * 1e6;
            assert!(
                (got_us - want_us).abs() <= want_us * 1e-3,
                "{got_us} µs, want {want_us} µs"
            );
        }
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(s.early, 0);
    }

    #[test]
    fn filter() {
        let mut f = ReplayFilter::default();
        assert!(f.matches(Nation::Jp, None, t(0)));
        f.nations.insert(Nation::Kr);
        assert!(!f.matches(Nation::Jp, None, t(0)));
        assert!(f.matches(Nation::Kr, None, t(0)));
        f.kinds.insert(PayloadKind::TrackUpdate);
        assert!(!f.matches(Nation::Kr, None, t(0)));
        assert!(!f.matches(Nation::Kr, Some(PayloadKind::Cancel), t(0)));
        assert!(f.matches(Nation::Kr, Some(PayloadKind::TrackUpdate), t(0)));
        f.from = Some(t(10));
        f.until = Some(t(20));
        assert!(!f.matches(Nation::Kr, Some(PayloadKind::TrackUpdate), t(9)));
        assert!(f.matches(Nation::Kr, Some(PayloadKind::TrackUpdate), t(10)));
        assert!(!f.matches(Nation::Kr, Some(PayloadKind::TrackUpdate), t(20)));
    }
}
