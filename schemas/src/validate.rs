//! Validation of envelopes: every rule returns a typed error naming the field and the value.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use crate::{
    Envelope, ErrorEllipse, GeoPoint, MessageId, Nation, Payload, PositionUncertainty,
    SCHEMA_VERSION, TrackId, VelocityEnu,
};

/// Why an envelope is invalid. [`code`](Self::code) gives a stable snake-case reason for
/// dead-letter headers and counters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// `schema_version` is not the one this build speaks.
    #[error("unsupported schema_version {found} (this build accepts {supported})")]
    UnsupportedSchemaVersion {
        /// Version in the message.
        found: u32,
        /// Version this build accepts.
        supported: u32,
    },
    /// A number is NaN or infinite.
    #[error("{field} = {value} is not a finite number")]
    NonFinite {
        /// Dotted path of the field.
        field: String,
        /// The value.
        value: f64,
    },
    /// A number lies outside its physical range.
    #[error("{field} = {value} is outside {min} ..= {max}")]
    OutOfRange {
        /// Dotted path of the field.
        field: String,
        /// The value.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A timestamp lies further in the future than the tolerance allows.
    #[error("{field} = {value} is more than {tolerance_ms} ms after now ({now})")]
    FutureTimestamp {
        /// Dotted path of the field.
        field: String,
        /// The value.
        value: DateTime<Utc>,
        /// The validator's notion of now.
        now: DateTime<Utc>,
        /// Allowed clock skew, milliseconds.
        tolerance_ms: i64,
    },
    /// A timestamp is earlier than one it must follow (beyond the tolerance).
    #[error("{field} = {value} is earlier than {earlier_field} = {earlier}")]
    TimeOrder {
        /// Dotted path of the later field.
        field: String,
        /// Its value.
        value: DateTime<Utc>,
        /// The field it must not precede.
        earlier_field: String,
        /// That field's value.
        earlier: DateTime<Utc>,
    },
    /// `releasability` is empty: the message could go nowhere.
    #[error("releasability is empty")]
    EmptyReleasability,
    /// The origin does not release the message to itself.
    #[error("releasability {releasability:?} does not include the origin {origin}")]
    OriginNotReleasable {
        /// The origin.
        origin: Nation,
        /// The releasability set.
        releasability: BTreeSet<Nation>,
    },
    /// The message crossed more relays than its hop limit: a loop.
    #[error("provenance has {hops} hops, more than hop_limit {limit}")]
    HopLimitExceeded {
        /// Hops in provenance.
        hops: usize,
        /// The limit.
        limit: u8,
    },
    /// `hop_limit` is zero.
    #[error("hop_limit = 0; it must be at least 1")]
    ZeroHopLimit,
    /// `message_id` is not the id derived from origin, system and national message id.
    #[error("message_id {found} is not the id derived from origin/system/national id ({expected})")]
    MessageIdMismatch {
        /// The derived id.
        expected: MessageId,
        /// The id in the message.
        found: MessageId,
    },
    /// A track id is not a valid subject token.
    #[error("{field} = {value:?} is not a valid track id (1-32 of [A-Za-z0-9_-])")]
    InvalidTrackId {
        /// Dotted path of the field.
        field: String,
        /// The value.
        value: String,
    },
    /// A required text field is empty.
    #[error("{field} is empty")]
    EmptyText {
        /// Dotted path of the field.
        field: String,
    },
    /// A text field is longer than allowed.
    #[error("{field} is {len} bytes long, more than {max}")]
    TextTooLong {
        /// Dotted path of the field.
        field: String,
        /// Its length in bytes.
        len: usize,
        /// Maximum length.
        max: usize,
    },
    /// A cancel or correction references no earlier message.
    #[error("a {kind} must reference at least one earlier message")]
    MissingReferences {
        /// The payload kind.
        kind: &'static str,
    },
    /// A message references itself or, across a set of messages, a chain of references
    /// returns to where it started.
    #[error("reference cycle: {}", fmt_cycle(.cycle))]
    ReferenceCycle {
        /// The ids on the cycle, first repeated at the end.
        cycle: Vec<MessageId>,
    },
    /// More references than [`Envelope::MAX_REFERENCES`](crate::Envelope::MAX_REFERENCES).
    #[error("references lists {count} messages, more than {max}")]
    TooManyReferences {
        /// How many the envelope lists.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// The same id is referenced twice.
    #[error("references lists {id} more than once")]
    DuplicateReference {
        /// The repeated id.
        id: MessageId,
    },
    /// A common event lists no contributor, or more than
    /// [`CommonEvent::MAX_CONTRIBUTORS`](crate::CommonEvent::MAX_CONTRIBUTORS).
    #[error("a common event lists {count} contributors (1 ..= {max} allowed)")]
    ContributorCount {
        /// How many it lists.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// An error ellipse's semi-minor axis is larger than its semi-major axis.
    #[error("{field}: semi_minor_m {minor} > semi_major_m {major}")]
    EllipseAxes {
        /// Dotted path of the ellipse.
        field: String,
        /// Semi-major axis.
        major: f64,
        /// Semi-minor axis.
        minor: f64,
    },
}

fn fmt_cycle(cycle: &[MessageId]) -> String {
    cycle
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" -> ")
}

impl ValidationError {
    /// Stable snake-case reason code (dead-letter header `Tl-Reason`, metric label).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedSchemaVersion { .. } => "unsupported_schema_version",
            Self::NonFinite { .. } => "non_finite",
            Self::OutOfRange { .. } => "out_of_range",
            Self::FutureTimestamp { .. } => "future_timestamp",
            Self::TimeOrder { .. } => "time_order",
            Self::EmptyReleasability => "empty_releasability",
            Self::OriginNotReleasable { .. } => "origin_not_releasable",
            Self::HopLimitExceeded { .. } => "hop_limit_exceeded",
            Self::ZeroHopLimit => "zero_hop_limit",
            Self::MessageIdMismatch { .. } => "message_id_mismatch",
            Self::InvalidTrackId { .. } => "invalid_track_id",
            Self::EmptyText { .. } => "empty_text",
            Self::TextTooLong { .. } => "text_too_long",
            Self::MissingReferences { .. } => "missing_references",
            Self::ReferenceCycle { .. } => "reference_cycle",
            Self::DuplicateReference { .. } => "duplicate_reference",
            Self::TooManyReferences { .. } => "too_many_references",
            Self::EllipseAxes { .. } => "ellipse_axes",
            Self::ContributorCount { .. } => "contributor_count",
        }
    }

    /// Every reason code, for pre-registering metrics.
    pub const CODES: [&'static str; 19] = [
        "unsupported_schema_version",
        "non_finite",
        "out_of_range",
        "future_timestamp",
        "time_order",
        "empty_releasability",
        "origin_not_releasable",
        "hop_limit_exceeded",
        "zero_hop_limit",
        "message_id_mismatch",
        "invalid_track_id",
        "empty_text",
        "text_too_long",
        "missing_references",
        "reference_cycle",
        "duplicate_reference",
        "ellipse_axes",
        "too_many_references",
        "contributor_count",
    ];
}

