//! Configuration loading shared by every trilink process.
//!
//! Pipeline: read the TOML file → apply environment overrides → deserialize into the
//! process's `serde` type (which should use `#[serde(deny_unknown_fields)]`) → run its
//! [`Validate`] implementation. Every error names the file and the dotted key path.
//!
//! ## Environment overrides
//!
//! A variable `TRILINK__<SECTION>__<KEY>=<value>` (prefix [`ENV_PREFIX`], levels separated by a
//! **double** underscore, names matched in lower case, single underscores kept) sets
//! `section.key` in the parsed TOML before deserialization. Examples:
//!
//! | variable | sets |
//! |---|---|
//! | `TRILINK__NATS__URL=nats://hub:4222` | `nats.url = "nats://hub:4222"` |
//! | `TRILINK__NATS__MAX_IN_FLIGHT=512` | `nats.max_in_flight = 512` |
//! | `TRILINK__TELEMETRY__LOG_FORMAT=json` | `telemetry.log_format = "json"` |
//! | `TRILINK__INGRESS__0__BIND=0.0.0.0:7000` | `ingress[0].bind = "0.0.0.0:7000"` |
//!
//! The value is read as a TOML value when it parses as one (`512`, `true`, `[1, 2]`,
//! `"quoted"`) and as a plain string otherwise. A numeric level indexes an existing array
//! element. Missing tables are created; an override that would descend into a scalar is an
//! error naming the variable. An override of a key the process does not know fails exactly
//! like an unknown key in the file (`deny_unknown_fields`), so a typo never passes silently.

use std::fmt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Prefix of environment override variables (followed by `SECTION__KEY`).
pub const ENV_PREFIX: &str = "TRILINK__";

/// Why a configuration could not be loaded. Every variant names where the problem is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{file}: invalid TOML: {message}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// An environment override could not be applied.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable name.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A key has the wrong type, is unknown or is missing.
    #[error("{}: key `{key}`: {message}", blame(file, set_by.as_deref()))]
    Field {
        /// The file.
        file: PathBuf,
        /// Dotted key path (`nats.max_in_flight`, `ingress[0].bind`).
        key: String,
        /// What is wrong (with the offending value when it is a plain value).
        message: String,
        /// The environment variable that set this key (or the table holding it), when the
        /// value came from the environment rather than the file.
        set_by: Option<String>,
    },
    /// A key has a well-typed but invalid value.
    #[error("{}: key `{key}`: {message}", blame(file, set_by.as_deref()))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Dotted key path.
        key: String,
        /// What is wrong.
        message: String,
        /// The environment variable that set this key, when it came from the environment.
        set_by: Option<String>,
    },
}

impl ConfigError {
    /// The dotted key path the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Field { key, .. } | Self::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Where the problem is: the file, or the environment variable (over the file) that set
    /// the bad value.
    pub fn origin(&self) -> String {
        match self {
            Self::Io { file, .. } | Self::Syntax { file, .. } => file.display().to_string(),
            Self::Env { var, .. } => format!("environment variable {var}"),
            Self::Field { file, set_by, .. } | Self::Invalid { file, set_by, .. } => {
                blame(file, set_by.as_deref())
            }
        }
    }
}

/// Where a bad value came from: the environment variable that set it, or the file.
fn blame(file: &Path, set_by: Option<&str>) -> String {
    match set_by {
        Some(var) => format!("environment variable {var} (over {})", file.display()),
        None => file.display().to_string(),
    }
}

/// The key path an override sets, in the loader's error notation (`nats.password`,
/// `ingress[0].bind`).
fn dotted(parts: &[String]) -> String {
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 && p.parse::<usize>().is_ok() {
            out.push('[');
            out.push_str(p);
            out.push(']');
        } else {
            if i > 0 {
                out.push('.');
            }
            out.push_str(p);
        }
    }
    out
}

/// The override (variable) that set `key`, a table above it or a value below it.
fn set_by<'a>(key: &str, applied: &'a [(String, String)]) -> Option<&'a str> {
    let within = |outer: &str, inner: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    applied
        .iter()
        .rev()
        .find(|(path, _)| within(path, key) || within(key, path))
        .map(|(_, var)| var.as_str())
}

/// The node at a dotted key path (`nats.url`, `ingress[0].bind`).
fn node_at<'a>(table: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    let mut cur = table;
    for seg in key.split('.') {
        let (name, idx) = match seg.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        if let Some(i) = idx {
            cur = cur.get(i)?;
        }
    }
    Some(cur)
}

