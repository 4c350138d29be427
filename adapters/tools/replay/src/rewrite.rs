//! The replay's safety rewriting: which mode and times each message is sent with
//! (`--mode`, `--timestamps`, `--real-world`). The rewriting itself is
//! `trilink_capture::rewrite` and the national codecs' `ReplayRewrite`; this module only
//! applies it to the replay's messages, pass by pass.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use trilink_capture::{FrameRewriter, Retime, Rewrite, Speed, rewrite_envelope};
use trilink_schema::{Envelope, Mode, Nation};

use crate::load::{Content, ReplayMessage};

/// The message for a replay refused because it would send real-world messages.
pub fn real_world_refusal(count: u64) -> String {
    format!(
        "refusing to replay: {count} message(s) would be sent as real_world (--mode as-recorded keeps \
         their recorded mode), and a replayed real-world warning can be taken for a real launch. \
         Nothing was sent. Give --real-world to send them anyway (private test links only), or \
         leave out --mode as-recorded to send them as exercise."
    )
}

/// How the clock thread rewrites each message, pass by pass.
#[derive(Debug)]
pub struct MessageRewriter {
    /// The national codecs.
    pub frames: FrameRewriter,
    /// `--mode`.
    pub mode: Option<Mode>,
    /// `--timestamps retimed`.
    pub retime: bool,
    /// The replay's pace.
    pub speed: Speed,
    /// Timestamp of the first message (the scheduler's origin).
    pub first: DateTime<Utc>,
    /// Latest message timestamp.
    pub last: DateTime<Utc>,
}

impl MessageRewriter {
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
        nation: Nation,
        raw: &Bytes,
        ts: DateTime<Utc>,
        rw: &Rewrite,
    ) -> Result<(Bytes, Mode), String> {
        self.frames
            .rewrite(nation, raw, ts, rw)
            .map(|r| (r.raw, r.mode))
            .map_err(|e| e.to_string())
    }

    /// The envelope body to publish for `env`, and its mode.
    pub fn envelope(env: &Envelope, rw: &Rewrite) -> Result<(Bytes, Mode), String> {
        let mut env = env.clone();
        rewrite_envelope(&mut env, rw).map_err(|e| e.to_string())?;
        let body = serde_json::to_vec(&env).map_err(|e| e.to_string())?;
        Ok((Bytes::from(body), env.mode))
    }

    /// `message` as this pass sends it: mode and times rewritten.
    pub fn message(&self, message: &ReplayMessage, rw: &Rewrite) -> Result<ReplayMessage, String> {
        let content = match &message.content {
            Content::National { raw, topic } => Content::National {
                raw: self.national(message.nation, raw, message.ts, rw)?.0,
                topic: topic.clone(),
            },
            Content::Envelope {
                subject,
                msg_id,
                envelope,
                ..
            } => Content::Envelope {
                subject: subject.clone(),
                msg_id: msg_id.clone(),
                body: Self::envelope(envelope, rw)?.0,
                envelope: envelope.clone(),
            },
        };
        Ok(ReplayMessage {
            ts: message.ts,
            nation: message.nation,
            content,
        })
    }
}
