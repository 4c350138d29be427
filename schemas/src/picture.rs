//! How the hub's `common_event` reaches a national system (issue 15): as the reports of a
//! **"common picture" source** whose track id is the event id, expressed in the kinds every
//! national format already carries, so each adapter reuses its own encoders
//! ([`NationalCodec::to_national_frames`](crate::NationalCodec::to_national_frames)).
//!
//! One `common_event` revision becomes, in this order:
//!
//! | event state | reports (track id = event id, 32 hex digits) |
//! |---|---|
//! | `active`, launch known, no fused track yet | `launch_detection` (fused launch point/time, class, confidence 1) |
//! | `active`, fused track | `track_update` (fused state, quality 15) |
//! | `active`, fused impact | `impact_prediction` (fused point, time, ellipse), after the track |
//! | `ended` | `event_end` (time, reason, final point of the event's close) |
//! | `cancelled` | `cancel` (reason `common picture: every contributing nation cancelled`) |
//!
//! Every report keeps the event envelope's origin (`us`, the hub), system (`trilink-hub`),
//! mode, releasability, times, provenance; its national message id is the event envelope's
//! plus a suffix (`-ld`, `-tu`, `-ip`, `-end`, `-cx`), so each report has its own, stable
//! message id. The **sensor** field names the contributing national tracks the destination
//! may see — `jp:JP-fps5sado-M1 kr:KR-greenpineb-M1` (origin `:` track id, space-separated) —
//! as many as fit in the 64 bytes of the field, then `+N` for the ones left out; never empty
//! (`common-picture` when nothing fits).
//!
//! A format with a message of its own for "these national tracks are one event" sends it after
//! these reports by overriding
//! [`NationalCodec::to_national_frames`](crate::NationalCodec::to_national_frames): the US
//! format's J7.7 association names every contributor (origin, state, track id; us.md §13),
//! and its ingress refuses a J7.7 from the national system (`hub_only_kind`).
//!
//! Pure: no I/O, no clock.

use crate::{
    Cancel, CommonEvent, Envelope, EventEnd, EventState, ImpactPrediction, LaunchDetection,
    MessageId, Payload, TrackUpdate,
};

/// `source.system` of every common-event envelope and of its national reports: how a national
/// system (or a test) tells the common picture from national tracks.
pub const PICTURE_SYSTEM: &str = "trilink-hub";

/// Most bytes of the sensor field (every national format's limit).
pub const SENSOR_MAX: usize = 64;

/// Reason text of the `cancel` a cancelled event becomes.
pub const CANCEL_REASON: &str = "common picture: every contributing nation cancelled";

