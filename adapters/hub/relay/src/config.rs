//! The relay's configuration (TOML + `TRILINK__*` environment overrides, unknown keys
//! rejected) and how it maps onto the runtime's NATS connection settings.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trilink_runtime::nats::NatsConfig;
use trilink_schema::Nation;

use crate::live::RelayError;
use crate::process::RelayIdentity;

/// `[picture]`: the hub correlator ([`crate::picture`]).
///
/// ```toml
/// [picture]
/// enabled = true               # run the correlator and publish each destination's view
/// tick_ms = 1000               # period of the correlator's tick (assignment, drop-out, expiry)
/// rebuild_window_s = 900       # start-up: rebuild from the IN_* messages of this window (0: no rebuild)
/// rebuild_max_messages = 100000  # ... at most this many (the newest)
/// drop_after_s = 60            # a contribution silent this long (wall clock) is stale
/// min_update_interval_ms = 250 # publish an event's updated view at most this often per destination (0: every change)
/// queue = 10000                # accepted inputs waiting for the picture lane (full: left out of the live picture)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PictureConfig {
    /// Run the correlator (default true).
    pub enabled: bool,
    /// Tick period, ms (100 ..= 60 000).
    pub tick_ms: u64,
    /// Start-up rebuild window, s (0 = no rebuild; at most 86 400).
    pub rebuild_window_s: u64,
    /// Most input messages read by the rebuild (1 ..= 10 000 000).
    pub rebuild_max_messages: usize,
    /// A contribution with no report for this long (against the relay's clock) is stale; an
    /// event whose contributions are all stale ends as lost (1 ..= 86 400 s). Replays whose
    /// observation times lie in the past (the local link's demo) raise it.
    pub drop_after_s: u64,
    /// An event's updated view is published to a destination at most this often, ms
    /// (0 ..= 60 000; 0 = every change). Creation, end and cancellation go at once
    /// ([`crate::picture::ViewPacer`]).
    pub min_update_interval_ms: u64,
    /// Accepted inputs that may wait for the picture's own lane (1 ..= 1 000 000). The
    /// national path never waits for the picture: when the queue is full an input is left
    /// out of the live picture and counted (`trilink_relay_picture_dropped_inputs_total`).
    pub queue: usize,
}

impl PictureConfig {
    /// The correlator's tuning: [`trilink_picture::Config::default`] with these overrides.
    pub fn correlator(&self) -> trilink_picture::Config {
        trilink_picture::Config {
            drop_after_s: self.drop_after_s as f64,
            ..trilink_picture::Config::default()
        }
    }
}

impl Default for PictureConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            tick_ms: 1_000,
            rebuild_window_s: 900,
            rebuild_max_messages: 100_000,
            drop_after_s: 60,
            min_update_interval_ms: 250,
            queue: 10_000,
        }
    }
}

