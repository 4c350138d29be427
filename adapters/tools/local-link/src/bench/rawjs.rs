//! The benchmark's raw-JetStream path: the trilink path's stream topology and
//! acknowledgements with a minimal forwarder in place of the adapters and the relay — no
//! decoding, validation, translation, policy, provenance or per-track ordering. It separates
//! the cost of persistence from the cost of trilink's own code.
//!
//! The same JP bytes (an 8-byte key, then the JP frame) over UDP → a JetStream publish with
//! `Nats-Msg-Id` on `tl.in.jp.launch_detection` on the JP leaf, through the runtime's
//! [`Publisher`] with adapter-jp's window (`[nats] max_in_flight`) → the JP leaf's `IN_JP` →
//! the hub's `IN_JP` (sourced over the leaf link) → a pull consumer with the relay's settings
//! (`[[consumer]] relay` of `streams.toml`; at most the relay's `max_in_flight` inputs in
//! flight) → two acknowledged publishes, `OUT_KR` and `OUT_US` at the hub, as the relay stores a
//! JP message released to everyone, then the input's ack → a pull consumer on the hub's
//! `OUT_KR` with adapter-kr's settings (`[[consumer]] adapter-kr`, adapter-kr's pull batch and
//! egress window; no KR leaf copy since issue 17) → MQTT QoS 1 through the runtime's [`Sink`]
//! (PUBACK, then ack) → the same kind of subscriber as the other paths.
//!
//! The streams are the link's own (created from `broker-config/streams.toml` when the link
//! starts), so the topology cannot drift from the trilink path's. The hub forwarder reads the
//! relay's own durable `relay` as the relay's JP user `relay-jp` (since session 10; before, a
//! copy under another name as the account's operations user, whose acks skipped the permission
//! check the relay's pay) and publishes the outputs as the relay's users `relay-kr` and
//! `relay-us` (since session 9; before, as the unrestricted operations users): the hub checks
//! every ack and output against those users' permissions, as it checks the relay's. The bench
//! starts the relay only after the raw paths, and [`RawJs::finish`] makes `relay` again from its
//! `[[consumer]]` definition, so no pull request of the forwarder's outlives it.
//!
//! The KR forwarder reads exactly as adapter-kr does: adapter-kr's own configuration, user and
//! inbox prefix on the KR leaf, and its real durable `adapter-kr` on the hub's `OUT_KR`, across the
//! JetStream domain `hub` through the leaf's link — so the path pays the leaf's routing of every
//! delivery and ack, as the trilink path does (`LEAF_KR` carries only that durable; a copy under
//! another name is refused, and a forwarder connected to the hub directly skipped ~110–170 µs per
//! message of routing before session 8). The bench starts adapter-kr only after the raw paths. At
//! [`RawJs::finish`] `relay` and `adapter-kr` are deleted and made again from their `[[consumer]]`
//! definitions (a JP-leaf copy of the relay's, in the variant without the hub's `IN_JP`, is
//! deleted) and the four streams the path wrote are purged, so the trilink path starts on empty
//! streams and its durables never see the forwarder's messages. Not measured here: adapter-kr's
//! delivery journal (a file append per message) and the relay's per-track order gate — both trilink
//! code.
//!
//! Fewer stores ([`RawJsStores`], `trilink bench --raw-jetstream-stores`, issue 17): the same
//! path without the hub's `IN_JP` (store 2 of `broker-config/README.md`, "Stores per
//! message") — the hub forwarder's pull consumer sits on the JP leaf's `IN_JP`. (Store 4, the
//! KR leaf's copy of `OUT_KR`, is gone from the topology itself.) The dropped store's sourcing
//! is switched off for the variant (each source gets a filter subject nothing is published on)
//! and its exact configuration (the server's own JSON) is restored at [`RawJs::finish`], after
//! the purge, so the trilink path runs on the link's streams as shipped; a dropped store that
//! stored anything, or a configuration that did not come back as it was, is a note in the
//! report. The consumer is first tried across the JetStream domain (from the hub's JP account
//! with the API prefix of domain `jp`), as the relay would reach it; the shipped
//! leaf-connection permissions (`LEAF_JP` in `hub-accounts.conf`) do not carry that traffic, so
//! the forwarder then connects to the JP leaf with its operations user — the report says
//! which it was.
//!
//! Message ids shaped as trilink's (`trilink bench --raw-jetstream-ids hex,uuid`, issue 17): the
//! raw path names each message by its 8-byte key in 16 hex digits, so consecutive messages
//! share long prefixes in the output subjects and the `Nats-Msg-Id`s; with `uuid` it uses a
//! version-5 UUID derived from the key instead — the shape of trilink's message ids — so what
//! the subject contract and the ids cost the servers (subject trees, duplicate windows) is in
//! both paths.
//!
//! Larger messages (`trilink bench --raw-jetstream-pad`, issue 17): the ingress appends `pad`
//! zero bytes to each message before it is stored and the KR egress strips them before MQTT,
//! so every store, sourcing, delivery and hop carries them and the national ends do not —
//! what the size of the trilink path's stored form (a JSON envelope of ~740 bytes against the
//! raw path's ~180) costs the servers, apart from trilink's code.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use trilink_brokers::streams::{ConsumerDef, StreamPlan};
use trilink_brokers::{Link, Role, Site};
use trilink_runtime::nats::{
    Publisher, connect_once, durable_pull, egress_pull, jetstream as js_context,
};
use trilink_runtime::transport::{OutputConfig, Pending, Sink};
use trilink_schema::{Nation, headers};

