//! The adapter's pure core: every decision the adapter makes about one message, as plain
//! functions with time passed in — no sockets, no NATS, no clock (the I/O loops in
//! [`crate::adapter`] read the clock and do the sending; this module decides). In spirit it
//! stands beside the relay's pure `process()`.
//!
//! - **Ingress** ([`ingest`], [`ingest_frame`]): national bytes (or a frame a transport already
//!   decoded) → [`NationalCodec::to_common`] → origin check → validation → an [`Envelope`] to
//!   publish, or a [`Reject`] with its stage and stable reason code for the dead letter.
//! - **Egress** ([`prepare_egress`]): envelope JSON from the hub → releasability check →
//!   validation → [`NationalCodec::to_national`] → encode → a [`ReadyToSend`] frame to send, or a
//!   [`Reject`]. De-duplication, fan-out to the outputs and the journal stay in the I/O loop.

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use trilink_schema::framing::Rejected;
use trilink_schema::{Envelope, NationalCodec, NationalError, ValidationContext};

/// Why one message was not accepted: the stage that refused it, a stable snake-case reason
/// code (the dead letter's `Tl-Reason`, a metric label) and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// `decode`, `translate`, `origin` or `validate` on ingress; `egress` on egress.
    pub stage: &'static str,
    /// Stable reason code (`bad_checksum`, `origin_mismatch`, `not_releasable`, `bad_json`, …).
    pub code: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

impl Reject {
    fn codec<E: NationalError>(stage: &'static str, e: &E) -> Self {
        Self {
            stage,
            code: e.code(),
            detail: e.to_string(),
        }
    }
}

/// What the core needs to know besides the message and the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreCtx {
    /// How far in the future a timestamp may lie (`adapter.future_tolerance_ms`).
    pub future_tolerance: chrono::Duration,
}

impl CoreCtx {
    fn validation(&self, now: DateTime<Utc>) -> ValidationContext {
        let mut v = ValidationContext::at(now);
        v.future_tolerance = self.future_tolerance;
        v
    }
}

/// Ingress from one whole national message (a UDP datagram, an MQTT payload) received at
/// `received_at` and checked at `now`: exactly one frame per message
/// ([`trilink_schema::decode_one_message`]), then [`ingest_frame`].
pub fn ingest<C: NationalCodec>(
    codec: &C,
    msg: &Bytes,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
    ctx: &CoreCtx,
) -> Result<Envelope, Reject> {
    let outcome = trilink_schema::decode_one_message(codec, msg).map(|(f, _)| f);
    ingest_frame(codec, outcome.map_err(|(r, _)| r), received_at, now, ctx)
}

/// Ingress from a transport's decode outcome: a decode rejection is stage `decode`; the frame is
/// translated with `to_common(frame, received_at)` (stage `translate`); an envelope whose origin
/// is not the codec's nation is `origin_mismatch` (stage `origin`) and never accepted; the
/// envelope is validated at `now` with `ctx.future_tolerance` (stage `validate`, the
/// [`ValidationError`](trilink_schema::ValidationError)'s code).
pub fn ingest_frame<C: NationalCodec>(
    codec: &C,
    outcome: Result<C::Frame, Rejected>,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
    ctx: &CoreCtx,
) -> Result<Envelope, Reject> {
    let frame = outcome.map_err(|rej| Reject {
        stage: "decode",
        code: rej.code,
        detail: rej.detail,
    })?;
    let env = codec
        .to_common(&frame, received_at)
        .map_err(|e| Reject::codec("translate", &e))?;
    if env.origin != C::NATION {
        return Err(Reject {
            stage: "origin",
            code: "origin_mismatch",
            detail: format!(
                "envelope origin {} is not this adapter's nation {}",
                env.origin,
                C::NATION
            ),
        });
    }
    env.validate(&ctx.validation(now)).map_err(|e| Reject {
        stage: "validate",
        code: e.code(),
        detail: e.to_string(),
    })?;
    Ok(env)
}

/// A message from the hub made ready for the national outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyToSend {
    /// The envelope (its id de-duplicates deliveries; its times feed the hop metrics).
    pub envelope: Envelope,
    /// The encoded national frames, in sending order, as every output sends them: one for a
    /// national kind; for the hub's `common_event`, the frames of its "common picture"
    /// reports (`trilink_schema::picture`), possibly none.
    pub frames: Vec<Bytes>,
}

