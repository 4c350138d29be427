//! Reading and decoding a capture completely before the first send (a bad capture sends
//! nothing): pcap/pcapng through a [`CaptureMap`] and the national codecs, or JSON Lines of
//! envelopes; the selection applied; every selected message rewritten once up front to learn
//! the mode it goes out with.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use trilink_capture::{
    CaptureDecoder, CaptureFormat, CaptureMap, CaptureReader, JsonlReader, ReplayFilter,
};
use trilink_schema::{Envelope, Mode, Nation};

use crate::options::{ReplayOptions, TimeSpec};
use crate::rewrite::MessageRewriter;

/// One message to send.
#[derive(Debug, Clone)]
pub struct ReplayMessage {
    /// Its capture timestamp.
    pub ts: DateTime<Utc>,
    /// Its nation (flow nation of a national frame, origin of an envelope).
    pub nation: Nation,
    /// What is sent.
    pub content: Content,
}

/// What a [`ReplayMessage`] sends.
#[derive(Debug, Clone)]
pub enum Content {
    /// A national frame: its recorded bytes (rewritten per pass when `--mode`/`--timestamps`
    /// ask for it).
    National {
        /// The frame's exact bytes.
        raw: Bytes,
        /// The MQTT topic it was captured on.
        topic: Option<String>,
    },
    /// An envelope: `body` is the recorded serialization, `envelope` what a rewrite starts
    /// from.
    Envelope {
        /// Its recorded subject.
        subject: String,
        /// `Nats-Msg-Id`.
        msg_id: String,
        /// The recorded serialization.
        body: Bytes,
        /// The envelope.
        envelope: Box<Envelope>,
    },
}

impl ReplayMessage {
    /// The bytes sent: the national frame (datagram, TCP frame or MQTT payload) or the
    /// envelope's serialization.
    pub fn body(&self) -> &[u8] {
        match &self.content {
            Content::National { raw, .. } => raw,
            Content::Envelope { body, .. } => body,
        }
    }
}

/// What was loaded from the capture.
#[derive(Debug, Default)]
pub struct LoadedCapture {
    /// `pcapng`, `pcap` or `jsonl`.
    pub format: &'static str,
    /// The selected messages, in capture order.
    pub messages: Vec<ReplayMessage>,
    /// Messages in the capture, decodable or not.
    pub total: u64,
    /// Left out by the selection.
    pub filtered_out: u64,
    /// Undecodable frames or unusable records.
    pub rejected: u64,
    /// Packets on no mapped flow.
    pub unmapped: u64,
    /// The first few reasons for rejections.
    pub first_problems: Vec<String>,
    /// Selected messages that would be sent as real_world (only with `--mode as-recorded`).
    pub real_world: u64,
    /// Selected messages recorded as real_world.
    pub recorded_real_world: u64,
}

impl LoadedCapture {
    fn reject(&mut self, why: String) {
        self.rejected += 1;
        if self.first_problems.len() < 5 {
            self.first_problems.push(why);
        }
    }
}

fn resolve_window(opts: &ReplayOptions, first: Option<DateTime<Utc>>) -> ReplayFilter {
    let at = |t: TimeSpec| match t {
        TimeSpec::At(t) => Some(t),
        TimeSpec::After(s) => {
            first.map(|f| f + chrono::Duration::nanoseconds((s * 1e9).min(i64::MAX as f64) as i64))
        }
    };
    let sel = &opts.selection;
    ReplayFilter {
        nations: sel.nations.iter().copied().collect(),
        kinds: sel.kinds.iter().copied().collect(),
        from: sel.from.and_then(at),
        until: sel.until.and_then(at),
    }
}

/// The capture map for a pcap/pcapng: `map`, `<stem>.map.toml`, `capture-map.toml` beside
/// the capture, or [`trilink_capture::national_map`]; with the name of where it came from.
pub fn load_map(opts: &ReplayOptions) -> Result<(CaptureMap, String), String> {
    find_map(&opts.capture, opts.map.as_deref())
}

/// [`load_map`] for a capture at `capture` and an optional explicit `map`.
pub fn find_map(capture: &Path, map: Option<&Path>) -> Result<(CaptureMap, String), String> {
    let beside = |name: String| capture.with_file_name(name);
    let candidates: Vec<PathBuf> = if let Some(p) = map {
        vec![p.to_path_buf()]
    } else {
        let stem = capture
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        vec![
            beside(format!("{stem}.map.toml")),
            beside("capture-map.toml".into()),
        ]
    };
    for p in candidates {
        if map.is_none() && !p.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&p).map_err(|e| format!("reading map {}: {e}", p.display()))?;
        let map: CaptureMap =
            toml::from_str(&text).map_err(|e| format!("map {}: {e}", p.display()))?;
        return Ok((map, p.display().to_string()));
    }
    Ok((
        trilink_capture::national_map(),
        trilink_capture::national::NATIONAL_MAP_NAME.into(),
    ))
}

