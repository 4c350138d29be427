//! [`ReplayRewrite`] for KR sentences: the header's mode, and every KST instant.

use chrono::{DateTime, Utc};
use trilink_schema::{Mode, ReplayRewrite, TimeMap};

use crate::frame::{KstTime, Sentence, SentenceBody};
use crate::{KrCodec, KrError};

fn remap(t: &mut KstTime, map: TimeMap<'_>, field: &'static str) -> Result<(), KrError> {
    *t = map(t.to_utc())
        .and_then(KstTime::from_utc)
        .ok_or(KrError::Unrepresentable {
            field,
            reason: "the retimed instant is outside the KST time range",
        })?;
    Ok(())
}

impl ReplayRewrite for KrCodec {
    fn mode(&self, frame: &Sentence) -> Mode {
        frame.header.mode
    }

    fn set_mode(&self, frame: &mut Sentence, mode: Mode) {
        frame.header.mode = mode;
    }

    fn retime(
        &self,
        frame: &mut Sentence,
        _recorded_at: DateTime<Utc>,
        map: TimeMap<'_>,
    ) -> Result<(), KrError> {
        remap(&mut frame.header.observed_at, map, "observed_at")?;
        match &mut frame.body {
            SentenceBody::Launch(b) => remap(&mut b.launch_time, map, "payload.launch_time"),
            SentenceBody::Track(b) => remap(&mut b.time, map, "payload.time"),
            SentenceBody::Impact(b) => remap(&mut b.impact_time, map, "payload.impact_time"),
            SentenceBody::End(b) => remap(&mut b.time, map, "payload.time"),
            SentenceBody::Correction(b) => match &mut b.corrected_time {
                Some(t) => remap(t, map, "payload.corrected_time"),
                None => Ok(()),
            },
            SentenceBody::Cancel(_) | SentenceBody::Status(_) => Ok(()),
        }
    }
}
