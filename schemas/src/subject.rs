//! The NATS subject contract as code.
//!
//! | subject | publisher | reader |
//! |---|---|---|
//! | `tl.in.<origin>.<kind>` | origin's adapter | hub relay |
//! | `tl.out.<dest>.<kind>.<origin>.<message_id>` (`tl.out.<dest>.track_update.<origin>.<track_id>` for tracks) | relay | destination adapter |
//! | `tl.dlq.<site>` | any component rejecting input | operators, tests |
//! | `tl.status.<site>.<component>` | every process | monitoring, demo |
//!
//! Every output subject has six tokens and ends in the message's origin and an item token, so
//! that ONE output stream per destination (`max_msgs_per_subject = 1`) keeps, in the relay's
//! order, the latest update of each track and every other message:
//! - track updates end in `<origin>.<track_id>`: a later update of a track replaces the earlier
//!   one (latest per track after an outage). The origin token binds the id to its nation: track
//!   ids are chosen by national systems, so two nations can use the same id, and one nation's
//!   update must never replace (evict) another nation's track.
//! - every other kind ends in `<origin>.<message_id>`: a subject of its own, so nothing else
//!   replaces it (a re-publication of the same message lands on the same subject).
//!
//! One stream per destination is what keeps causal order per track (issue 14): a track's
//! `launch_detection` is stored before its `track_update`s, a `cancel` after what it cancels,
//! and a consumer reads them in that order. Two streams (one for tracks, one for the rest)
//! cannot: their consumers interleave arbitrarily.

use std::fmt;
use std::str::FromStr;

use crate::{Envelope, MessageId, Nation, Payload, PayloadKind, TrackId};

/// First token of every trilink subject.
pub const PREFIX: &str = "tl";

/// The reply-subject prefix of a client connected as `user`: `_INBOX_<user>`.
///
/// Every trilink process uses it instead of the shared `_INBOX`, and each user's permissions
/// allow subscribing to `_INBOX_<user>.>` only, so no client can listen to another's replies
/// (JetStream API answers, publish acknowledgements) in the same account.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// A parsed trilink subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// `tl.in.<origin>.<kind>`
    In {
        /// Originating nation.
        origin: Nation,
        /// Payload kind.
        kind: PayloadKind,
    },
    /// `tl.out.<dest>.<kind>.<origin>.<message_id>`, or
    /// `tl.out.<dest>.track_update.<origin>.<track_id>`, or
    /// `tl.out.<dest>.common_event.us.<event id, 32 hex digits>`
    Out {
        /// Destination nation.
        dest: Nation,
        /// Payload kind.
        kind: PayloadKind,
        /// The last two tokens: the track (for `track_update`) or the message.
        item: OutItem,
    },
    /// `tl.dlq.<site>`
    Dlq {
        /// Site whose component rejected the input.
        site: Nation,
    },
    /// `tl.status.<site>.<component>`
    Status {
        /// Site of the component.
        site: Nation,
        /// Component name, 1-64 of `[a-z0-9_-]`.
        component: String,
    },
}

/// A track as an output subject names it: the originating nation and its track id. Binding
/// the id to its origin keeps one nation's track from ever replacing another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackKey {
    /// Nation whose system reported the track.
    pub origin: Nation,
    /// The national track id.
    pub id: TrackId,
}

/// What the last two tokens of an output subject name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OutItem {
    /// A `track_update`'s track, or a `common_event`'s event (origin `us`, the event id as a
    /// track id): the output stream keeps the latest message per track
    /// ([`PayloadKind::keeps_latest`]).
    Track(TrackKey),
    /// Any other message: its own subject, so the output stream keeps every one.
    Message {
        /// Nation whose system reported the message.
        origin: Nation,
        /// The message's id.
        id: MessageId,
    },
}

impl OutItem {
    /// The nation whose system reported the message.
    pub fn origin(&self) -> Nation {
        match self {
            OutItem::Track(t) => t.origin,
            OutItem::Message { origin, .. } => *origin,
        }
    }

