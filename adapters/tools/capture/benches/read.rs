//! Capture reading throughput: container + link decoding + TCP reassembly, and the same plus
//! national decoding and translation with the real codecs.
//! `cargo bench -p trilink-capture --bench read -- --measurement-time 3 --warm-up-time 1`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;

use bytes::BytesMut;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trilink_capture::{
    CaptureDecoder, CaptureMap, Framing, PcapngWriter, Transport, read_messages,
};
use trilink_jp::JpCodec;
use trilink_kr::KrCodec;
use trilink_schema::{Envelope, Nation, NationalCodec};
use trilink_us::UsCodec;

const N: usize = 3_000; // frames per nation

fn capture() -> Vec<u8> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../schemas/examples/valid/track_update.json"
    );
    let e = Envelope::from_json(&std::fs::read(dir).unwrap()).unwrap();
    let enc = |c: &dyn Fn(&mut BytesMut)| {
        let mut b = BytesMut::new();
        c(&mut b);
        b.to_vec()
    };
    let jp = enc(&|b| {
        JpCodec
            .encode(&JpCodec.to_national(&e).unwrap(), b)
            .unwrap();
    });
    let kr = enc(&|b| {
        KrCodec
            .encode(&KrCodec.to_national(&e).unwrap(), b)
            .unwrap();
    });
    let us = enc(&|b| {
        let c = UsCodec::new();
        c.encode(&c.to_national(&e).unwrap(), b).unwrap();
    });
    let mut w = PcapngWriter::new().unwrap();
    let p = |s: &str| s.parse().unwrap();
    for i in 0..N {
        let t = Utc
            .timestamp_opt(
                1_790_000_000 + (i / 1000) as i64,
                (i % 1000) as u32 * 1_000_000,
            )
            .unwrap();
        w.udp(t, p("10.1.0.5:40000"), p("10.1.0.9:5500"), &jp)
            .unwrap();
        w.mqtt_publish(
            t,
            p("10.2.0.4:50000"),
            p("10.2.0.1:1883"),
            "kr/kamd/out",
            &kr,
        )
        .unwrap();
        w.tcp(t, p("10.3.0.7:51000"), p("10.3.0.9:5601"), &us)
            .unwrap();
    }
    w.into_bytes()
}

fn bench(c: &mut Criterion) {
    let bytes = capture();
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Elements((3 * N) as u64));
    g.bench_function("read_reassemble", |b| {
        b.iter(|| {
            black_box(
                read_messages("bench.pcapng", black_box(&bytes))
                    .unwrap()
                    .0
                    .len(),
            )
        });
    });
    let map = CaptureMap::new()
        .with(Nation::Jp, Transport::Udp, 5500, Framing::Datagram)
        .with(Nation::Kr, Transport::Tcp, 1883, Framing::Mqtt)
        .with(Nation::Us, Transport::Tcp, 5601, Framing::Stream);
    g.bench_function("read_reassemble_decode_translate", |b| {
        b.iter(|| {
            let (msgs, _) = read_messages("bench.pcapng", black_box(&bytes)).unwrap();
            let mut d = CaptureDecoder::new(map.clone())
                .with_codec(JpCodec)
                .with_codec(KrCodec)
                .with_codec(UsCodec::new());
            let mut n = 0;
            for m in &msgs {
                n += d.push(m).into_iter().flatten().count();
            }
            assert_eq!(n, 3 * N);
            black_box(n)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
