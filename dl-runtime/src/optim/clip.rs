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
    /// Checks the bound, which must be finite and above 0: a negative norm would reverse the
    /// gradient (training climbs), 0 would zero it, and NaN would turn it into NaN. `fit` and
    /// [`Trainer::train_on_batch`](crate::train::Trainer::train_on_batch) call it first.
    pub fn validate(self) -> Result<(), super::BadHyperparameter> {
        let (name, bound) = match self {
            Clip::Norm(v) => ("Clip::Norm", v),
            Clip::GlobalNorm(v) => ("Clip::GlobalNorm", v),
            Clip::Value(v) => ("Clip::Value", v),
        };
        if bound.is_finite() && bound > 0.0 {
            Ok(())
        } else {
            Err(super::BadHyperparameter(format!(
                "{name}({bound}): the bound must be finite and above 0"
            )))
        }
    }

    /// Clips one tensor in place. `global_norm` is the joint norm of all gradients, needed only
    /// by [`Clip::GlobalNorm`]. The bound should pass [`Clip::validate`]; with one that does not,
    /// the result is meaningless but this does not panic.
    pub fn apply(self, grad: &mut [f32], global_norm: f32) {
        match self {
            Clip::Norm(max) => scale_to(grad, norm(grad), max),
            Clip::GlobalNorm(max) => scale_to(grad, global_norm, max),
            // Not `f32::clamp`, which panics when the bounds are NaN or out of order; nor
            // `max`/`min`, which would turn a NaN gradient into a bound and hide it.
            Clip::Value(v) => grad.iter_mut().for_each(|g| {
                if *g > v {
                    *g = v;
                } else if *g < -v {
                    *g = -v;
                }
            }),
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
        // An infinite gradient is clamped too; a NaN one stays NaN for the step's check.
        let mut g = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN];
        Clip::Value(2.0).apply(&mut g, 0.0);
        assert_eq!(g[..2], [2.0, -2.0]);
        assert!(g[2].is_nan());
    }

    #[test]
    fn a_bound_that_is_not_finite_and_positive_is_refused_and_does_not_panic() {
        for bad in [-1.0, 0.0, f32::NAN, f32::INFINITY] {
            for clip in [Clip::Norm(bad), Clip::GlobalNorm(bad), Clip::Value(bad)] {
                let e = clip.validate().unwrap_err().to_string();
                assert!(e.contains("must be finite and above 0"), "{e}");
                clip.apply(&mut [1.0, -3.0], 3.2);
            }
        }
        assert_eq!(
            Clip::Value(-1.0).validate().unwrap_err().to_string(),
            "Clip::Value(-1): the bound must be finite and above 0"
        );
        assert!(Clip::Norm(0.5).validate().is_ok());
    }
}
