//! `trilink policy test --live`: replay a JSON Lines capture through the real brokers and the
//! real relay, record what each nation's account actually received, and compare it with the
//! offline prediction of the same policy.
//!
//! The link is started on free loopback ports (hub + both leaves with mTLS, streams created),
//! the relay runs in this process with one connection per nation account, each envelope is
//! published with JetStream on `tl.in.<origin>.<kind>` with its origin's adapter credentials
//! (so it crosses the leaf for JP and KR exactly as in production), and an operations
//! connection per account subscribes to `tl.out.>` and `tl.dlq.>` before anything is sent.
//! With a [`LiveView`], one nation's browser view (`trilink-view`, as that nation's read-only
//! viewer) is started on the link before anything is sent and kept open after the run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use trilink_brokers::{Role, Site};
use trilink_relay::{Matrix, Policy};
use trilink_schema::{Envelope, Mode, Nation, PayloadKind, Subject, headers};

use crate::LocalLink;
use crate::error::{LinkError, Result, failed};

/// The browser view to start on the live link (`trilink policy test --live --view-listen`).
#[derive(Debug, Clone, Copy)]
pub struct LiveView {
    /// Where to serve the page.
    pub listen: std::net::SocketAddr,
    /// The nation whose read-only viewer it connects as.
    pub nation: Nation,
    /// How long to keep the link and the view up after the run (Ctrl-C ends it sooner).
    pub hold: Duration,
}

/// Called with the view's URL once it serves.
pub type Announce = dyn Fn(&str) + Sync;

/// What the live link delivered: (origin, destination, kind, mode) → count, and dead letters
/// by reason.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LiveResult {
    /// Deliveries per cell.
    pub delivered: BTreeMap<(Nation, Nation, PayloadKind, Mode), u64>,
    /// Common-event views (the hub's picture, issue 15) published per destination; not part
    /// of the comparison with the offline matrix.
    pub picture: BTreeMap<Nation, u64>,
    /// Dead letters per reason code.
    pub rejected: BTreeMap<String, u64>,
}

/// The offline prediction in the same shape.
pub fn predicted(matrix: &Matrix) -> LiveResult {
    let mut r = LiveResult::default();
    for row in matrix.rows() {
        if row.delivered > 0 {
            r.delivered.insert(
                (row.origin, row.destination, row.kind, row.mode),
                row.delivered,
            );
        }
    }
    r.rejected = matrix
        .rejected
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    r
}

/// Differences between prediction and live result, one line each; empty when they agree.
pub fn differences(offline: &LiveResult, live: &LiveResult) -> Vec<String> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<_> = offline
        .delivered
        .keys()
        .chain(live.delivered.keys())
        .collect();
    for k in keys {
        let (a, b) = (
            offline.delivered.get(k).copied().unwrap_or(0),
            live.delivered.get(k).copied().unwrap_or(0),
        );
        if a != b {
            out.push(format!(
                "{} -> {} {} {}: offline delivers {a}, live delivered {b}",
                k.0, k.1, k.2, k.3
            ));
        }
    }
    let codes: std::collections::BTreeSet<_> = offline
        .rejected
        .keys()
        .chain(live.rejected.keys())
        .collect();
    for c in codes {
        let (a, b) = (
            offline.rejected.get(c).copied().unwrap_or(0),
            live.rejected.get(c).copied().unwrap_or(0),
        );
        if a != b {
            out.push(format!("rejected {c}: offline {a}, live {b}"));
        }
    }
    out
}

