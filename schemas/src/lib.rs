//! # trilink-schema — the common schema every trilink component speaks
//!
//! This crate defines the one message format that crosses the NATS hub: a versioned
//! [`Envelope`] around a tagged [`Payload`], serialized as JSON, with
//!
//! - deterministic message ids ([`MessageId::derive`]) so a national retransmission is
//!   recognised as the same message;
//! - [`validate`](Envelope::validate) returning a typed [`ValidationError`] that names the
//!   field and the bad value;
//! - the subject contract ([`Subject`]) as code: building and parsing `tl.in.*`, `tl.out.*`,
//!   `tl.dlq.*`, `tl.status.*`;
//! - the JSON Schema generated from these types ([`json_schema`]); the committed copy lives in
//!   `schemas/json/` and a test fails when it is stale.
//!
//! Test fixtures (module `testing`) live behind the `testing` feature, for dev-dependencies
//! only.
//!
//! What this crate must **not** do: any I/O (sockets, files, clocks — "now" is passed in), any
//! national format knowledge (that is the adapters' job), or any routing decision (that is
//! the relay's policy engine).

#![forbid(unsafe_code)]

mod envelope;
pub mod framing;
mod geo;
mod id;
pub mod national;
mod payload;
pub mod picture;
pub mod replay;
mod rfc3339;
pub mod subject;
#[cfg(feature = "testing")]
pub mod testing;
mod validate;

pub use envelope::UnknownNation;
pub use envelope::{Envelope, Hop, Mode, Nation, Source};
pub use framing::{Rejected, StreamFramer, decode_one_message};
pub use geo::{ErrorEllipse, GeoPoint, PositionUncertainty, VelocityEnu};
pub use id::MessageId;
pub use national::{Decoded, NationalCodec, NationalError};
pub use payload::{
    Cancel, CommonEvent, ComponentState, ContributionState, Contributor, Correction, EndReason,
    EventClose, EventEnd, EventState, FlightPhase, FusedImpact, FusedLaunch, FusedTrack,
    ImpactPrediction, LaunchDetection, MissileClass, Payload, PayloadKind, Status, TrackId,
    TrackIdError, TrackUpdate,
};
pub use replay::{ReplayRewrite, TimeMap};
pub use subject::{OutItem, Subject, SubjectError, TrackKey, inbox_prefix};
pub use validate::{ValidationContext, ValidationError, check_reference_cycles};

/// The schema version this build writes and the only one it accepts.
pub const SCHEMA_VERSION: u32 = 1;

/// Default number of relay hops a message may take before it is treated as looping.
pub const DEFAULT_HOP_LIMIT: u8 = 4;

/// Header names used on NATS messages (dead letters, de-duplication, tracing).
pub mod headers {
    /// JetStream de-duplication header; the value is the envelope's [`MessageId`](crate::MessageId).
    pub const MSG_ID: &str = "Nats-Msg-Id";
    /// Machine-readable rejection code (snake case, see `ValidationError::code`).
    pub const DLQ_REASON: &str = "Tl-Reason";
    /// Human-readable rejection detail.
    pub const DLQ_DETAIL: &str = "Tl-Detail";
    /// The component that rejected the input (`adapter-jp`, `relay`, …).
    pub const DLQ_COMPONENT: &str = "Tl-Component";
    /// The subject or transport the rejected input arrived on.
    pub const DLQ_SOURCE: &str = "Tl-Source";
    /// Schema version of the body, on every envelope message.
    pub const SCHEMA_VERSION: &str = "Tl-Schema-Version";
}

/// The JSON Schema (draft 2020-12) for [`Envelope`], as generated from the Rust types.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Envelope);
    schema.to_value()
}

/// The JSON Schema rendered exactly as committed in `schemas/json/envelope.schema.json`.
pub fn json_schema_pretty() -> String {
    let mut s = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    s.push('\n');
    s
}
