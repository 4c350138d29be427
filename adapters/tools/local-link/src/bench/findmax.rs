//! `trilink bench --find-max`: per path, the highest offered rate it sustains — every message
//! delivered, none twice, p99 under a bound, the generator able to offer the rate — found by
//! doubling from a start rate until a run fails, then bisecting between the highest rate that
//! held and the lowest that did not, within a bounded number of runs and a time budget.
//!
//! One run of a few seconds decides a rate by default, and near the maximum a single pause of
//! a server can put one run's p99 over the bound and the next run's under it: with
//! `repeat` > 1 each rate is run up to that many times and holds when more than half of its
//! runs held ([`Majority`]; the runs stop as soon as the outcome is certain).
//!
//! The search ([`Search`]), the verdict on one run ([`verdict`]) and on one rate
//! ([`Majority`]) are pure; [`find_max`] runs them against a live path.

use std::time::{Duration, Instant};

use super::measure::{Measured, PathResult};
use crate::standins::Out;

/// Stop bisecting once the bracket is this narrow, relative to its low end.
const RESOLUTION: f64 = 0.05;

/// The search for the highest rate that holds: doubling, then bisection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    start: u64,
    steps_left: u32,
    /// The highest rate that held.
    pub held: Option<u64>,
    /// The lowest rate that did not.
    pub failed: Option<u64>,
}

impl Search {
    /// A search from `start` msg/s (at least 1) with at most `max_steps` runs.
    pub fn new(start: u64, max_steps: u32) -> Self {
        Self {
            start: start.max(1),
            steps_left: max_steps,
            held: None,
            failed: None,
        }
    }

    /// The rate to try next, or `None` when the search is over (steps used up, or the
    /// bracket narrower than 5 % or 1 msg/s, or not even 1 msg/s held).
    pub fn next_rate(&self) -> Option<u64> {
        if self.steps_left == 0 {
            return None;
        }
        match (self.held, self.failed) {
            (None, None) => Some(self.start),
            (Some(lo), None) => Some(lo.saturating_mul(2)),
            (None, Some(hi)) => (hi > 1).then_some(hi / 2),
            (Some(lo), Some(hi)) => {
                let width = hi.saturating_sub(lo);
                let enough = ((lo as f64 * RESOLUTION) as u64).max(1);
                (width > enough).then(|| lo + width / 2)
            }
        }
    }

    /// Record the outcome of a run at `rate`.
    pub fn record(&mut self, rate: u64, held: bool) {
        self.steps_left = self.steps_left.saturating_sub(1);
        if held {
            self.held = Some(self.held.map_or(rate, |h| h.max(rate)));
        } else {
            self.failed = Some(self.failed.map_or(rate, |f| f.min(rate)));
        }
    }
}

/// The verdict on one rate from up to `runs` runs: it holds when more than half of them held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Majority {
    runs: u32,
    held: u32,
    failed: u32,
}

impl Majority {
    /// A verdict from up to `runs` runs (at least 1).
    pub fn new(runs: u32) -> Self {
        Self {
            runs: runs.max(1),
            held: 0,
            failed: 0,
        }
    }

    /// Record one run's outcome.
    pub fn record(&mut self, held: bool) {
        if held {
            self.held += 1;
        } else {
            self.failed += 1;
        }
    }

    /// `Some(held)` once the outcome is certain, `None` while it still needs runs.
    pub fn decided(&self) -> Option<bool> {
        let needed = self.runs / 2 + 1;
        if self.held >= needed {
            Some(true)
        } else if self.failed > self.runs - needed {
            Some(false)
        } else {
            None
        }
    }

    /// Runs recorded so far: (held, failed).
    pub fn counts(&self) -> (u32, u32) {
        (self.held, self.failed)
    }
}

/// Whether one run at `rate` for `duration` held: `Ok` or why not.
pub fn verdict(
    r: &PathResult,
    rate: u64,
    duration: Duration,
    p99_bound_ms: f64,
) -> Result<(), String> {
    let mut why = Vec::new();
    let expected = rate as f64 * duration.as_secs_f64();
    if (r.sent as f64) < 0.9 * expected {
        why.push(format!(
            "generator offered only {} of {expected:.0}",
            r.sent
        ));
    }
    if r.sent == 0 {
        why.push("nothing sent".to_owned());
    }
    let lost = r.sent.saturating_sub(r.received);
    if lost > 0 {
        why.push(format!("lost {lost} of {}", r.sent));
    }
    if r.duplicates > 0 {
        why.push(format!("{} duplicates", r.duplicates));
    }
    let p99 = r.pct(99.0);
    // NaN (nothing arrived) never holds.
    if p99
        .partial_cmp(&p99_bound_ms)
        .is_none_or(|o| o == std::cmp::Ordering::Greater)
    {
        why.push(format!("p99 {p99:.2} ms > {p99_bound_ms} ms"));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("; "))
    }
}

