//! `trilink demo`: the whole link, live, on this machine.
//!
//! Starts a [`LocalLink`] (the hub and both leaves with mTLS, the KR national MQTT broker, the
//! relay, the three adapters) and three national-system stand-ins; plays a shipped scenario
//! through the link in each nation's own format on its own transport; shows a per-nation view;
//! ends with a summary and stops every process it started (also on cancellation). All ports
//! are free loopback ports chosen at start-up.

pub mod access;
pub mod view;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;
use trilink_brokers::{Link, Role, Site};
use trilink_relay::Policy;
use trilink_schema::Nation;

use crate::LocalLink;
use crate::configs::DEFAULT_POLICY;
use crate::error::{LinkError, Result, failed};
use crate::harness::{free_port, free_udp_port};
use crate::standins::{self, Board, Out, Sender, SharedBoard};

/// What the demo plays and how.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Shipped scenario to play: single_launch, salvo, false_alarm, exercise_mixed.
    pub scenario: String,
    /// Playback speed relative to the scenario's own pace (1 = real time).
    pub speed: f64,
    /// Seed for sensor noise (default: the scenario's).
    pub seed: Option<u64>,
    /// Routing policy file (default: [`DEFAULT_POLICY`]).
    pub policy: Option<PathBuf>,
    /// Keep the link running after the scenario until cancelled.
    pub keep_running: bool,
    /// Do not print a RECV line per delivered message (the table and summary still print).
    pub quiet: bool,
    /// Seconds between table refreshes.
    pub refresh_s: f64,
    /// Seconds to wait after the last report for deliveries to complete.
    pub settle_s: f64,
    /// Serve the browser view (`trilink-view`) of `view_nation` on this address (port 0: any
    /// free port); its URL is printed. `None`: no view.
    pub view_listen: Option<std::net::SocketAddr>,
    /// The nation whose read-only viewer the view connects as.
    pub view_nation: Nation,
    /// Serve Prometheus `/metrics`, `/healthz` and `/readyz` of the relay and the adapters
    /// on this address (port 0: any free port); its URL is printed. `None`: not served.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Outcome of a demo run.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// Final per-nation rows.
    pub rows: Vec<view::NationRow>,
    /// Whether every nation received what the policy releases to it (every non-track
    /// message and each track's latest update) with every field as sent.
    pub complete: bool,
    /// Deliveries whose fields differed from what was sent beyond the formats' precision.
    pub mismatches: Vec<String>,
    /// Deliveries that reached a nation before their track's launch detection.
    pub order_violations: Vec<String>,
    /// Released messages that never arrived (non-track messages, and the last update of each
    /// track).
    pub missing: Vec<(Nation, trilink_schema::MessageId)>,
    /// The common picture each nation's stand-in received (issue 15).
    pub fused: BTreeMap<Nation, standins::Fused>,
    /// Frames only the hub sends that each stand-in read (the US J7.7 associations naming
    /// each common event's national tracks).
    pub hub_only: BTreeMap<Nation, u64>,
}

fn say(out: &Out, text: &str) {
    let mut o = out
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = writeln!(o, "{text}");
    let _ = o.flush();
}

