//! Replaying recorded national traffic safely: what a replay tool needs from a national codec
//! beyond [`NationalCodec`] — read and rewrite a frame's mode (so a recorded real-world
//! warning goes out as an exercise), and move every instant the frame carries (so a capture
//! recorded on another day is accepted today). The replay tool decodes a recorded frame,
//! rewrites it with these and encodes it again with the codec's encoder, which recomputes the
//! frame's integrity trailer.

use chrono::{DateTime, Utc};

use crate::Mode;
use crate::national::NationalCodec;

/// Maps a recorded instant to the instant it stands for in the replay; `None` when the result
/// is out of range.
pub type TimeMap<'a> = &'a (dyn Fn(DateTime<Utc>) -> Option<DateTime<Utc>> + 'a);

/// Mode and time rewriting of decoded national frames, for replays.
pub trait ReplayRewrite: NationalCodec {
    /// The frame's mode (real world, exercise, test).
    fn mode(&self, frame: &Self::Frame) -> Mode;

    /// Set the frame's mode.
    fn set_mode(&self, frame: &mut Self::Frame, mode: Mode);

    /// Map every instant the frame carries (observation time and the payload's times) through
    /// `map`. `recorded_at` is when the frame was recorded (the capture timestamp); it resolves
    /// times the format carries without a date (JP's JST time of day) exactly as an adapter
    /// receiving the frame at `recorded_at` would, and the rewritten time of day is the one of
    /// the mapped instant (the day rolls over with it). Durations (uptime) are left alone.
    fn retime(
        &self,
        frame: &mut Self::Frame,
        recorded_at: DateTime<Utc>,
        map: TimeMap<'_>,
    ) -> Result<(), Self::Error>;
}
