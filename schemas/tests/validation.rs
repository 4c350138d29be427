//! One test per validation rule: each mutates a valid example so that exactly that rule must
//! fire, and asserts the typed error (so removing the rule fails the test).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use chrono::Duration;
use trilink_schema::{
    Envelope, GeoPoint, Hop, MessageId, Nation, Payload, TrackId, ValidationError,
    check_reference_cycles,
};

type Mutation = Box<dyn Fn(&mut Envelope)>;

fn err(e: &Envelope) -> ValidationError {
    e.validate(&common::ctx())
        .expect_err("expected a validation error")
}

fn with_payload(mut e: Envelope, f: impl FnOnce(&mut Payload)) -> Envelope {
    f(&mut e.payload);
    e
}

#[test]
fn valid_examples_pass() {
    for (name, e) in common::valid_examples() {
        assert_eq!(e.validate(&common::ctx()), Ok(()), "{name}");
    }
}

#[test]
fn unsupported_schema_version() {
    let mut e = common::launch_detection();
    e.schema_version = 2;
    assert_eq!(
        err(&e),
        ValidationError::UnsupportedSchemaVersion {
            found: 2,
            supported: 1
        }
    );
}

#[test]
fn latitude_longitude_altitude_ranges() {
    for (lat, lon, alt, field) in [
        (90.000_001, 0.0, 0.0, "payload.position.lat_deg"),
        (-90.5, 0.0, 0.0, "payload.position.lat_deg"),
        (0.0, 180.1, 0.0, "payload.position.lon_deg"),
        (0.0, -181.0, 0.0, "payload.position.lon_deg"),
        (0.0, 0.0, -1_001.0, "payload.position.alt_m"),
        (0.0, 0.0, 10_000_001.0, "payload.position.alt_m"),
    ] {
        let e = with_payload(common::track_update(), |p| {
            if let Payload::TrackUpdate(t) = p {
                t.position = GeoPoint {
                    lat_deg: lat,
                    lon_deg: lon,
                    alt_m: alt,
                };
            }
        });
        match err(&e) {
            ValidationError::OutOfRange { field: f, .. } => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // Bounds themselves are valid.
    let e = with_payload(common::track_update(), |p| {
        if let Payload::TrackUpdate(t) = p {
            t.position = GeoPoint {
                lat_deg: -90.0,
                lon_deg: 180.0,
                alt_m: -1_000.0,
            };
        }
    });
    assert_eq!(e.validate(&common::ctx()), Ok(()));
}

#[test]
fn non_finite_numbers() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = with_payload(common::launch_detection(), |p| {
            if let Payload::LaunchDetection(l) = p {
                l.launch_point.lat_deg = bad;
            }
        });
        assert!(
            matches!(err(&e), ValidationError::NonFinite { ref field, .. } if field == "payload.launch_point.lat_deg"),
            "{bad}"
        );
    }
    let e = with_payload(common::track_update(), |p| {
        if let Payload::TrackUpdate(t) = p {
            t.velocity.north_mps = f64::NAN;
        }
    });
    assert!(
        matches!(err(&e), ValidationError::NonFinite { ref field, .. } if field == "payload.velocity.north_mps")
    );
    let e = with_payload(common::status(), |p| {
        if let Payload::Status(s) = p {
            s.uptime_s = f64::INFINITY;
        }
    });
    assert!(
        matches!(err(&e), ValidationError::NonFinite { ref field, .. } if field == "payload.uptime_s")
    );
}

#[test]
fn other_numeric_ranges() {
    let e = with_payload(common::launch_detection(), |p| {
        if let Payload::LaunchDetection(l) = p {
            l.confidence = -0.1;
        }
    });
    assert!(
        matches!(err(&e), ValidationError::OutOfRange { ref field, .. } if field == "payload.confidence")
    );
    let e = with_payload(common::track_update(), |p| {
        if let Payload::TrackUpdate(t) = p {
            t.quality = 16;
        }
    });
    assert!(
        matches!(err(&e), ValidationError::OutOfRange { ref field, .. } if field == "payload.quality")
    );
    let e = with_payload(common::track_update(), |p| {
        if let Payload::TrackUpdate(t) = p {
            t.velocity.east_mps = 12_000.5;
        }
    });
    assert!(
        matches!(err(&e), ValidationError::OutOfRange { ref field, .. } if field == "payload.velocity.east_mps")
    );
    let e = with_payload(common::track_update(), |p| {
        if let Payload::TrackUpdate(t) = p {
            t.position_uncertainty.horizontal_m = -3.0;
        }
    });
    assert!(
        matches!(err(&e), ValidationError::OutOfRange { ref field, .. } if field == "payload.position_uncertainty.horizontal_m")
    );
    let e = with_payload(common::impact_prediction(), |p| {
        if let Payload::ImpactPrediction(i) = p {
            i.error_ellipse.orientation_deg = 181.0;
        }
    });
    assert!(
        matches!(err(&e), ValidationError::OutOfRange { ref field, .. } if field == "payload.error_ellipse.orientation_deg")
    );
    let e = with_payload(common::event_end(), |p| {
        if let Payload::EventEnd(x) = p {
            x.final_point = Some(GeoPoint {
                lat_deg: 91.0,
                lon_deg: 0.0,
                alt_m: 0.0,
            });
        }
    });
    assert!(
        matches!(err(&e), ValidationError::OutOfRange { ref field, .. } if field == "payload.final_point.lat_deg")
    );
    let e = with_payload(common::correction(), |p| {
        if let Payload::Correction(c) = p {
            c.corrected_point = Some(GeoPoint {
                lat_deg: 0.0,
                lon_deg: 200.0,
                alt_m: 0.0,
            });
        }
    });
    assert!(
        matches!(err(&e), ValidationError::OutOfRange { ref field, .. } if field == "payload.corrected_point.lon_deg")
    );
}

