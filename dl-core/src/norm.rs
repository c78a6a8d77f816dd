//! `BatchNormalization` at inference (the moving statistics) and `LayerNormalization`.

use crate::params::BatchNormalization;

/// `y = gamma · (x − moving_mean) / √(moving_variance + ε) + beta` over the last axis of `x`
/// (every row of `C` features).
pub fn batch_norm<const C: usize>(p: &BatchNormalization<C>, epsilon: f32, x: &[f32], y: &mut [f32]) {
    // Once per channel, not per value: a square root and a division cost more than the rest
    // of a row (and `libm`'s square root is a legacy SSE instruction, slow among AVX code).
    let mut scale = [0.0f32; C];
    let mut shift = [0.0f32; C];
    for c in 0..C {
        scale[c] = p.gamma[c] / libm::sqrtf(p.moving_variance[c] + epsilon);
        shift[c] = p.beta[c] - p.moving_mean[c] * scale[c];
    }
    for (xs, ys) in x.chunks_exact(C).zip(y.chunks_exact_mut(C)) {
        for c in 0..C {
            ys[c] = xs[c] * scale[c] + shift[c];
        }
    }
}

/// `LayerNormalization`: every row of `d` features of `x` normalized by its own mean and biased
/// variance, `y = gamma · (x − μ) / √(σ² + ε) + beta`; an empty `gamma` is 1 (`scale = false`), an
/// empty `beta` 0 (`center = false`).
pub fn layer_norm(d: usize, gamma: &[f32], beta: &[f32], epsilon: f32, x: &[f32], y: &mut [f32]) {
    for (xs, ys) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
        // Sums in f64, as the training runtime computes them.
        let mean = xs.iter().map(|&v| f64::from(v)).sum::<f64>() / d as f64;
        let var = xs
            .iter()
            .map(|&v| (f64::from(v) - mean) * (f64::from(v) - mean))
            .sum::<f64>()
            / d as f64;
        let r = 1.0 / libm::sqrt(var + f64::from(epsilon));
        for (i, (o, &v)) in ys.iter_mut().zip(xs).enumerate() {
            let g = gamma.get(i).map_or(1.0, |&g| f64::from(g));
            let b = beta.get(i).map_or(0.0, |&b| f64::from(b));
            *o = ((f64::from(v) - mean) * r * g + b) as f32;
        }
    }
}

/// `√x` during constant evaluation (`f64::sqrt` is not a `const fn`): Newton's method from the
/// halved exponent, exact to the last bits of an `f64` after a few steps; `x > 0`.
const fn sqrt(x: f64) -> f64 {
    let mut y = f64::from_bits((x.to_bits() >> 1) + (1023u64 << 51));
    let mut i = 0;
    while i < 8 {
        y = 0.5 * (y + x / y);
        i += 1;
    }
    y
}

/// `gamma / √(moving_variance + ε)` of channel `c`, in `f64`.
const fn scale<const C: usize>(p: &BatchNormalization<C>, epsilon: f32, c: usize) -> f64 {
    p.gamma[c] as f64 / sqrt(p.moving_variance[c] as f64 + epsilon as f64)
}

/// The kernel of a layer followed by the batch normalization `p`, folded: each weight of
/// output channel `c` (the last axis, so channel `i % C` of the flat kernel: a `Conv2D`'s HWIO,
/// a `Dense`'s `[in, out]`, a `DepthwiseConv2D`'s `[kh, kw, c, m]`) times that channel's scale.
/// For constant evaluation: embedded networks fold at compile time, as TFLite's converter does.
pub const fn fold_kernel<const N: usize, const C: usize>(
    mut kernel: [f32; N],
    p: &BatchNormalization<C>,
    epsilon: f32,
) -> [f32; N] {
    let mut i = 0;
    while i < N {
        kernel[i] = (kernel[i] as f64 * scale(p, epsilon, i % C)) as f32;
        i += 1;
    }
    kernel
}

/// The bias of that layer, folded: `(bias − moving_mean) · scale + beta`.
pub const fn fold_bias<const C: usize>(
    mut bias: [f32; C],
    p: &BatchNormalization<C>,
    epsilon: f32,
) -> [f32; C] {
    let mut c = 0;
    while c < C {
        let folded = (bias[c] as f64 - p.moving_mean[c] as f64) * scale(p, epsilon, c) + p.beta[c] as f64;
        bias[c] = folded as f32;
        c += 1;
    }
    bias
}

/// The smallest standard deviation `Normalization` divides by: Keras's `backend.epsilon()`.
pub const NORMALIZATION_EPSILON: f32 = 1e-7;

/// What `Normalization` divides a feature by: `max(√variance, 1e-7)`, as Keras 3.
#[inline]
pub fn normalization_std(variance: f32) -> f32 {
    libm::sqrtf(variance).max(NORMALIZATION_EPSILON)
}

/// `Normalization`: every row of `C` features of `x` standardised with the adapted statistics,
/// `y = (x − mean) / max(√variance, 1e-7)` (a division, as Keras's, for the same bits).
pub fn normalization<const C: usize>(mean: &[f32; C], variance: &[f32; C], x: &[f32], y: &mut [f32]) {
    let mut std = [0.0f32; C];
    for c in 0..C {
        std[c] = normalization_std(variance[c]);
    }
    for (xs, ys) in x.chunks_exact(C).zip(y.chunks_exact_mut(C)) {
        for c in 0..C {
            ys[c] = (xs[c] - mean[c]) / std[c];
        }
    }
}

/// `Rescaling`: `y = x · scale + offset`, element by element.
pub fn rescale(scale: f32, offset: f32, x: &[f32], y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = v * scale + offset;
    }
}
