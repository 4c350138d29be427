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
/// The compact form, one line per cell (what `trilink policy test --write-expect` writes):
///
/// ```toml
/// [cells]
/// "jp -> kr  launch_detection   real_world" = { delivered = 1 }
/// "jp -> jp  launch_detection   real_world" = { withheld = { origin_echo = 1 } }
/// "jp -> kr  track_update       real_world" = { withheld = { not_releasable = 1 } }
///
/// [rejected]
/// origin_mismatch = 1
/// ```
///
/// A cell is named `"<origin> -> <destination>  <kind>  <mode>"` (spacing is free), exactly as
/// a diff prints it. A named cell is asserted whole: a count it does not list is expected to
/// be 0. How much of the matrix a file asserts is the caller's choice ([`ExpectScope`]): only
/// the cells and reject codes it names, or the whole matrix (cells not named expected empty,
/// reject codes not named expected 0).
///
/// The long form of earlier versions, one `[[row]]` table per cell with `origin`,
/// `destination`, `kind`, `mode`, `delivered` and `withheld`, is still read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Expected cells.
    pub cells: BTreeMap<RowKey, CellCounts>,
    /// Expected rejects by reason code.
    pub rejected: BTreeMap<String, u64>,
}

/// How much of the matrix an expectations file asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectScope {
    /// Only the cells and reject codes the file names (`trilink policy test --expect`).
    Named,
    /// The whole matrix: cells not named must be empty, reject codes not named must be 0
    /// (`--strict`).
    Whole,
}

/// The file as written: compact `[cells]` and/or long `[[row]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectationsFile {
    #[serde(default)]
    cells: BTreeMap<String, CellCounts>,
    #[serde(default, rename = "row")]
    rows: Vec<Row>,
    #[serde(default)]
    rejected: BTreeMap<String, u64>,
}

impl RowKey {
    /// The cell's name in expectations files and diffs: `jp -> kr  track_update  real_world`.
    pub fn name(self) -> String {
        format!(
            "{} -> {}  {}  {}",
            self.origin, self.destination, self.kind, self.mode
        )
    }

    /// The name with the kind padded, so that a column of names lines up.
    fn padded_name(self) -> String {
        format!(
            "{} -> {}  {:<17}  {}",
            self.origin,
            self.destination,
            self.kind.as_str(),
            self.mode.as_str()
        )
    }

    /// Parse a cell name (`jp -> kr  track_update  real_world`; spacing is free).
    pub fn parse_name(name: &str) -> Result<Self, String> {
        let spaced = name.replace("->", " -> ");
        let words: Vec<&str> = spaced.split_whitespace().collect();
        let [origin, "->", destination, kind, mode] = words.as_slice() else {
            return Err(format!(
                "cell {name:?} is not \"<origin> -> <destination>  <kind>  <mode>\" \
                 (e.g. \"jp -> kr  track_update  real_world\")"
            ));
        };
        let nation = |s: &str| {
            s.parse::<Nation>()
                .map_err(|e| format!("cell {name:?}: {e}"))
        };
        Ok(RowKey {
            origin: nation(origin)?,
            destination: nation(destination)?,
            kind: PayloadKind::parse(kind).ok_or_else(|| {
                format!(
                    "cell {name:?}: unknown kind {kind:?} (expected one of {})",
                    PayloadKind::ALL.map(PayloadKind::as_str).join(", ")
                )
            })?,
            mode: Mode::ALL
                .into_iter()
                .find(|m| m.as_str() == *mode)
                .ok_or_else(|| {
                    format!(
                        "cell {name:?}: unknown mode {mode:?} (expected one of {})",
                        Mode::ALL.map(Mode::as_str).join(", ")
                    )
                })?,
        })
    }
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

