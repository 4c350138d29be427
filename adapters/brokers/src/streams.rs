//! JetStream streams, declared in `broker-config/streams.toml` and created idempotently.
//!
//! Every process that needs the streams calls [`ensure_streams`] (or [`StreamPlan::ensure`])
//! at start-up with a JetStream context of the server and account it is connected to; the
//! call creates missing streams and updates existing ones in place (create-or-update), so it
//! can run any number of times.
//!
//! ```no_run
//! # async fn f(client: async_nats::Client) -> Result<(), trilink_brokers::streams::StreamError> {
//! use trilink_brokers::{Site, streams};
//! use trilink_schema::Nation;
//! let js = async_nats::jetstream::new(client); // connected as admin-kr to the KR leaf
//! let created = streams::ensure_streams(&js, Site::Kr, Nation::Kr).await?;
//! # Ok(()) }
//! ```

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use serde::Deserialize;
use trilink_schema::Nation;

use crate::Site;

/// The stream file shipped with trilink (`broker-config/streams.toml`).
pub const BUILTIN_STREAMS_TOML: &str = include_str!("../../../broker-config/streams.toml");

/// Streams an adapter of `nation` consumes to receive what is released to it, all in the hub's
/// JetStream domain `hub` (the JP and KR adapters reach it through their leaf's link; no leaf
/// copy since issue 17), through its durable consumer `adapter-<nation>` (`streams.toml`
/// `[[consumer]]`).
pub fn adapter_output_streams(nation: Nation) -> &'static [&'static str] {
    match nation {
        Nation::Jp => &["OUT_JP"],
        Nation::Kr => &["OUT_KR"],
        Nation::Us => &["OUT_US"],
    }
}

/// Name of the hub stream (domain `hub`, account of `origin`) the relay consumes for input.
pub fn relay_input_stream(origin: Nation) -> &'static str {
    match origin {
        Nation::Jp => "IN_JP",
        Nation::Kr => "IN_KR",
        Nation::Us => "IN_US",
    }
}

/// Why streams could not be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The stream file could not be read.
    #[error("reading stream file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The stream file is not valid TOML for a stream plan.
    #[error("parsing stream file: {0}")]
    Parse(#[from] toml::de::Error),
    /// The stream file is valid TOML but inconsistent.
    #[error("stream file: {0}")]
    Invalid(String),
    /// The server refused to create or update a stream.
    #[error("creating or updating stream {name} on {site}/{account}: {source}")]
    Create {
        /// Stream name.
        name: String,
        /// Server.
        site: Site,
        /// Account.
        account: Nation,
        /// The server's answer.
        source: async_nats::jetstream::context::CreateStreamError,
    },
    /// The server refused to create a durable consumer.
    #[error("creating consumer {name} on stream {stream} ({site}/{account}): {message}")]
    Consumer {
        /// Durable name.
        name: String,
        /// Stream name.
        stream: String,
        /// Server.
        site: Site,
        /// Account.
        account: Nation,
        /// The server's answer.
        message: String,
    },
}

/// Storage type of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// On disk (the default: survives restarts).
    File,
    /// In memory.
    Memory,
}

/// A source of a stream: another stream, possibly in another JetStream domain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    /// Name of the source stream.
    pub name: String,
    /// JetStream domain of the source (`hub`, `jp`, `kr`); reached through `$JS.<domain>.API`.
    pub domain: Option<String>,
    /// One subject filter (2.9 understands exactly one).
    pub filter_subject: Option<String>,
}

/// One stream definition.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamDef {
    /// Stream name.
    pub name: String,
    /// Server it lives on.
    pub server: Site,
    /// Nation account that owns it.
    pub account: Nation,
    /// Subjects it captures (empty for a stream that only sources).
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Streams it sources.
    #[serde(default)]
    pub sources: Vec<SourceDef>,
    /// Keep at most this many messages per subject (`None`: unlimited).
    pub max_msgs_per_subject: Option<i64>,
    /// Duplicate window in seconds (default from `[defaults]`).
    pub duplicate_window_secs: Option<u64>,
    /// Maximum age in seconds (default from `[defaults]`).
    pub max_age_secs: Option<u64>,
    /// Maximum size in bytes (default from `[defaults]`).
    pub max_bytes: Option<i64>,
    /// Storage (default from `[defaults]`).
    pub storage: Option<Storage>,
    /// Free text shown by stream info.
    pub description: Option<String>,
}

