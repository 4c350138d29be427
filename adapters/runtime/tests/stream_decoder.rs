//! StreamDecoder: frames survive any chunking, garbage is skipped with a reason, the buffer
//! never grows beyond MAX_FRAME_LEN, nothing panics.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use trilink_runtime::transport::{StreamDecoder, decode_message, decode_stream_all};
use trilink_schema::Nation;

fn frames(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| frame_for(&launch(Nation::Us, &format!("us-{i}"), &[Nation::Us])))
        .collect()
}

#[test]
fn oversize_header_is_rejected_before_buffering() {
    let codec = Arc::new(TestCodec::<Us>::default());
    let mut dec = StreamDecoder::new(codec);
    let mut hdr = MAGIC.to_vec();
    hdr.extend_from_slice(&u16::MAX.to_be_bytes());
    dec.extend(&hdr);
    let (rej, raw) = dec.next_item().unwrap().unwrap_err();
    assert_eq!(rej.code, "oversize");
    assert!(!raw.is_empty());
}

#[test]
fn truncated_end_of_stream_and_message() {
    let f = &frames(1)[0];
    let items = decode_stream_all(Arc::new(TestCodec::<Us>::default()), &f[..f.len() - 1]);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().unwrap_err().0.code, "truncated");

    let codec = TestCodec::<Us>::default();
    let item = decode_message(&codec, &bytes::Bytes::copy_from_slice(&f[..10]));
    assert_eq!(item.as_ref().unwrap_err().0.code, "truncated");
    let item = decode_message(&codec, &bytes::Bytes::new());
    assert_eq!(item.as_ref().unwrap_err().0.code, "truncated");
    // One message holds exactly one frame: two frames in one datagram reject the whole
    // datagram (the specs' trailing-bytes rule), carrying every byte of it.
    let two: Vec<u8> = frames(2).concat();
    let item = decode_message(&codec, &bytes::Bytes::from(two.clone()));
    let (rej, raw) = item.unwrap_err();
    assert_eq!(rej.code, "trailing_bytes");
    assert_eq!(raw.as_ref(), two.as_slice());
    // The same bytes on a stream are two frames.
    let items = decode_stream_all(Arc::new(TestCodec::<Us>::default()), &two);
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(Result::is_ok));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn any_chunking_yields_the_same_frames(cuts in proptest::collection::vec(1_usize..200, 1..40), junk in proptest::collection::vec(any::<u8>(), 0..20)) {
        let fs = frames(3);
        let mut all = Vec::new();
        all.extend_from_slice(&fs[0]);
        // junk that cannot contain the magic's first byte keeps the count exact
        let junk: Vec<u8> = junk.into_iter().map(|b| if b == b'T' { b'x' } else { b }).collect();
        all.extend_from_slice(&junk);
        all.extend_from_slice(&fs[1]);
        all.extend_from_slice(&fs[2]);
        let codec = Arc::new(TestCodec::<Us>::default());
        let mut dec = StreamDecoder::new(codec);
        let mut ok = Vec::new();
        let mut rejected = 0;
        let mut rest: &[u8] = &all;
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len()).min(dec.room().max(1));
            dec.extend(&rest[..n]);
            rest = &rest[n..];
            i += 1;
            prop_assert!(dec.buffered() <= TEST_MAX);
            while let Some(item) = dec.next_item() {
                match item {
                    Ok((f, raw)) => { ok.push((f.message_id, raw.len())); }
                    Err(_) => rejected += 1,
                }
            }
        }
        prop_assert!(dec.finish().is_none());
        prop_assert_eq!(ok.len(), 3);
        prop_assert_eq!(rejected > 0, !junk.is_empty());
        for (k, f) in fs.iter().enumerate() {
            prop_assert_eq!(ok[k].1, f.len());
        }
    }

    #[test]
    fn garbage_never_panics_or_overbuffers(data in proptest::collection::vec(any::<u8>(), 0..3000), prefix in any::<bool>()) {
        let mut input = Vec::new();
        if prefix { input.extend_from_slice(MAGIC); }
        input.extend_from_slice(&data);
        let items = decode_stream_all(Arc::new(TestCodec::<Us>::default()), &input);
        let consumed: usize = items.iter().map(|i| match i { Ok((_, r)) | Err((_, r)) => r.len() }).sum();
        prop_assert_eq!(consumed, input.len(), "every byte is either a frame or reported");
    }
}
