//! The J7.7 association of a common event (us.md §13): sent after the picture reports, split
//! over as many packets as its contributors need, bounded at 16 contributors, refused on
//! ingress as hub-only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use bytes::BytesMut;
use trilink_schema::{
    ContributionState, Contributor, Envelope, EventState, Nation, NationalCodec, NationalError,
    Payload, TrackId,
};
use trilink_us::{MessageBody, UsCodec, decode_datagram};

fn example() -> Envelope {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../schemas/examples/valid/common_event.json"
    );
    Envelope::from_json(&std::fs::read(path).unwrap()).unwrap()
}

fn with_contributors(n: usize, id_len: usize) -> Envelope {
    let mut env = example();
    let Payload::CommonEvent(ev) = &mut env.payload else {
        panic!()
    };
    let c = ev.contributors[0].clone();
    ev.contributors = (0..n)
        .map(|i| Contributor {
            origin: Nation::ALL[i % 3],
            track_id: TrackId::new(format!("{i:02}{}", "X".repeat(id_len - 2))).unwrap(),
            state: if i % 4 == 3 {
                ContributionState::Stale
            } else {
                ContributionState::Active
            },
            ..c.clone()
        })
        .collect();
    env
}

/// Decode `frames` (encoded), check each J7.7 and return its members in order.
fn members(codec: &UsCodec, env: &Envelope) -> Vec<(Nation, ContributionState, String)> {
    let frames = codec.to_national_frames(env).unwrap();
    let mut out = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    let mut seen_assoc = false;
    for f in &frames {
        let mut buf = BytesMut::new();
        codec.encode(f, &mut buf).unwrap();
        assert!(buf.len() <= trilink_us::MAX_FRAME_LEN);
        let d = decode_datagram(&buf).unwrap();
        assert_eq!(&d, f);
        let e = codec.to_common(&d, env.ingested_at);
        if let MessageBody::Association(a) = &d.message.body {
            seen_assoc = true;
            assert_eq!(e.unwrap_err().code(), "hub_only_kind");
            assert_eq!(usize::from(a.first), out.len(), "packets in list order");
            assert_eq!(a.track_id, "5b0e2f4c8a315d7e9c0241f6aa831e57");
            assert!(ids.insert(d.message.national_message_id.clone()));
            out.extend(
                a.members
                    .iter()
                    .map(|m| (m.origin, m.state, m.track_id.clone())),
            );
            let Payload::CommonEvent(ev) = &env.payload else {
                panic!()
            };
            assert_eq!(usize::from(a.total), ev.contributors.len());
        } else {
            assert!(!seen_assoc, "the association comes after the reports");
            e.unwrap();
        }
    }
    out
}

#[test]
fn every_contributor_is_named_in_join_order_over_as_many_packets_as_needed() {
    let codec = UsCodec::new();
    for (n, len) in [(1, 8), (2, 16), (5, 32), (11, 20), (16, 32), (16, 2)] {
        let env = with_contributors(n, len);
        let got = members(&codec, &env);
        let Payload::CommonEvent(ev) = &env.payload else {
            panic!()
        };
        let want: Vec<_> = ev
            .contributors
            .iter()
            .map(|c| (c.origin, c.state, c.track_id.as_str().to_owned()))
            .collect();
        assert_eq!(got, want, "{n} contributors of {len} characters");
    }
    // 16 contributors with 32-character ids do not fit in one packet.
    let frames = codec
        .to_national_frames(&with_contributors(16, 32))
        .unwrap();
    let assoc = frames
        .iter()
        .filter(|f| matches!(f.message.body, MessageBody::Association(_)))
        .count();
    assert!(assoc >= 3, "{assoc}");
}

#[test]
fn more_than_sixteen_contributors_are_unrepresentable() {
    let env = with_contributors(17, 8);
    let e = trilink_us::association_frames(
        &env,
        trilink_us::SimpleHeader::default(),
        trilink_us::Link16Header::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "unrepresentable");
}

#[test]
fn ended_and_cancelled_events_name_their_contributors_too_and_an_empty_view_sends_nothing() {
    let codec = UsCodec::new();
    for (state, label) in [(EventState::Ended, (7, 0)), (EventState::Cancelled, (7, 1))] {
        let mut env = example();
        let Payload::CommonEvent(ev) = &mut env.payload else {
            panic!()
        };
        ev.state = state;
        let frames = codec.to_national_frames(&env).unwrap();
        let labels: Vec<_> = frames.iter().map(|f| f.message.body.j_label()).collect();
        assert_eq!(labels, vec![label, (7, 7)], "{state:?}");
    }
    let mut env = example();
    let Payload::CommonEvent(ev) = &mut env.payload else {
        panic!()
    };
    ev.track = None;
    ev.impact = None;
    ev.launch = None;
    assert!(codec.to_national_frames(&env).unwrap().is_empty());
    // Not a common event: no association.
    let mut cancel = example();
    cancel.payload = Payload::Cancel(trilink_schema::Cancel {
        track_id: TrackId::new("T1").unwrap(),
        reason: "x".into(),
    });
    assert!(
        trilink_us::association_frames(
            &cancel,
            trilink_us::SimpleHeader::default(),
            trilink_us::Link16Header::default(),
        )
        .unwrap()
        .is_empty()
    );
    assert_eq!(codec.to_national_frames(&cancel).unwrap().len(), 1);
}
