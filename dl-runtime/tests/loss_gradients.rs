//! Every loss against an f64 reference of its value and central finite differences of its
//! gradient, on one-unit and multi-unit heads, fused with the last activation or not.
//!
//! `Loss::compute` must return the batch *sum* of the per-sample losses and write the gradient of
//! the *mean* loss: with respect to `z` when it answers `GradOf::PreActivation` (the finite
//! difference then perturbs `z` and recomputes `y = activation(z)` with `Activation::apply`), and
//! with respect to `y` when it answers `GradOf::Output` (the finite difference perturbs `y`).

use dl_runtime::loss::{EPSILON, GradOf, HeadOutput};
use dl_runtime::{
    Activation, BinaryCrossEntropy, CategoricalCrossEntropy, Head, Huber, Loss, MeanAbsoluteError,
    MeanSquaredError, OneUnit, SparseCategoricalCrossEntropy, Units,
};
use nalgebra::SVector;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Samples per batch: odd, and different from every head's unit count, so that dividing by the
/// wrong one of the two is caught.
const BATCH: usize = 5;

/// Step of the finite differences (a power of two, so `v ± h` is usually exact in f32).
const H: f32 = 1.0 / 64.0;

/// Tolerances of the gradient check, `|analytic − numeric| ≤ ATOL + RTOL·|numeric|`.
///
/// The numeric derivative is Richardson-extrapolated from central differences at `h` and `h/2`,
/// `(4·D(h/2) − D(h)) / 3`, which cancels the `h²` truncation term. That matters for the
/// probability losses: `−ln y` has third derivative `2/y³`, ~600 for the smallest output used
/// here (0.15), which would cost `h²/6 · 600 / BATCH ≈ 5e-3` with a plain central difference;
/// the remaining term, `h⁴/480 · 24/y⁵ / BATCH`, is below 1e-5.
///
/// What is left is rounding. `compute` works in f32 on intermediates up to ~16 (log-sum-exp of
/// logits up to 4, or `−ln ε ≈ 16` for a clipped probability), so each evaluation of the sum is
/// off by a few ulps of those, ≲ 1e-5 in the worst case; divided by `BATCH` and by `2h`, and
/// amplified up to ×3 by the extrapolation, that bounds the error by ~2e-4. The largest error
/// seen is ~5e-5, on cross-entropies with large logits or clipped components; regression losses
/// stay below 1e-5. The gradients themselves are of order `1/BATCH = 0.2`, so a wrong sign, a
/// missing `1/BATCH` or `1/units`, or a dropped coupling term is off by ≥ 1e-2 and cannot pass.
const ATOL: f64 = 2e-4;
const RTOL: f64 = 1e-3;

/// Tolerance of the loss value against the f64 reference: f32 arithmetic with `ln`, `exp` and a
/// sum of `BATCH` terms is good to a few ulps per term.
fn value_tolerance(reference: f64) -> f64 {
    1e-5 + 1e-5 * reference.abs()
}

/// A batch as the loss sees it: pre-activations, and the outputs `activation(z)`.
struct Batch {
    activation: Activation,
    z: Vec<f32>,
    units: usize,
}

impl Batch {
    fn new(activation: Activation, z: Vec<f32>, units: usize) -> Self {
        assert_eq!(z.len(), units * BATCH);
        Batch { activation, z, units }
    }

    fn y(&self) -> Vec<f32> {
        let mut y = vec![0.0; self.z.len()];
        self.activation.apply(&self.z, &mut y, self.units);
        y
    }
}

/// The batch sum of `loss` on `z`, `y`, in f64.
fn total<H: Head, L: Loss<H>>(loss: &L, b: &Batch, z: &[f32], y: &[f32], t: &[L::Target]) -> f64 {
    let out = HeadOutput {
        activation: b.activation,
        z,
        y,
        units: b.units,
    };
    loss.compute(&out, t, None).0 as f64
}

