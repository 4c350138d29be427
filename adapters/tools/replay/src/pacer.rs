//! The clock thread's wait for a due instant: an OS sleep, then a bounded busy-wait.

use std::time::{Duration, Instant};

/// Blocks the calling thread until a due instant: an OS sleep (on Linux a high-resolution
/// timer, woken ~50–80 µs late by the default 50 µs timer slack, later when the CPUs are busy)
/// to `spin` before the instant, then a busy-wait ([`std::hint::spin_loop`]) for the rest. The
/// busy part is bounded by `spin` per wait, so long gaps cost no CPU. For the clock thread
/// (it blocks). Never returns before the due instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacer {
    spin: Duration,
}

impl Pacer {
    /// Default busy-wait window: covers the timer slack on an idle core. Kept short on
    /// purpose: on a contended CPU every microsecond spun makes the thread less likely to win
    /// the CPU at its next wake-up (measured on the loaded 2-core box, salvo at ×20 and a
    /// 1 000 frames/s capture: p99 with 100 µs ≈ ⅓ of that with 300 µs; 1–2.5 ms was worse still).
    pub const DEFAULT_SPIN: Duration = Duration::from_micros(100);
    /// Longest single sleep: a stop request is noticed within it.
    pub const MAX_NAP: Duration = Duration::from_millis(20);

    /// Busy-wait the last `spin` before each due instant (zero: sleep only).
    pub fn new(spin: Duration) -> Self {
        Self { spin }
    }

    /// Block until `due` (at once if it has passed): `Ok` with the instant the last OS sleep
    /// returned (`None` without a sleep; for `--timing-trace`), or `Err(Stopped)` as soon as
    /// `stopped()` is true (checked before every sleep, so within [`Self::MAX_NAP`]).
    pub fn wait_until(
        self,
        due: Instant,
        stopped: impl Fn() -> bool,
    ) -> Result<Option<Instant>, Stopped> {
        let mut woke = None;
        loop {
            if stopped() {
                return Err(Stopped);
            }
            let now = Instant::now();
            let Some(left) = due.checked_duration_since(now).filter(|d| !d.is_zero()) else {
                return Ok(woke);
            };
            if let Some(nap) = left.checked_sub(self.spin).filter(|d| !d.is_zero()) {
                std::thread::sleep(nap.min(Self::MAX_NAP));
                woke = Some(Instant::now());
            } else {
                while Instant::now() < due {
                    std::hint::spin_loop();
                }
                return Ok(woke);
            }
        }
    }
}

/// A [`Pacer`] wait ended by a stop request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn pacer_never_returns_before_the_due_instant_and_honours_stop() {
        let pacer = Pacer::new(Pacer::DEFAULT_SPIN);
        // already due: at once, even when due long ago
        let past = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(pacer.wait_until(past, || false), Ok(None));
        // spin only, sleep + spin, and sleep only (no spin window)
        for (p, offset_us) in [
            (pacer, 60),
            (pacer, 2_500),
            (Pacer::new(Duration::ZERO), 1_500),
        ] {
            for _ in 0..5 {
                let due = Instant::now() + Duration::from_micros(offset_us);
                assert!(p.wait_until(due, || false).is_ok());
                let now = Instant::now();
                assert!(now >= due, "returned {:?} early", due - now);
            }
        }
        // stopped: false, without waiting for a due instant an hour away
        assert_eq!(
            pacer.wait_until(Instant::now() + Duration::from_secs(3_600), || true),
            Err(Stopped)
        );
        // a stop request during a long sleep is noticed (within MAX_NAP; loose bound here)
        let flag = Arc::new(AtomicBool::new(false));
        let setter = {
            let flag = flag.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                flag.store(true, Ordering::SeqCst);
            })
        };
        let t0 = Instant::now();
        assert_eq!(
            pacer.wait_until(t0 + Duration::from_secs(3_600), || flag
                .load(Ordering::SeqCst)),
            Err(Stopped)
        );
        assert!(t0.elapsed() < Duration::from_secs(30));
        setter.join().unwrap();
    }
}
