//! Making a recorded message safe and current to replay (pure: no clocks, "now" is passed in).
//!
//! - **Mode**: a [`Rewrite`] with `mode: Some(m)` sets every message's mode to `m` (national
//!   frames are decoded with their nation's codec, rewritten and re-encoded, which recomputes
//!   their checksum; envelopes get their `mode` field rewritten). `None` keeps the recorded
//!   mode — the only way a `real_world` message can be replayed, which the caller must guard.
//! - **Time** ([`Retime`]): every instant a message carries is mapped from the recording to
//!   the replay, `replay_origin + (t − recorded_origin) / factor` — the same mapping the
//!   [`Scheduler`](crate::Scheduler) uses for due instants, so each message claims to have been
//!   observed just before it is sent. National frames are retimed through
//!   [`ReplayRewrite::retime`] (JP's JST times of day resolved against the capture timestamp
//!   and re-encoded as the mapped instant's time of day: day rollover included); envelopes get
//!   `observed_at`, `ingested_at`, `relayed_at`, provenance times and the payload's times
//!   mapped consistently.
//!
//! A message that needs no change keeps its exact recorded bytes.

use std::fmt;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, TimeDelta, Utc};
use trilink_schema::{Envelope, Mode, Nation, NationalError, Payload, ReplayRewrite};

use crate::schedule::Speed;

/// Maps recorded instants to replay instants: `replay_origin + (t − recorded_origin) / factor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retime {
    /// The recorded instant that maps to `replay_origin`.
    pub recorded_origin: DateTime<Utc>,
    /// Where `recorded_origin` lands.
    pub replay_origin: DateTime<Utc>,
    /// Time compression (the replay's speed factor; > 0).
    pub factor: f64,
}

impl Retime {
    /// The mapping for one replay pass whose first message is due at `replay_start`: at a
    /// recorded or scaled pace the first message's time (`first`) maps to `replay_start` and
    /// intervals shrink with the speed factor, so every message's times are as if it were
    /// observed when it is sent; flat out (`Speed::Max`, everything sent at once) the last
    /// message's time (`last`) maps to `replay_start` with the recorded intervals kept, so no
    /// time lies in the future of its arrival.
    pub fn for_pass(
        speed: Speed,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
        replay_start: DateTime<Utc>,
    ) -> Self {
        match speed {
            Speed::Factor(f) if f.is_finite() && f > 0.0 => Self {
                recorded_origin: first,
                replay_origin: replay_start,
                factor: f,
            },
            _ => Self {
                recorded_origin: last,
                replay_origin: replay_start,
                factor: 1.0,
            },
        }
    }

    /// The replay instant for recorded instant `t`; `None` if out of chrono's range.
    pub fn map(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let offset = t.signed_duration_since(self.recorded_origin);
        let offset = if (self.factor - 1.0).abs() < f64::EPSILON {
            offset
        } else {
            let ns = offset.num_nanoseconds()? as f64 / self.factor;
            if !ns.is_finite() || ns.abs() >= i64::MAX as f64 {
                return None;
            }
            TimeDelta::nanoseconds(ns.round() as i64)
        };
        self.replay_origin.checked_add_signed(offset)
    }
}

/// What to change in each replayed message.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rewrite {
    /// The mode to send with; `None` keeps the recorded mode.
    pub mode: Option<Mode>,
    /// How to move the message's times; `None` keeps the recorded times.
    pub retime: Option<Retime>,
}

impl Rewrite {
    /// Whether this rewrite never changes anything.
    pub fn is_identity(&self) -> bool {
        self.mode.is_none() && self.retime.is_none()
    }

    /// The mode a message recorded with `recorded` is sent with.
    pub fn mode_for(&self, recorded: Mode) -> Mode {
        self.mode.unwrap_or(recorded)
    }
}

/// A rewritten national frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The bytes to send (the recorded bytes when nothing changed).
    pub raw: Bytes,
    /// The mode it was recorded with.
    pub recorded_mode: Mode,
    /// The mode it is sent with.
    pub mode: Mode,
}

