//! The finite-difference check of a generated network's backward pass, shared by the gradient
//! tests of stacks and of graphs: the gradients `Trainer::compute_gradients` leaves in
//! `Trainer::gradients()` against central differences of `evaluate(..).loss`, for every
//! parameter, perturbed through `Model::for_each_param_mut`.

#![allow(dead_code)]

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Step of the finite differences: a power of two between 1e-2 and 1e-3.
pub const H: f32 = 1.0 / 128.0;

/// Tolerances, `|analytic − numeric| ≤ ATOL + RTOL·|numeric|`.
///
/// The numeric derivative is Richardson-extrapolated from central differences at `h` and `h/2`,
/// `(4·D(h/2) − D(h)) / 3`, so truncation error is `O(h⁴)` (≲ 1e-7 here, against ~1e-5 for a
/// plain central difference at this `h`). Relu and leaky_relu have kinks, which the inputs avoid
/// (`inputs_away_from_kinks`); elu and Huber are only C¹ at theirs, which costs `O(h)` (≲ 2e-5
/// seen) when a perturbation happens to cross one.
///
/// Rounding dominates: the network runs in f32, and `evaluate` reports an f32 mean loss of order
/// 1, so each evaluation is off by a few ulps of the loss and of the activations feeding it,
/// say ≲ 1e-6; divided by `2h` and amplified up to ×3 by the extrapolation, that is ≲ 2e-4 (the
/// largest error seen is ~5e-5). The analytic side, also f32, is good to ~1e-6 relative.
/// A sign error, a missing factor (a `1/batch`, an activation's derivative, a transposed
/// kernel gradient) changes gradients of order 1e-2..1 by as much, so it cannot pass; the last
/// test shows the checker catching such errors.
pub const ATOL: f64 = 2e-4;
pub const RTOL: f64 = 1e-3;

/// Gradient tensors, named `layer.tensor`, in `for_each_param` order.
pub type Tensors = Vec<(String, Vec<f32>)>;

pub fn tensors<M: Model>(m: &M) -> Tensors {
    let mut out = Vec::new();
    m.for_each_param(|layer, tensor, v| out.push((format!("{layer}.{tensor}"), v.to_vec())));
    out
}

/// The analytic gradients of the mean loss, as `compute_gradients` leaves them in the trainer,
/// and the mean loss it reports.
pub fn analytic<M: Model, L: Loss<M::Head>>(
    net: &M,
    x: &[M::Input],
    y: &[L::Target],
    loss: L,
) -> (Tensors, f32) {
    let mut trainer = Trainer::<M, L, Sgd>::new(loss, Sgd::default(), None);
    let stats = trainer.compute_gradients(net, x, y).expect("valid data");
    (tensors(trainer.gradients()), stats.loss())
}

/// Sets parameter `i` of tensor `t` and returns its old value.
pub fn set_param<M: Model>(net: &mut M, t: usize, i: usize, value: f32) -> f32 {
    let mut k = 0;
    let mut old = f32::NAN;
    net.for_each_param_mut(|_, _, v| {
        if k == t {
            old = v[i];
            v[i] = value;
        }
        k += 1;
    });
    old
}

/// Compares `grads` with finite differences of `mean_loss` over every parameter of `net`
/// (restored afterwards). Returns the mismatches, described.
pub fn compare<M: Model>(
    name: &str,
    net: &mut M,
    grads: &Tensors,
    mean_loss: impl Fn(&M) -> f32,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (t, (tensor, g)) in grads.iter().enumerate() {
        for (i, &a) in g.iter().enumerate() {
            let p = set_param(net, t, i, f32::NAN);
            let mut central = |h: f32| {
                let (plus, minus) = (p + h, p - h);
                set_param(net, t, i, plus);
                let l_plus = mean_loss(net) as f64;
                set_param(net, t, i, minus);
                let l_minus = mean_loss(net) as f64;
                (l_plus - l_minus) / (plus as f64 - minus as f64)
            };
            let numeric = (4.0 * central(H / 2.0) - central(H)) / 3.0;
            set_param(net, t, i, p);
            let a = a as f64;
            let tol = ATOL + RTOL * numeric.abs();
            let close = (a - numeric).abs() <= tol; // false for NaN
            if !close {
                failures.push(format!(
                    "{name}: ∂loss/∂{tensor}[{i}] at {p}: backward {a:.7}, finite difference {numeric:.7}, \
                     |diff| {:.2e} > tol {tol:.2e}",
                    (a - numeric).abs()
                ));
            }
        }
    }
    failures
}

/// The whole check: analytic gradients against finite differences, plus the trainer's loss
/// against `evaluate`'s. `mean_loss` is the network's own `evaluate`.
pub fn check<M: Model, L: Loss<M::Head>>(
    name: &str,
    net: &mut M,
    x: &[M::Input],
    y: &[L::Target],
    loss: L,
    mean_loss: impl Fn(&M) -> f32,
) {
    let (grads, trainer_loss) = analytic(net, x, y, loss);
    assert!(
        grads.iter().all(|(_, g)| g.iter().all(|v| v.is_finite())),
        "{name}: non-finite gradient"
    );
    assert!(
        grads.iter().any(|(_, g)| g.iter().any(|&v| v != 0.0)),
        "{name}: all gradients zero"
    );
    let before = tensors(net);
    let evaluated = mean_loss(net);
    assert!(
        (trainer_loss - evaluated).abs() <= 1e-5 * (1.0 + evaluated.abs()),
        "{name}: the trainer reports a mean loss of {trainer_loss}, evaluate {evaluated}"
    );
    let failures = compare(name, net, &grads, mean_loss);
    assert_eq!(tensors(net), before, "{name}: parameters not restored");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A network from `seed` with random biases (glorot leaves them at zero, a special point).
pub fn init<M: Model>(seed: u64, new: impl FnOnce(&mut ChaCha8Rng) -> M) -> (M, ChaCha8Rng) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut net = new(&mut rng);
    net.for_each_param_mut(|_, tensor, v| {
        if tensor == "bias" {
            v.iter_mut().for_each(|b| *b = rng.random_range(-0.5..0.5));
        }
    });
    (net, rng)
}