#[test]
fn ellipse_axes() {
    let e = with_payload(common::impact_prediction(), |p| {
        if let Payload::ImpactPrediction(i) = p {
            i.error_ellipse.semi_minor_m = i.error_ellipse.semi_major_m + 1.0;
        }
    });
    assert!(matches!(err(&e), ValidationError::EllipseAxes { .. }));
}

#[test]
fn future_timestamps_beyond_tolerance() {
    let tol =
        Duration::milliseconds(trilink_schema::ValidationContext::DEFAULT_FUTURE_TOLERANCE_MS);
    // Just inside the tolerance is accepted.
    let mut e = common::track_update();
    e.observed_at = common::now() + tol;
    e.ingested_at = e.observed_at;
    if let Payload::TrackUpdate(t) = &mut e.payload {
        t.time = e.observed_at;
    }
    assert_eq!(e.validate(&common::ctx()), Ok(()));
    // One microsecond beyond is not, for every timestamp field.
    let late = common::now() + tol + Duration::microseconds(1);
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "observed_at",
            Box::new(move |e: &mut Envelope| {
                e.observed_at = late;
                e.ingested_at = late;
            }),
        ),
        (
            "ingested_at",
            Box::new(move |e: &mut Envelope| e.ingested_at = late),
        ),
        (
            "relayed_at",
            Box::new(move |e: &mut Envelope| e.relayed_at = Some(late)),
        ),
        (
            "provenance[0].at",
            Box::new(move |e: &mut Envelope| {
                e.provenance = vec![Hop {
                    site: Nation::Us,
                    component: "relay-1".into(),
                    at: late,
                }];
            }),
        ),
        (
            "payload.time",
            Box::new(move |e: &mut Envelope| {
                if let Payload::TrackUpdate(t) = &mut e.payload {
                    t.time = late;
                }
            }),
        ),
    ];
    for (field, mutate) in cases {
        let mut e = common::track_update();
        mutate(&mut e);
        match err(&e) {
            ValidationError::FutureTimestamp { field: f, .. } => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let mut e = common::launch_detection();
    if let Payload::LaunchDetection(l) = &mut e.payload {
        l.launch_time = late;
    }
    assert!(
        matches!(err(&e), ValidationError::FutureTimestamp { ref field, .. } if field == "payload.launch_time")
    );
    // An impact prediction may lie in the future.
    let mut e = common::impact_prediction();
    if let Payload::ImpactPrediction(i) = &mut e.payload {
        i.impact_time = common::now() + Duration::hours(1);
    }
    assert_eq!(e.validate(&common::ctx()), Ok(()));
}

#[test]
fn time_order() {
    let mut e = common::track_update();
    e.ingested_at = e.observed_at - Duration::seconds(10);
    assert!(
        matches!(err(&e), ValidationError::TimeOrder { ref field, .. } if field == "ingested_at")
    );
    let mut e = common::track_update();
    e.relayed_at = Some(e.ingested_at - Duration::seconds(10));
    assert!(
        matches!(err(&e), ValidationError::TimeOrder { ref field, .. } if field == "relayed_at")
    );
}

#[test]
fn empty_releasability() {
    let mut e = common::launch_detection();
    e.releasability.clear();
    assert_eq!(err(&e), ValidationError::EmptyReleasability);
}

#[test]
fn origin_not_in_releasability() {
    let mut e = common::launch_detection();
    e.releasability.remove(&Nation::Jp);
    assert!(matches!(
        err(&e),
        ValidationError::OriginNotReleasable {
            origin: Nation::Jp,
            ..
        }
    ));
}

#[test]
fn hop_limit() {
    let mut e = common::status();
    e.hop_limit = 0;
    assert_eq!(err(&e), ValidationError::ZeroHopLimit);
    let mut e = common::status();
    e.hop_limit = 1;
    let hop = e.provenance[0].clone();
    e.provenance.push(hop);
    assert_eq!(
        err(&e),
        ValidationError::HopLimitExceeded { hops: 2, limit: 1 }
    );
    // Exactly at the limit is fine.
    let mut e = common::status();
    e.hop_limit = 1;
    assert_eq!(e.validate(&common::ctx()), Ok(()));
}

#[test]
fn message_id_must_be_derived() {
    let mut e = common::launch_detection();
    e.source.national_message_id.push('9');
    assert!(matches!(err(&e), ValidationError::MessageIdMismatch { .. }));
    // The check can be switched off by a caller that has just derived the id.
    let mut ctx = common::ctx();
    ctx.check_message_id = false;
    assert_eq!(e.validate(&ctx), Ok(()));
    common::rederive(&mut e);
    assert_eq!(e.validate(&common::ctx()), Ok(()));
}

#[test]
fn text_fields() {
    let mut e = common::launch_detection();
    e.source.sensor = "  ".into();
    assert!(
        matches!(err(&e), ValidationError::EmptyText { ref field } if field == "source.sensor")
    );
    let mut e = common::launch_detection();
    e.source.system = "x".repeat(65);
    common::rederive(&mut e);
    assert!(
        matches!(err(&e), ValidationError::TextTooLong { ref field, len: 65, max: 64 } if field == "source.system")
    );
    let e = with_payload(common::cancel(), |p| {
        if let Payload::Cancel(c) = p {
            c.reason = "r".repeat(257);
        }
    });
    assert!(
        matches!(err(&e), ValidationError::TextTooLong { ref field, .. } if field == "payload.reason")
    );
    let e = with_payload(common::status(), |p| {
        if let Payload::Status(s) = p {
            s.detail = "d".repeat(257);
        }
    });
    assert!(
        matches!(err(&e), ValidationError::TextTooLong { ref field, .. } if field == "payload.detail")
    );
    let e = with_payload(common::status(), |p| {
        if let Payload::Status(s) = p {
            s.component = String::new();
        }
    });
    assert!(
        matches!(err(&e), ValidationError::EmptyText { ref field } if field == "payload.component")
    );
}

#[test]
fn invalid_track_id() {
    for bad in ["", "has space", "dot.ted", "wild*", "x".repeat(33).as_str()] {
        let e = with_payload(common::track_update(), |p| {
            if let Payload::TrackUpdate(t) = p {
                // Bypass the checked constructor, as a parsed document would.
                t.track_id = serde_json::from_value(serde_json::json!(bad)).unwrap();
            }
        });
        assert!(
            matches!(err(&e), ValidationError::InvalidTrackId { .. }),
            "{bad:?}"
        );
    }
    assert!(TrackId::new("T-1_a").is_ok());
    assert!(TrackId::new("T.1").is_err());
}

#[test]
fn cancel_and_correction_need_references() {
    for mut e in [common::cancel(), common::correction()] {
        e.references.clear();
        assert!(matches!(err(&e), ValidationError::MissingReferences { .. }));
    }
}

#[test]
fn at_most_max_references() {
    let mut e = common::cancel();
    e.references = (0..Envelope::MAX_REFERENCES)
        .map(|i| MessageId::derive(Nation::Jp, "FPS-5", &format!("r{i}")))
        .collect();
    e.validate(&common::ctx()).unwrap();
    e.references
        .push(MessageId::derive(Nation::Jp, "FPS-5", "one-too-many"));
    assert_eq!(
        err(&e),
        ValidationError::TooManyReferences {
            count: Envelope::MAX_REFERENCES + 1,
            max: Envelope::MAX_REFERENCES
        }
    );
}

#[test]
fn duplicate_and_self_references() {
    let mut e = common::cancel();
    let r = e.references[0];
    e.references.push(r);
    assert_eq!(err(&e), ValidationError::DuplicateReference { id: r });
    let mut e = common::cancel();
    e.references = vec![e.message_id];
    assert!(matches!(err(&e), ValidationError::ReferenceCycle { .. }));
}

#[test]
fn reference_cycles_across_messages() {
    let mut a = common::launch_detection();
    let mut b = common::correction();
    let mut c = common::cancel();
    // a <- b <- c is fine.
    b.references = vec![a.message_id];
    c.references = vec![b.message_id];
    assert_eq!(check_reference_cycles([&a, &b, &c]), Ok(()));
    // a -> c closes the loop a -> c -> b -> a.
    a.references = vec![c.message_id];
    match check_reference_cycles([&a, &b, &c]) {
        Err(ValidationError::ReferenceCycle { cycle }) => {
            assert_eq!(cycle.len(), 4, "{cycle:?}");
            assert_eq!(cycle.first(), cycle.last());
        }
        other => panic!("{other:?}"),
    }
    // References outside the set are not cycles.
    a.references = vec![common::status().message_id];
    assert_eq!(check_reference_cycles([&a, &b, &c]), Ok(()));
}

#[test]
fn every_error_has_a_distinct_code() {
    let mut codes: Vec<&str> = ValidationError::CODES.to_vec();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), ValidationError::CODES.len());
}
