//! WGS84 positions, velocities and uncertainties. Units are in the field names.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A WGS84 geodetic position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    /// Geodetic latitude, degrees north, −90 … 90.
    #[schemars(range(min = -90.0, max = 90.0))]
    pub lat_deg: f64,
    /// Longitude, degrees east, −180 … 180.
    #[schemars(range(min = -180.0, max = 180.0))]
    pub lon_deg: f64,
    /// Height above the WGS84 ellipsoid, metres, −1 000 … 10 000 000 (space tracks are high).
    #[schemars(range(min = -1000.0, max = 10_000_000.0))]
    pub alt_m: f64,
}

impl GeoPoint {
    /// Valid latitude range (degrees).
    pub const LAT_RANGE: (f64, f64) = (-90.0, 90.0);
    /// Valid longitude range (degrees).
    pub const LON_RANGE: (f64, f64) = (-180.0, 180.0);
    /// Valid altitude range (metres above the ellipsoid).
    pub const ALT_RANGE: (f64, f64) = (-1_000.0, 10_000_000.0);
}

/// One-sigma position uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionUncertainty {
    /// Horizontal one-sigma radius, metres, ≥ 0.
    #[schemars(range(min = 0.0))]
    pub horizontal_m: f64,
    /// Vertical one-sigma, metres, ≥ 0.
    #[schemars(range(min = 0.0))]
    pub vertical_m: f64,
}

/// Velocity in the local east-north-up frame at the reported position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VelocityEnu {
    /// East component, m/s.
    #[schemars(range(min = -12_000.0, max = 12_000.0))]
    pub east_mps: f64,
    /// North component, m/s.
    #[schemars(range(min = -12_000.0, max = 12_000.0))]
    pub north_mps: f64,
    /// Up component, m/s.
    #[schemars(range(min = -12_000.0, max = 12_000.0))]
    pub up_mps: f64,
}

impl VelocityEnu {
    /// No component may exceed this magnitude (m/s); faster than any ballistic missile.
    pub const MAX_COMPONENT_MPS: f64 = 12_000.0;
}

/// A horizontal error ellipse around a predicted point (one sigma unless stated).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorEllipse {
    /// Semi-major axis, metres, ≥ semi-minor.
    #[schemars(range(min = 0.0))]
    pub semi_major_m: f64,
    /// Semi-minor axis, metres, ≥ 0.
    #[schemars(range(min = 0.0))]
    pub semi_minor_m: f64,
    /// Orientation of the semi-major axis, degrees clockwise from true north, 0 … 180.
    #[schemars(range(min = 0.0, max = 180.0))]
    pub orientation_deg: f64,
}