use super::admin;
use super::measure::Probe;
use super::raw::RawPath;
use crate::configs;
use crate::error::{Result, failed};

/// The hub forwarder's durable consumer (a copy of the relay's).
const DURABLE: &str = "bench-raw-js";
/// Where the KR forwarder publishes, and the national subscriber listens.
const TOPIC: &str = "bench/raw-js/out";
/// The input subject: what adapter-jp publishes a launch detection on.
const IN_SUBJECT: &str = "tl.in.jp.launch_detection";

/// Which of the three stores a JP message released to KR is written to the raw-JetStream path
/// keeps (`broker-config/README.md`, "Stores per message"): JP leaf `IN_JP` and hub `OUT_KR`
/// always; hub `IN_JP` unless dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawJsStores {
    /// All three (`3`): the path as the trilink path stores.
    Three,
    /// Without the hub's `IN_JP` (`2`, also `no-hub-in`): the hub forwarder consumes the JP
    /// leaf's.
    Two,
}

impl RawJsStores {
    /// Every variant, in the order `--raw-jetstream-stores` names them.
    pub const ALL: [Self; 2] = [Self::Three, Self::Two];

    /// Whether the hub's `IN_JP` stores the message.
    pub fn hub_in(self) -> bool {
        matches!(self, Self::Three)
    }

    /// The variant's row in the report (the three-store path keeps its name).
    pub fn path_name(self) -> &'static str {
        match self {
            Self::Three => "raw-jetstream",
            Self::Two => "raw-jetstream (2 stores)",
        }
    }
}

/// One raw-JetStream row of a run: which stores, how many bytes each stored message carries
/// beyond the key and the JP frame, and the first key (message id) it sends, apart from the
/// other rows'.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Variant {
    pub(crate) stores: RawJsStores,
    pub(crate) pad: u32,
    pub(crate) ids: RawJsIds,
    pub(crate) first_key: u64,
}

impl Variant {
    /// The row's name in the report (`+N B` when padded, `uuid ids` with UUID-shaped ids).
    pub(crate) fn name(&self) -> String {
        let base = match (self.stores, self.pad) {
            (s, 0) => s.path_name().to_owned(),
            (RawJsStores::Three, p) => format!("raw-jetstream (+{p} B)"),
            (RawJsStores::Two, p) => format!("raw-jetstream (2 stores, +{p} B)"),
        };
        match self.ids {
            RawJsIds::Hex => base,
            RawJsIds::Uuid => match base.strip_suffix(')') {
                Some(open) => format!("{open}, uuid ids)"),
                None => format!("{base} (uuid ids)"),
            },
        }
    }
}

/// How the raw-JetStream path names each message in its subjects and `Nats-Msg-Id`s
/// (`trilink bench --raw-jetstream-ids`, issue 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RawJsIds {
    /// The frame's 8-byte key as 16 hex digits: consecutive keys share long prefixes (the
    /// default, as measured since session 6).
    #[default]
    Hex,
    /// A UUID (version 5, from the key) as trilink names a message: 36 characters, no
    /// shared prefix between consecutive messages — what the subject contract
    /// (`tl.out.<dest>.<kind>.<origin>.<message id>`) and the message ids cost the servers'
    /// subject trees and duplicate windows, apart from trilink's code.
    Uuid,
}

impl RawJsIds {
    /// Every kind, in the order `--raw-jetstream-ids hex,uuid` lists them.
    pub const ALL: [Self; 2] = [Self::Hex, Self::Uuid];
}

impl std::str::FromStr for RawJsIds {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "hex" => Ok(Self::Hex),
            "uuid" => Ok(Self::Uuid),
            other => Err(format!("{other:?}: expected hex or uuid")),
        }
    }
}

impl std::fmt::Display for RawJsIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hex => "hex",
            Self::Uuid => "uuid",
        })
    }
}

