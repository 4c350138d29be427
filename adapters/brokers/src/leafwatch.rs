//! Watch the hub for a second leaf connection with one nation's identity (issue 13).
//!
//! The hub maps a leaf to a nation's account by its certificate; nats-server has no setting that
//! limits one *user* to one leaf connection, and the account limit `max_leafnodes: 1` broke hub
//! failover (`broker-config/SECURITY.md`, residual risks). So a second leaf holding JP's
//! certificate and key is accepted beside the real one. It cannot be prevented without costing
//! the genuine leaf's availability; it is **detected** here and alerted on.
//!
//! Every hub node's monitoring endpoint `/leafz` lists the leaf connections it accepted, each
//! with the account it is bound to. The watcher reads `/leafz` of every hub node, counts the
//! connections per account and node, sums each account over the nodes (a rogue leaf on another
//! node than the real one is still a second leaf), and flags every account with more than
//! [`WatchConfig::max_per_account`] (1) connections.
//!
//! - Pure, sans-IO: [`parse_leafz`] (the JSON body → [`Leafz`]), [`LeafTally::count`] (one poll
//!   of every node → counts) and [`LeafWatch::observe`] (counts → the happenings since the
//!   last poll, [`LeafEvent`]).
//! - IO: [`fetch_leafz`] (one `GET /leafz`, plain HTTP with a timeout and a size cap),
//!   [`poll`] (every node at once) and [`run`] (the loop: poll, count, decide, report).
//! - [`events`]: the one place where what the watcher sees is both logged and counted.
//!
//! Metrics (exported by whoever installed a `metrics` recorder, e.g. `trilink broker
//! watch-leaves --metrics-listen`): gauges `trilink_hub_leaf_connections{account,server}`,
//! `trilink_hub_leaf_identity_duplicated{account}` (1 while an account has more than one leaf
//! over all nodes: the alert's signal), `trilink_hub_monitor_up{server}` (0 while a node's
//! `/leafz` cannot be read: its leaves are not counted), and the counter
//! `trilink_hub_leaf_duplicates_total{account}` (one per happening) and
//! `trilink_hub_leaf_relinks_total{account}` (connections new since the previous poll: a
//! flapping link, or two servers with one identity and one server name, which a hub node lets
//! replace each other so that each poll counts only one).
//!
//! It must not change the brokers: it only reads monitoring endpoints, never disconnects a leaf
//! (revoking is the operator's decision: `broker-config/SECURITY.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// What went wrong reading a monitoring endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeafzError {
    /// The monitor address is not `http://host:port` (optionally `name=http://host:port`).
    #[error("monitor {0:?}: expected http://host:port or name=http://host:port")]
    Address(String),
    /// The endpoint could not be reached or read in time.
    #[error("GET {url}: {detail}")]
    Http {
        /// What was asked.
        url: String,
        /// Why it failed.
        detail: String,
    },
    /// The answer is not a `/leafz` document.
    #[error("/leafz is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A hub node's monitoring endpoint, and the name its counts are reported under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorTarget {
    /// Label `server` of its metrics (the given name, else `host:port`).
    pub server: String,
    /// Host (name or address).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl MonitorTarget {
    /// Parse `http://host:port` or `name=http://host:port` (HTTPS monitoring is not supported:
    /// the shipped configs listen on `127.0.0.1` in plain HTTP).
    pub fn parse(text: &str) -> Result<Self, LeafzError> {
        let bad = || LeafzError::Address(text.to_owned());
        let (name, url) = match text.split_once('=') {
            Some((n, u)) if !n.is_empty() => (Some(n), u),
            Some(_) => return Err(bad()),
            None => (None, text),
        };
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') {
            return Err(bad());
        }
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(MonitorTarget {
            server: name.map_or_else(|| authority.to_owned(), str::to_owned),
            host: host.to_owned(),
            port,
        })
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }
}

/// The part of a `/leafz` answer the watcher uses (nats-server 2.9 and 2.10+ alike).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Leafz {
    /// The leaf connections (`null` when there are none).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub leafs: Vec<LeafConn>,
}