/// Why a message could not be rewritten for a replay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// No codec for the nation was registered with the [`FrameRewriter`].
    #[error("no {0} codec to rewrite the frame with")]
    NoCodec(Nation),
    /// The recorded frame does not decode as exactly one frame.
    #[error("{nation}: the recorded frame does not decode ({code}): {detail}")]
    Decode {
        /// Nation.
        nation: Nation,
        /// The codec's reason code.
        code: &'static str,
        /// Detail.
        detail: String,
    },
    /// A time could not be moved (out of the format's range).
    #[error("{nation}: retiming failed ({code}): {detail}")]
    Retime {
        /// Nation.
        nation: Nation,
        /// The codec's reason code.
        code: &'static str,
        /// Detail.
        detail: String,
    },
    /// The rewritten frame could not be encoded.
    #[error("{nation}: re-encoding failed ({code}): {detail}")]
    Encode {
        /// Nation.
        nation: Nation,
        /// The codec's reason code.
        code: &'static str,
        /// Detail.
        detail: String,
    },
    /// An envelope time moved out of range.
    #[error("envelope field {0} is out of range after retiming")]
    EnvelopeTime(&'static str),
}

impl RewriteError {
    /// Stable snake-case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCodec(_) => "no_codec",
            Self::Decode { .. } => "rewrite_decode",
            Self::Retime { .. } => "rewrite_retime",
            Self::Encode { .. } => "rewrite_encode",
            Self::EnvelopeTime(_) => "rewrite_envelope_time",
        }
    }
}

/// Object-safe view of a [`ReplayRewrite`] codec.
trait ErasedRewriter: Send + Sync + fmt::Debug {
    fn nation(&self) -> Nation;
    fn rewrite(
        &self,
        raw: &Bytes,
        recorded_at: DateTime<Utc>,
        rw: &Rewrite,
    ) -> Result<Rewritten, RewriteError>;
}

#[derive(Debug)]
struct Codec<C>(C);

impl<C> ErasedRewriter for Codec<C>
where
    C: ReplayRewrite + Send + Sync + fmt::Debug,
{
    fn nation(&self) -> Nation {
        C::NATION
    }

    fn rewrite(
        &self,
        raw: &Bytes,
        recorded_at: DateTime<Utc>,
        rw: &Rewrite,
    ) -> Result<Rewritten, RewriteError> {
        let codec = &self.0;
        let err = |code: &'static str, detail: String| (C::NATION, code, detail);
        let mut frame = codec.decode_message(raw).map_err(|e| {
            let (nation, code, detail) = err(e.code(), e.to_string());
            RewriteError::Decode {
                nation,
                code,
                detail,
            }
        })?;
        let recorded_mode = codec.mode(&frame);
        let mode = rw.mode_for(recorded_mode);
        if mode == recorded_mode && rw.retime.is_none() {
            return Ok(Rewritten {
                raw: raw.clone(),
                recorded_mode,
                mode,
            });
        }
        codec.set_mode(&mut frame, mode);
        if let Some(r) = rw.retime {
            codec
                .retime(&mut frame, recorded_at, &|t| r.map(t))
                .map_err(|e| RewriteError::Retime {
                    nation: C::NATION,
                    code: e.code(),
                    detail: e.to_string(),
                })?;
        }
        let mut out = BytesMut::with_capacity(raw.len() + 16);
        codec
            .encode(&frame, &mut out)
            .map_err(|e| RewriteError::Encode {
                nation: C::NATION,
                code: e.code(),
                detail: e.to_string(),
            })?;
        Ok(Rewritten {
            raw: out.freeze(),
            recorded_mode,
            mode,
        })
    }
}

/// Rewrites recorded national frames with the nations' codecs (`.with_codec(JpCodec)…`).
#[derive(Debug, Default)]
pub struct FrameRewriter {
    codecs: Vec<Box<dyn ErasedRewriter>>,
}

