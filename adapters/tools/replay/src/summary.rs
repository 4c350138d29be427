//! The result of a replay, as text or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use trilink_capture::TimingSummary;
use trilink_schema::Nation;

use crate::realtime::ClockScheduling;
use crate::watch::DeadLetterReport;

/// Result of a replay.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    /// Capture format (`pcapng`, `pcap`, `jsonl`).
    pub format: &'static str,
    /// Messages (national frames or JSONL records) in the capture, decodable or not.
    pub in_capture: u64,
    /// Left out by `--nation/--kind/--from/--until`.
    pub filtered_out: u64,
    /// Undecodable frames or unusable records (not sent).
    pub rejected: u64,
    /// Packets of the capture on no mapped flow.
    pub unmapped: u64,
    /// Selected messages whose nation had no target (not sent).
    pub no_target: u64,
    /// Sent, per nation.
    pub sent: BTreeMap<Nation, u64>,
    /// Send failures (incl. missing acknowledgements).
    pub failed: u64,
    /// Why the first failed send or publish failed, when one did.
    pub failure_reason: Option<String>,
    /// Passes completed (or started, when stopped).
    pub passes: u64,
    /// Wall time of the sending.
    pub elapsed: Duration,
    /// Timing error at a recorded (scaled) pace; `None` with `--max`.
    pub timing: Option<TimingSummary>,
    /// MQTT at a recorded pace: when the client's event loop wrote each PUBLISH to the broker
    /// connection − the due instant (`timing` has the hand-off to the client's queue).
    pub mqtt_wire: Option<TimingSummary>,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// How the thread pacing the sends was scheduled.
    pub clock_scheduling: ClockScheduling,
    /// `--mode` (`exercise`, `test`, `as-recorded`).
    pub mode: &'static str,
    /// `--timestamps` (`retimed`, `as-recorded`).
    pub timestamps: &'static str,
    /// Selected messages recorded as real_world.
    pub recorded_real_world: u64,
    /// Selected messages sent as real_world (only with `--mode as-recorded --real-world`).
    pub real_world: u64,
    /// TCP reconnections (a target's connection broke and was made again).
    pub reconnects: u64,
    /// What the watched site dead-lettered of what was sent; `None`: not observed (no
    /// `--dlq-nats`).
    pub dead_letters: Option<DeadLetterReport>,
}

impl ReplaySummary {
    /// Total sent.
    pub fn sent_total(&self) -> u64 {
        self.sent.values().sum()
    }

    /// Sent messages dead-lettered at the watched site (0 when not observed).
    pub fn dead_lettered(&self) -> u64 {
        self.dead_letters
            .as_ref()
            .map_or(0, DeadLetterReport::total)
    }

    /// The dead-letter line of the text summary.
    fn dead_letter_text(&self) -> String {
        match &self.dead_letters {
            None => "dead letters: not observed (give --dlq-nats and a user allowed to read the site's dead letters, e.g. its viewer)".into(),
            Some(d) => {
                let site = d.site.map(|n| n.to_string()).unwrap_or_default();
                let other = if d.other > 0 {
                    format!("; {} other dead letter(s) on {} meanwhile (not from this replay)", d.other, d.subject)
                } else {
                    String::new()
                };
                let mut t = if d.total() == 0 {
                    format!(
                        "dead-lettered 0: nothing this replay sent was rejected at {site} ({} watched until {:.1} s after the last send){other}",
                        d.subject,
                        d.settled.as_secs_f64()
                    )
                } else {
                    format!(
                        "dead-lettered {}: {} (at {site}, {}){other}",
                        d.total(),
                        d.reasons_text(),
                        d.subject
                    )
                };
                for (reason, detail) in &d.first_detail {
                    let _ = write!(t, "\n  first {reason}: {detail}");
                }
                if let Some(e) = &d.server_error {
                    let _ = write!(t, "\n  the watch may have missed dead letters: the server said: {e}");
                }
                t
            }
        }
    }