/// What validation needs from the outside world: the current time and the tolerances.
/// Passing "now" in keeps validation pure and testable.
#[derive(Debug, Clone, Copy)]
pub struct ValidationContext {
    /// The validator's current time.
    pub now: DateTime<Utc>,
    /// How far in the future a timestamp may lie (clock skew between sites).
    pub future_tolerance: Duration,
    /// Whether to recompute and compare the deterministic message id. Adapters that have just
    /// derived the id may skip it; the relay never does.
    pub check_message_id: bool,
}

impl ValidationContext {
    /// Default clock-skew tolerance.
    pub const DEFAULT_FUTURE_TOLERANCE_MS: i64 = 5_000;

    /// A context at `now` with the default tolerance and every check on.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            future_tolerance: Duration::milliseconds(Self::DEFAULT_FUTURE_TOLERANCE_MS),
            check_message_id: true,
        }
    }

    /// A context at the system clock's now.
    pub fn now() -> Self {
        Self::at(Utc::now())
    }
}

const SOURCE_TEXT_MAX: usize = 64;
const NATIONAL_ID_MAX: usize = 128;
const FREE_TEXT_MAX: usize = 256;

impl Envelope {
    /// Check every rule; the first violation is returned.
    pub fn validate(&self, ctx: &ValidationContext) -> Result<(), ValidationError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(ValidationError::UnsupportedSchemaVersion {
                found: self.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        text("source.system", &self.source.system, SOURCE_TEXT_MAX)?;
        text("source.sensor", &self.source.sensor, SOURCE_TEXT_MAX)?;
        text(
            "source.national_message_id",
            &self.source.national_message_id,
            NATIONAL_ID_MAX,
        )?;
        if ctx.check_message_id {
            let expected = MessageId::derive(
                self.origin,
                &self.source.system,
                &self.source.national_message_id,
            );
            if expected != self.message_id {
                return Err(ValidationError::MessageIdMismatch {
                    expected,
                    found: self.message_id,
                });
            }
        }
        if self.releasability.is_empty() {
            return Err(ValidationError::EmptyReleasability);
        }
        if !self.releasability.contains(&self.origin) {
            return Err(ValidationError::OriginNotReleasable {
                origin: self.origin,
                releasability: self.releasability.clone(),
            });
        }
        if self.hop_limit == 0 {
            return Err(ValidationError::ZeroHopLimit);
        }
        if self.provenance.len() > usize::from(self.hop_limit) {
            return Err(ValidationError::HopLimitExceeded {
                hops: self.provenance.len(),
                limit: self.hop_limit,
            });
        }

        not_future(ctx, "observed_at", self.observed_at)?;
        not_future(ctx, "ingested_at", self.ingested_at)?;
        not_before(
            ctx,
            "ingested_at",
            self.ingested_at,
            "observed_at",
            self.observed_at,
        )?;
        if let Some(relayed) = self.relayed_at {
            not_future(ctx, "relayed_at", relayed)?;
            not_before(ctx, "relayed_at", relayed, "ingested_at", self.ingested_at)?;
        }
        for (i, hop) in self.provenance.iter().enumerate() {
            // Field names are formatted only for a hop that fails (every relayed message
            // carries one).
            text_at(
                || format!("provenance[{i}].component"),
                &hop.component,
                SOURCE_TEXT_MAX,
            )?;
            not_future_at(ctx, || format!("provenance[{i}].at"), hop.at)?;
        }

        if self.references.len() > Self::MAX_REFERENCES {
            return Err(ValidationError::TooManyReferences {
                count: self.references.len(),
                max: Self::MAX_REFERENCES,
            });
        }
        let mut seen = HashSet::with_capacity(self.references.len());
        for r in &self.references {
            if *r == self.message_id {
                return Err(ValidationError::ReferenceCycle {
                    cycle: vec![self.message_id, self.message_id],
                });
            }
            if !seen.insert(*r) {
                return Err(ValidationError::DuplicateReference { id: *r });
            }
        }

        self.validate_payload(ctx)
    }

    fn validate_payload(&self, ctx: &ValidationContext) -> Result<(), ValidationError> {
        if let Some(t) = self.payload.track_id()
            && !TrackId::is_valid(t.as_str())
        {
            return Err(ValidationError::InvalidTrackId {
                field: "payload.track_id".into(),
                value: t.as_str().to_owned(),
            });
        }
        match &self.payload {
            Payload::LaunchDetection(p) => {
                not_future(ctx, "payload.launch_time", p.launch_time)?;
                point("payload.launch_point", &p.launch_point)?;
                uncertainty(
                    "payload.launch_point_uncertainty",
                    &p.launch_point_uncertainty,
                )?;
                range("payload.confidence", p.confidence, 0.0, 1.0)
            }
            Payload::TrackUpdate(p) => {
                not_future(ctx, "payload.time", p.time)?;
                point("payload.position", &p.position)?;
                uncertainty("payload.position_uncertainty", &p.position_uncertainty)?;
                velocity("payload.velocity", &p.velocity)?;
                if p.quality > 15 {
                    return Err(ValidationError::OutOfRange {
                        field: "payload.quality".into(),
                        value: f64::from(p.quality),
                        min: 0.0,
                        max: 15.0,
                    });
                }
                Ok(())
            }
            Payload::ImpactPrediction(p) => {
                // impact_time is a prediction and may lie in the future.
                point("payload.impact_point", &p.impact_point)?;
                ellipse("payload.error_ellipse", &p.error_ellipse)
            }
            Payload::EventEnd(p) => {
                not_future(ctx, "payload.time", p.time)?;
                match &p.final_point {
                    Some(fp) => point("payload.final_point", fp),
                    None => Ok(()),
                }
            }
            Payload::Cancel(p) => {
                if self.references.is_empty() {
                    return Err(ValidationError::MissingReferences { kind: "cancel" });
                }
                text("payload.reason", &p.reason, FREE_TEXT_MAX)
            }
            Payload::Correction(p) => {
                if self.references.is_empty() {
                    return Err(ValidationError::MissingReferences { kind: "correction" });
                }
                text("payload.reason", &p.reason, FREE_TEXT_MAX)?;
                if let Some(cp) = &p.corrected_point {
                    point("payload.corrected_point", cp)?;
                }
                Ok(())
            }
            Payload::Status(p) => {
                text("payload.component", &p.component, SOURCE_TEXT_MAX)?;
                range("payload.uptime_s", p.uptime_s, 0.0, f64::MAX)?;
                if p.detail.len() > FREE_TEXT_MAX {
                    return Err(ValidationError::TextTooLong {
                        field: "payload.detail".into(),
                        len: p.detail.len(),
                        max: FREE_TEXT_MAX,
                    });
                }
                Ok(())
            }
            Payload::CommonEvent(p) => common_event(ctx, p),
        }
    }
}

fn common_event(ctx: &ValidationContext, p: &crate::CommonEvent) -> Result<(), ValidationError> {
    let max = crate::CommonEvent::MAX_CONTRIBUTORS;
    if p.contributors.is_empty() || p.contributors.len() > max {
        return Err(ValidationError::ContributorCount {
            count: p.contributors.len(),
            max,
        });
    }
    not_future(ctx, "payload.first_detected_at", p.first_detected_at)?;
    for (i, c) in p.contributors.iter().enumerate() {
        if !TrackId::is_valid(c.track_id.as_str()) {
            return Err(ValidationError::InvalidTrackId {
                field: format!("payload.contributors[{i}].track_id"),
                value: c.track_id.as_str().to_owned(),
            });
        }
        not_future_at(
            ctx,
            || format!("payload.contributors[{i}].last_report_at"),
            c.last_report_at,
        )?;
    }
    if let Some(l) = &p.launch {
        not_future(ctx, "payload.launch.launch_time", l.launch_time)?;
        point("payload.launch.launch_point", &l.launch_point)?;
        uncertainty(
            "payload.launch.launch_point_uncertainty",
            &l.launch_point_uncertainty,
        )?;
    }
    if let Some(t) = &p.track {
        not_future(ctx, "payload.track.time", t.time)?;
        point("payload.track.position", &t.position)?;
        uncertainty(
            "payload.track.position_uncertainty",
            &t.position_uncertainty,
        )?;
        velocity("payload.track.velocity", &t.velocity)?;
    }
    if let Some(i) = &p.impact {
        // impact_time is a prediction and may lie in the future.
        point("payload.impact.impact_point", &i.impact_point)?;
        ellipse("payload.impact.error_ellipse", &i.error_ellipse)?;
    }
    if let Some(e) = &p.end {
        not_future(ctx, "payload.end.time", e.time)?;
        if let Some(fp) = &e.final_point {
            point("payload.end.final_point", fp)?;
        }
    }
    Ok(())
}

// Field paths are built only when a rule fails: validation runs on every message, and
// allocating a path per checked field dominated its cost (measured by the codec benchmarks).

fn text(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    text_at(|| field.to_owned(), value, max)
}

fn text_at(field: impl FnOnce() -> String, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::EmptyText { field: field() });
    }
    if value.len() > max {
        return Err(ValidationError::TextTooLong {
            field: field(),
            len: value.len(),
            max,
        });
    }
    Ok(())
}