/// Relay configuration (TOML, unknown keys rejected).
///
/// Two shapes:
///
/// - **Per-nation accounts** (the hub of `broker-config/`): one `[[account]]` per nation. The
///   relay opens one connection per account, consumes that account's input stream
///   (`IN_<N>`), requires every input there to have origin `<n>`, publishes a nation's outputs
///   only through that nation's account, and dead-letters an input in the account it came
///   from.
///
///   ```toml
///   nats_url = "nats://127.0.0.1:4222"
///   component = "relay-1"
///   [[account]]
///   nation = "jp"
///   user = "relay-jp"
///   password = "…"
///   [[account]]
///   nation = "kr"
///   user = "relay-kr"
///   password = "…"
///   ```
///
/// - **Single connection** (development, tests): no `[[account]]`; one connection with the
///   top-level credentials consumes `input_stream` (every origin) and publishes everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// NATS server URL(s), comma separated.
    pub nats_url: String,
    /// User name (with `password`), single-connection mode.
    pub user: Option<String>,
    /// Password for `user`.
    pub password: Option<String>,
    /// NATS credentials file (JWT + nkey), single-connection mode.
    pub creds_file: Option<PathBuf>,
    /// CA bundle for TLS to the server.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (mTLS); needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// Client key (mTLS).
    pub tls_key: Option<PathBuf>,
    /// JetStream domain of the hub (e.g. `hub`) when the relay does not connect to the hub
    /// server itself; `None` for the local domain.
    pub js_domain: Option<String>,
    /// The input stream (single-connection mode).
    pub input_stream: String,
    /// Durable consumer name (on every input stream).
    pub consumer: String,
    /// Consumer filter subject (single-connection mode).
    pub filter_subject: String,
    /// Subject for dead letters.
    pub dlq_subject: String,
    /// Site stamped in provenance.
    pub site: Nation,
    /// Component name stamped in provenance and `Tl-Component`.
    pub component: String,
    /// Maximum inputs processed concurrently (and each consumer's `max_ack_pending`).
    pub max_in_flight: usize,
    /// Inputs about one track in flight at most (1 ..= `max_in_flight`). 1, the default,
    /// keeps each track's order strictly even when the hub refuses a store and takes the
    /// next; more pipelines one track's stores but can then reorder them (counted in
    /// `trilink_relay_order_violations_total`). See `pipeline.rs`.
    pub max_in_flight_per_track: usize,
    /// Consumer ack wait, seconds: an unacknowledged input is redelivered after this.
    pub ack_wait_s: u64,
    /// Delay before a NAKed input (failed publish) is redelivered, milliseconds.
    pub nak_delay_ms: u64,
    /// On shutdown, how long to wait for in-flight inputs to finish, milliseconds.
    pub drain_timeout_ms: u64,
    /// Seconds between `tl.status.<site>.<component>` heartbeats (core NATS, a `status`
    /// envelope); 0 disables them.
    pub status_interval_s: u64,
    /// Message ids of relayed inputs remembered for the `foreign_reference` check (their
    /// origin, 24 h at most; 1 ..= 10 000 000): a `cancel`, `correction` or `references` entry
    /// pointing at an id beyond the last this many cannot be checked and passes. ~50 bytes of
    /// memory per id: the default 400 000 is ~20 MB, which keeps the relay under issue 17's
    /// 50 MB line at any rate (1 000 000, the default until session 10, took 62 MB).
    pub reference_ids: usize,
    /// The common picture (issue 15): `[picture]`.
    pub picture: PictureConfig,
    /// Per-nation accounts; empty for single-connection mode.
    #[serde(rename = "account")]
    pub accounts: Vec<AccountConfig>,
}

/// One nation account of the hub, as the relay uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The nation whose account this is.
    pub nation: Nation,
    /// Server URL, when different from the top-level `nats_url`.
    #[serde(default)]
    pub nats_url: Option<String>,
    /// User name in this account.
    #[serde(default)]
    pub user: Option<String>,
    /// Password for `user`.
    #[serde(default)]
    pub password: Option<String>,
    /// Credentials file for this account.
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
    /// Input stream; default `IN_<NATION>`.
    #[serde(default)]
    pub input_stream: Option<String>,
}

/// A loader error as the relay reports it: where (file, or the variable that set the value),
/// which key, what is wrong.
fn config_error(e: trilink_runtime::config::ConfigError) -> RelayError {
    use trilink_runtime::config::ConfigError;
    let origin = e.origin();
    match e {
        ConfigError::Env { var, message } => RelayError::Config {
            origin,
            key: var,
            message,
        },
        ConfigError::Field { key, message, .. } | ConfigError::Invalid { key, message, .. } => {
            RelayError::Config {
                origin,
                key,
                message,
            }
        }
        ConfigError::Syntax { message, .. } => RelayError::Config {
            origin,
            key: ".".into(),
            message: format!("invalid TOML: {message}"),
        },
        ConfigError::Io { source, .. } => RelayError::Config {
            origin,
            key: ".".into(),
            message: format!("cannot read: {source}"),
        },
        other => RelayError::Config {
            origin,
            key: ".".into(),
            message: other.to_string(),
        },
    }
}

impl AccountConfig {
    /// The input stream name.
    pub fn input_stream(&self) -> String {
        self.input_stream
            .clone()
            .unwrap_or_else(|| format!("IN_{}", self.nation.as_str().to_ascii_uppercase()))
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            user: None,
            password: None,
            creds_file: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            js_domain: None,
            input_stream: "TL_IN".to_owned(),
            consumer: "relay".to_owned(),
            filter_subject: "tl.in.>".to_owned(),
            dlq_subject: format!("tl.dlq.{}", Nation::Us),
            site: Nation::Us,
            component: "relay".to_owned(),
            max_in_flight: 256,
            max_in_flight_per_track: 1,
            ack_wait_s: 30,
            nak_delay_ms: 1_000,
            drain_timeout_ms: 5_000,
            status_interval_s: 10,
            reference_ids: crate::ReferenceBook::DEFAULT_CAPACITY,
            picture: PictureConfig::default(),
            accounts: Vec::new(),
        }
    }
}