/// A durable pull consumer created by the operations user at start-up, so that the process
/// reading it (an adapter, the relay) needs no right to create consumers: it may only fetch
/// from and acknowledge on this one (least privilege; `broker-config/SECURITY.md`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerDef {
    /// Durable name (the reader's permissions name it).
    pub name: String,
    /// Stream it reads.
    pub stream: String,
    /// Server of the stream.
    pub server: Site,
    /// Account of the stream.
    pub account: Nation,
    /// One subject filter (2.9 understands exactly one).
    pub filter_subject: String,
    /// Redelivery after this many seconds without an acknowledgement.
    pub ack_wait_secs: u64,
    /// Most messages delivered and not yet acknowledged.
    pub max_ack_pending: i64,
    /// The user that reads it (documentation; its permissions allow exactly this consumer).
    pub reader: String,
}

/// Defaults applied to every stream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Storage type.
    pub storage: Storage,
    /// Maximum age in seconds.
    pub max_age_secs: u64,
    /// Maximum size in bytes.
    pub max_bytes: i64,
    /// Duplicate window in seconds.
    pub duplicate_window_secs: u64,
}

/// The whole stream file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamPlan {
    /// Defaults.
    pub defaults: Defaults,
    /// Streams.
    #[serde(rename = "stream")]
    pub streams: Vec<StreamDef>,
    /// Durable consumers created with the streams.
    #[serde(rename = "consumer", default)]
    pub consumers: Vec<ConsumerDef>,
}

impl StreamPlan {
    /// The plan shipped with trilink.
    pub fn builtin() -> Result<Self, StreamError> {
        Self::parse(BUILTIN_STREAMS_TOML)
    }

    /// Parse and check a stream file's text.
    pub fn parse(text: &str) -> Result<Self, StreamError> {
        let plan: StreamPlan = toml::from_str(text)?;
        plan.check()?;
        Ok(plan)
    }

