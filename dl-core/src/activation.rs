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