fn range(field: &str, value: f64, min: f64, max: f64) -> Result<(), ValidationError> {
    range_at(|| field.to_owned(), value, min, max)
}

/// `prefix.leaf`, for nested fields.
fn sub<'a>(prefix: &'a str, leaf: &'static str) -> impl FnOnce() -> String + 'a {
    move || format!("{prefix}.{leaf}")
}

fn range_at(
    field: impl FnOnce() -> String,
    value: f64,
    min: f64,
    max: f64,
) -> Result<(), ValidationError> {
    if !value.is_finite() {
        return Err(ValidationError::NonFinite {
            field: field(),
            value,
        });
    }
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::OutOfRange {
            field: field(),
            value,
            min,
            max,
        })
    }
}

fn point(field: &str, p: &GeoPoint) -> Result<(), ValidationError> {
    range_at(
        sub(field, "lat_deg"),
        p.lat_deg,
        GeoPoint::LAT_RANGE.0,
        GeoPoint::LAT_RANGE.1,
    )?;
    range_at(
        sub(field, "lon_deg"),
        p.lon_deg,
        GeoPoint::LON_RANGE.0,
        GeoPoint::LON_RANGE.1,
    )?;
    range_at(
        sub(field, "alt_m"),
        p.alt_m,
        GeoPoint::ALT_RANGE.0,
        GeoPoint::ALT_RANGE.1,
    )
}