    /// The track, for a track update.
    pub fn track(&self) -> Option<&TrackKey> {
        match self {
            OutItem::Track(t) => Some(t),
            OutItem::Message { .. } => None,
        }
    }
}

impl fmt::Display for OutItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutItem::Track(t) => t.fmt(f),
            OutItem::Message { origin, id } => {
                f.write_str(origin.as_str())?;
                f.write_str(".")?;
                id.fmt(f)
            }
        }
    }
}

impl fmt::Display for TrackKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.origin.as_str())?;
        f.write_str(".")?;
        f.write_str(self.id.as_str())
    }
}

/// Why a string is not a trilink subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectError {
    /// The subject does not start with `tl.`.
    #[error("subject {subject:?} does not start with \"tl.\"")]
    NotTrilink {
        /// The subject.
        subject: String,
    },
    /// The second token is not `in`, `out`, `dlq` or `status`.
    #[error("subject {subject:?}: unknown family {family:?} (expected in, out, dlq or status)")]
    UnknownFamily {
        /// The subject.
        subject: String,
        /// The token found.
        family: String,
    },
    /// A token that should name a nation does not.
    #[error("subject {subject:?}: {token:?} is not a nation (jp, kr, us)")]
    UnknownNation {
        /// The subject.
        subject: String,
        /// The token found.
        token: String,
    },
    /// A token that should name a payload kind does not.
    #[error("subject {subject:?}: {token:?} is not a payload kind")]
    UnknownKind {
        /// The subject.
        subject: String,
        /// The token found.
        token: String,
    },
    /// Too few or too many tokens for the family.
    #[error("subject {subject:?}: wrong number of tokens for tl.{family}")]
    WrongTokenCount {
        /// The subject.
        subject: String,
        /// The family.
        family: &'static str,
    },
    /// A track id token is missing, present where not allowed, or invalid.
    #[error("subject {subject:?}: bad track token: {detail}")]
    BadTrack {
        /// The subject.
        subject: String,
        /// What is wrong.
        detail: String,
    },
    /// The last token of a non-track output subject is not a message id.
    #[error("subject {subject:?}: bad message id token: {detail}")]
    BadMessageId {
        /// The subject.
        subject: String,
        /// What is wrong.
        detail: String,
    },
    /// A component token is invalid.
    #[error("subject {subject:?}: bad component {token:?} (1-64 of [a-z0-9_-])")]
    BadComponent {
        /// The subject.
        subject: String,
        /// The token found.
        token: String,
    },
}

impl Subject {
    /// The input subject an envelope is published on by its origin's adapter.
    pub fn input_for(env: &Envelope) -> Self {
        Subject::In {
            origin: env.origin,
            kind: env.payload.kind(),
        }
    }

    /// The output subject for delivering `env` to `dest`.
    pub fn output_for(env: &Envelope, dest: Nation) -> Self {
        let kind = env.payload.kind();
        let track = match &env.payload {
            Payload::TrackUpdate(p) => Some(p.track_id.clone()),
            // The hub's common picture: latest per event, like a track of origin `us`.
            Payload::CommonEvent(e) => Some(e.track_id()),
            _ => None,
        };
        let item = match track {
            Some(id) => OutItem::Track(TrackKey {
                origin: env.origin,
                id,
            }),
            None => OutItem::Message {
                origin: env.origin,
                id: env.message_id,
            },
        };
        Subject::Out { dest, kind, item }
    }

    /// Wildcard for everything a nation's adapter publishes: `tl.in.<origin>.>`.
    pub fn input_filter(origin: Nation) -> String {
        format!("{PREFIX}.in.{origin}.>")
    }

    /// Wildcard for everything released to a nation: `tl.out.<dest>.>`.
    pub fn output_filter(dest: Nation) -> String {
        format!("{PREFIX}.out.{dest}.>")
    }

