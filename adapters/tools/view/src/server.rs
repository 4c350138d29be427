//! The view process: a NATS subscriber (the nation's read-only viewer user) feeding a
//! [`Picture`], and an axum HTTP server for the page, the JSON API and the live stream.
//!
//! | path | what |
//! |---|---|
//! | `/` | the page (embedded) |
//! | `/assets/…` | its script, style, vendored libraries and map data (embedded) |
//! | `/api/picture` | [`PictureSnapshot`](crate::PictureSnapshot) as JSON |
//! | `/api/health` | [`HealthSnapshot`](crate::HealthSnapshot) as JSON |
//! | `/api/events` | server-sent events: `picture` (the whole state) on connect and after a lag, then `track`, `event` (a common event with its new history frame), `health` and `dead_letters` updates |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use futures::{Stream, StreamExt as _};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use trilink_schema::{Nation, Subject, inbox_prefix};

use crate::assets;
use crate::state::{Picture, Update};

/// How to run a view.
#[derive(Debug, Clone)]
pub struct ViewConfig {
    /// Nation whose released traffic the view shows (the viewer user's nation).
    pub nation: Nation,
    /// NATS URLs of the nation's site (its leaf for JP/KR, the hub for the US).
    pub nats_urls: Vec<String>,
    /// Viewer user, `viewer-<nation>`.
    pub user: String,
    /// Its password.
    pub password: String,
    /// CA to verify the server with (TLS required when set).
    pub ca_file: Option<PathBuf>,
    /// HTTP listen address (port 0: any free port).
    pub listen: SocketAddr,
    /// Heartbeat interval of the link's components: a component is `stale` after it.
    pub heartbeat_interval: Duration,
}

/// Why the view could not run.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// Could not connect to NATS.
    #[error("connecting to {urls:?} as {user}: {source}")]
    Connect {
        /// URLs tried.
        urls: Vec<String>,
        /// User.
        user: String,
        /// Cause.
        #[source]
        source: async_nats::ConnectError,
    },
    /// Could not subscribe.
    #[error("subscribing to {subject}: {source}")]
    Subscribe {
        /// Subject.
        subject: String,
        /// Cause.
        #[source]
        source: async_nats::SubscribeError,
    },
    /// Could not bind or serve HTTP.
    #[error("HTTP on {addr}: {source}")]
    Http {
        /// Listen address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
struct Shared {
    picture: Arc<Mutex<Picture>>,
    updates: broadcast::Sender<Arc<Update>>,
    /// Cancelled at shutdown: live streams end then (a graceful shutdown waits for every open
    /// connection, and a page's event stream would never close by itself).
    stop: CancellationToken,
}

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut Picture) -> T) -> T {
        let mut g = self.picture.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut g)
    }
}

/// A started view: its HTTP address and the task serving it.
#[derive(Debug)]
pub struct RunningView {
    /// Where the page is served.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<Result<(), ViewError>>,
}