/// The sensor text naming `ev`'s contributors (see the module docs).
pub fn contributors_text(ev: &CommonEvent) -> String {
    let mut out = String::new();
    let total = ev.contributors.len();
    for (i, c) in ev.contributors.iter().enumerate() {
        let item = format!("{}:{}", c.origin, c.track_id);
        let sep = usize::from(!out.is_empty());
        let left = total - i - 1;
        // Room for this item, and for a "+N" suffix if more follow.
        let suffix = if left > 0 {
            format!(" +{left}").len()
        } else {
            0
        };
        if out.len() + sep + item.len() + suffix > SENSOR_MAX {
            let rest = total - i;
            let tail = format!("{}+{rest}", if out.is_empty() { "" } else { " " });
            if out.len() + tail.len() <= SENSOR_MAX {
                out.push_str(&tail);
            }
            break;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(&item);
    }
    if out.is_empty() || out.starts_with('+') {
        "common-picture".to_owned()
    } else {
        out
    }
}

/// The national-kind reports carrying a `common_event` envelope, in sending order (see the
/// module docs); `None` when `env` is not a `common_event`. May be empty (an active event
/// with nothing fused yet: nothing to send).
pub fn common_event_reports(env: &Envelope) -> Option<Vec<Envelope>> {
    let Payload::CommonEvent(ev) = &env.payload else {
        return None;
    };
    let track_id = ev.track_id();
    let sensor = contributors_text(ev);
    let report = |suffix: &str, payload: Payload| {
        let mut e = env.clone();
        e.source.sensor.clone_from(&sensor);
        e.source.national_message_id = format!("{}-{suffix}", env.source.national_message_id);
        e.message_id = MessageId::derive(e.origin, &e.source.system, &e.source.national_message_id);
        e.references.clear();
        e.payload = payload;
        e
    };
    let mut out = Vec::new();
    match ev.state {
        EventState::Cancelled => out.push(report(
            "cx",
            Payload::Cancel(Cancel {
                track_id,
                reason: CANCEL_REASON.to_owned(),
            }),
        )),
        EventState::Ended => {
            let (time, reason, final_point) = match &ev.end {
                Some(c) => (c.time, c.reason, c.final_point),
                None => (env.observed_at, crate::EndReason::Other, None),
            };
            out.push(report(
                "end",
                Payload::EventEnd(EventEnd {
                    track_id,
                    time,
                    reason,
                    final_point,
                }),
            ));
        }
        EventState::Active => {
            if let (Some(l), None) = (&ev.launch, &ev.track) {
                out.push(report(
                    "ld",
                    Payload::LaunchDetection(LaunchDetection {
                        track_id: track_id.clone(),
                        launch_time: l.launch_time,
                        launch_point: l.launch_point,
                        launch_point_uncertainty: l.launch_point_uncertainty,
                        missile_class: ev.missile_class,
                        confidence: 1.0,
                    }),
                ));
            }
            if let Some(t) = &ev.track {
                out.push(report(
                    "tu",
                    Payload::TrackUpdate(TrackUpdate {
                        track_id: track_id.clone(),
                        time: t.time,
                        position: t.position,
                        position_uncertainty: t.position_uncertainty,
                        velocity: t.velocity,
                        quality: 15,
                        flight_phase: t.flight_phase,
                    }),
                ));
            }
            if let Some(i) = &ev.impact {
                out.push(report(
                    "ip",
                    Payload::ImpactPrediction(ImpactPrediction {
                        track_id,
                        impact_time: i.impact_time,
                        impact_point: i.impact_point,
                        error_ellipse: i.error_ellipse,
                    }),
                ));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

    use super::*;
    use crate::{ContributionState, Contributor, Nation, PayloadKind, TrackId, ValidationContext};

    fn example() -> Envelope {
        let text = include_str!("../examples/valid/common_event.json");
        Envelope::from_json(text.as_bytes()).unwrap()
    }

    fn kinds(v: &[Envelope]) -> Vec<PayloadKind> {
        v.iter().map(|e| e.payload.kind()).collect()
    }

    #[test]
    fn an_active_event_is_a_track_and_an_impact_of_the_event_id() {
        let env = example();
        let r = common_event_reports(&env).unwrap();
        assert_eq!(
            kinds(&r),
            vec![PayloadKind::TrackUpdate, PayloadKind::ImpactPrediction]
        );
        let now = env.ingested_at + chrono::Duration::seconds(1);
        for e in &r {
            assert_eq!(
                e.payload.track_id().unwrap().as_str(),
                "5b0e2f4c8a315d7e9c0241f6aa831e57"
            );
            assert_eq!(e.source.sensor, "jp:JP-20261121-0007 us:US-tpy2kyoga-M1");
            assert_eq!(e.origin, Nation::Us);
            e.validate(&ValidationContext::at(now)).unwrap();
        }
        assert_ne!(r[0].message_id, r[1].message_id);
        assert_eq!(
            common_event_reports(&env).unwrap(),
            r,
            "deterministic: a redelivery is the same reports"
        );
    }

    #[test]
    fn launch_only_ended_and_cancelled_events() {
        let mut env = example();
        let Payload::CommonEvent(ev) = &mut env.payload else {
            panic!()
        };
        ev.track = None;
        ev.impact = None;
        let r = common_event_reports(&env).unwrap();
        assert_eq!(kinds(&r), vec![PayloadKind::LaunchDetection]);
        let Payload::CommonEvent(ev) = &mut env.payload else {
            panic!()
        };
        ev.state = EventState::Ended;
        let r = common_event_reports(&env).unwrap();
        assert_eq!(kinds(&r), vec![PayloadKind::EventEnd]);
        let Payload::CommonEvent(ev) = &mut env.payload else {
            panic!()
        };
        ev.state = EventState::Cancelled;
        let r = common_event_reports(&env).unwrap();
        assert_eq!(kinds(&r), vec![PayloadKind::Cancel]);
        assert!(common_event_reports(&r[0]).is_none(), "not a common event");
    }

    #[test]
    fn sensor_text_fits_and_counts_what_is_left_out() {
        let mut env = example();
        let Payload::CommonEvent(ev) = &mut env.payload else {
            panic!()
        };
        let c = ev.contributors[0].clone();
        ev.contributors = (0..16)
            .map(|i| Contributor {
                origin: Nation::Kr,
                track_id: TrackId::new(format!("KR-LONG-TRACK-{i:02}")).unwrap(),
                state: ContributionState::Active,
                ..c.clone()
            })
            .collect();
        let t = contributors_text(ev);
        assert!(t.len() <= SENSOR_MAX, "{t}");
        assert!(
            t.starts_with("kr:KR-LONG-TRACK-00 kr:KR-LONG-TRACK-01"),
            "{t}"
        );
        assert!(t.ends_with(" +13"), "{t}");
        ev.contributors[0].track_id = TrackId::new("X".repeat(32)).unwrap();
        ev.contributors.truncate(3);
        let t = contributors_text(ev);
        assert!(t.len() <= SENSOR_MAX, "{t}");
    }
}
