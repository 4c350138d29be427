//! Writes the sample capture `broker-config/policies/samples/capture.jsonl` to stdout:
//! `cargo run -p trilink-relay --example make_policy_sample > broker-config/policies/samples/capture.jsonl`

#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use trilink_schema::testing::sample::{SampleSpec, envelope};
use trilink_schema::{GeoPoint, Mode, Nation, PayloadKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    use Mode::{Exercise, RealWorld, Test};
    use Nation::{Jp, Kr, Us};
    use PayloadKind::{Cancel, EventEnd, ImpactPrediction, LaunchDetection, Status, TrackUpdate};
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 20, 3, 0, 0)
        .single()
        .ok_or("bad time")?;
    let p = |lat, lon| GeoPoint {
        lat_deg: lat,
        lon_deg: lon,
        alt_m: 0.0,
    };
    let all: BTreeSet<Nation> = Nation::ALL.into_iter().collect();
    let rows = [
        // A real-world launch seen by JP, released to all.
        (
            Jp,
            LaunchDetection,
            RealWorld,
            all.clone(),
            1,
            p(39.0, 125.7),
        ),
        // A JP track released to the US only: KR must not get it.
        (
            Jp,
            TrackUpdate,
            RealWorld,
            [Jp, Us].into(),
            2,
            p(39.5, 130.0),
        ),
        // A JP exercise launch released to all: KR is real-world only (strict).
        (
            Jp,
            LaunchDetection,
            Exercise,
            all.clone(),
            10,
            p(40.0, 128.0),
        ),
        // US impact prediction in the Sea of Japan: inside JP's area, outside KR's.
        (
            Us,
            ImpactPrediction,
            RealWorld,
            all.clone(),
            3,
            p(39.5, 134.0),
        ),
        // US impact prediction on the peninsula, but exercise: KR is real-world only (strict).
        (
            Us,
            ImpactPrediction,
            Exercise,
            all.clone(),
            4,
            p(36.0, 128.0),
        ),
        // KR exercise track released to all.
        (Kr, TrackUpdate, Exercise, all.clone(), 5, p(38.0, 127.0)),
        // US technical test status.
        (Us, Status, Test, all.clone(), 6, p(0.0, 0.0)),
        // JP real-world status, released to the US only.
        (Jp, Status, RealWorld, [Jp, Us].into(), 7, p(0.0, 0.0)),
        // JP cancels its launch detection (false alarm).
        (Jp, Cancel, RealWorld, all.clone(), 1, p(0.0, 0.0)),
        // KR event end (impact) released to all.
        (Kr, EventEnd, RealWorld, all.clone(), 8, p(40.5, 133.0)),
    ];
    for (origin, kind, mode, releasability, seq, point) in rows {
        let env = envelope(&SampleSpec {
            origin,
            kind,
            mode,
            releasability,
            seq,
            observed_at: t0 + chrono::Duration::seconds(i64::try_from(seq)? * 10),
            point,
        })?;
        println!("{}", serde_json::to_string(&env)?);
    }
    // A forged message id: the relay must dead-letter it (message_id_mismatch).
    let mut forged = envelope(&SampleSpec {
        origin: Kr,
        kind: LaunchDetection,
        mode: RealWorld,
        releasability: all,
        seq: 9,
        observed_at: t0,
        point: p(39.0, 125.7),
    })?;
    forged.source.national_message_id = "launch_detection-99".into();
    println!("{}", serde_json::to_string(&forged)?);
    // Not an envelope at all.
    println!("{{\"hello\": \"world\"}}");
    Ok(())
}