impl std::str::FromStr for RawJsStores {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "3" => Ok(Self::Three),
            "2" | "no-hub-in" => Ok(Self::Two),
            "4" | "no-leaf-out" => Err(format!(
                "{s:?}: the KR leaf's copy of OUT_KR (store 4) is gone from the link (issue 17); \
                 expected 3 or 2 (no-hub-in)"
            )),
            other => Err(format!("{other:?}: expected 3 or 2 (no-hub-in)")),
        }
    }
}

impl std::fmt::Display for RawJsStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Three => "3",
            Self::Two => "2",
        })
    }
}

/// A store whose sourcing a variant switched off: where, its configuration as the server
/// returned it (restored as is), and its last sequence once switched off.
struct Paused {
    site: Site,
    account: Nation,
    stream: &'static str,
    config: serde_json::Value,
    last_seq: u64,
}

/// The raw-JetStream path while it is set up; [`finish`](Self::finish) takes it down.
pub(crate) struct RawJs {
    /// The path as measured.
    pub(crate) path: RawPath,
    admin: Vec<(Site, Nation, jetstream::Context)>,
    /// The forwarder's two durables.
    durables: [Durable; 2],
    /// The stores switched off, to restore.
    paused: Vec<Paused>,
    /// How the variant was set up (where its consumers are), for the report.
    pub(crate) setup: Vec<String>,
}

/// A durable the forwarder reads: where it is, and — for a real one it borrowed — the
/// definition it is made again from once the path is done.
struct Durable {
    site: Site,
    account: Nation,
    stream: &'static str,
    name: String,
    remake: Option<ConsumerDef>,
}

/// The operations user's JetStream on `site` in `account`.
fn js_of(
    admin: &[(Site, Nation, jetstream::Context)],
    site: Site,
    account: Nation,
) -> Result<&jetstream::Context> {
    admin
        .iter()
        .find(|(s, a, _)| *s == site && *a == account)
        .map(|(_, _, js)| js)
        .ok_or_else(|| failed!("no operations connection to {site}/{account}"))
}

/// Put a paused stream's configuration back as it was; an error, or a configuration that
/// does not read back the same, is a note.
async fn restore(admin: &[(Site, Nation, jetstream::Context)], p: &Paused) -> Option<String> {
    let what = format!(
        "raw-jetstream: restoring the sources of {} {}",
        p.site, p.stream
    );
    let js = match js_of(admin, p.site, p.account) {
        Ok(js) => js,
        Err(e) => return Some(format!("{what}: {e}")),
    };
    if let Err(e) = api(js, format!("STREAM.UPDATE.{}", p.stream), &p.config).await {
        return Some(format!("{what}: {e}"));
    }
    match stream_info(js, p.stream).await {
        Ok((now, _)) if now == p.config => None,
        Ok((now, _)) => Some(format!("{what}: reads back {now}, was {}", p.config)),
        Err(e) => Some(format!("{what}: {e}")),
    }
}

/// A filter subject no message is published on: a source with it stores nothing.
const PAUSED_FILTER: &str = "tl.bench.paused";

/// A JetStream API request as raw JSON (so a configuration makes the round trip unchanged,
/// whatever fields this client does not know); an API error is an error.
async fn api(
    js: &jetstream::Context,
    subject: String,
    body: &serde_json::Value,
) -> Result<serde_json::Value> {
    let v: serde_json::Value = js
        .request(subject.clone(), body)
        .await
        .map_err(|e| failed!("{subject}: {e}"))?;
    match v.get("error") {
        Some(e) => Err(failed!("{subject}: {e}")),
        None => Ok(v),
    }
}

/// A stream's configuration and last sequence.
async fn stream_info(js: &jetstream::Context, stream: &str) -> Result<(serde_json::Value, u64)> {
    let info = api(js, format!("STREAM.INFO.{stream}"), &serde_json::json!({})).await?;
    let config = info
        .get("config")
        .cloned()
        .ok_or_else(|| failed!("STREAM.INFO.{stream}: no config"))?;
    let last = info
        .pointer("/state/last_seq")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    Ok((config, last))
}

/// Switch off the sourcing of `stream` (every source filtered to [`PAUSED_FILTER`]).
async fn pause(
    js: &jetstream::Context,
    site: Site,
    account: Nation,
    stream: &'static str,
) -> Result<Paused> {
    let (config, _) = stream_info(js, stream).await?;
    let mut off = config.clone();
    let sources = off
        .get_mut("sources")
        .and_then(serde_json::Value::as_array_mut)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| failed!("{site} {stream} has no sources to switch off"))?;
    for src in sources {
        if let Some(o) = src.as_object_mut() {
            o.insert("filter_subject".into(), PAUSED_FILTER.into());
        }
    }
    api(js, format!("STREAM.UPDATE.{stream}"), &off).await?;
    // Anything in flight from the source before the update lands now, not during the run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, last_seq) = stream_info(js, stream).await?;
    Ok(Paused {
        site,
        account,
        stream,
        config,
        last_seq,
    })
}

