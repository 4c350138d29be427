//! Ballistic flight on a spherical, non-rotating Earth with inverse-square gravity and no drag.
//!
//! The model: the missile leaves the launch point with speed `v` at flight-path angle `gamma`
//! (above the local horizontal) along the launch azimuth, then flies freely in the plane of the
//! great circle through the launch point with that azimuth. Powered flight is not modelled
//! physically; the first `boost_s` seconds are only *labelled* boost. The speed is found by
//! bisection so that the free-flight range equals the requested range.
//!
//! Latitudes and longitudes are spherical coordinates reported as WGS84 — a modelling
//! simplification (≤ ~20 km difference in latitude), stated here and in the README.

use std::f64::consts::{FRAC_PI_2, PI};

use trilink_schema::{FlightPhase, GeoPoint, VelocityEnu};

/// Mean Earth radius (m).
pub const EARTH_RADIUS_M: f64 = 6_371_000.0;
/// Earth's gravitational parameter (m³/s²).
pub const MU: f64 = 3.986_004_418e14;
/// Integration step (s).
const DT: f64 = 0.25;
/// Altitude below which a descending object is in the terminal phase (m).
const TERMINAL_ALT_M: f64 = 100_000.0;

/// Trajectory shape relative to the minimum-energy trajectory for the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Minimum-energy flight-path angle.
    Standard,
    /// Steeper: higher apogee, longer flight, same range.
    Lofted,
    /// Flatter: lower apogee, shorter flight.
    Depressed,
}

/// Why a trajectory cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrajectoryError {
    /// Range must be between 50 km and 13 000 km.
    #[error("range {0} km is outside 50 ..= 13000 km")]
    Range(f64),
    /// No sub-orbital speed reaches the range with this shape.
    #[error("no sub-orbital speed reaches {range_km} km with flight-path angle {gamma_deg:.1}°")]
    Unreachable {
        /// Requested range.
        range_km: f64,
        /// Flight-path angle tried.
        gamma_deg: f64,
    },
}

/// One integrated state in the flight plane.
#[derive(Debug, Clone, Copy)]
struct PlaneState {
    r: f64,
    phi: f64,
    vr: f64,
    // Angular rate dphi/dt.
    w: f64,
}

fn deriv(s: PlaneState) -> PlaneState {
    // Polar equations of motion: r'' = r w² - mu/r², w' = -2 vr w / r.
    PlaneState {
        r: s.vr,
        phi: s.w,
        vr: s.r * s.w * s.w - MU / (s.r * s.r),
        w: -2.0 * s.vr * s.w / s.r,
    }
}

fn add(a: PlaneState, b: PlaneState, k: f64) -> PlaneState {
    PlaneState {
        r: a.r + k * b.r,
        phi: a.phi + k * b.phi,
        vr: a.vr + k * b.vr,
        w: a.w + k * b.w,
    }
}

fn rk4(s: PlaneState, dt: f64) -> PlaneState {
    let k1 = deriv(s);
    let k2 = deriv(add(s, k1, dt / 2.0));
    let k3 = deriv(add(s, k2, dt / 2.0));
    let k4 = deriv(add(s, k3, dt));
    PlaneState {
        r: s.r + dt / 6.0 * (k1.r + 2.0 * k2.r + 2.0 * k3.r + k4.r),
        phi: s.phi + dt / 6.0 * (k1.phi + 2.0 * k2.phi + 2.0 * k3.phi + k4.phi),
        vr: s.vr + dt / 6.0 * (k1.vr + 2.0 * k2.vr + 2.0 * k3.vr + k4.vr),
        w: s.w + dt / 6.0 * (k1.w + 2.0 * k2.w + 2.0 * k3.w + k4.w),
    }
}

fn start(v: f64, gamma: f64) -> PlaneState {
    PlaneState {
        r: EARTH_RADIUS_M,
        phi: 0.0,
        vr: v * gamma.sin(),
        w: v * gamma.cos() / EARTH_RADIUS_M,
    }
}

/// Fly until impact; returns the samples every `DT` and the (interpolated) impact state/time.
fn fly(v: f64, gamma: f64) -> (Vec<PlaneState>, PlaneState, f64) {
    let mut s = start(v, gamma);
    let mut samples = vec![s];
    let mut t = 0.0;
    // Sub-orbital flights end within a couple of hours; the bound stops runaway loops.
    while t < 10_800.0 {
        let next = rk4(s, DT);
        t += DT;
        if next.r < EARTH_RADIUS_M && next.vr < 0.0 {
            let f = (s.r - EARTH_RADIUS_M) / (s.r - next.r);
            let impact = add(s, add(next, s, -1.0), f);
            return (
                samples,
                PlaneState {
                    r: EARTH_RADIUS_M,
                    ..impact
                },
                t - DT + f * DT,
            );
        }
        s = next;
        samples.push(s);
    }
    (samples, s, t)
}

/// A computed trajectory.
#[derive(Debug, Clone)]
pub struct Trajectory {
    launch: GeoPoint,
    azimuth_rad: f64,
    samples: Vec<PlaneState>,
    impact: PlaneState,
    flight_time_s: f64,
    boost_s: f64,
    /// Launch speed found by the solver (m/s).
    pub speed_mps: f64,
    /// Flight-path angle (deg).
    pub gamma_deg: f64,
}

