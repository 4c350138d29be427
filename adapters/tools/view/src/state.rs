//! The picture state: sans-IO, fed with the subject and body of every message the viewer
//! receives and the time it arrived; it never reads a clock or touches the network.
//!
//! What it keeps, for one viewing nation:
//! - **tracks**: one per `(origin, track_id)`: its launch detection, the track updates (a
//!   polyline, the last [`MAX_POINTS`] points), the latest impact prediction, end and cancel;
//! - **health**: one row per `(site, component)` from `tl.status.<site>.<component>` heartbeats,
//!   marked `stale` when no heartbeat arrived for longer than the heartbeat interval;
//! - **latency**: `received_at − ingested_at` per message (end-to-end, national adapter to this
//!   view), the last one per track and a summary over the last [`LATENCY_WINDOW`] messages.
//!
//! What it refuses (counted in `rejected`, never shown): an output subject for another nation,
//! an envelope whose releasability does not name the viewing nation, a body that is not a valid
//! envelope, or a subject and envelope that disagree. The broker's permissions already keep
//! other nations' outputs away from the viewer user; this is the second wall.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use trilink_schema::{
    CommonEvent, ComponentState, ContributionState, Envelope, ErrorEllipse, EventClose, EventState,
    FusedImpact, FusedLaunch, FusedTrack, GeoPoint, Mode, Nation, Payload, Subject,
    ValidationContext,
};

/// Most points kept per track polyline (older ones are dropped first).
pub const MAX_POINTS: usize = 600;
/// Messages over which the latency summary is computed.
pub const LATENCY_WINDOW: usize = 1000;
/// Most tracks kept; the least recently updated one is dropped first.
pub const MAX_TRACKS: usize = 2000;
/// Most health rows kept (a status subject names its component, so a noisy account could
/// invent many).
pub const MAX_HEALTH_ROWS: usize = 256;

/// Most common events kept; the least recently updated one is dropped first.
pub const MAX_EVENTS: usize = 500;
/// Most history frames kept per common event (the time slider replays them); older ones are
/// dropped first.
pub const MAX_FRAMES: usize = 1200;

/// Version of the `/api/picture` shape; bumped when a field changes meaning.
/// 2: `events` holds [`EventView`]s, tracks carry `event` and `points_kept` (a live track
/// update carries only its new point), health carries `dead_letters`.
pub const PICTURE_VERSION: u32 = 2;

/// Why a message was not taken into the picture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Not a trilink subject this view reads.
    #[error("subject {0:?} is not an output for this nation or a status subject")]
    Subject(String),
    /// The body is not a valid envelope.
    #[error("invalid envelope on {subject}: {reason}")]
    Envelope {
        /// Subject it arrived on.
        subject: String,
        /// Parse or validation error.
        reason: String,
    },
    /// The envelope is not released to the viewing nation.
    #[error("message {0} is not released to the viewing nation")]
    NotReleased(String),
    /// Subject and envelope disagree (origin, kind, or a status on an output subject).
    #[error("subject {0:?} does not match its envelope")]
    Mismatch(String),
}

/// A point of a track polyline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrackPoint {
    /// Observation time.
    pub t: DateTime<Utc>,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Altitude, metres.
    pub alt_m: f64,
}

/// The launch of a track.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LaunchView {
    /// Launch time.
    pub time: DateTime<Utc>,
    /// Launch point.
    pub point: GeoPoint,
    /// Missile class (schema token).
    pub missile_class: serde_json::Value,
    /// Detection confidence 0..1.
    pub confidence: f64,
}

/// The latest impact prediction of a track.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImpactView {
    /// Predicted impact time.
    pub time: DateTime<Utc>,
    /// Predicted impact point.
    pub point: GeoPoint,
    /// One-sigma error ellipse.
    pub ellipse: ErrorEllipse,
}

