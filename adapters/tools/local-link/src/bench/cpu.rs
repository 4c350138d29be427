//! CPU time and memory of the processes on the benchmark's path (Linux `/proc`).

use trilink_brokers::Link;

pub(crate) fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// CPU time (user + system) a process has used so far, in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Every process on the path by name, for CPU accounting.
pub(crate) fn processes(link: &Link, mosquitto_pid: u32) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = link
        .server_ids()
        .into_iter()
        .filter_map(|id| {
            let s = link.server(id).ok()?;
            Some((s.name().to_owned(), s.pid()?))
        })
        .collect();
    out.push(("mosquitto".into(), mosquitto_pid));
    out.push(("trilink(relay+adapters+load)".into(), std::process::id()));
    out
}

pub(crate) fn cpu_snapshot(procs: &[(String, u32)]) -> Vec<Option<u64>> {
    procs.iter().map(|(_, pid)| cpu_ticks(*pid)).collect()
}

/// The resident-memory line every process is reported against (issue 17: trilink's processes
/// must stay at or under it; the nats-servers' are reported against it), MB.
pub(crate) const RSS_LINE_MB: u64 = 50;

/// Resident memory of every process on the path, now: `RSS: name N MB, …; ` and which
/// processes are over [`RSS_LINE_MB`].
pub(crate) fn rss_report(procs: &[(String, u32)]) -> String {
    let mb: Vec<(&str, u64)> = procs
        .iter()
        .filter_map(|(name, pid)| rss_kb(*pid).map(|kb| (name.as_str(), kb / 1024)))
        .collect();
    rss_line(&mb)
}

/// [`rss_report`]'s text for (process, MB) pairs.
fn rss_line(mb: &[(&str, u64)]) -> String {
    let parts: Vec<String> = mb
        .iter()
        .map(|(name, mb)| format!("{name} {mb} MB"))
        .collect();
    let over: Vec<&str> = mb
        .iter()
        .filter(|(_, mb)| *mb > RSS_LINE_MB)
        .map(|(name, _)| *name)
        .collect();
    let verdict = if over.is_empty() {
        format!("every process at or under {RSS_LINE_MB} MB")
    } else {
        format!("over {RSS_LINE_MB} MB: {}", over.join(", "))
    };
    format!("RSS: {}; {verdict}", parts.join(", "))
}

/// CPU time per delivered message of each process between two snapshots, µs: the report line
/// and the total over every process.
pub(crate) fn cpu_report(
    procs: &[(String, u32)],
    before: &[Option<u64>],
    after: &[Option<u64>],
    messages: u64,
) -> (String, f64) {
    // Linux reports /proc/<pid>/stat times in USER_HZ, 100 per second on every mainstream
    // architecture.
    const TICK_US: f64 = 10_000.0;
    let mut total = 0.0;
    let mut parts = Vec::new();
    for ((name, _), (b, a)) in procs.iter().zip(before.iter().zip(after)) {
        if let (Some(b), Some(a)) = (b, a) {
            let us = a.saturating_sub(*b) as f64 * TICK_US / messages.max(1) as f64;
            total += us;
            parts.push(format!("{name} {us:.0}"));
        }
    }
    (
        format!(
            "CPU µs per message: {} (total {total:.0})",
            parts.join(", ")
        ),
        total,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rss_line_names_every_process_over_fifty_megabytes() {
        assert_eq!(
            rss_line(&[
                ("hub-0", 151),
                ("leaf-kr", 50),
                ("trilink(relay+adapters+load)", 29)
            ]),
            "RSS: hub-0 151 MB, leaf-kr 50 MB, trilink(relay+adapters+load) 29 MB; over 50 MB: hub-0"
        );
        assert_eq!(
            rss_line(&[
                ("hub-0", 26),
                ("leaf-jp", 51),
                ("trilink(relay+adapters+load)", 51)
            ]),
            "RSS: hub-0 26 MB, leaf-jp 51 MB, trilink(relay+adapters+load) 51 MB; over 50 MB: leaf-jp, trilink(relay+adapters+load)"
        );
        assert_eq!(
            rss_line(&[("hub-0", 26), ("mosquitto", 8)]),
            "RSS: hub-0 26 MB, mosquitto 8 MB; every process at or under 50 MB"
        );
    }
}