/// The durable `def` on `stream`: first across the JetStream domain `far` from `near` (as the
/// relay or adapter-kr would reach it), else with the far server's operations user `direct`.
/// Returns the consumer and how it was reached.
async fn far_consumer(
    near: &async_nats::Client,
    direct: &async_nats::Client,
    far: Site,
    def: &ConsumerDef,
    ack_timeout: Duration,
) -> Result<(jetstream::consumer::PullConsumer, String)> {
    let stream = def.stream.as_str();
    let cfg = StreamPlan::consumer_config(def);
    let across = js_context(near, Some(far.domain()), Duration::from_secs(2));
    let tried = async {
        across
            .get_stream(stream)
            .await
            .map_err(|e| e.to_string())?
            .get_or_create_consumer(DURABLE, cfg.clone())
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    match tried {
        Ok(c) => Ok((
            c,
            format!(
                "consumer on {far} {stream} across the domain (API prefix $JS.{}.API)",
                far.domain()
            ),
        )),
        Err(why) => {
            let c = js_context(direct, Some(far.domain()), ack_timeout)
                .get_stream(stream)
                .await
                .map_err(|e| failed!("{far} {stream}: {e}"))?
                .get_or_create_consumer(DURABLE, cfg)
                .await
                .map_err(|e| failed!("consumer {DURABLE} on {far} {stream}: {e}"))?;
            Ok((
                c,
                format!(
                    "consumer on {far} {stream} with {far}'s operations user (across the domain $JS.{}.API: {why})",
                    far.domain()
                ),
            ))
        }
    }
}

/// The relay's `[[consumer]]`: the one reading the hub's `IN_JP` in the JP account.
fn relay_durable(plan: &StreamPlan) -> Result<ConsumerDef> {
    plan.consumers_for(Site::Hub, Nation::Jp)
        .find(|c| c.stream == "IN_JP")
        .cloned()
        .ok_or_else(|| failed!("streams.toml has no consumer of IN_JP on hub/jp"))
}

/// The key the path's frames start with, as a subject token and message id, in the shape of
/// `ids`.
fn key_token(payload: &[u8], ids: RawJsIds) -> Option<String> {
    let k = payload.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok())?;
    let hex = format!("{:016x}", u64::from_be_bytes(k));
    Some(match ids {
        RawJsIds::Hex => hex,
        RawJsIds::Uuid => {
            trilink_schema::MessageId::derive(Nation::Jp, "bench-raw-js", &hex).to_string()
        }
    })
}