    /// Read, parse and check a stream file.
    pub fn load(path: &Path) -> Result<Self, StreamError> {
        let text = std::fs::read_to_string(path).map_err(|source| StreamError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    fn check(&self) -> Result<(), StreamError> {
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.streams {
            if !seen.insert((s.server, s.account, s.name.as_str())) {
                return Err(StreamError::Invalid(format!(
                    "stream {} defined twice on {}/{}",
                    s.name, s.server, s.account
                )));
            }
            if s.subjects.is_empty() && s.sources.is_empty() {
                return Err(StreamError::Invalid(format!(
                    "stream {} has neither subjects nor sources",
                    s.name
                )));
            }
            if s.server != Site::Hub && s.account != s.server.nation() {
                return Err(StreamError::Invalid(format!(
                    "stream {} on leaf {} belongs to account {}; a leaf only hosts its own nation",
                    s.name, s.server, s.account
                )));
            }
        }
        let mut consumers = std::collections::BTreeSet::new();
        for c in &self.consumers {
            if !seen.contains(&(c.server, c.account, c.stream.as_str())) {
                return Err(StreamError::Invalid(format!(
                    "consumer {} reads stream {}, which is not defined on {}/{}",
                    c.name, c.stream, c.server, c.account
                )));
            }
            if !consumers.insert((c.server, c.account, c.stream.as_str(), c.name.as_str())) {
                return Err(StreamError::Invalid(format!(
                    "consumer {} on stream {} defined twice",
                    c.name, c.stream
                )));
            }
            if c.name.is_empty() || c.name.contains(['.', '*', '>', ' ']) {
                return Err(StreamError::Invalid(format!(
                    "consumer name {:?} must be one subject token",
                    c.name
                )));
            }
            if c.ack_wait_secs == 0 || c.max_ack_pending < 1 {
                return Err(StreamError::Invalid(format!(
                    "consumer {}: ack_wait_secs and max_ack_pending must be at least 1",
                    c.name
                )));
            }
        }
        Ok(())
    }

    /// Streams that live on `site` in `account`.
    pub fn for_site(&self, site: Site, account: Nation) -> impl Iterator<Item = &StreamDef> {
        self.streams
            .iter()
            .filter(move |s| s.server == site && s.account == account)
    }

    /// The async-nats configuration of `def`, with `replicas` copies (1, or 3 on a clustered
    /// hub).
    pub fn config(&self, def: &StreamDef, replicas: usize) -> stream::Config {
        let d = &self.defaults;
        let sources: Vec<stream::Source> = def
            .sources
            .iter()
            .map(|s| stream::Source {
                name: s.name.clone(),
                filter_subject: s.filter_subject.clone(),
                external: s.domain.as_ref().map(|dom| stream::External {
                    api_prefix: format!("$JS.{dom}.API"),
                    delivery_prefix: None,
                }),
                ..Default::default()
            })
            .collect();
        stream::Config {
            name: def.name.clone(),
            description: def.description.clone(),
            subjects: def.subjects.clone(),
            sources: (!sources.is_empty()).then_some(sources),
            max_messages_per_subject: def.max_msgs_per_subject.unwrap_or(-1),
            max_messages: -1,
            max_bytes: def.max_bytes.unwrap_or(d.max_bytes),
            max_age: Duration::from_secs(def.max_age_secs.unwrap_or(d.max_age_secs)),
            duplicate_window: Duration::from_secs(
                def.duplicate_window_secs.unwrap_or(d.duplicate_window_secs),
            ),
            storage: match def.storage.unwrap_or(d.storage) {
                Storage::File => stream::StorageType::File,
                Storage::Memory => stream::StorageType::Memory,
            },
            num_replicas: replicas.max(1),
            discard: stream::DiscardPolicy::Old,
            retention: stream::RetentionPolicy::Limits,
            ..Default::default()
        }
    }

    /// Create or update every stream of `site`/`account` through `js` (a context connected to
    /// that server as a user of that account that may manage streams). Returns the names.
    pub async fn ensure(
        &self,
        js: &jetstream::Context,
        site: Site,
        account: Nation,
        replicas: usize,
    ) -> Result<Vec<String>, StreamError> {
        self.ensure_where(js, site, account, replicas, |_| true)
            .await
    }

    /// [`StreamPlan::ensure`] for the streams of `site`/`account` that `pick` selects, and the
    /// durable consumers of those streams. A stream that sources another is best created after
    /// its origin exists: nats-server 2.10 and later retry a source whose origin was missing
    /// only after a fixed wait of up to ~40 s (nats-io/nats-server#6454).
    pub async fn ensure_where(
        &self,
        js: &jetstream::Context,
        site: Site,
        account: Nation,
        replicas: usize,
        pick: impl Fn(&StreamDef) -> bool,
    ) -> Result<Vec<String>, StreamError> {
        let mut names = Vec::new();
        for def in self.for_site(site, account).filter(|d| pick(d)) {
            let config = self.config(def, replicas);
            js.create_or_update_stream(config)
                .await
                .map_err(|source| StreamError::Create {
                    name: def.name.clone(),
                    site,
                    account,
                    source,
                })?;
            tracing::debug!(stream = %def.name, %site, %account, replicas, "stream ensured");
            names.push(def.name.clone());
        }
        for def in self
            .consumers_for(site, account)
            .filter(|c| names.contains(&c.stream))
        {
            let make = |message: String| StreamError::Consumer {
                name: def.name.clone(),
                stream: def.stream.clone(),
                site,
                account,
                message,
            };
            let stream = js
                .get_stream(&def.stream)
                .await
                .map_err(|e| make(e.to_string()))?;
            // Created once and kept: an existing durable keeps its delivery state (and the
            // settings it was made with; change them by deleting it while its reader is down).
            stream
                .get_or_create_consumer(&def.name, Self::consumer_config(def))
                .await
                .map_err(|e| make(e.to_string()))?;
            tracing::debug!(consumer = %def.name, stream = %def.stream, %site, %account, "consumer ensured");
        }
        Ok(names)
    }

    /// Durable consumers of streams on `site` in `account`.
    pub fn consumers_for(&self, site: Site, account: Nation) -> impl Iterator<Item = &ConsumerDef> {
        self.consumers
            .iter()
            .filter(move |c| c.server == site && c.account == account)
    }

    /// The async-nats configuration of consumer `def`: durable, pull, explicit acks, from the
    /// start of the stream.
    pub fn consumer_config(def: &ConsumerDef) -> consumer::pull::Config {
        consumer::pull::Config {
            durable_name: Some(def.name.clone()),
            filter_subject: def.filter_subject.clone(),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(def.ack_wait_secs),
            max_ack_pending: def.max_ack_pending,
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        }
    }
}

/// Create or update the built-in streams of `site`/`account` with one replica.
pub async fn ensure_streams(
    js: &jetstream::Context,
    site: Site,
    account: Nation,
) -> Result<Vec<String>, StreamError> {
    StreamPlan::builtin()?.ensure(js, site, account, 1).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_plan_parses_and_covers_every_site() {
        let plan = StreamPlan::builtin().unwrap();
        assert_eq!(plan.for_site(Site::Jp, Nation::Jp).count(), 2);
        assert_eq!(plan.for_site(Site::Kr, Nation::Kr).count(), 2);
        assert_eq!(plan.for_site(Site::Jp, Nation::Kr).count(), 0);
        for n in Nation::ALL {
            assert!(plan.for_site(Site::Hub, n).count() >= 3, "{n}");
            assert!(
                plan.for_site(Site::Hub, n)
                    .any(|s| s.name == relay_input_stream(n))
            );
        }
    }

    #[test]
    fn one_output_stream_per_destination_keeps_order_every_message_and_latest_per_track() {
        let plan = StreamPlan::builtin().unwrap();
        for s in &plan.streams {
            if s.max_msgs_per_subject.is_some() {
                // A per-subject limit is only safe where every subject names one track of one
                // origin or one message: the six-token output subjects (trilink_schema::Subject).
                // On tl.out.<dest>.<kind> it would drop launch detections; without the origin
                // token one nation's track would evict another's.
                for subj in &s.subjects {
                    assert!(
                        Nation::ALL
                            .iter()
                            .any(|n| *subj == trilink_schema::Subject::output_stream_filter(*n)),
                        "{} {subj}",
                        s.name
                    );
                }
            }
        }
        for n in Nation::ALL {
            // Exactly one hub stream captures what is released to n (order across kinds).
            let out: Vec<_> = plan
                .for_site(Site::Hub, n)
                .filter(|s| {
                    s.subjects
                        .iter()
                        .any(|x| x.starts_with(&format!("tl.out.{n}.")))
                })
                .collect();
            assert_eq!(
                out.len(),
                1,
                "{n}: {:?}",
                out.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            assert_eq!(
                out[0].subjects,
                vec![trilink_schema::Subject::output_stream_filter(n)]
            );
            assert_eq!(out[0].max_msgs_per_subject, Some(1), "{n}");
            // The stream the adapter reads is the hub's OUT_<N> (no leaf copy, issue 17), and its
            // durable lives there too.
            for name in adapter_output_streams(n) {
                let s = plan
                    .for_site(Site::Hub, n)
                    .find(|s| s.name == *name)
                    .unwrap();
                assert_eq!(s.max_msgs_per_subject, Some(1), "{name}");
                assert!(
                    s.sources.len() <= 1,
                    "{name}: more than one source interleaves"
                );
            }
        }
    }

    #[test]
    fn sourced_streams_use_the_external_api_of_their_domain() {
        let plan = StreamPlan::builtin().unwrap();
        let def = plan
            .for_site(Site::Hub, Nation::Kr)
            .find(|s| s.name == "IN_KR")
            .unwrap();
        let cfg = plan.config(def, 3);
        let src = &cfg.sources.unwrap()[0];
        assert_eq!(src.external.as_ref().unwrap().api_prefix, "$JS.kr.API");
        assert_eq!(cfg.num_replicas, 3);
        assert!(cfg.subjects.is_empty());
    }

    #[test]
    fn rejects_inconsistent_files() {
        let bad = r#"
[defaults]
storage = "file"
max_age_secs = 1
max_bytes = 1
duplicate_window_secs = 1
[[stream]]
name = "X"
server = "jp"
account = "kr"
subjects = ["a"]
"#;
        assert!(matches!(
            StreamPlan::parse(bad),
            Err(StreamError::Invalid(_))
        ));
        assert!(matches!(
            StreamPlan::parse("[defaults]\nfoo = 1"),
            Err(StreamError::Parse(_))
        ));
    }
}
