//! Activation functions with Keras's definitions, applied to column-major `features × batch`
//! blocks so that softmax can work per sample while the element-wise ones ignore the layout.

use crate::simd::simd_fn;

/// An activation as named in Keras. The macro passes these as constants, so the `match` in each
/// kernel folds away after inlining.
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
    /// `softmax` over the features of each sample.
    Softmax,
    /// `leaky_relu`: `x` for positive inputs, `negative_slope · x` otherwise (Keras default 0.2).
    LeakyRelu {
        /// Slope for negative inputs.
        negative_slope: f32,
    },
    /// `elu`: `x` for positive inputs, `alpha · (exp(x) − 1)` otherwise (Keras default 1.0).
    Elu {
        /// Scale of the negative part.
        alpha: f32,
    },
    /// `gelu`, the exact form `x · Φ(x)` (Keras's default `approximate = False`).
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

/// Keras's default slope of `leaky_relu`.
pub const LEAKY_RELU_SLOPE: f32 = 0.2;
/// Keras's default `alpha` of `elu`.
pub const ELU_ALPHA: f32 = 1.0;

#[inline]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Keras 3's `hard_sigmoid`, `relu6(x + 3) / 6`, rounded as TensorFlow rounds it.
#[inline]
pub(crate) fn hard_sigmoid(x: f32) -> f32 {
    (x + 3.0).clamp(0.0, 6.0) / 6.0
}

/// The derivative of [`hard_sigmoid`]: `1/6` where `relu6`'s input lies strictly inside
/// `(0, 6)` (TensorFlow's `relu6` gradient), zero outside.
#[inline]
fn hard_sigmoid_slope(x: f32) -> f32 {
    let a = x + 3.0;
    if a > 0.0 && a < 6.0 { 1.0 / 6.0 } else { 0.0 }
}