/// Run the demo until the scenario has played and settled (or `shutdown`), writing to `out`.
pub async fn run(args: DemoOptions, shutdown: CancellationToken, out: Out) -> Result<DemoSummary> {
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        return Err(LinkError::Usage("--speed must be a positive number".into()));
    }
    let cfg =
        trilink_scenario::named(&args.scenario).map_err(|e| LinkError::Usage(e.to_string()))?;
    let seed = args.seed.unwrap_or(cfg.seed);
    let generated =
        trilink_scenario::generate(&cfg, seed, Utc::now()).map_err(|e| failed!("{e}"))?;
    let policy_text = match &args.policy {
        Some(p) => std::fs::read_to_string(p).map_err(|source| LinkError::Io {
            what: format!("reading {}", p.display()),
            source,
        })?,
        None => DEFAULT_POLICY.to_owned(),
    };
    let policy = Policy::from_toml_str(&policy_text)
        .map_err(|e| LinkError::Usage(format!("policy: {e}")))?;

    say(
        &out,
        &format!(
            "trilink demo: scenario {} (seed {seed}), {} national reports, speed ×{}",
            generated.name,
            generated.reports.len(),
            args.speed
        ),
    );
    say(
        &out,
        "starting brokers: hub (US node) + JP and KR leaves over mTLS ...",
    );
    let mut local = LocalLink::start(&shutdown).await?;
    let work = local.dir().to_path_buf();
    say(&out, &format!("work dir: {}", work.display()));

    say(&out, "starting the KR national MQTT broker (mosquitto) ...");
    let mqtt_port = local.start_mosquitto().await?;
    let mqtt_addr = ("127.0.0.1".to_owned(), mqtt_port);
    let stop = local.stop_token().clone();

    // Metrics of everything this process runs (relay and adapters share one recorder); the
    // recorder goes in first so that the relay's and adapters' counters exist from start.
    let metrics = match args.metrics_listen {
        Some(addr) => {
            let prom = trilink_runtime::telemetry::install_metrics().map_err(|e| failed!("{e}"))?;
            let health = trilink_runtime::telemetry::Health::new();
            health.set_ready(true);
            let bound = trilink_runtime::telemetry::serve(addr, prom, health, stop.clone())
                .await
                .map_err(|e| failed!("metrics endpoint: {e}"))?;
            Some(bound)
        }
        None => None,
    };

    // Relay at the hub, one connection per nation account.
    local.start_relay(&policy_text)?;

    // National ports.
    let jp_in = free_udp_port()?;
    let jp_rx = UdpSocket::bind("127.0.0.1:0").await?;
    let jp_out = jp_rx.local_addr()?.port();
    let us_in = free_port()?;
    let us_rx = TcpListener::bind("127.0.0.1:0").await?;
    let us_out = us_rx.local_addr()?.port();

    // Adapters.
    local.start_adapter_jp(jp_in, jp_out)?;
    local.start_adapter_kr()?;
    local.start_adapter_us(us_in, us_out)?;

    // The browser view, as one nation's read-only viewer; it stops with the link.
    let _view = match args.view_listen {
        Some(listen) => {
            let c = local
                .link()
                .credentials(Role::Viewer(args.view_nation))
                .map_err(|e| failed!("viewer credentials: {e}"))?;
            let view = trilink_view::start(
                trilink_view::ViewConfig {
                    nation: args.view_nation,
                    nats_urls: c.urls,
                    user: c.user,
                    password: c.password,
                    ca_file: c.ca_file,
                    listen,
                    heartbeat_interval: Duration::from_secs(2),
                },
                stop.clone(),
            )
            .await
            .map_err(|e| failed!("view: {e}"))?;
            say(
                &out,
                &format!("view ({} viewer): {}", args.view_nation, view.url()),
            );
            Some(view)
        }
        None => None,
    };

    // National stand-ins: receivers first.
    let board: SharedBoard = Arc::new(Mutex::new(Board::default()));
    let print_out: Out = if args.quiet {
        Arc::new(Mutex::new(std::io::sink()))
    } else {
        out.clone()
    };
    tokio::spawn(standins::jp_receiver(
        trilink_jp::JpCodec,
        jp_rx,
        board.clone(),
        print_out.clone(),
        stop.clone(),
    ));
    tokio::spawn(standins::us_receiver(
        trilink_us::UsCodec::default(),
        us_rx,
        board.clone(),
        print_out.clone(),
        stop.clone(),
    ));
    tokio::spawn(standins::kr_receiver(
        trilink_kr::KrCodec,
        mqtt_addr.clone(),
        trilink_kr::DELIVERY_TOPIC.into(),
        board.clone(),
        print_out,
        stop.clone(),
    ));

    // Senders.
    let jp_tx = Sender::Udp(
        UdpSocket::bind("127.0.0.1:0").await?,
        std::net::SocketAddr::from(([127, 0, 0, 1], jp_in)),
    );
    let kr_tx = standins::kr_sender(mqtt_addr, trilink_kr::REPORT_TOPIC.into(), stop.clone());
    let us_tx = connect_retry(us_in, Duration::from_secs(10))
        .await
        .map(Sender::Tcp)?;
    let mut senders: BTreeMap<Nation, Sender> = [
        (Nation::Jp, jp_tx),
        (Nation::Kr, kr_tx),
        (Nation::Us, us_tx),
    ]
    .into_iter()
    .collect();

    // Give adapters a moment to subscribe and the KR clients to connect.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let link_file = match local.link().write_link_file() {
        Ok(p) => Some(p),
        Err(e) => {
            say(&out, &format!("warning: link.json not written: {e}"));
            None
        }
    };
    let viewer_pass = match access::write_viewer_password_files(local.link()) {
        Ok(f) => f,
        Err(e) => {
            say(
                &out,
                &format!("warning: viewer password files not written: {e}"),
            );
            BTreeMap::new()
        }
    };
    let ports = access::NationalPorts {
        jp_in,
        jp_out,
        kr_mqtt: mqtt_port,
        us_in,
        us_out,
    };
    say(
        &out,
        access::text(
            local.link(),
            ports,
            metrics,
            link_file.as_deref(),
            &viewer_pass,
        )
        .trim_end(),
    );
    say(
        &out,
        "link up: relay, adapter-jp (UDP), adapter-kr (MQTT), adapter-us (TCP); playing scenario ...",
    );

    let expected = play(
        &generated,
        &policy,
        &args,
        &mut senders,
        &board,
        &out,
        &stop,
    )
    .await;

    // Settle: wait until every nation has what the policy releases to it.
    let deadline = Instant::now() + Duration::from_secs_f64(args.settle_s.max(0.0));
    while Instant::now() < deadline && !stop.is_cancelled() {
        let done = {
            let b = board
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            b.missing().is_empty()
        };
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    if args.keep_running && !stop.is_cancelled() {
        say(
            &out,
            "scenario done; link keeps running (Ctrl-C to stop) ...",
        );
        stop.cancelled().await;
    }

    let dead = dead_letters(local.link()).await;
    let summary = {
        let b = board
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rows = view::rows(&b, &expected, &dead);
        let missing = b.missing();
        let order_violations = b.causal_order_violations();
        let complete = missing.is_empty() && b.mismatches.is_empty() && order_violations.is_empty();
        DemoSummary {
            rows,
            complete,
            mismatches: b.mismatches.clone(),
            order_violations,
            missing,
            fused: b.fused.clone(),
            hub_only: b
                .received
                .iter()
                .map(|(n, r)| (*n, r.hub_only))
                .filter(|(_, c)| *c > 0)
                .collect(),
        }
    };
    say(
        &out,
        &format!(
            "SUMMARY ({})",
            if summary.complete {
                "every nation received what the policy releases to it"
            } else {
                "INCOMPLETE: some nation did not receive what the policy releases to it"
            }
        ),
    );
    say(&out, view::table(&summary.rows).trim_end());
    say(&out, &view::superseded_line(&summary.rows));
    say(
        &out,
        &format!(
            "fields checked against what was sent: {} mismatches",
            summary.mismatches.len()
        ),
    );
    for m in summary.mismatches.iter().take(20) {
        say(&out, &format!("MISMATCH {m}"));
    }
    say(
        &out,
        &format!(
            "causal order per track (launch detection first): {} violations",
            summary.order_violations.len()
        ),
    );
    for m in summary.order_violations.iter().take(20) {
        say(&out, &format!("ORDER {m}"));
    }
    // The hub's common picture, as each national system received it.
    for n in Nation::ALL {
        let f = summary.fused.get(&n).cloned().unwrap_or_default();
        let kinds: Vec<String> = f
            .by_kind
            .iter()
            .map(|(k, c)| format!("{} {c}", k.as_str()))
            .collect();
        say(
            &out,
            &format!(
                "COMMON PICTURE {}: {} event(s), {} report(s) ({}){}",
                n.as_str().to_uppercase(),
                f.events.len(),
                f.reports,
                kinds.join(", "),
                summary
                    .hub_only
                    .get(&n)
                    .map_or_else(String::new, |c| format!(
                        "; {c} J7.7 association(s) naming the national tracks of each event"
                    )),
            ),
        );
        for (event, contributors) in &f.events {
            say(
                &out,
                &format!(
                    "COMMON EVENT {} {event} contributors={contributors}",
                    n.as_str().to_uppercase()
                ),
            );
        }
    }

    // Clean shutdown: stop adapters and relay, then mosquitto and the brokers (by PID).
    for w in local.shutdown(Duration::from_secs(15)).await {
        say(&out, &format!("warning: {w}"));
    }
    say(&out, "all processes stopped");
    Ok(summary)
}

