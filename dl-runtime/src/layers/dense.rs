//! `Dense(units, activation)`: `y = f(W·x + b)`.

use nalgebra::{SMatrix, SVector};
use rand::Rng;

use super::{Buffers, Layer, TrainingBytes, bytes_of, fit_len, keeps_pre_activation, output_and_gradient};
use crate::activation::Activation;
use crate::aligned::Param;
use crate::gemm::{Op, gemm, gemm_bias};
use crate::init;

/// A fully connected layer from `I` to `O` features, with a bias unless `BIAS` is `false`
/// (`use_bias = False`: no `bias` tensor is visited, saved or trained, and the one kept stays
/// zero).
///
/// The kernel is stored as an `O × I` column-major matrix, which is byte for byte Keras's
/// `(I, O)` row-major `kernel`, so weight files map 1:1.
pub struct Dense<const I: usize, const O: usize, const BIAS: bool = true> {
    /// The weights, `O × I` (`y = kernel · x`).
    pub kernel: Param<SMatrix<f32, O, I>>,
    /// The bias, one per unit.
    pub bias: Param<SVector<f32, O>>,
}

impl<const I: usize, const O: usize, const BIAS: bool> Dense<I, O, BIAS> {
    /// Keras's defaults: glorot-uniform kernel, zero bias.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = Self::zeros();
        init::glorot_uniform(rng, I, O, layer.kernel.as_mut_slice());
        layer
    }

    /// One sample, without touching the heap: `f(W·x + b)`.
    #[inline]
    pub fn forward(&self, x: &SVector<f32, I>, activation: Activation) -> SVector<f32, O> {
        let mut z = SVector::<f32, O>::zeros();
        let relu = activation == Activation::Relu;
        gemm_bias(
            O,
            1,
            I,
            self.kernel.as_slice(),
            x.as_slice(),
            self.bias.as_slice(),
            relu,
            z.as_mut_slice(),
        );
        if relu {
            return z;
        }
        activation.apply_in_place(z.as_mut_slice(), O);
        z
    }
}

impl<const I: usize, const O: usize, const BIAS: bool> Clone for Dense<I, O, BIAS> {
    fn clone(&self) -> Self {
        // Field-wise `Box::clone` would build the matrix on the stack first.
        let mut copy = Self::zeros();
        copy.kernel.copy_from(&*self.kernel);
        copy.bias.copy_from(&*self.bias);
        copy
    }
}

impl<const I: usize, const O: usize, const BIAS: bool> core::fmt::Debug for Dense<I, O, BIAS> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Dense<{I}, {O}{}>", if BIAS { "" } else { ", no bias" })
    }
}

/// Training cache of a dense layer.
#[derive(Debug, Default)]
pub struct DenseCache {
    /// Pre-activations `W·x + b`; left empty for `linear` and `relu`, whose backward passes
    /// need `y` only.
    pub z: Vec<f32>,
}

impl<const I: usize, const O: usize, const BIAS: bool> Layer for Dense<I, O, BIAS> {
    const PARAMS: usize = I * O + if BIAS { O } else { 0 };
    const INPUTS: usize = I;
    const OUTPUTS: usize = O;
    type In = f32;
    type Extra = DenseCache;
    const TRAINING_BYTES: TrainingBytes = TrainingBytes {
        pre_activation: bytes_of::<f32>(O),
        ..TrainingBytes::always(output_and_gradient::<Self>())
    };

    fn zeros() -> Self {
        Dense {
            kernel: Param::zeroed(),
            bias: Param::zeroed(),
        }
    }

    fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
        f("kernel", self.kernel.as_slice());
        if BIAS {
            f("bias", self.bias.as_slice());
        }
    }

    fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
        f("kernel", self.kernel.as_mut_slice());
        if BIAS {
            f("bias", self.bias.as_mut_slice());
        }
    }

    fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        f(self.kernel.as_mut_slice(), other.kernel.as_slice());
        if BIAS {
            f(self.bias.as_mut_slice(), other.bias.as_slice());
        }
    }

    #[inline]
    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<DenseCache>,
        activation: Activation,
        _training: bool,
    ) {
        fit_len(&mut buf.y, O * batch);
        fit_len(&mut buf.dy, O * batch);
        dense_forward(
            I,
            O,
            self.kernel.as_slice(),
            self.bias.as_slice(),
            x,
            batch,
            &mut buf.extra.z,
            &mut buf.y,
            activation,
        );
    }

    fn pre_activation<'a>(extra: &'a DenseCache, y: &'a [f32]) -> &'a [f32] {
        // `z` is not kept for `linear` and `relu`, whose losses read `y` only.
        if extra.z.len() == y.len() { &extra.z } else { y }
    }

    #[inline]
    fn backward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<DenseCache>,
        activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        fit_len(&mut buf.dy, O * batch);
        dense_backward(
            I,
            O,
            self.kernel.as_slice(),
            x,
            batch,
            &buf.extra.z,
            &buf.y,
            &mut buf.dy,
            activation,
            grads.kernel.as_mut_slice(),
            grads.bias.as_mut_slice(),
            dx,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn dense_forward(
    inputs: usize,
    units: usize,
    kernel: &[f32],
    bias: &[f32],
    x: &[f32],
    batch: usize,
    z: &mut Vec<f32>,
    y: &mut [f32],
    activation: Activation,
) {
    assert_eq!(x.len(), inputs * batch, "dense input has the wrong length");
    if !keeps_pre_activation(activation) {
        // Bias and relu applied as the product is stored: the output is written once and no
        // pre-activation kept (relu6 clips it in place after).
        z.clear();
        let relu = activation == Activation::Relu;
        gemm_bias(units, batch, inputs, kernel, x, bias, relu, y);
        if activation == Activation::Relu6 {
            activation.apply_in_place(y, units);
        }
    } else {
        fit_len(z, units * batch);
        gemm_bias(units, batch, inputs, kernel, x, bias, false, z);
        activation.apply(z, y, units);
    }
}

#[allow(clippy::too_many_arguments)]
fn dense_backward(
    inputs: usize,
    units: usize,
    kernel: &[f32],
    x: &[f32],
    batch: usize,
    z: &[f32],
    y: &[f32],
    dy: &mut [f32],
    activation: Activation,
    grad_kernel: &mut [f32],
    grad_bias: &mut [f32],
    dx: Option<&mut [f32]>,
) {
    let kept_z = z.len() == y.len();
    assert!(
        dy.len() == y.len() && (kept_z || !keeps_pre_activation(activation)),
        "Dense::backward_batch needs the forward pass of the same batch"
    );
    let z = if kept_z { z } else { y };
    // ∂L/∂z and ∂L/∂b = Σ_batch ∂L/∂z in one pass, a sample's column at a time.
    grad_bias.fill(0.0);
    for ((d, z), y) in dy
        .chunks_exact_mut(units)
        .zip(z.chunks_exact(units))
        .zip(y.chunks_exact(units))
    {
        activation.backward(z, y, d, units);
        for (g, &d) in grad_bias.iter_mut().zip(&*d) {
            *g += d;
        }
    }
    let dz = &*dy;
    // ∂L/∂W = dz · xᵀ, ∂L/∂x = Wᵀ · dz.
    gemm(units, inputs, batch, 1.0, dz, Op::N, x, Op::T, 0.0, grad_kernel);
    if let Some(dx) = dx {
        gemm(inputs, batch, units, 1.0, kernel, Op::T, dz, Op::N, 0.0, dx);
    }
}