/// One leaf connection as a server lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LeafConn {
    /// The local account the connection is bound to (the nation's, by its certificate).
    pub account: String,
    /// The remote server's name (2.10+; empty on 2.9, and chosen by the remote: never an
    /// identity).
    #[serde(default)]
    pub name: String,
    /// Remote address.
    #[serde(default)]
    pub ip: String,
    /// Remote port.
    #[serde(default)]
    pub port: u16,
    /// Whether this server solicited the connection (2.10+): its own outgoing link, not a leaf
    /// connecting in. Not counted.
    #[serde(default)]
    pub is_spoke: bool,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Parse a `/leafz` body.
pub fn parse_leafz(body: &[u8]) -> Result<Leafz, LeafzError> {
    Ok(serde_json::from_slice(body)?)
}

/// One node's answer in one poll.
#[derive(Debug, Clone)]
pub struct ServerReport {
    /// The node ([`MonitorTarget::server`]).
    pub server: String,
    /// Its `/leafz`, or why it could not be read.
    pub leafz: Result<Leafz, String>,
}

/// Where one leaf connection of an account was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeenLeaf {
    /// The hub node that accepted it.
    pub server: String,
    /// The remote `ip:port`.
    pub remote: String,
    /// The remote server's self-declared name (may be empty).
    pub name: String,
}

/// The leaf connections of one poll, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafTally {
    /// Connections per (account, node), for every reachable node and every account seen or
    /// expected (0 included).
    pub per_server: BTreeMap<(String, String), u64>,
    /// Connections per account, summed over the reachable nodes.
    pub per_account: BTreeMap<String, u64>,
    /// Each account's connections, where they are.
    pub leaves: BTreeMap<String, Vec<SeenLeaf>>,
    /// Nodes whose `/leafz` could not be read, with the reason.
    pub unreachable: BTreeMap<String, String>,
}

impl LeafTally {
    /// Count one poll. `expected` accounts (the nations that have a leaf: JP, KR) are reported
    /// even with no connection, so that their series exist at 0.
    pub fn count(reports: &[ServerReport], expected: &[String]) -> Self {
        let mut t = LeafTally::default();
        for a in expected {
            t.per_account.entry(a.clone()).or_insert(0);
        }
        for r in reports {
            let leafz = match &r.leafz {
                Ok(l) => l,
                Err(e) => {
                    t.unreachable.insert(r.server.clone(), e.clone());
                    continue;
                }
            };
            for a in expected {
                t.per_server
                    .entry((a.clone(), r.server.clone()))
                    .or_insert(0);
            }
            for leaf in leafz.leafs.iter().filter(|l| !l.is_spoke) {
                *t.per_server
                    .entry((leaf.account.clone(), r.server.clone()))
                    .or_insert(0) += 1;
                *t.per_account.entry(leaf.account.clone()).or_insert(0) += 1;
                t.leaves
                    .entry(leaf.account.clone())
                    .or_default()
                    .push(SeenLeaf {
                        server: r.server.clone(),
                        remote: format!("{}:{}", leaf.ip, leaf.port),
                        name: leaf.name.clone(),
                    });
            }
        }
        t
    }
}

/// What the watcher decides with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// Leaf connections one account may have over all hub nodes (1: one leaf per nation).
    pub max_per_account: u64,
    /// Accounts that have a leaf (their series exist at 0).
    pub accounts: Vec<String>,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            max_per_account: 1,
            accounts: vec!["JP".into(), "KR".into()],
        }
    }
}

/// A happening, reported once when it begins and once when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafEvent {
    /// An account now has more leaf connections than allowed: a second leaf with the nation's
    /// identity (or a stale connection the hub has not noticed yet).
    Duplicated {
        /// The account.
        account: String,
        /// Its connections over all reachable nodes.
        count: u64,
        /// Where they are.
        leaves: Vec<SeenLeaf>,
    },
    /// The account is back within its allowance.
    DuplicateCleared {
        /// The account.
        account: String,
        /// Its connections now.
        count: u64,
    },
    /// A node's `/leafz` cannot be read: its leaves are not counted.
    MonitorUnreachable {
        /// The node.
        server: String,
        /// Why.
        error: String,
    },
    /// A node's `/leafz` answers again.
    MonitorBack {
        /// The node.
        server: String,
    },
    /// A connection of the account that the previous poll did not list (a new remote
    /// address, or another node): a leaf relinked. Normal after a cut or a hub node's failure;
    /// many in a row are a flapping link — or two servers with one identity *and* one server
    /// name, which a hub node lets replace each other (each poll then counts one leaf).
    Relinked {
        /// The account.
        account: String,
        /// The new connection.
        leaf: SeenLeaf,
    },
}

