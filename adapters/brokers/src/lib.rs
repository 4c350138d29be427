//! trilink's brokers: the nats-server topology of the link, as configs, stream definitions,
//! a development certificate script and a launcher.
//!
//! # What is here
//!
//! - `broker-config/conf/*.conf`: nats-server config templates (hub, 3-node hub cluster, JP
//!   and KR leaves, hub accounts) with `{{NAME}}` placeholders, embedded in [`conf`].
//!   One account per nation (JP, KR, US) plus SYS; no imports or exports between them, so the
//!   broker itself guarantees that KR never sees JP's input and JP never publishes as KR.
//!   Leaves connect only to the hub, over mutual TLS, mapped to their nation's account by
//!   certificate subject (`verify_and_map`).
//! - `broker-config/streams.toml`: every JetStream stream, created idempotently by
//!   [`streams::ensure_streams`] / [`streams::StreamPlan::ensure`].
//! - development CA and certificates, made in-process with rcgen ([`certs`]; not for production).
//! - [`launcher`]: [`Link::start`] renders the configs on free loopback ports, starts the hub
//!   (1 or 3 nodes) and both leaves, waits for health and leaf links, creates the streams;
//!   [`Link::connect`] / [`Link::credentials`] give each [`Role`] its connection;
//!   [`Link::stop`], [`Link::kill`], [`Link::restart`] / [`Link::restart_many`] (a whole
//!   clustered hub must come back together: one node alone has no JetStream quorum) drive
//!   servers for store-and-forward tests; [`Link::spawn_extra`] + [`Link::render_leaf`] start
//!   deliberately wrong leaves; every server is killed by PID when the [`Link`] is dropped.
//! - [`standalone::NatsServer`]: one nats-server from a config template (plain JetStream,
//!   users, TLS, accounts) through the same [`ServerProcess`]; [`mosquitto::Mosquitto`]: the
//!   MQTT broker of the demo and of the tests. With [`free_port_for`] these are the only
//!   places in the workspace that start brokers or pick ports.
//! - [`leafwatch`]: detection of a second leaf with one nation's identity (which the broker
//!   cannot refuse without costing failover): sans-IO counting of every hub node's `/leafz`
//!   and the decision, a thin polling loop, and its metrics (`trilink broker watch-leaves`).
//! - `testing` (feature `testing`, dev-dependencies only): the test kit on top of them —
//!   brokers that panic with a reason, stream setup, counts, waits, dead-letter readers.
//! - Roles and where they connect: `Role::Adapter(jp|kr)` on its leaf, `Role::Adapter(us)` and
//!   `Role::Relay(n)` (one user per nation account) on the hub, `Role::Admin(site, n)` for
//!   stream management. The relay consumes `IN_<N>` in account N at the hub
//!   ([`streams::relay_input_stream`]) and publishes `tl.out.<n>.…` through the same account;
//!   adapters consume [`streams::adapter_output_streams`] at the hub (JetStream domain `hub`;
//!   the JP and KR adapters through their leaf's link).
//!
//! ```no_run
//! # async fn f() -> Result<(), trilink_brokers::LaunchError> {
//! use trilink_brokers::{Link, LinkOptions, Role, ServerId};
//! use trilink_schema::Nation;
//! let mut link = Link::start(LinkOptions::default()).await?;
//! let jp = link.connect(Role::Adapter(Nation::Jp)).await?;      // on the JP leaf
//! let relay_kr = link.connect(Role::Relay(Nation::Kr)).await?;  // on the hub, KR account
//! link.stop(ServerId::hub(0))?;                                   // cut the hub
//! link.restart(ServerId::hub(0)).await?;
//! link.wait_leaf_links().await?;
//! link.shutdown()?;
//! # Ok(()) }
//! ```
//!
//! # What this crate must not do
//!
//! It holds no routing or validation logic (that is the relay's), opens no national
//! transports, and never weakens the account isolation for convenience: a component that
//! needs another nation's subjects goes through the relay. Passwords it generates are for
//! development links only; production credentials live outside this repository (README).

#![forbid(unsafe_code)]

pub mod certs;
pub mod conf;
pub mod launcher;
pub mod leafwatch;
pub mod mosquitto;
pub mod standalone;
pub mod streams;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;

use serde::Deserialize;
use trilink_schema::Nation;

pub use launcher::{
    Credentials, LaunchError, Link, LinkOptions, PortKind, Role, ServerId, ServerProcess,
    find_server_bin, free_port, free_port_for, free_udp_port,
};
pub use mosquitto::Mosquitto;
pub use standalone::NatsServer;

/// A broker site: the hub (the US node) or a nation's leaf. Also the JetStream domain name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    /// The hub (US node), JetStream domain `hub`.
    Hub,
    /// The JP leaf, domain `jp`.
    Jp,
    /// The KR leaf, domain `kr`.
    Kr,
}

impl Site {
    /// JetStream domain of the site.
    pub const fn domain(self) -> &'static str {
        match self {
            Site::Hub => "hub",
            Site::Jp => "jp",
            Site::Kr => "kr",
        }
    }

    /// The nation operating the site (the hub is the US node).
    pub const fn nation(self) -> Nation {
        match self {
            Site::Hub => Nation::Us,
            Site::Jp => Nation::Jp,
            Site::Kr => Nation::Kr,
        }
    }

    /// The site a nation's adapter connects to: its leaf, or the hub for the US.
    pub const fn home_of(nation: Nation) -> Site {
        match nation {
            Nation::Jp => Site::Jp,
            Nation::Kr => Site::Kr,
            Nation::Us => Site::Hub,
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.domain())
    }
}