impl trilink_runtime::config::Validate for RelayConfig {
    fn validate(&self) -> Result<(), trilink_runtime::config::Invalid> {
        self.check()
            .map_err(|(key, message)| trilink_runtime::config::Invalid::new(key, message))
    }
}

impl RelayConfig {
    /// Parse and check a TOML configuration; `origin` names the source in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, RelayError> {
        let err = |key: String, message: String| RelayError::Config {
            origin: origin.to_owned(),
            key,
            message,
        };
        let de = toml::Deserializer::parse(text)
            .map_err(|e| err(".".into(), e.to_string().trim_end().to_owned()))?;
        let cfg: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            err(
                e.path().to_string(),
                e.inner().to_string().trim_end().to_owned(),
            )
        })?;
        cfg.check().map_err(|(k, m)| err(k, m))?;
        Ok(cfg)
    }

    /// Read a TOML configuration file and apply `TRILINK__*` overrides from the process
    /// environment (see [`Self::load_with_env`]).
    pub fn load(path: &Path) -> Result<Self, RelayError> {
        let text = std::fs::read_to_string(path).map_err(|e| RelayError::Config {
            origin: path.display().to_string(),
            key: ".".into(),
            message: e.to_string(),
        })?;
        Self::load_with_env(&text, path, std::env::vars())
    }

    /// Parse `text` (read from `path`, named in errors), apply environment overrides and
    /// check. Overrides work as for the adapters (`trilink_runtime::config`): the relay's keys
    /// are top level, so `TRILINK__NATS_URL=nats://hub:4222` sets `nats_url`, and
    /// `TRILINK__ACCOUNT__0__PASSWORD=…` sets `account[0].password`. An override naming a key
    /// the relay does not know fails like an unknown key in the file.
    pub fn load_with_env(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, RelayError> {
        trilink_runtime::config::load_str::<Self>(text, path, env).map_err(config_error)
    }

    /// Semantic checks; on failure (dotted key, reason).
    pub fn check(&self) -> Result<(), (String, String)> {
        let e = |k: &str, m: String| Err((k.to_owned(), m));
        let url = |k: &str, u: &str| {
            trilink_runtime::check::nats_urls(k, u).map_err(|inv| (inv.key, inv.message))
        };
        url("nats_url", &self.nats_url)?;
        for (i, a) in self.accounts.iter().enumerate() {
            if let Some(u) = &a.nats_url {
                url(&format!("account[{i}].nats_url"), u)?;
            }
        }
        if self.max_in_flight == 0 {
            return e("max_in_flight", "must be at least 1".into());
        }
        if !(1..=self.max_in_flight).contains(&self.max_in_flight_per_track) {
            return e(
                "max_in_flight_per_track",
                format!(
                    "must be 1 ..= max_in_flight ({}), not {}",
                    self.max_in_flight, self.max_in_flight_per_track
                ),
            );
        }
        if self.ack_wait_s == 0 {
            return e("ack_wait_s", "must be at least 1".into());
        }
        if !(1..=10_000_000).contains(&self.reference_ids) {
            return e(
                "reference_ids",
                format!("must be 1 ..= 10000000, not {}", self.reference_ids),
            );
        }
        if !(100..=60_000).contains(&self.picture.tick_ms) {
            return e("picture.tick_ms", "must be 100 ..= 60000".into());
        }
        if self.picture.rebuild_window_s > 86_400 {
            return e("picture.rebuild_window_s", "must be 0 ..= 86400".into());
        }
        if !(1..=10_000_000).contains(&self.picture.rebuild_max_messages) {
            return e(
                "picture.rebuild_max_messages",
                "must be 1 ..= 10000000".into(),
            );
        }
        if self.picture.min_update_interval_ms > 60_000 {
            return e(
                "picture.min_update_interval_ms",
                "must be 0 ..= 60000".into(),
            );
        }
        if !(1..=1_000_000).contains(&self.picture.queue) {
            return e("picture.queue", "must be 1 ..= 1000000".into());
        }
        if !(1..=86_400).contains(&self.picture.drop_after_s) {
            return e("picture.drop_after_s", "must be 1 ..= 86400".into());
        }
        if !trilink_schema::Subject::is_valid_component(&self.component) {
            return e("component", "must be 1-64 of [a-z0-9_-]".into());
        }
        let mut names = vec![
            ("input_stream".to_owned(), self.input_stream.clone()),
            ("consumer".to_owned(), self.consumer.clone()),
        ];
        for (i, a) in self.accounts.iter().enumerate() {
            names.push((format!("account[{i}].input_stream"), a.input_stream()));
            if a.user.is_some() != a.password.is_some() {
                return Err((
                    format!("account[{i}].user"),
                    "user and password go together".into(),
                ));
            }
            if self.accounts.iter().take(i).any(|b| b.nation == a.nation) {
                return Err((
                    format!("account[{i}].nation"),
                    format!("nation {} listed twice", a.nation),
                ));
            }
        }
        for (key, v) in names {
            if v.is_empty() || v.contains(['.', ' ', '*', '>']) {
                return Err((key, format!("{v:?} is not a valid stream/consumer name")));
            }
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return e("tls_cert", "tls_cert and tls_key go together".into());
        }
        if self.user.is_some() != self.password.is_some() {
            return e("user", "user and password go together".into());
        }
        Ok(())
    }

    /// Everything `--check` can verify beyond [`Self::check`] without the network: TLS files
    /// parse (certificates inside their validity period at `now`) and creds files are well
    /// formed. Every problem found (empty: all good).
    pub fn check_offline(
        &self,
        now: std::time::SystemTime,
    ) -> Vec<trilink_runtime::config::Invalid> {
        use trilink_runtime::check;
        let mut out = Vec::new();
        if let Some(p) = &self.tls_ca {
            out.extend(check::certificates("tls_ca", p, now).err());
        }
        if let Some(p) = &self.tls_cert {
            out.extend(check::certificates("tls_cert", p, now).err());
        }
        if let Some(p) = &self.tls_key {
            out.extend(check::private_key("tls_key", p).err());
        }
        if let Some(p) = &self.creds_file {
            out.extend(check::creds_file("creds_file", p).err());
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if let Some(p) = &a.creds_file {
                out.extend(check::creds_file(&format!("account[{i}].creds_file"), p).err());
            }
        }
        out
    }

    /// Load like [`Self::load`] and list every effective setting with where it came from (file,
    /// `TRILINK__*` variable, default), secrets masked.
    pub fn explain(
        path: &Path,
    ) -> Result<(Self, Vec<trilink_runtime::config::Setting>), RelayError> {
        trilink_runtime::config::explain::<Self>(path).map_err(config_error)
    }

    pub(crate) fn identity(&self) -> RelayIdentity {
        RelayIdentity {
            site: self.site,
            component: self.component.clone(),
        }
    }

    /// The runtime's connection settings for one connection: the account's (or, in
    /// single-connection mode, the top-level) URL and credentials, this relay's TLS files and
    /// JetStream domain, the component as connection name, `_INBOX_<user>` replies.
    pub fn nats_config(&self, account: Option<&AccountConfig>) -> NatsConfig {
        let (url, user, password, creds_file) = match account {
            Some(a) => (
                a.nats_url.clone().unwrap_or_else(|| self.nats_url.clone()),
                a.user.clone(),
                a.password.clone(),
                a.creds_file.clone(),
            ),
            None => (
                self.nats_url.clone(),
                self.user.clone(),
                self.password.clone(),
                self.creds_file.clone(),
            ),
        };
        NatsConfig {
            url,
            name: Some(format!("trilink-{}", self.component)),
            user,
            password,
            creds_file,
            nkey_seed: None,
            tls_ca: self.tls_ca.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            require_tls: self.tls_ca.is_some(),
            js_domain: self.js_domain.clone(),
            inbox_prefix: None,
            connect_timeout_ms: 5_000,
            reconnect_max_delay_ms: 5_000,
            max_in_flight: self.max_in_flight,
            ack_timeout_ms: 5_000,
            publish_retries: 0,
        }
    }
}
