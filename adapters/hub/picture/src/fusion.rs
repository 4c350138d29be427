//! Estimates, prediction to a common time, statistical distance and covariance intersection.
//!
//! Every matrix operation is `nalgebra`'s (Cholesky factorisation, inverse, eigen
//! decomposition); nothing here inverts a matrix by hand.

use nalgebra::{Matrix2, SMatrix, SVector, Vector2};

use crate::geo::{M3, V3};
use crate::{Config, Model};

/// A 6-vector: ECEF position (m) then velocity (m/s).
pub type V6 = SVector<f64, 6>;
/// A 6×6 covariance.
pub type M6 = SMatrix<f64, 6, 6>;
/// A 4-vector: ECEF launch point (m) then launch time (s since the Unix epoch, relative to a
/// reference when compared).
pub type V4 = SVector<f64, 4>;
/// A 4×4 covariance.
pub type M4 = SMatrix<f64, 4, 4>;

/// Gravitational parameter of the Earth, m³/s².
const MU: f64 = 3.986_004_418e14;
/// Longest single integration step of the ballistic predictor (s).
const MAX_STEP_S: f64 = 5.0;

/// A kinematic estimate: ECEF position and velocity with covariance at time `t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kin {
    /// Time, seconds since the Unix epoch.
    pub t: f64,
    /// State `[x y z vx vy vz]`, ECEF.
    pub x: V6,
    /// Covariance of `x`.
    pub p: M6,
    /// Powered flight (larger process noise).
    pub boost: bool,
    /// `P⁻¹` when already known (valid only for this exact `p`; dropped by prediction).
    pub info: Option<M6>,
}

fn gravity(r: &V3) -> V3 {
    let n = r.norm();
    if n < 1.0 {
        return V3::zeros();
    }
    -r * (MU / (n * n * n))
}

impl Kin {
    /// Position part.
    pub fn pos(&self) -> V3 {
        self.x.fixed_rows::<3>(0).into_owned()
    }

    /// Velocity part.
    pub fn vel(&self) -> V3 {
        self.x.fixed_rows::<3>(3).into_owned()
    }

    /// Position covariance.
    pub fn pos_cov(&self) -> M3 {
        self.p.fixed_view::<3, 3>(0, 0).into_owned()
    }

    /// Predict to time `t` (forward or backward). The mean follows the configured model
    /// (ballistic: inverse-square gravity, velocity-Verlet steps of at most 5 s; or constant
    /// velocity); the covariance is propagated with the constant-velocity transition plus
    /// white-acceleration process noise, larger in boost.
    pub fn predict(&self, t: f64, cfg: &Config) -> Kin {
        let dt = t - self.t;
        if dt == 0.0 {
            return *self;
        }
        let mut r = self.pos();
        let mut v = self.vel();
        match cfg.model {
            Model::ConstantVelocity => r += v * dt,
            Model::Ballistic => {
                let steps = (dt.abs() / MAX_STEP_S).ceil().max(1.0);
                let h = dt / steps;
                let mut a = gravity(&r);
                for _ in 0..steps as u32 {
                    r += v * h + a * (0.5 * h * h);
                    let a1 = gravity(&r);
                    v += (a + a1) * (0.5 * h);
                    a = a1;
                }
            }
        }
        let mut x = V6::zeros();
        x.fixed_rows_mut::<3>(0).copy_from(&r);
        x.fixed_rows_mut::<3>(3).copy_from(&v);

        let mut f = M6::identity();
        f.fixed_view_mut::<3, 3>(0, 3).fill_diagonal(dt);
        let sa = if self.boost {
            cfg.boost_accel_sigma_mps2
        } else {
            cfg.accel_sigma_mps2
        };
        let q = sa * sa;
        let d = dt.abs();
        let mut qm = M6::zeros();
        qm.fixed_view_mut::<3, 3>(0, 0)
            .fill_diagonal(q * d.powi(4) / 4.0);
        qm.fixed_view_mut::<3, 3>(0, 3)
            .fill_diagonal(q * d.powi(3) / 2.0 * dt.signum());
        qm.fixed_view_mut::<3, 3>(3, 0)
            .fill_diagonal(q * d.powi(3) / 2.0 * dt.signum());
        qm.fixed_view_mut::<3, 3>(3, 3).fill_diagonal(q * d * d);
        let p = f * self.p * f.transpose() + qm;
        Kin {
            t,
            x,
            p: symmetrize(&p),
            boost: self.boost,
            info: None,
        }
    }
}

/// A launch estimate: `[x y z t]` (ECEF metres, seconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Launch {
    /// Point and time.
    pub x: V4,
    /// Covariance.
    pub p: M4,
}

/// An impact estimate in a local east-north plane around `origin` (ECEF of a ground point).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impact {
    /// ECEF impact point (on the ellipsoid).
    pub point: V3,
    /// East-north covariance of the point (m²) in the frame at `point`.
    pub cov_en: Matrix2<f64>,
    /// Predicted impact time, seconds since the Unix epoch.
    pub t: f64,
}

/// `(P + Pᵀ) / 2`: keeps accumulated rounding from making a covariance asymmetric.
pub fn symmetrize<const N: usize>(p: &SMatrix<f64, N, N>) -> SMatrix<f64, N, N> {
    (p + p.transpose()) * 0.5
}

