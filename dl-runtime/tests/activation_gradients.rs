//! `Activation::backward` against central finite differences of `Activation::apply`.
//!
//! For every activation the scalar `L = Σ wᵢ·yᵢ` over a column-major `features × batch` block,
//! with `y = apply(z)` and random weights `w`, has `∂L/∂y = w`; `backward` must turn that into
//! `∂L/∂z`. Random weights make every output matter, so softmax's coupling between the features
//! of a sample is exercised, and several samples check that softmax stays within its column.
//!
//! Nothing is reimplemented: the finite difference evaluates `apply` itself at `z ± h` and
//! accumulates `L` in f64, dividing by the step actually taken in f32.

use dl_runtime::Activation;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FEATURES: usize = 5;
const BATCH: usize = 4;

/// Step of the central difference, a power of two so that `z ± h` is usually exact in f32.
///
/// Error budget of `(L(z+h) − L(z−h)) / 2h` against the true derivative, for `|w| ≤ 1`:
/// - truncation: `h²/6 · max|f'''|` (per coupled output for softmax). With `h = 2⁻⁷`,
///   `h²/6 ≈ 1.0e-5`, and `|f'''| ≤ 2` for all of these functions (tanh's is the largest), so
///   ≤ 2e-5, and up to `FEATURES` times that for softmax's coupled outputs: ≤ 1e-4 in total;
/// - rounding: `apply` is accurate to a couple of f32 ulps, ≤ 2.4e-7 for `|y| < 1` and
///   ≤ 4.8e-7·|y| beyond (softplus, linear, elu, gelu and swish grow like `z`); dividing two such
///   errors by `2h ≈ 0.0156` gives ≤ 6e-5 for `|y| ≤ 1` and `6e-5·|z|` for the wide range;
/// - the analytic side is computed in f32: a few ulps relative, ≤ 1e-6.
///
/// Hence the absolute tolerance `ATOL = 2e-4` (about 1.5× the worst case; the largest error actually
/// seen is ~1e-5) scaled by `max(1, |z|)`, plus a relative `RTOL = 1e-4` for large
/// derivatives. A wrong sign, a missing factor, a wrong constant (e.g. `1/√2` for `1/√(2π)` in
/// gelu) or mixing up samples all produce errors of order 1e-2 to 1, far above these.
const H: f32 = 1.0 / 128.0;
const ATOL: f64 = 2e-4;
const RTOL: f64 = 1e-4;

/// Every variant, with the Keras defaults and other parameters (including a slope of zero and a
/// negative one, where `leaky_relu` must decide its branch from `z`, not `y`).
fn all_activations() -> Vec<Activation> {
    vec![
        Activation::Linear,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::LeakyRelu {
            negative_slope: dl_runtime::activation::LEAKY_RELU_SLOPE,
        },
        Activation::LeakyRelu { negative_slope: 0.0 },
        Activation::LeakyRelu { negative_slope: -0.5 },
        Activation::Elu {
            alpha: dl_runtime::activation::ELU_ALPHA,
        },
        Activation::Elu { alpha: 0.5 },
        Activation::Elu { alpha: 2.0 },
        Activation::Gelu,
        Activation::Softplus,
        Activation::Swish,
        Activation::Relu6,
        Activation::HardSigmoid,
        Activation::HardSwish,
        Activation::ReluWith {
            max_value: 6.0,
            negative_slope: 0.3,
            threshold: 0.0,
        },
        Activation::ReluWith {
            max_value: f32::INFINITY,
            negative_slope: 0.5,
            threshold: 3.0,
        },
        Activation::ReluWith {
            max_value: 3.0,
            negative_slope: 0.0,
            threshold: 0.0,
        },
    ]
}

/// `len` values uniform in `±range`, none within `4h` of a kink (zero for relu, leaky_relu, relu6
/// and elu with `alpha ≠ 1`; 6 for relu6; ±3 for hard_sigmoid and hard_silu; the thresholds and
/// maxima of the `ReluWith` cases above), so that `z ± h` stays on one side.
fn points(rng: &mut impl Rng, len: usize, range: f32) -> Vec<f32> {
    (0..len)
        .map(|_| {
            loop {
                let v = rng.random_range(-range..range);
                if [0.0, -3.0, 3.0, 6.0]
                    .iter()
                    .all(|k: &f32| (v - k).abs() > 4.0 * H)
                {
                    break v;
                }
            }
        })
        .collect()
}

fn weighted_sum(w: &[f32], y: &[f32]) -> f64 {
    w.iter().zip(y).map(|(&w, &y)| w as f64 * y as f64).sum()
}

