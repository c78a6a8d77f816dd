//! `BatchNormalization` against a naive f64 reference written here (Keras's definition), and its
//! training-mode backward pass against central finite differences of `L = Σ w·y`, for image
//! input (normalized per channel over batch × height × width), vector input (per feature over
//! the batch) and sequence input (per feature over batch × time).
//!
//! Layout: a sample is `N·C` floats, channels last, so value `i` of the batch belongs to
//! channel `i % C`.
//!
//! Tolerances. Batch normalization is smooth (a rational function of `x`, `gamma` and `beta`
//! once the variance is bounded away from 0, which the data ensure: each channel's values spread
//! over [−1, 1] plus an offset), so the checks use Richardson-extrapolated central differences
//! `(4·D(h/2) − D(h)) / 3` with `h = 2⁻⁶`, truncation `O(h⁴)`. Rounding: `y` is good to a few
//! f32 ulps (~2e-7 relative, |y| ≲ 3) over ≤ 300 outputs with |w| ≤ 1, so `L` (summed in f64) to
//! ~1e-5 at worst; divided by `2h = 1/32` and amplified ×5/3, ≲ 5e-4. Hence
//! `|analytic − numeric| ≤ ATOL + RTOL·|numeric|`. Dropping the batch statistics' own dependence
//! on `x` (the inference-mode formula) changes `∂L/∂x` by order 0.1–1, which the last test shows
//! the check rejects.

