//! decode → to_common → to_national → encode → decode must agree with the first decode.
//!
//! The fuzzer's bytes become a frame: the first 8 bytes choose the receive time, the rest is
//! given a valid sync/length/CRC so that the body parser and the translation get exercised
//! (random bytes almost never carry a valid CRC).
#![no_main]

use bytes::BytesMut;
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use trilink_jp::{JpCodec, crc16};
use trilink_schema::{Decoded, NationalCodec};

fuzz_target!(|data: &[u8]| {
    let Some((when, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    // Receive time anywhere from 1970 to ~2106, with sub-microsecond digits.
    let secs = i64::from(u32::from_be_bytes([when[0], when[1], when[2], when[3]]));
    let nanos = u32::from_be_bytes([when[4], when[5], when[6], when[7]]) % 1_000_000_000;
    let Some(ingested) = Utc.timestamp_opt(secs, nanos).single() else {
        return;
    };
    // Build header + body + CRC from the remaining bytes: type from the first byte.
    let Some((ty, body)) = rest.split_first() else {
        return;
    };
    if body.len() + 12 > trilink_jp::MAX_FRAME_LEN {
        return;
    }
    let mut frame = vec![0x4A, 0x50, 1, ty % 8 + 1];
    frame.extend_from_slice(&((body.len() + 12) as u16).to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 42]);
    frame.extend_from_slice(body);
    let crc = crc16(&frame);
    frame.extend_from_slice(&crc.to_be_bytes());

    let codec = JpCodec;
    let Ok(Decoded::Frame {
        frame: first,
        consumed,
    }) = codec.decode(&frame)
    else {
        return;
    };
    assert_eq!(consumed, frame.len());
    let env = codec
        .to_common(&first, ingested)
        .expect("a decoded frame translates");
    let mut national = codec
        .to_national(&env)
        .expect("a translated frame is representable");
    national.sequence = first.sequence;
    assert_eq!(
        national, first,
        "national -> common -> national changed the frame"
    );
    let mut out = BytesMut::new();
    codec.encode(&national, &mut out).expect("encodes");
    assert_eq!(&out[..], &frame[..], "re-encoding changed the bytes");
    let Ok(Decoded::Frame { frame: second, .. }) = codec.decode(&out) else {
        panic!("re-encoded frame does not decode");
    };
    assert_eq!(second, first);
    assert_eq!(codec.to_common(&second, ingested).expect("translates"), env);
});
