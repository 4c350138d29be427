//! # trilink-scenario — realistic launch scenarios from a seed
//!
//! Ballistic missiles on a spherical, non-rotating Earth with inverse-square gravity and no drag
//! ([`ballistic`]), seen by each nation's sensors with their own coverage, detection delay,
//! update rate and noise ([`generate`]). The output is every national report as a common
//! envelope with the instant its national system emits it, plus the exact ground truth.
//! National encoding (JP frames, KR sentences, US SIMPLE packets) is done by the national codec
//! crates from these envelopes.
//!
//! Deterministic: the same definition, seed and start instant give the same reports, byte for
//! byte. Named scenarios ship in `adapters/tools/scenario/scenarios/` and are compiled in
//! ([`named`]).
//!
//! What this crate must not do: any I/O (files, sockets, clocks) — the start instant is passed
//! in; encoding national formats; routing.
//!
//! Modelling simplifications, stated once: powered flight is labelled, not simulated (the
//! missile leaves the pad at burnout speed); spherical latitude is reported as WGS84 latitude;
//! Earth rotation is not modelled.

#![forbid(unsafe_code)]

pub mod ballistic;
pub mod config;
mod generate;

pub use config::{ConfigError, ScenarioConfig};
pub use generate::{GenerateError, Generated, Report, generate};

/// The scenarios that ship with trilink: (name, TOML text).
pub const NAMED: [(&str, &str); 4] = [
    (
        "single_launch",
        include_str!("../scenarios/single_launch.toml"),
    ),
    ("salvo", include_str!("../scenarios/salvo.toml")),
    ("false_alarm", include_str!("../scenarios/false_alarm.toml")),
    (
        "exercise_mixed",
        include_str!("../scenarios/exercise_mixed.toml"),
    ),
];

/// Scenarios that make association hard (for the hub correlator's metrics): (name, TOML text).
/// Not part of [`NAMED`], so the demo and the shipped samples do not change.
pub const HARD: [(&str, &str); 5] = [
    (
        "salvo_one_site",
        include_str!("../scenarios/hard/salvo_one_site.toml"),
    ),
    (
        "two_sites_close",
        include_str!("../scenarios/hard/two_sites_close.toml"),
    ),
    (
        "false_alarm_during_launch",
        include_str!("../scenarios/hard/false_alarm_during_launch.toml"),
    ),
    (
        "nation_drops_out",
        include_str!("../scenarios/hard/nation_drops_out.toml"),
    ),
    (
        "exercise_and_real_same_site",
        include_str!("../scenarios/hard/exercise_and_real_same_site.toml"),
    ),
];

/// Load a shipped scenario by name.
pub fn named(name: &str) -> Result<ScenarioConfig, ConfigError> {
    match NAMED.iter().find(|(n, _)| *n == name) {
        Some((n, text)) => ScenarioConfig::from_toml(text, &format!("{n}.toml")),
        None => Err(ConfigError::Invalid {
            name: name.to_owned(),
            what: format!(
                "no such scenario; shipped: {}",
                NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}