/// The plain value at `key` in the merged table, for the error message.
fn value_at(table: &toml::Value, key: &str) -> Option<String> {
    match node_at(table, key)? {
        toml::Value::Table(_) | toml::Value::Array(_) => None,
        v => Some(v.to_string()),
    }
}

/// serde loses the path inside an internally tagged table (`[[ingress]]` with `type = …`):
/// when the error is about a table and quotes one of its string values, the key of that value.
fn field_quoted(table: &toml::Value, key: &str, message: &str) -> Option<String> {
    let toml::Value::Table(t) = node_at(table, key)? else {
        return None;
    };
    t.iter().find_map(|(k, v)| match v {
        toml::Value::String(s) if message.contains(&format!("\"{s}\"")) => {
            Some(if key == "(root)" {
                k.clone()
            } else {
                format!("{key}.{k}")
            })
        }
        _ => None,
    })
}

/// A validation failure: which key and why. Returned by [`Validate::validate`]; the loader
/// adds the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Dotted key path.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl Invalid {
    /// A failure at `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}`: {}", self.key, self.message)
    }
}

/// Semantic checks run after deserialization.
pub trait Validate {
    /// Check the values; return the first bad key.
    fn validate(&self) -> Result<(), Invalid>;
}

/// Load `path`, apply overrides from the process environment, deserialize and validate.
pub fn load<T: DeserializeOwned + Validate>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        file: path.to_owned(),
        source,
    })?;
    load_str(&text, path, std::env::vars())
}

/// Like [`load`] but from text, with an explicit environment (for tests and embedding).
/// `file` is only used in error messages.
pub fn load_str<T: DeserializeOwned + Validate>(
    text: &str,
    file: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    load_parts(text, file, env).map(|l| l.config)
}

/// A loaded configuration with what [`explain`] needs to say where each value came from.
struct Loaded<T> {
    config: T,
    /// The file as parsed, before overrides.
    file_table: toml::Value,
    /// (key path set, variable) of every override applied.
    applied: Vec<(String, String)>,
}

fn load_parts<T: DeserializeOwned + Validate>(
    text: &str,
    file: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded<T>, ConfigError> {
    let mut table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax {
                file: file.to_owned(),
                message: e.to_string().trim_end().to_owned(),
            })?;
    let file_table = toml::Value::Table(table.clone());
    let mut overrides: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    overrides.sort();
    // (key path set, variable), to blame an error on the variable rather than the file.
    let mut applied: Vec<(String, String)> = Vec::with_capacity(overrides.len());
    for (var, value) in &overrides {
        let path = apply_override(&mut table, var, value)?;
        applied.push((path, var.clone()));
    }
    let value = toml::Value::Table(table);
    let cfg: T = serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let key = e.path().to_string();
        let mut key = if key == "." {
            String::from("(root)")
        } else {
            key
        };
        let mut message = first_line(&e.into_inner().to_string());
        if let Some(v) = value_at(&value, &key) {
            message = format!("{message} (value {v})");
        } else if let Some(field) = field_quoted(&value, &key, &message) {
            key = field;
        }
        ConfigError::Field {
            file: file.to_owned(),
            set_by: set_by(&key, &applied).map(str::to_owned),
            key,
            message,
        }
    })?;
    cfg.validate().map_err(|inv| ConfigError::Invalid {
        file: file.to_owned(),
        set_by: set_by(&inv.key, &applied).map(str::to_owned),
        key: inv.key,
        message: inv.message,
    })?;
    Ok(Loaded {
        config: cfg,
        file_table,
        applied,
    })
}

/// Where a setting's effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The configuration file.
    File,
    /// An environment override (the variable).
    Env(String),
    /// Not set: the built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File => f.write_str("file"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// One effective setting: dotted key, value as TOML (secrets masked), where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Dotted key path (`nats.url`, `ingress[0].bind`).
    pub key: String,
    /// The value as TOML; a secret is shown as `"****"`, a password inside a URL masked.
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

/// Keys whose values are secrets (never printed).
pub const SECRET_KEYS: [&str; 4] = ["password", "nkey_seed", "token", "secret"];

/// Load like [`load`] and list every effective setting (file, environment, defaults), secrets
/// masked.
pub fn explain<T: DeserializeOwned + Validate + serde::Serialize>(
    path: &Path,
) -> Result<(T, Vec<Setting>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        file: path.to_owned(),
        source,
    })?;
    explain_str(&text, path, std::env::vars())
}