/// Load the capture `file` (its bytes `data`) as `opts` selects it.
pub fn load(opts: &ReplayOptions, file: &str, data: &[u8]) -> Result<LoadedCapture, String> {
    let format = CaptureFormat::detect(file, data).map_err(|e| e.to_string())?;
    let mut loaded = match format {
        CaptureFormat::Jsonl => load_jsonl(opts, file, data),
        _ => load_national(opts, file, data, format),
    }?;
    check_rewrites(opts, &mut loaded);
    Ok(loaded)
}

/// The rewriter for `--mode`/`--timestamps` over these messages.
pub fn message_rewriter(
    opts: &ReplayOptions,
    messages: &[ReplayMessage],
) -> Option<MessageRewriter> {
    let first = messages.first()?.ts;
    let last = messages.iter().map(|i| i.ts).max().unwrap_or(first);
    Some(MessageRewriter {
        frames: MessageRewriter::national_codecs(),
        mode: opts.mode.forced(),
        retime: opts.timestamps == crate::options::TimestampsArg::Retimed,
        speed: opts.speed,
        first,
        last,
    })
}

/// Before anything is sent: rewrite every selected message once (as if the replay started
/// now) to learn the mode it goes out with and to reject, up front, a message that cannot be
/// rewritten (e.g. a time the format cannot carry after retiming).
fn check_rewrites(opts: &ReplayOptions, loaded: &mut LoadedCapture) {
    let Some(rewriter) = message_rewriter(opts, &loaded.messages) else {
        return;
    };
    let rw = rewriter.for_pass(Utc::now());
    let messages = std::mem::take(&mut loaded.messages);
    for m in messages {
        let (recorded, sent) = match &m.content {
            Content::National { raw, .. } => {
                let recorded =
                    rewriter.national(m.nation, raw, m.ts, &trilink_capture::Rewrite::default());
                let sent = rewriter.national(m.nation, raw, m.ts, &rw);
                match (recorded, sent) {
                    (Ok((_, r)), Ok((_, s))) => (r, s),
                    (Err(e), _) | (_, Err(e)) => {
                        loaded.reject(format!("{}: cannot rewrite for replay: {e}", m.nation));
                        continue;
                    }
                }
            }
            Content::Envelope { envelope, .. } => match MessageRewriter::envelope(envelope, &rw) {
                Ok((_, s)) => (envelope.mode, s),
                Err(e) => {
                    loaded.reject(format!(
                        "{}: cannot rewrite for replay: {e}",
                        envelope.message_id
                    ));
                    continue;
                }
            },
        };
        loaded.recorded_real_world += u64::from(recorded == Mode::RealWorld);
        loaded.real_world += u64::from(sent == Mode::RealWorld);
        loaded.messages.push(m);
    }
}

fn load_jsonl(opts: &ReplayOptions, file: &str, data: &[u8]) -> Result<LoadedCapture, String> {
    let records = JsonlReader::new(file, data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let filter = resolve_window(opts, records.first().map(|r| r.ts));
    let mut out = LoadedCapture {
        format: "jsonl",
        ..LoadedCapture::default()
    };
    for (i, r) in records.into_iter().enumerate() {
        out.total += 1;
        if !filter.matches_jsonl(&r) {
            out.filtered_out += 1;
            continue;
        }
        if let Err(e) = r.parsed_subject() {
            out.reject(format!(
                "{file}: line {}: subject {:?} is not a trilink subject: {e}",
                i + 1,
                r.subject
            ));
            continue;
        }
        let body = match serde_json::to_vec(&r.envelope) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                out.reject(format!("{file}: line {}: {e}", i + 1));
                continue;
            }
        };
        out.messages.push(ReplayMessage {
            ts: r.ts,
            nation: r.envelope.origin,
            content: Content::Envelope {
                subject: r.subject,
                msg_id: r.envelope.message_id.to_string(),
                body,
                envelope: Box::new(r.envelope),
            },
        });
    }
    Ok(out)
}

fn load_national(
    opts: &ReplayOptions,
    file: &str,
    data: &[u8],
    format: CaptureFormat,
) -> Result<LoadedCapture, String> {
    let (map, _) = load_map(opts)?;
    let mut decoder = CaptureDecoder::new(map)
        .with_codec(trilink_jp::JpCodec)
        .with_codec(trilink_kr::KrCodec)
        .with_codec(trilink_us::UsCodec::default());
    let mut decoded = Vec::new();
    for m in CaptureReader::new(file, data) {
        let m = m.map_err(|e| e.to_string())?;
        decoded.extend(decoder.push(&m));
    }
    decoded.extend(decoder.finish());
    let first = decoded
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.timestamp)
        .min();
    let filter = resolve_window(opts, first);
    let mut out = LoadedCapture {
        format: if format == CaptureFormat::Pcap {
            "pcap"
        } else {
            "pcapng"
        },
        unmapped: decoder.unmapped(),
        ..LoadedCapture::default()
    };
    for r in decoded {
        out.total += 1;
        match r {
            Ok(r) if filter.matches_record(&r) => out.messages.push(ReplayMessage {
                ts: r.timestamp,
                nation: r.nation,
                content: Content::National {
                    raw: r.raw,
                    topic: r.topic,
                },
            }),
            Ok(_) => out.filtered_out += 1,
            Err(e) => out.reject(format!("{file}: undecodable frame: {e}")),
        }
    }
    Ok(out)
}

