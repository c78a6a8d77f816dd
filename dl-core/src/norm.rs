//! `BatchNormalization` at inference: the moving statistics.

use crate::params::BatchNormalization;

/// `y = gamma · (x − moving_mean) / √(moving_variance + ε) + beta` over the last axis of `x`
/// (every row of `C` features).
pub fn batch_norm<const C: usize>(p: &BatchNormalization<C>, epsilon: f32, x: &[f32], y: &mut [f32]) {
    for (xs, ys) in x.chunks_exact(C).zip(y.chunks_exact_mut(C)) {
        for c in 0..C {
            let scale = p.gamma[c] / libm::sqrtf(p.moving_variance[c] + epsilon);
            ys[c] = (xs[c] - p.moving_mean[c]) * scale + p.beta[c];
        }
    }
}
