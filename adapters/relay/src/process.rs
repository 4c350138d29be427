//! The relay's per-message logic, pure: bytes and the subject in, outputs and rejects out.
//! The live relay ([`crate::live`]) and the offline policy test ([`crate::matrix`]) both call
//! [`process`], so they cannot disagree.

use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use trilink_schema::{
    Envelope, Hop, MessageId, Mode, Nation, PayloadKind, Subject, ValidationContext,
};

use crate::policy::{Decision, Policy, WithholdReason};

/// Who the relay is: stamped into each provenance hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayIdentity {
    /// Site of the relay (`us` for the hub).
    pub site: Nation,
    /// Component name, e.g. `relay-1`.
    pub component: String,
}

impl Default for RelayIdentity {
    fn default() -> Self {
        Self {
            site: Nation::Us,
            component: "relay".to_owned(),
        }
    }
}

/// One message to publish for one destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Destination nation.
    pub dest: Nation,
    /// Output subject (`tl.out.<dest>.<kind>[.<track>]`).
    pub subject: String,
    /// Serialized envelope (with the relay hop and `relayed_at`).
    pub body: Bytes,
    /// `Nats-Msg-Id` for this output: see [`output_msg_id`].
    pub msg_id: String,
    /// The allow rule that released it.
    pub rule: String,
}

/// Why the relay refused a message outright (it goes to the dead-letter subject).
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// Stable snake-case code (`Tl-Reason` header, metric label).
    pub code: &'static str,
    /// Human-readable detail (`Tl-Detail` header).
    pub detail: String,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

/// Reject codes of the relay itself, beyond [`trilink_schema::ValidationError::CODES`].
pub mod reject_codes {
    /// The arrival subject is not `tl.in.<origin>.<kind>`.
    pub const BAD_SUBJECT: &str = "bad_subject";
    /// The body is not a JSON envelope.
    pub const NOT_JSON: &str = "not_json";
    /// The envelope's origin differs from the subject's (spoofing).
    pub const ORIGIN_MISMATCH: &str = "origin_mismatch";
    /// The envelope's payload kind differs from the subject's.
    pub const KIND_MISMATCH: &str = "kind_mismatch";
    /// Appending this relay's hop would exceed the envelope's hop limit (a loop).
    pub const HOP_LIMIT: &str = "hop_limit_exceeded";
    /// The envelope could not be serialized again (should not happen).
    pub const SERIALIZE: &str = "serialize_failed";
    /// Every relay-level code.
    pub const ALL: [&str; 6] = [
        BAD_SUBJECT,
        NOT_JSON,
        ORIGIN_MISMATCH,
        KIND_MISMATCH,
        HOP_LIMIT,
        SERIALIZE,
    ];
}

/// What the relay does with one input message.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The envelope's id, when the body parsed.
    pub message_id: Option<MessageId>,
    /// Origin, kind and mode when the body parsed (for counters and the matrix).
    pub key: Option<(Nation, PayloadKind, Mode)>,
    /// Messages to publish (empty when rejected or withheld everywhere).
    pub outputs: Vec<Output>,
    /// Destinations the message was withheld from, and why.
    pub withheld: Vec<(Nation, WithholdReason)>,
    /// Set when the input goes to the dead-letter subject instead.
    pub reject: Option<Reject>,
    /// `(ingested_at, observed_at)` of a valid envelope, for latency histograms.
    pub times: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Outcome {
    fn rejected(message_id: Option<MessageId>, code: &'static str, detail: String) -> Self {
        Self {
            message_id,
            key: None,
            outputs: Vec::new(),
            withheld: Vec::new(),
            reject: Some(Reject { code, detail }),
            times: None,
        }
    }
}

/// The `Nats-Msg-Id` of the output of message `id` for `dest`: `<message_id>.<dest>`.
///
/// Unique per (message, destination) forever, because message ids are; the same input
/// re-processed after a relay restart yields the same id, so JetStream drops the duplicate.
/// It deliberately does not include the relay's identity: two relays of a cluster processing
/// the same input produce one stored output.
pub fn output_msg_id(id: &MessageId, dest: Nation) -> String {
    format!("{id}.{dest}")
}

