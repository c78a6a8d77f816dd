//! `BatchNormalization` at inference: the moving statistics.

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
