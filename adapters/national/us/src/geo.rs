//! WGS84 geodetic ↔ ECEF conversion (via the `map_3d` crate) and ENU ↔ ECEF velocity rotation.

use map_3d::Ellipsoid;
use trilink_schema::{GeoPoint, VelocityEnu};

/// Geodetic (degrees, metres) → ECEF metres.
pub fn geodetic_to_ecef(p: &GeoPoint) -> (f64, f64, f64) {
    map_3d::geodetic2ecef(
        p.lat_deg.to_radians(),
        p.lon_deg.to_radians(),
        p.alt_m,
        Ellipsoid::WGS84,
    )
}

/// ECEF metres → geodetic (degrees, metres). Non-finite at the Earth's centre.
///
/// `map_3d::ecef2geodetic` (closed form with one correction step) is off by up to a few
/// centimetres at 2 000 km altitude, more than this format's 1 cm resolution; three fixed-point
/// iterations of the standard geodetic-latitude equation from its result bring the error below
/// 1 µm everywhere in the schema's domain (see `tests/geodesy.rs`, checked against pyproj).
pub fn ecef_to_geodetic(x: f64, y: f64, z: f64) -> GeoPoint {
    let (a, _, _, e2) = Ellipsoid::WGS84.parameters();
    let (mut lat, lon, _) = map_3d::ecef2geodetic(x, y, z, Ellipsoid::WGS84);
    let p = x.hypot(y);
    for _ in 0..3 {
        let (s, _) = lat.sin_cos();
        let n = a / (1.0 - e2 * s * s).sqrt();
        lat = (z + e2 * n * s).atan2(p);
    }
    let (s, c) = lat.sin_cos();
    let alt = p * c + z * s - a * (1.0 - e2 * s * s).sqrt();
    GeoPoint {
        lat_deg: lat.to_degrees(),
        lon_deg: lon.to_degrees(),
        alt_m: alt,
    }
}

/// ENU velocity at `at` → ECEF velocity (m/s).
pub fn enu_to_ecef_velocity(v: &VelocityEnu, at: &GeoPoint) -> (f64, f64, f64) {
    map_3d::enu2uvw(
        v.east_mps,
        v.north_mps,
        v.up_mps,
        at.lat_deg.to_radians(),
        at.lon_deg.to_radians(),
    )
}

/// ECEF velocity (m/s) at `at` → ENU velocity.
pub fn ecef_to_enu_velocity(vx: f64, vy: f64, vz: f64, at: &GeoPoint) -> VelocityEnu {
    let (e, n, u) = map_3d::uvw2enu(vx, vy, vz, at.lat_deg.to_radians(), at.lon_deg.to_radians());
    VelocityEnu {
        east_mps: e,
        north_mps: n,
        up_mps: u,
    }
}
