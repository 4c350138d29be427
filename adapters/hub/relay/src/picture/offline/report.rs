//! What an offline picture says, for people and scripts: the readable timeline and its JSON,
//! the track-quality metrics against truth with the issue-15 targets, the compact
//! per-destination section of `trilink policy test`. Pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use trilink_picture::metrics::{MetricsConfig, evaluate};
use trilink_schema::{Envelope, Nation};

use super::{Change, EventTimeline, OfflinePicture, Quality, Viewer, ViewerPicture};

impl OfflinePicture {
    /// The picture of one viewer.
    pub fn picture(&self, viewer: Viewer) -> Option<&ViewerPicture> {
        self.pictures.iter().find(|p| p.viewer == viewer)
    }

    /// Track-quality metrics of `viewer`'s picture against `truth` (envelopes of the
    /// `scenario-truth` system).
    pub fn quality(
        &self,
        truth: &[Envelope],
        viewer: Viewer,
    ) -> Result<Quality, trilink_picture::PictureError> {
        let dest = match viewer {
            Viewer::Hub => Nation::Us,
            Viewer::Dest(n) => n,
        };
        evaluate(
            truth,
            &self.accepted,
            dest,
            self.correlator,
            MetricsConfig::default(),
        )
    }

    /// As JSON: `{policy, scope, inputs, accepted, rejected, span, pictures: [{viewer,
    /// events: [...], withheld}]}`, only the pictures of `viewers` (all when empty).
    pub fn to_json(&self, viewers: &[Viewer]) -> Value {
        let pictures: Vec<Value> = self
            .pictures
            .iter()
            .filter(|p| viewers.is_empty() || viewers.contains(&p.viewer))
            .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
            .collect();
        json!({
            "policy": self.policy,
            "scope": self.scope_text(),
            "inputs": self.inputs,
            "accepted": self.accepted.len(),
            "rejected": self.rejected,
            "span": self.span.map(|(a, b)| json!({"from": a, "to": b})),
            "pictures": pictures,
        })
    }

    fn scope_text(&self) -> String {
        match &self.policy {
            Some(name) => format!(
                "policy {name}: each destination's picture from the contributions the relay \
                 delivers to it, only the views the relay would publish"
            ),
            None => "no policy: the hub's whole picture (every accepted contribution, \
                     releasability and routing not applied)"
                .to_owned(),
        }
    }

    /// A readable report: a header, then per viewer its events with contributors, fused
    /// estimates and life-cycle changes (only `viewers`; all when empty).
    pub fn render_text(&self, viewers: &[Viewer]) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "common picture: {} inputs, {} accepted, {} rejected",
            self.inputs,
            self.accepted.len(),
            self.rejected.len()
        );
        let _ = writeln!(s, "{}", self.scope_text());
        if let Some((a, b)) = self.span {
            let _ = writeln!(
                s,
                "picture time {} .. {} (capture time; times below are UTC {})",
                a.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                b.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                a.format("%Y-%m-%d")
            );
        }
        for r in self.rejected.iter().take(5) {
            let _ = writeln!(s, "  rejected input {}: {} {}", r.input, r.code, r.detail);
        }
        if self.rejected.len() > 5 {
            let _ = writeln!(s, "  … {} more rejected", self.rejected.len() - 5);
        }
        for p in &self.pictures {
            if !viewers.is_empty() && !viewers.contains(&p.viewer) {
                continue;
            }
            let _ = writeln!(
                s,
                "\n== {}: {} event(s){}",
                p.viewer,
                p.events.len(),
                withheld_text(&p.withheld)
            );
            for e in &p.events {
                render_event(&mut s, e);
            }
        }
        s
    }
}

fn withheld_text(w: &BTreeMap<String, usize>) -> String {
    if w.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = w.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!("; views withheld by the policy: {}", parts.join(", "))
}

/// snake_case name of a serializable enum value.
fn name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

fn hms(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S%.3f").to_string()
}

fn lat_lon(p: &trilink_schema::GeoPoint) -> String {
    format!(
        "{:.4}{} {:.4}{}",
        p.lat_deg.abs(),
        if p.lat_deg < 0.0 { 'S' } else { 'N' },
        p.lon_deg.abs(),
        if p.lon_deg < 0.0 { 'W' } else { 'E' }
    )
}

