//! Keras's weight regularizers (`kernel_regularizer = l2(1e-4)`): a penalty on a tensor's
//! values that training adds to the loss, and its gradient to the tensor's.

use crate::simd::simd_fn;

/// `l1 · Σ|w| + l2 · Σw²`, Keras's `L1L2` (`l1(…)`, `l2(…)` and `l1_l2(…)` are its cases).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regularizer {
    /// The factor of the sum of absolute values.
    pub l1: f32,
    /// The factor of the sum of squares.
    pub l2: f32,
}

impl Regularizer {
    /// The penalty on `w`, summed in double precision.
    pub fn penalty(&self, w: &[f32]) -> f32 {
        let mut sums = [0.0; 2];
        abs_and_square_sums(w, &mut sums);
        let [abs, squares] = sums;
        (f64::from(self.l1) * abs + f64::from(self.l2) * squares) as f32
    }

    /// Adds the penalty's gradient, `l1 · sign(w) + 2 · l2 · w`, to `grad` (with `sign(0) = 0`,
    /// as TensorFlow's).
    pub fn add_gradient(&self, w: &[f32], grad: &mut [f32]) {
        add_penalty_gradient(self.l1, 2.0 * self.l2, w, grad);
    }
}

simd_fn! {
    /// `[Σ|w|, Σw²]` in `f64`, each in eight lanes added together at the end rather than one
    /// chain of additions. Measured on MobileNetV1's step, the pass still takes about 1%: it
    /// waits on the weights' loads (they are cold after the backward pass), and LLVM vectorises
    /// the lanes only two wide; taking the penalty in the optimizer's pass over the weights
    /// would be the fix.
    fn abs_and_square_sums(w: &[f32], sums: &mut [f64; 2]) {
        const LANES: usize = 8;
        let (mut abs, mut squares) = ([0.0f64; LANES], [0.0f64; LANES]);
        let chunks = w.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for l in 0..LANES {
                let v = f64::from(c[l]);
                abs[l] += v.abs();
                squares[l] += v * v;
            }
        }
        for (l, &v) in rest.iter().enumerate() {
            let v = f64::from(v);
            abs[l] += v.abs();
            squares[l] += v * v;
        }
        *sums = [abs.iter().sum(), squares.iter().sum()];
    }
}

simd_fn! {
    /// `grad += l1 · sign(w) + two_l2 · w`.
    fn add_penalty_gradient(l1: f32, two_l2: f32, w: &[f32], grad: &mut [f32]) {
        for (g, &v) in grad.iter_mut().zip(w) {
            let sign = if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            };
            *g += l1 * sign + two_l2 * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The penalty summed in lanes is the plain sum's to double precision for every length
    /// (whole blocks of eight, a remainder, both, nothing), and the gradient the formula's bits.
    #[test]
    fn lanes_give_the_plain_loops_results_at_every_length() {
        let r = Regularizer { l1: 0.25, l2: 3e-4 };
        for len in 0..41 {
            let w: Vec<f32> = (0..len).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.173).collect();
            let (abs, squares) = w.iter().fold((0.0f64, 0.0f64), |(a, s), &v| {
                (a + f64::from(v.abs()), s + f64::from(v) * f64::from(v))
            });
            let plain = 0.25 * abs + f64::from(3e-4f32) * squares;
            let got = f64::from(r.penalty(&w));
            assert!(
                (got - plain).abs() <= 1e-7 * plain.max(1e-30),
                "{len}: {got} vs {plain}"
            );
            let mut grad: Vec<f32> = (0..len).map(|i| i as f32 * 0.5).collect();
            let want: Vec<f32> = grad
                .iter()
                .zip(&w)
                .map(|(&g, &v)| g + (0.25 * v.signum() * f32::from(u8::from(v != 0.0)) + 6e-4 * v))
                .collect();
            r.add_gradient(&w, &mut grad);
            assert_eq!(grad, want, "gradient, {len} values");
        }
    }
}
