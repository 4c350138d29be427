//! Payload kinds. Every physical quantity carries its unit in its field name.

use std::fmt;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ErrorEllipse, GeoPoint, Nation, PositionUncertainty, VelocityEnu};

/// A track identifier. It becomes a NATS subject token (`tl.out.<dest>.track_update.<origin>.<id>`), so
/// it is restricted to 1–32 characters of `[A-Za-z0-9_-]`. Parsing accepts any string;
/// [`Envelope::validate`](crate::Envelope::validate) rejects a bad one with a typed error.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct TrackId(
    #[schemars(length(min = 1, max = 32), regex(pattern = r"^[A-Za-z0-9_-]{1,32}$"))] String,
);

/// Why a string is not a valid [`TrackId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid track id {value:?}: must be 1-32 characters of [A-Za-z0-9_-]")]
pub struct TrackIdError {
    /// The rejected value.
    pub value: String,
}

impl TrackId {
    /// Maximum length in bytes.
    pub const MAX_LEN: usize = 32;

    /// A checked track id.
    pub fn new(value: impl Into<String>) -> Result<Self, TrackIdError> {
        let value = value.into();
        if Self::is_valid(&value) {
            Ok(Self(value))
        } else {
            Err(TrackIdError { value })
        }
    }

    /// Whether `s` is a valid track id.
    pub fn is_valid(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Missile class, by range band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissileClass {
    /// Short-range ballistic missile (< 1 000 km).
    Srbm,
    /// Medium-range (1 000 – 3 000 km).
    Mrbm,
    /// Intermediate-range (3 000 – 5 500 km).
    Irbm,
    /// Intercontinental (> 5 500 km).
    Icbm,
    /// Submarine-launched.
    Slbm,
    /// Not yet classified.
    Unknown,
}

/// Flight phase of a ballistic track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlightPhase {
    /// Powered flight.
    Boost,
    /// Unpowered flight above the atmosphere.
    Midcourse,
    /// Re-entry and descent.
    Terminal,
    /// Not determined.
    Unknown,
}

/// How an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The object impacted.
    Impact,
    /// Track lost by the sensors.
    Lost,
    /// Any other end (intercepted, left coverage, …).
    Other,
}

/// Health of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComponentState {
    /// Working normally.
    Ok,
    /// Working with reduced function.
    Degraded,
    /// Not working.
    Down,
}

/// A launch has been detected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LaunchDetection {
    /// Track started by this detection.
    pub track_id: TrackId,
    /// Estimated launch time (UTC).
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub launch_time: DateTime<Utc>,
    /// Estimated launch point.
    pub launch_point: GeoPoint,
    /// One-sigma uncertainty of the launch point.
    pub launch_point_uncertainty: PositionUncertainty,
    /// Assessed missile class.
    pub missile_class: MissileClass,
    /// Confidence that this is a real launch, 0 … 1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub confidence: f64,
}

/// A track position report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackUpdate {
    /// Track identifier.
    pub track_id: TrackId,
    /// Time of the position (UTC).
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub time: DateTime<Utc>,
    /// WGS84 position.
    pub position: GeoPoint,
    /// One-sigma position uncertainty.
    pub position_uncertainty: PositionUncertainty,
    /// Velocity, local east-north-up.
    pub velocity: VelocityEnu,
    /// Track quality, 0 (worst) … 15 (best), as in Link 16 track quality.
    #[schemars(range(max = 15))]
    pub quality: u8,
    /// Flight phase.
    pub flight_phase: FlightPhase,
}

/// A predicted impact point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactPrediction {
    /// Track the prediction is for.
    pub track_id: TrackId,
    /// Predicted impact time (UTC); may lie in the future.
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub impact_time: DateTime<Utc>,
    /// Predicted impact point.
    pub impact_point: GeoPoint,
    /// Horizontal error ellipse of the impact point.
    pub error_ellipse: ErrorEllipse,
}

/// The end of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventEnd {
    /// Track that ended.
    pub track_id: TrackId,
    /// When it ended (UTC).
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub time: DateTime<Utc>,
    /// Why it ended.
    pub reason: EndReason,
    /// Last known or impact point, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_point: Option<GeoPoint>,
}