fn render_event(s: &mut String, e: &EventTimeline) {
    let ev = &e.last;
    let _ = writeln!(
        s,
        "event {}  {}  first detected by {} at {}  state {}  ({} views, {} .. {})",
        ev.event_id,
        e.mode,
        ev.first_detected_by,
        hms(ev.first_detected_at),
        name(&ev.state),
        e.revisions,
        hms(e.first_seen_at),
        hms(e.last_seen_at)
    );
    let contributors: Vec<String> = ev
        .contributors
        .iter()
        .map(|c| format!("{} {} ({})", c.origin, c.track_id, name(&c.state)))
        .collect();
    let _ = writeln!(s, "  contributors  {}", contributors.join(", "));
    if let Some(l) = &ev.launch {
        let _ = writeln!(
            s,
            "  launch        {} at {}  ±{:.0} m",
            lat_lon(&l.launch_point),
            hms(l.launch_time),
            l.launch_point_uncertainty.horizontal_m
        );
    }
    if let Some(t) = &ev.track {
        let _ = writeln!(
            s,
            "  track         {} alt {:.1} km at {}  ±{:.0} m  {}",
            lat_lon(&t.position),
            t.position.alt_m / 1000.0,
            hms(t.time),
            t.position_uncertainty.horizontal_m,
            name(&t.flight_phase)
        );
    }
    if let Some(i) = &ev.impact {
        let _ = writeln!(
            s,
            "  impact        {} at {}  ellipse {:.0} x {:.0} m at {:.0} deg",
            lat_lon(&i.impact_point),
            hms(i.impact_time),
            i.error_ellipse.semi_major_m,
            i.error_ellipse.semi_minor_m,
            i.error_ellipse.orientation_deg
        );
    }
    if let Some(end) = &ev.end {
        let _ = writeln!(
            s,
            "  closed        {} at {}",
            name(&end.reason),
            hms(end.time)
        );
    }
    for c in &e.changes {
        let what = match &c.change {
            Change::Created { origin, track_id } => format!("created by {origin} {track_id}"),
            Change::Joined { origin, track_id } => format!("{origin} {track_id} joined"),
            Change::Contribution {
                origin,
                track_id,
                state,
            } => format!("{origin} {track_id} {}", name(state)),
            Change::State { state } => format!("event {}", name(state)),
        };
        let _ = writeln!(s, "  {}  {what}", hms(c.at));
    }
}

/// The issue-15 targets a [`Quality`] misses (empty: all met): ambiguity exactly 1 (when any
/// object was covered), no spurious event the nations did not retract themselves,
/// completeness ≥ 0.99, no track-id change, the fused track no worse than the best single
/// nation at that nation's own report instants, every track associated.
pub fn missed_targets(q: &Quality) -> Vec<String> {
    let mut miss = Vec::new();
    // Ambiguity 0 means no object was covered at all (a false alarm): nothing to be ambiguous
    // about; an uncovered object shows as completeness.
    if q.ambiguity > 0.0 && (q.ambiguity - 1.0).abs() > 1e-12 {
        miss.push(format!("ambiguity {:.4} != 1", q.ambiguity));
    }
    if q.spuriousness_unretracted > 0.0 {
        miss.push(format!(
            "spuriousness (unretracted) {:.4} > 0",
            q.spuriousness_unretracted
        ));
    }
    if q.completeness < 0.99 {
        miss.push(format!("completeness {:.4} < 0.99", q.completeness));
    }
    if q.track_id_changes > 0 {
        miss.push(format!("{} track-id changes", q.track_id_changes));
    }
    if let Some((n, best)) = q
        .paired
        .iter()
        .min_by(|a, b| a.1.national_rms_m.total_cmp(&b.1.national_rms_m))
        && best.fused_rms_m > best.national_rms_m
    {
        miss.push(format!(
            "fused RMS {:.1} m > best nation ({n}) {:.1} m",
            best.fused_rms_m, best.national_rms_m
        ));
    }
    let unassociated: usize = q.association.values().map(|a| a.unassociated).sum();
    if unassociated > 0 {
        miss.push(format!("{unassociated} track(s) never associated"));
    }
    miss
}