#[inline]
fn softplus(x: f32) -> f32 {
    // Written so that neither large positive nor large negative inputs overflow.
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

impl Activation {
    /// The Keras name, as written in a declaration.
    pub const fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
            Activation::Swish => "swish",
            Activation::Relu6 => "relu6",
            Activation::HardSigmoid => "hard_sigmoid",
            Activation::HardSwish => "hard_silu",
            Activation::ReluWith { .. } => "relu",
        }
    }

    /// Computes `y = f(z)` for a column-major block with `features` rows.
    #[inline]
    pub fn apply(self, z: &[f32], y: &mut [f32], features: usize) {
        debug_assert_eq!(z.len(), y.len());
        match self {
            Activation::Linear => y.copy_from_slice(z),
            Activation::Relu => relu(z, y),
            Activation::Sigmoid => map(z, y, sigmoid),
            Activation::Tanh => map(z, y, f32::tanh),
            Activation::LeakyRelu { negative_slope } => {
                map(z, y, |v| if v > 0.0 { v } else { negative_slope * v })
            }
            Activation::Elu { alpha } => map(z, y, |v| if v > 0.0 { v } else { alpha * v.exp_m1() }),
            Activation::Gelu => map(z, y, |v| {
                0.5 * v * (1.0 + libm::erff(v * core::f32::consts::FRAC_1_SQRT_2))
            }),
            Activation::Softplus => map(z, y, softplus),
            Activation::Swish => map(z, y, |v| v * sigmoid(v)),
            Activation::Relu6 => map(z, y, |v| v.clamp(0.0, 6.0)),
            Activation::HardSigmoid => map(z, y, hard_sigmoid),
            Activation::HardSwish => map(z, y, |v| v * hard_sigmoid(v)),
            Activation::ReluWith {
                max_value,
                negative_slope,
                threshold,
            } => map(z, y, |v| {
                if v > threshold {
                    v.min(max_value)
                } else {
                    negative_slope * (v - threshold)
                }
            }),
            Activation::Softmax => {
                for (zc, yc) in z.chunks_exact(features).zip(y.chunks_exact_mut(features)) {
                    softmax(zc, yc);
                }
            }
        }
    }

    /// Applies the activation in place, e.g. to a single sample's output.
    #[inline]
    pub fn apply_in_place(self, x: &mut [f32], features: usize) {
        match self {
            Activation::Linear => {}
            // Inline: a single sample's few values are not worth a dispatched call.
            Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Softmax => {
                for c in x.chunks_exact_mut(features) {
                    softmax_in_place(c);
                }
            }
            _ => {
                // Element-wise activations read each value once before writing it.
                for v in x.iter_mut() {
                    let mut out = [0.0];
                    self.apply(core::slice::from_ref(v), &mut out, 1);
                    *v = out[0];
                }
            }
        }
    }

    /// Turns `d = ∂L/∂y` into `∂L/∂z` in place, given the block's `z` and `y = f(z)`.
    #[inline]
    pub fn backward(self, z: &[f32], y: &[f32], d: &mut [f32], features: usize) {
        debug_assert_eq!(y.len(), d.len());
        match self {
            Activation::Linear => {}
            Activation::Relu => relu_backward_in_place(y, d),
            Activation::Sigmoid => scale(y, d, |y| y * (1.0 - y)),
            Activation::Tanh => scale(y, d, |y| 1.0 - y * y),
            Activation::LeakyRelu { negative_slope } => {
                // `z` decides the branch so that a slope of zero or below stays correct.
                scale(z, d, |z| if z > 0.0 { 1.0 } else { negative_slope })
            }
            Activation::Elu { alpha } => {
                for ((d, &z), &y) in d.iter_mut().zip(z).zip(y) {
                    *d *= if z > 0.0 { 1.0 } else { y + alpha };
                }
            }
            Activation::Gelu => scale(z, d, |z| {
                let cdf = 0.5 * (1.0 + libm::erff(z * core::f32::consts::FRAC_1_SQRT_2));
                cdf + z * FRAC_1_SQRT_2PI * (-0.5 * z * z).exp()
            }),
            Activation::Softplus => scale(z, d, sigmoid),
            Activation::Swish => scale(z, d, |z| {
                let s = sigmoid(z);
                s + z * s * (1.0 - s)
            }),
            // `0 < y < 6` exactly where `0 < z < 6`, so relu6 reads `y` as relu does.
            Activation::Relu6 => scale(y, d, |y| if y > 0.0 && y < 6.0 { 1.0 } else { 0.0 }),
            Activation::HardSigmoid => scale(z, d, hard_sigmoid_slope),
            Activation::HardSwish => scale(z, d, |z| hard_sigmoid(z) + z * hard_sigmoid_slope(z)),
            Activation::ReluWith {
                max_value,
                negative_slope,
                threshold,
            } => scale(z, d, |z| match () {
                // TensorFlow's clip passes the gradient at the maximum itself.
                _ if z > threshold => (z <= max_value) as u8 as f32,
                _ => negative_slope,
            }),
            Activation::Softmax => {
                for (yc, dc) in y.chunks_exact(features).zip(d.chunks_exact_mut(features)) {
                    let dot: f32 = yc.iter().zip(dc.iter()).map(|(y, d)| y * d).sum();
                    for (d, &y) in dc.iter_mut().zip(yc) {
                        *d = y * (*d - dot);
                    }
                }
            }
        }
    }

    /// `dx = ∂L/∂z` from `dy = ∂L/∂y`, leaving `dy` as it is: relu's in one pass over the
    /// three buffers, the others as [`Activation::backward`] on a copy of `dy`.
    pub fn backward_into(self, z: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32], features: usize) {
        if self == Activation::Relu {
            relu_backward(y, dy, dx);
        } else {
            dx.copy_from_slice(dy);
            self.backward(z, y, dx, features);
        }
    }
}

// Relu's loops are memory-bound passes over whole batches (after every BatchNormalization and
// `Add` of a ResNet), so they get the 16-lane version; both give the same bits.

simd_fn! {
    fn relu(z: &[f32], y: &mut [f32]) {
        map(z, y, |v| v.max(0.0));
    }
}

simd_fn! {
    fn relu_backward_in_place(y: &[f32], d: &mut [f32]) {
        scale(y, d, relu_slope);
    }
}

simd_fn! {
    fn relu_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
        for ((dx, &dy), &y) in dx.iter_mut().zip(dy).zip(y) {
            *dx = dy * relu_slope(y);
        }
    }
}

#[inline(always)]
pub(crate) fn relu_slope(y: f32) -> f32 {
    if y > 0.0 { 1.0 } else { 0.0 }
}

#[inline(always)]
fn map(z: &[f32], y: &mut [f32], f: impl Fn(f32) -> f32) {
    for (y, &z) in y.iter_mut().zip(z) {
        *y = f(z);
    }
}

#[inline(always)]
fn scale(src: &[f32], d: &mut [f32], f: impl Fn(f32) -> f32) {
    for (d, &s) in d.iter_mut().zip(src) {
        *d *= f(s);
    }
}

fn softmax(z: &[f32], y: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (y, &z) in y.iter_mut().zip(z) {
        *y = (z - max).exp();
        sum += *y;
    }
    let inv = 1.0 / sum;
    y.iter_mut().for_each(|y| *y *= inv);
}

fn softmax_in_place(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    x.iter_mut().for_each(|v| *v *= inv);
}