/// Egress of one envelope body at `now`: JSON (`bad_json`), releasability to the codec's nation
/// (`not_releasable`), validation with `ctx.future_tolerance` (the validation code),
/// `to_national` and `encode` (the codec's code). Every reject is stage `egress`. `buf` is a
/// scratch buffer reused across calls (cleared first).
pub fn prepare_egress<C: NationalCodec>(
    codec: &C,
    body: &[u8],
    now: DateTime<Utc>,
    ctx: &CoreCtx,
    buf: &mut BytesMut,
) -> Result<ReadyToSend, Reject> {
    let reject = |code: &'static str, detail: String| Reject {
        stage: "egress",
        code,
        detail,
    };
    let env = Envelope::from_json(body).map_err(|e| reject("bad_json", e.to_string()))?;
    if !env.releasable_to(C::NATION) {
        let detail = format!(
            "releasability {:?} excludes {}",
            env.releasability,
            C::NATION
        );
        return Err(reject("not_releasable", detail));
    }
    env.validate(&ctx.validation(now))
        .map_err(|e| reject(e.code(), e.to_string()))?;
    let national = codec
        .to_national_frames(&env)
        .map_err(|e| Reject::codec("egress", &e))?;
    let mut frames = Vec::with_capacity(national.len());
    for frame in &national {
        buf.clear();
        codec
            .encode(frame, buf)
            .map_err(|e| Reject::codec("egress", &e))?;
        frames.push(Bytes::copy_from_slice(buf));
    }
    Ok(ReadyToSend {
        envelope: env,
        frames,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use trilink_schema::Nation;

    use super::*;

    /// The valid examples but the hub's common events: those only go out (the relay refuses
    /// them from nations); they are several national frames:
    /// `common_event_reaches_every_nation_as_its_reports`.
    fn examples() -> Vec<Envelope> {
        trilink_schema::testing::files::national_examples()
    }

    fn ctx() -> CoreCtx {
        CoreCtx {
            future_tolerance: chrono::Duration::milliseconds(5_000),
        }
    }

    fn encode<C: NationalCodec>(c: &C, e: &Envelope) -> Bytes {
        Bytes::from(trilink_schema::testing::encode_national(c, e))
    }

    /// An example re-issued by `origin`, observed just before `now`, released to `rel`.
    fn variant(base: &Envelope, origin: Nation, rel: BTreeSet<Nation>) -> Envelope {
        let now = base.ingested_at;
        let mut e = Envelope::new(
            origin,
            base.source.clone(),
            base.observed_at,
            now,
            base.mode,
            rel,
            base.payload.clone(),
        );
        e.references.clone_from(&base.references);
        e
    }

    const CODES: &[&str] = &[
        // framer / runtime
        "oversize",
        "codec_contract",
        "truncated",
        "origin_mismatch",
        "bad_json",
        "not_releasable",
    ];

    fn snake(code: &str) -> bool {
        !code.is_empty()
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }

    #[test]
    fn examples_round_trip_through_ingest_and_prepare() {
        let us = trilink_us::UsCodec::new();
        for base in examples() {
            let e = variant(&base, Nation::Us, Nation::ALL.into_iter().collect());
            let now = e.ingested_at;
            let raw = encode(&us, &e);
            let got = ingest(&us, &raw, now, now, &ctx()).unwrap();
            assert_eq!(got.origin, Nation::Us);
            assert_eq!(got.message_id, e.message_id);
            let body = got.to_json().unwrap();
            let mut buf = BytesMut::new();
            let p = prepare_egress(&us, &body, now, &ctx(), &mut buf).unwrap();
            assert_eq!(p.envelope, got);
            assert_eq!(p.frames, vec![raw], "egress encodes what ingress decoded");
        }
    }

    /// A `common_event` from the hub goes out as the national frames of its "common picture"
    /// reports (a track and an impact of the event id for the example), which each nation's
    /// decoder reads back as those reports.
    #[test]
    fn common_event_reaches_every_nation_as_its_reports() {
        fn check<C: NationalCodec>(codec: &C, body: &[u8], now: DateTime<Utc>) {
            let mut buf = BytesMut::new();
            let p = prepare_egress(codec, body, now, &ctx(), &mut buf).unwrap();
            let want = trilink_schema::picture::common_event_reports(&p.envelope).unwrap();
            // US adds its J7.7 association naming the contributing tracks (us.md §13), which
            // its ingress refuses as hub-only.
            let extra = usize::from(C::NATION == Nation::Us);
            assert_eq!(p.frames.len(), 2 + extra, "{}", C::NATION);
            for raw in p.frames.iter().skip(want.len()) {
                let frame = codec.decode_message(raw).unwrap();
                let e = codec.to_common(&frame, now).unwrap_err();
                assert_eq!(e.code(), "hub_only_kind", "{}", C::NATION);
            }
            for (raw, want) in p.frames.iter().zip(&want) {
                let frame = codec.decode_message(raw).unwrap();
                let got = codec.to_common(&frame, now).unwrap();
                assert_eq!(got.payload.kind(), want.payload.kind(), "{}", C::NATION);
                assert_eq!(
                    got.payload.track_id().unwrap().as_str(),
                    "5b0e2f4c8a315d7e9c0241f6aa831e57",
                    "{}: the event id is the track id",
                    C::NATION
                );
                assert_eq!(got.origin, Nation::Us);
                assert_eq!(got.source.sensor, "jp:JP-20261121-0007 us:US-tpy2kyoga-M1");
                assert_eq!(got.message_id, want.message_id, "{}", C::NATION);
            }
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/examples/valid");
        let body = std::fs::read(format!("{dir}/common_event.json")).unwrap();
        let mut env = Envelope::from_json(&body).unwrap();
        let now = env.ingested_at + chrono::Duration::seconds(1);
        env.releasability = Nation::ALL.into_iter().collect();
        env.message_id = trilink_schema::MessageId::derive(
            env.origin,
            &env.source.system,
            &env.source.national_message_id,
        );
        let body = env.to_json().unwrap();
        check(&trilink_jp::JpCodec::new(), &body, now);
        check(&trilink_kr::KrCodec, &body, now);
        check(&trilink_us::UsCodec::new(), &body, now);
    }

    /// The committed "common picture" vectors `schemas/vectors/<n>/picture_*.{hex,json}`: the
    /// frames each nation's egress sends for the example `common_event` (released to every
    /// nation), and what its decoder reads from them. The nations' golden tests check the same
    /// files as ordinary valid vectors. `TRILINK_WRITE_PICTURE_VECTORS=1` rewrites them.
    #[test]
    fn common_event_vectors_match() {
        fn check<C: NationalCodec>(codec: &C, dir: &str, body: &[u8], now: DateTime<Utc>) {
            let write = std::env::var_os("TRILINK_WRITE_PICTURE_VECTORS").is_some();
            let mut buf = BytesMut::new();
            let p = prepare_egress(codec, body, now, &ctx(), &mut buf).unwrap();
            let reports = trilink_schema::picture::common_event_reports(&p.envelope).unwrap();
            for (raw, report) in p.frames.iter().zip(&reports) {
                let name = format!("picture_{}", report.payload.kind());
                let hex_path = format!("{dir}/{}/{name}.hex", C::NATION);
                let json_path = format!("{dir}/{}/{name}.json", C::NATION);
                let decoded = codec
                    .to_common(&codec.decode_message(raw).unwrap(), report.ingested_at)
                    .unwrap();
                let hex_text = format!(
                    "# common_event example (schemas/examples/valid/common_event.json, released\n\
                     # to jp, kr, us) as the {} report of the common picture; see the spec's\n\
                     # \"Common picture\" section\n{}\n",
                    report.payload.kind(),
                    hex::encode(raw)
                );
                let json_text = serde_json::to_string_pretty(&decoded).unwrap() + "\n";
                if write {
                    std::fs::write(&hex_path, &hex_text).unwrap();
                    std::fs::write(&json_path, &json_text).unwrap();
                }
                let committed: String = std::fs::read_to_string(&hex_path)
                    .unwrap()
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or_default())
                    .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
                    .collect();
                assert_eq!(committed, hex::encode(raw), "{hex_path}");
                let want = Envelope::from_json(&std::fs::read(&json_path).unwrap()).unwrap();
                assert_eq!(decoded, want, "{json_path}");
            }
            // US: the J7.7 association after the reports (us.md §13), an invalid vector for
            // ingress (`hub_only_kind`); the US golden test checks what it names.
            let extra: Vec<_> = p.frames.iter().skip(reports.len()).collect();
            assert_eq!(extra.len(), usize::from(C::NATION == Nation::Us));
            for raw in extra {
                let base = format!("{dir}/{}/picture_association", C::NATION);
                let e = codec
                    .to_common(&codec.decode_message(raw).unwrap(), now)
                    .unwrap_err();
                assert_eq!(e.code(), "hub_only_kind");
                if write {
                    let hex_text = format!(
                        "# common_event example (schemas/examples/valid/common_event.json, released\n\
                         # to jp, kr, us) as the J7.7 association of the common picture; see the\n\
                         # spec's \"Common picture\" section. Ingress refuses it: hub_only_kind\n{}\n",
                        hex::encode(raw)
                    );
                    std::fs::write(format!("{base}.hex"), hex_text).unwrap();
                    std::fs::write(format!("{base}.error"), "hub_only_kind\n").unwrap();
                }
                let committed: String = std::fs::read_to_string(format!("{base}.hex"))
                    .unwrap()
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or_default())
                    .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
                    .collect();
                assert_eq!(committed, hex::encode(raw), "{base}.hex");
                assert_eq!(
                    std::fs::read_to_string(format!("{base}.error"))
                        .unwrap()
                        .trim(),
                    "hub_only_kind"
                );
            }
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/vectors");
        let ex = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/examples/valid/common_event.json"
        );
        let mut env = Envelope::from_json(&std::fs::read(ex).unwrap()).unwrap();
        let now = env.ingested_at + chrono::Duration::seconds(1);
        env.releasability = Nation::ALL.into_iter().collect();
        let body = env.to_json().unwrap();
        check(&trilink_jp::JpCodec::new(), dir, &body, now);
        check(&trilink_kr::KrCodec, dir, &body, now);
        check(&trilink_us::UsCodec::new(), dir, &body, now);
    }

    #[test]
    fn rejects_name_their_stage_and_code() {
        let jp = trilink_jp::JpCodec::new();
        let base = &examples()[0];
        let now = base.ingested_at;
        let c = ctx();
        // decode
        let r = ingest(&jp, &Bytes::from_static(b"nope"), now, now, &c).unwrap_err();
        assert_eq!(r.stage, "decode");
        // trailing bytes after a good frame: the whole message is refused
        let good = encode(&jp, &variant(base, Nation::Jp, [Nation::Jp].into()));
        let two = Bytes::from([&good[..], &good[..]].concat());
        let r = ingest(&jp, &two, now, now, &c).unwrap_err();
        assert_eq!((r.stage, r.code), ("decode", "trailing_bytes"));
        // origin
        let kr = encode(&jp, &variant(base, Nation::Kr, [Nation::Jp].into()));
        let r = ingest(&jp, &kr, now, now, &c).unwrap_err();
        assert_eq!((r.stage, r.code), ("origin", "origin_mismatch"));
        // validate: `now` long before the observation puts it in the future
        let early = now - chrono::Duration::hours(1);
        let r = ingest(&jp, &good, now, early, &c).unwrap_err();
        assert_eq!(r.stage, "validate");
        // egress
        let mut buf = BytesMut::new();
        let r = prepare_egress(&jp, b"{", now, &c, &mut buf).unwrap_err();
        assert_eq!((r.stage, r.code), ("egress", "bad_json"));
        let us_only = variant(base, Nation::Us, [Nation::Us].into())
            .to_json()
            .unwrap();
        let r = prepare_egress(&jp, &us_only, now, &c, &mut buf).unwrap_err();
        assert_eq!((r.stage, r.code), ("egress", "not_releasable"));
        assert!(r.detail.contains("excludes JP") || r.detail.contains("excludes jp"));
        let fine = variant(base, Nation::Us, [Nation::Us, Nation::Jp].into());
        let r = prepare_egress(&jp, &fine.to_json().unwrap(), early, &c, &mut buf).unwrap_err();
        assert_eq!(r.stage, "egress");
        assert_ne!(r.code, "not_releasable");
        assert!(prepare_egress(&jp, &fine.to_json().unwrap(), now, &c, &mut buf).is_ok());
    }

    fn nation() -> impl Strategy<Value = Nation> {
        prop::sample::select(Nation::ALL.to_vec())
    }

    fn nations() -> impl Strategy<Value = BTreeSet<Nation>> {
        prop::collection::btree_set(nation(), 1..=3)
    }

    fn check_ingest<C: NationalCodec>(
        codec: &C,
        base: &Envelope,
        origin: Nation,
        rel: &BTreeSet<Nation>,
        cut: usize,
        skew_ms: i64,
    ) -> Result<(), TestCaseError> {
        let e = variant(base, origin, rel.clone());
        let now = e.ingested_at + chrono::Duration::milliseconds(skew_ms);
        let raw = encode(codec, &e);
        let cut = cut % (raw.len() + 1);
        for msg in [raw.clone(), raw.slice(..cut)] {
            match ingest(codec, &msg, e.ingested_at, now, &ctx()) {
                Ok(got) => {
                    prop_assert_eq!(got.origin, C::NATION, "a foreign origin was accepted");
                    prop_assert_eq!(origin, C::NATION);
                }
                Err(r) => {
                    prop_assert!(snake(r.code), "unstable code {:?}", r.code);
                    prop_assert!(
                        ["decode", "translate", "origin", "validate"].contains(&r.stage),
                        "{r:?}"
                    );
                    if origin != C::NATION && msg.len() == raw.len() {
                        prop_assert_eq!(r.code, "origin_mismatch");
                    }
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn ingest_never_accepts_a_foreign_origin(
            i in 0usize..7,
            origin in nation(),
            rel in nations(),
            cut in 0usize..4096,
            skew_ms in -1_000i64..1_000,
        ) {
            let ex = examples();
            let base = &ex[i % ex.len()];
            check_ingest(&trilink_jp::JpCodec::new(), base, origin, &rel, cut, skew_ms)?;
            check_ingest(&trilink_kr::KrCodec, base, origin, &rel, cut, skew_ms)?;
            check_ingest(&trilink_us::UsCodec::new(), base, origin, &rel, cut, skew_ms)?;
        }

        #[test]
        fn every_reject_has_a_stable_code(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            let now = examples()[0].ingested_at;
            let msg = Bytes::from(bytes);
            let mut buf = BytesMut::new();
            for r in [
                ingest(&trilink_jp::JpCodec::new(), &msg, now, now, &ctx()).err(),
                ingest(&trilink_kr::KrCodec, &msg, now, now, &ctx()).err(),
                ingest(&trilink_us::UsCodec::new(), &msg, now, now, &ctx()).err(),
                prepare_egress(&trilink_us::UsCodec::new(), &msg, now, &ctx(), &mut buf).err(),
            ]
            .into_iter()
            .flatten()
            {
                prop_assert!(snake(r.code), "unstable code {:?}", r.code);
                if r.stage == "egress" {
                    prop_assert_eq!(r.code, "bad_json");
                }
            }
        }

        #[test]
        fn egress_releasability_is_exactly_the_set(
            i in 0usize..7,
            origin in nation(),
            rel in nations(),
        ) {
            let ex = examples();
            let base = &ex[i % ex.len()];
            let e = variant(base, origin, rel.clone());
            let now = e.ingested_at;
            let body = e.to_json().unwrap();
            let mut buf = BytesMut::new();
            let jp = prepare_egress(&trilink_jp::JpCodec::new(), &body, now, &ctx(), &mut buf);
            let kr = prepare_egress(&trilink_kr::KrCodec, &body, now, &ctx(), &mut buf);
            let us = prepare_egress(&trilink_us::UsCodec::new(), &body, now, &ctx(), &mut buf);
            for (n, r) in [(Nation::Jp, jp), (Nation::Kr, kr), (Nation::Us, us)] {
                match r {
                    Ok(p) => {
                        prop_assert!(rel.contains(&n));
                        prop_assert_eq!(p.envelope, e.clone());
                    }
                    Err(r) => {
                        prop_assert!(snake(r.code));
                        prop_assert_eq!(r.code == "not_releasable", !rel.contains(&n), "{:?}", r);
                    }
                }
            }
        }
    }

    #[test]
    fn runtime_codes_are_snake_case() {
        for c in CODES {
            assert!(snake(c), "{c}");
        }
    }
}
