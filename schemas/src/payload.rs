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
    pub last_report_at: DateTime<Utc>,
}

/// The fused launch estimate of a common event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FusedLaunch {
    /// Fused launch time (UTC).
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

/// The payload, tagged by `kind` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
