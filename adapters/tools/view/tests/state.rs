//! The sans-IO picture state: what it shows, what it refuses, when a component goes stale.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;

use std::time::Duration;

use chrono::{Duration as Cd, Utc};
use common::{
    common_event, common_out, envelope, event_id, heartbeat, impact, launch, out, point, update,
};
use trilink_schema::{EventState, Mode, Nation};
use trilink_view::{Picture, Rejected, Update};

#[test]
fn tracks_launches_and_impacts_released_to_the_viewer_are_shown_with_their_mode() {
    let mut p = Picture::new(Nation::Kr, Duration::from_secs(1));
    let t0 = Utc::now();
    let l = envelope(
        Nation::Jp,
        Mode::Exercise,
        &[Nation::Kr],
        "l1",
        t0,
        launch("EX-1", t0, point(39.0, 125.7, 0.0)),
    );
    let (s, b) = out(&l, Nation::Kr);
    p.on_message(&s, &b, t0 + Cd::milliseconds(7)).unwrap();
    // Out of order: the later update first; the polyline stays in time order.
    for (i, sec) in [(2, 20), (1, 10)] {
        let u = envelope(
            Nation::Jp,
            Mode::Exercise,
            &[Nation::Kr],
            &format!("u{i}"),
            t0,
            update(
                "EX-1",
                t0 - Cd::seconds(sec),
                point(39.5, 127.0 + f64::from(i), 80_000.0),
            ),
        );
        let (s, b) = out(&u, Nation::Kr);
        let ch = p.on_message(&s, &b, t0 + Cd::milliseconds(12)).unwrap();
        assert!(matches!(&ch[..], [Update::Track(t)] if t.key == "jp/EX-1"));
    }
    let i = envelope(
        Nation::Jp,
        Mode::Exercise,
        &[Nation::Kr],
        "i1",
        t0,
        impact("EX-1", t0, point(40.5, 135.0, 0.0)),
    );
    let (s, b) = out(&i, Nation::Kr);
    p.on_message(&s, &b, t0 + Cd::milliseconds(20)).unwrap();
    let snap = p.snapshot(t0);
    assert_eq!(snap.tracks.len(), 1);
    let t = &snap.tracks[0];
    assert_eq!(t.mode, Mode::Exercise);
    assert!(t.launch.is_some() && t.impact.is_some());
    assert_eq!(t.points.len(), 2);
    assert!(t.points[0].t < t.points[1].t);
    assert_eq!(t.messages, 4);
    assert!(
        (t.last_latency_ms - 20.0).abs() < 0.5,
        "{}",
        t.last_latency_ms
    );
    let lat = p.latency();
    assert_eq!(lat.count, 4);
    assert!((lat.max_ms - 20.0).abs() < 0.5);
    assert!(snap.events.is_empty());
    assert_eq!(snap.health.accepted, 4);
}

#[test]
fn nothing_not_released_to_the_viewer_or_for_another_nation_is_taken() {
    let mut p = Picture::new(Nation::Kr, Duration::from_secs(1));
    let t0 = Utc::now();
    // Released to JP only, yet on KR's output (a routing fault): refused.
    let e = envelope(
        Nation::Jp,
        Mode::RealWorld,
        &[],
        "secret",
        t0,
        update("S-1", t0, point(38.0, 130.0, 1000.0)),
    );
    let (s, b) = out(&e, Nation::Kr);
    assert!(matches!(
        p.on_message(&s, &b, t0),
        Err(Rejected::NotReleased(_))
    ));
    // JP's output: refused whatever the releasability.
    let e = envelope(
        Nation::Jp,
        Mode::RealWorld,
        &[Nation::Kr],
        "jp-out",
        t0,
        update("S-2", t0, point(38.0, 130.0, 1000.0)),
    );
    let (s, b) = out(&e, Nation::Jp);
    assert!(matches!(
        p.on_message(&s, &b, t0),
        Err(Rejected::Subject(_))
    ));
    // A subject naming another origin than the envelope: refused.
    let e = envelope(
        Nation::Jp,
        Mode::RealWorld,
        &[Nation::Kr],
        "liar",
        t0,
        update("S-3", t0, point(38.0, 130.0, 1000.0)),
    );
    let (_, b) = out(&e, Nation::Kr);
    assert!(matches!(
        p.on_message("tl.out.kr.track_update.us.S-3", &b, t0),
        Err(Rejected::Mismatch(_))
    ));
    // Garbage.
    assert!(matches!(
        p.on_message("tl.out.kr.track_update.jp.S-4", b"{", t0),
        Err(Rejected::Envelope { .. })
    ));
    let snap = p.snapshot(t0);
    assert!(snap.tracks.is_empty());
    assert_eq!(snap.health.rejected, 4);
    assert_eq!(snap.health.accepted, 0);
}

#[test]
fn a_component_whose_heartbeat_is_overdue_turns_stale_once() {
    let mut p = Picture::new(Nation::Kr, Duration::from_secs(1));
    let t0 = Utc::now();
    let (s, b) = heartbeat(Nation::Kr, "adapter-kr", t0, 1);
    p.on_message(&s, &b, t0).unwrap();
    assert!(p.tick(t0 + Cd::milliseconds(1000)).is_empty());
    let ch = p.tick(t0 + Cd::milliseconds(1001));
    assert!(
        matches!(&ch[..], [Update::Health(r)] if r.state == "stale" && r.component == "adapter-kr")
    );
    assert!(
        p.tick(t0 + Cd::milliseconds(1500)).is_empty(),
        "reported once"
    );
    // The next heartbeat brings it back.
    let (s, b) = heartbeat(Nation::Kr, "adapter-kr", t0, 2);
    let ch = p.on_message(&s, &b, t0 + Cd::milliseconds(1600)).unwrap();
    assert!(matches!(&ch[..], [Update::Health(r)] if r.state == "ok" && r.heartbeats == 2));
    // A status whose subject names another component than its body: refused.
    let (_, b) = heartbeat(Nation::Kr, "adapter-kr", t0, 3);
    assert!(p.on_message("tl.status.kr.relay", &b, t0).is_err());
}

