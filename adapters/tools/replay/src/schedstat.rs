//! Per-thread scheduler counters for `--timing-trace`.

/// Per-thread scheduler counters (Linux `/proc/thread-self`), for `--timing-trace`: time spent
/// runnable but waiting for a CPU, and involuntary context switches. Zeros elsewhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchedSnap {
    /// Nanoseconds spent runnable but waiting for a CPU (`schedstat`, second field).
    pub runqueue_wait_ns: u64,
    /// Involuntary context switches (`status`, `nonvoluntary_ctxt_switches`).
    pub involuntary_switches: u64,
}

impl SchedSnap {
    /// The calling thread's counters now.
    pub fn now() -> Self {
        let runqueue_wait_ns = std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|t| t.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        let involuntary_switches = std::fs::read_to_string("/proc/thread-self/status")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0);
        Self {
            runqueue_wait_ns,
            involuntary_switches,
        }
    }
}