/// Play the reports at their (scaled) times; returns the expected deliveries per nation.
async fn play(
    generated: &trilink_scenario::Generated,
    policy: &Policy,
    args: &DemoOptions,
    senders: &mut BTreeMap<Nation, Sender>,
    board: &SharedBoard,
    out: &Out,
    stop: &CancellationToken,
) -> BTreeMap<Nation, u64> {
    let mut expected: BTreeMap<Nation, u64> = BTreeMap::new();
    let Some(first) = generated.reports.first().map(|r| r.emit_at) else {
        return expected;
    };
    let t0 = Instant::now();
    // Observation times keep the scenario's own spacing at any speed above 1, so that every
    // report's position, velocity and time agree (the hub's correlator fuses by kinematics):
    // one constant shift puts the last report at the time it is sent and every earlier one
    // (length − offset)·(1 − 1/speed) before its send time — never in the future. At speed
    // 1 or below each report is observed when it is sent.
    let last = generated.reports.last().map_or(first, |r| r.emit_at);
    let constant_shift = (args.speed > 1.0).then(|| {
        let length = (last - first).to_std().unwrap_or_default();
        let end =
            Utc::now() + chrono::Duration::from_std(length.div_f64(args.speed)).unwrap_or_default();
        end - last
    });
    let mut last_view = Instant::now();
    let jp = trilink_jp::JpCodec;
    let kr = trilink_kr::KrCodec;
    let us = trilink_us::UsCodec::default();
    for report in &generated.reports {
        let offset = (report.emit_at - first)
            .to_std()
            .unwrap_or_default()
            .div_f64(args.speed);
        let due = t0 + offset;
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep_until(due.into()) => {}
        }
        let mut env = report.envelope.clone();
        standins::shift_times(
            &mut env,
            constant_shift.unwrap_or_else(|| Utc::now() - report.emit_at),
        );
        env.ingested_at = Utc::now();
        for (dest, decision) in policy.decide(&env) {
            if decision.is_deliver() {
                *expected.entry(dest).or_default() += 1;
                board
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .expect(dest, &env);
            }
        }
        let bytes = match env.origin {
            Nation::Jp => standins::encode(&jp, &env),
            Nation::Kr => standins::encode(&kr, &env),
            Nation::Us => standins::encode(&us, &env),
        };
        let Some(sender) = senders.get_mut(&env.origin) else {
            continue;
        };
        match bytes {
            Ok(b) => {
                standins::mark_sent(board, &env);
                if sender.send(&b).await.is_err() {
                    standins::send_failed(board);
                }
            }
            Err(e) => say(
                out,
                &format!("warning: cannot encode {} report: {e}", env.origin),
            ),
        }
        if last_view.elapsed().as_secs_f64() >= args.refresh_s {
            last_view = Instant::now();
            let rows = {
                let b = board
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                view::rows(&b, &expected, &BTreeMap::new())
            };
            say(
                out,
                &format!(
                    "--- t+{:.1}s ---\n{}",
                    t0.elapsed().as_secs_f64(),
                    view::table(&rows).trim_end()
                ),
            );
        }
    }
    expected
}

async fn connect_retry(port: u16, within: Duration) -> Result<TcpStream> {
    let deadline = Instant::now() + within;
    loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => {
                return Err(failed!("connecting to adapter-us on {port}: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Dead letters per site, read from the DLQ streams (best effort).
async fn dead_letters(link: &Link) -> BTreeMap<Nation, u64> {
    let mut out = BTreeMap::new();
    for n in Nation::ALL {
        // The nation's operations user at the hub: the relay's users may not ask for stream
        // info (a denied JetStream API request is never answered, so each one used to wait out
        // the client's 10 s request timeout before the summary).
        let Ok(client) = link.connect(Role::Admin(Site::Hub, n)).await else {
            continue;
        };
        let js = async_nats::jetstream::with_domain(client, "hub");
        let name = format!("DLQ_{}", n.as_str().to_uppercase());
        let info = async {
            let mut s = js.get_stream(&name).await.ok()?;
            s.info().await.ok().map(|i| i.state.messages)
        };
        if let Ok(Some(messages)) = tokio::time::timeout(Duration::from_secs(3), info).await {
            *out.entry(n).or_default() += messages;
        }
    }
    out
}
