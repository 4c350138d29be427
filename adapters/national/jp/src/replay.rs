//! [`ReplayRewrite`] for JP frames: mode, and the JST times of day (resolved against the
//! recording instant like an adapter would, mapped, and written back as the mapped instant's
//! time of day, so the day rolls over with it).

use chrono::{DateTime, Utc};
use trilink_schema::{Mode, ReplayRewrite, TimeMap};

use crate::frame::{JpBody, JpFrame};
use crate::translate::{resolve_tod, to_tod};
use crate::{JpCodec, JpError};

/// Resolve `tod` against `reference`, map it, and return the mapped instant's time of day
/// with the mapped instant.
fn remap(
    tod: u64,
    reference: DateTime<Utc>,
    map: TimeMap<'_>,
    field: &'static str,
) -> Result<(u64, DateTime<Utc>), JpError> {
    let recorded = resolve_tod(tod, reference).ok_or(JpError::FieldOutOfRange {
        field,
        value: i64::try_from(tod).unwrap_or(i64::MAX),
    })?;
    let mapped = map(recorded).ok_or(JpError::Unrepresentable { field })?;
    let new_tod = to_tod(mapped).ok_or(JpError::Unrepresentable { field })?;
    Ok((new_tod, mapped))
}

impl ReplayRewrite for JpCodec {
    fn mode(&self, frame: &JpFrame) -> Mode {
        frame.mode
    }

    fn set_mode(&self, frame: &mut JpFrame, mode: Mode) {
        frame.mode = mode;
    }

    fn retime(
        &self,
        frame: &mut JpFrame,
        recorded_at: DateTime<Utc>,
        map: TimeMap<'_>,
    ) -> Result<(), JpError> {
        // The payload's times are resolved against the observation instant (as `to_common`
        // does), which is resolved against the receive instant.
        let observed =
            resolve_tod(frame.observed_tod_us, recorded_at).ok_or(JpError::FieldOutOfRange {
                field: "observed_tod",
                value: i64::try_from(frame.observed_tod_us).unwrap_or(i64::MAX),
            })?;
        let one = |tod: &mut u64, field: &'static str| -> Result<(), JpError> {
            *tod = remap(*tod, observed, map, field)?.0;
            Ok(())
        };
        match &mut frame.body {
            JpBody::LaunchDetection(b) => one(&mut b.launch_tod_us, "launch_tod")?,
            JpBody::TrackUpdate(b) => one(&mut b.tod_us, "tod")?,
            JpBody::ImpactPrediction(b) => one(&mut b.impact_tod_us, "impact_tod")?,
            JpBody::EventEnd(b) => one(&mut b.tod_us, "tod")?,
            JpBody::Correction(b) => {
                if let Some(t) = &mut b.corrected_tod_us {
                    one(t, "corrected_tod")?;
                }
            }
            JpBody::Cancel(_) | JpBody::Status(_) => {}
        }
        frame.observed_tod_us = remap(frame.observed_tod_us, recorded_at, map, "observed_tod")?.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bytes::BytesMut;
    use chrono::TimeZone;
    use trilink_schema::NationalCodec;

    use crate::frame::JpTrack;

    fn frame(observed_tod_us: u64, tod_us: u64) -> JpFrame {
        JpFrame {
            sequence: 7,
            origin: trilink_schema::Nation::Jp,
            mode: Mode::RealWorld,
            releasability: crate::frame::release::ALL,
            observed_tod_us,
            system: "JADGE".into(),
            sensor: "FPS-5".into(),
            national_message_id: "n-1".into(),
            references: Vec::new(),
            body: JpBody::TrackUpdate(JpTrack {
                track_id: "T1".into(),
                tod_us,
                point: crate::frame::JpPoint::default(),
                unc_h_cm: 1,
                unc_v_cm: 1,
                vel_e_mmps: 0,
                vel_n_mmps: 0,
                vel_u_mmps: 0,
                quality: 3,
                phase: trilink_schema::FlightPhase::Boost,
            }),
        }
    }

    /// Recorded at 23:59:59.5 JST on one day, replayed 2 days and 1 s later: the new times of
    /// day are just after JST midnight, and an adapter receiving the re-encoded frame at the
    /// replay instant resolves them to the shifted instants (the day rolled over).
    #[test]
    fn times_of_day_roll_over_with_the_shift() {
        let codec = JpCodec;
        let jst = |h, m, s, us: u32| {
            Utc.with_ymd_and_hms(2026, 11, 20, h, m, s).unwrap()
                + chrono::Duration::microseconds(i64::from(us))
                - chrono::Duration::hours(9)
        };
        let recorded_at = jst(23, 59, 59, 600_000);
        let observed = jst(23, 59, 59, 500_000);
        let tod = |t: DateTime<Utc>| to_tod(t).unwrap();
        let mut f = frame(
            tod(observed),
            tod(observed - chrono::Duration::milliseconds(10)),
        );
        let shift = chrono::Duration::days(2) + chrono::Duration::seconds(1);
        let map = move |t: DateTime<Utc>| Some(t + shift);
        codec.retime(&mut f, recorded_at, &map).unwrap();
        codec.set_mode(&mut f, Mode::Exercise);
        assert_eq!(codec.mode(&f), Mode::Exercise);
        assert_eq!(f.observed_tod_us, 500_000);
        let mut out = BytesMut::new();
        codec.encode(&f, &mut out).unwrap();
        let back = codec.decode_message(&out).unwrap();
        assert_eq!(back, f);
        let env = codec.to_common(&back, recorded_at + shift).unwrap();
        assert_eq!(env.observed_at, observed + shift);
        assert_eq!(env.mode, Mode::Exercise);
        let trilink_schema::Payload::TrackUpdate(p) = env.payload else {
            panic!("kind");
        };
        assert_eq!(
            p.time,
            observed - chrono::Duration::milliseconds(10) + shift
        );
        assert_eq!(back.sequence, 7);
    }
}
