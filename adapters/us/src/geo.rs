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
pub fn ecef_to_geodetic(x: f64, y: f64, z: f64) -> GeoPoint {
    let (lat, lon, alt) = map_3d::ecef2geodetic(x, y, z, Ellipsoid::WGS84);
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
