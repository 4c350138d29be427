//! The routing-policy engine: a TOML policy file, its validation, and the per-destination
//! decision. Pure: no I/O except [`Policy::load`], which only reads the file.
//!
//! # Decision order (for each destination nation, independently)
//!
//! 1. **Echo**: the destination is the message's origin and the policy does not say
//!    `echo_to_origin = true` → withheld, `origin_echo`.
//! 2. **Releasability** (hard ceiling): the destination is not in the envelope's
//!    `releasability` → withheld, `not_releasable`. No rule can override this.
//! 3. **Destination configured**: the destination has no `[destinations.<nation>]` table →
//!    withheld, `destination_not_configured`.
//! 4. **Mode**: the envelope's mode is not in the destination's `modes` → withheld,
//!    `mode_not_accepted` (e.g. a real-world-only destination never receives exercise traffic).
//!    No rule can override this either.
//! 5. **Rules**, in file order, first match wins: `action = "allow"` → delivered;
//!    `action = "deny"` → withheld, `denied_by_rule` naming the rule.
//! 6. **Default deny**: no rule matched → withheld, `no_rule_matched`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use trilink_schema::{Envelope, GeoPoint, Mode, Nation, PayloadKind};

/// The only policy format version this build reads.
pub const POLICY_VERSION: u32 = 1;

/// A routing policy, as written in TOML. Build one with [`Policy::from_toml_str`] or
/// [`Policy::load`]; both validate it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Format version; must be [`POLICY_VERSION`].
    pub version: u32,
    /// Human-readable policy name (shown in logs and policy-test output).
    pub name: String,
    /// Whether a message may be delivered back to its own origin nation. Default: `false`.
    #[serde(default)]
    pub echo_to_origin: bool,
    /// The destinations this hub delivers to, with the modes each accepts. A nation without an
    /// entry receives nothing.
    #[serde(default, deserialize_with = "nation_map")]
    pub destinations: BTreeMap<Nation, Destination>,
    /// Ordered rules; the first whose filters all match decides. No match → withheld.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

/// Deserialize the destinations table with string keys first, so that error paths name the
/// nation (`destinations.jp.modes[0]`), then check each key is a nation.
fn nation_map<'de, D>(de: D) -> Result<BTreeMap<Nation, Destination>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw: BTreeMap<String, Destination> = BTreeMap::deserialize(de)?;
    raw.into_iter()
        .map(|(k, v)| {
            k.parse::<Nation>()
                .map(|n| (n, v))
                .map_err(serde::de::Error::custom)
        })
        .collect()
}

/// One destination's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Modes this destination accepts (`real_world`, `exercise`, `test`); must not be empty.
    pub modes: BTreeSet<Mode>,
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Deliver the message to the destination.
    Allow,
    /// Withhold the message from the destination.
    Deny,
}

/// A rule: every present filter must match; an absent filter matches anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique rule name (shown in `denied_by_rule` and `delivered` decisions).
    pub name: String,
    /// Allow or deny.
    pub action: Action,
    /// Origins the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origins: Option<BTreeSet<Nation>>,
    /// Destinations the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<BTreeSet<Nation>>,
    /// Payload kinds the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<BTreeSet<PayloadKind>>,
    /// Modes the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modes: Option<BTreeSet<Mode>>,
    /// Geographic box the message's reference point (launch, track, impact, final or
    /// corrected point) must lie in. A message without a reference point (cancel, status, an
    /// event end without a final point) never matches a rule that has an area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<Area>,
}

/// A latitude/longitude box, bounds inclusive. When `lon_min > lon_max` the box crosses the
/// antimeridian (e.g. `lon_min = 170.0, lon_max = -170.0`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// Southern bound, degrees, −90 … 90.
    pub lat_min: f64,
    /// Northern bound, degrees, `lat_min` … 90.
    pub lat_max: f64,
    /// Western bound, degrees, −180 … 180.
    pub lon_min: f64,
    /// Eastern bound, degrees, −180 … 180.
    pub lon_max: f64,
}

impl Area {
    /// Whether `p` lies inside the box (bounds inclusive).
    pub fn contains(&self, p: &GeoPoint) -> bool {
        let lat_ok = p.lat_deg >= self.lat_min && p.lat_deg <= self.lat_max;
        let lon_ok = if self.lon_min <= self.lon_max {
            p.lon_deg >= self.lon_min && p.lon_deg <= self.lon_max
        } else {
            p.lon_deg >= self.lon_min || p.lon_deg <= self.lon_max
        };
        lat_ok && lon_ok
    }
}