fn num(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

/// A [`Quality`] as JSON (NaN as null), with the targets it misses.
pub fn quality_json(q: &Quality) -> Value {
    let nations: serde_json::Map<String, Value> = Nation::ALL
        .into_iter()
        .filter(|n| {
            q.national_rms_m.contains_key(n)
                || q.paired.contains_key(n)
                || q.association.contains_key(n)
        })
        .map(|n| {
            let p = q.paired.get(&n);
            let a = q.association.get(&n);
            (
                n.to_string(),
                json!({
                    "own_rms_m": num(q.national_rms_m.get(&n).copied().unwrap_or(f64::NAN)),
                    "paired_own_rms_m": num(p.map_or(f64::NAN, |p| p.national_rms_m)),
                    "paired_fused_rms_m": num(p.map_or(f64::NAN, |p| p.fused_rms_m)),
                    "paired_samples": p.map_or(0, |p| p.samples),
                    "tracks_associated": a.map_or(0, |a| a.tracks),
                    "association_mean_s": num(a.map_or(f64::NAN, |a| a.mean_s)),
                    "association_max_s": num(a.map_or(f64::NAN, |a| a.max_s)),
                    "unassociated": a.map_or(0, |a| a.unassociated),
                }),
            )
        })
        .collect();
    let missed = missed_targets(q);
    json!({
        "completeness": num(q.completeness),
        "ambiguity": num(q.ambiguity),
        "spuriousness": num(q.spuriousness),
        "spuriousness_unretracted": num(q.spuriousness_unretracted),
        "fused_rms_m": num(q.fused_rms_m),
        "track_id_changes": q.track_id_changes,
        "instants": q.instants,
        "nations": nations,
        "targets_met": missed.is_empty(),
        "missed_targets": missed,
    })
}

/// Track-quality metrics of several viewers as a readable table.
pub fn render_quality(rows: &[(Viewer, Quality)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:5} {:>12} {:>9} {:>9} {:>11} {:>10} {:>11}  targets",
        "view", "completeness", "ambiguity", "spurious", "unretracted", "id-changes", "fused-rms-m"
    );
    for (v, q) in rows {
        let missed = missed_targets(q);
        let _ = writeln!(
            s,
            "{:5} {:>12.4} {:>9.4} {:>9.4} {:>11.4} {:>10} {:>11.1}  {}",
            v.to_string(),
            q.completeness,
            q.ambiguity,
            q.spuriousness,
            q.spuriousness_unretracted,
            q.track_id_changes,
            q.fused_rms_m,
            if missed.is_empty() {
                "met".to_owned()
            } else {
                format!("MISSED: {}", missed.join("; "))
            }
        );
        if q.national_rms_m.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "      {:6} {:>10} {:>16} {:>16} {:>8} {:>7} {:>13} {:>12}",
            "nation",
            "own-rms-m",
            "paired-own-rms-m",
            "paired-fused-m",
            "samples",
            "tracks",
            "assoc-mean-s",
            "assoc-max-s"
        );
        for n in Nation::ALL {
            let (Some(own), p, a) = (
                q.national_rms_m.get(&n),
                q.paired.get(&n),
                q.association.get(&n),
            ) else {
                continue;
            };
            let _ = writeln!(
                s,
                "      {:6} {:>10.1} {:>16.1} {:>16.1} {:>8} {:>7} {:>13.2} {:>12.2}",
                n.to_string(),
                own,
                p.map_or(f64::NAN, |p| p.national_rms_m),
                p.map_or(f64::NAN, |p| p.fused_rms_m),
                p.map_or(0, |p| p.samples),
                a.map_or(0, |a| a.tracks),
                a.map_or(f64::NAN, |a| a.mean_s),
                a.map_or(f64::NAN, |a| a.max_s),
            );
        }
    }
    s
}

/// Ground truth from JSON Lines (`{"ts", "subject": "truth", "envelope"}` records as
/// `trilink scenario` writes them, or bare envelopes); an error names the line. Empty is valid
/// (a false alarm: nothing was launched).
pub fn truth_from_jsonl(text: &str) -> Result<Vec<Envelope>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let body = crate::matrix::capture_body(line);
        let env = Envelope::from_json(&body).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.push(env);
    }
    Ok(out)
}

/// One line per event of each destination's picture (`<event id> <mode> <state>: <nation>
/// <track> …`): the compact section of `trilink policy test`.
pub fn render_compact(p: &OfflinePicture) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "common picture per destination (the relay's common_event views under this policy):"
    );
    for vp in &p.pictures {
        let _ = writeln!(
            s,
            "  {}: {} event(s){}",
            vp.viewer,
            vp.events.len(),
            withheld_text(&vp.withheld)
        );
        for e in &vp.events {
            let contributors: Vec<String> = e
                .last
                .contributors
                .iter()
                .map(|c| format!("{} {}", c.origin, c.track_id))
                .collect();
            let _ = writeln!(
                s,
                "    {}  {:10} {:9} first {}  {}",
                e.event_id.simple(),
                e.mode.to_string(),
                name(&e.last.state),
                e.last.first_detected_by,
                contributors.join(", ")
            );
        }
    }
    s
}

/// The compact per-destination picture as JSON: `{dest: [{event_id, mode, state,
/// first_detected_by, contributors: ["jp:JP-…", …]}], …}` plus `withheld` per destination.
pub fn compact_json(p: &OfflinePicture) -> Value {
    let mut m = serde_json::Map::new();
    for vp in &p.pictures {
        let events: Vec<Value> = vp
            .events
            .iter()
            .map(|e| {
                json!({
                    "event_id": e.event_id,
                    "mode": e.mode,
                    "state": e.last.state,
                    "first_detected_by": e.last.first_detected_by,
                    "contributors": e.last.contributors.iter()
                        .map(|c| format!("{}:{}", c.origin, c.track_id))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        m.insert(
            vp.viewer.to_string(),
            json!({"events": events, "withheld": vp.withheld}),
        );
    }
    Value::Object(m)
}