impl FrameRewriter {
    /// A rewriter with no codecs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a nation's codec (replaces an earlier one for the same nation).
    #[must_use]
    pub fn with_codec<C>(mut self, codec: C) -> Self
    where
        C: ReplayRewrite + Send + Sync + fmt::Debug + 'static,
    {
        self.codecs.retain(|c| c.nation() != C::NATION);
        self.codecs.push(Box::new(Codec(codec)));
        self
    }

    /// Rewrite one recorded frame of `nation` (exactly one frame's bytes), captured at
    /// `recorded_at`. Without any change to make, the recorded bytes are returned as they are.
    pub fn rewrite(
        &self,
        nation: Nation,
        raw: &Bytes,
        recorded_at: DateTime<Utc>,
        rw: &Rewrite,
    ) -> Result<Rewritten, RewriteError> {
        self.codecs
            .iter()
            .find(|c| c.nation() == nation)
            .ok_or(RewriteError::NoCodec(nation))?
            .rewrite(raw, recorded_at, rw)
    }
}

/// Rewrite an envelope for a replay: its mode, and every instant it carries. Returns the
/// recorded mode.
pub fn rewrite_envelope(env: &mut Envelope, rw: &Rewrite) -> Result<Mode, RewriteError> {
    let recorded = env.mode;
    env.mode = rw.mode_for(recorded);
    let Some(r) = rw.retime else {
        return Ok(recorded);
    };
    let map = |t: &mut DateTime<Utc>, field: &'static str| -> Result<(), RewriteError> {
        *t = r.map(*t).ok_or(RewriteError::EnvelopeTime(field))?;
        Ok(())
    };
    map(&mut env.observed_at, "observed_at")?;
    map(&mut env.ingested_at, "ingested_at")?;
    if let Some(t) = &mut env.relayed_at {
        map(t, "relayed_at")?;
    }
    for hop in &mut env.provenance {
        map(&mut hop.at, "provenance.at")?;
    }
    match &mut env.payload {
        Payload::LaunchDetection(p) => map(&mut p.launch_time, "payload.launch_time")?,
        Payload::TrackUpdate(p) => map(&mut p.time, "payload.time")?,
        Payload::ImpactPrediction(p) => map(&mut p.impact_time, "payload.impact_time")?,
        Payload::EventEnd(p) => map(&mut p.time, "payload.time")?,
        Payload::Correction(p) => {
            if let Some(t) = &mut p.corrected_time {
                map(t, "payload.corrected_time")?;
            }
        }
        Payload::CommonEvent(p) => {
            map(&mut p.first_detected_at, "payload.first_detected_at")?;
            for c in &mut p.contributors {
                map(&mut c.last_report_at, "payload.contributors.last_report_at")?;
            }
            if let Some(l) = &mut p.launch {
                map(&mut l.launch_time, "payload.launch.launch_time")?;
            }
            if let Some(k) = &mut p.track {
                map(&mut k.time, "payload.track.time")?;
            }
            if let Some(i) = &mut p.impact {
                map(&mut i.impact_time, "payload.impact.impact_time")?;
            }
            if let Some(e) = &mut p.end {
                map(&mut e.time, "payload.end.time")?;
            }
        }
        Payload::Cancel(_) | Payload::Status(_) => {}
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retime_keeps_intervals_scaled_and_max_ends_at_the_start() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
        let r = Retime::for_pass(Speed::Factor(1.0), t0, t0 + TimeDelta::seconds(60), now);
        assert_eq!(r.map(t0), Some(now));
        assert_eq!(
            r.map(t0 + TimeDelta::milliseconds(1_500)),
            Some(now + TimeDelta::milliseconds(1_500))
        );
        let r = Retime::for_pass(Speed::Factor(10.0), t0, t0 + TimeDelta::seconds(60), now);
        assert_eq!(
            r.map(t0 + TimeDelta::seconds(10)),
            Some(now + TimeDelta::seconds(1))
        );
        let r = Retime::for_pass(Speed::Max, t0, t0 + TimeDelta::seconds(60), now);
        assert_eq!(r.map(t0 + TimeDelta::seconds(60)), Some(now));
        assert_eq!(r.map(t0), Some(now - TimeDelta::seconds(60)));
    }
}
