//! Raw bytes into the streaming decoder, the datagram decoder and translation: nothing may
//! panic, and a decoded frame never claims more bytes than it was given.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use trilink_schema::{Decoded, NationalCodec};
use trilink_us::UsCodec;

fuzz_target!(|data: &[u8]| {
    let codec = UsCodec::default();
    let mut rest = data;
    // Walk the input as a TCP stream would.
    while !rest.is_empty() {
        match codec.decode(rest) {
            Ok(Decoded::Frame { frame, consumed }) => {
                assert!(consumed >= 1 && consumed <= rest.len());
                let _ = codec.to_common(&frame, Utc.timestamp_opt(1_763_700_000, 0).unwrap());
                rest = &rest[consumed..];
            }
            Ok(Decoded::NeedMore { needed }) => {
                assert!(needed >= 1 && rest.len() + needed <= UsCodec::MAX_FRAME_LEN.max(4));
                break;
            }
            Err(_) => {
                let skip = codec.skip_after_error(rest);
                assert!(skip >= 1 && skip <= rest.len());
                rest = &rest[skip..];
            }
        }
    }
    let _ = trilink_us::decode_to_common(data, Utc.timestamp_opt(1_763_700_000, 0).unwrap());
});