/// Retraction of earlier messages (e.g. a false alarm). The envelope's `references` name
/// the retracted messages and must not be empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// Track whose messages are retracted.
    pub track_id: TrackId,
    /// Why (free text, ≤ 256 characters).
    #[schemars(length(min = 1, max = 256))]
    pub reason: String,
}

/// Correction of earlier messages. The envelope's `references` name the corrected messages
/// and must not be empty; every present field replaces the referenced value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// Track whose messages are corrected.
    pub track_id: TrackId,
    /// Why (free text, ≤ 256 characters).
    #[schemars(length(min = 1, max = 256))]
    pub reason: String,
    /// Corrected event time (launch, impact), if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(
        serialize_with = "crate::rfc3339::serialize_opt",
        deserialize_with = "crate::rfc3339::deserialize_opt"
    )]
    pub corrected_time: Option<DateTime<Utc>>,
    /// Corrected point (launch or impact), if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_point: Option<GeoPoint>,
    /// Corrected missile class, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_missile_class: Option<MissileClass>,
}

/// Health report of a site component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// Component name (e.g. `adapter-jp`).
    #[schemars(length(min = 1, max = 64))]
    pub component: String,
    /// Health.
    pub state: ComponentState,
    /// Seconds since the component started.
    #[schemars(range(min = 0.0))]
    pub uptime_s: f64,
    /// Free text detail (≤ 256 characters).
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub detail: String,
}

/// Life-cycle state of a common event (see [`CommonEvent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// At least one contribution is still live.
    Active,
    /// Every contribution that was not cancelled has ended (impact, lost, other).
    Ended,
    /// Every contributing nation cancelled its contribution (false alarm).
    Cancelled,
}

/// State of one national track's contribution to a common event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContributionState {
    /// Reporting.
    Active,
    /// No report for longer than the correlator's drop-out time; not fused any more.
    Stale,
    /// Its nation sent `event_end` for it.
    Ended,
    /// Its nation cancelled it; it no longer influences the event.
    Cancelled,
}

/// One national track contributing to a common event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contributor {
    /// The nation that reported the track.
    pub origin: Nation,
    /// The national track id.
    pub track_id: TrackId,
    /// State of this contribution.
    pub state: ContributionState,
    /// Observation time of its latest report (UTC).
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub last_report_at: DateTime<Utc>,
}

/// The fused launch estimate of a common event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FusedLaunch {
    /// Fused launch time (UTC).
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub launch_time: DateTime<Utc>,
    /// Fused launch point.
    pub launch_point: GeoPoint,
    /// One-sigma uncertainty of the fused launch point.
    pub launch_point_uncertainty: PositionUncertainty,
}

/// The fused kinematic state of a common event at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FusedTrack {
    /// Time of the fused state (UTC): the newest contributing report's time.
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub time: DateTime<Utc>,
    /// Fused WGS84 position.
    pub position: GeoPoint,
    /// One-sigma uncertainty of the fused position (horizontal: the larger semi-axis).
    pub position_uncertainty: PositionUncertainty,
    /// Fused velocity, local east-north-up.
    pub velocity: VelocityEnu,
    /// Flight phase of the newest contributing report.
    pub flight_phase: FlightPhase,
}

/// The fused impact prediction of a common event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FusedImpact {
    /// Fused predicted impact time (UTC); may lie in the future.
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub impact_time: DateTime<Utc>,
    /// Fused predicted impact point.
    pub impact_point: GeoPoint,
    /// Horizontal one-sigma error ellipse of the fused impact point.
    pub error_ellipse: ErrorEllipse,
}

/// How a common event closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventClose {
    /// When the last contribution ended (UTC).
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub time: DateTime<Utc>,
    /// `impact` if any contributor reported an impact, otherwise the first reason reported.
    pub reason: EndReason,
    /// Final point, when a contributor gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_point: Option<GeoPoint>,
}