/// Squared Mahalanobis distance `dᵀ S⁻¹ d` and the negative doubled log-likelihood of `d`
/// under N(0, S), `dᵀ S⁻¹ d + ln det S + N ln 2π`, via one Cholesky factorisation; `None` when
/// `S` is not positive definite or a result is not finite.
///
/// The likelihood is what compares candidates whose evidence differs in kind and precision:
/// a launch point matched within a few kilometres and seconds is far more likely than a track
/// propagated back over minutes that lands somewhere inside a gate of a hundred kilometres,
/// although both have a small Mahalanobis distance.
pub fn gaussian_cost<const N: usize>(
    d: &SVector<f64, N>,
    s: &SMatrix<f64, N, N>,
) -> Option<(f64, f64)> {
    let ch = s.cholesky()?;
    let d2 = d.dot(&ch.solve(d));
    let ln_det = 2.0 * ch.l_dirty().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let nll = d2 + ln_det + N as f64 * (2.0 * std::f64::consts::PI).ln();
    (d2.is_finite() && nll.is_finite()).then_some((d2, nll))
}

/// Covariance intersection of estimates whose cross-correlations are unknown.
///
/// Weights follow the fast, non-iterative rule ωᵢ ∝ 1 / tr(Pᵢ) (Niehsen 2002); CI is
/// consistent for any convex weights: `P⁻¹ = Σ ωᵢ Pᵢ⁻¹`, `x = P Σ ωᵢ Pᵢ⁻¹ xᵢ`. A single
/// estimate is returned unchanged. Returns the weights too; `None` if any covariance is not
/// positive definite.
pub fn covariance_intersection<const N: usize>(
    items: &[(SVector<f64, N>, SMatrix<f64, N, N>)],
) -> Option<(SVector<f64, N>, SMatrix<f64, N, N>, Vec<f64>)> {
    let with: Vec<_> = items.iter().map(|(x, p)| (*x, *p, None)).collect();
    ci_with_information(&with)
}

/// One estimate for [`ci_with_information`]: mean, covariance, information matrix if known.
pub(crate) type CiInput<const N: usize> = (
    SVector<f64, N>,
    SMatrix<f64, N, N>,
    Option<SMatrix<f64, N, N>>,
);

/// [`covariance_intersection`] where some estimates come with their information matrix
/// (`P⁻¹`) already computed, which saves a factorisation each.
pub(crate) fn ci_with_information<const N: usize>(
    items: &[CiInput<N>],
) -> Option<(SVector<f64, N>, SMatrix<f64, N, N>, Vec<f64>)> {
    match items {
        [] => None,
        [(x, p, _)] => Some((*x, *p, vec![1.0])),
        _ => {
            let inv_tr: Vec<f64> = items.iter().map(|(_, p, _)| 1.0 / p.trace()).collect();
            let total: f64 = inv_tr.iter().sum();
            if !total.is_finite() || total <= 0.0 {
                return None;
            }
            let weights: Vec<f64> = inv_tr.iter().map(|w| w / total).collect();
            let mut info = SMatrix::<f64, N, N>::zeros();
            let mut info_x = SVector::<f64, N>::zeros();
            for ((x, p, known), w) in items.iter().zip(&weights) {
                let pi = match known {
                    Some(i) => *i,
                    None => p.cholesky()?.inverse(),
                };
                info += pi * *w;
                info_x += pi * x * *w;
            }
            let p = symmetrize(&info.cholesky()?.inverse());
            let x = p * info_x;
            Some((x, p, weights))
        }
    }
}

/// Ellipse (semi-major, semi-minor, orientation in degrees clockwise from north, 0 … 180) of a
/// 2×2 east-north covariance.
pub fn ellipse_of(cov_en: &Matrix2<f64>) -> (f64, f64, f64) {
    let eig = cov_en.symmetric_eigen();
    let (l0, l1) = (eig.eigenvalues.x.max(0.0), eig.eigenvalues.y.max(0.0));
    let (major, minor, axis) = if l0 >= l1 {
        (l0, l1, eig.eigenvectors.column(0).into_owned())
    } else {
        (l1, l0, eig.eigenvectors.column(1).into_owned())
    };
    // axis = (east, north); azimuth clockwise from north.
    let az = axis.x.atan2(axis.y).to_degrees().rem_euclid(180.0);
    (major.sqrt(), minor.sqrt(), az)
}

/// East-north covariance of an ellipse (semi-axes in metres, orientation clockwise from north).
pub fn cov_of_ellipse(major: f64, minor: f64, orientation_deg: f64) -> Matrix2<f64> {
    let (s, c) = orientation_deg.to_radians().sin_cos();
    let u = Vector2::new(s, c);
    let w = Vector2::new(c, -s);
    u * u.transpose() * (major * major) + w * w.transpose() * (minor * minor)
}

/// χ² gate for `dof` degrees of freedom at probability 0.9999 (a true match falls outside
/// once in ten thousand comparisons).
pub fn chi2_gate(dof: usize) -> f64 {
    match dof {
        0 => 0.0,
        1 => 15.137,
        2 => 18.421,
        3 => 21.108,
        4 => 23.513,
        5 => 25.745,
        6 => 27.856,
        7 => 29.878,
        8 => 31.828,
        9 => 33.720,
        _ => 35.564 + 2.0 * (dof as f64 - 10.0),
    }
}
