//! The envelope around every payload.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{MessageId, Payload};

/// A participating nation. Also the site name of its node (`jp`, `kr`, `us`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Nation {
    /// Japan.
    Jp,
    /// Republic of Korea.
    Kr,
    /// United States (the hub).
    Us,
}

impl Nation {
    /// All nations, in a fixed order.
    pub const ALL: [Nation; 3] = [Nation::Jp, Nation::Kr, Nation::Us];

    /// The lower-case code used in subjects and configs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Nation::Jp => "jp",
            Nation::Kr => "kr",
            Nation::Us => "us",
        }
    }
}

impl fmt::Display for Nation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a string that names no nation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown nation {0:?} (expected jp, kr or us)")]
pub struct UnknownNation(pub String);

impl FromStr for Nation {
    type Err = UnknownNation;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jp" => Ok(Nation::Jp),
            "kr" => Ok(Nation::Kr),
            "us" => Ok(Nation::Us),
            other => Err(UnknownNation(other.to_owned())),
        }
    }
}

/// Whether a message describes the real world, an exercise or a technical test.
///
/// Exercise and test traffic must never be mistaken for a real warning: every national
/// format carries the mode explicitly and the relay's policy routes on it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A real-world event.
    RealWorld,
    /// An exercise event (simulated threat, real people).
    Exercise,
    /// A technical test of the link.
    Test,
}

impl Mode {
    /// All modes.
    pub const ALL: [Mode; 3] = [Mode::RealWorld, Mode::Exercise, Mode::Test];

    /// The snake-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::RealWorld => "real_world",
            Mode::Exercise => "exercise",
            Mode::Test => "test",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message came from inside its origin nation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The national warning system that produced the message (e.g. `jadgex`).
    #[schemars(length(min = 1, max = 64))]
    pub system: String,
    /// The sensor that observed the event (e.g. `fps-5-sado`); may equal `system`.
    #[schemars(length(min = 1, max = 64))]
    pub sensor: String,
    /// The national system's own message identifier, unique forever within `system`.
    #[schemars(length(min = 1, max = 128))]
    pub national_message_id: String,
}

/// One relay hop, appended by each relay a message crosses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hop {
    /// Site of the relay (`us` for the hub).
    pub site: Nation,
    /// Component name (e.g. `relay-1`).
    #[schemars(length(min = 1, max = 64))]
    pub component: String,
    /// When the relay forwarded the message (UTC).
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub at: DateTime<Utc>,
}

/// The common envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Schema version of this envelope; only [`SCHEMA_VERSION`](crate::SCHEMA_VERSION) is accepted.
    pub schema_version: u32,
    /// Deterministic id, see [`MessageId::derive`].
    pub message_id: MessageId,
    /// The originating nation.
    pub origin: Nation,
    /// Originating system, sensor and national message id.
    pub source: Source,
    /// When the sensor observed the event (UTC, nanosecond precision).
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub observed_at: DateTime<Utc>,
    /// When the origin's adapter ingested the national message (UTC).
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub ingested_at: DateTime<Utc>,
    /// When the hub relay forwarded the message (UTC); absent before the relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(
        serialize_with = "crate::rfc3339::serialize_opt",
        deserialize_with = "crate::rfc3339::deserialize_opt"
    )]
    pub relayed_at: Option<DateTime<Utc>>,
    /// Real world, exercise or test.
    pub mode: Mode,
    /// Nations the originator releases this message to; must include the origin.
    #[schemars(length(min = 1))]
    pub releasability: BTreeSet<Nation>,
    /// Relay hops so far, oldest first.
    #[serde(default)]
    pub provenance: Vec<Hop>,
    /// Maximum number of relay hops; a message with more hops is dropped as a loop.
    #[schemars(range(min = 1))]
    pub hop_limit: u8,
    /// Earlier messages this one corrects, cancels or continues (at most
    /// [`Envelope::MAX_REFERENCES`]).
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub references: Vec<MessageId>,
    /// The payload, tagged by `kind`.
    pub payload: Payload,
}

impl Envelope {
    /// Most references one envelope may carry. A cancel or correction names the few messages it
    /// retracts; a long list only costs every receiver work (and was used to fan out 781 KiB
    /// envelopes). Kept equal to the JSON Schema's `maxItems` (a test checks).
    pub const MAX_REFERENCES: usize = 16;

    /// Build a new envelope for a national message, deriving its id.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        origin: Nation,
        source: Source,
        observed_at: DateTime<Utc>,
        ingested_at: DateTime<Utc>,
        mode: Mode,
        releasability: BTreeSet<Nation>,
        payload: Payload,
    ) -> Self {
        let message_id = MessageId::derive(origin, &source.system, &source.national_message_id);
        Self {
            schema_version: crate::SCHEMA_VERSION,
            message_id,
            origin,
            source,
            observed_at,
            ingested_at,
            relayed_at: None,
            mode,
            releasability,
            provenance: Vec::new(),
            hop_limit: crate::DEFAULT_HOP_LIMIT,
            references: Vec::new(),
            payload,
        }
    }

    /// Whether this message may be delivered to `nation` under its releasability set.
    pub fn releasable_to(&self, nation: Nation) -> bool {
        self.releasability.contains(&nation)
    }

    /// Serialize to JSON bytes.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        // Room for a typical envelope (~700–900 bytes), so the buffer does not grow ~8 times
        // while it is written.
        let mut out = Vec::with_capacity(1024);
        serde_json::to_writer(&mut out, self)?;
        Ok(out)
    }

    /// Parse from JSON bytes (structure only; call [`validate`](Self::validate) afterwards).
    ///
    /// Accepts exactly what the derived `Deserialize` of the internally tagged [`Payload`]
    /// accepts, with its errors: the direct parse (see [`Payload`]) is retried with serde's
    /// buffering when it fails.
    ///
    /// Valid UTF-8 is checked once for the whole body and then read as text (`from_str`, which
    /// does not check every string again); a body that is not UTF-8 is read as bytes, so its
    /// error is the one it always was.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let parse = || match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(bytes),
        };
        parse().or_else(|_: serde_json::Error| crate::payload::payload_de::buffered(parse))
    }
}