/// Set up the raw-JetStream path on `link` (KR broker at `mqtt_port`).
pub(crate) async fn start(
    link: &Link,
    mqtt_port: u16,
    procs: &[(String, u32)],
    tracks: u32,
    variant: Variant,
    stop: &CancellationToken,
) -> Result<RawJs> {
    let Variant {
        stores,
        pad,
        ids,
        first_key,
    } = variant;
    let stop = stop.child_token();
    let plan = link.plan().clone();
    let jp_cfg = configs::adapter_jp(link, 1, 9)?;
    let kr_cfg = configs::adapter_kr(link, mqtt_port)?;
    let relay_cfg = configs::relay_config(link)?;
    let ack_timeout = Duration::from_millis(jp_cfg.nats.ack_timeout_ms);

    // Operations users: the forwarder's connections, and the durables and purges.
    let jp_leaf = admin(link, Site::Jp, Nation::Jp).await?;
    let hub_jp = admin(link, Site::Hub, Nation::Jp).await?;
    let hub_kr = admin(link, Site::Hub, Nation::Kr).await?;
    let hub_us = admin(link, Site::Hub, Nation::Us).await?;
    let kr_leaf = admin(link, Site::Kr, Nation::Kr).await?;
    let admin = vec![
        (Site::Jp, Nation::Jp, jetstream::new(jp_leaf.clone())),
        (Site::Hub, Nation::Jp, jetstream::new(hub_jp.clone())),
        (Site::Hub, Nation::Kr, jetstream::new(hub_kr.clone())),
        (Site::Hub, Nation::Us, jetstream::new(hub_us.clone())),
        (Site::Kr, Nation::Kr, jetstream::new(kr_leaf.clone())),
    ];

    // The dropped stores stop sourcing (restored at `finish`, also when setting up fails).
    let mut paused = Vec::new();
    let mut setup = Vec::new();
    let consumers = async {
        if !stores.hub_in() {
            paused.push(
                pause(
                    js_of(&admin, Site::Hub, Nation::Jp)?,
                    Site::Hub,
                    Nation::Jp,
                    "IN_JP",
                )
                .await?,
            );
        }
        let mut hub_forwarder = None;
        // The relay's durable: with the hub's IN_JP, the real one, read and acknowledged as
        // the relay's JP user (the hub checks that user's every ack against its permissions,
        // as it checks the relay's); without it, a copy on the JP leaf.
        let relay_def = relay_durable(&plan)?;
        let hub_in = if stores.hub_in() {
            let relay_jp = link
                .connect(Role::Relay(Nation::Jp))
                .await
                .map_err(|e| failed!("raw-js hub forwarder as the relay's JP user: {e}"))?;
            let c = js_context(&relay_jp, Some(Site::Hub.domain()), ack_timeout)
                .get_consumer_from_stream::<pull::Config, _, _>(&relay_def.name, &relay_def.stream)
                .await
                .map_err(|e| {
                    failed!("consumer {} on hub {}: {e}", relay_def.name, relay_def.stream)
                })?;
            setup.push(format!(
                "hub forwarder: the relay's durable {} on hub {}, as the relay's JP user",
                relay_def.name, relay_def.stream
            ));
            hub_forwarder = Some(relay_jp);
            c
        } else {
            let mut copy = relay_def.clone();
            DURABLE.clone_into(&mut copy.name);
            let (c, how) = far_consumer(&hub_jp, &jp_leaf, Site::Jp, &copy, ack_timeout).await?;
            setup.push(format!("hub forwarder: {how}"));
            c
        };
        // As adapter-kr reads it: the hub's OUT_KR (no leaf copy, issue 17) through the KR
        // leaf, with adapter-kr's identity and durable.
        let eg = kr_cfg
            .egress
            .as_ref()
            .ok_or_else(|| failed!("adapter-kr's configuration has no [egress]"))?;
        let spec = eg.durable_spec(Nation::Kr);
        let domain = eg.domain(&kr_cfg.nats);
        let kr_client = connect_once(&kr_cfg.nats, "bench-raw-js-kr")
            .await
            .map_err(|e| failed!("raw-js KR forwarder as adapter-kr: {e}"))?;
        let kr_out = durable_pull(&js_context(&kr_client, domain, ack_timeout), &spec)
            .await
            .map_err(|e| failed!("raw-js KR forwarder: {e}"))?;
        setup.push(format!(
            "KR forwarder: adapter-kr's durable {} on {} {} through the KR leaf (JetStream domain {}), as adapter-kr",
            spec.durable,
            Site::Hub,
            spec.stream,
            domain.unwrap_or("of the leaf")
        ));
        let kr_def = plan
            .consumers_for(Site::Hub, Nation::Kr)
            .find(|c| c.name == spec.durable && c.stream == spec.stream)
            .cloned()
            .ok_or_else(|| failed!("streams.toml has no consumer {} of {}", spec.durable, spec.stream))?;
        Ok::<_, crate::error::LinkError>((hub_in, kr_out, kr_def, relay_def, hub_forwarder))
    }
    .await;
    let (hub_in, kr_out, kr_def, relay_def, hub_forwarder) = match consumers {
        Ok(c) => c,
        Err(e) => {
            for p in paused {
                let _ = restore(&admin, &p).await;
            }
            return Err(e);
        }
    };
    let durables = [
        if stores.hub_in() {
            Durable {
                site: Site::Hub,
                account: Nation::Jp,
                stream: "IN_JP",
                name: relay_def.name.clone(),
                remake: Some(relay_def),
            }
        } else {
            Durable {
                site: Site::Jp,
                account: Nation::Jp,
                stream: "IN_JP",
                name: DURABLE.to_owned(),
                remake: None,
            }
        },
        Durable {
            site: Site::Hub,
            account: Nation::Kr,
            stream: "OUT_KR",
            name: kr_def.name.clone(),
            remake: Some(kr_def),
        },
    ];

    // KR: the hub's OUT_KR → MQTT QoS 1, adapter-kr's batch and window.
    let Some(OutputConfig::Mqtt(mut mqtt)) = kr_cfg
        .egress
        .as_ref()
        .and_then(|e| e.outputs.first().cloned())
    else {
        return Err(failed!("adapter-kr's configuration has no MQTT output"));
    };
    TOPIC.clone_into(&mut mqtt.topic);
    "bench-raw-js-kr-out".clone_into(&mut mqtt.client_id);
    let (batch, window) = kr_cfg
        .egress
        .as_ref()
        .map_or((64, 1), |e| (e.batch, e.max_in_flight.max(1)));
    let sink = Sink::open_with_window(&OutputConfig::Mqtt(mqtt), Nation::Kr, window, stop.clone())
        .await
        .map_err(|e| failed!("raw-js MQTT output: {e}"))?;
    let pad = usize::try_from(pad).unwrap_or(0);
    tokio::spawn(egress(kr_out, sink, batch, window, pad, stop.clone()));

    // Hub: IN_JP → OUT_KR and OUT_US, the relay's window.
    let messages = hub_in
        .messages()
        .await
        .map_err(|e| failed!("consumer {DURABLE} on hub IN_JP: {e}"))?;
    // The outputs go out as the relay's own users (relay-kr, relay-us): the hub checks each
    // publish against their permissions, as it checks the relay's — a per-message cost of the
    // link's trust boundary (every output subject is new, so the server's permission cache
    // never holds it), not of trilink's code.
    let relay_user = |n: Nation| async move {
        link.connect(Role::Relay(n))
            .await
            .map_err(|e| failed!("raw-js hub forwarder as the relay's {n} user: {e}"))
    };
    let (relay_kr, relay_us) = (relay_user(Nation::Kr).await?, relay_user(Nation::Us).await?);
    let out = [
        (
            Nation::Kr,
            js_context(&relay_kr, Some(Site::Hub.domain()), ack_timeout),
        ),
        (
            Nation::Us,
            js_context(&relay_us, Some(Site::Hub.domain()), ack_timeout),
        ),
    ];
    tokio::spawn(relay(
        messages,
        out,
        relay_cfg.max_in_flight.max(1),
        ids,
        stop.clone(),
    ));

    // JP: UDP → JetStream on the leaf, adapter-jp's publish window.
    let publisher = Publisher::new(
        js_context(&jp_leaf, Some(Site::Jp.domain()), ack_timeout),
        Nation::Jp,
        jp_cfg.nats.max_in_flight,
        jp_cfg.nats.publish_retries,
    );
    let udp_in = UdpSocket::bind("127.0.0.1:0").await?;
    let target: SocketAddr = udp_in.local_addr()?;
    tokio::spawn(ingress(udp_in, publisher, pad, ids, stop.clone()));
    for c in [
        &jp_leaf, &hub_jp, &hub_kr, &hub_us, &kr_leaf, &relay_kr, &relay_us,
    ]
    .into_iter()
    .chain(hub_forwarder.as_ref())
    {
        c.flush().await.map_err(|e| failed!("{e}"))?;
    }

    let probe = Probe::keyed_mqtt(procs, mqtt_port, "bench-raw-js-national", TOPIC, &stop);
    tokio::time::sleep(Duration::from_secs(2)).await; // subscriptions settle
    let path = RawPath::new(probe, target, tracks, "rawjs", stop)
        .await?
        .first_key(first_key);
    Ok(RawJs {
        path,
        admin,
        durables,
        paused,
        setup,
    })
}

