//! JSON Lines of common envelopes: one object per line,
//! `{"ts": "<RFC 3339, 9 fractional digits, Z>", "subject": "tl.…", "envelope": {…}}`.
//!
//! Reading is strict: unknown fields, a subject that is not a valid NATS subject, an empty
//! line, a carriage return or a line over [`MAX_LINE`] bytes is an error naming the file, the
//! line, the byte offset and the reason. The only leniency: the last line may or may not end
//! with a newline.
//!
//! The subject must be a valid concrete NATS subject (non-empty `.`-separated tokens, no
//! whitespace, no `*`/`>` wildcards) but need not be a trilink [`Subject`]: `trilink scenario`
//! writes ground truth with the subject `truth`. A replay onto NATS should check
//! [`JsonlRecord::parsed_subject`].

use std::io::{BufRead, Read, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use trilink_schema::{Envelope, Subject};

use crate::error::{CaptureError, CaptureErrorKind};

/// Longest line accepted (bytes, without the newline).
pub const MAX_LINE: usize = 1024 * 1024;

/// One JSON Lines record: an envelope as seen on a subject at a receive time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlRecord {
    /// Receive (or, for generated traffic, send) time, UTC with nanoseconds.
    #[serde(serialize_with = "ser_ts", deserialize_with = "de_ts")]
    pub ts: DateTime<Utc>,
    /// The NATS subject (`tl.in.<origin>.<kind>`, `tl.out.<dest>.<kind>[.<track>]`, …).
    pub subject: String,
    /// The envelope.
    pub envelope: Envelope,
}

/// A concrete (publishable) NATS subject: non-empty tokens separated by `.`, no whitespace or
/// control characters, no wildcards.
pub fn check_nats_subject(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty subject".into());
    }
    if s.len() > 4096 {
        return Err("subject longer than 4096 bytes".into());
    }
    for tok in s.split('.') {
        if tok.is_empty() {
            return Err(format!("subject {s:?} has an empty token"));
        }
        if tok == "*" || tok == ">" {
            return Err(format!("subject {s:?} has a wildcard token"));
        }
        if tok.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "subject {s:?} contains whitespace or a control character"
            ));
        }
    }
    Ok(())
}

fn ser_ts<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ts.to_rfc3339_opts(SecondsFormat::Nanos, true))
}

fn de_ts<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| serde::de::Error::custom(format!("ts {s:?} is not RFC 3339: {e}")))
}

impl JsonlRecord {
    /// A record of `envelope` on its input subject (`tl.in.<origin>.<kind>`).
    pub fn input(ts: DateTime<Utc>, envelope: Envelope) -> Self {
        Self {
            ts,
            subject: Subject::input_for(&envelope).to_string(),
            envelope,
        }
    }

    /// The parsed subject.
    pub fn parsed_subject(&self) -> Result<Subject, trilink_schema::SubjectError> {
        Subject::parse(&self.subject)
    }

    /// Encode as one line, with the trailing newline. Fails on an invalid NATS subject.
    pub fn to_line(&self) -> Result<String, CaptureError> {
        check_nats_subject(&self.subject)
            .map_err(|e| CaptureError::new("<jsonl writer>", 0, CaptureErrorKind::Write(e)))?;
        let mut s = serde_json::to_string(self).map_err(|e| {
            CaptureError::new("<jsonl writer>", 0, CaptureErrorKind::Write(e.to_string()))
        })?;
        s.push('\n');
        Ok(s)
    }
}

/// Write records as JSON Lines to `w` (the caller owns the file).
pub fn write_jsonl<'a, W: Write>(
    w: &mut W,
    file: &str,
    records: impl IntoIterator<Item = &'a JsonlRecord>,
) -> Result<u64, CaptureError> {
    let mut n = 0;
    let mut offset = 0u64;
    for r in records {
        let line = r.to_line().map_err(|e| CaptureError {
            file: file.to_owned(),
            offset,
            ..e
        })?;
        w.write_all(line.as_bytes())
            .map_err(|e| CaptureError::new(file, offset, CaptureErrorKind::Io(e)))?;
        offset += line.len() as u64;
        n += 1;
    }
    Ok(n)
}

/// Streaming, strict JSON Lines reader. Fused after the first error.
#[derive(Debug)]
pub struct JsonlReader<R> {
    inner: R,
    file: String,
    offset: u64,
    line: u64,
    done: bool,
    buf: Vec<u8>,
}

impl<R: BufRead> JsonlReader<R> {
    /// Read JSON Lines from `inner`; `file` names it in errors.
    pub fn new(file: impl Into<String>, inner: R) -> Self {
        Self {
            inner,
            file: file.into(),
            offset: 0,
            line: 0,
            done: false,
            buf: Vec::new(),
        }
    }

    fn err(&mut self, offset: u64, detail: String) -> CaptureError {
        self.done = true;
        CaptureError::new(
            self.file.clone(),
            offset,
            CaptureErrorKind::Jsonl {
                line: self.line,
                detail,
            },
        )
    }

    fn next_record(&mut self) -> Result<Option<JsonlRecord>, CaptureError> {
        self.buf.clear();
        let start = self.offset;
        let n = (&mut self.inner)
            .take(MAX_LINE as u64 + 2)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| {
                self.done = true;
                CaptureError::new(self.file.clone(), start, CaptureErrorKind::Io(e))
            })?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        self.line += 1;
        self.offset += n as u64;
        let ended = self.buf.last() == Some(&b'\n');
        if ended {
            self.buf.pop();
        }
        if self.buf.len() > MAX_LINE {
            return Err(self.err(start, format!("line longer than {MAX_LINE} bytes")));
        }
        if self.buf.is_empty() {
            return Err(self.err(start, "empty line".into()));
        }
        if let Some(i) = self.buf.iter().position(|&b| b == b'\r') {
            return Err(self.err(
                start + i as u64,
                "carriage return (CRLF line endings are not accepted)".into(),
            ));
        }
        match serde_json::from_slice::<JsonlRecord>(&self.buf) {
            Ok(r) => {
                if let Err(e) = check_nats_subject(&r.subject) {
                    return Err(self.err(start, format!("invalid subject: {e}")));
                }
                Ok(Some(r))
            }
            Err(e) => {
                let col = e.column().saturating_sub(1) as u64;
                Err(self.err(start + col, e.to_string()))
            }
        }
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<JsonlRecord, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.next_record().transpose()
    }
}

/// Read every record of in-memory JSON Lines.
pub fn read_jsonl(file: &str, data: &[u8]) -> Result<Vec<JsonlRecord>, CaptureError> {
    JsonlReader::new(file, data).collect()
}