    /// The matrix as an expectations file (to bootstrap one from a reviewed run): every
    /// non-empty cell and every reject code.
    pub fn to_expectations(&self) -> Expectations {
        Expectations {
            cells: self
                .cells
                .iter()
                .filter(|(_, c)| !c.is_empty())
                .map(|(k, c)| (*k, normal(c)))
                .collect(),
            rejected: nonzero(&self.rejected),
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

    /// Compare with expectations, over the cells `scope` says; `None` when equal, otherwise a
    /// readable diff naming each differing cell as an expectations file names it.
    pub fn diff(&self, expected: &Expectations, scope: ExpectScope) -> Option<String> {
        let mut keys: Vec<RowKey> = match scope {
            ExpectScope::Named => expected.cells.keys().copied().collect(),
            ExpectScope::Whole => expected
                .cells
                .keys()
                .chain(self.cells.keys())
                .copied()
                .collect(),
        };
        keys.sort_unstable();
        keys.dedup();
        let empty = CellCounts::default();
        let mut out = String::new();
        let mut differing = 0usize;
        for k in keys {
            let w = normal(expected.cells.get(&k).unwrap_or(&empty));
            let g = normal(self.cells.get(&k).unwrap_or(&empty));
            if w != g {
                differing += 1;
                let _ = writeln!(
                    out,
                    "  {}\n      expected: {}\n      actual:   {}",
                    k.name(),
                    w.describe(),
                    g.describe()
                );
            }
        }
        let (wr, gr) = match scope {
            ExpectScope::Whole => (nonzero(&expected.rejected), nonzero(&self.rejected)),
            ExpectScope::Named => (
                expected.rejected.clone(),
                expected
                    .rejected
                    .keys()
                    .map(|code| (code.clone(), self.rejected.get(code).copied().unwrap_or(0)))
                    .collect(),
            ),
        };
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

    /// Non-empty cells (what `--strict` asserts besides the rejects).
    pub fn non_empty_cells(&self) -> usize {
        self.cells.values().filter(|c| !c.is_empty()).count()
    }
}

/// A cell without zero withheld counts (absent and 0 mean the same).
fn normal(c: &CellCounts) -> CellCounts {
    CellCounts {
        delivered: c.delivered,
        withheld: nonzero(&c.withheld),
    }
}

fn nonzero(m: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    m.iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (k.clone(), *n))
        .collect()
}

/// A TOML key: bare when it may be, otherwise a quoted basic string.
fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

/// A TOML basic string (JSON string escapes are valid TOML escapes).
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
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
        let file: ExpectationsFile = serde_path_to_error::deserialize(de).map_err(|e| {
            err(
                e.path().to_string(),
                e.inner().to_string().trim_end().to_owned(),
            )
        })?;
        let mut cells = BTreeMap::new();
        for (name, counts) in file.cells {
            let key = RowKey::parse_name(&name).map_err(|m| err(format!("cells.{name:?}"), m))?;
            if cells.insert(key, counts).is_some() {
                return Err(err(
                    format!("cells.{name:?}"),
                    format!("cell {} is named twice", key.name()),
                ));
            }
        }
        for (i, r) in file.rows.into_iter().enumerate() {
            let key = RowKey {
                origin: r.origin,
                destination: r.destination,
                kind: r.kind,
                mode: r.mode,
            };
            let counts = CellCounts {
                delivered: r.delivered,
                withheld: r.withheld,
            };
            if cells.insert(key, counts).is_some() {
                return Err(err(
                    format!("row[{i}]"),
                    format!("cell {} is named twice", key.name()),
                ));
            }
        }
        Ok(Expectations {
            cells,
            rejected: file.rejected,
        })
    }