/// One national track as the view shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrackView {
    /// `<origin>/<track_id>`: unique in the picture.
    pub key: String,
    /// Reporting nation.
    pub origin: Nation,
    /// National track id.
    pub track_id: String,
    /// Mode of the latest message: exercise and test traffic must be marked as such.
    pub mode: Mode,
    /// Launch detection, if received.
    pub launch: Option<LaunchView>,
    /// Track updates, oldest first: every kept point in `/api/picture`; in a live update only
    /// the point that update added, if any (the page inserts it in time order and keeps the
    /// last `points_kept`), so an update's size does not grow with the track.
    pub points: Vec<TrackPoint>,
    /// Points the view keeps for this track (at most [`MAX_POINTS`]).
    pub points_kept: usize,
    /// Latest impact prediction.
    pub impact: Option<ImpactView>,
    /// Latest flight phase token.
    pub flight_phase: Option<serde_json::Value>,
    /// End of the event (reason token), if reported.
    pub ended: Option<serde_json::Value>,
    /// Cancel reason, if cancelled.
    pub cancelled: Option<String>,
    /// Messages taken into this track.
    pub messages: u64,
    /// `ingested_at` of the latest message (ms since the epoch): the page measures its own
    /// display latency against it.
    pub last_ingested_ms: i64,
    /// End-to-end latency of the latest message, milliseconds.
    pub last_latency_ms: f64,
    /// When the view received the latest message.
    pub updated_at: DateTime<Utc>,
    /// Key of the common event this track contributes to (as the latest common event
    /// released to the viewer says), if any.
    pub event: Option<String>,
}

/// One national track contributing to a common event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContributorView {
    /// `<origin>/<track_id>`: the [`TrackView::key`] of the national track.
    pub key: String,
    /// Reporting nation.
    pub origin: Nation,
    /// National track id.
    pub track_id: String,
    /// State of its contribution.
    pub state: ContributionState,
    /// Observation time of its latest report.
    pub last_report_at: DateTime<Utc>,
}

/// A contributor as one history frame saw it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FrameContributor {
    /// [`ContributorView::key`].
    pub key: String,
    /// State of its contribution then.
    pub state: ContributionState,
}

/// One received state of a common event: what the time slider replays.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventFrame {
    /// Time of this state: the fused track's time, else the envelope's observation time.
    pub t: DateTime<Utc>,
    /// Life-cycle state then.
    pub state: EventState,
    /// Fused position then (the trail), if the event had a fused track.
    pub position: Option<GeoPoint>,
    /// Horizontal one-sigma of that position, metres.
    pub sigma_m: Option<f64>,
    /// Fused impact prediction then.
    pub impact: Option<ImpactView>,
    /// Contributors then.
    pub contributors: Vec<FrameContributor>,
}

/// One common event (issue 15) as the view shows it: the hub's fused estimate of one physical
/// object, built only from contributions released to the viewing nation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventView {
    /// The event id (hyphenated UUID): unique in the picture.
    pub key: String,
    /// First eight hex digits of the id, for labels.
    pub short: String,
    /// Mode of the event (never mixed: every contribution has it).
    pub mode: Mode,
    /// Life-cycle state.
    pub state: EventState,
    /// Nation whose report was observed first.
    pub first_detected_by: Nation,
    /// Observation time of that report.
    pub first_detected_at: DateTime<Utc>,
    /// Assessed missile class (schema token).
    pub missile_class: serde_json::Value,
    /// Contributing national tracks.
    pub contributors: Vec<ContributorView>,
    /// Fused launch estimate.
    pub launch: Option<FusedLaunch>,
    /// Latest fused track.
    pub track: Option<FusedTrack>,
    /// Latest fused impact prediction with its error ellipse.
    pub impact: Option<FusedImpact>,
    /// How the event closed.
    pub end: Option<EventClose>,
    /// Common-event messages taken into this event.
    pub messages: u64,
    /// `ingested_at` of the latest message (ms since the epoch).
    pub last_ingested_ms: i64,
    /// End-to-end latency of the latest message, milliseconds.
    pub last_latency_ms: f64,
    /// When the view received the latest message.
    pub updated_at: DateTime<Utc>,
    /// Frames kept in the view (the history may be longer than what an update carries).
    pub frames: usize,
    /// History, oldest first: every frame in `/api/picture`; in a live update only the frame
    /// that update added (the page appends it).
    pub history: Vec<EventFrame>,
}

