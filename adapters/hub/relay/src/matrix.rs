//! The delivery matrix of a capture under a policy (origin × destination × kind × mode →
//! delivered / withheld and why), expectation files, and their comparison. Used by
//! `trilink policy test`; it runs every message through [`crate::process`], exactly as the
//! live relay does.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trilink_schema::{Envelope, Mode, Nation, PayloadKind, Subject};

use crate::policy::Policy;
use crate::process::{Outcome, RelayIdentity, process, reject_codes};
use crate::references::ReferenceBook;

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RowKey {
    /// Originating nation.
    pub origin: Nation,
    /// Destination nation.
    pub destination: Nation,
    /// Payload kind.
    pub kind: PayloadKind,
    /// Mode.
    pub mode: Mode,
}

/// What happened to the messages of one cell (origin, kind, mode → destination).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellCounts {
    /// Messages delivered.
    #[serde(default)]
    pub delivered: u64,
    /// Messages withheld, by reason label (`not_releasable`, `denied_by_rule:<name>`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub withheld: BTreeMap<String, u64>,
}

impl CellCounts {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.delivered > 0 {
            parts.push(format!("delivered {}", self.delivered));
        }
        for (reason, n) in &self.withheld {
            parts.push(format!("withheld {reason} {n}"));
        }
        if parts.is_empty() {
            "(nothing)".to_owned()
        } else {
            parts.join(", ")
        }
    }

    fn is_empty(&self) -> bool {
        self.delivered == 0 && self.withheld.values().all(|n| *n == 0)
    }
}

/// One row of an expectations file or of the JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Originating nation.
    pub origin: Nation,
    /// Destination nation.
    pub destination: Nation,
    /// Payload kind.
    pub kind: PayloadKind,
    /// Mode.
    pub mode: Mode,
    /// Messages delivered.
    #[serde(default)]
    pub delivered: u64,
    /// Messages withheld, by reason label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub withheld: BTreeMap<String, u64>,
}

/// A message the relay would dead-letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Line number in the capture (1-based).
    pub line: usize,
    /// Reason code.
    pub code: String,
    /// Detail.
    pub detail: String,
}

/// The delivery matrix of a capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matrix {
    /// Messages read.
    pub messages: u64,
    /// Cells.
    pub cells: BTreeMap<RowKey, CellCounts>,
    /// Rejected messages by reason code.
    pub rejected: BTreeMap<String, u64>,
    /// Each rejected message.
    pub rejects: Vec<Rejected>,
}

/// The expectations file: what a capture must produce under a policy.
///
/// ```toml
/// [[row]]
/// origin = "jp"
/// destination = "kr"
/// kind = "launch_detection"
/// mode = "real_world"
/// delivered = 1
/// withheld = { "denied_by_rule:no-status" = 0 }
///
/// [rejected]
/// origin_mismatch = 1
/// ```
///
/// Cells not listed are expected to be empty (nothing delivered, nothing withheld).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Expected cells.
    #[serde(default, rename = "row")]
    pub rows: Vec<Row>,
    /// Expected rejects by reason code.
    #[serde(default)]
    pub rejected: BTreeMap<String, u64>,
}

/// Why a capture or expectations file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MatrixError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The expectations file is not valid.
    #[error("{path}: invalid expectations at `{key}`: {message}")]
    Expectations {
        /// The file.
        path: String,
        /// Dotted path of the bad key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The envelope bytes of one capture line. Two line formats are accepted: a bare envelope, or
/// a trilink JSON Lines record `{"ts": …, "subject": …, "envelope": {…}}` (what `trilink
/// scenario`, `trilink record` and the capture crate write), whose `envelope` is taken.
/// Anything else is returned unchanged, to be rejected by the relay as `not_json`.
pub fn capture_body(line: &str) -> std::borrow::Cow<'_, [u8]> {
    if let Ok(serde_json::Value::Object(mut record)) =
        serde_json::from_str::<serde_json::Value>(line)
        && record.contains_key("ts")
        && record.contains_key("subject")
        && let Some(env) = record.remove("envelope")
        && let Ok(bytes) = serde_json::to_vec(&env)
    {
        return std::borrow::Cow::Owned(bytes);
    }
    std::borrow::Cow::Borrowed(line.as_bytes())
}