/// Run the capture through a live link; `settle` bounds the wait for the relay to finish.
pub async fn run_live(
    policy_path: &Path,
    capture: &str,
    expected_total: u64,
    settle: Duration,
    view: Option<(LiveView, &Announce)>,
) -> Result<LiveResult> {
    Policy::load(policy_path).map_err(|e| LinkError::Usage(e.to_string()))?;
    let stop = CancellationToken::new();
    let mut local = LocalLink::start(&stop).await?;
    let link = local.link();

    // The view first, so that it shows the whole run.
    let view_hold = match view {
        Some((v, announce)) => {
            let c = link
                .credentials(Role::Viewer(v.nation))
                .map_err(|e| failed!("viewer credentials: {e}"))?;
            let running = trilink_view::start(
                trilink_view::ViewConfig {
                    nation: v.nation,
                    nats_urls: c.urls,
                    user: c.user,
                    password: c.password,
                    ca_file: c.ca_file,
                    listen: v.listen,
                    heartbeat_interval: Duration::from_secs(2),
                },
                stop.clone(),
            )
            .await
            .map_err(|e| failed!("view: {e}"))?;
            announce(&format!("view ({} viewer): {}", v.nation, running.url()));
            Some(v.hold)
        }
        None => None,
    };

    // Observers: every output and dead letter in every account, subscribed before sending.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<async_nats::Message>();
    let mut observers = Vec::new();
    for n in Nation::ALL {
        let client = link
            .connect(Role::Admin(Site::Hub, n))
            .await
            .map_err(|e| failed!("{e}"))?;
        for subject in ["tl.out.>", "tl.dlq.>"] {
            let mut sub = client
                .subscribe(subject)
                .await
                .map_err(|e| failed!("{e}"))?;
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(m) = sub.next().await {
                    if tx.send(m).is_err() {
                        return;
                    }
                }
            });
        }
        client.flush().await.map_err(|e| failed!("{e}"))?;
        observers.push(client);
    }
    drop(tx);

    local.start_relay_with(policy_path.to_path_buf())?;
    let link = local.link();

    // Publish each line on its origin's input subject with that origin's adapter credentials.
    let mut publishers = BTreeMap::new();
    for n in Nation::ALL {
        let client = link
            .connect(Role::Adapter(n))
            .await
            .map_err(|e| failed!("{e}"))?;
        let js = match n {
            Nation::Us => async_nats::jetstream::new(client),
            other => async_nats::jetstream::with_domain(client, other.as_str()),
        };
        publishers.insert(n, js);
    }
    let mut sent = 0u64;
    for line in capture.lines().filter(|l| !l.trim().is_empty()) {
        // Lines that are not envelopes are sent as US status input, as the offline run does.
        let body = trilink_relay::capture_body(line);
        let (subject, origin, id) = match Envelope::from_json(&body) {
            Ok(env) => (
                Subject::input_for(&env).to_string(),
                env.origin,
                env.message_id.to_string(),
            ),
            Err(_) => (
                format!("tl.in.{}.status", Nation::Us),
                Nation::Us,
                format!("not-json-{sent}"),
            ),
        };
        let Some(js) = publishers.get(&origin) else {
            continue;
        };
        let mut h = async_nats::HeaderMap::new();
        h.insert(headers::MSG_ID, id.as_str());
        js.publish_with_headers(subject, h, body.into_owned().into())
            .await
            .map_err(|e| failed!("publish: {e}"))?
            .await
            .map_err(|e| failed!("publish ack: {e}"))?;
        sent += 1;
    }

    // Collect until the expected number arrived and nothing more came for a while, or settle.
    let mut live = LiveResult::default();
    let mut seen = 0u64;
    let deadline = Instant::now() + settle;
    let mut quiet_since = Instant::now();
    loop {
        let wait = if seen >= expected_total {
            Duration::from_millis(1_500)
        } else {
            Duration::from_millis(250)
        };
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(m)) => {
                quiet_since = Instant::now();
                // The hub's common picture is not in the offline delivery matrix: counted
                // apart, and not toward the expected total.
                if m.subject.as_str().contains(".common_event.") {
                    if let Ok(Subject::Out { dest, .. }) = Subject::parse(m.subject.as_str()) {
                        *live.picture.entry(dest).or_default() += 1;
                    }
                    continue;
                }
                seen += 1;
                record(&mut live, &m);
            }
            Ok(None) => break,
            Err(_) => {
                if (seen >= expected_total && quiet_since.elapsed() >= Duration::from_millis(1_500))
                    || Instant::now() >= deadline
                {
                    break;
                }
            }
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    drop(observers);
    if let Some(hold) = view_hold {
        tokio::select! {
            () = tokio::time::sleep(hold) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    let _ = local.shutdown(Duration::from_secs(10)).await;
    Ok(live)
}

fn record(live: &mut LiveResult, m: &async_nats::Message) {
    let subject = m.subject.as_str();
    if subject.starts_with("tl.dlq.") {
        let reason = m
            .headers
            .as_ref()
            .and_then(|h| h.get(headers::DLQ_REASON))
            .map_or_else(|| "unknown".to_owned(), |v| v.as_str().to_owned());
        *live.rejected.entry(reason).or_default() += 1;
        return;
    }
    if let (Ok(Subject::Out { dest, kind, .. }), Ok(env)) =
        (Subject::parse(subject), Envelope::from_json(&m.payload))
    {
        *live
            .delivered
            .entry((env.origin, dest, kind, env.mode))
            .or_default() += 1;
    }
}