/// The watcher's memory between polls: which accounts are over their allowance and which
/// nodes are unreachable, so each happening is reported once.
#[derive(Debug, Clone, Default)]
pub struct LeafWatch {
    config: WatchConfig,
    duplicated: BTreeSet<String>,
    unreachable: BTreeSet<String>,
    /// Each account's connections in the previous poll (`None` before the first).
    previous: Option<BTreeMap<String, BTreeSet<SeenLeaf>>>,
}

impl LeafWatch {
    /// A watcher that has seen nothing yet.
    pub fn new(config: WatchConfig) -> Self {
        LeafWatch {
            config,
            ..LeafWatch::default()
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &WatchConfig {
        &self.config
    }

    /// Whether `count` connections of one account exceed the allowance.
    pub fn is_duplicate(&self, count: u64) -> bool {
        count > self.config.max_per_account
    }

    /// Accounts over their allowance as of the last [`observe`](Self::observe).
    pub fn duplicated(&self) -> &BTreeSet<String> {
        &self.duplicated
    }

    /// Take one poll's counts; return what began or ended since the previous one.
    pub fn observe(&mut self, tally: &LeafTally) -> Vec<LeafEvent> {
        let mut events = Vec::new();
        let now: BTreeMap<String, BTreeSet<SeenLeaf>> = tally
            .leaves
            .iter()
            .map(|(a, v)| (a.clone(), v.iter().cloned().collect()))
            .collect();
        if let Some(before) = &self.previous {
            for (account, leaves) in &now {
                let known = before.get(account);
                for leaf in leaves {
                    // A node that was unreadable last time lists only "new" connections.
                    if known.is_some_and(|k| k.contains(leaf))
                        || self.unreachable.contains(&leaf.server)
                    {
                        continue;
                    }
                    events.push(LeafEvent::Relinked {
                        account: account.clone(),
                        leaf: leaf.clone(),
                    });
                }
            }
        }
        self.previous = Some(now);
        let down: BTreeSet<String> = tally.unreachable.keys().cloned().collect();
        for server in down.difference(&self.unreachable) {
            events.push(LeafEvent::MonitorUnreachable {
                server: server.clone(),
                error: tally.unreachable.get(server).cloned().unwrap_or_default(),
            });
        }
        for server in self.unreachable.difference(&down) {
            events.push(LeafEvent::MonitorBack {
                server: server.clone(),
            });
        }
        self.unreachable = down;

        let over: BTreeSet<String> = tally
            .per_account
            .iter()
            .filter(|(_, n)| self.is_duplicate(**n))
            .map(|(a, _)| a.clone())
            .collect();
        for account in over.difference(&self.duplicated) {
            events.push(LeafEvent::Duplicated {
                account: account.clone(),
                count: tally.per_account.get(account).copied().unwrap_or(0),
                leaves: tally.leaves.get(account).cloned().unwrap_or_default(),
            });
        }
        for account in self.duplicated.difference(&over) {
            events.push(LeafEvent::DuplicateCleared {
                account: account.clone(),
                count: tally.per_account.get(account).copied().unwrap_or(0),
            });
        }
        self.duplicated = over;
        events
    }
}

// ------------------------------------------------------------------------------------ IO

/// Largest monitoring answer read (a `/leafz` of a few leaves is a few KiB).
pub const MAX_MONITOR_BODY: u64 = 4 * 1024 * 1024;

/// `GET path` over plain HTTP/1.0 from `host:port`: the status code and the body (at most
/// [`MAX_MONITOR_BODY`] bytes), within `timeout`. Shared with the launcher's
/// [`crate::ServerProcess::monitor`].
pub(crate) async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| e.to_string())?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        (&mut stream)
            .take(MAX_MONITOR_BODY + 64 * 1024)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(buf)
    };
    let buf = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))??;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header end")?;
    let (head, body) = buf.split_at(split);
    let body = body.get(4..).unwrap_or_default();
    if body.len() as u64 > MAX_MONITOR_BODY {
        return Err(format!("answer larger than {MAX_MONITOR_BODY} bytes"));
    }
    let status = String::from_utf8_lossy(head)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("no HTTP status line")?;
    Ok((status, body.to_vec()))
}

