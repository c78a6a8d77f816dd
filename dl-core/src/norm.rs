//! `BatchNormalization` at inference (the moving statistics) and `LayerNormalization`.

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
