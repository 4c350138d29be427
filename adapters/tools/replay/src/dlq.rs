//! Reading dead letters (`trilink dlq`): the messages of a site's `DLQ_<N>` stream, each with
//! its reason, detail, component and source headers and its original bytes decoded where
//! possible — as an envelope (JSON), as the site's national frame, or else as hex.
//!
//! [`describe`] is pure (one dead letter → one JSON object); [`read`] fetches them with an
//! ordered consumer (nothing is acknowledged, removed or redelivered: the stream is unchanged).

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use trilink_runtime::inspect::{self, Framing};
use trilink_schema::{Envelope, Nation, headers};

use crate::options::NatsTarget;

/// One dead letter as `trilink dlq` prints it: `seq`, `time`, `subject`, `reason`, `detail`,
/// `component`, `source`, `length`, then `envelope` (the body was an envelope, or a national
/// frame of `site` that decodes), `national_error` (it was meant as a national frame and does
/// not decode) and `hex` (the body, when no envelope came out of it).
pub fn describe(
    site: Nation,
    seq: u64,
    time: DateTime<Utc>,
    subject: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "seq": seq,
        "time": time,
        "subject": subject,
        "reason": header(headers::DLQ_REASON),
        "detail": header(headers::DLQ_DETAIL),
        "component": header(headers::DLQ_COMPONENT),
        "source": header(headers::DLQ_SOURCE),
        "length": body.len(),
    });
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    if let Ok(env) = Envelope::from_json(body) {
        obj.insert("body".into(), "envelope".into());
        obj.insert(
            "envelope".into(),
            serde_json::to_value(&env).unwrap_or_default(),
        );
        return v;
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        obj.insert("body".into(), "json".into());
        obj.insert("json".into(), json);
        return v;
    }
    let items = match site {
        Nation::Jp => inspect::decode(trilink_jp::JpCodec, body, Framing::Message, time),
        Nation::Kr => inspect::decode(trilink_kr::KrCodec, body, Framing::Message, time),
        Nation::Us => inspect::decode(trilink_us::UsCodec::default(), body, Framing::Stream, time),
    };
    let envs: Vec<_> = items
        .iter()
        .filter_map(|i| i.result.as_ref().ok())
        .collect();
    if let (false, Some(first)) = (envs.is_empty(), envs.first()) {
        obj.insert("body".into(), format!("{site} national frame").into());
        obj.insert(
            "envelope".into(),
            serde_json::to_value(first).unwrap_or_default(),
        );
    } else {
        obj.insert("body".into(), "bytes".into());
        if let Some(Err(r)) = items.first().map(|i| &i.result) {
            obj.insert(
                "national_error".into(),
                format!("as a {site} frame: {}: {}", r.code, r.detail).into(),
            );
        }
    }
    obj.insert("hex".into(), hex_of(body).into());
    v
}

fn hex_of(body: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(body.len() * 2);
    for b in body.iter().take(4096) {
        let _ = write!(s, "{b:02x}");
    }
    if body.len() > 4096 {
        s.push('…');
    }
    s
}

/// Which dead letters to read.
#[derive(Debug, Clone)]
pub struct DlqOptions {
    /// Connection (the account's operations or relay user).
    pub target: NatsTarget,
    /// Stream (`DLQ_<SITE>`).
    pub stream: String,
    /// The site whose national format the bodies may be in.
    pub site: Nation,
    /// Only the last N (None: all).
    pub last: Option<u64>,
    /// Keep waiting for new ones until `stop`.
    pub follow: bool,
}

/// Read the dead letters, calling `each` with [`describe`]'s object; returns how many.
pub async fn read(
    opts: &DlqOptions,
    stop: &CancellationToken,
    each: &mut dyn FnMut(serde_json::Value),
) -> Result<u64, String> {
    let client = crate::sink::nats::connect_client(&opts.target, "trilink-dlq").await?;
    let js = match &opts.target.js_domain {
        Some(d) => async_nats::jetstream::with_domain(client, d),
        None => async_nats::jetstream::new(client),
    };
    let mut stream = js
        .get_stream(&opts.stream)
        .await
        .map_err(|e| format!("stream {}: {e}", opts.stream))?;
    let info = stream
        .info()
        .await
        .map_err(|e| format!("stream {}: {e}", opts.stream))?;
    let last_seq = info.state.last_sequence;
    let first_seq = info.state.first_sequence;
    let start = match opts.last {
        Some(n) => last_seq.saturating_sub(n.saturating_sub(1)).max(first_seq),
        None => first_seq,
    };
    if info.state.messages == 0 && !opts.follow {
        return Ok(0);
    }
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start.max(1),
            },
            ..Default::default()
        })
        .await
        .map_err(|e| format!("reading {}: {e}", opts.stream))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| format!("reading {}: {e}", opts.stream))?;
    let mut n = 0;
    loop {
        if !opts.follow && n > 0 && last_seq_reached(n, start, last_seq) {
            break;
        }
        let next = tokio::select! {
            () = stop.cancelled() => break,
            m = tokio::time::timeout(Duration::from_secs(if opts.follow { 3600 } else { 5 }), messages.next()) => m,
        };
        let m = match next {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(format!("reading {}: {e}", opts.stream)),
            Err(_) if opts.follow => continue,
            Ok(None) | Err(_) => break,
        };
        let (seq, time) = m
            .info()
            .map(|i| {
                let t = DateTime::<Utc>::from_timestamp(
                    i.published.unix_timestamp(),
                    i.published.nanosecond(),
                )
                .unwrap_or_default();
                (i.stream_sequence, t)
            })
            .unwrap_or_default();
        let header = |name: &str| {
            m.headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
        };
        each(describe(
            opts.site,
            seq,
            time,
            m.subject.as_str(),
            &header,
            &m.payload,
        ));
        n += 1;
        if !opts.follow && seq >= last_seq {
            break;
        }
    }
    Ok(n)
}

fn last_seq_reached(n: u64, start: u64, last: u64) -> bool {
    start.saturating_add(n) > last
}
