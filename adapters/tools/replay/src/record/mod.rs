//! `trilink record`: write what a link delivers to a capture file.
//!
//! - [`RecordOptions::subjects`] (with [`RecordOptions::nats`]): core NATS subscriptions; each
//!   message's envelope is written as one JSON Lines record
//!   `{"ts": <receive time>, "subject", "envelope"}` (the format `trilink replay` and
//!   `trilink policy test` read). Payloads that are not envelopes are counted as undecodable
//!   and not written ([`nats`]).
//! - `jp_udp`, `us_tcp`, `us_udp` (listen), `kr_mqtt` `mqtt://H:P/TOPIC` (subscribe on the KR
//!   national broker): the bytes as received are written to pcapng with receive timestamps
//!   (UDP datagrams from the sender to the listening address, TCP chunks as read on each
//!   accepted connection, MQTT PUBLISH from a placeholder publisher `127.0.0.1:49152` to the
//!   broker). A capture map of the listening ports is written beside the output as
//!   `<stem>.map.toml`, which `trilink replay` picks up. Frames are decoded only to count them
//!   (`count` counts decoded national frames) and to report undecodable ones ([`national`],
//!   listeners in [`listen`]).
//!
//! Stops at `stop` or after `count` messages. The file is written as messages arrive. No
//! protocol logic beyond calling the national codecs to count.

pub mod listen;
pub mod national;
pub mod nats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::Notice;
use crate::options::NatsTarget;

/// What to record.
#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    /// Output file: JSON Lines for `subjects`, pcapng for national outputs.
    pub out: PathBuf,
    /// NATS subjects to subscribe to (wildcards allowed, e.g. `tl.out.kr.>`).
    pub subjects: Vec<String>,
    /// The NATS server of `subjects` (its `js_domain` is not used).
    pub nats: Option<NatsTarget>,
    /// Listen for JP national output on UDP: PORT or HOST:PORT (default host 127.0.0.1).
    pub jp_udp: Option<String>,
    /// Accept US national output on TCP: PORT or HOST:PORT.
    pub us_tcp: Option<String>,
    /// Listen for US national output on UDP: PORT or HOST:PORT.
    pub us_udp: Option<String>,
    /// Subscribe to KR national output: mqtt://HOST:PORT/TOPIC.
    pub kr_mqtt: Option<String>,
    /// Where to write the capture map of a pcapng (default: `<out stem>.map.toml`).
    pub map: Option<PathBuf>,
    /// Stop after N messages (envelopes, or decoded national frames).
    pub count: Option<u64>,
}

impl RecordOptions {
    /// Whether national outputs (not NATS subjects) are recorded.
    pub fn national(&self) -> bool {
        self.jp_udp.is_some()
            || self.us_tcp.is_some()
            || self.us_udp.is_some()
            || self.kr_mqtt.is_some()
    }
}

/// Why a recording stopped before `stop` or `count`.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The options do not describe a recording.
    #[error("{0}")]
    Usage(String),
    /// Writing the capture or its map failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Connecting, listening or encoding failed.
    #[error("{0}")]
    Failed(String),
}

impl From<std::io::Error> for RecordError {
    fn from(source: std::io::Error) -> Self {
        Self::Io {
            what: "writing the capture".into(),
            source,
        }
    }
}

/// What a recording saw.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    /// Messages written, by nation (national) or subject prefix `tl.out.kr.track_update` (NATS).
    pub messages: BTreeMap<String, u64>,
    /// Frames or payloads that did not decode (national: still written; NATS: not written).
    pub undecodable: u64,
    /// How long the recording ran.
    pub elapsed: Duration,
}

impl Recorded {
    /// Messages written.
    pub fn total(&self) -> u64 {
        self.messages.values().sum()
    }

    /// The one-line summary `trilink record` prints.
    pub fn text(&self, out: &Path) -> String {
        let by: Vec<String> = self
            .messages
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "recorded {} messages ({}) to {} in {:.1} s; {} undecodable",
            self.total(),
            if by.is_empty() {
                "none".into()
            } else {
                by.join(", ")
            },
            out.display(),
            self.elapsed.as_secs_f64(),
            self.undecodable
        )
    }

    pub(crate) fn reached(&self, count: Option<u64>) -> bool {
        count.is_some_and(|c| self.total() >= c)
    }
}

/// Record on the caller's tokio runtime until `stop` or `opts.count`: what `trilink record`
/// does, without printing the summary (`notice` is told where it records, once it does).
pub async fn record(
    opts: &RecordOptions,
    stop: &CancellationToken,
    notice: &Notice,
) -> Result<Recorded, RecordError> {
    if opts.national() {
        national::record_national(opts, stop, notice).await
    } else if opts.subjects.is_empty() || opts.nats.is_none() {
        Err(RecordError::Usage(
            "give --subject and --nats, or national outputs".into(),
        ))
    } else {
        nats::record_nats(opts, stop, notice).await
    }
}

pub(crate) fn create(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, RecordError> {
    Ok(std::io::BufWriter::new(
        std::fs::File::create(path).map_err(|source| RecordError::Io {
            what: format!("creating {}", path.display()),
            source,
        })?,
    ))
}