/// A common event: one physical object as the hub's correlator sees it, fused from the national
/// tracks released to the destination this message goes to. Published by the hub only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommonEvent {
    /// Stable event id (UUID v5 of the first contribution's message id; a replay reproduces it).
    /// Its 32-digit simple form is a valid [`TrackId`] for national formats.
    pub event_id: uuid::Uuid,
    /// Life-cycle state.
    pub state: EventState,
    /// The nation whose report was observed first.
    pub first_detected_by: Nation,
    /// Observation time of that first report (UTC).
    #[serde(
        serialize_with = "crate::rfc3339::serialize",
        deserialize_with = "crate::rfc3339::deserialize"
    )]
    pub first_detected_at: DateTime<Utc>,
    /// Assessed missile class (the first contributor's that is not `unknown`).
    pub missile_class: MissileClass,
    /// Contributing national tracks, in the order they joined (at most 16).
    #[schemars(length(min = 1, max = 16))]
    pub contributors: Vec<Contributor>,
    /// Fused launch estimate, when a contributor reported the launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<FusedLaunch>,
    /// Fused track, when a contributor reported track updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<FusedTrack>,
    /// Fused impact prediction, when a contributor predicted the impact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<FusedImpact>,
    /// How the event closed, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EventClose>,
}

impl CommonEvent {
    /// Most contributors one event lists (kept equal to the JSON Schema's `maxItems`).
    pub const MAX_CONTRIBUTORS: usize = 16;

    /// The event id as a national track id (32 lower-case hex digits).
    pub fn track_id(&self) -> TrackId {
        Self::track_id_of(self.event_id)
    }

    /// An event id as a national track id (32 lower-case hex digits).
    pub fn track_id_of(event_id: uuid::Uuid) -> TrackId {
        TrackId(event_id.simple().to_string())
    }
}

// `Deserialize` is hand-written (module `payload_de` below): the derived one for an internally
// tagged enum buffers the whole payload before reading its struct; this one reads the struct
// directly when `kind` is the first key, as `Serialize` writes it, and takes the derived path
// otherwise. (A plain comment: the doc comment is the JSON Schema's description.)
/// The payload, tagged by `kind` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// See [`LaunchDetection`].
    LaunchDetection(LaunchDetection),
    /// See [`TrackUpdate`].
    TrackUpdate(TrackUpdate),
    /// See [`ImpactPrediction`].
    ImpactPrediction(ImpactPrediction),
    /// See [`EventEnd`].
    EventEnd(EventEnd),
    /// See [`Cancel`].
    Cancel(Cancel),
    /// See [`Correction`].
    Correction(Correction),
    /// See [`Status`].
    Status(Status),
    /// See [`CommonEvent`]; published by the hub only.
    // Boxed: several times larger than every other payload, and envelopes live inside many
    // async state machines (clippy's large_futures).
    CommonEvent(Box<CommonEvent>),
}

/// The kind of a payload without its data; its snake-case name is the subject token.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// `launch_detection`
    LaunchDetection,
    /// `track_update`
    TrackUpdate,
    /// `impact_prediction`
    ImpactPrediction,
    /// `event_end`
    EventEnd,
    /// `cancel`
    Cancel,
    /// `correction`
    Correction,
    /// `status`
    Status,
    /// `common_event` (published by the hub's correlator, never by a national system)
    CommonEvent,
}

impl PayloadKind {
    /// Every kind.
    pub const ALL: [PayloadKind; 8] = [
        PayloadKind::LaunchDetection,
        PayloadKind::TrackUpdate,
        PayloadKind::ImpactPrediction,
        PayloadKind::EventEnd,
        PayloadKind::Cancel,
        PayloadKind::Correction,
        PayloadKind::Status,
        PayloadKind::CommonEvent,
    ];

    /// The kinds a national system originates (every kind but `common_event`, which only the
    /// hub's correlator publishes); the national formats carry these.
    pub const NATIONAL: [PayloadKind; 7] = [
        PayloadKind::LaunchDetection,
        PayloadKind::TrackUpdate,
        PayloadKind::ImpactPrediction,
        PayloadKind::EventEnd,
        PayloadKind::Cancel,
        PayloadKind::Correction,
        PayloadKind::Status,
    ];

