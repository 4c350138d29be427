//! # trilink-runtime — what every trilink process shares
//!
//! - [`config`]: TOML + `TRILINK__SECTION__KEY` environment overrides + validation, errors
//!   naming the file (or the overriding variable) and the dotted key; [`config::explain`] lists
//!   the effective settings with their source, secrets masked (`--print-config`).
//! - [`check`]: checks that need no network (`--check`): URL syntax, ports, files readable,
//!   certificates parse and are inside their validity period, creds files and nkey seeds.
//! - [`telemetry`]: `tracing` (text or JSON lines), Prometheus `/metrics`, `/healthz`,
//!   `/readyz`, and [`telemetry::events`] — the one place things that happen are counted and
//!   logged.
//! - [`shutdown`]: a cancellation token triggered by SIGINT/SIGTERM.
//! - [`transport`]: national transports, one file each — UDP (unicast, multicast), TCP
//!   (server, client with reconnect backoff) through [`transport::StreamDecoder`] (the schema's
//!   one stream framer), MQTT (rumqttc, QoS 1; optional TLS with mutual authentication from
//!   [`tls`]).
//! - [`mqtt_client`]: the MQTT client of the tools and stand-ins (replay, record, the demo's KR
//!   system, bench): connect and wait for CONNACK, publish at QoS 1 counting PUBACKs, subscribe.
//! - [`tls`]: rustls client configurations from PEM files (MQTT `tls` tables).
//! - [`nats`]: connection options, JetStream publishing with `Nats-Msg-Id` and bounded
//!   in-flight acks, dead letters on `tl.dlq.<site>`, durable pull consumers.
//! - [`core`]: the adapter's pure core — `ingest` (national bytes → envelope or reject) and
//!   `prepare_egress` (envelope JSON → national frame or reject), time passed in, no I/O.
//! - [`adapter`]: the generic adapter process over any [`trilink_schema::NationalCodec`]: an
//!   `Adapter` that starts its egress, ingress and heartbeat tasks around [`core`].
//! - [`journal`]: the egress journal of delivered message ids (`[egress] state_dir`), so that
//!   a restarted adapter does not deliver a message again.
//!
//! ## Running an adapter (what `trilink adapter --config <file>` does)
//!
//! ```ignore
//! let cfg: AdapterConfig = trilink_runtime::config::load(path)?;      // TOML + TRILINK__* env
//! trilink_runtime::telemetry::init_logging(cfg.telemetry.log_format, &cfg.telemetry.log_filter)?;
//! let token = trilink_runtime::shutdown::signal_token();               // SIGINT / SIGTERM
//! let summary = match cfg.adapter.nation {
//!     Nation::Jp => adapter::run(cfg, trilink_jp::JpCodec::new(), token).await?,
//!     Nation::Kr => adapter::run(cfg, trilink_kr::KrCodec, token).await?,
//!     Nation::Us => adapter::run(cfg, trilink_us::UsCodec::new(), token).await?,
//! };
//! ```
//!
//! Example configs: `adapters/runtime/examples/adapter-{jp,kr,us}.toml`. Measurements:
//! `cargo run --release -p trilink-runtime --example adapter_throughput -- 50000` and
//! `… --example adapter_latency -- 1000 5` (both start their own nats-server).
//!
//! What this crate must **not** do: know any national format (codecs live in `trilink-jp`,
//! `trilink-kr`, `trilink-us` and are driven through the trait), make routing decisions (the
//! relay's policy engine), or panic on anything read from a socket, broker or file.

#![forbid(unsafe_code)]

pub mod adapter;
pub mod check;
pub mod config;
pub mod core;
pub mod inspect;
pub mod journal;
pub mod mqtt_client;
pub mod nats;
pub mod shutdown;
pub mod status;
pub mod telemetry;
pub mod tls;
pub mod transport;

pub use shutdown::CancellationToken;
