//! One sentence per MQTT publish (kr.md §1, §7 step 7): anything after the LF of a sentence
//! that passes steps 1–6 rejects the whole payload (`trailing_data`); the sentence's own error
//! wins over trailing data; a payload never yields more than one sentence. Checked through
//! the trait method the runtime uses ([`NationalCodec::decode_message`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use trilink_kr::{Decoded, KrCodec, KrError, NationalCodec, NationalError, Sentence};
use trilink_schema::testing::files::{vector_hex, vectors_dir};

fn message(bytes: &[u8]) -> Result<Sentence, KrError> {
    NationalCodec::decode_message(&KrCodec, bytes)
}

const VALID: [&str; 4] = [
    "lch_exercise",
    "trk_exercise",
    "sta_degraded",
    "cor_no_optionals",
];

#[test]
fn every_vector_gives_the_same_answer_through_decode_message() {
    let mut n = 0;
    for entry in std::fs::read_dir(vectors_dir("kr")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("hex") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let bytes = vector_hex("kr", &name);
        let error = vectors_dir("kr").join(format!("{name}.error"));
        if error.exists() {
            let code = std::fs::read_to_string(error).unwrap().trim().to_owned();
            let e = message(&bytes).expect_err(&name);
            assert_eq!(e.code(), code, "{name}: {e}");
        } else {
            assert_eq!(
                message(&bytes).unwrap(),
                KrCodec.decode_message(&bytes).unwrap()
            );
        }
        n += 1;
    }
    assert!(n > 40, "only {n} vectors");
}

#[test]
fn two_sentences_in_one_publish_are_rejected_whole() {
    for a in VALID {
        for b in VALID {
            let (x, y) = (vector_hex("kr", a), vector_hex("kr", b));
            let p = [x.as_slice(), &y].concat();
            assert_eq!(
                message(&p),
                Err(KrError::TrailingData { extra: y.len() }),
                "{a}+{b}"
            );
            // On a byte stream the same bytes are two sentences.
            let Ok(Decoded::Frame { consumed, .. }) = KrCodec.decode(&p) else {
                panic!("{a}+{b}: stream decode")
            };
            assert_eq!(consumed, x.len());
        }
    }
}

#[test]
fn any_suffix_after_a_valid_sentence_is_trailing_data() {
    for name in VALID {
        let good = vector_hex("kr", name);
        assert!(message(&good).is_ok(), "{name}");
        for extra in [
            b"\r\n".to_vec(),
            b"\n".to_vec(),
            b" ".to_vec(),
            b"$".to_vec(),
            b"$TLKR,".to_vec(),
            vec![0; 100],
            good[..good.len() / 2].to_vec(),
        ] {
            let p = [good.as_slice(), &extra].concat();
            assert_eq!(
                message(&p),
                Err(KrError::TrailingData { extra: extra.len() }),
                "{name} + {extra:02x?}"
            );
        }
    }
    let garbage = vector_hex("kr", "trailing_data_garbage");
    assert_eq!(message(&garbage).unwrap_err().code(), "trailing_data");
}

#[test]
fn the_sentences_own_error_wins_over_trailing_data() {
    let good = vector_hex("kr", "lch_exercise");
    let mut bad_crc = good.clone();
    bad_crc[20] ^= 0x01;
    let mut no_cr = good.clone();
    no_cr.remove(no_cr.len() - 2);
    for tail in [b"x".to_vec(), good.clone()] {
        let p = [bad_crc.as_slice(), &tail].concat();
        assert_eq!(message(&p).unwrap_err().code(), "bad_checksum");
        let p = [no_cr.as_slice(), &tail].concat();
        assert_eq!(message(&p).unwrap_err().code(), "bad_framing");
    }
    assert_eq!(
        message(&vector_hex("kr", "bad_checksum_trailing_sentence"))
            .unwrap_err()
            .code(),
        "bad_checksum"
    );
}

#[test]
fn short_payloads_are_truncated_or_bad_sync() {
    let good = vector_hex("kr", "lch_exercise");
    assert_eq!(message(&[]).unwrap_err().code(), "truncated");
    for n in 1..good.len() {
        assert_eq!(message(&good[..n]).unwrap_err().code(), "truncated", "{n}");
    }
    assert_eq!(message(b"x").unwrap_err().code(), "bad_sync");
}
