//! The relay's per-message logic, pure: bytes and the subject in, outputs and rejects out.
//! The live relay ([`crate::live`]) and the offline policy test ([`crate::matrix`]) both call
//! [`process`], so they cannot disagree.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use trilink_schema::{
    Envelope, Hop, MessageId, Mode, Nation, PayloadKind, Subject, TrackKey, ValidationContext,
};

use crate::policy::{Decision, Policy, WithholdReason};
use crate::references::ReferenceBook;

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
    /// An input envelope already carries provenance hops or `relayed_at`: the relay is the
    /// first hop, so an adapter-originated envelope claiming earlier hops is forged.
    pub const FORGED_PROVENANCE: &str = "forged_provenance";
    /// The envelope references (cancels, corrects, points at) a message of another origin.
    pub const FOREIGN_REFERENCE: &str = "foreign_reference";
    /// A kind only the hub produces (`common_event`) arrived as a nation's input: no nation
    /// may inject or forge the common picture.
    pub const HUB_ONLY_KIND: &str = "hub_only_kind";
    /// Every relay-level code.
    pub const ALL: [&str; 9] = [
        BAD_SUBJECT,
        NOT_JSON,
        ORIGIN_MISMATCH,
        KIND_MISMATCH,
        HOP_LIMIT,
        SERIALIZE,
        FORGED_PROVENANCE,
        FOREIGN_REFERENCE,
        HUB_ONLY_KIND,
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
    /// The origin's track this message is about, when it has outputs: outputs of two inputs
    /// with the same key must be stored in arrival order (the live relay's store window,
    /// [`crate::pipeline`]).
    pub track: Option<TrackKey>,
    /// The accepted envelope (validated; with the relay hop and `relayed_at` when it has
    /// outputs): what the live relay feeds its common picture ([`crate::picture`]).
    pub envelope: Option<Box<Envelope>>,
}

impl Outcome {
    /// `(message id, origin)` of a message the relay accepted (delivered or withheld, not
    /// rejected): what the caller records in its [`ReferenceBook`].
    pub fn accepted_origin(&self) -> Option<(MessageId, Nation)> {
        match (&self.reject, self.message_id, self.key) {
            (None, Some(id), Some((origin, ..))) => Some((id, origin)),
            _ => None,
        }
    }