/// [`explain`] from text with an explicit environment.
pub fn explain_str<T: DeserializeOwned + Validate + serde::Serialize>(
    text: &str,
    file: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(T, Vec<Setting>), ConfigError> {
    let loaded: Loaded<T> = load_parts(text, file, env)?;
    let effective = toml::Value::try_from(&loaded.config).map_err(|e| ConfigError::Invalid {
        file: file.to_owned(),
        key: "(root)".into(),
        message: format!("cannot show the configuration: {e}"),
        set_by: None,
    })?;
    let mut flat = Vec::new();
    flatten("", &effective, &mut flat);
    let settings = flat
        .into_iter()
        .map(|(key, v)| {
            let source = match set_by(&key, &loaded.applied) {
                Some(var) => Source::Env(var.to_owned()),
                None if node_at(&loaded.file_table, &key).is_some() => Source::File,
                None => Source::Default,
            };
            let last = key.rsplit('.').next().unwrap_or_default();
            let value = match &v {
                _ if SECRET_KEYS
                    .iter()
                    .any(|s| last == *s || last.ends_with(&format!("_{s}"))) =>
                {
                    "\"****\"".to_owned()
                }
                toml::Value::String(s) if last.ends_with("url") => {
                    toml::Value::String(crate::check::mask_url(s)).to_string()
                }
                other => other.to_string(),
            };
            Setting { key, value, source }
        })
        .collect();
    Ok((loaded.config, settings))
}

/// The settings as aligned `key = value  # source` lines.
pub fn settings_text(settings: &[Setting]) -> String {
    let width = settings
        .iter()
        .map(|s| s.key.len() + s.value.len() + 3)
        .max()
        .unwrap_or(0)
        .min(72);
    let mut out = String::new();
    for s in settings {
        let line = format!("{} = {}", s.key, s.value);
        let _ = writeln!(out, "{line:<width$}  # {}", s.source);
    }
    out
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut Vec<(String, toml::Value)>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::Array(a) if a.iter().any(toml::Value::is_table) => {
            for (i, v) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

/// toml appends "in `section`" on a second line; the key path already says where.
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim_end().to_owned()
}

fn parse_env_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

/// Apply one `TRILINK__A__B=value` override; returns the key path it set.
fn apply_override(table: &mut toml::Table, var: &str, raw: &str) -> Result<String, ConfigError> {
    let env_err = |message: String| ConfigError::Env {
        var: var.to_owned(),
        message,
    };
    let rest = var.strip_prefix(ENV_PREFIX).unwrap_or(var);
    let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if parts.iter().any(String::is_empty) {
        return Err(env_err("empty key level (use KEY__SUBKEY)".into()));
    }
    let Some((last, path)) = parts.split_last() else {
        return Err(env_err("no key after the prefix".into()));
    };
    let value = parse_env_value(raw);
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_path(&mut root, path, last, value).map_err(env_err);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result.map(|()| dotted(&parts))
}

fn set_path(
    root: &mut toml::Value,
    path: &[String],
    last: &str,
    value: toml::Value,
) -> Result<(), String> {
    let mut cur = root;
    let mut walked = String::new();
    for part in path {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
        cur = descend(cur, part).map_err(|m| format!("at `{walked}`: {m}"))?;
    }
    match cur {
        toml::Value::Table(t) => {
            t.insert(last.to_owned(), value);
            Ok(())
        }
        toml::Value::Array(a) => {
            let idx: usize = last
                .parse()
                .map_err(|_| format!("`{last}` is not an index into an array"))?;
            let slot = a
                .get_mut(idx)
                .ok_or_else(|| format!("index {idx} is out of bounds"))?;
            *slot = value;
            Ok(())
        }
        _ => Err(format!("`{walked}` is not a table")),
    }
}

fn descend<'a>(cur: &'a mut toml::Value, part: &str) -> Result<&'a mut toml::Value, String> {
    match cur {
        toml::Value::Table(t) => Ok(t
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))),
        toml::Value::Array(a) => {
            let idx: usize = part
                .parse()
                .map_err(|_| format!("`{part}` is not an index into an array"))?;
            let len = a.len();
            a.get_mut(idx)
                .ok_or_else(|| format!("index {idx} is out of bounds (array has {len})"))
        }
        _ => Err(format!(
            "`{part}` descends into a value that is not a table"
        )),
    }
}
