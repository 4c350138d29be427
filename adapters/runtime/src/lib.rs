//! # trilink-runtime — what every trilink process shares
//!
//! - [`config`]: TOML + `TRILINK__SECTION__KEY` environment overrides + validation, errors
//!   naming the file and the dotted key.
//! - [`telemetry`]: `tracing` (text or JSON lines), Prometheus `/metrics`, `/healthz`,
//!   `/readyz`, and [`telemetry::events`] — the one place things that happen are counted and
//!   logged.
//! - [`shutdown`]: a cancellation token triggered by SIGINT/SIGTERM.
//! - [`transport`]: national transports — UDP (unicast, multicast), TCP (server, client with
//!   reconnect backoff) through [`transport::StreamDecoder`], MQTT (rumqttc, QoS 1).
//! - [`nats`]: connection options, JetStream publishing with `Nats-Msg-Id` and bounded
//!   in-flight acks, dead letters on `tl.dlq.<site>`, durable pull consumers.
//! - [`adapter`]: the generic adapter process over any [`trilink_schema::NationalCodec`].
//!
//! What this crate must **not** do: know any national format (codecs live in `trilink-jp`,
//! `trilink-kr`, `trilink-us` and are driven through the trait), make routing decisions (the
//! relay's policy engine), or panic on anything read from a socket, broker or file.

#![forbid(unsafe_code)]

pub mod adapter;
pub mod config;
pub mod nats;
pub mod shutdown;
pub mod telemetry;
pub mod transport;

pub use shutdown::CancellationToken;