/// Why a policy file is unusable. Every variant names the file (when loaded from one) and,
/// for semantic errors, the bad key as a dotted path (`rule[2].area.lat_min`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type.
    #[error("{origin}: invalid policy at `{key}`: {message}")]
    Syntax {
        /// The file, or `<string>`.
        origin: String,
        /// Dotted path of the bad key (`.` for the top level).
        key: String,
        /// The TOML parser's message (with line and column).
        message: String,
    },
    /// Well-formed TOML that breaks a rule of the policy format.
    #[error("{origin}: invalid policy at `{key}`: {reason}")]
    Invalid {
        /// The file, or `<string>`.
        origin: String,
        /// Dotted path of the bad key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl PolicyError {
    /// The dotted key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Io { .. } => None,
            Self::Syntax { key, .. } | Self::Invalid { key, .. } => Some(key),
        }
    }
}

impl Policy {
    /// Parse and validate a policy from TOML text. `origin` names the source in errors.
    pub fn from_toml_str_named(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let de = toml::Deserializer::parse(text).map_err(|e| PolicyError::Syntax {
            origin: origin.to_owned(),
            key: ".".to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let policy: Policy = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            PolicyError::Syntax {
                origin: origin.to_owned(),
                key,
                message: e.inner().to_string().trim_end().to_owned(),
            }
        })?;
        policy
            .validate()
            .map_err(|(key, reason)| PolicyError::Invalid {
                origin: origin.to_owned(),
                key,
                reason,
            })?;
        Ok(policy)
    }

    /// Parse and validate a policy from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        Self::from_toml_str_named(text, "<string>")
    }

    /// Read, parse and validate a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str_named(&text, &path.display().to_string())
    }

    /// Serialize back to TOML (used by tests and tools that generate policies).
    pub fn to_toml_string(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// Semantic checks; on failure returns (dotted key, reason).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.version != POLICY_VERSION {
            return Err((
                "version".into(),
                format!(
                    "unsupported version {} (this build reads {POLICY_VERSION})",
                    self.version
                ),
            ));
        }
        if self.name.trim().is_empty() {
            return Err(("name".into(), "must not be empty".into()));
        }
        for (nation, dest) in &self.destinations {
            if dest.modes.is_empty() {
                return Err((
                    format!("destinations.{nation}.modes"),
                    "is empty; a destination must accept at least one mode (remove the table to deliver nothing)".into(),
                ));
            }
        }
        let mut names = HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |field: &str| format!("rule[{i}].{field}");
            if rule.name.trim().is_empty() {
                return Err((at("name"), "must not be empty".into()));
            }
            if !names.insert(rule.name.as_str()) {
                return Err((at("name"), format!("duplicate rule name {:?}", rule.name)));
            }
            if rule.origins.as_ref().is_some_and(BTreeSet::is_empty) {
                return Err((at("origins"), empty_list()));
            }
            if rule.destinations.as_ref().is_some_and(BTreeSet::is_empty) {
                return Err((at("destinations"), empty_list()));
            }
            if rule.kinds.as_ref().is_some_and(BTreeSet::is_empty) {
                return Err((at("kinds"), empty_list()));
            }
            if rule.modes.as_ref().is_some_and(BTreeSet::is_empty) {
                return Err((at("modes"), empty_list()));
            }
            if let Some(area) = &rule.area {
                check_area(area)
                    .map_err(|(field, reason)| (at(&format!("area.{field}")), reason))?;
            }
        }
        Ok(())
    }

    /// The decision for every nation, in [`Nation::ALL`] order.
    pub fn decide(&self, env: &Envelope) -> [(Nation, Decision); 3] {
        Nation::ALL.map(|dest| (dest, self.decide_for(env, dest)))
    }

    /// The decision for one destination. See the module docs for the order of checks.
    ///
    /// The origin-echo check does not apply to `common_event`: its origin `us` names the hub
    /// as the picture's author, and each destination (the US too) receives its own view.
    pub fn decide_for(&self, env: &Envelope, dest: Nation) -> Decision {
        if dest == env.origin
            && !self.echo_to_origin
            && env.payload.kind() != PayloadKind::CommonEvent
        {
            return Decision::Withhold(WithholdReason::OriginEcho);
        }
        if !env.releasable_to(dest) {
            return Decision::Withhold(WithholdReason::NotReleasable);
        }
        let Some(cfg) = self.destinations.get(&dest) else {
            return Decision::Withhold(WithholdReason::DestinationNotConfigured);
        };
        if !cfg.modes.contains(&env.mode) {
            return Decision::Withhold(WithholdReason::ModeNotAccepted { mode: env.mode });
        }
        let kind = env.payload.kind();
        let point = env.payload.reference_point();
        for rule in &self.rules {
            if rule.matches(env.origin, dest, kind, env.mode, point.as_ref()) {
                return match rule.action {
                    Action::Allow => Decision::Deliver {
                        rule: rule.name.clone(),
                    },
                    Action::Deny => Decision::Withhold(WithholdReason::DeniedByRule {
                        name: rule.name.clone(),
                    }),
                };
            }
        }
        Decision::Withhold(WithholdReason::NoRuleMatched)
    }
}

