//! # trilink-replay — send a capture into a live link, record what a link delivers
//!
//! The library under `trilink replay` and `trilink record` (the command only parses
//! arguments, prints and picks exit codes).
//!
//! ## Replay ([`replay`], [`replay_file`])
//!
//! - pcap / pcapng of national traffic: decoded with a [`trilink_capture::CaptureMap`]
//!   ([`ReplayOptions::map`], else `<capture stem>.map.toml` or `capture-map.toml` beside the
//!   capture, else [`trilink_capture::national_map`]) and the real national codecs; each
//!   national frame's exact bytes are sent to the adapter's national port ([`Target`]: UDP,
//!   TCP, or MQTT PUBLISH QoS 1 on the KR national broker, topic defaulting to the captured
//!   one).
//! - JSON Lines of envelopes: each envelope is published with JetStream on its recorded
//!   subject ([`NatsTarget`]), with `Nats-Msg-Id` = its message id like the adapters do.
//!   Records whose subject is not a trilink subject are rejected and counted.
//!
//! One file per job: [`load`](mod@load) reads and decodes the capture completely before the first send
//! (a bad capture sends nothing; [`load_envelopes`] reads one as envelopes for offline jobs such
//! as `trilink picture`) and rewrites every message once up front ([`rewrite`]:
//! `--mode`, `--timestamps`, the real-world refusal); [`sink`] holds the four transports;
//! [`clock`] is the sending thread, which prepares each message ahead, waits with the
//! [`pacer::Pacer`] (OS sleep to 100 µs before its due instant, busy-wait the rest) and hands
//! the message over: UDP/TCP with one blocking system call on std sockets, MQTT/NATS onto their
//! client's queue (the async runtime of the caller runs the connections). The timing error
//! recorded is (instant the send call returned − due instant); for MQTT that is the hand-off
//! to the client's queue, and the summary adds when the event loop wrote each PUBLISH.
//! At a recorded or scaled pace the clock thread asks for real-time scheduling ([`realtime`]);
//! [`schedstat`] reads the per-thread counters of `--timing-trace`; [`summary`] formats the
//! result; [`run`] ties them together.
//!
//! What the link did with what was sent ([`watch`], with [`ReplayOptions::dead_letters`]): a
//! subscription to the site's dead-letter subject made before the first send; the summary
//! counts the dead letters whose body is a message the replay sent, per `Tl-Reason`.
//!
//! A stop request (the caller's `stop` token: Ctrl-C) ends every wait — connecting, pacing,
//! a TCP peer that stopped reading, an MQTT broker or NATS server that stopped answering — and
//! the summary says `interrupted`.
//!
//! ## Record ([`record::record`])
//!
//! Subjects of a link to JSON Lines, or national outputs (UDP, TCP, MQTT) to pcapng with a
//! capture map beside it; see [`record`].
//!
//! ## What this crate must not do
//!
//! No national-format or routing knowledge (decoding is `trilink-capture` + the national
//! codecs, scheduling is `trilink_capture::Scheduler`), no printing (what a person should
//! know goes to the caller's [`Notice`]), no process exit codes.

#![forbid(unsafe_code)]

use std::sync::Arc;

pub mod clock;
pub mod dlq;
pub mod load;
pub mod options;
pub mod pacer;
pub mod realtime;
pub mod record;
pub mod rewrite;
pub mod run;
pub mod schedstat;
pub mod sink;
pub mod summary;
pub mod target;
pub mod watch;

pub use clock::Progress;
pub use load::{CapturedEnvelope, EnvelopeCapture, LoadedCapture, load, load_envelopes};
pub use options::{
    DEFAULT_RT_PRIORITY, DEFAULT_SPIN_US, DeadLetterWatch, ModeArg, NatsTarget, ReplayOptions,
    Selection, TimeSpec, TimestampsArg, parse_kind, parse_time,
};
pub use realtime::{ClockScheduling, raise_to_realtime};
pub use rewrite::real_world_refusal;
pub use run::{ReplayError, replay, replay_file};
pub use summary::ReplaySummary;
pub use target::{Target, parse_target};
pub use watch::DeadLetterReport;

/// Where a replay or recording tells a person what they should know while it runs (the
/// command prints each line on stderr, prefixed with its name).
pub type Notice = Arc<dyn Fn(&str) + Send + Sync>;
