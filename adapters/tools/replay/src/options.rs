//! What a replay is asked to do: the capture, the selection, the targets, the pace and the
//! safety rewriting (`trilink replay`'s options, without the command line).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use trilink_capture::Speed;
use trilink_schema::{Mode, Nation, PayloadKind};

use crate::pacer::Pacer;
use crate::target::Target;

/// Default real-time priority of the clock thread: low among real-time priorities (kernel
/// threads that must preempt us, such as the per-CPU ones handling interrupts, run at 50 and
/// above).
pub const DEFAULT_RT_PRIORITY: u8 = 10;

/// [`Pacer::DEFAULT_SPIN`] in microseconds.
pub const DEFAULT_SPIN_US: u64 = Pacer::DEFAULT_SPIN.as_micros() as u64;

/// A replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Capture file: pcap/pcapng of national traffic, or JSON Lines of envelopes.
    pub capture: PathBuf,
    /// Capture map (TOML) for pcap/pcapng; `None`: `<stem>.map.toml` or `capture-map.toml`
    /// beside the capture, else [`trilink_capture::national_map`].
    pub map: Option<PathBuf>,
    /// Which messages of the capture are sent.
    pub selection: Selection,
    /// Where each nation's national frames go.
    pub targets: BTreeMap<Nation, Target>,
    /// Where the envelopes of a JSON Lines capture go.
    pub nats: Option<NatsTarget>,
    /// Pace.
    pub speed: Speed,
    /// `None`: one pass; `Some(0)`: until stopped; `Some(n)`: n passes.
    pub loops: Option<u64>,
    /// The mode every message is sent with.
    pub mode: ModeArg,
    /// Allow sending messages whose mode is real_world.
    pub real_world: bool,
    /// The times the messages carry.
    pub timestamps: TimestampsArg,
    /// Real-time priority of the clock thread at a recorded or scaled pace (0: normal).
    pub rt_priority: u8,
    /// Busy-wait window of the [`Pacer`].
    pub spin: Duration,
    /// Write one CSV line per send here (a diagnostic).
    pub timing_trace: Option<PathBuf>,
    /// Watch a site's dead letters for what this replay sends (`None`: not observed).
    pub dead_letters: Option<DeadLetterWatch>,
}

impl ReplayOptions {
    /// A replay of `capture` with the defaults of `trilink replay`: recorded pace, one pass,
    /// no selection, no targets, sent as exercise, retimed.
    pub fn new(capture: impl Into<PathBuf>) -> Self {
        Self {
            capture: capture.into(),
            map: None,
            selection: Selection::default(),
            targets: BTreeMap::new(),
            nats: None,
            speed: Speed::Factor(1.0),
            loops: None,
            mode: ModeArg::Exercise,
            real_world: false,
            timestamps: TimestampsArg::Retimed,
            rt_priority: DEFAULT_RT_PRIORITY,
            spin: Pacer::DEFAULT_SPIN,
            timing_trace: None,
            dead_letters: None,
        }
    }

    /// The real-time priority to ask for: `rt_priority` where timing matters (a recorded or
    /// scaled pace), none flat out (the clock thread never sleeps, it would hold a core).
    pub fn realtime_priority(&self) -> u8 {
        match self.speed {
            Speed::Factor(_) => self.rt_priority,
            Speed::Max => 0,
        }
    }

    /// The pace for the JSON summary: the factor as a number, or `"max"` for `--max`.
    pub fn speed_json(&self) -> serde_json::Value {
        match self.speed {
            Speed::Max => serde_json::Value::from("max"),
            Speed::Factor(f) => serde_json::Value::from(f),
        }
    }

    /// `speed ×F` or `--max`, as the summary shows it.
    pub fn speed_text(&self) -> String {
        match self.speed {
            Speed::Max => "--max".to_owned(),
            Speed::Factor(f) => format!("speed ×{f}"),
        }
    }
}

/// Which messages are sent: by nation (origin for envelopes, flow nation for national
/// traffic), kind and time window. Empty lists select everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these nations.
    pub nations: Vec<Nation>,
    /// Only these payload kinds.
    pub kinds: Vec<PayloadKind>,
    /// Start of the time window.
    pub from: Option<TimeSpec>,
    /// End of the time window (exclusive).
    pub until: Option<TimeSpec>,
}