    /// Render in the compact form: one line per cell, in matrix order, then the reject codes.
    pub fn to_toml_string(&self) -> String {
        let mut s = String::from("[cells]\n");
        for (k, c) in &self.cells {
            let mut parts = Vec::new();
            if c.delivered > 0 || c.withheld.is_empty() {
                parts.push(format!("delivered = {}", c.delivered));
            }
            if !c.withheld.is_empty() {
                let w: Vec<String> = c
                    .withheld
                    .iter()
                    .map(|(r, n)| format!("{} = {n}", toml_key(r)))
                    .collect();
                parts.push(format!("withheld = {{ {} }}", w.join(", ")));
            }
            // Quoted names are at most 41 characters: pad so the `=` line up.
            let _ = writeln!(
                s,
                "{:<41} = {{ {} }}",
                toml_string(&k.padded_name()),
                parts.join(", ")
            );
        }
        if !self.rejected.is_empty() {
            s.push_str("\n[rejected]\n");
            for (code, n) in &self.rejected {
                let _ = writeln!(s, "{} = {n}", toml_key(code));
            }
        }
        s
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

#[cfg(test)]
mod expectations_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code
    use super::*;

    fn sample_matrix() -> Matrix {
        let policy = Policy::from_toml_str(include_str!(
            "../../../../broker-config/policies/default-trilateral.toml"
        ))
        .unwrap();
        let capture = include_str!("../../../../broker-config/policies/samples/capture.jsonl");
        Matrix::from_capture(
            capture,
            &policy,
            "2026-11-21T00:00:00Z".parse().unwrap(),
            &RelayIdentity::default(),
        )
    }

    #[test]
    fn compact_form_round_trips() {
        let m = sample_matrix();
        let exp = m.to_expectations();
        let text = exp.to_toml_string();
        let back = Expectations::from_toml_str(&text, "written").unwrap();
        assert_eq!(back, exp, "{text}");
        assert_eq!(m.diff(&back, ExpectScope::Whole), None);
        assert_eq!(m.diff(&back, ExpectScope::Named), None);
        assert_eq!(back.cells.len(), m.non_empty_cells());
        // One line per cell plus the section headers and the reject codes.
        assert_eq!(
            text.lines().count(),
            1 + m.non_empty_cells() + 2 + m.rejected.len(),
            "{text}"
        );
    }

    #[test]
    fn long_form_is_still_read() {
        let long = "[[row]]\norigin = \"jp\"\ndestination = \"kr\"\nkind = \"cancel\"\n\
                    mode = \"real_world\"\ndelivered = 1\n\n[[row]]\norigin = \"jp\"\n\
                    destination = \"jp\"\nkind = \"cancel\"\nmode = \"real_world\"\n\
                    delivered = 0\n\n[row.withheld]\norigin_echo = 1\n\n[rejected]\nnot_json = 1\n";
        let compact = "[cells]\n\"jp -> kr  cancel  real_world\" = { delivered = 1 }\n\
                       \"jp->jp cancel real_world\" = { withheld = { origin_echo = 1 } }\n\
                       [rejected]\nnot_json = 1\n";
        let a = Expectations::from_toml_str(long, "long").unwrap();
        let b = Expectations::from_toml_str(compact, "compact").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.cells.len(), 2);
        assert_eq!(sample_matrix().diff(&a, ExpectScope::Named), None);
        assert!(sample_matrix().diff(&a, ExpectScope::Whole).is_some());
    }

    #[test]
    fn named_reject_codes_only_are_asserted_without_strict() {
        let m = sample_matrix();
        let one = Expectations::from_toml_str("[rejected]\nnot_json = 1\n", "x").unwrap();
        assert_eq!(m.diff(&one, ExpectScope::Named), None);
        let wrong = Expectations::from_toml_str("[rejected]\norigin_mismatch = 1\n", "x").unwrap();
        let diff = m.diff(&wrong, ExpectScope::Named).unwrap();
        assert!(diff.contains("in 1 place(s)"), "{diff}");
        assert!(diff.contains("expected: origin_mismatch 1"), "{diff}");
        assert!(diff.contains("actual:   origin_mismatch 0"), "{diff}");
    }

    #[test]
    fn a_cell_named_twice_or_misnamed_is_an_error_naming_it() {
        let twice = "[cells]\n\"jp -> kr  cancel  real_world\" = { delivered = 1 }\n\
                     \"jp->kr cancel real_world\" = { delivered = 1 }\n";
        let e = Expectations::from_toml_str(twice, "f")
            .unwrap_err()
            .to_string();
        assert!(e.contains("named twice"), "{e}");
        for (bad, says) in [
            (
                "jp kr cancel real_world",
                "is not \"<origin> -> <destination>",
            ),
            ("jp -> xx  cancel  real_world", "unknown nation \"xx\""),
            ("jp -> kr  cancel  realworld", "unknown mode \"realworld\""),
        ] {
            let text = format!("[cells]\n{bad:?} = {{ delivered = 1 }}\n");
            let e = Expectations::from_toml_str(&text, "f")
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{e}");
            assert!(e.contains(&format!("cells.{bad:?}")), "{e}");
        }
        let typo = "[cells]\n\"jp -> kr  cancel  real_world\" = { delivred = 1 }\n";
        let e = Expectations::from_toml_str(typo, "f")
            .unwrap_err()
            .to_string();
        assert!(e.contains("delivred"), "{e}");
    }
}