impl Matrix {
    /// Record one outcome; `line` is its 1-based line in the capture.
    pub fn add(&mut self, line: usize, outcome: &Outcome) {
        self.messages += 1;
        if let Some(r) = &outcome.reject {
            *self.rejected.entry(r.code.to_owned()).or_default() += 1;
            self.rejects.push(Rejected {
                line,
                code: r.code.to_owned(),
                detail: r.detail.clone(),
            });
            return;
        }
        let Some((origin, kind, mode)) = outcome.key else {
            return;
        };
        let key = |destination| RowKey {
            origin,
            destination,
            kind,
            mode,
        };
        for out in &outcome.outputs {
            self.cells.entry(key(out.dest)).or_default().delivered += 1;
        }
        for (dest, reason) in &outcome.withheld {
            *self
                .cells
                .entry(key(*dest))
                .or_default()
                .withheld
                .entry(reason.label())
                .or_default() += 1;
        }
    }

    /// Run every line of a JSON Lines capture of envelopes through [`process`], as if each had
    /// arrived on its own input subject (`tl.in.<origin>.<kind>`), validated at `now`.
    /// Blank lines are skipped; a line that is not an envelope counts as rejected `not_json`.
    pub fn from_capture(
        text: &str,
        policy: &Policy,
        now: DateTime<Utc>,
        identity: &RelayIdentity,
    ) -> Self {
        let mut m = Matrix::default();
        let mut refs = ReferenceBook::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let body = capture_body(line);
            let subject = match Envelope::from_json(&body) {
                Ok(env) => Subject::input_for(&env).to_string(),
                Err(_) => format!("tl.in.{}.status", Nation::Us),
            };
            let mut outcome = process(&subject, &body, now, policy, identity, &refs);
            if let Some((id, origin)) = outcome.accepted_origin() {
                refs.record(id, origin, now);
            }
            if let Some(r) = &mut outcome.reject
                && r.code == reject_codes::NOT_JSON
            {
                r.detail = format!("line {}: {}", i + 1, r.detail);
            }
            m.add(i + 1, &outcome);
        }
        m
    }

    /// The cells as rows (for JSON output and expectation files), in key order.
    pub fn rows(&self) -> Vec<Row> {
        self.cells
            .iter()
            .filter(|(_, c)| !c.is_empty())
            .map(|(k, c)| Row {
                origin: k.origin,
                destination: k.destination,
                kind: k.kind,
                mode: k.mode,
                delivered: c.delivered,
                withheld: c.withheld.clone(),
            })
            .collect()
    }

    /// The matrix as an expectations file (to bootstrap one from a reviewed run).
    pub fn to_expectations(&self) -> Expectations {
        Expectations {
            rows: self.rows(),
            rejected: self.rejected.clone(),
        }
    }

    /// JSON for scripts: `{ "policy", "messages", "rows": [...], "rejected": {...}, "rejects": [...] }`.
    pub fn to_json(&self, policy_name: &str) -> serde_json::Value {
        serde_json::json!({
            "policy": policy_name,
            "messages": self.messages,
            "rows": self.rows(),
            "rejected": self.rejected,
            "rejects": self.rejects,
        })
    }

    /// A fixed-width table for terminals.
    pub fn render_table(&self, policy_name: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "policy {policy_name:?}: {} messages, {} rejected",
            self.messages,
            self.rejects.len()
        );
        let _ = writeln!(
            s,
            "{:<6} {:<4} {:<18} {:<10} {:>9}  withheld (reason count)",
            "origin", "dest", "kind", "mode", "delivered"
        );
        for row in self.rows() {
            let withheld = if row.withheld.is_empty() {
                "-".to_owned()
            } else {
                row.withheld
                    .iter()
                    .map(|(r, n)| format!("{r} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                s,
                "{:<6} {:<4} {:<18} {:<10} {:>9}  {withheld}",
                row.origin.as_str(),
                row.destination.as_str(),
                row.kind.as_str(),
                row.mode.as_str(),
                row.delivered
            );
        }
        for r in &self.rejects {
            let _ = writeln!(s, "rejected line {}: {} ({})", r.line, r.code, r.detail);
        }
        s
    }

    /// Compare with expectations; `None` when equal, otherwise a readable diff.
    pub fn diff(&self, expected: &Expectations) -> Option<String> {
        let mut want: BTreeMap<RowKey, CellCounts> = BTreeMap::new();
        for r in &expected.rows {
            let key = RowKey {
                origin: r.origin,
                destination: r.destination,
                kind: r.kind,
                mode: r.mode,
            };
            let cell = want.entry(key).or_default();
            cell.delivered += r.delivered;
            for (reason, n) in &r.withheld {
                *cell.withheld.entry(reason.clone()).or_default() += n;
            }
        }
        let normal = |c: &CellCounts| CellCounts {
            delivered: c.delivered,
            withheld: c
                .withheld
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| (k.clone(), *n))
                .collect(),
        };
        let mut keys: Vec<RowKey> = want.keys().chain(self.cells.keys()).copied().collect();
        keys.sort_unstable();
        keys.dedup();
        let empty = CellCounts::default();
        let mut out = String::new();
        let mut differing = 0usize;
        for k in keys {
            let w = normal(want.get(&k).unwrap_or(&empty));
            let g = normal(self.cells.get(&k).unwrap_or(&empty));
            if w != g {
                differing += 1;
                let _ = writeln!(
                    out,
                    "  {} -> {}  {}  {}\n      expected: {}\n      actual:   {}",
                    k.origin,
                    k.destination,
                    k.kind,
                    k.mode,
                    w.describe(),
                    g.describe()
                );
            }
        }
        let nz = |m: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
            m.iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| (k.clone(), *n))
                .collect()
        };
        let (wr, gr) = (nz(&expected.rejected), nz(&self.rejected));
        if wr != gr {
            differing += 1;
            let fmt = |m: &BTreeMap<String, u64>| {
                if m.is_empty() {
                    "(none)".to_owned()
                } else {
                    m.iter()
                        .map(|(k, n)| format!("{k} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            let _ = writeln!(
                out,
                "  rejected\n      expected: {}\n      actual:   {}",
                fmt(&wr),
                fmt(&gr)
            );
        }
        (differing > 0).then(|| {
            format!("delivery matrix differs from expectations in {differing} place(s):\n{out}")
        })
    }
}

impl Expectations {
    /// Read and parse an expectations file.
    pub fn load(path: &Path) -> Result<Self, MatrixError> {
        let text = std::fs::read_to_string(path).map_err(|source| MatrixError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parse expectations from TOML text; `origin` names the source in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, MatrixError> {
        let err = |key: String, message: String| MatrixError::Expectations {
            path: origin.to_owned(),
            key,
            message,
        };
        let de = toml::Deserializer::parse(text)
            .map_err(|e| err(".".into(), e.to_string().trim_end().to_owned()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            err(
                e.path().to_string(),
                e.inner().to_string().trim_end().to_owned(),
            )
        })
    }

    /// Render as TOML.
    pub fn to_toml_string(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }
}

#[cfg(test)]
mod capture_line_tests {
    use super::*;

    #[test]
    fn wrapped_records_and_bare_envelopes_give_the_same_matrix() {
        let policy = Policy::from_toml_str(include_str!(
            "../../../../broker-config/policies/default-trilateral.toml"
        ))
        .unwrap();
        let bare = include_str!("../../../../broker-config/policies/samples/capture.jsonl");
        let wrapped: String = bare
            .lines()
            .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
                Ok(env) => format!(
                    "{}\n",
                    serde_json::json!({"ts": "2026-11-21T00:00:00.000000000Z", "subject": "x", "envelope": env})
                ),
                Err(_) => format!("{l}\n"),
            })
            .collect();
        let now = "2026-11-21T00:00:00Z".parse().unwrap();
        let id = RelayIdentity::default();
        let a = Matrix::from_capture(bare, &policy, now, &id);
        let b = Matrix::from_capture(&wrapped, &policy, now, &id);
        assert_eq!(a.rows(), b.rows());
        assert!(a.rows().iter().any(|r| r.delivered > 0));
        // Something that is neither stays not_json.
        assert_eq!(capture_body("{\"hello\":1}").as_ref(), b"{\"hello\":1}");
    }
}