/// Checks the value against `reference` (one sample's loss from its `z`, `y` and target, in f64),
/// the kind of gradient against `expect`, and the gradient against finite differences. Returns the
/// problems found.
fn check<H: Head, L: Loss<H>>(
    loss: &L,
    b: &Batch,
    targets: &[L::Target],
    expect: GradOf,
    reference: impl Fn(&[f32], &[f32], &L::Target) -> f64,
) -> Vec<String> {
    assert_eq!(b.units, H::UNITS);
    assert_eq!(targets.len(), BATCH);
    let name = format!(
        "{} on {} units after {}",
        loss.name(),
        b.units,
        b.activation.name()
    );
    let n = b.units;
    let y = b.y();
    let out = HeadOutput {
        activation: b.activation,
        z: &b.z,
        y: &y,
        units: n,
    };
    let mut failures = Vec::new();

    // NaN everywhere first, so that an element the loss forgets to write shows up.
    let mut grad = vec![f32::NAN; y.len()];
    let (sum, of) = loss.compute(&out, targets, Some(&mut grad));
    let (sum_without_grad, of_without_grad) = loss.compute(&out, targets, None);
    if of != expect || of_without_grad != expect {
        failures.push(format!(
            "{name}: gradient of {of:?} (without grad: {of_without_grad:?}), expected {expect:?}"
        ));
    }
    if sum != sum_without_grad {
        failures.push(format!(
            "{name}: sum {sum} with a gradient buffer, {sum_without_grad} without"
        ));
    }
    let expected: f64 = (0..BATCH)
        .map(|s| reference(&b.z[s * n..(s + 1) * n], &y[s * n..(s + 1) * n], &targets[s]))
        .sum();
    let close = (sum as f64 - expected).abs() <= value_tolerance(expected); // false for NaN
    if !close {
        failures.push(format!(
            "{name}: returned {sum}, but the per-sample losses sum to {expected}"
        ));
    }

    // ∂(sum / BATCH)/∂v[j], with `v` the values the gradient is taken with respect to.
    let mean_at = |j: usize, v: f32| -> f64 {
        match expect {
            GradOf::PreActivation => {
                let mut z = b.z.clone();
                z[j] = v;
                let mut y = vec![0.0; z.len()];
                b.activation.apply(&z, &mut y, n);
                total(loss, b, &z, &y, targets) / BATCH as f64
            }
            GradOf::Output => {
                let mut y = y.clone();
                y[j] = v;
                total(loss, b, &b.z, &y, targets) / BATCH as f64
            }
        }
    };
    let at = match expect {
        GradOf::PreActivation => &b.z,
        GradOf::Output => &y,
    };
    for (j, (&g, &v)) in grad.iter().zip(at).enumerate() {
        let central = |h: f32| {
            let (plus, minus) = (v + h, v - h);
            (mean_at(j, plus) - mean_at(j, minus)) / (plus as f64 - minus as f64)
        };
        let numeric = (4.0 * central(H / 2.0) - central(H)) / 3.0;
        let tol = ATOL + RTOL * numeric.abs();
        let close = (g as f64 - numeric).abs() <= tol; // false for NaN
        if !close {
            failures.push(format!(
                "{name}: ∂mean/∂{}[{j}] (unit {}, sample {}) at {v}: compute gives {g:.7}, finite \
                 difference {numeric:.7}, |diff| {:.2e} > tol {tol:.2e}",
                if expect == GradOf::Output { "y" } else { "z" },
                j % n,
                j / n,
                (g as f64 - numeric).abs()
            ));
        }
    }
    failures
}