/// [`process`] for an input that arrived in nation `account`'s NATS account (the hub's
/// per-nation input stream): an input whose subject names another origin is rejected as
/// `origin_mismatch` before anything else, so a nation can never publish as another even if a
/// broker permission were too wide.
pub fn process_in_account(
    account: Nation,
    arrived_on: &str,
    body: &[u8],
    now: DateTime<Utc>,
    policy: &Policy,
    identity: &RelayIdentity,
) -> Outcome {
    if let Ok(Subject::In { origin, .. }) = Subject::parse(arrived_on)
        && origin != account
    {
        return Outcome::rejected(
            None,
            reject_codes::ORIGIN_MISMATCH,
            format!("{arrived_on} arrived in the account of {account}"),
        );
    }
    process(arrived_on, body, now, policy, identity)
}

/// Process one input message that arrived on `arrived_on` with `body`, at `now`.
///
/// Steps: parse the subject (`tl.in.<origin>.<kind>`), parse the JSON envelope, check origin
/// and kind against the subject (spoofing → reject `origin_mismatch`), validate with
/// [`ValidationContext::at`]`(now)` including the message-id check, check that one more hop fits
/// the hop limit, apply the policy, append this relay's [`Hop`] and set `relayed_at = now`, and
/// serialize once for every released destination.
pub fn process(
    arrived_on: &str,
    body: &[u8],
    now: DateTime<Utc>,
    policy: &Policy,
    identity: &RelayIdentity,
) -> Outcome {
    let (subj_origin, subj_kind) = match Subject::parse(arrived_on) {
        Ok(Subject::In { origin, kind }) => (origin, kind),
        Ok(other) => {
            return Outcome::rejected(
                None,
                reject_codes::BAD_SUBJECT,
                format!("{other} is not an input subject (tl.in.<origin>.<kind>)"),
            );
        }
        Err(e) => return Outcome::rejected(None, reject_codes::BAD_SUBJECT, e.to_string()),
    };
    let mut env = match Envelope::from_json(body) {
        Ok(e) => e,
        Err(e) => return Outcome::rejected(None, reject_codes::NOT_JSON, e.to_string()),
    };
    let id = Some(env.message_id);
    if env.origin != subj_origin {
        return Outcome::rejected(
            id,
            reject_codes::ORIGIN_MISMATCH,
            format!(
                "envelope origin {} arrived on {arrived_on} (origin {subj_origin})",
                env.origin
            ),
        );
    }
    let kind = env.payload.kind();
    if kind != subj_kind {
        return Outcome::rejected(
            id,
            reject_codes::KIND_MISMATCH,
            format!("envelope kind {kind} arrived on {arrived_on} (kind {subj_kind})"),
        );
    }
    if let Err(e) = env.validate(&ValidationContext::at(now)) {
        return Outcome::rejected(id, e.code(), e.to_string());
    }
    if env.provenance.len() >= usize::from(env.hop_limit) {
        return Outcome::rejected(
            id,
            reject_codes::HOP_LIMIT,
            format!(
                "provenance already has {} hops; hop_limit is {}",
                env.provenance.len(),
                env.hop_limit
            ),
        );
    }

    let mut released = Vec::new();
    let mut withheld = Vec::new();
    for (dest, decision) in policy.decide(&env) {
        match decision {
            Decision::Deliver { rule } => released.push((dest, rule)),
            Decision::Withhold(reason) => withheld.push((dest, reason)),
        }
    }
    let key = Some((env.origin, kind, env.mode));
    let mut outputs = Vec::with_capacity(released.len());
    if !released.is_empty() {
        env.relayed_at = Some(now);
        env.provenance.push(Hop {
            site: identity.site,
            component: identity.component.clone(),
            at: now,
        });
        let body = match env.to_json() {
            Ok(b) => Bytes::from(b),
            Err(e) => return Outcome::rejected(id, reject_codes::SERIALIZE, e.to_string()),
        };
        for (dest, rule) in released {
            outputs.push(Output {
                dest,
                subject: Subject::output_for(&env, dest).to_string(),
                body: body.clone(),
                msg_id: output_msg_id(&env.message_id, dest),
                rule,
            });
        }
    }
    Outcome {
        message_id: id,
        key,
        outputs,
        withheld,
        reject: None,
        times: Some((env.ingested_at, env.observed_at)),
    }
}
