//! Keras's weight regularizers (`kernel_regularizer = l2(1e-4)`): a penalty on a tensor's
//! values that training adds to the loss, and its gradient to the tensor's.

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
        let (mut abs, mut squares) = (0.0f64, 0.0f64);
        for &v in w {
            abs += f64::from(v.abs());
            squares += f64::from(v) * f64::from(v);
        }
        (f64::from(self.l1) * abs + f64::from(self.l2) * squares) as f32
    }

    /// Adds the penalty's gradient, `l1 · sign(w) + 2 · l2 · w`, to `grad` (with `sign(0) = 0`,
    /// as TensorFlow's).
    pub fn add_gradient(&self, w: &[f32], grad: &mut [f32]) {
        let (l1, l2) = (self.l1, 2.0 * self.l2);
        for (g, &v) in grad.iter_mut().zip(w) {
            let sign = if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            };
            *g += l1 * sign + l2 * v;
        }
    }
}
