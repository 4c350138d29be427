//! Single-threaded throughput check of decode → to_common → validate, without criterion's
//! statistics. Prints frames per second of wall time; run it under `perf stat -e task-clock`
//! to get frames per CPU-second on a loaded machine:
//!
//! `cargo build --release -p trilink-kr --example throughput &&
//!  perf stat -e task-clock target/release/examples/throughput 2000000 [decode|translate|full]`

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use trilink_kr::KrCodec;
use trilink_schema::ValidationContext;

const TRK: &[u8] = b"$TLKR,TRK,1,EXERCISE,KR,KR+US,kamd,green-pine-b,KAMD-20261121-0002,20261121T094600.000001+0900,57498e50-75dc-5486-8a5b-65792e6a3d5c,KR-T0001,20261121T094559.999999+0900,383005.0009N,1280259.9999E,150000.00,25.00,40.00,1800.00,-900.50,0.75,12,MIDCOURSE*47D74AE1\r\n";

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let codec = KrCodec;
    let ingested: DateTime<Utc> = "2026-11-21T00:55:00Z".parse().unwrap();
    let mut ctx = ValidationContext::at(ingested + Duration::seconds(1));
    ctx.check_message_id = false;
    let mode = std::env::args().nth(2).unwrap_or_else(|| "full".into());
    let start = Instant::now();
    for _ in 0..n {
        match mode.as_str() {
            "decode" => {
                black_box(codec.decode_message(black_box(TRK)).unwrap());
            }
            "translate" => {
                black_box(codec.decode_to_common(black_box(TRK), ingested).unwrap());
            }
            _ => {
                let env = codec.decode_to_common(black_box(TRK), ingested).unwrap();
                env.validate(&ctx).unwrap();
                black_box(env);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} TRK frames ({mode}) in {secs:.3} s wall: {:.0} frames/s",
        f64::from(n) / secs
    );
}