    /// Whether an output subject of this kind names a track rather than a message, so that the
    /// output stream keeps only the latest message per track: `track_update` (the national
    /// track) and `common_event` (the hub's event, whose track id is its event id).
    pub const fn keeps_latest(self) -> bool {
        matches!(self, PayloadKind::TrackUpdate | PayloadKind::CommonEvent)
    }

    /// Snake-case name, as used in JSON and subjects.
    pub const fn as_str(self) -> &'static str {
        match self {
            PayloadKind::LaunchDetection => "launch_detection",
            PayloadKind::TrackUpdate => "track_update",
            PayloadKind::ImpactPrediction => "impact_prediction",
            PayloadKind::EventEnd => "event_end",
            PayloadKind::Cancel => "cancel",
            PayloadKind::Correction => "correction",
            PayloadKind::Status => "status",
            PayloadKind::CommonEvent => "common_event",
        }
    }

    /// Parse a snake-case name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for PayloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Payload {
    /// The payload's kind.
    pub const fn kind(&self) -> PayloadKind {
        match self {
            Payload::LaunchDetection(_) => PayloadKind::LaunchDetection,
            Payload::TrackUpdate(_) => PayloadKind::TrackUpdate,
            Payload::ImpactPrediction(_) => PayloadKind::ImpactPrediction,
            Payload::EventEnd(_) => PayloadKind::EventEnd,
            Payload::Cancel(_) => PayloadKind::Cancel,
            Payload::Correction(_) => PayloadKind::Correction,
            Payload::Status(_) => PayloadKind::Status,
            Payload::CommonEvent(_) => PayloadKind::CommonEvent,
        }
    }

    /// The track the payload concerns, if any.
    pub fn track_id(&self) -> Option<&TrackId> {
        match self {
            Payload::LaunchDetection(p) => Some(&p.track_id),
            Payload::TrackUpdate(p) => Some(&p.track_id),
            Payload::ImpactPrediction(p) => Some(&p.track_id),
            Payload::EventEnd(p) => Some(&p.track_id),
            Payload::Cancel(p) => Some(&p.track_id),
            Payload::Correction(p) => Some(&p.track_id),
            Payload::Status(_) | Payload::CommonEvent(_) => None,
        }
    }

    /// The geographic point most relevant to routing (launch, track, impact, final or
    /// corrected point), if the payload has one.
    pub fn reference_point(&self) -> Option<GeoPoint> {
        match self {
            Payload::LaunchDetection(p) => Some(p.launch_point),
            Payload::TrackUpdate(p) => Some(p.position),
            Payload::ImpactPrediction(p) => Some(p.impact_point),
            Payload::EventEnd(p) => p.final_point,
            Payload::Correction(p) => p.corrected_point,
            Payload::CommonEvent(p) => p
                .track
                .as_ref()
                .map(|t| t.position)
                .or_else(|| p.launch.as_ref().map(|l| l.launch_point)),
            Payload::Cancel(_) | Payload::Status(_) => None,
        }
    }
}

pub(crate) mod payload_de {
    //! `Deserialize` for [`Payload`] without serde's buffering when `kind` comes first.
    //!
    //! The derived impl of an internally tagged enum reads the whole map into serde's private
    //! `Content` to find the tag, then reads the variant's struct from that buffer. Our
    //! serialiser writes `kind` first, so [`PayloadVisitor`] reads the first key: if it is
    //! `kind`, it reads the kind (with the derived variant identifier's rules and errors) and
    //! hands the rest of the map straight to the variant's struct. Otherwise (a first key that
    //! is not `kind`, a sequence) it replays what it read into [`Buffered`], the derived impl
    //! kept as a private shadow type, so such input gets exactly the derived result.
    //!
    //! Reading from serde's buffer is slightly more lenient than reading from `serde_json`
    //! directly in one corner: a unit enum value in map form with an empty object
    //! (`"missile_class": {"srbm": {}}`) is accepted from the buffer only. So
    //! [`Envelope::from_json`](crate::Envelope::from_json) parses again in [`buffered`] mode
    //! when the direct parse fails: whatever the derived impl accepted is accepted with the same
    //! value, and an error is the derived impl's error, text included.