/// Largest uncertainty or ellipse axis accepted (metres): a quarter of the Earth's circumference.
const MAX_UNCERTAINTY_M: f64 = 10_000_000.0;

fn uncertainty(field: &str, u: &PositionUncertainty) -> Result<(), ValidationError> {
    range_at(
        sub(field, "horizontal_m"),
        u.horizontal_m,
        0.0,
        MAX_UNCERTAINTY_M,
    )?;
    range_at(
        sub(field, "vertical_m"),
        u.vertical_m,
        0.0,
        MAX_UNCERTAINTY_M,
    )
}

fn velocity(field: &str, v: &VelocityEnu) -> Result<(), ValidationError> {
    let m = VelocityEnu::MAX_COMPONENT_MPS;
    range_at(sub(field, "east_mps"), v.east_mps, -m, m)?;
    range_at(sub(field, "north_mps"), v.north_mps, -m, m)?;
    range_at(sub(field, "up_mps"), v.up_mps, -m, m)
}

fn ellipse(field: &str, e: &ErrorEllipse) -> Result<(), ValidationError> {
    range_at(
        sub(field, "semi_major_m"),
        e.semi_major_m,
        0.0,
        MAX_UNCERTAINTY_M,
    )?;
    range_at(
        sub(field, "semi_minor_m"),
        e.semi_minor_m,
        0.0,
        MAX_UNCERTAINTY_M,
    )?;
    range_at(sub(field, "orientation_deg"), e.orientation_deg, 0.0, 180.0)?;
    if e.semi_minor_m > e.semi_major_m {
        return Err(ValidationError::EllipseAxes {
            field: field.into(),
            major: e.semi_major_m,
            minor: e.semi_minor_m,
        });
    }
    Ok(())
}

