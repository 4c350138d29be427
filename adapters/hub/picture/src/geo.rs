//! WGS84 frames: geodetic ↔ ECEF (via `map_3d`) and the local east-north-up rotation.

use chrono::{DateTime, Utc};
use map_3d::Ellipsoid;
use nalgebra::{Matrix3, Vector3};
use trilink_schema::{GeoPoint, VelocityEnu};

/// A 3-vector (ECEF metres or m/s).
pub type V3 = Vector3<f64>;
/// A 3×3 matrix.
pub type M3 = Matrix3<f64>;

/// Geodetic (degrees, metres) → ECEF metres.
pub fn ecef(p: &GeoPoint) -> V3 {
    let (x, y, z) = map_3d::geodetic2ecef(
        p.lat_deg.to_radians(),
        p.lon_deg.to_radians(),
        p.alt_m,
        Ellipsoid::WGS84,
    );
    V3::new(x, y, z)
}

/// ECEF metres → geodetic (degrees, metres): `map_3d`'s closed form refined by three
/// fixed-point iterations of the geodetic-latitude equation (as the US adapter does).
pub fn geodetic(x: &V3) -> GeoPoint {
    let (a, _, _, e2) = Ellipsoid::WGS84.parameters();
    let (mut lat, lon, _) = map_3d::ecef2geodetic(x.x, x.y, x.z, Ellipsoid::WGS84);
    let p = x.x.hypot(x.y);
    for _ in 0..3 {
        let s = lat.sin();
        let n = a / (1.0 - e2 * s * s).sqrt();
        lat = (x.z + e2 * n * s).atan2(p);
    }
    let (s, c) = lat.sin_cos();
    let alt = p * c + x.z * s - a * (1.0 - e2 * s * s).sqrt();
    GeoPoint {
        lat_deg: lat.to_degrees(),
        lon_deg: lon.to_degrees(),
        alt_m: alt,
    }
}

/// Rotation whose columns are the local east, north and up unit vectors in ECEF at `p`:
/// `ecef_vector = R · enu_vector`.
pub fn enu_rotation(p: &GeoPoint) -> M3 {
    let (sl, cl) = p.lat_deg.to_radians().sin_cos();
    let (so, co) = p.lon_deg.to_radians().sin_cos();
    M3::from_columns(&[
        V3::new(-so, co, 0.0),
        V3::new(-sl * co, -sl * so, cl),
        V3::new(cl * co, cl * so, sl),
    ])
}

/// ENU velocity → ECEF with the rotation at its position.
pub fn velocity_ecef(v: &VelocityEnu, r: &M3) -> V3 {
    r * V3::new(v.east_mps, v.north_mps, v.up_mps)
}

/// ECEF velocity → ENU with the rotation at its position.
pub fn velocity_enu(v: &V3, r: &M3) -> VelocityEnu {
    let e = r.transpose() * v;
    VelocityEnu {
        east_mps: e.x,
        north_mps: e.y,
        up_mps: e.z,
    }
}

/// Seconds since the Unix epoch as `f64` (sub-microsecond resolution for this century).
pub fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) * 1e-9
}

/// Inverse of [`secs`], rounded to the microsecond; `fallback` when out of range.
pub fn time_of(s: f64, fallback: DateTime<Utc>) -> DateTime<Utc> {
    if !s.is_finite() {
        return fallback;
    }
    let whole = s.floor();
    let micros = ((s - whole) * 1e6).round() as i64;
    DateTime::from_timestamp(whole as i64, 0)
        .map_or(fallback, |t| t + chrono::Duration::microseconds(micros))
}