/// UDP in → acknowledged JetStream publish on the JP leaf (the adapter's publisher), each
/// message `pad` bytes longer than the datagram.
async fn ingress(
    udp_in: UdpSocket,
    publisher: Publisher,
    pad: usize,
    ids: RawJsIds,
    stop: CancellationToken,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let r = tokio::select! {
            () = stop.cancelled() => return,
            r = udp_in.recv_from(&mut buf) => r,
        };
        let Ok((n, _)) = r else { continue };
        let mut body = Vec::with_capacity(n + pad);
        body.extend_from_slice(buf.get(..n).unwrap_or_default());
        body.resize(n + pad, 0);
        let body = Bytes::from(body);
        let Some(id) = key_token(&body, ids) else {
            continue;
        };
        let published = tokio::select! {
            () = stop.cancelled() => return,
            r = publisher.publish_raw(IN_SUBJECT.to_owned(), id, body, "launch_detection", chrono::Utc::now(), None) => r,
        };
        if let Err(e) = published {
            tracing::warn!(error = %e, "raw-js ingress publish failed");
        }
    }
}

/// The hub's forwarder: every input to `OUT_KR` and `OUT_US` (both acknowledged), then the
/// input's ack; at most `window` inputs in flight.
async fn relay(
    mut messages: pull::Stream,
    out: [(Nation, jetstream::Context); 2],
    window: usize,
    ids: RawJsIds,
    stop: CancellationToken,
) {
    let mut inflight = FuturesUnordered::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            Some(()) = inflight.next(), if !inflight.is_empty() => {}
            m = messages.next(), if inflight.len() < window => match m {
                Some(Ok(msg)) => inflight.push(forward(msg, &out, ids)),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "raw-js hub consumer");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None => return,
            },
        }
    }
}