impl RunningView {
    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Wait until the view stops (after `shutdown` is cancelled).
    pub async fn wait(self) -> Result<(), ViewError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(ViewError::Http {
                addr: self.addr,
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}

/// Connect, subscribe and bind; then serve in a background task until `shutdown`.
pub async fn start(
    config: ViewConfig,
    shutdown: CancellationToken,
) -> Result<RunningView, ViewError> {
    let opts = async_nats::ConnectOptions::new();
    let opts = match &config.ca_file {
        Some(ca) => opts.add_root_certificates(ca.clone()).require_tls(true),
        None => opts,
    };
    let client = opts
        .user_and_password(config.user.clone(), config.password.clone())
        .custom_inbox_prefix(inbox_prefix(&config.user))
        .name(format!("trilink-view-{}", config.nation))
        .connection_timeout(Duration::from_secs(5))
        .retry_on_initial_connect()
        .connect(config.nats_urls.as_slice())
        .await
        .map_err(|source| ViewError::Connect {
            urls: config.nats_urls.clone(),
            user: config.user.clone(),
            source,
        })?;
    let mut subs = Vec::new();
    for subject in [
        Subject::output_filter(config.nation),
        "tl.status.>".to_owned(),
        Subject::Dlq {
            site: config.nation,
        }
        .to_string(),
    ] {
        let sub = client
            .subscribe(subject.clone())
            .await
            .map_err(|source| ViewError::Subscribe { subject, source })?;
        subs.push(sub);
    }
    let mut messages = futures::stream::select_all(subs);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ViewError::Http {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ViewError::Http {
        addr: config.listen,
        source,
    })?;
    let (updates, _) = broadcast::channel(4096);
    let shared = Shared {
        picture: Arc::new(Mutex::new(Picture::new(
            config.nation,
            config.heartbeat_interval,
        ))),
        updates,
        stop: shutdown.clone(),
    };

    // NATS -> picture -> live clients.
    let feed = shared.clone();
    let stop = shutdown.clone();
    let feeder = tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                () = stop.cancelled() => break,
                m = messages.next() => match m { Some(m) => m, None => break },
            };
            let now = Utc::now();
            let subject = msg.subject.as_str();
            let taken = if subject.starts_with("tl.dlq.") {
                let reason = msg
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(trilink_schema::headers::DLQ_REASON))
                    .map(|v| v.as_str().to_owned());
                feed.with(|p| p.on_dead_letter(subject, reason.as_deref(), now))
            } else {
                feed.with(|p| p.on_message(subject, &msg.payload, now))
            };
            match taken {
                Ok(changes) => {
                    for u in changes {
                        let _ = feed.updates.send(Arc::new(u));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "message refused by the view"),
            }
        }
        drop(client);
    });
    // Staleness of heartbeats.
    let ticker = shared.clone();
    let stop = shutdown.clone();
    let every = (config.heartbeat_interval / 10).max(Duration::from_millis(20));
    let tick = tokio::spawn(async move {
        let mut iv = tokio::time::interval(every);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = iv.tick() => {}
            }
            for u in ticker.with(|p| p.tick(Utc::now())) {
                let _ = ticker.updates.send(Arc::new(u));
            }
        }
    });

    let app = router(shared);
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
            .map_err(|source| ViewError::Http { addr, source });
        shutdown.cancel();
        let _ = feeder.await;
        let _ = tick.await;
        served
    });
    tracing::info!(%addr, nation = %config.nation, "view serving");
    Ok(RunningView { addr, task })
}

/// Run a view until `shutdown` is cancelled.
pub async fn run(config: ViewConfig, shutdown: CancellationToken) -> Result<(), ViewError> {
    start(config, shutdown).await?.wait().await
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { asset("index.html") }))
        .route(
            "/assets/{*name}",
            get(|axum::extract::Path(name): axum::extract::Path<String>| async move {
                asset(&name)
            }),
        )
        .route("/api/picture", get(picture))
        .route("/api/health", get(health))
        .route("/api/events", get(events))
        .with_state(shared)
}

fn asset(name: &str) -> Response {
    match assets::get(name) {
        Some((body, mime)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn picture(State(s): State<Shared>) -> Response {
    let snap = s.with(|p| p.snapshot(Utc::now()));
    axum::Json(snap).into_response()
}

async fn health(State(s): State<Shared>) -> Response {
    let snap = s.with(|p| p.health(Utc::now()));
    axum::Json(snap).into_response()
}

fn picture_event(s: &Shared) -> Event {
    let snap = s.with(|p| p.snapshot(Utc::now()));
    Event::default()
        .event("picture")
        .json_data(snap)
        .unwrap_or_else(|_| Event::default().comment("unserializable"))
}

async fn events(State(s): State<Shared>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before the snapshot: nothing between the two is lost (a duplicate is harmless:
    // every update carries the whole track or row).
    let rx = s.updates.subscribe();
    let s_stop = s.stop.clone();
    let first = picture_event(&s);
    let rest = futures::stream::unfold((rx, s), |(mut rx, s)| async move {
        let ev = match rx.recv().await {
            Ok(u) => {
                let name = match u.as_ref() {
                    Update::Track(_) => "track",
                    Update::Health(_) => "health",
                    Update::Event(_) => "event",
                    Update::DeadLetters(_) => "dead_letters",
                };
                Event::default()
                    .event(name)
                    .json_data(u.as_ref())
                    .unwrap_or_else(|_| Event::default().comment("unserializable"))
            }
            // Too slow a client: send the whole state again instead of the missed updates.
            Err(broadcast::error::RecvError::Lagged(_)) => picture_event(&s),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(ev), (rx, s)))
    });
    let stop = s_stop;
    Sse::new(
        futures::stream::once(async move { Ok(first) })
            .chain(rest)
            .take_until(stop.cancelled_owned()),
    )
    .keep_alive(KeepAlive::default())
}

/// The nation of a viewer user name `viewer-<nation>`.
pub fn nation_of_viewer(user: &str) -> Option<Nation> {
    user.strip_prefix("viewer-")?.parse().ok()
}