    /// The subject filter of a destination's output stream: exactly the six-token output
    /// subjects, `tl.out.<dest>.*.*.*` (a five-token publication finds no stream and fails).
    pub fn output_stream_filter(dest: Nation) -> String {
        format!("{PREFIX}.out.{dest}.*.*.*")
    }

    /// Whether `s` is a valid component token.
    pub fn is_valid_component(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    }

    /// Parse a subject string.
    pub fn parse(subject: &str) -> Result<Self, SubjectError> {
        let tokens: Vec<&str> = subject.split('.').collect();
        let owned = || subject.to_owned();
        let nation = |t: &str| {
            t.parse::<Nation>()
                .map_err(|_| SubjectError::UnknownNation {
                    subject: subject.to_owned(),
                    token: t.to_owned(),
                })
        };
        let kind = |t: &str| {
            PayloadKind::parse(t).ok_or_else(|| SubjectError::UnknownKind {
                subject: subject.to_owned(),
                token: t.to_owned(),
            })
        };
        match tokens.as_slice() {
            [p, ..] if *p != PREFIX => Err(SubjectError::NotTrilink { subject: owned() }),
            [_] | [] => Err(SubjectError::NotTrilink { subject: owned() }),
            [_, "in", rest @ ..] => match rest {
                [o, k] => Ok(Subject::In {
                    origin: nation(o)?,
                    kind: kind(k)?,
                }),
                _ => Err(SubjectError::WrongTokenCount {
                    subject: owned(),
                    family: "in",
                }),
            },
            [_, "out", rest @ ..] => match rest {
                [d, k, o, t] => {
                    let dest = nation(d)?;
                    let kind = kind(k)?;
                    let origin = nation(o)?;
                    let item = if kind.keeps_latest() {
                        let id = TrackId::new(*t).map_err(|e| SubjectError::BadTrack {
                            subject: owned(),
                            detail: e.to_string(),
                        })?;
                        OutItem::Track(TrackKey { origin, id })
                    } else {
                        let id =
                            t.parse::<MessageId>()
                                .map_err(|e| SubjectError::BadMessageId {
                                    subject: owned(),
                                    detail: e.to_string(),
                                })?;
                        OutItem::Message { origin, id }
                    };
                    Ok(Subject::Out { dest, kind, item })
                }
                _ => Err(SubjectError::WrongTokenCount {
                    subject: owned(),
                    family: "out",
                }),
            },
            [_, "dlq", rest @ ..] => match rest {
                [s] => Ok(Subject::Dlq { site: nation(s)? }),
                _ => Err(SubjectError::WrongTokenCount {
                    subject: owned(),
                    family: "dlq",
                }),
            },
            [_, "status", rest @ ..] => match rest {
                [s, c] => {
                    let site = nation(s)?;
                    if !Self::is_valid_component(c) {
                        return Err(SubjectError::BadComponent {
                            subject: owned(),
                            token: (*c).to_owned(),
                        });
                    }
                    Ok(Subject::Status {
                        site,
                        component: (*c).to_owned(),
                    })
                }
                _ => Err(SubjectError::WrongTokenCount {
                    subject: owned(),
                    family: "status",
                }),
            },
            [_, family, ..] => Err(SubjectError::UnknownFamily {
                subject: owned(),
                family: (*family).to_owned(),
            }),
        }
    }
}

// Written piece by piece with `write_str` (no format arguments): the relay and the adapters
// build a subject for every message.
impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        match self {
            Subject::In { origin, kind } => {
                f.write_str(".in.")?;
                f.write_str(origin.as_str())?;
                f.write_str(".")?;
                f.write_str(kind.as_str())
            }
            Subject::Out { dest, kind, item } => {
                f.write_str(".out.")?;
                f.write_str(dest.as_str())?;
                f.write_str(".")?;
                f.write_str(kind.as_str())?;
                f.write_str(".")?;
                item.fmt(f)
            }
            Subject::Dlq { site } => {
                f.write_str(".dlq.")?;
                f.write_str(site.as_str())
            }
            Subject::Status { site, component } => {
                f.write_str(".status.")?;
                f.write_str(site.as_str())?;
                f.write_str(".")?;
                f.write_str(component)
            }
        }
    }
}