    use std::borrow::Cow;
    use std::cell::Cell;
    use std::fmt;

    use serde::Deserialize;
    use serde::de::value::{
        BorrowedBytesDeserializer, BorrowedStrDeserializer, BytesDeserializer,
        MapAccessDeserializer, SeqAccessDeserializer, StringDeserializer, U64Deserializer,
    };
    use serde::de::{
        self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor,
    };

    use super::{
        Cancel, CommonEvent, Correction, EventEnd, ImpactPrediction, LaunchDetection, Payload,
        PayloadKind, Status, TrackUpdate,
    };

    /// The derived impl (same attributes and variants as [`Payload`]).
    #[derive(Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub(crate) enum Buffered {
        LaunchDetection(LaunchDetection),
        TrackUpdate(TrackUpdate),
        ImpactPrediction(ImpactPrediction),
        EventEnd(EventEnd),
        Cancel(Cancel),
        Correction(Correction),
        Status(Status),
        CommonEvent(Box<CommonEvent>),
    }

    impl From<Buffered> for Payload {
        fn from(b: Buffered) -> Self {
            match b {
                Buffered::LaunchDetection(p) => Payload::LaunchDetection(p),
                Buffered::TrackUpdate(p) => Payload::TrackUpdate(p),
                Buffered::ImpactPrediction(p) => Payload::ImpactPrediction(p),
                Buffered::EventEnd(p) => Payload::EventEnd(p),
                Buffered::Cancel(p) => Payload::Cancel(p),
                Buffered::Correction(p) => Payload::Correction(p),
                Buffered::Status(p) => Payload::Status(p),
                Buffered::CommonEvent(p) => Payload::CommonEvent(p),
            }
        }
    }

    thread_local! {
        static BUFFERED: Cell<bool> = const { Cell::new(false) };
    }

    /// Run `f` with every [`Payload`] deserialised by the derived (buffering) impl.
    pub(crate) fn buffered<T>(f: impl FnOnce() -> T) -> T {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                BUFFERED.with(|b| b.set(self.0));
            }
        }
        let _reset = Reset(BUFFERED.with(|b| b.replace(true)));
        f()
    }

    const TAG: &str = "kind";
    const VARIANTS: &[&str] = &[
        "launch_detection",
        "track_update",
        "impact_prediction",
        "event_end",
        "cancel",
        "correction",
        "status",
        "common_event",
    ];

    impl<'de> Deserialize<'de> for Payload {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            if BUFFERED.with(Cell::get) {
                return Buffered::deserialize(deserializer).map(Payload::from);
            }
            // As the derived impl: internally tagged enums need a self-describing format.
            deserializer.deserialize_any(PayloadVisitor)
        }
    }

    /// A map key as read, to be replayed.
    enum Key<'de> {
        Str(Cow<'de, str>),
        Bytes(Cow<'de, [u8]>),
        U64(u64),
    }

    impl<'de> Key<'de> {
        fn is_tag(&self) -> bool {
            match self {
                Key::Str(s) => s == TAG,
                Key::Bytes(b) => b.as_ref() == TAG.as_bytes(),
                Key::U64(_) => false,
            }
        }

        fn replay<K: DeserializeSeed<'de>, E: de::Error>(self, seed: K) -> Result<K::Value, E> {
            match self {
                Key::Str(Cow::Borrowed(s)) => seed.deserialize(BorrowedStrDeserializer::new(s)),
                Key::Str(Cow::Owned(s)) => seed.deserialize(StringDeserializer::new(s)),
                Key::Bytes(Cow::Borrowed(b)) => seed.deserialize(BorrowedBytesDeserializer::new(b)),
                Key::Bytes(Cow::Owned(b)) => seed.deserialize(BytesDeserializer::new(&b)),
                Key::U64(n) => seed.deserialize(U64Deserializer::new(n)),
            }
        }
    }

    struct KeySeed;

    impl<'de> DeserializeSeed<'de> for KeySeed {
        type Value = Key<'de>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
            // As the derived impl reads keys (`TagOrContentVisitor`).
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for KeySeed {
        type Value = Key<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map key")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key<'de>, E> {
            Ok(Key::U64(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
            Ok(Key::Str(Cow::Owned(v.to_owned())))
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
            Ok(Key::Str(Cow::Borrowed(v)))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
            Ok(Key::Str(Cow::Owned(v)))
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Key<'de>, E> {
            Ok(Key::Bytes(Cow::Owned(v.to_vec())))
        }
        fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Key<'de>, E> {
            Ok(Key::Bytes(Cow::Borrowed(v)))
        }
        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Key<'de>, E> {
            Ok(Key::Bytes(Cow::Owned(v)))
        }
    }

    /// The map with its already read first key put back in front.
    struct Replay<'de, M> {
        first: Option<Key<'de>>,
        map: M,
    }

    impl<'de, M: MapAccess<'de>> MapAccess<'de> for Replay<'de, M> {
        type Error = M::Error;
        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, M::Error> {
            match self.first.take() {
                Some(key) => key.replay(seed).map(Some),
                None => self.map.next_key_seed(seed),
            }
        }
        fn next_value_seed<V: DeserializeSeed<'de>>(
            &mut self,
            seed: V,
        ) -> Result<V::Value, M::Error> {
            self.map.next_value_seed(seed)
        }
        fn size_hint(&self) -> Option<usize> {
            self.map
                .size_hint()
                .map(|n| n + usize::from(self.first.is_some()))
        }
    }

    /// The `kind` value, read as the derived variant identifier reads it.
    struct KindSeed;

    impl<'de> DeserializeSeed<'de> for KindSeed {
        type Value = PayloadKind;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<PayloadKind, D::Error> {
            d.deserialize_identifier(self)
        }
    }

    impl Visitor<'_> for KindSeed {
        type Value = PayloadKind;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("variant identifier")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<PayloadKind, E> {
            usize::try_from(v)
                .ok()
                .and_then(|i| PayloadKind::ALL.get(i).copied())
                .ok_or_else(|| {
                    E::invalid_value(Unexpected::Unsigned(v), &"variant index 0 <= i < 8")
                })
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<PayloadKind, E> {
            PayloadKind::parse(v).ok_or_else(|| E::unknown_variant(v, VARIANTS))
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<PayloadKind, E> {
            match std::str::from_utf8(v).ok().and_then(PayloadKind::parse) {
                Some(k) => Ok(k),
                None => Err(E::unknown_variant(&String::from_utf8_lossy(v), VARIANTS)),
            }
        }
    }

    struct PayloadVisitor;

    impl<'de> Visitor<'de> for PayloadVisitor {
        type Value = Payload;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("internally tagged enum Payload")
        }

        fn visit_seq<S: SeqAccess<'de>>(self, seq: S) -> Result<Payload, S::Error> {
            Buffered::deserialize(SeqAccessDeserializer::new(seq)).map(Payload::from)
        }

        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Payload, M::Error> {
            let Some(first) = map.next_key_seed(KeySeed)? else {
                return Err(de::Error::missing_field(TAG));
            };
            if !first.is_tag() {
                let replay = Replay {
                    first: Some(first),
                    map,
                };
                return Buffered::deserialize(MapAccessDeserializer::new(replay))
                    .map(Payload::from);
            }
            let kind = map.next_value_seed(KindSeed)?;
            let rest = MapAccessDeserializer::new(map);
            Ok(match kind {
                PayloadKind::LaunchDetection => {
                    Payload::LaunchDetection(LaunchDetection::deserialize(rest)?)
                }
                PayloadKind::TrackUpdate => Payload::TrackUpdate(TrackUpdate::deserialize(rest)?),
                PayloadKind::ImpactPrediction => {
                    Payload::ImpactPrediction(ImpactPrediction::deserialize(rest)?)
                }
                PayloadKind::EventEnd => Payload::EventEnd(EventEnd::deserialize(rest)?),
                PayloadKind::Cancel => Payload::Cancel(Cancel::deserialize(rest)?),
                PayloadKind::Correction => Payload::Correction(Correction::deserialize(rest)?),
                PayloadKind::Status => Payload::Status(Status::deserialize(rest)?),
                PayloadKind::CommonEvent => {
                    Payload::CommonEvent(Box::<CommonEvent>::deserialize(rest)?)
                }
            })
        }
    }
}