    /// The summary as JSON; `speed` is the factor as a number, or `"max"`
    /// ([`crate::ReplayOptions::speed_json`]).
    pub fn to_json(&self, capture: &Path, speed: &serde_json::Value) -> serde_json::Value {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        serde_json::json!({
            "capture": capture.display().to_string(),
            "format": self.format,
            "speed": speed,
            "in_capture": self.in_capture,
            "filtered_out": self.filtered_out,
            "rejected": self.rejected,
            "unmapped_packets": self.unmapped,
            "no_target": self.no_target,
            "sent": self.sent_total(),
            "sent_by_nation": self.sent.iter().map(|(n, c)| (n.to_string(), *c)).collect::<BTreeMap<_, _>>(),
            "failed": self.failed,
            "failure_reason": self.failure_reason,
            "passes": self.passes,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "rate_per_s": self.rate(),
            "interrupted": self.interrupted,
            "clock_scheduling": self.clock_scheduling.to_string(),
            "mode": self.mode,
            "timestamps": self.timestamps,
            "recorded_real_world": self.recorded_real_world,
            "real_world": self.real_world,
            "reconnects": self.reconnects,
            "dead_lettered": self.dead_letters.as_ref().map(DeadLetterReport::total),
            "dead_lettered_by_reason": self.dead_letters.as_ref().map(|d| &d.by_reason),
            "dead_letters_watched": self.dead_letters.as_ref().map(|d| serde_json::json!({
                "site": d.site.map(|n| n.to_string()),
                "subject": d.subject,
                "other": d.other,
                "settled_s": d.settled.as_secs_f64(),
                "server_error": d.server_error,
                "first_detail": d.first_detail,
            })),
            "timing_error_ms": self.timing.map(|t| serde_json::json!({
                "count": t.count, "p50": ms(t.p50), "p90": ms(t.p90), "p99": ms(t.p99),
                "max": ms(t.max), "early": t.early,
            })),
            "mqtt_wire_error_ms": self.mqtt_wire.map(|t| serde_json::json!({
                "count": t.count, "p50": ms(t.p50), "p90": ms(t.p90), "p99": ms(t.p99),
                "max": ms(t.max), "early": t.early,
            })),
        })
    }

    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.sent_total() as f64 / s
        } else {
            0.0
        }
    }

    pub fn to_text(&self, capture: &Path, speed: &str) -> String {
        let by: Vec<String> = self.sent.iter().map(|(n, c)| format!("{n} {c}")).collect();
        let mut s = format!(
            "replay {} ({}, {speed}): {} messages in capture, {} filtered out, {} rejected (undecodable/unusable), {} unmapped packets, {} without a target\n",
            capture.display(),
            self.format,
            self.in_capture,
            self.filtered_out,
            self.rejected,
            self.unmapped,
            self.no_target,
        );
        let _ = writeln!(
            s,
            "sent {} ({}), failed {}, {} TCP reconnect(s), {} pass(es) in {:.3} s, {:.1} msg/s{}",
            self.sent_total(),
            if by.is_empty() {
                "none".into()
            } else {
                by.join(", ")
            },
            self.failed,
            self.reconnects,
            self.passes,
            self.elapsed.as_secs_f64(),
            self.rate(),
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
        if let Some(why) = &self.failure_reason {
            let _ = writeln!(s, "first failure: {why}");
        }
        let _ = writeln!(s, "{}", self.dead_letter_text());
        let _ = writeln!(
            s,
            "mode {} ({} recorded as real_world, {} sent as real_world), timestamps {}",
            self.mode, self.recorded_real_world, self.real_world, self.timestamps
        );
        match self.timing {
            Some(t) => {
                let _ = writeln!(
                    s,
                    "timing error (send returned − due): p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} sends ({} early); clock thread {}",
                    t.p50.as_secs_f64() * 1e3,
                    t.p90.as_secs_f64() * 1e3,
                    t.p99.as_secs_f64() * 1e3,
                    t.max.as_secs_f64() * 1e3,
                    t.count,
                    t.early,
                    self.clock_scheduling,
                );
            }
            None => s.push_str("timing error: n/a (--max)\n"),
        }
        if let Some(t) = self.mqtt_wire {
            let _ = writeln!(
                s,
                "MQTT PUBLISH written to the broker connection − due: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} publishes",
                t.p50.as_secs_f64() * 1e3,
                t.p90.as_secs_f64() * 1e3,
                t.p99.as_secs_f64() * 1e3,
                t.max.as_secs_f64() * 1e3,
                t.count,
            );
        }
        s
    }
}
