//! `trilink replay`'s safety rewriting: which mode and times each message is sent with
//! (`--mode`, `--timestamps`, `--real-world`). The rewriting itself is
//! `trilink_capture::rewrite` and the national codecs' `ReplayRewrite`; this module only maps
//! the flags onto it and applies it to the replay's items, pass by pass.

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use trilink_capture::{FrameRewriter, Retime, Rewrite, Speed, rewrite_envelope};
use trilink_schema::Mode;

/// `--mode`: the mode every replayed message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ModeArg {
    /// Every message is sent as an exercise.
    #[default]
    Exercise,
    /// Every message is sent as a test.
    Test,
    /// Keep each message's recorded mode (real-world messages then also need --real-world).
    AsRecorded,
}

impl ModeArg {
    /// The mode to force, `None` for as-recorded.
    pub fn forced(self) -> Option<Mode> {
        match self {
            Self::Exercise => Some(Mode::Exercise),
            Self::Test => Some(Mode::Test),
            Self::AsRecorded => None,
        }
    }

    /// As written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exercise => "exercise",
            Self::Test => "test",
            Self::AsRecorded => "as-recorded",
        }
    }
}

/// `--timestamps`: the times the replayed messages carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum TimestampsArg {
    /// Recorded intervals kept, the first message moved to the moment it is sent.
    #[default]
    Retimed,
    /// The recorded times, unchanged (a JP adapter resolves JP times of day against today:
    /// a capture from another day is then dead-lettered).
    AsRecorded,
}

impl TimestampsArg {
    /// As written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retimed => "retimed",
            Self::AsRecorded => "as-recorded",
        }
    }
}

/// The message for a replay refused because it would send real-world messages.
pub fn real_world_refusal(count: u64) -> String {
    format!(
        "refusing to replay: {count} message(s) would be sent as real_world (--mode as-recorded keeps \
         their recorded mode), and a replayed real-world warning can be taken for a real launch. \
         Nothing was sent. Give --real-world to send them anyway (private test links only), or \
         leave out --mode as-recorded to send them as exercise."
    )
}

/// How the clock thread rewrites each item, pass by pass.
#[derive(Debug)]
pub struct ItemRewriter {
    /// The national codecs.
    pub frames: FrameRewriter,
    /// `--mode`.
    pub mode: Option<Mode>,
    /// `--timestamps retimed`.
    pub retime: bool,
    /// The replay's pace.
    pub speed: Speed,
    /// Timestamp of the first item (the scheduler's origin).
    pub first: DateTime<Utc>,
    /// Latest item timestamp.
    pub last: DateTime<Utc>,
}

impl ItemRewriter {
    /// The national codecs of the three nations.
    pub fn national_codecs() -> FrameRewriter {
        FrameRewriter::new()
            .with_codec(trilink_jp::JpCodec)
            .with_codec(trilink_kr::KrCodec)
            .with_codec(trilink_us::UsCodec::default())
    }

    /// The rewrite for a pass whose first message is due at `start` (UTC).
    pub fn for_pass(&self, start: DateTime<Utc>) -> Rewrite {
        Rewrite {
            mode: self.mode,
            retime: self
                .retime
                .then(|| Retime::for_pass(self.speed, self.first, self.last, start)),
        }
    }

    /// Whether nothing is ever rewritten.
    pub fn is_identity(&self) -> bool {
        self.mode.is_none() && !self.retime
    }

    /// The national frame to send for `raw` (recorded at `ts`), and its mode.
    pub fn national(
        &self,
        nation: trilink_schema::Nation,
        raw: &bytes::Bytes,
        ts: DateTime<Utc>,
        rw: &Rewrite,
    ) -> Result<(bytes::Bytes, Mode), String> {
        self.frames
            .rewrite(nation, raw, ts, rw)
            .map(|r| (r.raw, r.mode))
            .map_err(|e| e.to_string())
    }

    /// The envelope body to publish for `env`, and its mode.
    pub fn envelope(
        env: &trilink_schema::Envelope,
        rw: &Rewrite,
    ) -> Result<(bytes::Bytes, Mode), String> {
        let mut env = env.clone();
        rewrite_envelope(&mut env, rw).map_err(|e| e.to_string())?;
        let body = serde_json::to_vec(&env).map_err(|e| e.to_string())?;
        Ok((bytes::Bytes::from(body), env.mode))
    }
}
