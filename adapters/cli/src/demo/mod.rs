//! `trilink demo`: the whole link, live, on this machine.
//!
//! Starts the hub and both leaves with mTLS ([`trilink_brokers::Link`]), the KR national MQTT
//! broker (mosquitto), the relay, the three adapters and three national-system stand-ins; plays
//! a shipped scenario through the link in each nation's own format on its own transport; shows
//! a per-nation view; ends with a summary and stops every process it started (also on Ctrl-C).
//! All ports are free loopback ports chosen at start-up.

pub mod mosquitto;
pub mod standins;
pub mod view;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use chrono::Utc;
use clap::Args;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use trilink_brokers::{Link, LinkOptions, Role};
use trilink_relay::Policy;
use trilink_schema::{Nation, NationalCodec};

use standins::{Board, Out, Sender, SharedBoard};

/// The policy the demo runs unless `--policy` names another.
const DEFAULT_POLICY: &str =
    include_str!("../../../../broker-config/policies/default-trilateral.toml");

/// `trilink demo` options.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Shipped scenario to play: single_launch, salvo, false_alarm, exercise_mixed.
    #[arg(long, default_value = "single_launch")]
    pub scenario: String,
    /// Playback speed relative to the scenario's own pace (1 = real time).
    #[arg(long, default_value_t = 20.0)]
    pub speed: f64,
    /// Seed for sensor noise (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Routing policy file (default: broker-config/policies/default-trilateral.toml, built in).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Keep the link running after the scenario until Ctrl-C.
    #[arg(long)]
    pub keep_running: bool,
    /// Do not print a RECV line per delivered message (the table and summary still print).
    #[arg(long)]
    pub quiet: bool,
    /// Seconds between table refreshes.
    #[arg(long, default_value_t = 2.0)]
    pub refresh_s: f64,
    /// Seconds to wait after the last report for deliveries to complete.
    #[arg(long, default_value_t = 20.0)]
    pub settle_s: f64,
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
    /// Released messages that never arrived (non-track messages, and the last update of each
    /// track).
    pub missing: Vec<(Nation, trilink_schema::MessageId)>,
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(trilink_brokers::free_port()?)
}

pub(crate) fn free_udp_port() -> Result<u16> {
    Ok(trilink_brokers::free_udp_port()?)
}

fn say(out: &Out, text: &str) {
    let mut o = out
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = writeln!(o, "{text}");
    let _ = o.flush();
}

/// Run the demo until the scenario has played and settled (or `shutdown`), writing to `out`.
pub async fn run(args: DemoArgs, shutdown: CancellationToken, out: Out) -> Result<DemoSummary> {
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        return Err(anyhow!("--speed must be a positive number"));
    }
    let cfg = trilink_scenario::named(&args.scenario).map_err(|e| anyhow!("{e}"))?;
    let seed = args.seed.unwrap_or(cfg.seed);
    let generated =
        trilink_scenario::generate(&cfg, seed, Utc::now()).map_err(|e| anyhow!("{e}"))?;
    let policy_text = match &args.policy {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => DEFAULT_POLICY.to_owned(),
    };
    let policy = Policy::from_toml_str(&policy_text).map_err(|e| anyhow!("policy: {e}"))?;

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
    let link = Link::start(LinkOptions::default())
        .await
        .map_err(|e| anyhow!("brokers: {e}"))?;
    let work = link.dir().to_path_buf();
    say(&out, &format!("work dir: {}", work.display()));
    let policy_path = work.join("policy.toml");
    std::fs::write(&policy_path, &policy_text)?;

    say(&out, "starting the KR national MQTT broker (mosquitto) ...");
    let mqtt = mosquitto::Mosquitto::start(&work).await?;
    let mqtt_addr = ("127.0.0.1".to_owned(), mqtt.port());

    let stop = shutdown.child_token();
    let mut tasks: JoinSet<Result<()>> = JoinSet::new();

    // Relay at the hub, one connection per nation account.
    let relay_cfg = relay_config(&link)?;
    {
        let stop = stop.clone();
        let path = policy_path.clone();
        tasks.spawn(async move {
            trilink_relay::live::run(relay_cfg, path, async move { stop.cancelled().await })
                .await
                .map_err(|e| anyhow!("relay: {e}"))
        });
    }

    // National ports.
    let jp_in = free_udp_port()?;
    let jp_rx = UdpSocket::bind("127.0.0.1:0").await?;
    let jp_out = jp_rx.local_addr()?.port();
    let us_in = free_port()?;
    let us_rx = TcpListener::bind("127.0.0.1:0").await?;
    let us_out = us_rx.local_addr()?.port();

    // Adapters.
    spawn_adapter(
        &mut tasks,
        adapter_jp(&link, jp_in, jp_out)?,
        trilink_jp::JpCodec,
        &stop,
    );
    spawn_adapter(
        &mut tasks,
        adapter_kr(&link, mqtt.port())?,
        trilink_kr::KrCodec,
        &stop,
    );
    spawn_adapter(
        &mut tasks,
        adapter_us(&link, us_in, us_out)?,
        trilink_us::UsCodec::default(),
        &stop,
    );

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
        "kr/warning/in".into(),
        board.clone(),
        print_out,
        stop.clone(),
    ));

    // Senders.
    let jp_tx = Sender::Udp(
        UdpSocket::bind("127.0.0.1:0").await?,
        format!("127.0.0.1:{jp_in}").parse()?,
    );
    let kr_tx = standins::kr_sender(mqtt_addr, "kr/warning/out".into(), stop.clone());
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

    let dead = dead_letters(&link).await;
    let summary = {
        let b = board
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rows = view::rows(&b, &expected, &dead);
        let missing = b.missing();
        let complete = missing.is_empty() && b.mismatches.is_empty();
        DemoSummary {
            rows,
            complete,
            mismatches: b.mismatches.clone(),
            missing,
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

    // Clean shutdown: stop adapters and relay, then mosquitto and the brokers (by PID).
    stop.cancel();
    let drain = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(Err(e)) => say(&out, &format!("warning: {e:#}")),
                Err(e) => say(&out, &format!("warning: task failed: {e}")),
                Ok(Ok(())) => {}
            }
        }
    })
    .await;
    if drain.is_err() {
        say(
            &out,
            "warning: some components did not stop within 15 s; stopping them",
        );
        tasks.abort_all();
    }
    drop(mqtt);
    let _ = link.shutdown();
    say(&out, "all processes stopped");
    Ok(summary)
}

