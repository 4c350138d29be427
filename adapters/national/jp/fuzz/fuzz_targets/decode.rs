//! Raw bytes into the streaming decoder, the datagram decoder and the translation: nothing
//! may panic, and whatever decodes must re-encode to exactly the bytes it came from.
#![no_main]

use bytes::BytesMut;
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use trilink_jp::JpCodec;
use trilink_schema::{Decoded, NationalCodec};

fuzz_target!(|data: &[u8]| {
    let codec = JpCodec;
    let ingested = Utc
        .timestamp_opt(1_795_000_000, 0)
        .single()
        .unwrap_or_default();
    let _ = trilink_jp::decode_to_common(data, ingested);
    // Walk the input as a stream, resynchronising after errors.
    let mut buf = data;
    while !buf.is_empty() {
        match codec.decode(buf) {
            Ok(Decoded::Frame { frame, consumed }) => {
                assert!(consumed >= trilink_jp::MIN_FRAME_LEN && consumed <= buf.len());
                let mut out = BytesMut::new();
                codec
                    .encode(&frame, &mut out)
                    .expect("a decoded frame re-encodes");
                assert_eq!(&out[..], &buf[..consumed], "encoding is not canonical");
                let _ = codec.to_common(&frame, ingested);
                buf = &buf[consumed..];
            }
            Ok(Decoded::NeedMore { needed }) => {
                assert!(needed >= 1 && buf.len() + needed <= trilink_jp::MAX_FRAME_LEN);
                break;
            }
            Err(_) => {
                let skip = codec.skip_after_error(buf);
                assert!(skip >= 1 && skip <= buf.len());
                buf = &buf[skip..];
            }
        }
    }
});
