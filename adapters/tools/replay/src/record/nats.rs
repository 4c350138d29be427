//! Recording NATS subjects to JSON Lines of envelopes.

use std::io::Write;
use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use trilink_capture::JsonlRecord;
use trilink_schema::Envelope;

use super::{RecordError, RecordOptions, Recorded, create};
use crate::Notice;

pub(crate) async fn record_nats(
    args: &RecordOptions,
    stop: &CancellationToken,
    notice: &Notice,
) -> Result<Recorded, RecordError> {
    let target = args
        .nats
        .as_ref()
        .ok_or_else(|| RecordError::Usage("--subject needs --nats URL".into()))?;
    let url = target.url.as_str();
    let client = tokio::select! {
        c = crate::sink::nats::connect_client(target, "trilink-record") => c.map_err(RecordError::Failed)?,
        () = stop.cancelled() => return Err(RecordError::Failed(format!("interrupted while connecting to NATS {url}"))),
    };
    let mut subs = Vec::new();
    for s in &args.subjects {
        subs.push(
            client
                .subscribe(s.clone())
                .await
                .map_err(|e| RecordError::Failed(format!("subscribing to {s}: {e}")))?,
        );
    }
    client
        .flush()
        .await
        .map_err(|e| RecordError::Failed(format!("flushing subscriptions: {e}")))?;
    let mut all = futures::stream::select_all(subs);
    let mut file = create(&args.out)?;
    notice(&format!(
        "recording {} from {url} to {} (Ctrl-C to stop)",
        args.subjects.join(" "),
        args.out.display()
    ));
    let mut rec = Recorded::default();
    let started = Instant::now();
    while !rec.reached(args.count) {
        let msg = tokio::select! {
            () = stop.cancelled() => break,
            m = all.next() => match m { Some(m) => m, None => break },
        };
        let ts = Utc::now();
        match Envelope::from_json(&msg.payload) {
            Ok(envelope) => {
                let r = JsonlRecord {
                    ts,
                    subject: msg.subject.to_string(),
                    envelope,
                };
                let line = r
                    .to_line()
                    .map_err(|e| RecordError::Failed(e.to_string()))?;
                file.write_all(line.as_bytes())?;
                file.flush()?;
                *rec.messages.entry(r.subject_prefix()).or_default() += 1;
            }
            Err(e) => {
                rec.undecodable += 1;
                tracing::warn!(subject = %msg.subject, "not an envelope: {e}");
            }
        }
    }
    rec.elapsed = started.elapsed();
    file.flush()?;
    Ok(rec)
}

trait SubjectPrefix {
    fn subject_prefix(&self) -> String;
}

impl SubjectPrefix for JsonlRecord {
    /// The subject without its track token, for the summary (`tl.out.kr.track_update`).
    fn subject_prefix(&self) -> String {
        self.subject
            .split('.')
            .take(4)
            .collect::<Vec<_>>()
            .join(".")
    }
}