async fn forward(msg: jetstream::Message, out: &[(Nation, jetstream::Context); 2], ids: RawJsIds) {
    let id = key_token(&msg.payload, ids).unwrap_or_else(|| {
        msg.info()
            .map(|i| format!("s{}", i.stream_sequence))
            .unwrap_or_default()
    });
    let mut acks = Vec::with_capacity(out.len());
    for (dest, js) in out {
        let mut h = async_nats::HeaderMap::new();
        h.insert(headers::MSG_ID, format!("{id}.{dest}").as_str());
        let subject = format!("tl.out.{dest}.launch_detection.jp.{id}");
        match js
            .publish_with_headers(subject, h, msg.payload.clone())
            .await
        {
            Ok(ack) => acks.push(ack),
            Err(e) => {
                tracing::warn!(error = %e, "raw-js hub publish");
                let _ = msg.ack_with(AckKind::Nak(None)).await;
                return;
            }
        }
    }
    let stored =
        futures::future::join_all(acks.into_iter().map(std::future::IntoFuture::into_future)).await;
    if stored.iter().all(Result::is_ok) {
        if let Err(e) = msg.ack().await {
            tracing::warn!(error = %e, "raw-js hub ack");
        }
    } else {
        let _ = msg.ack_with(AckKind::Nak(None)).await;
    }
}

/// KR's forwarder: the hub's `OUT_KR` → MQTT QoS 1 without the last `pad` bytes the ingress
/// added, up to `window` publishes awaiting their PUBACK, each message acknowledged once its
/// PUBACK is in, in order.
async fn egress(
    consumer: jetstream::consumer::PullConsumer,
    sink: Sink,
    batch: usize,
    window: usize,
    pad: usize,
    stop: CancellationToken,
) {
    let mut line: VecDeque<(jetstream::Message, Pending)> = VecDeque::with_capacity(window);
    'outer: loop {
        // The adapter's own pull: the baseline differs from it only where it must.
        let mut messages = match egress_pull(&consumer, batch).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "raw-js KR pull");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(200)) => continue 'outer,
                }
            }
        };
        loop {
            enum Step {
                Front(bool),
                Next(Option<std::result::Result<Box<jetstream::Message>, pull::MessagesError>>),
            }
            let step = tokio::select! {
                biased;
                () = stop.cancelled() => return,
                ok = async {
                    match line.front_mut() {
                        Some((_, p)) => p.confirm().await.is_ok(),
                        None => std::future::pending().await,
                    }
                }, if !line.is_empty() => Step::Front(ok),
                n = messages.next(), if line.len() < window => Step::Next(n.map(|r| r.map(Box::new))),
            };
            match step {
                Step::Front(ok) => {
                    let Some((msg, _)) = line.pop_front() else {
                        continue;
                    };
                    let kind = if ok { AckKind::Ack } else { AckKind::Nak(None) };
                    if !ok {
                        sink.resume();
                    }
                    let _ = msg.ack_with(kind).await;
                }
                Step::Next(Some(Ok(msg))) => match sink
                    .start(
                        msg.payload
                            .get(..msg.payload.len().saturating_sub(pad))
                            .unwrap_or_default(),
                    )
                    .await
                {
                    Ok(p) => line.push_back((*msg, p)),
                    Err(e) => {
                        tracing::warn!(error = %e, "raw-js MQTT publish");
                        sink.resume();
                        let _ = msg.ack_with(AckKind::Nak(None)).await;
                    }
                },
                Step::Next(Some(Err(e))) => {
                    tracing::warn!(error = %e, "raw-js KR consumer");
                    continue 'outer;
                }
                Step::Next(None) => continue 'outer,
            }
        }
    }
}

