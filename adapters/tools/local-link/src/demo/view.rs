//! The demo's terminal view: a per-nation table, refreshed while the scenario plays, and the
//! final summary. The numbers come from the same board the stand-ins print from.

use std::collections::BTreeMap;

use trilink_schema::{Nation, PayloadKind};

use crate::board::Board;

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
    /// Released track updates replaced by a newer update of the same track before delivery.
    pub superseded: u64,
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
                superseded: board.superseded(n),
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
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header([
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
            "dlq",
        ]);
    for r in rows {
        t.add_row([
            r.nation.as_str().to_uppercase(),
            r.sent.to_string(),
            r.expected.to_string(),
            r.received.to_string(),
            r.alerts.to_string(),
            r.tracks.to_string(),
            r.impact_predictions.to_string(),
            r.cancels.to_string(),
            r.not_real_world.to_string(),
            ms(r.latency_ms[0]),
            ms(r.latency_ms[1]),
            ms(r.latency_ms[2]),
            r.dead_letters.to_string(),
        ]);
    }
    for i in 1..13 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    format!("{t}\n")
}

/// The cells of a table row printed by [`table`] (or any whitespace-separated line).
fn cells(line: &str) -> Vec<&str> {
    line.split(|c: char| c.is_whitespace() || c == '│' || c == '┆')
        .filter(|c| !c.is_empty())
        .collect()
}

/// Start of the summary line that accounts for `received < expected`.
pub const SUPERSEDED_PREFIX: &str = "track updates superseded before delivery (an output stream keeps only the latest update of each track):";

/// The summary line saying, per nation, how many released track updates were replaced by a
/// newer update of the same track before they were delivered (why `received` can be below
/// `expected` while nothing is missing).
pub fn superseded_line(rows: &[NationRow]) -> String {
    let parts: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {}", r.nation.as_str().to_uppercase(), r.superseded))
        .collect();
    format!("{SUPERSEDED_PREFIX} {}", parts.join(", "))
}

/// Parse [`superseded_line`] back: nation → superseded track updates.
pub fn parse_superseded(text: &str) -> BTreeMap<String, u64> {
    let Some(rest) = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(SUPERSEDED_PREFIX))
    else {
        return BTreeMap::new();
    };
    rest.split(',')
        .filter_map(|part| {
            let (n, v) = part.trim().split_once(' ')?;
            Some((n.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Parse the summary's rows back (the test that checks the summary against the printed
/// RECV lines uses this): nation → received.
pub fn parse_summary_received(text: &str) -> BTreeMap<String, u64> {
    parse_summary_column(text, 3)
}

/// As [`parse_summary_received`], for the `expected` column.
pub fn parse_summary_expected(text: &str) -> BTreeMap<String, u64> {
    parse_summary_column(text, 2)
}

/// As [`parse_summary_received`], for the `dlq` column (the hub's `DLQ_<N>` message count).
pub fn parse_summary_dead_letters(text: &str) -> BTreeMap<String, u64> {
    parse_summary_column(text, 12)
}

fn parse_summary_column(text: &str, column: usize) -> BTreeMap<String, u64> {
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
        let cols = cells(line);
        if let (Some(n), Some(v)) = (cols.first(), cols.get(column))
            && ["JP", "KR", "US"].contains(n)
            && let Ok(v) = v.parse()
        {
            out.insert((*n).to_owned(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code
    use super::*;

    fn row(nation: Nation, expected: u64, received: u64) -> NationRow {
        NationRow {
            nation,
            sent: 4,
            expected,
            received,
            superseded: expected - received,
            alerts: 1,
            tracks: 1,
            impact_predictions: 0,
            cancels: 1,
            not_real_world: 0,
            latency_ms: [Some(1.25), Some(2.5), None],
            dead_letters: 0,
        }
    }

    /// The summary table reads back: the demo test compares its columns with the RECV lines.
    #[test]
    fn summary_table_parses_back() {
        let rows = [
            row(Nation::Jp, 12, 11),
            row(Nation::Kr, 7, 7),
            row(Nation::Us, 30, 28),
        ];
        let text = format!("SUMMARY\n{}", table(&rows));
        assert!(
            text.contains("│ nation ┆ sent ┆ expected ┆ received"),
            "{text}"
        );
        assert!(
            text.contains("1.2") && text.contains("2.5") && text.contains(" - "),
            "{text}"
        );
        let received = parse_summary_received(&text);
        let expected = parse_summary_expected(&text);
        assert_eq!(received.len(), 3, "{text}");
        for r in &rows {
            let n = r.nation.as_str().to_uppercase();
            assert_eq!(received[&n], r.received, "{text}");
            assert_eq!(expected[&n], r.expected, "{text}");
        }
        let line = superseded_line(&rows);
        assert_eq!(parse_superseded(&line)["US"], 2);
    }
}
