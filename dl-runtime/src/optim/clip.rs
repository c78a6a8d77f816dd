/// Gradient clipping, applied before the optimizer sees the gradients (Keras's `clipnorm`,
/// `global_clipnorm` and `clipvalue`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clip {
    /// Scale each tensor's gradient so its L2 norm is at most this (Keras `clipnorm`).
    Norm(f32),
    /// Scale all gradients together so their joint L2 norm is at most this (`global_clipnorm`).
    GlobalNorm(f32),
    /// Clamp every gradient component to `[-v, v]` (`clipvalue`).
    Value(f32),
}

impl Clip {
    /// Clips one tensor in place. `global_norm` is the joint norm of all gradients, needed only
    /// by [`Clip::GlobalNorm`].
    pub fn apply(self, grad: &mut [f32], global_norm: f32) {
        match self {
            Clip::Norm(max) => scale_to(grad, norm(grad), max),
            Clip::GlobalNorm(max) => scale_to(grad, global_norm, max),
            Clip::Value(v) => grad.iter_mut().for_each(|g| *g = g.clamp(-v, v)),
        }
    }
}

/// L2 norm, accumulated in f64 so large tensors do not lose precision.
pub fn norm(v: &[f32]) -> f32 {
    v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt() as f32
}

fn scale_to(grad: &mut [f32], norm: f32, max: f32) {
    if norm > max {
        let s = max / norm;
        grad.iter_mut().for_each(|g| *g *= s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_by_norm_and_value() {
        let mut g = [3.0, 4.0];
        Clip::Norm(1.0).apply(&mut g, 0.0);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
        let mut g = [3.0, 4.0];
        Clip::Norm(10.0).apply(&mut g, 0.0);
        assert_eq!(g, [3.0, 4.0]);
        let mut g = [3.0, 4.0];
        Clip::GlobalNorm(1.0).apply(&mut g, 10.0);
        assert!((g[0] - 0.3).abs() < 1e-6 && (g[1] - 0.4).abs() < 1e-6);
        let mut g = [3.0, -4.0, 0.5];
        Clip::Value(1.0).apply(&mut g, 0.0);
        assert_eq!(g, [1.0, -1.0, 0.5]);
    }
}
