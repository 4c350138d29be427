//! Relay throughput on one real nats-server (JetStream, file storage): pre-load N inputs into
//! TL_IN, start the relay, time until every input is acknowledged (2 outputs stored each).
//! Prints the raw JetStream publish rate of the same machine in the same run as a baseline.
//!
//! `cargo run --release -p trilink-relay --example relay_throughput -- <inputs> <max_in_flight>`

#![forbid(unsafe_code)]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream;
use chrono::Utc;
use trilink_relay::{RelayConfig, RelayControl};
use trilink_schema::testing::sample::{SampleSpec, envelope};
use trilink_schema::{GeoPoint, Mode, Nation, PayloadKind, Subject};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args().nth(1).map_or(Ok(20_000), |s| s.parse())?;
    let max_in_flight: usize = std::env::args().nth(2).map_or(Ok(256), |s| s.parse())?;
    let server = trilink_brokers::NatsServer::start_jetstream()?;
    let url = server.url();
    let client = loop {
        if let Ok(c) = async_nats::connect(&url).await {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let js = jetstream::new(client);
    let policy = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../broker-config/policies/default-trilateral.toml");
    let cfg = RelayConfig {
        nats_url: url.clone(),
        status_interval_s: 0,
        max_in_flight,
        ..RelayConfig::default()
    };

    trilink_brokers::testing::ensure_relay_streams(&url).await;

    // Pre-load inputs (async acks, bounded window) and time it: the JetStream baseline.
    let all: std::collections::BTreeSet<Nation> = Nation::ALL.into_iter().collect();
    let mut bodies = Vec::with_capacity(n as usize);
    for seq in 0..n {
        let env = envelope(&SampleSpec {
            origin: Nation::Jp,
            kind: PayloadKind::TrackUpdate,
            mode: Mode::RealWorld,
            releasability: all.clone(),
            seq,
            observed_at: Utc::now() - chrono::Duration::seconds(1),
            point: GeoPoint {
                lat_deg: 38.0,
                lon_deg: 131.0,
                alt_m: 80_000.0,
            },
        })?;
        bodies.push((
            Subject::input_for(&env).to_string(),
            env.message_id.to_string(),
            env.to_json()?,
        ));
    }
    let t0 = Instant::now();
    let mut acks = Vec::new();
    for (subject, id, body) in bodies {
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", id.as_str());
        acks.push(js.publish_with_headers(subject, h, body.into()).await?);
        if acks.len() >= 256 {
            for a in acks.drain(..) {
                a.await?;
            }
        }
    }
    for a in acks.drain(..) {
        a.await?;
    }
    let baseline = t0.elapsed();

    // The relay drains the backlog.
    let control = RelayControl::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let t1 = Instant::now();
    let h = tokio::spawn(trilink_relay::run_with_control(
        cfg,
        policy,
        async {
            let _ = rx.await;
        },
        control.clone(),
    ));
    while control.stats().acked.load(Ordering::Relaxed) < n {
        if t1.elapsed() > Duration::from_secs(300) {
            return Err("relay did not finish within 300 s".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let relay = t1.elapsed();
    let _ = tx.send(());
    h.await??;
    let out = js
        .get_stream("TL_OUT")
        .await?
        .get_info()
        .await?
        .state
        .messages;
    println!(
        "inputs {n}, max_in_flight {max_in_flight}: JetStream publish baseline {:.0} msg/s; relay {:.0} inputs/s ({:.0} outputs/s stored, {out} outputs)",
        n as f64 / baseline.as_secs_f64(),
        n as f64 / relay.as_secs_f64(),
        out as f64 / relay.as_secs_f64(),
    );
    Ok(())
}