    /// The accepted envelope as the common picture may use it: its releasability narrowed to
    /// its origin and the destinations the policy delivered it to. A message the policy
    /// withholds from a destination (a rule, a mode ceiling) must not shape that
    /// destination's picture either: an impact prediction denied to KR must not move the
    /// fused impact KR receives. Every feeder of the picture (live, start-up rebuild,
    /// offline) takes its input from here or from [`Outcome::take_picture_input`].
    ///
    /// Borrowed when nothing needs narrowing (the common case: the policy delivered it
    /// wherever it is releasable); a copy only when the releasability shrinks.
    pub fn picture_input(&self) -> Option<Cow<'_, Envelope>> {
        let env = self.envelope.as_deref()?;
        if self.keeps_releasability(env) {
            return Some(Cow::Borrowed(env));
        }
        let mut env = env.clone();
        self.narrow(&mut env);
        Some(Cow::Owned(env))
    }

    /// [`Outcome::picture_input`] by value, without a copy: the envelope is moved out of the
    /// outcome (which no longer holds it) and narrowed in place. What the live relay hands
    /// to its picture lane.
    pub fn take_picture_input(&mut self) -> Option<Box<Envelope>> {
        let mut env = self.envelope.take()?;
        self.narrow(&mut env);
        Some(env)
    }

    /// Whether narrowing would leave `env`'s releasability as it is.
    fn keeps_releasability(&self, env: &Envelope) -> bool {
        env.releasability
            .iter()
            .all(|n| *n == env.origin || self.outputs.iter().any(|o| o.dest == *n))
    }

    /// Narrow `env`'s releasability to its origin and the destinations delivered to.
    fn narrow(&self, env: &mut Envelope) {
        let origin = env.origin;
        let outputs = &self.outputs;
        env.releasability
            .retain(|n| *n == origin || outputs.iter().any(|o| o.dest == *n));
    }

    fn rejected(message_id: Option<MessageId>, code: &'static str, detail: String) -> Self {
        Self {
            message_id,
            key: None,
            outputs: Vec::new(),
            withheld: Vec::new(),
            reject: Some(Reject { code, detail }),
            times: None,
            track: None,
            envelope: None,
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
    let mut out = id.to_string();
    out.push('.');
    out.push_str(dest.as_str());
    out
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
    refs: &ReferenceBook,
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
    process(arrived_on, body, now, policy, identity, refs)
}

/// Process one input message that arrived on `arrived_on` with `body`, at `now`.
///
/// Steps: parse the subject (`tl.in.<origin>.<kind>`), parse the JSON envelope, check origin
/// and kind against the subject (spoofing → reject `origin_mismatch`), validate with
/// [`ValidationContext::at`]`(now)` including the message-id check, refuse provenance the
/// adapter cannot have (`forged_provenance`: the relay is the first hop) and references to
/// another origin's messages that `refs` knows (`foreign_reference`), check that one more hop
/// fits the hop limit, apply the policy, append this relay's [`Hop`] and set
/// `relayed_at = now`, and serialize once for every released destination.
///
/// The caller records every accepted message in `refs` ([`Outcome::accepted_origin`]), so
/// that later references to it can be checked.
pub fn process(
    arrived_on: &str,
    body: &[u8],
    now: DateTime<Utc>,
    policy: &Policy,
    identity: &RelayIdentity,
    refs: &ReferenceBook,
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
    if kind == PayloadKind::CommonEvent || subj_kind == PayloadKind::CommonEvent {
        return Outcome::rejected(
            id,
            reject_codes::HUB_ONLY_KIND,
            format!(
                "{kind} is produced by the hub only; it never comes from a nation ({arrived_on})"
            ),
        );
    }
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
    if let Some(hop) = env.provenance.first() {
        return Outcome::rejected(
            id,
            reject_codes::FORGED_PROVENANCE,
            format!(
                "input carries {} provenance hop(s), first {}/{}; the relay is the first hop",
                env.provenance.len(),
                hop.site,
                hop.component
            ),
        );
    }
    if let Some(at) = env.relayed_at {
        return Outcome::rejected(
            id,
            reject_codes::FORGED_PROVENANCE,
            format!("input carries relayed_at {at}; only the relay sets it"),
        );
    }
    if let Some((r, other)) = env.references.iter().find_map(|r| {
        refs.origin_of(r)
            .filter(|o| *o != env.origin)
            .map(|o| (r, o))
    }) {
        return Outcome::rejected(
            id,
            reject_codes::FOREIGN_REFERENCE,
            format!(
                "{} message references {r}, which {other} originated; a nation may only \
                 cancel, correct or reference its own messages",
                env.origin
            ),
        );
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
    let track = if outputs.is_empty() {
        None
    } else {
        env.payload.track_id().map(|t| TrackKey {
            origin: env.origin,
            id: t.clone(),
        })
    };
    Outcome {
        message_id: id,
        key,
        outputs,
        withheld,
        reject: None,
        times: Some((env.ingested_at, env.observed_at)),
        track,
        envelope: Some(Box::new(env)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{Duration, TimeZone};
    use trilink_schema::GeoPoint;

    use super::*;
    use crate::sample::{SampleSpec, envelope};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    fn policy() -> Policy {
        Policy::from_toml_str(
            r#"
version = 1
name = "t"
[destinations.jp]
modes = ["real_world"]
[destinations.kr]
modes = ["real_world", "exercise"]
[destinations.us]
modes = ["real_world", "exercise", "test"]
[[rule]]
name = "no-status"
action = "deny"
kinds = ["status"]
[[rule]]
name = "all"
action = "allow"
"#,
        )
        .unwrap()
    }

    fn env(kind: PayloadKind, mode: Mode, rel: &[Nation]) -> Envelope {
        envelope(&SampleSpec {
            origin: Nation::Jp,
            kind,
            mode,
            releasability: rel.iter().copied().collect::<BTreeSet<_>>(),
            seq: 7,
            observed_at: now() - Duration::seconds(3),
            point: GeoPoint {
                lat_deg: 38.0,
                lon_deg: 131.0,
                alt_m: 80_000.0,
            },
        })
        .unwrap()
    }

    fn run(subject: &str, e: &Envelope) -> Outcome {
        run_with(subject, e, &ReferenceBook::default())
    }

    fn run_with(subject: &str, e: &Envelope, refs: &ReferenceBook) -> Outcome {
        process(
            subject,
            &e.to_json().unwrap(),
            now(),
            &policy(),
            &RelayIdentity::default(),
            refs,
        )
    }

    #[test]
    fn delivers_with_hop_relayed_at_track_subject_and_stable_ids() {
        let e = env(PayloadKind::TrackUpdate, Mode::RealWorld, &Nation::ALL);
        let o = run("tl.in.jp.track_update", &e);
        assert!(o.reject.is_none());
        let dests: Vec<Nation> = o.outputs.iter().map(|x| x.dest).collect();
        assert_eq!(dests, vec![Nation::Kr, Nation::Us]);
        assert_eq!(o.withheld, vec![(Nation::Jp, WithholdReason::OriginEcho)]);
        let kr = &o.outputs[0];
        assert_eq!(kr.subject, "tl.out.kr.track_update.jp.jp-7");
        assert_eq!(kr.msg_id, format!("{}.kr", e.message_id));
        assert_eq!(kr.rule, "all");
        let out = Envelope::from_json(&kr.body).unwrap();
        assert_eq!(out.relayed_at, Some(now()));
        assert_eq!(out.provenance.len(), 1);
        assert_eq!(out.provenance[0].component, "relay");
        out.validate(&ValidationContext::at(now())).unwrap();
        // Deterministic: processing again gives the same ids.
        let again = run("tl.in.jp.track_update", &e);
        assert_eq!(again.outputs[1].msg_id, o.outputs[1].msg_id);
    }

    #[test]
    fn withheld_reasons() {
        let e = env(
            PayloadKind::LaunchDetection,
            Mode::Exercise,
            &[Nation::Jp, Nation::Kr],
        );
        let o = run("tl.in.jp.launch_detection", &e);
        assert_eq!(o.outputs.len(), 1);
        assert_eq!(o.outputs[0].dest, Nation::Kr);
        assert_eq!(
            o.withheld,
            vec![
                (Nation::Jp, WithholdReason::OriginEcho),
                (Nation::Us, WithholdReason::NotReleasable)
            ]
        );
        let e = env(PayloadKind::Status, Mode::RealWorld, &Nation::ALL);
        let o = run("tl.in.jp.status", &e);
        assert!(o.outputs.is_empty());
        assert!(o.withheld.contains(&(
            Nation::Kr,
            WithholdReason::DeniedByRule {
                name: "no-status".into()
            }
        )));
        let e = env(PayloadKind::LaunchDetection, Mode::Test, &Nation::ALL);
        let o = run("tl.in.jp.launch_detection", &e);
        assert_eq!(
            o.withheld[1],
            (
                Nation::Kr,
                WithholdReason::ModeNotAccepted { mode: Mode::Test }
            )
        );
    }

    #[test]
    fn rejects_with_codes() {
        let e = env(PayloadKind::LaunchDetection, Mode::RealWorld, &Nation::ALL);
        let code = |o: Outcome| {
            assert!(o.outputs.is_empty());
            o.reject.unwrap().code
        };
        assert_eq!(code(run("tl.out.jp.launch_detection", &e)), "bad_subject");
        assert_eq!(code(run("tl.in.xx.launch_detection", &e)), "bad_subject");
        assert_eq!(
            code(run("tl.in.kr.launch_detection", &e)),
            "origin_mismatch"
        );
        assert_eq!(code(run("tl.in.jp.track_update", &e)), "kind_mismatch");
        // The common picture is the hub's: a nation can neither inject one nor disguise one.
        let ce = env(PayloadKind::CommonEvent, Mode::RealWorld, &Nation::ALL);
        assert_eq!(code(run("tl.in.jp.common_event", &ce)), "hub_only_kind");
        assert_eq!(code(run("tl.in.jp.launch_detection", &ce)), "hub_only_kind");
        assert_eq!(code(run("tl.in.jp.common_event", &e)), "hub_only_kind");
        let o = process(
            "tl.in.jp.launch_detection",
            b"\xff\x00garbage",
            now(),
            &policy(),
            &RelayIdentity::default(),
            &ReferenceBook::default(),
        );
        assert_eq!(code(o), "not_json");

        let mut future = e.clone();
        future.observed_at = now() + Duration::minutes(5);
        future.ingested_at = future.observed_at;
        assert_eq!(
            code(run("tl.in.jp.launch_detection", &future)),
            "future_timestamp"
        );

        let mut forged = e.clone();
        forged.source.national_message_id = "other".into();
        assert_eq!(
            code(run("tl.in.jp.launch_detection", &forged)),
            "message_id_mismatch"
        );

        let o = process_in_account(
            Nation::Kr,
            "tl.in.jp.launch_detection",
            &e.to_json().unwrap(),
            now(),
            &policy(),
            &RelayIdentity::default(),
            &ReferenceBook::default(),
        );
        assert_eq!(code(o), "origin_mismatch");
    }

    /// The picture's input is the accepted envelope itself when the policy delivered it
    /// wherever it is releasable (no copy on the hot path), a narrowed copy otherwise; taking
    /// it moves the envelope out, narrowed in place.
    #[test]
    fn picture_input_borrows_unless_narrowed_and_take_moves_it_out() {
        let e = env(PayloadKind::TrackUpdate, Mode::RealWorld, &Nation::ALL);
        let mut o = run("tl.in.jp.track_update", &e);
        let Some(Cow::Borrowed(b)) = o.picture_input() else {
            panic!("delivered wherever releasable: expected no copy")
        };
        assert_eq!(b.releasability, Nation::ALL.into_iter().collect());
        let taken = o.take_picture_input().unwrap();
        assert_eq!(taken.releasability, Nation::ALL.into_iter().collect());
        assert!(o.envelope.is_none() && o.take_picture_input().is_none());

        // Test mode: KR does not accept it, so KR's picture must not see it either.
        let t = env(PayloadKind::LaunchDetection, Mode::Test, &Nation::ALL);
        let mut o = run("tl.in.jp.launch_detection", &t);
        let narrowed: BTreeSet<Nation> = [Nation::Jp, Nation::Us].into_iter().collect();
        let Some(Cow::Owned(n)) = o.picture_input() else {
            panic!("withheld from KR: expected a narrowed copy")
        };
        assert_eq!(n.releasability, narrowed);
        assert_eq!(
            o.envelope.as_ref().unwrap().releasability,
            Nation::ALL.into_iter().collect(),
            "the outcome's envelope is left as it is"
        );
        let taken = o.take_picture_input().unwrap();
        assert_eq!(*taken, n);
    }

    /// An adapter cannot claim that a relay already handled its message: any hop or
    /// `relayed_at` on input is forged (the real relay is the first hop).
    #[test]
    fn forged_provenance_is_rejected() {
        let e = env(PayloadKind::LaunchDetection, Mode::RealWorld, &Nation::ALL);
        let mut hop = e.clone();
        hop.provenance.push(Hop {
            site: Nation::Us,
            component: "relay-1".into(),
            at: hop.ingested_at,
        });
        let o = run("tl.in.jp.launch_detection", &hop);
        assert_eq!(o.reject.unwrap().code, "forged_provenance");
        let mut relayed = e.clone();
        relayed.relayed_at = Some(relayed.ingested_at);
        let o = run("tl.in.jp.launch_detection", &relayed);
        assert_eq!(o.reject.unwrap().code, "forged_provenance");
        assert!(run("tl.in.jp.launch_detection", &e).reject.is_none());
    }

    /// A nation may cancel, correct or reference only its own messages: a reference to a
    /// message the book knows as another origin's is rejected; its own and unknown ones pass.
    #[test]
    fn references_to_another_origin_are_rejected() {
        let mk = |origin: Nation, seq: u64, kind: PayloadKind| {
            envelope(&SampleSpec {
                origin,
                kind,
                mode: Mode::RealWorld,
                releasability: Nation::ALL.into_iter().collect(),
                seq,
                observed_at: now() - Duration::seconds(3),
                point: GeoPoint {
                    lat_deg: 38.0,
                    lon_deg: 131.0,
                    alt_m: 80_000.0,
                },
            })
            .unwrap()
        };
        let kr_launch = mk(Nation::Kr, 1, PayloadKind::LaunchDetection);
        let jp_launch = mk(Nation::Jp, 2, PayloadKind::LaunchDetection);
        let mut book = ReferenceBook::default();
        for (subject, e) in [
            ("tl.in.kr.launch_detection", &kr_launch),
            ("tl.in.jp.launch_detection", &jp_launch),
        ] {
            let o = run_with(subject, e, &book);
            let (id, origin) = o.accepted_origin().unwrap();
            book.record(id, origin, now());
        }
        for kind in [PayloadKind::Cancel, PayloadKind::Correction] {
            let mut foreign = mk(Nation::Jp, 3, kind);
            foreign.references = vec![kr_launch.message_id];
            let subject = format!("tl.in.jp.{kind}");
            let o = run_with(&subject, &foreign, &book);
            let r = o.reject.unwrap();
            assert_eq!(r.code, "foreign_reference", "{kind}");
            assert!(r.detail.contains("kr"), "{}", r.detail);
            assert_eq!(o.outputs.len(), 0);
            let mut own = foreign.clone();
            own.references = vec![jp_launch.message_id];
            assert!(run_with(&subject, &own, &book).reject.is_none(), "{kind}");
            // Unknown to the book (e.g. older than its window): cannot be checked, passes.
            assert!(run(&subject, &foreign).reject.is_none(), "{kind}");
        }
    }
}