use dl_runtime::Activation;
use dl_runtime::layers::{BatchNormCache, BatchNormalization, Buffers, Layer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ATOL: f64 = 1e-3;
const RTOL: f64 = 1e-3;
const H: f32 = 1.0 / 64.0;
/// Forward against the f64 reference: f32 rounding of `(x − μ)·s·γ + β` with |y| ≲ 3.
const FORWARD_TOL: f64 = 2e-6;

const MOMENTUM: u64 = 0.99f64.to_bits();
const EPSILON: u32 = 0.001f32.to_bits();

/// A 3×2 image with 4 channels.
type Image = BatchNormalization<4, 6, MOMENTUM, EPSILON>;
/// 5 features.
type Vector = BatchNormalization<5, 1, MOMENTUM, EPSILON>;
/// 4 steps × 3 features.
type Sequence = BatchNormalization<3, 4, MOMENTUM, EPSILON>;

/// The f64 reference in training mode: per channel over every row, biased variance.
fn reference<L: Layer>(layer: &L, x: &[f32], channels: usize) -> Vec<f64> {
    let mut params = Vec::new();
    layer.for_each_param(&mut |_, v| params.push(v.to_vec()));
    let (gamma, beta) = (&params[0], &params[1]);
    let rows = x.len() / channels;
    let mut y = vec![0.0; x.len()];
    for c in 0..channels {
        let values: Vec<f64> = (0..rows).map(|r| f64::from(x[r * channels + c])).collect();
        let mean = values.iter().sum::<f64>() / rows as f64;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / rows as f64;
        let s = 1.0 / (var + 0.001f32 as f64).sqrt();
        for r in 0..rows {
            y[r * channels + c] = (values[r] - mean) * s * f64::from(gamma[c]) + f64::from(beta[c]);
        }
    }
    y
}

/// A layer with random `gamma` (around 1) and `beta`, and non-trivial moving statistics.
fn layer<L: Layer>(rng: &mut ChaCha8Rng) -> L {
    let mut l = L::zeros();
    l.for_each_param_mut(&mut |name, v| {
        for p in v.iter_mut() {
            *p = match name {
                "gamma" => rng.random_range(0.5..1.5),
                _ => rng.random_range(-0.5..0.5),
            };
        }
    });
    l.for_each_state_mut(&mut |name, v| {
        for p in v.iter_mut() {
            *p = match name {
                "moving_mean" => rng.random_range(-0.5..0.5),
                _ => rng.random_range(0.5..2.0),
            };
        }
    });
    l
}

/// Inputs: uniform in [−1, 1] plus a per-channel offset in [−2, 2].
fn inputs(rng: &mut ChaCha8Rng, len: usize, channels: usize) -> Vec<f32> {
    let offsets: Vec<f32> = (0..channels).map(|_| rng.random_range(-2.0..2.0)).collect();
    (0..len)
        .map(|i| offsets[i % channels] + rng.random_range(-1.0..1.0))
        .collect()
}

/// `Σ w·y` in f64 of a training-mode forward pass.
fn loss<L: Layer<In = f32, Extra = BatchNormCache>>(layer: &L, x: &[f32], batch: usize, w: &[f32]) -> f64 {
    let mut buf = Buffers::default();
    layer.forward_batch(x, batch, &mut buf, Activation::Linear, true);
    buf.y
        .iter()
        .zip(w)
        .map(|(&y, &w)| f64::from(y) * f64::from(w))
        .sum()
}

fn richardson(mut at: impl FnMut(f32) -> f64) -> f64 {
    let central = |h: f32, at: &mut dyn FnMut(f32) -> f64| (at(h) - at(-h)) / (2.0 * f64::from(h));
    (4.0 * central(H / 2.0, &mut at) - central(H, &mut at)) / 3.0
}

/// Analytic gradients (`dx`, then each parameter tensor) from the training-mode backward pass.
fn analytic<L: Layer<In = f32, Extra = BatchNormCache>>(
    layer: &L,
    x: &[f32],
    batch: usize,
    w: &[f32],
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let mut buf = Buffers::default();
    layer.forward_batch(x, batch, &mut buf, Activation::Linear, true);
    buf.dy.copy_from_slice(w);
    let mut grads = L::zeros();
    let mut dx = vec![f32::NAN; x.len()];
    layer.backward_batch(x, batch, &mut buf, Activation::Linear, &mut grads, Some(&mut dx));
    let mut g = Vec::new();
    grads.for_each_param(&mut |_, v| g.push(v.to_vec()));
    (dx, g)
}

fn close(what: &str, analytic: f32, numeric: f64, failures: &mut Vec<String>) {
    let a = f64::from(analytic);
    let within = (a - numeric).abs() <= ATOL + RTOL * numeric.abs(); // false for NaN
    if !within {
        failures.push(format!("{what}: backward {a:.6}, finite difference {numeric:.6}"));
    }
}

/// The whole check for one layer type: forward against the reference, then every input and
/// parameter gradient against finite differences.
fn check<L: Layer<In = f32, Extra = BatchNormCache>>(name: &str, channels: usize, batch: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut layer: L = layer(&mut rng);
    let x = inputs(&mut rng, L::INPUTS * batch, channels);
    let w: Vec<f32> = (0..x.len()).map(|_| rng.random_range(-1.0..1.0)).collect();

    let mut buf = Buffers::default();
    layer.forward_batch(&x, batch, &mut buf, Activation::Linear, true);
    for (i, (&got, want)) in buf.y.iter().zip(reference(&layer, &x, channels)).enumerate() {
        assert!(
            (f64::from(got) - want).abs() <= FORWARD_TOL * (1.0 + want.abs()),
            "{name}: y[{i}] = {got}, reference {want}"
        );
    }

    let (dx, grads) = analytic(&layer, &x, batch, &w);
    let mut failures = Vec::new();
    for i in 0..x.len() {
        let numeric = richardson(|h| {
            let mut moved = x.clone();
            moved[i] += h;
            loss(&layer, &moved, batch, &w)
        });
        close(&format!("{name}: ∂L/∂x[{i}]"), dx[i], numeric, &mut failures);
    }
    for (t, g) in grads.iter().enumerate() {
        for (i, &a) in g.iter().enumerate() {
            let numeric = richardson(|h| {
                let mut k = 0;
                let mut old = 0.0;
                layer.for_each_param_mut(&mut |_, v| {
                    if k == t {
                        old = v[i];
                        v[i] += h;
                    }
                    k += 1;
                });
                let l = loss(&layer, &x, batch, &w);
                let mut k = 0;
                layer.for_each_param_mut(&mut |_, v| {
                    if k == t {
                        v[i] = old;
                    }
                    k += 1;
                });
                l
            });
            close(&format!("{name}: ∂L/∂param{t}[{i}]"), a, numeric, &mut failures);
        }
    }
    assert!(
        dx.iter().any(|&d| d.abs() > 0.05),
        "{name}: input gradients all near zero"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn image_input_per_channel_over_batch_height_and_width() {
    check::<Image>("image", 4, 3, 1);
}

#[test]
fn vector_input_per_feature_over_the_batch() {
    check::<Vector>("vector", 5, 7, 2);
}

#[test]
fn sequence_input_per_feature_over_batch_and_time() {
    check::<Sequence>("sequence", 3, 2, 3);
}

/// The gradient as if the batch statistics were constants (the inference-mode formula) is
/// wrong in training mode, and the check above would see it.
#[test]
fn the_check_rejects_batch_statistics_treated_as_constants() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let layer: Image = layer(&mut rng);
    let batch = 3;
    let x = inputs(&mut rng, Image::INPUTS * batch, 4);
    let w: Vec<f32> = (0..x.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut buf = Buffers::default();
    layer.forward_batch(&x, batch, &mut buf, Activation::Linear, true);
    let gamma = layer.gamma.as_slice();
    let mut failures = Vec::new();
    for i in 0..x.len() {
        let c = i % 4;
        let values: Vec<f64> = (0..x.len() / 4).map(|r| f64::from(x[r * 4 + c])).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64;
        let naive = (f64::from(gamma[c]) * f64::from(w[i]) / (var + 0.001f32 as f64).sqrt()) as f32;
        let numeric = richardson(|h| {
            let mut moved = x.clone();
            moved[i] += h;
            loss(&layer, &moved, batch, &w)
        });
        close("naive", naive, numeric, &mut failures);
    }
    assert!(
        failures.len() > x.len() / 2,
        "only {} of {} naive gradients rejected",
        failures.len(),
        x.len()
    );
}

/// Training normalizes with the batch's statistics; inference with the moving ones, exactly
/// TensorFlow's `x·scale + (beta − moving_mean·scale)` with `scale = gamma/√(moving_variance + ε)`;
/// the state moves only through
/// `update_state`, by Keras 3's formula with the biased batch variance, and only after a
/// training pass.
#[test]
fn inference_uses_the_moving_statistics_which_training_updates() {
    let normalized = |x: f32, mean: f32, variance: f32, gamma: f32, beta: f32| {
        let scale = gamma * (1.0 / (variance + 0.001).sqrt());
        x * scale + (beta - mean * scale)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut layer: Vector = layer(&mut rng);
    let batch = 6;
    let x = inputs(&mut rng, 5 * batch, 5);
    let (mm0, mv0) = (*layer.moving_mean, *layer.moving_variance);

    let mut buf = Buffers::default();
    layer.forward_batch(&x, batch, &mut buf, Activation::Linear, false);
    for (i, &y) in buf.y.iter().enumerate() {
        let c = i % 5;
        let want = normalized(x[i], mm0[c], mv0[c], layer.gamma[c], layer.beta[c]);
        assert_eq!(y, want, "inference y[{i}]");
    }
    // An inference pass moves nothing.
    layer.update_state(&buf);
    assert_eq!((*layer.moving_mean, *layer.moving_variance), (mm0, mv0));

    layer.forward_batch(&x, batch, &mut buf, Activation::Linear, true);
    let training_y = buf.y.clone();
    // Forward passes never move the state by themselves.
    assert_eq!((*layer.moving_mean, *layer.moving_variance), (mm0, mv0));
    layer.update_state(&buf);
    for c in 0..5 {
        let values: Vec<f64> = (0..batch).map(|r| f64::from(x[r * 5 + c])).collect();
        let mean = values.iter().sum::<f64>() / batch as f64;
        let biased = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / batch as f64;
        let want_mean = f64::from(mm0[c]) * 0.99 + mean * 0.01;
        let want_var = f64::from(mv0[c]) * 0.99 + biased * 0.01;
        let unbiased = f64::from(mv0[c]) * 0.99 + biased * batch as f64 / (batch - 1) as f64 * 0.01;
        let (got_mean, got_var) = (
            f64::from(layer.moving_mean[c]),
            f64::from(layer.moving_variance[c]),
        );
        assert!(
            (got_mean - want_mean).abs() < 1e-6,
            "moving mean {c}: {got_mean} vs {want_mean}"
        );
        assert!(
            (got_var - want_var).abs() < 1e-6,
            "moving variance {c}: {got_var} vs {want_var}"
        );
        // The two differ by `0.01 · σ²/(m − 1)`, far above the 1e-6 of the check above.
        assert!(
            (got_var - unbiased).abs() > 0.5 * (unbiased - want_var) && unbiased - want_var > 1e-5,
            "moving variance {c} is updated with the biased variance"
        );
    }
    // Inference after the update uses the new moving statistics, not the batch's.
    layer.forward_batch(&x, batch, &mut buf, Activation::Linear, false);
    for (i, &y) in buf.y.iter().enumerate() {
        let c = i % 5;
        let (mean, variance) = (layer.moving_mean[c], layer.moving_variance[c]);
        let want = normalized(x[i], mean, variance, layer.gamma[c], layer.beta[c]);
        assert_eq!(y, want, "inference after the update, y[{i}]");
        assert!(
            (y - training_y[i]).abs() > 1e-3,
            "y[{i}] equals the batch-statistics output"
        );
    }
}

/// With `gamma = 1`, `beta = 0`, a training pass gives each channel mean 0 and variance
/// `σ²/(σ² + ε)`, and a constant channel becomes 0 (no division by zero).
#[test]
fn training_output_is_standardized_per_channel() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let layer = Image::new(&mut rng);
    let batch = 5;
    let mut x = inputs(&mut rng, Image::INPUTS * batch, 4);
    for r in 0..x.len() / 4 {
        x[r * 4 + 3] = 7.5;
    }
    let mut buf = Buffers::default();
    layer.forward_batch(&x, batch, &mut buf, Activation::Linear, true);
    let rows = x.len() / 4;
    for c in 0..3 {
        let ys: Vec<f64> = (0..rows).map(|r| f64::from(buf.y[r * 4 + c])).collect();
        let xs: Vec<f64> = (0..rows).map(|r| f64::from(x[r * 4 + c])).collect();
        let mean = ys.iter().sum::<f64>() / rows as f64;
        let var = ys.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / rows as f64;
        let xm = xs.iter().sum::<f64>() / rows as f64;
        let xv = xs.iter().map(|v| (v - xm) * (v - xm)).sum::<f64>() / rows as f64;
        assert!(mean.abs() < 1e-6, "channel {c} mean {mean}");
        let want = xv / (xv + 0.001f32 as f64);
        assert!(
            (var - want).abs() < 1e-5,
            "channel {c} variance {var}, want {want}"
        );
    }
    assert!((0..rows).all(|r| buf.y[r * 4 + 3] == 0.0));
}

/// Keras's parameter layout: `gamma`, `beta` trainable; `moving_mean`, `moving_variance` state,
/// initialised to 1, 0, 0, 1; gradients have no state to speak of.
#[test]
fn keras_initial_values_and_tensor_names() {
    let layer = Sequence::new(&mut ChaCha8Rng::seed_from_u64(0));
    let mut seen = Vec::new();
    layer.for_each_param(&mut |n, v| seen.push((n, v.to_vec())));
    layer.for_each_state(&mut |n, v| seen.push((n, v.to_vec())));
    assert_eq!(
        seen,
        [
            ("gamma", vec![1.0; 3]),
            ("beta", vec![0.0; 3]),
            ("moving_mean", vec![0.0; 3]),
            ("moving_variance", vec![1.0; 3]),
        ]
    );
    assert_eq!(Sequence::PARAMS, 6);
    assert_eq!((Sequence::INPUTS, Sequence::OUTPUTS), (12, 12));
    let mut zipped = 0;
    let mut other = Sequence::zeros();
    other.zip_params_mut(&layer, &mut |_, _| zipped += 1);
    assert_eq!(zipped, 2);
}