/// Play the reports at their (scaled) times; returns the expected deliveries per nation.
async fn play(
    generated: &trilink_scenario::Generated,
    policy: &Policy,
    args: &DemoArgs,
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
        standins::shift_times(&mut env, Utc::now() - report.emit_at);
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
                return Err(anyhow!("connecting to adapter-us on {port}: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Dead letters per site, read from the DLQ streams (best effort).
async fn dead_letters(link: &Link) -> BTreeMap<Nation, u64> {
    let mut out = BTreeMap::new();
    for n in Nation::ALL {
        let Ok(client) = link.connect(Role::Relay(n)).await else {
            continue;
        };
        let js = async_nats::jetstream::with_domain(client, "hub");
        let name = format!("DLQ_{}", n.as_str().to_uppercase());
        if let Ok(mut s) = js.get_stream(&name).await
            && let Ok(info) = s.info().await
        {
            *out.entry(n).or_default() += info.state.messages;
        }
    }
    out
}

fn creds(link: &Link, role: Role) -> Result<trilink_brokers::Credentials> {
    link.credentials(role).map_err(|e| anyhow!("{e}"))
}

pub fn relay_config(link: &Link) -> Result<trilink_relay::RelayConfig> {
    let mut text = String::from("component = \"relay-1\"\nstatus_interval_s = 2\n");
    for n in Nation::ALL {
        let c = creds(link, Role::Relay(n))?;
        let url = c.urls.first().cloned().unwrap_or_default();
        let _ = write!(
            text,
            "[[account]]\nnation = \"{n}\"\nnats_url = \"{url}\"\nuser = \"{}\"\npassword = \"{}\"\n",
            c.user, c.password
        );
    }
    if let Some(url) = creds(link, Role::Relay(Nation::Us))?.urls.first() {
        let ca = toml::Value::String(link.ca_file().display().to_string());
        text = format!("nats_url = \"{url}\"\njs_domain = \"hub\"\ntls_ca = {ca}\n{text}");
    }
    trilink_relay::RelayConfig::from_toml_str(&text, "demo relay config")
        .map_err(|e| anyhow!("{e}"))
}

fn nats_section(link: &Link, nation: Nation, domain: &str) -> Result<String> {
    let c = creds(link, Role::Adapter(nation))?;
    let url = c.urls.first().cloned().unwrap_or_default();
    // On the hub itself the US adapter uses the local JetStream API ($JS.API), which is
    // what its permissions allow; leaf adapters address their own domain.
    let domain = if nation == Nation::Us {
        // The hub's client port is TLS-only.
        let ca = toml::Value::String(link.ca_file().display().to_string());
        format!("tls_ca = {ca}\n")
    } else {
        format!("js_domain = \"{domain}\"\n")
    };
    Ok(format!(
        "[nats]\nurl = \"{url}\"\nuser = \"{}\"\npassword = \"{}\"\n{domain}",
        c.user, c.password
    ))
}

const TELEMETRY: &str = "[telemetry]\nlog_format = \"text\"\nlog_filter = \"warn\"\n";

/// `state_dir = "<link dir>/state/adapter-<n>"`: the egress journal inside the work directory.
fn state_dir(link: &Link, nation: Nation) -> String {
    let dir = link.dir().join("state").join(format!("adapter-{nation}"));
    format!(
        "state_dir = {}\n",
        toml::Value::String(dir.display().to_string())
    )
}

fn parse_adapter(text: &str, name: &str) -> Result<trilink_runtime::adapter::AdapterConfig> {
    trilink_runtime::config::load_str(text, std::path::Path::new(name), std::iter::empty())
        .map_err(|e| anyhow!("{e}"))
}

pub(crate) fn adapter_jp(
    link: &Link,
    ingress: u16,
    national: u16,
) -> Result<trilink_runtime::adapter::AdapterConfig> {
    parse_adapter(
        &adapter_jp_toml(link, ingress, national)?,
        "demo adapter-jp config",
    )
}

/// The demo's adapter-jp config as TOML text (UDP in on `ingress`, UDP out to `national`).
pub fn adapter_jp_toml(link: &Link, ingress: u16, national: u16) -> Result<String> {
    Ok(format!(
        "[adapter]\nnation = \"jp\"\nheartbeat_interval_ms = 2000\n{TELEMETRY}{}\n[[ingress]]\ntype = \"udp\"\nbind = \"127.0.0.1:{ingress}\"\n\n[egress]\nstream = \"OUT_JP\"\ndurable = \"adapter-jp\"\n{}[[egress.outputs]]\ntype = \"udp\"\ntarget = \"127.0.0.1:{national}\"\n",
        nats_section(link, Nation::Jp, "jp")?,
        state_dir(link, Nation::Jp)
    ))
}

pub(crate) fn adapter_kr(
    link: &Link,
    mqtt_port: u16,
) -> Result<trilink_runtime::adapter::AdapterConfig> {
    parse_adapter(&adapter_kr_toml(link, mqtt_port)?, "demo adapter-kr config")
}

/// The demo's adapter-kr config as TOML text (MQTT both ways on the KR broker at `mqtt_port`).
pub fn adapter_kr_toml(link: &Link, mqtt_port: u16) -> Result<String> {
    Ok(format!(
        "[adapter]\nnation = \"kr\"\nheartbeat_interval_ms = 2000\n{TELEMETRY}{}\n[[ingress]]\ntype = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {mqtt_port}\nclient_id = \"trilink-kr-in\"\ntopic = \"kr/warning/out\"\n\n[egress]\nstream = \"OUT_KR\"\ndurable = \"adapter-kr\"\n{}[[egress.outputs]]\ntype = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {mqtt_port}\nclient_id = \"trilink-kr-out\"\ntopic = \"kr/warning/in\"\n",
        nats_section(link, Nation::Kr, "kr")?,
        state_dir(link, Nation::Kr)
    ))
}

pub(crate) fn adapter_us(
    link: &Link,
    ingress: u16,
    national: u16,
) -> Result<trilink_runtime::adapter::AdapterConfig> {
    parse_adapter(
        &adapter_us_toml(link, ingress, national)?,
        "demo adapter-us config",
    )
}

/// The demo's adapter-us config as TOML text (TCP in on `ingress`, TCP out to `national`).
pub fn adapter_us_toml(link: &Link, ingress: u16, national: u16) -> Result<String> {
    Ok(format!(
        "[adapter]\nnation = \"us\"\nheartbeat_interval_ms = 2000\n{TELEMETRY}{}\n[[ingress]]\ntype = \"tcp_server\"\nbind = \"127.0.0.1:{ingress}\"\n\n[egress]\nstream = \"OUT_US\"\ndurable = \"adapter-us\"\n{}[[egress.outputs]]\ntype = \"tcp_client\"\nconnect = \"127.0.0.1:{national}\"\n",
        nats_section(link, Nation::Us, "hub")?,
        state_dir(link, Nation::Us)
    ))
}

pub(crate) fn spawn_adapter<C>(
    tasks: &mut JoinSet<Result<()>>,
    config: trilink_runtime::adapter::AdapterConfig,
    codec: C,
    stop: &CancellationToken,
) where
    C: NationalCodec + Send + Sync + 'static,
{
    let stop = stop.clone();
    tasks.spawn(async move {
        trilink_runtime::adapter::run(config, codec, stop)
            .await
            .map(drop)
            .map_err(|e| anyhow!("adapter-{}: {e}", C::NATION))
    });
}