#[test]
fn common_events_are_shown_with_history_and_link_their_national_tracks() {
    let mut p = Picture::new(Nation::Kr, Duration::from_secs(1));
    let t0 = Utc::now();
    // A national track first, then the event naming it (and a track the view has not seen).
    let u = envelope(
        Nation::Kr,
        Mode::Exercise,
        &[],
        "u1",
        t0,
        update("KR-1", t0, point(39.5, 127.0, 80_000.0)),
    );
    let (s, b) = out(&u, Nation::Kr);
    p.on_message(&s, &b, t0).unwrap();
    let id = event_id("ev-1");
    for (i, contributors) in [
        vec![(Nation::Kr, "KR-1")],
        vec![(Nation::Kr, "KR-1"), (Nation::Us, "US-1")],
    ]
    .into_iter()
    .enumerate()
    {
        let at = t0 + Cd::seconds(i as i64 + 1);
        let e = envelope(
            Nation::Us,
            Mode::Exercise,
            &[Nation::Kr],
            &format!("c{i}"),
            at,
            common_event(
                id,
                EventState::Active,
                &contributors,
                at,
                point(39.0, 125.7, 0.0),
                point(39.5, 127.5 + i as f64, 90_000.0),
                point(40.6, 135.5, 0.0),
            ),
        );
        let (s, b) = common_out(&e, Nation::Kr);
        let ch = p.on_message(&s, &b, at).unwrap();
        match (i, &ch[..]) {
            // The first names KR-1, which the view holds: the track is re-sent, linked.
            (0, [Update::Event(ev), Update::Track(t)]) => {
                assert_eq!(ev.history.len(), 1);
                assert_eq!(t.key, "kr/KR-1");
                assert_eq!(t.event.as_deref(), Some(ev.key.as_str()));
            }
            // The second adds a track the view never saw: only the event changes.
            (1, [Update::Event(ev)]) => {
                assert_eq!(ev.history.len(), 1, "an update carries its new frame only");
                assert_eq!(ev.frames, 2);
                assert_eq!(ev.contributors.len(), 2);
            }
            other => panic!("{other:?}"),
        }
    }
    let snap = p.snapshot(t0);
    assert_eq!(snap.events.len(), 1);
    let ev = &snap.events[0];
    assert_eq!(ev.key, id.hyphenated().to_string());
    assert_eq!(ev.mode, Mode::Exercise);
    assert_eq!(ev.history.len(), 2);
    assert!(ev.history[0].t < ev.history[1].t);
    assert_eq!(ev.history[0].contributors.len(), 1);
    assert!(ev.impact.is_some() && ev.launch.is_some() && ev.track.is_some());
    assert_eq!(snap.tracks[0].event.as_deref(), Some(ev.key.as_str()));
    // The whole picture serializes with the event and its ellipse.
    let json = serde_json::to_value(&snap).unwrap();
    assert!(json["events"][0]["impact"]["error_ellipse"]["semi_major_m"].is_number());

    // An event not released to KR on KR's output (a routing fault): refused, never shown.
    let e = envelope(
        Nation::Us,
        Mode::RealWorld,
        &[Nation::Jp],
        "secret",
        t0,
        common_event(
            event_id("secret"),
            EventState::Active,
            &[(Nation::Jp, "JP-SECRET")],
            t0,
            point(39.0, 125.7, 0.0),
            point(39.5, 128.0, 90_000.0),
            point(40.6, 135.5, 0.0),
        ),
    );
    let (s, b) = common_out(&e, Nation::Kr);
    assert!(matches!(
        p.on_message(&s, &b, t0),
        Err(Rejected::NotReleased(_))
    ));
    let snap = p.snapshot(t0);
    assert_eq!(snap.events.len(), 1);
    assert!(!serde_json::to_string(&snap).unwrap().contains("SECRET"));
}

#[test]
fn only_the_viewers_own_dead_letters_are_counted() {
    let mut p = Picture::new(Nation::Kr, Duration::from_secs(1));
    let t0 = Utc::now();
    let ch = p
        .on_dead_letter("tl.dlq.kr", Some("invalid_national"), t0)
        .unwrap();
    assert!(matches!(&ch[..], [Update::DeadLetters(d)] if d.count == 1 && d.site == Nation::Kr));
    p.on_dead_letter("tl.dlq.kr", None, t0).unwrap();
    assert!(p.on_dead_letter("tl.dlq.jp", Some("x"), t0).is_err());
    assert!(p.on_dead_letter("tl.out.kr.x", Some("x"), t0).is_err());
    let h = p.health(t0);
    let rows: Vec<_> = h
        .dead_letters
        .iter()
        .map(|d| (d.site, d.visible, d.count))
        .collect();
    assert_eq!(
        rows,
        vec![
            (Nation::Jp, false, 0),
            (Nation::Kr, true, 2),
            (Nation::Us, false, 0)
        ]
    );
    assert_eq!(h.rejected, 2);
}