fn empty_list() -> String {
    "is an empty list and would match nothing; omit the key to match anything".into()
}

fn check_area(a: &Area) -> Result<(), (&'static str, String)> {
    for (field, v, lo, hi) in [
        ("lat_min", a.lat_min, -90.0, 90.0),
        ("lat_max", a.lat_max, -90.0, 90.0),
        ("lon_min", a.lon_min, -180.0, 180.0),
        ("lon_max", a.lon_max, -180.0, 180.0),
    ] {
        if !v.is_finite() || v < lo || v > hi {
            return Err((field, format!("{v} is outside {lo} ..= {hi}")));
        }
    }
    if a.lat_min > a.lat_max {
        return Err((
            "lat_min",
            format!(
                "lat_min {} is greater than lat_max {}",
                a.lat_min, a.lat_max
            ),
        ));
    }
    Ok(())
}

impl Rule {
    /// Whether every present filter matches.
    pub fn matches(
        &self,
        origin: Nation,
        dest: Nation,
        kind: PayloadKind,
        mode: Mode,
        point: Option<&GeoPoint>,
    ) -> bool {
        fn within<T: Ord>(set: Option<&BTreeSet<T>>, v: &T) -> bool {
            set.is_none_or(|s| s.contains(v))
        }
        within(self.origins.as_ref(), &origin)
            && within(self.destinations.as_ref(), &dest)
            && within(self.kinds.as_ref(), &kind)
            && within(self.modes.as_ref(), &mode)
            && match &self.area {
                None => true,
                Some(area) => point.is_some_and(|p| area.contains(p)),
            }
    }
}

/// The policy's decision for one destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// Deliver; `rule` names the allow rule that matched.
    Deliver {
        /// The matching allow rule.
        rule: String,
    },
    /// Withhold, with the reason.
    Withhold(WithholdReason),
}

impl Decision {
    /// Whether the message is delivered.
    pub fn is_deliver(&self) -> bool {
        matches!(self, Decision::Deliver { .. })
    }
}

/// Why a message is withheld from a destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WithholdReason {
    /// The destination is the origin and the policy does not echo.
    OriginEcho,
    /// The destination is outside the message's releasability set (hard ceiling).
    NotReleasable,
    /// The policy has no `[destinations.<nation>]` entry for the destination.
    DestinationNotConfigured,
    /// The destination does not accept the message's mode.
    ModeNotAccepted {
        /// The message's mode.
        mode: Mode,
    },
    /// A deny rule matched.
    DeniedByRule {
        /// The rule's name.
        name: String,
    },
    /// No rule matched (default deny).
    NoRuleMatched,
}