#[cfg(all(test, feature = "testing"))]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code
mod payload_de_tests {
    //! The hand-written `Deserialize` of [`Payload`] against the derived one
    //! (`payload_de::Buffered`, reached through `payload_de::buffered`).

    use chrono::Utc;
    use proptest::prelude::*;
    use serde_json::Value;

    use super::payload_de::buffered;
    use crate::Envelope;
    use crate::testing::strategy::envelope;

    /// The derived impl's result.
    fn derived(text: &str) -> Result<Envelope, String> {
        buffered(|| serde_json::from_str::<Envelope>(text)).map_err(|e| e.to_string())
    }

    /// Check one JSON text: the direct path never accepts what the derived one rejects and
    /// agrees where it accepts; `Envelope::from_json` has the derived result, error text
    /// included.
    fn check(text: &str) -> Result<(), TestCaseError> {
        let want = derived(text);
        let direct = serde_json::from_str::<Envelope>(text).map_err(|e| e.to_string());
        if let Ok(d) = &direct {
            prop_assert_eq!(Some(d), want.as_ref().ok(), "direct accepted {}", text);
        }
        let got = Envelope::from_json(text.as_bytes()).map_err(|e| e.to_string());
        prop_assert_eq!(&got, &want, "from_json differs on {}", text);
        Ok(())
    }

