//! The demo's terminal view: a per-nation table, refreshed while the scenario plays, and the
//! final summary. The numbers come from the same board the stand-ins print from.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use trilink_schema::{Nation, PayloadKind};

use super::standins::Board;

/// Per-nation figures for the table and the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct NationRow {
    /// Destination nation.
    pub nation: Nation,
    /// Messages its national system sent into the link.
    pub sent: u64,
    /// Messages the policy releases to it (expected deliveries).
    pub expected: u64,
    /// Messages its national system received (printed RECV lines).
    pub received: u64,
    /// Launch alerts received.
    pub alerts: u64,
    /// Distinct tracks received.
    pub tracks: usize,
    /// Impact predictions received.
    pub impact_predictions: u64,
    /// Cancellations received.
    pub cancels: u64,
    /// Exercise/test messages received.
    pub not_real_world: u64,
    /// Latency p50 / p90 / p99 (ms).
    pub latency_ms: [Option<f64>; 3],
    /// Dead letters from this nation's side.
    pub dead_letters: u64,
}

/// Build the rows from the board.
pub fn rows(
    board: &Board,
    expected: &BTreeMap<Nation, u64>,
    dead: &BTreeMap<Nation, u64>,
) -> Vec<NationRow> {
    Nation::ALL
        .into_iter()
        .map(|n| {
            let r = board.received.get(&n).cloned().unwrap_or_default();
            let kind = |k: PayloadKind| r.by_kind.get(&k).copied().unwrap_or(0);
            NationRow {
                nation: n,
                sent: board.sent.get(&n).copied().unwrap_or(0),
                expected: expected.get(&n).copied().unwrap_or(0),
                received: r.messages,
                alerts: kind(PayloadKind::LaunchDetection),
                tracks: r.tracks.len(),
                impact_predictions: kind(PayloadKind::ImpactPrediction),
                cancels: kind(PayloadKind::Cancel),
                not_real_world: r.not_real_world,
                latency_ms: [r.percentile(50.0), r.percentile(90.0), r.percentile(99.0)],
                dead_letters: dead.get(&n).copied().unwrap_or(0),
            }
        })
        .collect()
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.1}"))
}

/// Render the table (also the summary body).
pub fn table(rows: &[NationRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<6} {:>6} {:>8} {:>8} {:>6} {:>6} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7} {:>5}",
        "nation",
        "sent",
        "expected",
        "received",
        "alerts",
        "tracks",
        "impacts",
        "cancels",
        "exer/test",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "dlq"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<6} {:>6} {:>8} {:>8} {:>6} {:>6} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7} {:>5}",
            r.nation.as_str().to_uppercase(),
            r.sent,
            r.expected,
            r.received,
            r.alerts,
            r.tracks,
            r.impact_predictions,
            r.cancels,
            r.not_real_world,
            ms(r.latency_ms[0]),
            ms(r.latency_ms[1]),
            ms(r.latency_ms[2]),
            r.dead_letters,
        );
    }
    s
}

/// Parse the summary's rows back (the test that checks the summary against the printed
/// RECV lines uses this): nation → received.
pub fn parse_summary_received(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut in_summary = false;
    for line in text.lines() {
        if line.starts_with("SUMMARY") {
            in_summary = true;
            continue;
        }
        if !in_summary {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if let (Some(n), Some(recv)) = (cols.first(), cols.get(3))
            && ["JP", "KR", "US"].contains(n)
            && let Ok(v) = recv.parse()
        {
            out.insert((*n).to_owned(), v);
        }
    }
    out
}