impl WithholdReason {
    /// Stable snake-case code (metric label, matrix column).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::OriginEcho => "origin_echo",
            Self::NotReleasable => "not_releasable",
            Self::DestinationNotConfigured => "destination_not_configured",
            Self::ModeNotAccepted { .. } => "mode_not_accepted",
            Self::DeniedByRule { .. } => "denied_by_rule",
            Self::NoRuleMatched => "no_rule_matched",
        }
    }

    /// Every code, for pre-registering metrics.
    pub const CODES: [&'static str; 6] = [
        "origin_echo",
        "not_releasable",
        "destination_not_configured",
        "mode_not_accepted",
        "denied_by_rule",
        "no_rule_matched",
    ];

    /// The code plus detail, as used in the delivery matrix: `denied_by_rule:<name>`,
    /// `mode_not_accepted:<mode>`, otherwise the bare code.
    pub fn label(&self) -> String {
        match self {
            Self::DeniedByRule { name } => format!("denied_by_rule:{name}"),
            Self::ModeNotAccepted { mode } => format!("mode_not_accepted:{mode}"),
            other => other.code().to_owned(),
        }
    }
}

impl fmt::Display for WithholdReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Deliver { rule } => write!(f, "deliver (rule {rule})"),
            Decision::Withhold(r) => write!(f, "withhold ({r})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
version = 1
name = "t"
[destinations.jp]
modes = ["real_world"]
[destinations.kr]
modes = ["real_world", "exercise"]
[[rule]]
name = "all"
action = "allow"
"#;

    #[test]
    fn parses_minimal() {
        let p = Policy::from_toml_str(MINIMAL).unwrap();
        assert_eq!(p.rules.len(), 1);
        assert_eq!(p.destinations.len(), 2);
        assert!(!p.echo_to_origin);
    }

    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace("action = \"allow\"", "action = \"allow\"\nareaa = 1");
        let err = Policy::from_toml_str(&text).unwrap_err();
        assert_eq!(err.key(), Some("rule[0].areaa"), "{err}");
        assert!(err.to_string().contains("areaa"), "{err}");
    }

    #[test]
    fn unknown_nation_is_named() {
        let text = MINIMAL.replace("[destinations.kr]", "[destinations.cn]");
        let err = Policy::from_toml_str(&text).unwrap_err();
        assert!(err.to_string().contains("cn"), "{err}");
    }

    #[test]
    fn bad_mode_value_names_key() {
        let text = MINIMAL.replace("[\"real_world\"]", "[\"realworld\"]");
        let err = Policy::from_toml_str(&text).unwrap_err();
        assert_eq!(err.key(), Some("destinations.jp.modes[0]"), "{err}");
    }

    #[test]
    fn semantic_errors_name_key() {
        let cases = [
            (MINIMAL.replace("version = 1", "version = 2"), "version"),
            (MINIMAL.replace("name = \"t\"", "name = \" \""), "name"),
            (
                MINIMAL.replace("[\"real_world\"]", "[]"),
                "destinations.jp.modes",
            ),
            (
                format!("{MINIMAL}\n[[rule]]\nname = \"all\"\naction = \"deny\"\n"),
                "rule[1].name",
            ),
            (
                format!("{MINIMAL}\n[[rule]]\nname = \"x\"\naction = \"deny\"\nkinds = []\n"),
                "rule[1].kinds",
            ),
            (
                format!(
                    "{MINIMAL}\n[[rule]]\nname = \"x\"\naction = \"deny\"\narea = {{ lat_min = 10.0, lat_max = 5.0, lon_min = 0.0, lon_max = 1.0 }}\n"
                ),
                "rule[1].area.lat_min",
            ),
            (
                format!(
                    "{MINIMAL}\n[[rule]]\nname = \"x\"\naction = \"deny\"\narea = {{ lat_min = 0.0, lat_max = 5.0, lon_min = 0.0, lon_max = 200.0 }}\n"
                ),
                "rule[1].area.lon_max",
            ),
        ];
        for (text, key) in cases {
            let err = Policy::from_toml_str(&text).unwrap_err();
            assert!(matches!(err, PolicyError::Invalid { .. }), "{key}: {err:?}");
            assert_eq!(err.key(), Some(key), "{err}");
        }
    }

    #[test]
    fn area_antimeridian() {
        let a = Area {
            lat_min: -10.0,
            lat_max: 10.0,
            lon_min: 170.0,
            lon_max: -170.0,
        };
        let p = |lat, lon| GeoPoint {
            lat_deg: lat,
            lon_deg: lon,
            alt_m: 0.0,
        };
        assert!(a.contains(&p(0.0, 175.0)));
        assert!(a.contains(&p(0.0, -175.0)));
        assert!(!a.contains(&p(0.0, 0.0)));
        assert!(!a.contains(&p(20.0, 175.0)));
    }
}