    /// `env` as JSON text with its payload's entries in `order` (indices ≥ the entry count are
    /// skipped), after `edit` changed the entry list.
    fn text_with(
        env: &Envelope,
        order: &[usize],
        edit: impl FnOnce(&mut Vec<(String, Value)>),
    ) -> String {
        let Value::Object(mut top) = serde_json::to_value(env).unwrap() else {
            unreachable!()
        };
        let Some(Value::Object(payload)) = top.remove("payload") else {
            unreachable!()
        };
        let mut entries: Vec<(String, Value)> = payload.into_iter().collect();
        // serde_json's map sorts keys: put `kind` first, as our serialiser writes it.
        entries.sort_by_key(|(k, _)| k != "kind");
        let mut entries: Vec<(String, Value)> = order
            .iter()
            .filter_map(|&i| entries.get(i).cloned())
            .collect();
        edit(&mut entries);
        let body: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
            .collect();
        let mut text = serde_json::to_string(&top).unwrap();
        text.pop();
        format!("{text},\"payload\":{{{}}}}}", body.join(","))
    }

    fn identity() -> Vec<usize> {
        (0..32).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn serialised_envelopes_parse_as_with_the_derived_impl(env in envelope(Utc::now())) {
            let text = String::from_utf8(env.to_json().unwrap()).unwrap();
            prop_assert!(text.contains("\"payload\":{\"kind\":"), "kind is not first: {}", text);
            let direct: Envelope = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&direct, &env);
            check(&text)?;
            prop_assert_eq!(Envelope::from_json(text.as_bytes()).unwrap(), env);
        }

        #[test]
        fn any_key_order_parses_as_with_the_derived_impl(
            env in envelope(Utc::now()),
            order in Just(identity()).prop_shuffle(),
        ) {
            let text = text_with(&env, &order, |_| ());
            check(&text)?;
            prop_assert_eq!(Envelope::from_json(text.as_bytes()).unwrap(), env);
        }

