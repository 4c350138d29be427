//! Real-time scheduling (SCHED_FIFO) for the replay's clock thread (`--rt-priority`): under
//! normal scheduling a CPU-bound neighbour delays its wake-ups by up to the scheduler's time
//! slice (p99 3–4 ms measured with two busy processes on 2 cores; 0.03–0.12 ms with
//! SCHED_FIFO). Refused → normal scheduling, said on stderr and in the summary.

/// How the clock thread was scheduled (`--rt-priority`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClockScheduling {
    /// The OS's normal time-sharing scheduling: `--rt-priority 0`, or `--max`.
    #[default]
    Normal,
    /// SCHED_FIFO at this priority.
    Realtime(u8),
    /// SCHED_FIFO at `priority` was refused (why); the clock thread kept normal scheduling.
    Refused {
        /// The priority asked for.
        priority: u8,
        /// The operating system's answer.
        reason: String,
    },
}

impl std::fmt::Display for ClockScheduling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Normal => f.write_str("normal"),
            Self::Realtime(p) => write!(f, "SCHED_FIFO {p}"),
            Self::Refused { priority, reason } => {
                write!(f, "normal (SCHED_FIFO {priority} refused: {reason})")
            }
        }
    }
}

/// Puts the calling thread under SCHED_FIFO at `priority`; 0 leaves it alone. The clock
/// thread sleeps between sends and busy-waits at most [`crate::pacer::Pacer::DEFAULT_SPIN`] per send, so a
/// real-time clock thread takes the CPU only briefly, just when it must be on time (and the
/// kernel's real-time throttling keeps 5 % of every CPU for the rest regardless).
pub fn raise_to_realtime(priority: u8) -> ClockScheduling {
    if priority == 0 {
        return ClockScheduling::Normal;
    }
    let refused = |reason: String| ClockScheduling::Refused { priority, reason };
    #[cfg(unix)]
    {
        use thread_priority::unix::{
            RealtimeThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let value = match thread_priority::ThreadPriorityValue::try_from(priority) {
            Ok(v) => v,
            Err(e) => return refused(e),
        };
        match set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Crossplatform(value),
            ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
        ) {
            Ok(()) => ClockScheduling::Realtime(priority),
            Err(thread_priority::Error::OS(code)) => {
                refused(std::io::Error::from_raw_os_error(code).to_string())
            }
            Err(e) => refused(e.to_string()),
        }
    }
    #[cfg(not(unix))]
    {
        refused("not supported on this operating system".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::DEFAULT_RT_PRIORITY;

    /// Whether this process holds CAP_SYS_NICE (then SCHED_FIFO must be granted).
    fn has_cap_sys_nice() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("CapEff:"))
                    .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            })
            .is_some_and(|caps| caps & (1 << 23) != 0)
    }

    #[test]
    fn clock_thread_gets_sched_fifo_or_a_reason_why_not() {
        use thread_priority::unix::{
            RealtimeThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
        };
        // On threads of their own: the test harness's threads keep their scheduling.
        let off = std::thread::spawn(|| (raise_to_realtime(0), thread_schedule_policy().ok()))
            .join()
            .unwrap();
        assert_eq!(off.0, ClockScheduling::Normal);
        assert!(
            matches!(off.1, Some(ThreadSchedulePolicy::Normal(_))),
            "{off:?}"
        );

        let (got, policy) = std::thread::spawn(|| {
            (
                raise_to_realtime(DEFAULT_RT_PRIORITY),
                thread_schedule_policy().ok(),
            )
        })
        .join()
        .unwrap();
        match &got {
            ClockScheduling::Realtime(p) => {
                assert_eq!(*p, DEFAULT_RT_PRIORITY);
                assert_eq!(
                    policy,
                    Some(ThreadSchedulePolicy::Realtime(
                        RealtimeThreadSchedulePolicy::Fifo
                    ))
                );
                assert_eq!(got.to_string(), "SCHED_FIFO 10");
            }
            ClockScheduling::Refused { priority, reason } => {
                assert!(
                    !has_cap_sys_nice(),
                    "refused although CAP_SYS_NICE is held: {reason}"
                );
                assert_eq!(*priority, DEFAULT_RT_PRIORITY);
                assert!(!reason.is_empty());
                assert!(matches!(policy, Some(ThreadSchedulePolicy::Normal(_))));
                assert!(
                    got.to_string()
                        .starts_with("normal (SCHED_FIFO 10 refused: ")
                );
            }
            ClockScheduling::Normal => panic!("asked for SCHED_FIFO, got nothing said"),
        }
    }
}