impl FromStr for Subject {
    type Err = SubjectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_round_trips() {
        let mut subjects = vec![
            Subject::Dlq { site: Nation::Kr },
            Subject::Status {
                site: Nation::Us,
                component: "relay-1".into(),
            },
        ];
        for n in Nation::ALL {
            for k in PayloadKind::ALL {
                subjects.push(Subject::In { origin: n, kind: k });
                let item = if k.keeps_latest() {
                    OutItem::Track(TrackKey {
                        origin: Nation::Us,
                        id: TrackId::new("T-0042").unwrap(),
                    })
                } else {
                    OutItem::Message {
                        origin: Nation::Jp,
                        id: MessageId::derive(Nation::Jp, "sys", "42"),
                    }
                };
                subjects.push(Subject::Out {
                    dest: n,
                    kind: k,
                    item,
                });
            }
        }
        for s in subjects {
            let text = s.to_string();
            assert_eq!(Subject::parse(&text).unwrap(), s, "{text}");
        }
    }

    #[test]
    fn known_strings() {
        assert_eq!(
            Subject::parse("tl.in.jp.launch_detection").unwrap(),
            Subject::In {
                origin: Nation::Jp,
                kind: PayloadKind::LaunchDetection
            }
        );
        assert_eq!(
            Subject::parse("tl.out.kr.track_update.jp.JP-7")
                .unwrap()
                .to_string(),
            "tl.out.kr.track_update.jp.JP-7"
        );
        let cancel = "tl.out.us.cancel.kr.6f1c2a9e-0000-5000-8000-000000000001";
        assert_eq!(Subject::parse(cancel).unwrap().to_string(), cancel);
        assert_eq!(Subject::input_filter(Nation::Jp), "tl.in.jp.>");
        assert_eq!(Subject::output_filter(Nation::Kr), "tl.out.kr.>");
        assert_eq!(Subject::output_stream_filter(Nation::Kr), "tl.out.kr.*.*.*");
    }

    #[test]
    fn rejects_everything_else() {
        let cases: &[(&str, &str)] = &[
            ("", "NotTrilink"),
            ("tl", "NotTrilink"),
            ("nats.in.jp.cancel", "NotTrilink"),
            ("tl.foo.jp", "UnknownFamily"),
            ("tl.in.cn.cancel", "UnknownNation"),
            ("tl.in.jp.nuke", "UnknownKind"),
            ("tl.in.jp", "WrongTokenCount"),
            ("tl.in.jp.cancel.x", "WrongTokenCount"),
            ("tl.out.kr.track_update", "WrongTokenCount"),
            ("tl.out.kr.launch_detection", "WrongTokenCount"),
            ("tl.out.kr.cancel.T1", "WrongTokenCount"),
            ("tl.out.kr.track_update.T1", "WrongTokenCount"),
            ("tl.out.kr.track_update.jp.*", "BadTrack"),
            ("tl.out.kr.track_update.xx.T1", "UnknownNation"),
            ("tl.out.kr.cancel.jp.T1", "BadMessageId"),
            ("tl.out.kr.track_update.jp.a.b", "WrongTokenCount"),
            ("tl.dlq", "WrongTokenCount"),
            ("tl.dlq.xx", "UnknownNation"),
            ("tl.status.us", "WrongTokenCount"),
            ("tl.status.us.Relay", "BadComponent"),
            ("tl.status.us.>", "BadComponent"),
        ];
        for (s, want) in cases {
            let err = Subject::parse(s).unwrap_err();
            let got = format!("{err:?}");
            assert!(got.starts_with(want), "{s:?}: expected {want}, got {got}");
        }
    }
}