impl RawJs {
    /// Stop the forwarder once its durables have nothing pending (at most `within`), delete
    /// them, purge every stream the path wrote and put back the sourcing of the stores the
    /// variant dropped (checking they stored nothing meanwhile). Returns notes on what did not
    /// go to plan.
    pub(crate) async fn finish(self, within: Duration) -> Vec<String> {
        let Self {
            path,
            admin,
            durables,
            paused,
            setup: _,
        } = self;
        let mut notes = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        for d in &durables {
            let Ok(js) = js_of(&admin, d.site, d.account) else {
                continue;
            };
            loop {
                let busy = match js
                    .get_consumer_from_stream::<pull::Config, _, _>(&d.name, d.stream)
                    .await
                {
                    Ok(mut c) => c.info().await.map_or(0, |i| {
                        i.num_pending + u64::try_from(i.num_ack_pending).unwrap_or(0)
                    }),
                    Err(_) => 0,
                };
                if busy == 0 {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    notes.push(format!(
                        "raw-jetstream: {busy} messages still pending on {} {}",
                        d.site, d.stream
                    ));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        drop(path);
        for d in &durables {
            if let Ok(js) = js_of(&admin, d.site, d.account)
                && let Err(e) = js.delete_consumer_from_stream(&d.name, d.stream).await
            {
                notes.push(format!(
                    "raw-jetstream: deleting {} on {} {}: {e}",
                    d.name, d.site, d.stream
                ));
            }
        }
        // A dropped store must have stored nothing.
        for p in &paused {
            if let Ok(js) = js_of(&admin, p.site, p.account) {
                match stream_info(js, p.stream).await {
                    Ok((_, last)) if last == p.last_seq => {}
                    Ok((_, last)) => notes.push(format!(
                        "raw-jetstream: {} {} stored {} messages while its sourcing was off",
                        p.site,
                        p.stream,
                        last.saturating_sub(p.last_seq)
                    )),
                    Err(e) => notes.push(format!("raw-jetstream: {} {}: {e}", p.site, p.stream)),
                }
            }
        }
        // Purge first, then restore: a restored source finds nothing of the variant's to
        // catch up on.
        for (site, account, stream) in [
            (Site::Jp, Nation::Jp, "IN_JP"),
            (Site::Hub, Nation::Jp, "IN_JP"),
            (Site::Hub, Nation::Kr, "OUT_KR"),
            (Site::Hub, Nation::Us, "OUT_US"),
        ] {
            let Ok(js) = js_of(&admin, site, account) else {
                continue;
            };
            let purged = match js.get_stream(stream).await {
                Ok(s) => s.purge().await.map(drop).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = purged {
                notes.push(format!("raw-jetstream: purging {site} {stream}: {e}"));
            }
        }
        for p in &paused {
            notes.extend(restore(&admin, p).await);
        }
        // The real durables the forwarder borrowed, made again as the link made them.
        for d in &durables {
            let Some(def) = &d.remake else { continue };
            let made = match js_of(&admin, d.site, d.account) {
                Ok(js) => match js.get_stream(d.stream).await {
                    Ok(s) => s
                        .create_consumer(StreamPlan::consumer_config(def))
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = made {
                notes.push(format!(
                    "raw-jetstream: making {} on {} {} again: {e}",
                    d.name, d.site, d.stream
                ));
            }
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_variants_parse_name_and_drop_what_they_say() {
        assert!(RawJsStores::Three.hub_in());
        assert!(!RawJsStores::Two.hub_in());
        for v in RawJsStores::ALL {
            assert_eq!(v.to_string().parse::<RawJsStores>(), Ok(v));
            assert!(v.path_name().starts_with("raw-jetstream"));
        }
        assert_eq!("no-hub-in".parse::<RawJsStores>(), Ok(RawJsStores::Two));
        // Padded rows say so; unpadded ones keep the store variant's name.
        let name = |stores, pad| {
            Variant {
                stores,
                pad,
                ids: RawJsIds::Hex,
                first_key: 0,
            }
            .name()
        };
        let uuid = |stores, pad| {
            Variant {
                stores,
                pad,
                ids: RawJsIds::Uuid,
                first_key: 0,
            }
            .name()
        };
        assert_eq!(uuid(RawJsStores::Three, 0), "raw-jetstream (uuid ids)");
        assert_eq!(
            uuid(RawJsStores::Three, 600),
            "raw-jetstream (+600 B, uuid ids)"
        );
        for ids in RawJsIds::ALL {
            assert_eq!(ids.to_string().parse::<RawJsIds>(), Ok(ids));
        }
        // Both shapes name a key the same way at ingress and at the hub, and differently
        // for different keys; the UUID shape is a message id as trilink's.
        let frame = |k: u64| k.to_be_bytes().to_vec();
        for ids in RawJsIds::ALL {
            assert_eq!(key_token(&frame(7), ids), key_token(&frame(7), ids));
            assert_ne!(key_token(&frame(7), ids), key_token(&frame(8), ids));
        }
        let u = key_token(&frame(7), RawJsIds::Uuid).unwrap();
        assert!(u.parse::<trilink_schema::MessageId>().is_ok(), "{u}");
        assert_eq!(
            key_token(&frame(7), RawJsIds::Hex).unwrap(),
            "0000000000000007"
        );
        assert_eq!(key_token(&[1, 2], RawJsIds::Uuid), None);
        assert_eq!(name(RawJsStores::Three, 0), "raw-jetstream");
        assert_eq!(name(RawJsStores::Three, 600), "raw-jetstream (+600 B)");
        assert_eq!(
            name(RawJsStores::Two, 600),
            "raw-jetstream (2 stores, +600 B)"
        );
        // The three-store path keeps the row name of the default output.
        assert_eq!(RawJsStores::Three.path_name(), "raw-jetstream");
        // Store 4 is gone from the topology: its variants are refused, saying why.
        for gone in ["4", "no-leaf-out"] {
            let e = gone.parse::<RawJsStores>().unwrap_err();
            assert!(e.contains("issue 17"), "{e}");
        }
    }
}