        #[test]
        fn edited_payloads_parse_or_fail_as_with_the_derived_impl(
            env in envelope(Utc::now()),
            order in prop_oneof![Just(identity()), Just(identity()).prop_shuffle()],
            edit in 0u8..10,
            pick in any::<prop::sample::Index>(),
            word in "[a-z_]{0,20}",
            number in any::<i64>(),
        ) {
            let text = text_with(&env, &order, |entries| {
                let n = entries.len();
                let i = pick.index(n.max(1));
                match edit {
                    // Unknown kind (or, rarely, another known one).
                    0 => entries.iter_mut().filter(|(k, _)| k == "kind")
                        .for_each(|(_, v)| *v = Value::String(word.clone())),
                    // Missing kind.
                    1 => entries.retain(|(k, _)| k != "kind"),
                    // A duplicate entry (the kind, or a field), with the same value.
                    2 => if let Some(e) = entries.get(i).cloned() { entries.push(e) },
                    // A duplicate entry with another value.
                    3 => if let Some((k, _)) = entries.get(i).cloned() {
                        entries.insert(i.min(1), (k, Value::String(word.clone())));
                    },
                    // An unknown field.
                    4 => entries.insert(i.min(n), (format!("x{word}"), Value::from(number))),
                    // A kind that is not a string.
                    5 => entries.iter_mut().filter(|(k, _)| k == "kind")
                        .for_each(|(_, v)| *v = Value::from(number.rem_euclid(10))),
                    // A field removed.
                    6 => { if i < n { entries.remove(i); } }
                    // A field's value replaced by a number or null.
                    7 => if let Some(e) = entries.get_mut(i) {
                        e.1 = if number % 2 == 0 { Value::Null } else { Value::from(number) };
                    },
                    // An empty payload.
                    8 => entries.clear(),
                    // The kind of another payload.
                    _ => entries.iter_mut().filter(|(k, _)| k == "kind")
                        .for_each(|(_, v)| *v = Value::String(
                            crate::PayloadKind::ALL[pick.index(8)].as_str().to_owned())),
                }
            });
            check(&text)?;
        }
    }

    #[test]
    fn corner_cases_parse_or_fail_as_with_the_derived_impl() {
        let env = crate::testing::files::valid_examples()
            .into_iter()
            .find(|e| e.payload.kind() == super::PayloadKind::LaunchDetection)
            .unwrap();
        let lenient = text_with(&env, &identity(), |entries| {
            for (k, v) in entries.iter_mut() {
                if k == "missile_class" {
                    *v = serde_json::json!({ v.as_str().unwrap(): {} });
                }
            }
        });
        // Only serde's buffer accepts a unit variant as `{"name": {}}`: from_json still does.
        assert!(serde_json::from_str::<Envelope>(&lenient).is_err());
        assert_eq!(Envelope::from_json(lenient.as_bytes()).unwrap(), env);
        let json = String::from_utf8(env.to_json().unwrap()).unwrap();
        let start = json.find("\"payload\":").unwrap() + "\"payload\":".len();
        let texts = [
            // The payload as a sequence (tag first, then the fields in order).
            format!("{}[\"cancel\",\"jp-1\",\"false alarm\"]}}", &json[..start]),
            format!("{}[]}}", &json[..start]),
            format!("{}\"cancel\"}}", &json[..start]),
            format!("{}null}}", &json[..start]),
            format!("{}{{\"kind\":\"cancel\"}}}}", &json[..start]),
            format!("{}{{\"kind\":1}}}}", &json[..start]),
            format!(
                "{}{{\"\\u006bind\":\"cancel\",\"track_id\":\"a\",\"reason\":\"r\"}}}}",
                &json[..start]
            ),
            format!(
                "{}{{\"kind\":\"cancel\",\"track_id\":\"a\",\"reason\":\"r\",\"kind\":\"cancel\"}}}}",
                &json[..start]
            ),
            format!(
                "{}{{\"track_id\":\"a\",\"kind\":\"cancel\",\"reason\":\"r\"}}}}",
                &json[..start]
            ),
            format!(
                "{}{{\"kind\":\"cancel\",\"track_id\":\"a\",\"reason\":\"r\"",
                &json[..start]
            ),
        ];
        for text in &texts {
            check(text).unwrap();
        }
        // The sequence form is accepted by the derived impl, so it still is.
        assert!(Envelope::from_json(texts[0].as_bytes()).is_ok());
        assert!(serde_json::from_str::<Envelope>(&texts[0]).is_ok());
    }
}