/// The NATS server the envelopes of a JSON Lines capture are published to with JetStream.
#[derive(Debug, Clone)]
pub struct NatsTarget {
    /// Server URL.
    pub url: String,
    /// User (with `password`).
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// JetStream domain to publish into; `None`: the account's own.
    pub js_domain: Option<String>,
    /// CA certificate to verify the server with (TLS is then required: the hub's client port
    /// is TLS-only); `None`: plain or as the URL says.
    pub ca_file: Option<PathBuf>,
}

/// Where a replay watches for dead letters of what it sends (`--dlq-nats …`): a site's
/// dead-letter subject, read as a core NATS subscription made before the first send (the
/// site's read-only viewer `viewer-<n>` may subscribe to `tl.dlq.<n>`; an operations user may too).
#[derive(Debug, Clone)]
pub struct DeadLetterWatch {
    /// The site's server and a user allowed to subscribe to `subject`.
    pub target: NatsTarget,
    /// The site (whose adapter rejects what the replay sends it).
    pub site: Nation,
    /// The subject (`tl.dlq.<site>` unless told otherwise).
    pub subject: String,
    /// Keep listening after the last send until no dead letter has come for this long (the
    /// adapters reject within milliseconds, later under load; at most
    /// [`crate::watch::MAX_SETTLE_ROUNDS`] times this).
    pub settle: Duration,
}

/// A time-window bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeSpec {
    /// An absolute instant.
    At(DateTime<Utc>),
    /// Seconds after the capture's first message.
    After(f64),
}

/// Parse a time-window bound: RFC 3339, or seconds (optionally suffixed `s`) ≥ 0.
pub fn parse_time(s: &str) -> Result<TimeSpec, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(TimeSpec::At(t.with_timezone(&Utc)));
    }
    match s.trim_end_matches('s').parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(TimeSpec::After(v)),
        _ => Err(format!(
            "{s:?} is neither RFC 3339 nor a number of seconds ≥ 0"
        )),
    }
}

/// Parse a payload kind in snake case (`track_update`).
pub fn parse_kind(s: &str) -> Result<PayloadKind, String> {
    PayloadKind::ALL
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            format!(
                "unknown kind {s:?} (one of {})",
                PayloadKind::ALL.map(PayloadKind::as_str).join(", ")
            )
        })
}

/// `--mode`: the mode every replayed message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ModeArg {
    /// Every message is sent as an exercise.
    #[default]
    Exercise,
    /// Every message is sent as a test.
    Test,
    /// Keep each message's recorded mode (real-world messages then also need --real-world).
    AsRecorded,
}

impl ModeArg {
    /// The mode to force, `None` for as-recorded.
    pub fn forced(self) -> Option<Mode> {
        match self {
            Self::Exercise => Some(Mode::Exercise),
            Self::Test => Some(Mode::Test),
            Self::AsRecorded => None,
        }
    }

    /// As written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exercise => "exercise",
            Self::Test => "test",
            Self::AsRecorded => "as-recorded",
        }
    }
}

/// `--timestamps`: the times the replayed messages carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum TimestampsArg {
    /// Recorded intervals kept, the first message moved to the moment it is sent.
    #[default]
    Retimed,
    /// The recorded times, unchanged (a JP adapter resolves JP times of day against today:
    /// a capture from another day is then dead-lettered).
    AsRecorded,
}

impl TimestampsArg {
    /// As written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retimed => "retimed",
            Self::AsRecorded => "as-recorded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("12.5").unwrap(), TimeSpec::After(12.5));
        assert_eq!(parse_time("3s").unwrap(), TimeSpec::After(3.0));
        assert!(matches!(
            parse_time("2026-11-21T00:00:00Z").unwrap(),
            TimeSpec::At(_)
        ));
        assert!(parse_time("-1").is_err());
        assert!(parse_time("yesterday").is_err());
        assert_eq!(
            parse_kind("track_update").unwrap(),
            PayloadKind::TrackUpdate
        );
        assert!(parse_kind("tracks").is_err());
    }
}
