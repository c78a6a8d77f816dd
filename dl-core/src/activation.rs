//! Activations with Keras's definitions, in place on one sample's features, with `libm` for the
//! transcendental functions so that nothing needs `std`.

/// An activation as named in Keras (the same set and constants as the training runtime's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `linear`: the identity.
    Linear,
    /// `relu`: `max(x, 0)`.
    Relu,
    /// `sigmoid`: `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `tanh`.
    Tanh,
    /// `softmax` over the features of the sample.
    Softmax,
    /// `leaky_relu` with slope 0.2 for negative inputs (Keras's default).
    LeakyRelu,
    /// `elu` with `alpha = 1` (Keras's default).
    Elu,
    /// `gelu`, the exact form `x · Φ(x)`.
    Gelu,
    /// `softplus`: `log(1 + exp(x))`.
    Softplus,
    /// `swish` (also `silu`): `x · sigmoid(x)`.
    Swish,
    /// `relu6`: `min(max(x, 0), 6)`.
    Relu6,
    /// `hard_sigmoid`: `relu6(x + 3) / 6`, Keras 3's definition.
    HardSigmoid,
    /// `hard_silu` (also `hard_swish`): `x · hard_sigmoid(x)`.
    HardSwish,
    /// Keras's `relu(x, negative_slope, max_value, threshold)` (the `ReLU` layer): `min(x,
    /// max_value)` above `threshold`, `negative_slope · (x − threshold)` at or below it.
    ReluWith {
        /// The largest output (`f32::INFINITY`: none).
        max_value: f32,
        /// Slope at or below the threshold.
        negative_slope: f32,
        /// Inputs above it pass.
        threshold: f32,
    },
}

/// Keras's `sigmoid`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// Keras's `tanh`.
#[inline]
pub fn tanh(x: f32) -> f32 {
    libm::tanhf(x)
}

/// Keras 3's `hard_sigmoid`: `relu6(x + 3) / 6`.
#[inline]
pub fn hard_sigmoid(x: f32) -> f32 {
    (x + 3.0).clamp(0.0, 6.0) / 6.0
}

impl Activation {
    /// Applies an element-wise activation to part of a sample (softmax, which needs the whole
    /// sample, is applied by the caller once the sample is complete).
    #[inline]
    pub fn apply_elementwise(self, v: &mut [f32]) {
        if self != Activation::Softmax {
            self.apply(v)
        }
    }

    /// Applies the activation to every value of `v` (for softmax: over all of `v`, which must be
    /// one sample's features).
    pub fn apply(self, v: &mut [f32]) {
        match self {
            Activation::Linear => {}
            Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::Sigmoid => v.iter_mut().for_each(|x| *x = sigmoid(*x)),
            Activation::Tanh => v.iter_mut().for_each(|x| *x = tanh(*x)),
            Activation::LeakyRelu => v.iter_mut().for_each(|x| {
                if *x < 0.0 {
                    *x *= 0.2
                }
            }),
            Activation::Elu => v.iter_mut().for_each(|x| {
                if *x < 0.0 {
                    *x = libm::expm1f(*x)
                }
            }),
            Activation::Gelu => v
                .iter_mut()
                .for_each(|x| *x = 0.5 * *x * (1.0 + libm::erff(*x * core::f32::consts::FRAC_1_SQRT_2))),
            // Written so that neither large positive nor large negative inputs overflow.
            Activation::Softplus => v
                .iter_mut()
                .for_each(|x| *x = x.max(0.0) + libm::log1pf(libm::expf(-x.abs()))),
            Activation::Swish => v.iter_mut().for_each(|x| *x *= sigmoid(*x)),
            Activation::Relu6 => v.iter_mut().for_each(|x| *x = x.clamp(0.0, 6.0)),
            Activation::HardSigmoid => v.iter_mut().for_each(|x| *x = hard_sigmoid(*x)),
            Activation::HardSwish => v.iter_mut().for_each(|x| *x *= hard_sigmoid(*x)),
            Activation::ReluWith {
                max_value,
                negative_slope,
                threshold,
            } => v.iter_mut().for_each(|x| {
                *x = if *x > threshold {
                    x.min(max_value)
                } else {
                    negative_slope * (*x - threshold)
                }
            }),
            Activation::Softmax => {
                let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for x in v.iter_mut() {
                    *x = libm::expf(*x - max);
                    sum += *x;
                }
                let inv = 1.0 / sum;
                v.iter_mut().for_each(|x| *x *= inv);
            }
        }
    }
}