fn not_future(
    ctx: &ValidationContext,
    field: &str,
    value: DateTime<Utc>,
) -> Result<(), ValidationError> {
    not_future_at(ctx, || field.to_owned(), value)
}

fn not_future_at(
    ctx: &ValidationContext,
    field: impl FnOnce() -> String,
    value: DateTime<Utc>,
) -> Result<(), ValidationError> {
    if value > ctx.now + ctx.future_tolerance {
        return Err(ValidationError::FutureTimestamp {
            field: field(),
            value,
            now: ctx.now,
            tolerance_ms: ctx.future_tolerance.num_milliseconds(),
        });
    }
    Ok(())
}

fn not_before(
    ctx: &ValidationContext,
    field: &str,
    value: DateTime<Utc>,
    earlier_field: &str,
    earlier: DateTime<Utc>,
) -> Result<(), ValidationError> {
    // The same tolerance covers clock skew between the sensor, adapter and hub clocks.
    if value + ctx.future_tolerance < earlier {
        return Err(ValidationError::TimeOrder {
            field: field.into(),
            value,
            earlier_field: earlier_field.into(),
            earlier,
        });
    }
    Ok(())
}

/// Check a set of messages for reference cycles (A references B, B references A, …).
/// References to messages outside the set are allowed: they are earlier messages not at hand.
pub fn check_reference_cycles<'a>(
    messages: impl IntoIterator<Item = &'a Envelope>,
) -> Result<(), ValidationError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnStack,
        Done,
    }

    let graph: HashMap<MessageId, &[MessageId]> = messages
        .into_iter()
        .map(|e| (e.message_id, e.references.as_slice()))
        .collect();
    let mut marks: HashMap<MessageId, Mark> = HashMap::with_capacity(graph.len());
    let mut roots: Vec<MessageId> = graph.keys().copied().collect();
    roots.sort_unstable();

    for root in roots {
        if marks.contains_key(&root) {
            continue;
        }
        // Iterative DFS: (node, index of next child), so a deep chain cannot overflow the stack.
        let mut stack: Vec<(MessageId, usize)> = vec![(root, 0)];
        marks.insert(root, Mark::OnStack);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let children = graph.get(&node).copied().unwrap_or(&[]);
            if let Some(&child) = children.get(*next) {
                *next += 1;
                match marks.get(&child) {
                    Some(Mark::OnStack) => {
                        let start = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let mut cycle: Vec<MessageId> =
                            stack.iter().skip(start).map(|(n, _)| *n).collect();
                        cycle.push(child);
                        return Err(ValidationError::ReferenceCycle { cycle });
                    }
                    Some(Mark::Done) => {}
                    None => {
                        if graph.contains_key(&child) {
                            marks.insert(child, Mark::OnStack);
                            stack.push((child, 0));
                        }
                    }
                }
            } else {
                marks.insert(node, Mark::Done);
                stack.pop();
            }
        }
    }
    Ok(())
}