fn assert_ok(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn uniform(rng: &mut impl Rng, len: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

// ---------------------------------------------------------------------------------------------
// f64 references, written from Keras's definitions.

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `binary_crossentropy` of a logit.
fn bce_logit(z: f64, t: f64) -> f64 {
    // −t·ln σ(z) − (1 − t)·ln(1 − σ(z)) = softplus(z) − t·z.
    softplus(z) - t * z
}

/// Keras clips probabilities to `[ε, 1 − ε]` in the output's precision: `1 − ε` rounds to
/// `1 − 2⁻²³` in f32, so `ln(1 − p)` bottoms out at −15.94 rather than −16.12.
fn clip(p: f64) -> f64 {
    p.clamp(EPSILON as f64, (1.0 - EPSILON) as f64)
}

/// `binary_crossentropy` of a probability, clipped as Keras does.
fn bce_probability(y: f64, t: f64) -> f64 {
    let p = clip(y);
    -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
}

/// Categorical cross-entropy of logits: `−Σ tᵢ·ln softmax(z)ᵢ`.
fn ce_logits(z: &[f32], t: impl Fn(usize) -> f64) -> f64 {
    let max = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let lse = max + z.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
    z.iter().enumerate().map(|(i, &v)| -t(i) * (v as f64 - lse)).sum()
}

/// Categorical cross-entropy of probabilities: normalised to sum 1, clipped, `−Σ tᵢ·ln pᵢ`.
fn ce_probabilities(y: &[f32], t: impl Fn(usize) -> f64) -> f64 {
    let sum: f64 = y.iter().map(|&v| v as f64).sum();
    y.iter()
        .enumerate()
        .map(|(i, &v)| -t(i) * clip(v as f64 / sum).ln())
        .sum()
}

/// Mean over the units of `f(y − t)`.
fn regression(y: &[f32], t: &[f32], f: impl Fn(f64) -> f64) -> f64 {
    y.iter()
        .zip(t)
        .map(|(&y, &t)| f(y as f64 - t as f64))
        .sum::<f64>()
        / y.len() as f64
}

fn huber_of(delta: f64) -> impl Fn(f64) -> f64 + Copy {
    move |e| {
        if e.abs() <= delta {
            0.5 * e * e
        } else {
            delta * (e.abs() - 0.5 * delta)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Targets.

/// Hard and soft binary labels.
fn binary_targets(rng: &mut impl Rng) -> Vec<f32> {
    (0..BATCH)
        .map(|s| match s % 3 {
            0 => 0.0,
            1 => 1.0,
            _ => rng.random_range(0.0..1.0),
        })
        .collect()
}

/// One-hot labels, soft labels that sum to 1, and labels that do not (each component in [0, 1],
/// which is all `check_target` asks).
fn categorical_targets<const N: usize>(rng: &mut impl Rng) -> Vec<SVector<f32, N>> {
    (0..BATCH)
        .map(|s| match s % 3 {
            0 => SVector::from_fn(|i, _| if i == s % N { 1.0 } else { 0.0 }),
            1 => {
                let v = SVector::<f32, N>::from_fn(|_, _| rng.random_range(0.05..1.0));
                v / v.sum()
            }
            _ => SVector::from_fn(|_, _| rng.random_range(0.0..1.0)),
        })
        .collect()
}

fn sparse_targets<const N: usize>(rng: &mut impl Rng) -> Vec<usize> {
    (0..BATCH).map(|_| rng.random_range(0..N)).collect()
}

// ---------------------------------------------------------------------------------------------
// Binary cross-entropy (one unit).

#[test]
fn binary_cross_entropy_fused_with_sigmoid() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let loss = BinaryCrossEntropy { from_logits: false };
    let b = Batch::new(Activation::Sigmoid, uniform(&mut rng, BATCH, -6.0, 6.0), 1);
    let t = binary_targets(&mut rng);
    assert_ok(check::<OneUnit, _>(
        &loss,
        &b,
        &t,
        GradOf::PreActivation,
        |z, _, &t| bce_logit(z[0] as f64, t as f64),
    ));
}

#[test]
fn binary_cross_entropy_of_probabilities() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let loss = BinaryCrossEntropy { from_logits: false };
    // Heads other than sigmoid whose outputs lie in (0, 1): no fusion, gradient w.r.t. `y`.
    for (activation, lo, hi) in [(Activation::Linear, 0.15, 0.85), (Activation::Tanh, 0.15, 1.2)] {
        let b = Batch::new(activation, uniform(&mut rng, BATCH, lo, hi), 1);
        let t = binary_targets(&mut rng);
        assert_ok(check::<OneUnit, _>(&loss, &b, &t, GradOf::Output, |_, y, &t| {
            bce_probability(y[0] as f64, t as f64)
        }));
    }
}

#[test]
fn binary_cross_entropy_of_clipped_probabilities() {
    // Outputs outside [ε, 1 − ε] are clipped as in Keras: the loss is flat there, so the gradient
    // is zero (and finite), beside samples inside the range.
    let loss = BinaryCrossEntropy { from_logits: false };
    let b = Batch::new(Activation::Linear, vec![-0.5, 1.5, 0.3, 1.2, 0.7], 1);
    let t = [0.0, 0.0, 1.0, 1.0, 0.4];
    assert_ok(check::<OneUnit, _>(&loss, &b, &t, GradOf::Output, |_, y, &t| {
        bce_probability(y[0] as f64, t as f64)
    }));
}

#[test]
fn binary_cross_entropy_from_logits() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let loss = BinaryCrossEntropy { from_logits: true };
    // With `from_logits` the outputs are the logits, whatever the head's activation (even a
    // sigmoid: nothing is fused then).
    for (activation, lo, hi) in [(Activation::Linear, -6.0, 6.0), (Activation::Sigmoid, -3.0, 3.0)] {
        let b = Batch::new(activation, uniform(&mut rng, BATCH, lo, hi), 1);
        let t = binary_targets(&mut rng);
        assert_ok(check::<OneUnit, _>(&loss, &b, &t, GradOf::Output, |_, y, &t| {
            bce_logit(y[0] as f64, t as f64)
        }));
    }
}

// ---------------------------------------------------------------------------------------------
// Categorical cross-entropies (4 units).

const CLASSES: usize = 4;

/// The three ways a categorical loss meets its head, checked with the same targets.
fn categorical_cases<L: Loss<Units<CLASSES>>>(
    seed: u64,
    fused: L,
    probabilities: L,
    logits: L,
    targets: impl Fn(&mut ChaCha8Rng) -> Vec<L::Target>,
    t: impl Fn(&L::Target, usize) -> f64 + Copy,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut failures = Vec::new();

    // Softmax head: fused, gradient `p − t` w.r.t. the logits.
    let b = Batch::new(
        Activation::Softmax,
        uniform(&mut rng, CLASSES * BATCH, -4.0, 4.0),
        CLASSES,
    );
    let tg = targets(&mut rng);
    failures.extend(check(&fused, &b, &tg, GradOf::PreActivation, |z, _, tt| {
        ce_logits(z, |i| t(tt, i))
    }));

    // Positive outputs that are not a softmax: normalised by their sum, gradient w.r.t. `y`.
    // The ranges keep every normalised probability above 0.15 (see `ATOL`).
    for (activation, lo, hi) in [
        (Activation::Softplus, -0.5, 1.0),
        (Activation::Sigmoid, -1.0, 1.0),
    ] {
        let b = Batch::new(activation, uniform(&mut rng, CLASSES * BATCH, lo, hi), CLASSES);
        let tg = targets(&mut rng);
        failures.extend(check(&probabilities, &b, &tg, GradOf::Output, |_, y, tt| {
            ce_probabilities(y, |i| t(tt, i))
        }));
    }

    // `from_logits`: the outputs are the logits, whatever the activation (a softmax included).
    for activation in [Activation::Linear, Activation::Softmax] {
        let b = Batch::new(activation, uniform(&mut rng, CLASSES * BATCH, -4.0, 4.0), CLASSES);
        let tg = targets(&mut rng);
        failures.extend(check(&logits, &b, &tg, GradOf::Output, |_, y, tt| {
            ce_logits(y, |i| t(tt, i))
        }));
    }
    assert_ok(failures);
}

#[test]
fn categorical_cross_entropy() {
    categorical_cases(
        20,
        CategoricalCrossEntropy { from_logits: false },
        CategoricalCrossEntropy { from_logits: false },
        CategoricalCrossEntropy { from_logits: true },
        categorical_targets::<CLASSES>,
        |t, i| t[i] as f64,
    );
}

#[test]
fn sparse_categorical_cross_entropy() {
    categorical_cases(
        21,
        SparseCategoricalCrossEntropy { from_logits: false },
        SparseCategoricalCrossEntropy { from_logits: false },
        SparseCategoricalCrossEntropy { from_logits: true },
        sparse_targets::<CLASSES>,
        |&t, i| if t == i { 1.0 } else { 0.0 },
    );
}

#[test]
fn categorical_cross_entropy_of_clipped_probabilities() {
    // A component whose normalised probability is clipped to `[ε, 1 − ε]` contributes a constant
    // to the loss, so nothing to its gradient, not even through the normalisation. Clipped
    // components are negative outputs here, so that `y ± h` stays clipped (a tiny positive output
    // sits within 1e-7 of the clipping point, closer than any step could resolve).
    #[rustfmt::skip]
    let y = vec![
        -0.2, 0.5, 0.8, 0.4,
        0.3, -0.1, 0.6, 0.9,
        0.7, 0.2, -0.3, 0.5,
        0.4, 0.4, 0.4, 0.4,
        -0.05, 0.9, 0.3, 0.6,
    ];
    let b = Batch::new(Activation::Linear, y, CLASSES);
    let loss = CategoricalCrossEntropy::default();
    let soft = |v: [f32; CLASSES]| SVector::from(v);
    let t = [
        soft([1.0, 0.0, 0.0, 0.0]),
        soft([0.0, 0.5, 0.5, 0.0]),
        soft([0.2, 0.3, 0.4, 0.1]),
        soft([0.0, 0.0, 1.0, 0.0]),
        soft([0.5, 0.0, 0.5, 0.0]),
    ];
    assert_ok(check::<Units<CLASSES>, _>(
        &loss,
        &b,
        &t,
        GradOf::Output,
        |_, y, t| ce_probabilities(y, |i| t[i] as f64),
    ));
    let loss = SparseCategoricalCrossEntropy::default();
    let t = [0, 1, 2, 2, 0];
    assert_ok(check::<Units<CLASSES>, _>(
        &loss,
        &b,
        &t,
        GradOf::Output,
        |_, y, &t| ce_probabilities(y, |i| if i == t { 1.0 } else { 0.0 }),
    ));
}

#[test]
fn categorical_cross_entropy_gradient_vanishes_when_the_labelled_classes_are_clipped() {
    // The realistic case of the test above: saturated positive outputs. The true class's
    // probability is below ε (first sample) or every probability is clipped (second), so the
    // loss is locally constant (the clipping points are ≥ 100 times farther than the outputs are
    // from zero) and its gradient is exactly zero.
    #[rustfmt::skip]
    let y = [
        1e-9, 0.5, 0.5, 0.3,
        1.0, 1e-9, 1e-9, 1e-9,
    ];
    let out = HeadOutput {
        activation: Activation::Sigmoid,
        z: &[0.0; 8],
        y: &y,
        units: CLASSES,
    };
    let mut grad = [f32::NAN; 8];
    let onehot = SVector::<f32, CLASSES>::from([1.0, 0.0, 0.0, 0.0]);
    let (_, of) = CategoricalCrossEntropy::default().compute(&out, &[onehot; 2], Some(&mut grad));
    assert_eq!(of, GradOf::Output);
    assert_eq!(grad, [0.0; 8]);
    let mut grad = [f32::NAN; 8];
    let sparse = SparseCategoricalCrossEntropy::default();
    Loss::<Units<CLASSES>>::compute(&sparse, &out, &[0, 0], Some(&mut grad));
    assert_eq!(grad, [0.0; 8]);
}

#[test]
fn categorical_cross_entropy_on_two_classes() {
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let b = Batch::new(Activation::Softmax, uniform(&mut rng, 2 * BATCH, -4.0, 4.0), 2);
    let t = categorical_targets::<2>(&mut rng);
    let loss = CategoricalCrossEntropy::default();
    assert_ok(check::<Units<2>, _>(
        &loss,
        &b,
        &t,
        GradOf::PreActivation,
        |z, _, t| ce_logits(z, |i| t[i] as f64),
    ));
    let t = sparse_targets::<2>(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    assert_ok(check::<Units<2>, _>(
        &loss,
        &b,
        &t,
        GradOf::PreActivation,
        |z, _, &t| ce_logits(z, |i| if i == t { 1.0 } else { 0.0 }),
    ));
}

// ---------------------------------------------------------------------------------------------
// Regression losses, on one unit and on three.

/// Targets at `y + e`, with `|e|` in `[lo, hi)` and a random sign, and every `|e|` at least `4h`
/// away from `kink` (MAE's kink at 0, Huber's change of regime at `delta`).
fn regression_targets(rng: &mut impl Rng, y: &[f32], lo: f32, hi: f32, kink: f32) -> Vec<f32> {
    y.iter()
        .map(|&y| {
            loop {
                let e = rng.random_range(lo..hi);
                if (e - kink).abs() > 4.0 * H {
                    break if rng.random() { y + e } else { y - e };
                }
            }
        })
        .collect()
}

/// Runs a regression loss on `OneUnit` and `Units<3>` heads, linear and tanh.
fn regression_cases<L>(seed: u64, loss: L, lo: f32, hi: f32, kink: f32, f: impl Fn(f64) -> f64 + Copy)
where
    L: Loss<OneUnit, Target = f32> + Loss<Units<3>, Target = SVector<f32, 3>>,
{
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut failures = Vec::new();
    for activation in [Activation::Linear, Activation::Tanh] {
        let b = Batch::new(activation, uniform(&mut rng, BATCH, -2.0, 2.0), 1);
        let t = regression_targets(&mut rng, &b.y(), lo, hi, kink);
        failures.extend(check::<OneUnit, _>(&loss, &b, &t, GradOf::Output, |_, y, &t| {
            regression(y, &[t], f)
        }));

        let b = Batch::new(activation, uniform(&mut rng, 3 * BATCH, -2.0, 2.0), 3);
        let flat = regression_targets(&mut rng, &b.y(), lo, hi, kink);
        let t: Vec<SVector<f32, 3>> = flat.chunks_exact(3).map(SVector::from_column_slice).collect();
        failures.extend(check::<Units<3>, _>(&loss, &b, &t, GradOf::Output, |_, y, t| {
            regression(y, t.as_slice(), f)
        }));
    }
    assert_ok(failures);
}

#[test]
fn mean_squared_error() {
    regression_cases(30, MeanSquaredError, 0.0, 2.0, f32::INFINITY, |e| e * e);
}

#[test]
fn mean_absolute_error() {
    regression_cases(31, MeanAbsoluteError, 0.0, 2.0, 0.0, f64::abs);
}

#[test]
fn huber_loss() {
    // Errors on both sides of `delta`, for the Keras default and another `delta`.
    regression_cases(32, Huber::default(), 0.0, 2.5, 1.0, huber_of(1.0));
    regression_cases(33, Huber { delta: 0.4 }, 0.0, 1.5, 0.4, huber_of(0.4));
}

// ---------------------------------------------------------------------------------------------
// The checker itself must catch wrong losses.

/// A loss that gets something wrong on purpose.
struct Broken<L> {
    inner: L,
    /// Multiplies the gradient.
    grad_factor: f32,
    /// Multiplies the returned sum.
    value_factor: f32,
    /// Claims the other kind of gradient.
    swap_of: bool,
}

impl<L> Broken<L> {
    fn grad(inner: L, grad_factor: f32) -> Self {
        Broken {
            inner,
            grad_factor,
            value_factor: 1.0,
            swap_of: false,
        }
    }
}

impl<H: Head, L: Loss<H>> Loss<H> for Broken<L> {
    type Target = L::Target;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn check_target(&self, t: &Self::Target) -> Result<(), String> {
        self.inner.check_target(t)
    }

    fn compute(&self, out: &HeadOutput<'_>, t: &[Self::Target], grad: Option<&mut [f32]>) -> (f32, GradOf) {
        let mut grad = grad;
        let (sum, of) = self.inner.compute(out, t, grad.as_deref_mut());
        if let Some(g) = grad {
            g.iter_mut().for_each(|v| *v *= self.grad_factor);
        }
        let of = match (self.swap_of, of) {
            (false, of) => of,
            (true, GradOf::Output) => GradOf::PreActivation,
            (true, GradOf::PreActivation) => GradOf::Output,
        };
        (sum * self.value_factor, of)
    }
}

#[test]
fn checker_rejects_wrong_losses() {
    let mut rng = ChaCha8Rng::seed_from_u64(40);
    let softmax = Batch::new(
        Activation::Softmax,
        uniform(&mut rng, CLASSES * BATCH, -4.0, 4.0),
        CLASSES,
    );
    let t = categorical_targets::<CLASSES>(&mut rng);
    let reference = |z: &[f32], _: &[f32], t: &SVector<f32, CLASSES>| ce_logits(z, |i| t[i] as f64);
    let cce = CategoricalCrossEntropy::default();
    assert_ok(check::<Units<CLASSES>, _>(
        &cce,
        &softmax,
        &t,
        GradOf::PreActivation,
        reference,
    ));

    let wrong = |l: Broken<CategoricalCrossEntropy>| {
        check::<Units<CLASSES>, _>(&l, &softmax, &t, GradOf::PreActivation, reference)
    };
    // Sign flipped; gradient of the sum rather than the mean; 1% off.
    for factor in [-1.0, BATCH as f32, 1.01] {
        assert!(
            !wrong(Broken::grad(cce, factor)).is_empty(),
            "gradient × {factor}"
        );
    }
    // The mean returned instead of the sum.
    let mean = Broken {
        value_factor: 1.0 / BATCH as f32,
        ..Broken::grad(cce, 1.0)
    };
    assert!(!wrong(mean).is_empty());
    // The fused gradient passed off as a gradient w.r.t. the outputs.
    let swapped = Broken {
        swap_of: true,
        ..Broken::grad(cce, 1.0)
    };
    assert!(!wrong(swapped).is_empty());

    // MSE on three units with the gradient of the sum over the units (the `1/units` dropped).
    let b = Batch::new(Activation::Linear, uniform(&mut rng, 3 * BATCH, -2.0, 2.0), 3);
    let t: Vec<SVector<f32, 3>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-2.0..2.0)))
        .collect();
    let mse = Broken::grad(MeanSquaredError, 3.0);
    let failures = check::<Units<3>, _>(&mse, &b, &t, GradOf::Output, |_, y, t| {
        regression(y, t.as_slice(), |e| e * e)
    });
    assert!(!failures.is_empty());
}