/// Compares `backward` (given as a closure so that the checker itself can be tested with a wrong
/// one) with central differences of `apply` at `z`. Returns the mismatches, described.
fn check(
    activation: Activation,
    z: &[f32],
    w: &[f32],
    features: usize,
    backward: impl Fn(&[f32], &[f32], &mut [f32]),
) -> Vec<String> {
    let mut y = vec![0.0; z.len()];
    activation.apply(z, &mut y, features);
    let mut analytic = w.to_vec();
    backward(z, &y, &mut analytic);

    let mut failures = Vec::new();
    let mut zp = z.to_vec();
    let mut yp = vec![0.0; z.len()];
    for j in 0..z.len() {
        let plus = z[j] + H;
        let minus = z[j] - H;
        zp[j] = plus;
        activation.apply(&zp, &mut yp, features);
        let l_plus = weighted_sum(w, &yp);
        zp[j] = minus;
        activation.apply(&zp, &mut yp, features);
        let l_minus = weighted_sum(w, &yp);
        zp[j] = z[j];
        let numeric = (l_plus - l_minus) / (plus as f64 - minus as f64);

        let a = analytic[j] as f64;
        let tol = ATOL * (z[j].abs() as f64).max(1.0) + RTOL * numeric.abs();
        let close = (a - numeric).abs() <= tol; // false for NaN
        if !close {
            failures.push(format!(
                "{}: ∂L/∂z[{j}] (feature {}, sample {}) at z = {}: backward {a:.7}, finite difference \
                 {numeric:.7}, |diff| {:.2e} > tol {tol:.2e}",
                activation.name(),
                j % features,
                j / features,
                z[j],
                (a - numeric).abs()
            ));
        }
    }
    failures
}

fn check_all(range: f32, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut failures = Vec::new();
    for activation in all_activations() {
        let z = points(&mut rng, FEATURES * BATCH, range);
        let w: Vec<f32> = (0..z.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
        failures.extend(check(activation, &z, &w, FEATURES, |z, y, d| {
            activation.backward(z, y, d, FEATURES)
        }));
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn backward_matches_finite_differences() {
    check_all(4.0, 1);
    check_all(4.0, 2);
}

#[test]
fn backward_matches_finite_differences_when_saturated() {
    // Large inputs: sigmoid, tanh and softmax saturate, softplus and swish become linear, elu and
    // gelu flatten out; the derivatives must stay right (and finite) there too.
    check_all(15.0, 3);
}

#[test]
fn softmax_with_one_feature_has_zero_gradient() {
    // A one-feature softmax is the constant 1.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let z = points(&mut rng, 6, 3.0);
    let w: Vec<f32> = (0..z.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
    let failures = check(Activation::Softmax, &z, &w, 1, |z, y, d| {
        Activation::Softmax.backward(z, y, d, 1)
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The checker must reject wrong derivatives: a flipped sign, a missing factor, another
/// activation's derivative, and softmax normalised across the wrong axis.
#[test]
fn checker_rejects_wrong_backward() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let z = points(&mut rng, FEATURES * BATCH, 4.0);
    let w: Vec<f32> = (0..z.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
    let negated = |a: Activation| {
        move |z: &[f32], y: &[f32], d: &mut [f32]| {
            a.backward(z, y, d, FEATURES);
            d.iter_mut().for_each(|v| *v = -*v);
        }
    };
    for a in all_activations() {
        assert!(
            !check(a, &z, &w, FEATURES, negated(a)).is_empty(),
            "{} negated",
            a.name()
        );
    }
    // Sigmoid's derivative without the `(1 − y)` factor.
    let partial = |_: &[f32], y: &[f32], d: &mut [f32]| d.iter_mut().zip(y).for_each(|(d, y)| *d *= y);
    assert!(!check(Activation::Sigmoid, &z, &w, FEATURES, partial).is_empty());
    // Swish checked with sigmoid's backward; gelu with `Φ(z)` alone (the `z·φ(z)` term dropped).
    let sigmoid = |z: &[f32], y: &[f32], d: &mut [f32]| Activation::Sigmoid.backward(z, y, d, FEATURES);
    assert!(!check(Activation::Swish, &z, &w, FEATURES, sigmoid).is_empty());
    let cdf_only = |z: &[f32], _: &[f32], d: &mut [f32]| {
        for (d, &z) in d.iter_mut().zip(z) {
            *d *= 0.5 * (1.0 + libm::erf(z as f64 / std::f64::consts::SQRT_2)) as f32;
        }
    };
    assert!(!check(Activation::Gelu, &z, &w, FEATURES, cdf_only).is_empty());
    // Elu's negative branch with `alpha` dropped (`y` instead of `y + alpha`) for alpha = 2.
    let elu = Activation::Elu { alpha: 2.0 };
    let no_alpha = |z: &[f32], y: &[f32], d: &mut [f32]| {
        for ((d, &z), &y) in d.iter_mut().zip(z).zip(y) {
            *d *= if z > 0.0 { 1.0 } else { y + 1.0 };
        }
    };
    assert!(!check(elu, &z, &w, FEATURES, no_alpha).is_empty());
    // Softmax whose Jacobian mixes the samples of the block (one column of 20 features).
    let whole_block = |z: &[f32], y: &[f32], d: &mut [f32]| Activation::Softmax.backward(z, y, d, z.len());
    assert!(!check(Activation::Softmax, &z, &w, FEATURES, whole_block).is_empty());
    // Softmax treated as element-wise: `y (1 − y)` without the coupling term.
    let diagonal =
        |_: &[f32], y: &[f32], d: &mut [f32]| d.iter_mut().zip(y).for_each(|(d, y)| *d *= y * (1.0 - y));
    assert!(!check(Activation::Softmax, &z, &w, FEATURES, diagonal).is_empty());
}
