//! Scenario definitions (TOML).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use trilink_schema::{MissileClass, Mode, Nation};

use crate::ballistic::Shape;

/// A latitude/longitude (degrees) with optional altitude (m).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Latitude, degrees north.
    pub lat_deg: f64,
    /// Longitude, degrees east.
    pub lon_deg: f64,
    /// Altitude, metres.
    #[serde(default)]
    pub alt_m: f64,
}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioConfig {
    /// Short name (`single_launch`, …); becomes part of national message ids.
    pub name: String,
    /// What happens, for people.
    #[serde(default)]
    pub description: String,
    /// Default seed when none is given.
    #[serde(default)]
    pub seed: u64,
    /// Missiles launched.
    #[serde(default, rename = "missile")]
    pub missiles: Vec<MissileConfig>,
    /// Sensors of each nation.
    #[serde(default, rename = "sensor")]
    pub sensors: Vec<SensorConfig>,
    /// False alarms: a detection later cancelled.
    #[serde(default, rename = "false_alarm")]
    pub false_alarms: Vec<FalseAlarmConfig>,
}

/// One missile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissileConfig {
    /// Identifier within the scenario (`M1`); part of track ids, so `[A-Za-z0-9]`.
    pub id: String,
    /// Launch site.
    pub launch: Site,
    /// Launch azimuth, degrees clockwise from north.
    pub azimuth_deg: f64,
    /// Ground range to impact, km.
    pub range_km: f64,
    /// Trajectory shape.
    #[serde(default = "default_shape")]
    pub shape: Shape,
    /// Missile class reported by sensors.
    pub class: MissileClass,
    /// Launch time after scenario start, seconds.
    #[serde(default)]
    pub launch_offset_s: f64,
    /// Real world, exercise or test.
    #[serde(default = "default_mode")]
    pub mode: Mode,
    /// Nations the reports about this missile are released to (default: all).
    #[serde(default = "all_nations")]
    pub releasability: BTreeSet<Nation>,
}

/// One sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorConfig {
    /// Sensor name (`fps-5-sado`).
    pub name: String,
    /// Owning nation: its reports are that nation's national traffic.
    pub nation: Nation,
    /// The national warning system the sensor reports through (`jadgex`).
    pub system: String,
    /// Sensor location.
    pub site: Site,
    /// Maximum slant range, km.
    pub max_range_km: f64,
    /// Minimum elevation above the horizon, degrees.
    #[serde(default = "default_min_elevation")]
    pub min_elevation_deg: f64,
    /// Delay from first sight to the launch report, seconds.
    pub detection_delay_s: f64,
    /// Seconds between track updates.
    pub update_interval_s: f64,
    /// One-sigma position noise, metres.
    pub position_noise_m: f64,
    /// Send an impact prediction every N track updates after boost (0 = never).
    #[serde(default)]
    pub impact_prediction_every: u32,
    /// Restrict releasability below the missile's (intersection), e.g. a US-only sensor.
    #[serde(default)]
    pub releasability: Option<BTreeSet<Nation>>,
}

/// A false alarm: a sensor reports a launch that did not happen, then cancels it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FalseAlarmConfig {
    /// Name of the reporting sensor.
    pub sensor: String,
    /// Report time after scenario start, seconds.
    pub at_s: f64,
    /// Cancellation delay after the report, seconds.
    pub cancel_after_s: f64,
    /// Claimed launch point.
    pub point: Site,
    /// Mode of the false report.
    #[serde(default = "default_mode")]
    pub mode: Mode,
    /// Track updates sent before the cancellation.
    #[serde(default)]
    pub track_updates: u32,
}

fn default_shape() -> Shape {
    Shape::Standard
}
fn default_mode() -> Mode {
    Mode::RealWorld
}
fn default_min_elevation() -> f64 {
    0.5
}
fn all_nations() -> BTreeSet<Nation> {
    Nation::ALL.into_iter().collect()
}

/// A scenario definition error, naming the item.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// TOML syntax or unknown key.
    #[error("scenario {file}: {source}")]
    Toml {
        /// File name.
        file: String,
        /// Parser error (names the key).
        source: toml::de::Error,
    },
    /// A value is invalid.
    #[error("scenario {name}: {what}")]
    Invalid {
        /// Scenario name.
        name: String,
        /// What is wrong.
        what: String,
    },
}

impl ScenarioConfig {
    /// Parse and validate TOML text; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|source| ConfigError::Toml {
            file: file.to_owned(),
            source,
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Check values a TOML parser cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |what: String| {
            Err(ConfigError::Invalid {
                name: self.name.clone(),
                what,
            })
        };
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return bad(format!("name {:?} must be [A-Za-z0-9_-]+", self.name));
        }
        let site_ok =
            |s: &Site| (-90.0..=90.0).contains(&s.lat_deg) && (-180.0..=180.0).contains(&s.lon_deg);
        for (i, m) in self.missiles.iter().enumerate() {
            if m.id.is_empty() || m.id.len() > 8 || !m.id.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return bad(format!(
                    "missile[{i}].id {:?} must be 1-8 of [A-Za-z0-9]",
                    m.id
                ));
            }
            if !site_ok(&m.launch) {
                return bad(format!("missile[{i}].launch is not a valid lat/lon"));
            }
            if m.releasability.is_empty() {
                return bad(format!("missile[{i}].releasability is empty"));
            }
            if m.launch_offset_s < 0.0 {
                return bad(format!("missile[{i}].launch_offset_s is negative"));
            }
        }
        let mut names = BTreeSet::new();
        for (i, s) in self.sensors.iter().enumerate() {
            if !names.insert(s.name.as_str()) {
                return bad(format!("sensor[{i}].name {:?} is used twice", s.name));
            }
            if !site_ok(&s.site) {
                return bad(format!("sensor[{i}].site is not a valid lat/lon"));
            }
            if s.update_interval_s <= 0.0
                || s.detection_delay_s < 0.0
                || s.position_noise_m < 0.0
                || s.max_range_km <= 0.0
            {
                return bad(format!(
                    "sensor[{i}] ({}) needs update_interval_s > 0, max_range_km > 0 and non-negative delay/noise",
                    s.name
                ));
            }
        }
        for (i, f) in self.false_alarms.iter().enumerate() {
            if !names.contains(f.sensor.as_str()) {
                return bad(format!(
                    "false_alarm[{i}].sensor {:?} is not a sensor",
                    f.sensor
                ));
            }
            if !site_ok(&f.point) || f.at_s < 0.0 || f.cancel_after_s <= 0.0 {
                return bad(format!(
                    "false_alarm[{i}] needs a valid point, at_s ≥ 0 and cancel_after_s > 0"
                ));
            }
        }
        Ok(())
    }
}
