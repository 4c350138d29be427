//! [`ReplayRewrite`] for US messages: the mode flags, and every GPS-time instant (converted
//! to UTC, mapped, and back, so leap seconds are accounted for).

use chrono::{DateTime, Utc};
use trilink_schema::{Mode, ReplayRewrite, TimeMap};

use crate::gps::{gps_us_to_utc, utc_to_gps_us};
use crate::wire::{MessageBody, UsFrame};
use crate::{UsCodec, UsError};

fn remap(gps_us: &mut u64, map: TimeMap<'_>, field: &'static str) -> Result<(), UsError> {
    let recorded = gps_us_to_utc(*gps_us).ok_or(UsError::FieldOutOfRange {
        field,
        value: i64::try_from(*gps_us).unwrap_or(i64::MAX),
    })?;
    *gps_us = map(recorded)
        .and_then(utc_to_gps_us)
        .ok_or(UsError::Unrepresentable {
            field,
            why: "the retimed instant is outside the GPS time range",
        })?;
    Ok(())
}

impl ReplayRewrite for UsCodec {
    fn mode(&self, frame: &UsFrame) -> Mode {
        frame.message.mode
    }

    fn set_mode(&self, frame: &mut UsFrame, mode: Mode) {
        frame.message.mode = mode;
    }

    fn retime(
        &self,
        frame: &mut UsFrame,
        _recorded_at: DateTime<Utc>,
        map: TimeMap<'_>,
    ) -> Result<(), UsError> {
        let m = &mut frame.message;
        remap(&mut m.observed_at_gps_us, map, "observed_at")?;
        match &mut m.body {
            MessageBody::LaunchDetection(b) => remap(&mut b.launch_time_gps_us, map, "launch_time"),
            MessageBody::TrackUpdate(b) => remap(&mut b.time_gps_us, map, "time"),
            MessageBody::ImpactPrediction(b) => {
                remap(&mut b.impact_time_gps_us, map, "impact_time")
            }
            MessageBody::EventEnd(b) => remap(&mut b.time_gps_us, map, "time"),
            MessageBody::Correction(b) => match &mut b.corrected_time_gps_us {
                Some(t) => remap(t, map, "corrected_time"),
                None => Ok(()),
            },
            MessageBody::Cancel(_) | MessageBody::Status(_) | MessageBody::Association(_) => Ok(()),
        }
    }
}