/// Dead letters of one site, as far as the viewer may see them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeadLetterRow {
    /// Site (`tl.dlq.<site>`).
    pub site: Nation,
    /// Whether this viewer can see the site's dead letters at all: only its own site's (the
    /// broker lets `viewer-<n>` hear `tl.dlq.<n>` and no other).
    pub visible: bool,
    /// Dead letters heard since the view started (0 when not visible).
    pub count: u64,
    /// When the latest one was heard.
    pub last_at: Option<DateTime<Utc>>,
    /// Its reason code (`Tl-Reason` header).
    pub last_reason: Option<String>,
}

/// Health of one component at one site.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HealthRow {
    /// Site (`jp`, `kr`, `us`; the hub is `us`).
    pub site: Nation,
    /// Component name.
    pub component: String,
    /// `ok`, `degraded`, `down` (as reported) or `stale` (no heartbeat for longer than the
    /// interval).
    pub state: &'static str,
    /// Last reported state.
    pub reported: ComponentState,
    /// Last heartbeat received.
    pub last_seen: DateTime<Utc>,
    /// Uptime the component reported.
    pub uptime_s: f64,
    /// Detail text the component reported.
    pub detail: String,
    /// Heartbeats received.
    pub heartbeats: u64,
}

/// End-to-end latency summary (`received_at − ingested_at`), milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct LatencySummary {
    /// Messages in the window.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
    /// Latest.
    pub last_ms: f64,
}

/// `/api/health`: the link health the viewer sees.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HealthSnapshot {
    /// The viewing nation.
    pub viewer: Nation,
    /// When the snapshot was taken.
    pub now: DateTime<Utc>,
    /// Heartbeat interval used for staleness, milliseconds.
    pub heartbeat_interval_ms: u64,
    /// One row per (site, component).
    pub components: Vec<HealthRow>,
    /// Messages taken into the picture.
    pub accepted: u64,
    /// Messages refused (not released, invalid, wrong subject).
    pub rejected: u64,
    /// End-to-end latency.
    pub latency: LatencySummary,
    /// Dead letters per site (JP, KR, US): counted for the viewer's own site only.
    pub dead_letters: Vec<DeadLetterRow>,
}

/// `/api/picture`: the whole state.
///
/// `events` holds the common picture (issue 15): fused common events with their fused track,
/// launch point, impact ellipse, contributors and history, as released to the viewer. The page
/// draws them beside the national `tracks`, with the same mode styling.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PictureSnapshot {
    /// Shape version ([`PICTURE_VERSION`]).
    pub version: u32,
    /// The viewing nation.
    pub viewer: Nation,
    /// National tracks, by key.
    pub tracks: Vec<TrackView>,
    /// Common (fused) events, by key, each with its whole history.
    pub events: Vec<EventView>,
    /// Link health.
    pub health: HealthSnapshot,
}

/// What changed: one item per update pushed to live clients.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    /// A track changed (the whole track).
    Track(Box<TrackView>),
    /// A health row changed.
    Health(HealthRow),
    /// A common event changed (its `history` holds only the new frame).
    Event(Box<EventView>),
    /// The viewer's own site's dead-letter count changed.
    DeadLetters(DeadLetterRow),
}

/// The picture for one viewing nation.
#[derive(Debug)]
pub struct Picture {
    viewer: Nation,
    heartbeat_interval: Duration,
    tracks: BTreeMap<String, TrackView>,
    events: BTreeMap<String, EventView>,
    /// National track key -> key of the event it contributes to.
    track_event: BTreeMap<String, String>,
    dead_letters: DeadLetterRow,
    health: BTreeMap<(Nation, String), HealthRow>,
    latencies: VecDeque<f64>,
    accepted: u64,
    rejected: u64,
}

fn token<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn state_token(s: ComponentState) -> &'static str {
    match s {
        ComponentState::Ok => "ok",
        ComponentState::Degraded => "degraded",
        ComponentState::Down => "down",
    }
}

