//! # trilink-local-link — the whole three-nation link on this machine
//!
//! The harness `trilink demo`, `trilink bench`, `trilink policy test --live` and the link
//! tests share: [`LocalLink`] starts the hub and both leaves with mTLS
//! ([`trilink_brokers::Link`]), the KR national MQTT broker ([`mosquitto::Mosquitto`]), the
//! relay and the adapters ([`configs`]) on free loopback ports and stops them in order;
//! [`standins`] are the three national systems (sending and receiving in each nation's own
//! format on its own transport) and [`board`] what they saw.
//!
//! On top of it: [`demo`] (a scenario played through the link, a per-nation view and a
//! summary), [`bench`](mod@bench) (throughput and latency against a raw-NATS baseline in the same run),
//! [`policy_live`] (a capture through the real relay, compared with the offline prediction).
//!
//! What this crate must not do: contain protocol, codec or routing logic (the adapters, codecs
//! and relay are the real ones, driven through their libraries), or start anything it does not
//! stop: every process is stopped by PID, also when a [`LocalLink`] is dropped.

#![forbid(unsafe_code)]

pub mod bench;
pub mod board;
pub mod configs;
pub mod demo;
pub mod error;
pub mod harness;
pub mod latency;
pub mod mosquitto;
pub mod policy_live;
pub mod standins;

pub use error::LinkError;
pub use harness::LocalLink;