/// Read one node's `/leafz`.
pub async fn fetch_leafz(target: &MonitorTarget, timeout: Duration) -> Result<Leafz, LeafzError> {
    let url = format!("{}/leafz", target.url());
    let http = |detail: String| LeafzError::Http {
        url: url.clone(),
        detail,
    };
    let (status, body) = http_get(&target.host, target.port, "/leafz", timeout)
        .await
        .map_err(http)?;
    if status != 200 {
        return Err(http(format!("status {status}")));
    }
    parse_leafz(&body)
}

/// Read every node's `/leafz` at once.
pub async fn poll(targets: &[MonitorTarget], timeout: Duration) -> Vec<ServerReport> {
    futures::future::join_all(targets.iter().map(|t| async move {
        ServerReport {
            server: t.server.clone(),
            leafz: fetch_leafz(t, timeout).await.map_err(|e| e.to_string()),
        }
    }))
    .await
}

/// Poll `targets` every `interval` until `shutdown` completes: count, decide, report every
/// happening through [`events`] and set the gauges. The first poll is immediate.
pub async fn run(
    targets: &[MonitorTarget],
    config: WatchConfig,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    events::describe(&config.accounts);
    let mut watch = LeafWatch::new(config);
    let mut exported = BTreeSet::new();
    let timeout = interval.clamp(Duration::from_millis(200), Duration::from_secs(5));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        let reports = poll(targets, timeout).await;
        let tally = LeafTally::count(&reports, &watch.config().accounts);
        events::gauges(&tally, &watch, &mut exported, targets);
        for e in watch.observe(&tally) {
            events::happened(&e);
        }
    }
}

pub mod events {
    //! Everything the leaf watcher reports: each happening is logged (`tracing`) and counted
    //! (`metrics`) by one function, never one without the other.

    use std::collections::BTreeSet;

    use super::{LeafEvent, LeafTally, LeafWatch, MonitorTarget};

    /// Describe the metrics; the happening counter of every expected account starts at 0 (an
    /// `increase()` sees the first happening).
    pub fn describe(accounts: &[String]) {
        metrics::describe_gauge!(
            "trilink_hub_leaf_connections",
            "Leaf connections a hub node has accepted, by account (nation identity) and node"
        );
        metrics::describe_gauge!(
            "trilink_hub_leaf_identity_duplicated",
            "1 while an account has more leaf connections over all hub nodes than allowed (one per nation)"
        );
        metrics::describe_gauge!(
            "trilink_hub_monitor_up",
            "1 when the hub node's /leafz was read in the last poll, 0 when it could not be (its leaves are not counted)"
        );
        metrics::describe_counter!(
            "trilink_hub_leaf_duplicates_total",
            "Times an account went over its leaf connection allowance"
        );
        metrics::describe_counter!(
            "trilink_hub_leaf_relinks_total",
            "Leaf connections of an account that were not there in the previous poll (relinks)"
        );
        for a in accounts {
            for name in [
                "trilink_hub_leaf_duplicates_total",
                "trilink_hub_leaf_relinks_total",
            ] {
                metrics::counter!(name, "account" => a.clone()).absolute(0);
            }
        }
    }

    /// Set the gauges from one poll. Series of an earlier poll that this one no longer has
    /// (a leaf gone, a node unreachable) are set to 0, never left at their old value.
    pub fn gauges(
        tally: &LeafTally,
        watch: &LeafWatch,
        exported: &mut BTreeSet<(String, String)>,
        targets: &[MonitorTarget],
    ) {
        for t in targets {
            let up = !tally.unreachable.contains_key(&t.server);
            metrics::gauge!("trilink_hub_monitor_up", "server" => t.server.clone()).set(if up {
                1.0
            } else {
                0.0
            });
        }
        for key in exported.iter() {
            if !tally.per_server.contains_key(key) {
                let (account, server) = key.clone();
                metrics::gauge!("trilink_hub_leaf_connections", "account" => account, "server" => server)
                    .set(0.0);
            }
        }
        for ((account, server), n) in &tally.per_server {
            metrics::gauge!("trilink_hub_leaf_connections", "account" => account.clone(), "server" => server.clone())
                .set(*n as f64);
            exported.insert((account.clone(), server.clone()));
        }
        for (account, n) in &tally.per_account {
            let dup = watch.is_duplicate(*n);
            metrics::gauge!("trilink_hub_leaf_identity_duplicated", "account" => account.clone())
                .set(if dup { 1.0 } else { 0.0 });
        }
    }