impl Trajectory {
    /// Solve for the launch speed that reaches `range_km` along `azimuth_deg` with `shape`.
    pub fn solve(
        launch: GeoPoint,
        azimuth_deg: f64,
        range_km: f64,
        shape: Shape,
        boost_s: f64,
    ) -> Result<Self, TrajectoryError> {
        if !(50.0..=13_000.0).contains(&range_km) {
            return Err(TrajectoryError::Range(range_km));
        }
        let theta = range_km * 1_000.0 / EARTH_RADIUS_M;
        // Minimum-energy flight-path angle for a symmetric trajectory: (π − θ)/4.
        let optimum = (PI - theta) / 4.0;
        let gamma = match shape {
            Shape::Standard => optimum,
            Shape::Lofted => (optimum + 20f64.to_radians()).min(80f64.to_radians()),
            Shape::Depressed => (optimum - 15f64.to_radians()).max(8f64.to_radians()),
        };
        let range_of = |v: f64| fly(v, gamma).1.phi;
        let (mut lo, mut hi) = (50.0, 7_800.0);
        if range_of(hi) < theta {
            return Err(TrajectoryError::Unreachable {
                range_km,
                gamma_deg: gamma.to_degrees(),
            });
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if range_of(mid) < theta {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let speed = 0.5 * (lo + hi);
        let (samples, impact, flight_time_s) = fly(speed, gamma);
        Ok(Self {
            launch,
            azimuth_rad: azimuth_deg.to_radians(),
            samples,
            impact,
            flight_time_s,
            boost_s,
            speed_mps: speed,
            gamma_deg: gamma.to_degrees(),
        })
    }

    /// Seconds from launch to impact.
    pub fn flight_time_s(&self) -> f64 {
        self.flight_time_s
    }

    /// The impact point.
    pub fn impact_point(&self) -> GeoPoint {
        self.geo(self.impact.phi, 0.0)
    }

    /// Highest altitude (m).
    pub fn apogee_m(&self) -> f64 {
        self.samples
            .iter()
            .map(|s| s.r - EARTH_RADIUS_M)
            .fold(0.0, f64::max)
    }

    /// The launch point.
    pub fn launch_point(&self) -> GeoPoint {
        self.launch
    }

    fn state_at(&self, t: f64) -> PlaneState {
        if t >= self.flight_time_s {
            return self.impact;
        }
        let t = t.max(0.0);
        let i = (t / DT).floor() as usize;
        match (self.samples.get(i), self.samples.get(i + 1)) {
            (Some(a), Some(b)) => {
                let f = (t - i as f64 * DT) / DT;
                add(*a, add(*b, *a, -1.0), f)
            }
            (Some(a), None) => *a,
            _ => self.impact,
        }
    }

    /// Destination point at angular distance `phi` along the launch great circle.
    fn geo(&self, phi: f64, alt_m: f64) -> GeoPoint {
        let lat1 = self.launch.lat_deg.to_radians();
        let lon1 = self.launch.lon_deg.to_radians();
        let az = self.azimuth_rad;
        let lat2 = (lat1.sin() * phi.cos() + lat1.cos() * phi.sin() * az.cos()).asin();
        let lon2 =
            lon1 + (az.sin() * phi.sin() * lat1.cos()).atan2(phi.cos() - lat1.sin() * lat2.sin());
        GeoPoint {
            lat_deg: lat2.to_degrees(),
            lon_deg: wrap_lon(lon2.to_degrees()),
            alt_m,
        }
    }

    /// Position, ENU velocity and flight phase at `t` seconds after launch.
    pub fn at(&self, t: f64) -> (GeoPoint, VelocityEnu, FlightPhase) {
        let s = self.state_at(t);
        let p = self.geo(s.phi, (s.r - EARTH_RADIUS_M).max(0.0));
        // Heading at p: bearing towards a point slightly further along the great circle.
        let ahead = self.geo(s.phi + 1e-6, 0.0);
        let heading = bearing(&p, &ahead);
        let horizontal = s.r * s.w;
        let v = VelocityEnu {
            east_mps: horizontal * heading.sin(),
            north_mps: horizontal * heading.cos(),
            up_mps: s.vr,
        };
        let phase = if t < self.boost_s {
            FlightPhase::Boost
        } else if s.vr < 0.0 && p.alt_m < TERMINAL_ALT_M {
            FlightPhase::Terminal
        } else {
            FlightPhase::Midcourse
        };
        (p, v, phase)
    }
}

/// Initial great-circle bearing from `a` to `b` (radians clockwise from north).
pub fn bearing(a: &GeoPoint, b: &GeoPoint) -> f64 {
    let (la, lb) = (a.lat_deg.to_radians(), b.lat_deg.to_radians());
    let dl = (b.lon_deg - a.lon_deg).to_radians();
    (dl.sin() * lb.cos()).atan2(la.cos() * lb.sin() - la.sin() * lb.cos() * dl.cos())
}

/// Great-circle ground distance (m) on the model sphere.
pub fn ground_distance_m(a: &GeoPoint, b: &GeoPoint) -> f64 {
    let (la, lb) = (a.lat_deg.to_radians(), b.lat_deg.to_radians());
    let dl = (b.lon_deg - a.lon_deg).to_radians();
    let h = ((lb - la) / 2.0).sin().powi(2) + la.cos() * lb.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Elevation angle (rad) of `target` seen from `site` on the model sphere.
pub fn elevation_rad(site: &GeoPoint, target: &GeoPoint) -> f64 {
    let s = cartesian(site);
    let t = cartesian(target);
    let d = [t[0] - s[0], t[1] - s[1], t[2] - s[2]];
    let dn = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    let sn = (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt();
    if dn == 0.0 {
        return FRAC_PI_2;
    }
    ((d[0] * s[0] + d[1] * s[1] + d[2] * s[2]) / (dn * sn))
        .clamp(-1.0, 1.0)
        .asin()
}

/// Slant range (m) between two points on or above the model sphere.
pub fn slant_range_m(a: &GeoPoint, b: &GeoPoint) -> f64 {
    let (p, q) = (cartesian(a), cartesian(b));
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
}

fn cartesian(p: &GeoPoint) -> [f64; 3] {
    let r = EARTH_RADIUS_M + p.alt_m;
    let (la, lo) = (p.lat_deg.to_radians(), p.lon_deg.to_radians());
    [
        r * la.cos() * lo.cos(),
        r * la.cos() * lo.sin(),
        r * la.sin(),
    ]
}

/// Wrap a longitude into −180 ..= 180.
pub fn wrap_lon(lon: f64) -> f64 {
    // Keep +180 as +180 rather than wrapping it to -180.
    if lon > 0.0 && (lon - 180.0).rem_euclid(360.0) < 1e-12 {
        return 180.0;
    }
    (lon + 180.0).rem_euclid(360.0) - 180.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> GeoPoint {
        GeoPoint {
            lat_deg: 39.66,
            lon_deg: 124.70,
            alt_m: 0.0,
        }
    }

    #[test]
    fn reaches_the_requested_range() {
        for (range, shape) in [
            (300.0, Shape::Standard),
            (1_000.0, Shape::Lofted),
            (4_500.0, Shape::Depressed),
            (10_000.0, Shape::Standard),
        ] {
            let t = Trajectory::solve(site(), 90.0, range, shape, 60.0).unwrap();
            let d = ground_distance_m(&site(), &t.impact_point()) / 1_000.0;
            assert!(
                (d - range).abs() < 0.5,
                "{shape:?} {range} km: landed at {d} km"
            );
        }
    }

    #[test]
    fn energy_is_conserved_in_free_flight() {
        let t = Trajectory::solve(site(), 45.0, 2_000.0, Shape::Standard, 0.0).unwrap();
        let energy = |s: &PlaneState| 0.5 * (s.vr * s.vr + (s.r * s.w).powi(2)) - MU / s.r;
        let e0 = energy(&t.samples[0]);
        for s in &t.samples {
            assert!((energy(s) - e0).abs() / e0.abs() < 1e-8);
        }
    }

    #[test]
    fn lofted_is_higher_and_longer_than_depressed() {
        let lo = Trajectory::solve(site(), 90.0, 1_000.0, Shape::Lofted, 0.0).unwrap();
        let st = Trajectory::solve(site(), 90.0, 1_000.0, Shape::Standard, 0.0).unwrap();
        let de = Trajectory::solve(site(), 90.0, 1_000.0, Shape::Depressed, 0.0).unwrap();
        assert!(lo.apogee_m() > st.apogee_m() && st.apogee_m() > de.apogee_m());
        assert!(lo.flight_time_s() > st.flight_time_s() && st.flight_time_s() > de.flight_time_s());
        // A standard 1 000 km shot peaks near a quarter of its range (textbook figure ≈ 250 km).
        assert!(
            (200_000.0..320_000.0).contains(&st.apogee_m()),
            "{}",
            st.apogee_m()
        );
    }

    #[test]
    fn velocity_matches_finite_difference() {
        let t = Trajectory::solve(site(), 70.0, 1_500.0, Shape::Standard, 0.0).unwrap();
        let (p1, v, _) = t.at(200.0);
        let (p2, _, _) = t.at(200.5);
        let up = (p2.alt_m - p1.alt_m) / 0.5;
        assert!((up - v.up_mps).abs() < 5.0, "{up} vs {}", v.up_mps);
        let horizontal =
            ground_distance_m(&p1, &p2) / 0.5 * (EARTH_RADIUS_M + p1.alt_m) / EARTH_RADIUS_M;
        let h = v.east_mps.hypot(v.north_mps);
        assert!((horizontal - h).abs() / h < 0.01, "{horizontal} vs {h}");
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        assert!(matches!(
            Trajectory::solve(site(), 0.0, 10.0, Shape::Standard, 0.0),
            Err(TrajectoryError::Range(_))
        ));
        assert!(Trajectory::solve(site(), 0.0, 20_000.0, Shape::Standard, 0.0).is_err());
    }
}