impl Picture {
    /// An empty picture for `viewer`; a component is `stale` when no heartbeat arrived for
    /// longer than `heartbeat_interval`.
    pub fn new(viewer: Nation, heartbeat_interval: Duration) -> Self {
        Picture {
            viewer,
            heartbeat_interval,
            tracks: BTreeMap::new(),
            events: BTreeMap::new(),
            track_event: BTreeMap::new(),
            dead_letters: DeadLetterRow {
                site: viewer,
                visible: true,
                count: 0,
                last_at: None,
                last_reason: None,
            },
            health: BTreeMap::new(),
            latencies: VecDeque::new(),
            accepted: 0,
            rejected: 0,
        }
    }

    /// The viewing nation.
    pub fn viewer(&self) -> Nation {
        self.viewer
    }

    /// Take one received message into the picture. Returns what changed, or why it was
    /// refused (then nothing changed but the `rejected` count).
    pub fn on_message(
        &mut self,
        subject: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Vec<Update>, Rejected> {
        let r = self.take(subject, body, now);
        match r {
            Ok(_) => self.accepted += 1,
            Err(_) => self.rejected += 1,
        }
        r
    }

    fn take(
        &mut self,
        subject: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Vec<Update>, Rejected> {
        let parsed = Subject::parse(subject).map_err(|_| Rejected::Subject(subject.to_owned()))?;
        let env = Envelope::from_json(body).map_err(|e| Rejected::Envelope {
            subject: subject.to_owned(),
            reason: e.to_string(),
        })?;
        env.validate(&ValidationContext::at(now))
            .map_err(|e| Rejected::Envelope {
                subject: subject.to_owned(),
                reason: e.to_string(),
            })?;
        match parsed {
            Subject::Out { dest, kind, item } => {
                if dest != self.viewer {
                    return Err(Rejected::Subject(subject.to_owned()));
                }
                if !env.releasability.contains(&self.viewer) {
                    return Err(Rejected::NotReleased(env.message_id.to_string()));
                }
                if item.origin() != env.origin || kind != env.payload.kind() {
                    return Err(Rejected::Mismatch(subject.to_owned()));
                }
                if let Payload::CommonEvent(ev) = &env.payload {
                    return Ok(self.on_common_event(&env, ev, now));
                }
                self.on_output(&env, now)
                    .map(|t| vec![Update::Track(Box::new(t))])
            }
            Subject::Status { site, component } => {
                let Payload::Status(st) = &env.payload else {
                    return Err(Rejected::Mismatch(subject.to_owned()));
                };
                if env.origin != site || st.component != component {
                    return Err(Rejected::Mismatch(subject.to_owned()));
                }
                let key = (site, component.clone());
                if !self.health.contains_key(&key) && self.health.len() >= MAX_HEALTH_ROWS {
                    return Err(Rejected::Subject(subject.to_owned()));
                }
                let row = self.health.entry(key).or_insert_with(|| HealthRow {
                    site,
                    component,
                    state: "ok",
                    reported: st.state,
                    last_seen: now,
                    uptime_s: 0.0,
                    detail: String::new(),
                    heartbeats: 0,
                });
                row.reported = st.state;
                row.state = state_token(st.state);
                row.last_seen = now;
                row.uptime_s = st.uptime_s;
                row.detail.clone_from(&st.detail);
                row.heartbeats += 1;
                Ok(vec![Update::Health(row.clone())])
            }
            Subject::In { .. } | Subject::Dlq { .. } => Err(Rejected::Subject(subject.to_owned())),
        }
    }

    /// Record the end-to-end latency of `env` received at `now`; returns it in milliseconds.
    fn record_latency(&mut self, env: &Envelope, now: DateTime<Utc>) -> f64 {
        let latency_ms = (now - env.ingested_at)
            .num_microseconds()
            .unwrap_or(i64::MAX) as f64
            / 1000.0;
        if self.latencies.len() >= LATENCY_WINDOW {
            self.latencies.pop_front();
        }
        self.latencies.push_back(latency_ms);
        latency_ms
    }

    /// A common event released to the viewer: replace its latest state, append a history
    /// frame, and re-link the national tracks it names. Returns the event (with only the new
    /// frame) and every national track whose link changed.
    fn on_common_event(
        &mut self,
        env: &Envelope,
        ev: &CommonEvent,
        now: DateTime<Utc>,
    ) -> Vec<Update> {
        let latency_ms = self.record_latency(env, now);
        let key = ev.event_id.hyphenated().to_string();
        if !self.events.contains_key(&key)
            && self.events.len() >= MAX_EVENTS
            && let Some(oldest) = self
                .events
                .values()
                .min_by_key(|e| e.updated_at)
                .map(|e| e.key.clone())
        {
            self.events.remove(&oldest);
            self.track_event.retain(|_, e| *e != oldest);
        }
        let contributors: Vec<ContributorView> = ev
            .contributors
            .iter()
            .map(|c| ContributorView {
                key: format!("{}/{}", c.origin, c.track_id),
                origin: c.origin,
                track_id: c.track_id.to_string(),
                state: c.state,
                last_report_at: c.last_report_at,
            })
            .collect();
        let frame = EventFrame {
            t: ev.track.as_ref().map_or(env.observed_at, |t| t.time),
            state: ev.state,
            position: ev.track.as_ref().map(|t| t.position),
            sigma_m: ev
                .track
                .as_ref()
                .map(|t| t.position_uncertainty.horizontal_m),
            impact: ev.impact.as_ref().map(|i| ImpactView {
                time: i.impact_time,
                point: i.impact_point,
                ellipse: i.error_ellipse,
            }),
            contributors: contributors
                .iter()
                .map(|c| FrameContributor {
                    key: c.key.clone(),
                    state: c.state,
                })
                .collect(),
        };
        let e = self.events.entry(key.clone()).or_insert_with(|| EventView {
            short: ev.event_id.simple().to_string().chars().take(8).collect(),
            key: key.clone(),
            mode: env.mode,
            state: ev.state,
            first_detected_by: ev.first_detected_by,
            first_detected_at: ev.first_detected_at,
            missile_class: serde_json::Value::Null,
            contributors: Vec::new(),
            launch: None,
            track: None,
            impact: None,
            end: None,
            messages: 0,
            last_ingested_ms: 0,
            last_latency_ms: 0.0,
            updated_at: now,
            frames: 0,
            history: Vec::new(),
        });
        e.mode = env.mode;
        e.state = ev.state;
        e.first_detected_by = ev.first_detected_by;
        e.first_detected_at = ev.first_detected_at;
        e.missile_class = token(&ev.missile_class);
        e.contributors = contributors;
        e.launch.clone_from(&ev.launch);
        e.track.clone_from(&ev.track);
        e.impact.clone_from(&ev.impact);
        e.end.clone_from(&ev.end);
        e.messages += 1;
        e.last_ingested_ms = env.ingested_at.timestamp_millis();
        e.last_latency_ms = latency_ms;
        e.updated_at = now;
        // History in time order whatever the arrival order.
        let at = e.history.partition_point(|f| f.t <= frame.t);
        e.history.insert(at, frame.clone());
        if e.history.len() > MAX_FRAMES {
            e.history.remove(0);
        }
        e.frames = e.history.len();
        let mut live = e.clone_without_history();
        live.history.push(frame);

        // Re-link national tracks: those the event no longer names lose the link, those it
        // names gain it.
        let named: Vec<String> = live.contributors.iter().map(|c| c.key.clone()).collect();
        let mut changed = Vec::new();
        let before: Vec<String> = self
            .track_event
            .iter()
            .filter(|(_, e)| **e == key)
            .map(|(t, _)| t.clone())
            .collect();
        for t in &before {
            if !named.contains(t) {
                self.track_event.remove(t);
                changed.push(t.clone());
            }
        }
        for t in named {
            if self.track_event.get(&t) != Some(&key) {
                self.track_event.insert(t.clone(), key.clone());
                changed.push(t);
            }
        }
        let mut out = vec![Update::Event(Box::new(live))];
        for t in changed {
            if let Some(tv) = self.tracks.get_mut(&t) {
                tv.event = self.track_event.get(&t).cloned();
                out.push(Update::Track(Box::new(tv.delta(None))));
            }
        }
        out
    }

    /// A dead letter heard on `subject` (`tl.dlq.<site>`), with its `Tl-Reason` header.
    /// Only the viewer's own site's dead letters are counted (the broker lets the viewer hear
    /// no other); anything else is refused.
    pub fn on_dead_letter(
        &mut self,
        subject: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Update>, Rejected> {
        match Subject::parse(subject) {
            Ok(Subject::Dlq { site }) if site == self.viewer => {
                let d = &mut self.dead_letters;
                d.count += 1;
                d.last_at = Some(now);
                d.last_reason = reason.map(|r| r.chars().take(64).collect());
                Ok(vec![Update::DeadLetters(d.clone())])
            }
            _ => {
                self.rejected += 1;
                Err(Rejected::Subject(subject.to_owned()))
            }
        }
    }

    /// Dead-letter rows for every site: the viewer's own counted, the others marked invisible.
    pub fn dead_letters(&self) -> Vec<DeadLetterRow> {
        Nation::ALL
            .into_iter()
            .map(|n| {
                if n == self.viewer {
                    self.dead_letters.clone()
                } else {
                    DeadLetterRow {
                        site: n,
                        visible: false,
                        count: 0,
                        last_at: None,
                        last_reason: None,
                    }
                }
            })
            .collect()
    }

    fn on_output(&mut self, env: &Envelope, now: DateTime<Utc>) -> Result<TrackView, Rejected> {
        let track_id = match &env.payload {
            Payload::LaunchDetection(p) => &p.track_id,
            Payload::TrackUpdate(p) => &p.track_id,
            Payload::ImpactPrediction(p) => &p.track_id,
            Payload::EventEnd(p) => &p.track_id,
            Payload::Cancel(p) => &p.track_id,
            Payload::Correction(p) => &p.track_id,
            Payload::Status(_) => {
                return Err(Rejected::Mismatch(format!("status {}", env.message_id)));
            }
            Payload::CommonEvent(_) => {
                return Err(Rejected::Mismatch(format!(
                    "common_event {}",
                    env.message_id
                )));
            }
        };
        let latency_ms = self.record_latency(env, now);
        let key = format!("{}/{}", env.origin, track_id);
        if !self.tracks.contains_key(&key)
            && self.tracks.len() >= MAX_TRACKS
            && let Some(oldest) = self
                .tracks
                .values()
                .min_by_key(|t| t.updated_at)
                .map(|t| t.key.clone())
        {
            self.tracks.remove(&oldest);
        }
        let t = self.tracks.entry(key.clone()).or_insert_with(|| TrackView {
            key,
            origin: env.origin,
            track_id: track_id.to_string(),
            mode: env.mode,
            launch: None,
            points: Vec::new(),
            points_kept: 0,
            impact: None,
            flight_phase: None,
            ended: None,
            cancelled: None,
            messages: 0,
            last_ingested_ms: 0,
            last_latency_ms: 0.0,
            updated_at: now,
            event: None,
        });
        t.event = self.track_event.get(&t.key).cloned();
        t.mode = env.mode;
        t.messages += 1;
        t.last_ingested_ms = env.ingested_at.timestamp_millis();
        t.last_latency_ms = latency_ms;
        t.updated_at = now;
        let mut added = None;
        match &env.payload {
            Payload::LaunchDetection(p) => {
                t.launch = Some(LaunchView {
                    time: p.launch_time,
                    point: p.launch_point,
                    missile_class: token(&p.missile_class),
                    confidence: p.confidence,
                });
            }
            Payload::TrackUpdate(p) => {
                let pt = TrackPoint {
                    t: p.time,
                    lat: p.position.lat_deg,
                    lon: p.position.lon_deg,
                    alt_m: p.position.alt_m,
                };
                // Keep the polyline in time order whatever the arrival order.
                let at = t.points.partition_point(|q| q.t <= pt.t);
                t.points.insert(at, pt.clone());
                if t.points.len() > MAX_POINTS {
                    t.points.remove(0);
                }
                t.points_kept = t.points.len();
                added = Some(pt);
                t.flight_phase = Some(token(&p.flight_phase));
            }
            Payload::ImpactPrediction(p) => {
                t.impact = Some(ImpactView {
                    time: p.impact_time,
                    point: p.impact_point,
                    ellipse: p.error_ellipse,
                });
            }
            Payload::EventEnd(p) => t.ended = Some(token(&p.reason)),
            Payload::Cancel(p) => t.cancelled = Some(p.reason.clone()),
            Payload::Correction(_) | Payload::Status(_) | Payload::CommonEvent(_) => {}
        }
        Ok(t.delta(added))
    }

    /// Mark components whose heartbeat is overdue as `stale`; returns the rows that changed.
    /// Call it regularly (a fraction of the heartbeat interval).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Update> {
        let limit =
            chrono::Duration::from_std(self.heartbeat_interval).unwrap_or(chrono::Duration::MAX);
        let mut changed = Vec::new();
        for row in self.health.values_mut() {
            if row.state != "stale" && now - row.last_seen > limit {
                row.state = "stale";
                changed.push(Update::Health(row.clone()));
            }
        }
        changed
    }

    /// The latency summary over the last [`LATENCY_WINDOW`] messages.
    pub fn latency(&self) -> LatencySummary {
        let mut v: Vec<f64> = self.latencies.iter().copied().collect();
        if v.is_empty() {
            return LatencySummary::default();
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((v.len() - 1) as f64 * q).round() as usize;
            v.get(i).copied().unwrap_or(0.0)
        };
        LatencySummary {
            count: v.len(),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: v.last().copied().unwrap_or(0.0),
            last_ms: self.latencies.back().copied().unwrap_or(0.0),
        }
    }

    /// `/api/health`.
    pub fn health(&self, now: DateTime<Utc>) -> HealthSnapshot {
        HealthSnapshot {
            viewer: self.viewer,
            now,
            heartbeat_interval_ms: self.heartbeat_interval.as_millis() as u64,
            components: self.health.values().cloned().collect(),
            accepted: self.accepted,
            rejected: self.rejected,
            latency: self.latency(),
            dead_letters: self.dead_letters(),
        }
    }

    /// `/api/picture`.
    pub fn snapshot(&self, now: DateTime<Utc>) -> PictureSnapshot {
        PictureSnapshot {
            version: PICTURE_VERSION,
            viewer: self.viewer,
            tracks: self.tracks.values().cloned().collect(),
            events: self.events.values().cloned().collect(),
            health: self.health(now),
        }
    }
}

impl EventView {
    /// A copy without the history (what a live update carries besides its new frame).
    fn clone_without_history(&self) -> EventView {
        EventView {
            key: self.key.clone(),
            short: self.short.clone(),
            mode: self.mode,
            state: self.state,
            first_detected_by: self.first_detected_by,
            first_detected_at: self.first_detected_at,
            missile_class: self.missile_class.clone(),
            contributors: self.contributors.clone(),
            launch: self.launch.clone(),
            track: self.track.clone(),
            impact: self.impact.clone(),
            end: self.end.clone(),
            messages: self.messages,
            last_ingested_ms: self.last_ingested_ms,
            last_latency_ms: self.last_latency_ms,
            updated_at: self.updated_at,
            frames: self.frames,
            history: Vec::new(),
        }
    }
}

impl TrackView {
    /// A copy for a live update: every field but the polyline, of which only `added`.
    fn delta(&self, added: Option<TrackPoint>) -> TrackView {
        TrackView {
            key: self.key.clone(),
            origin: self.origin,
            track_id: self.track_id.clone(),
            mode: self.mode,
            launch: self.launch.clone(),
            points: added.into_iter().collect(),
            points_kept: self.points_kept,
            impact: self.impact.clone(),
            flight_phase: self.flight_phase.clone(),
            ended: self.ended.clone(),
            cancelled: self.cancelled.clone(),
            messages: self.messages,
            last_ingested_ms: self.last_ingested_ms,
            last_latency_ms: self.last_latency_ms,
            updated_at: self.updated_at,
            event: self.event.clone(),
        }
    }
}