    /// Log and count one happening.
    pub fn happened(e: &LeafEvent) {
        match e {
            LeafEvent::Duplicated {
                account,
                count,
                leaves,
            } => {
                let at: Vec<String> = leaves
                    .iter()
                    .map(|l| {
                        if l.name.is_empty() {
                            format!("{} from {}", l.server, l.remote)
                        } else {
                            format!("{} from {} ({})", l.server, l.remote, l.name)
                        }
                    })
                    .collect();
                tracing::warn!(
                    account,
                    count,
                    leaves = %at.join("; "),
                    "more than one leaf connection with one nation's identity: a second leaf holds its certificate (or the hub has not yet dropped a stale link); revoke it if it is not the nation's (broker-config/SECURITY.md)"
                );
                metrics::counter!("trilink_hub_leaf_duplicates_total", "account" => account.clone())
                    .increment(1);
            }
            LeafEvent::DuplicateCleared { account, count } => {
                tracing::info!(
                    account,
                    count,
                    "leaf connections of the nation back within allowance"
                );
            }
            LeafEvent::MonitorUnreachable { server, error } => {
                tracing::warn!(
                    server,
                    error,
                    "hub node's /leafz cannot be read: its leaf connections are not counted"
                );
            }
            LeafEvent::MonitorBack { server } => {
                tracing::info!(server, "hub node's /leafz answers again");
            }
            LeafEvent::Relinked { account, leaf } => {
                tracing::info!(
                    account,
                    server = leaf.server,
                    remote = leaf.remote,
                    name = leaf.name,
                    "leaf connection (re)linked"
                );
                metrics::counter!("trilink_hub_leaf_relinks_total", "account" => account.clone())
                    .increment(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    /// A `/leafz` answer of nats-server 2.9.10 (no `name`, no `is_spoke`).
    const LEAFZ_2_9: &str = r#"{"server_id":"NABC","now":"2026-12-07T09:00:00Z","leafnodes":2,
      "leafs":[{"account":"JP","ip":"127.0.0.1","port":40001,"rtt":"1ms","in_msgs":3,"out_msgs":4,
      "in_bytes":10,"out_bytes":20,"subscriptions":5},
      {"account":"KR","ip":"127.0.0.1","port":40002,"in_msgs":0,"out_msgs":0,"in_bytes":0,
      "out_bytes":0,"subscriptions":1}]}"#;
    /// 2.10+ shape, with a solicited link (its own) that must not count.
    const LEAFZ_2_15: &str = r#"{"server_id":"NDEF","now":"2026-12-07T09:00:00Z","leafnodes":2,
      "leafs":[{"id":7,"name":"leaf-jp","is_spoke":false,"account":"JP","ip":"10.0.0.5","port":5000,
      "in_msgs":0,"out_msgs":0,"in_bytes":0,"out_bytes":0,"subscriptions":0},
      {"id":8,"name":"other","is_spoke":true,"account":"JP","ip":"10.0.0.9","port":7422,
      "in_msgs":0,"out_msgs":0,"in_bytes":0,"out_bytes":0,"subscriptions":0}]}"#;
    const LEAFZ_NONE: &str =
        r#"{"server_id":"N","now":"2026-12-07T09:00:00Z","leafnodes":0,"leafs":null}"#;

    fn ok(server: &str, body: &str) -> ServerReport {
        ServerReport {
            server: server.into(),
            leafz: Ok(parse_leafz(body.as_bytes()).unwrap()),
        }
    }

    fn down(server: &str) -> ServerReport {
        ServerReport {
            server: server.into(),
            leafz: Err("connection refused".into()),
        }
    }

    fn accounts() -> Vec<String> {
        WatchConfig::default().accounts
    }

    #[test]
    fn parses_both_server_versions_and_an_empty_list() {
        let a = parse_leafz(LEAFZ_2_9.as_bytes()).unwrap();
        assert_eq!(a.leafs.len(), 2);
        assert_eq!(a.leafs[0].account, "JP");
        assert_eq!(a.leafs[0].port, 40001);
        assert!(a.leafs[0].name.is_empty());
        let b = parse_leafz(LEAFZ_2_15.as_bytes()).unwrap();
        assert_eq!(b.leafs[0].name, "leaf-jp");
        assert!(b.leafs[1].is_spoke);
        assert!(parse_leafz(LEAFZ_NONE.as_bytes()).unwrap().leafs.is_empty());
        assert!(parse_leafz(br#"{"leafnodes":0}"#).unwrap().leafs.is_empty());
        for bad in [
            &b"<html>"[..],
            b"",
            br#"{"leafs":[{"ip":"x"}]}"#,
            b"\xff\xfe",
        ] {
            assert!(parse_leafz(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn monitor_addresses() {
        let t = MonitorTarget::parse("http://127.0.0.1:8222").unwrap();
        assert_eq!(
            (t.server.as_str(), t.host.as_str(), t.port),
            ("127.0.0.1:8222", "127.0.0.1", 8222)
        );
        assert_eq!(t.url(), "http://127.0.0.1:8222");
        let t = MonitorTarget::parse("hub-2=http://hub-2.example:8222/").unwrap();
        assert_eq!(
            (t.server.as_str(), t.host.as_str()),
            ("hub-2", "hub-2.example")
        );
        let t = MonitorTarget::parse("http://[::1]:8222").unwrap();
        assert_eq!(
            (t.host.as_str(), t.url().as_str()),
            ("::1", "http://[::1]:8222")
        );
        for bad in [
            "127.0.0.1:8222",
            "https://h:8222",
            "http://h",
            "http://h:0",
            "http://h:99999",
            "http://:8222",
            "=http://h:1",
            "http://h:8222/leafz",
        ] {
            assert!(MonitorTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_leaf_per_nation_is_quiet() {
        let t = LeafTally::count(&[ok("hub-0", LEAFZ_2_9)], &accounts());
        assert_eq!(t.per_account["JP"], 1);
        assert_eq!(t.per_account["KR"], 1);
        let mut w = LeafWatch::new(WatchConfig::default());
        assert!(w.observe(&t).is_empty());
        assert!(w.duplicated().is_empty());
    }

    #[test]
    fn a_second_leaf_on_another_node_is_summed_and_reported_once() {
        let mut w = LeafWatch::new(WatchConfig::default());
        let reports = [
            ok("hub-0", LEAFZ_2_9),
            ok("hub-1", LEAFZ_2_15),
            ok("hub-2", LEAFZ_NONE),
        ];
        let t = LeafTally::count(&reports, &accounts());
        // One JP leaf on each of two nodes (hub-1's solicited link does not count).
        assert_eq!(t.per_server[&("JP".to_owned(), "hub-0".to_owned())], 1);
        assert_eq!(t.per_server[&("JP".to_owned(), "hub-1".to_owned())], 1);
        assert_eq!(t.per_server[&("JP".to_owned(), "hub-2".to_owned())], 0);
        assert_eq!(t.per_server[&("KR".to_owned(), "hub-1".to_owned())], 0);
        assert_eq!(t.per_account["JP"], 2);
        let e = w.observe(&t);
        assert_eq!(e.len(), 1, "{e:?}");
        let LeafEvent::Duplicated {
            account,
            count,
            leaves,
        } = &e[0]
        else {
            panic!("{e:?}")
        };
        assert_eq!((account.as_str(), *count), ("JP", 2));
        assert_eq!(leaves.len(), 2);
        assert_eq!(leaves[1].remote, "10.0.0.5:5000");
        // Still two: no second report.
        assert!(w.observe(&t).is_empty());
        assert!(w.duplicated().contains("JP"));
        // The rogue leaves: cleared, once.
        let t = LeafTally::count(
            &[ok("hub-0", LEAFZ_2_9), ok("hub-1", LEAFZ_NONE)],
            &accounts(),
        );
        assert_eq!(
            w.observe(&t),
            vec![LeafEvent::DuplicateCleared {
                account: "JP".into(),
                count: 1
            }]
        );
        assert!(w.observe(&t).is_empty());
    }

    #[test]
    fn two_leaves_on_one_node_are_a_duplicate() {
        let two =
            r#"{"leafs":[{"account":"KR","ip":"a","port":1},{"account":"KR","ip":"b","port":2}]}"#;
        let t = LeafTally::count(&[ok("hub", two)], &accounts());
        let mut w = LeafWatch::new(WatchConfig::default());
        assert!(
            matches!(&w.observe(&t)[..], [LeafEvent::Duplicated { account, count: 2, .. }] if account == "KR")
        );
        // A higher allowance accepts it.
        let mut lax = LeafWatch::new(WatchConfig {
            max_per_account: 2,
            ..WatchConfig::default()
        });
        assert!(lax.observe(&t).is_empty());
    }

    #[test]
    fn an_unreachable_node_is_reported_once_and_not_counted() {
        let mut w = LeafWatch::new(WatchConfig::default());
        let t = LeafTally::count(&[ok("hub-0", LEAFZ_2_9), down("hub-1")], &accounts());
        assert_eq!(t.per_account["JP"], 1);
        assert!(
            !t.per_server
                .contains_key(&("JP".to_owned(), "hub-1".to_owned()))
        );
        assert!(
            matches!(&w.observe(&t)[..], [LeafEvent::MonitorUnreachable { server, .. }] if server == "hub-1")
        );
        assert!(w.observe(&t).is_empty());
        let t = LeafTally::count(
            &[ok("hub-0", LEAFZ_2_9), ok("hub-1", LEAFZ_NONE)],
            &accounts(),
        );
        assert_eq!(
            w.observe(&t),
            vec![LeafEvent::MonitorBack {
                server: "hub-1".into()
            }]
        );
    }

    #[test]
    fn new_connections_after_the_first_poll_are_relinks() {
        let jp = |port: u16| {
            format!(r#"{{"leafs":[{{"account":"JP","ip":"127.0.0.1","port":{port}}}]}}"#)
        };
        let mut w = LeafWatch::new(WatchConfig::default());
        let t = |reports: &[ServerReport]| LeafTally::count(reports, &accounts());
        // The first poll only learns.
        assert!(
            w.observe(&t(&[ok("hub-0", &jp(1)), ok("hub-1", LEAFZ_NONE)]))
                .is_empty()
        );
        assert!(
            w.observe(&t(&[ok("hub-0", &jp(1)), ok("hub-1", LEAFZ_NONE)]))
                .is_empty()
        );
        // Same node, new remote port (replaced or reconnected): one relink, no duplicate.
        let e = w.observe(&t(&[ok("hub-0", &jp(2)), ok("hub-1", LEAFZ_NONE)]));
        assert!(
            matches!(&e[..], [LeafEvent::Relinked { account, leaf }] if account == "JP" && leaf.remote == "127.0.0.1:2"),
            "{e:?}"
        );
        // hub-0 dies, the leaf moves to hub-1: unreachable + one relink.
        let e = w.observe(&t(&[down("hub-0"), ok("hub-1", &jp(3))]));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e.iter()
                .any(|e| matches!(e, LeafEvent::Relinked { leaf, .. } if leaf.server == "hub-1"))
        );
        // hub-0 back, listing a connection it had before it was unreadable: not a relink.
        let e = w.observe(&t(&[ok("hub-0", LEAFZ_NONE), ok("hub-1", &jp(3))]));
        assert_eq!(
            e,
            vec![LeafEvent::MonitorBack {
                server: "hub-0".into()
            }]
        );
    }

    #[test]
    fn expected_accounts_exist_at_zero() {
        let t = LeafTally::count(&[ok("hub-0", LEAFZ_NONE)], &accounts());
        assert_eq!(t.per_account["JP"], 0);
        assert_eq!(t.per_server[&("KR".to_owned(), "hub-0".to_owned())], 0);
    }

    #[tokio::test]
    async fn fetch_reports_a_refused_or_silent_endpoint() {
        // A port nobody listens on.
        let port = crate::free_port().unwrap();
        let t = MonitorTarget::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let e = fetch_leafz(&t, Duration::from_secs(2)).await.unwrap_err();
        assert!(matches!(e, LeafzError::Http { .. }), "{e}");
        // A listener that never answers: the timeout ends the wait.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let t = MonitorTarget::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let e = fetch_leafz(&t, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no answer"), "{e}");
        drop(l);
    }
}