/// How the search is bounded.
#[derive(Debug, Clone, Copy)]
pub struct FindMaxOptions {
    /// First rate tried, msg/s.
    pub start: u64,
    /// Most runs per path.
    pub max_steps: u32,
    /// Runs per rate at most; a rate holds when more than half of its runs held.
    pub repeat: u32,
    /// Most time per path (a run that would end after it is not started).
    pub budget: Duration,
    /// The p99 bound, ms.
    pub p99_bound_ms: f64,
    /// Seconds each run offers traffic.
    pub duration: Duration,
    /// Seconds each run waits for the last arrivals.
    pub drain: Duration,
}

/// What the search found for one path.
#[derive(Debug, Clone)]
pub struct FoundMax {
    /// The path.
    pub name: String,
    /// The search's end state.
    pub search: Search,
    /// Runs made.
    pub steps: u32,
    /// The run at the highest rate that held.
    pub at_max: Option<PathResult>,
    /// Why the search stopped early, if it did.
    pub note: Option<String>,
}

impl FoundMax {
    /// The highest rate that held, msg/s.
    pub fn max(&self) -> Option<u64> {
        self.search.held
    }
}

/// Search `path`'s highest sustained rate, reporting every run to `out`.
pub(crate) async fn find_max<P: Measured>(
    path: &mut P,
    name: &str,
    opts: FindMaxOptions,
    out: &Out,
) -> FoundMax {
    let started = Instant::now();
    let mut search = Search::new(opts.start, opts.max_steps);
    let mut at_max = None;
    let mut steps = 0;
    let mut note = None;
    'rates: while let Some(rate) = search.next_rate() {
        let mut majority = Majority::new(opts.repeat);
        // The held run at this rate with the highest p99: the figures reported at the maximum.
        let mut worst_held: Option<PathResult> = None;
        let held = loop {
            if let Some(held) = majority.decided() {
                break held;
            }
            // A run takes its duration, up to its drain, and up to a drain's worth of quiescing.
            let worst = opts.duration + opts.drain * 2;
            if steps >= opts.max_steps {
                note = Some(format!("run limit of {} reached", opts.max_steps));
                break 'rates;
            }
            if started.elapsed() + worst > opts.budget {
                note = Some(format!(
                    "time budget of {:.0} s reached",
                    opts.budget.as_secs_f64()
                ));
                break 'rates;
            }
            if !path.quiesce(opts.drain).await {
                say!(
                    out,
                    "find-max {name}: the previous run's backlog was still arriving after {:.0} s",
                    opts.drain.as_secs_f64()
                );
            }
            let r = path.step(rate, opts.duration, opts.drain).await;
            steps += 1;
            let v = verdict(&r, rate, opts.duration, opts.p99_bound_ms);
            majority.record(v.is_ok());
            say!(
                out,
                "find-max {name}: run {steps}: {rate} msg/s → {}{} (sent {}, recv {}, recv/s {:.0}, p50 {:.2} ms, p99 {:.2} ms, CPU {:.0} µs/msg)",
                match &v {
                    Ok(()) => "held".to_owned(),
                    Err(why) => format!("over ({why})"),
                },
                if opts.repeat > 1 {
                    let (h, f) = majority.counts();
                    format!(
                        " [{h} held, {f} over of at most {} at this rate{}]",
                        opts.repeat,
                        match majority.decided() {
                            Some(true) => ": holds",
                            Some(false) => ": does not hold",
                            None => "",
                        }
                    )
                } else {
                    String::new()
                },
                r.sent,
                r.received,
                r.throughput(),
                r.pct(50.0),
                r.pct(99.0),
                r.cpu_total_us
            );
            if v.is_ok()
                && worst_held
                    .as_ref()
                    .is_none_or(|w| r.pct(99.0) > w.pct(99.0))
            {
                worst_held = Some(r);
            }
        };
        search.record(rate, held);
        if held && search.held == Some(rate) {
            at_max = worst_held;
        }
    }
    if note.is_none() && search.failed.is_none() && search.held.is_some() {
        note = Some("no run failed: the maximum is higher".to_owned());
    }
    FoundMax {
        name: name.to_owned(),
        search,
        steps,
        at_max,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run a search against a path that holds up to `capacity`.
    fn search_against(capacity: u64, start: u64, steps: u32) -> (Search, Vec<u64>) {
        let mut s = Search::new(start, steps);
        let mut tried = Vec::new();
        while let Some(r) = s.next_rate() {
            tried.push(r);
            s.record(r, r <= capacity);
        }
        (s, tried)
    }

    #[test]
    fn doubles_then_bisects_to_within_five_percent() {
        let (s, tried) = search_against(3_000, 500, 20);
        assert_eq!(tried.get(..4), Some(&[500, 1_000, 2_000, 4_000][..]));
        let (lo, hi) = (s.held.unwrap(), s.failed.unwrap());
        assert!(lo <= 3_000 && hi > 3_000, "{lo} {hi}");
        assert!(
            (hi - lo) as f64 <= lo as f64 * RESOLUTION,
            "{lo} {hi} {tried:?}"
        );
        assert!(tried.len() < 20, "{tried:?}");
    }

    /// Feed `outcomes` to a verdict of at most `runs` runs until it decides: (verdict, runs used).
    fn majority_of(runs: u32, outcomes: &[bool]) -> (Option<bool>, usize) {
        let mut m = Majority::new(runs);
        let mut used = 0;
        for &held in outcomes {
            if m.decided().is_some() {
                break;
            }
            m.record(held);
            used += 1;
        }
        (m.decided(), used)
    }

    #[test]
    fn a_rate_holds_when_more_than_half_of_its_runs_held_and_stops_once_certain() {
        // One run (the default, and 0 read as 1) decides alone.
        for runs in [0, 1] {
            assert_eq!(majority_of(runs, &[true, false]), (Some(true), 1));
            assert_eq!(majority_of(runs, &[false, true]), (Some(false), 1));
        }
        // Three: two alike decide; a split needs the third.
        assert_eq!(majority_of(3, &[true, true, false]), (Some(true), 2));
        assert_eq!(majority_of(3, &[false, false, true]), (Some(false), 2));
        assert_eq!(majority_of(3, &[true, false, true]), (Some(true), 3));
        assert_eq!(majority_of(3, &[false, true, false]), (Some(false), 3));
        assert_eq!(majority_of(3, &[true, false]), (None, 2));
        // Two: a tie is not more than half, so one failure decides.
        assert_eq!(majority_of(2, &[true, false]), (Some(false), 2));
        assert_eq!(majority_of(2, &[false, true]), (Some(false), 1));
        assert_eq!(majority_of(2, &[true, true]), (Some(true), 2));
        // Five: three held of five.
        assert_eq!(
            majority_of(5, &[false, true, false, true, true]),
            (Some(true), 5)
        );
        assert_eq!(majority_of(5, &[false, false, false]), (Some(false), 3));
    }

    #[test]
    fn halves_when_the_start_is_too_high() {
        let (s, tried) = search_against(300, 1_000, 20);
        assert_eq!(tried.get(..3), Some(&[1_000, 500, 250][..]));
        assert!(s.held.unwrap() <= 300 && s.failed.unwrap() > 300);
    }

    #[test]
    fn never_runs_more_than_its_steps() {
        for steps in 0..4 {
            let (s, tried) = search_against(1_000_000, 10, steps);
            assert_eq!(tried.len(), steps as usize);
            assert_eq!(s.held, (steps > 0).then(|| 10 << (steps - 1)));
        }
        // Nothing holds: gives up at 1 msg/s.
        let (s, tried) = search_against(0, 8, 50);
        assert_eq!(tried, vec![8, 4, 2, 1]);
        assert_eq!(s.held, None);
    }

    #[test]
    fn a_run_holds_only_with_everything_delivered_once_in_time() {
        let d = Duration::from_secs(2);
        let mut r = PathResult {
            sent: 200,
            received: 200,
            ..PathResult::default()
        };
        for _ in 0..200 {
            r.latencies.record_ms(1.0);
        }
        assert_eq!(verdict(&r, 100, d, 10.0), Ok(()));
        assert!(verdict(&r, 100, d, 0.5).unwrap_err().contains("p99"));
        assert!(
            verdict(&r, 200, d, 10.0)
                .unwrap_err()
                .contains("offered only")
        );
        let lost = PathResult {
            received: 199,
            ..r.clone()
        };
        assert!(
            verdict(&lost, 100, d, 10.0)
                .unwrap_err()
                .contains("lost 1 of 200")
        );
        let dup = PathResult {
            duplicates: 1,
            ..r.clone()
        };
        assert!(
            verdict(&dup, 100, d, 10.0)
                .unwrap_err()
                .contains("duplicates")
        );
        // No latency at all (nothing arrived) never holds.
        let none = PathResult {
            sent: 200,
            ..PathResult::default()
        };
        assert!(verdict(&none, 100, d, 10.0).is_err());
    }
}