/// One message of a capture as a common envelope, for offline processing (`trilink picture`).
#[derive(Debug, Clone)]
pub struct CapturedEnvelope {
    /// Capture time (`None` for a bare envelope line: its `ingested_at` stands for it).
    pub at: Option<DateTime<Utc>>,
    /// Recorded subject (JSON Lines records only).
    pub subject: Option<String>,
    /// The envelope's JSON (as recorded; a national frame's translation).
    pub body: Vec<u8>,
}

/// A capture read as envelopes ([`load_envelopes`]).
#[derive(Debug, Default)]
pub struct EnvelopeCapture {
    /// `pcapng`, `pcap`, `jsonl` (records) or `jsonl-envelopes` (bare envelopes).
    pub format: &'static str,
    /// Where the capture map came from (pcap/pcapng).
    pub map: Option<String>,
    /// The messages, in capture order.
    pub messages: Vec<CapturedEnvelope>,
    /// National frames that did not decode.
    pub undecodable: u64,
    /// Packets on no mapped flow.
    pub unmapped: u64,
    /// The first few reasons for undecodable frames.
    pub first_problems: Vec<String>,
}

/// Read a whole capture as envelopes, offline: pcap/pcapng through its capture map
/// ([`find_map`]) and the national codecs (each frame translated at its capture timestamp),
/// JSON Lines of `{"ts", "subject", "envelope"}` records (strict), or JSON Lines of bare
/// envelopes (each line kept as it is: the caller's validation judges it). An error is a
/// capture that cannot be read at all (unknown format, broken container, bad record line).
pub fn load_envelopes(
    capture: &Path,
    map: Option<&Path>,
    data: &[u8],
) -> Result<EnvelopeCapture, String> {
    let file = capture.display().to_string();
    let format = CaptureFormat::detect(&file, data).map_err(|e| e.to_string())?;
    if format == CaptureFormat::Jsonl {
        let text = std::str::from_utf8(data).map_err(|e| format!("{file}: not UTF-8: {e}"))?;
        let records = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .is_some_and(|v| v.get("ts").is_some() && v.get("subject").is_some());
        if !records {
            return Ok(EnvelopeCapture {
                format: "jsonl-envelopes",
                messages: text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| CapturedEnvelope {
                        at: None,
                        subject: None,
                        body: l.as_bytes().to_vec(),
                    })
                    .collect(),
                ..EnvelopeCapture::default()
            });
        }
        let mut out = EnvelopeCapture {
            format: "jsonl",
            ..EnvelopeCapture::default()
        };
        for r in JsonlReader::new(&file, data) {
            let r = r.map_err(|e| e.to_string())?;
            let body = serde_json::to_vec(&r.envelope).map_err(|e| format!("{file}: {e}"))?;
            out.messages.push(CapturedEnvelope {
                at: Some(r.ts),
                subject: Some(r.subject),
                body,
            });
        }
        return Ok(out);
    }
    let (map, map_name) = find_map(capture, map)?;
    let mut decoder = CaptureDecoder::new(map)
        .with_codec(trilink_jp::JpCodec)
        .with_codec(trilink_kr::KrCodec)
        .with_codec(trilink_us::UsCodec::default());
    let mut decoded = Vec::new();
    for m in CaptureReader::new(&file, data) {
        let m = m.map_err(|e| e.to_string())?;
        decoded.extend(decoder.push(&m));
    }
    decoded.extend(decoder.finish());
    let mut out = EnvelopeCapture {
        format: if format == CaptureFormat::Pcap {
            "pcap"
        } else {
            "pcapng"
        },
        map: Some(map_name),
        unmapped: decoder.unmapped(),
        ..EnvelopeCapture::default()
    };
    for r in decoded {
        match r {
            Ok(r) => match serde_json::to_vec(&r.envelope) {
                Ok(body) => out.messages.push(CapturedEnvelope {
                    at: Some(r.timestamp),
                    subject: None,
                    body,
                }),
                Err(e) => {
                    out.undecodable += 1;
                    if out.first_problems.len() < 5 {
                        out.first_problems.push(format!("{file}: {e}"));
                    }
                }
            },
            Err(e) => {
                out.undecodable += 1;
                if out.first_problems.len() < 5 {
                    out.first_problems
                        .push(format!("{file}: undecodable frame: {e}"));
                }
            }
        }
    }
    // Frames complete in file order per flow; the relay would receive them in time order.
    out.messages.sort_by_key(|m| m.at);
    Ok(out)
}
