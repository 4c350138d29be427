//! The NATS subject contract as code.
//!
//! | subject | publisher | reader |
//! |---|---|---|
//! | `tl.in.<origin>.<kind>` | origin's adapter | hub relay |
//! | `tl.out.<dest>.<kind>` (`tl.out.<dest>.track_update.<origin>.<track_id>` for tracks) | relay | destination adapter |
//! | `tl.dlq.<site>` | any component rejecting input | operators, tests |
//! | `tl.status.<site>.<component>` | every process | monitoring, demo |
//!
//! Track updates carry the track's origin and id as the last two tokens so that an output
//! stream can keep only the latest message per track (`max_msgs_per_subject = 1`) *per origin*:
//! track ids are chosen by national systems, so two nations can use the same id, and one
//! nation's update must never replace (evict) another nation's track in a latest-per-track
//! stream. No other kind has a fifth token.

use std::fmt;
use std::str::FromStr;

use crate::{Envelope, Nation, PayloadKind, TrackId};

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
    /// `tl.out.<dest>.<kind>` or `tl.out.<dest>.track_update.<origin>.<track_id>`
    Out {
        /// Destination nation.
        dest: Nation,
        /// Payload kind.
        kind: PayloadKind,
        /// Track origin and id; present exactly when `kind` is `track_update`.
        track: Option<TrackKey>,
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

impl fmt::Display for TrackKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.origin, self.id)
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
        let track = if kind == PayloadKind::TrackUpdate {
            env.payload.track_id().map(|id| TrackKey {
                origin: env.origin,
                id: id.clone(),
            })
        } else {
            None
        };
        Subject::Out { dest, kind, track }
    }

    /// Wildcard for everything a nation's adapter publishes: `tl.in.<origin>.>`.
    pub fn input_filter(origin: Nation) -> String {
        format!("{PREFIX}.in.{origin}.>")
    }

    /// Wildcard for everything released to a nation: `tl.out.<dest>.>`.
    pub fn output_filter(dest: Nation) -> String {
        format!("{PREFIX}.out.{dest}.>")
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
                [d, k] => {
                    let dest = nation(d)?;
                    let kind = kind(k)?;
                    if kind == PayloadKind::TrackUpdate {
                        return Err(SubjectError::BadTrack {
                            subject: owned(),
                            detail: "track_update needs origin and track id tokens".into(),
                        });
                    }
                    Ok(Subject::Out {
                        dest,
                        kind,
                        track: None,
                    })
                }
                [d, k, o, t] => {
                    let dest = nation(d)?;
                    let kind = kind(k)?;
                    if kind != PayloadKind::TrackUpdate {
                        return Err(SubjectError::BadTrack {
                            subject: owned(),
                            detail: format!("{kind} takes no track tokens"),
                        });
                    }
                    let origin = nation(o)?;
                    let id = TrackId::new(*t).map_err(|e| SubjectError::BadTrack {
                        subject: owned(),
                        detail: e.to_string(),
                    })?;
                    Ok(Subject::Out {
                        dest,
                        kind,
                        track: Some(TrackKey { origin, id }),
                    })
                }
                [d, k, _] => {
                    nation(d)?;
                    let kind = kind(k)?;
                    Err(SubjectError::BadTrack {
                        subject: owned(),
                        detail: if kind == PayloadKind::TrackUpdate {
                            "track_update needs origin and track id tokens".into()
                        } else {
                            format!("{kind} takes no track tokens")
                        },
                    })
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

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::In { origin, kind } => write!(f, "{PREFIX}.in.{origin}.{kind}"),
            Subject::Out {
                dest,
                kind,
                track: Some(t),
            } => {
                write!(f, "{PREFIX}.out.{dest}.{kind}.{t}")
            }
            Subject::Out {
                dest,
                kind,
                track: None,
            } => write!(f, "{PREFIX}.out.{dest}.{kind}"),
            Subject::Dlq { site } => write!(f, "{PREFIX}.dlq.{site}"),
            Subject::Status { site, component } => write!(f, "{PREFIX}.status.{site}.{component}"),
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
                let track = (k == PayloadKind::TrackUpdate).then(|| TrackKey {
                    origin: Nation::Us,
                    id: TrackId::new("T-0042").unwrap(),
                });
                subjects.push(Subject::Out {
                    dest: n,
                    kind: k,
                    track,
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
        assert_eq!(Subject::input_filter(Nation::Jp), "tl.in.jp.>");
        assert_eq!(Subject::output_filter(Nation::Kr), "tl.out.kr.>");
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
            ("tl.out.kr.track_update", "BadTrack"),
            ("tl.out.kr.cancel.T1", "BadTrack"),
            ("tl.out.kr.track_update.T1", "BadTrack"),
            ("tl.out.kr.track_update.jp.*", "BadTrack"),
            ("tl.out.kr.track_update.xx.T1", "UnknownNation"),
            ("tl.out.kr.cancel.jp.T1", "BadTrack"),
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
