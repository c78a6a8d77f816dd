//! `LSTM`, `GRU` and `SimpleRNN` (Keras's defaults: `tanh` activation, `sigmoid` recurrent
//! activation, GRU with `reset_after = True`), and `GlobalAveragePooling1D` /
//! `GlobalMaxPooling1D` over time, and `Bidirectional` around any of the three (see
//! `bidirectional`).
//!
//! Layout: a sequence sample is `T × D` floats, time-major (element `t·D + d`), and a batch is
//! its samples back to back, so the batch is the column-major `D × T·B` matrix whose column
//! `b·T + t` is step `t` of sample `b`. With `return_sequences` (`SEQ`) a layer outputs the same
//! layout with `U` features; without, the `U` features of the last step.
//!
//! Weights are stored exactly as Keras's arrays in row-major order, so weight files map 1:1: the
//! `(D, G)` `kernel` is the column-major `G × D` matrix (`G = gates · U`, gate blocks stacked in
//! Keras's order: LSTM `i, f, c, o`; GRU `z, r, h`), the `(U, G)` `recurrent_kernel` the `G × U`
//! one, and the `bias` its `G` floats (GRU: `(2, G)`, the input bias then the recurrent bias,
//! stored as a `G × 2` matrix).
//!
//! In training, the forward pass copies the batch to step-major order (column `t·B + b`) and runs the
//! steps, projecting the inputs of a chunk of steps at a time just before they are needed
//! (`kernel · X + bias`, one GEMM of `G × D · D × C` for a chunk of `C ≈ 256` batch columns);
//! each step adds one GEMM `recurrent_kernel · h_{t−1}` (`G × U · U × B`) to its projection and
//! does the gate arithmetic on the `G × B` block. The activated gates, states and cell states of
//! every step stay in the cache for backpropagation through time, which walks the steps
//! backwards with one GEMM per step (`recurrent_kernelᵀ · ∂L/∂z_t` for `∂L/∂h_{t−1}`) and
//! accumulates the kernel, recurrent-kernel and input gradients a chunk of steps at a time (one
//! GEMM each per chunk), while the chunk is still in cache. The element-wise gate arithmetic is
//! plain loops over contiguous slices, compiled for AVX-512 and FMA when the CPU has them, with
//! `exp`, `sigmoid` and `tanh` written so that they vectorise (`f32::exp` and `f32::tanh` are
//! libm calls per element) and accurate to a few ulps. Nothing is allocated once the buffers
//! have grown to the largest batch.
//!
//! The backward pass consumes the cache (the gates become their gradients, the copied inputs
//! `∂L/∂x`): each backward pass needs its own forward pass, as in training. In inference
//! (`training == false`) nothing is cached beyond a step (see `infer`).
//!
//! With Keras's padding mask ([`MaskedLayer`], from `Embedding(mask_zero = true)`), a padded
//! step leaves the state (and LSTM cell state) of its sample unchanged and outputs it again, as
//! Keras 3 does: with `return_sequences`, leading padded steps output the zero initial state and
//! later ones repeat the last unpadded output; an all-padding sample outputs zeros.
//!
//! Recurrent layers ignore the `activation` the network passes them (`network!` passes
//! `Linear`): their activations are fixed to Keras's defaults. The initial state is zero, as in
//! Keras without `initial_state`; there is no dropout and no statefulness.

mod bidirectional;
mod cells;
mod infer;
mod kernels;
mod pool1d;

use nalgebra::{SMatrix, SVector};
use rand::Rng;

pub use bidirectional::{Bidirectional, BidirectionalCache, Recurrent};
pub use pool1d::{GlobalAveragePooling1D, GlobalMaxPooling1D};

use super::{Buffers, Layer, Mask, MaskedLayer, TrainingBytes, bytes_of, fit_len};
use crate::activation::Activation;
use crate::aligned::Param;
use crate::floats::Floats;
use crate::init;
use infer::recurrent_infer;
use kernels::{recurrent_backward, recurrent_forward};

// ---------------------------------------------------------------------------------------------
// The layers.

/// Keras's `LSTM(units, return_sequences)` over `T` steps of `D` features, with `U` units and
/// `G = 4·U` gate rows (the macro computes it; anything else fails to compile when the layer is
/// used).
///
/// `i = σ(x·W_i + h·R_i + b_i)`, `f`, `o` likewise, `c̃ = tanh(x·W_c + h·R_c + b_c)`,
/// `c_t = f·c_{t−1} + i·c̃`, `h_t = o·tanh(c_t)`. Keras's defaults: glorot-uniform `kernel`,
/// orthogonal `recurrent_kernel`, `unit_forget_bias` (the forget gate's bias 1, the others 0).
#[allow(clippy::upper_case_acronyms)]
pub struct LSTM<
    const T: usize,
    const D: usize,
    const U: usize,
    const SEQ: bool,
    const G: usize,
    const BIAS: bool = true,
> {
    /// Input weights, `G × D` (Keras's `(D, 4U)` row-major), gates `i, f, c, o`.
    pub kernel: Param<SMatrix<f32, G, D>>,
    /// Recurrent weights, `G × U` (Keras's `(U, 4U)` row-major).
    pub recurrent_kernel: Param<SMatrix<f32, G, U>>,
    /// The bias, `G` floats; without `BIAS` (`use_bias = False`) zero, and neither visited,
    /// saved nor trained.
    pub bias: Param<SVector<f32, G>>,
}

/// Keras's `GRU(units, return_sequences)` with its defaults (`reset_after = True`) over `T`
/// steps of `D` features, with `U` units and `G = 3·U` gate rows.
///
/// `z = σ(x·W_z + b_z + h·R_z + b'_z)`, `r` likewise,
/// `ĥ = tanh(x·W_h + b_h + r·(h·R_h + b'_h))`, `h_t = z·h_{t−1} + (1 − z)·ĥ`, where `b` is the
/// input bias (`bias` column 0) and `b'` the recurrent bias (column 1). Keras's defaults:
/// glorot-uniform `kernel`, orthogonal `recurrent_kernel`, zero `bias`.
#[allow(clippy::upper_case_acronyms)]
pub struct GRU<
    const T: usize,
    const D: usize,
    const U: usize,
    const SEQ: bool,
    const G: usize,
    const BIAS: bool = true,
> {
    /// Input weights, `G × D` (Keras's `(D, 3U)` row-major), gates `z, r, h`.
    pub kernel: Param<SMatrix<f32, G, D>>,
    /// Recurrent weights, `G × U` (Keras's `(U, 3U)` row-major).
    pub recurrent_kernel: Param<SMatrix<f32, G, U>>,
    /// The biases, `G × 2` (Keras's `(2, 3U)` row-major): the input bias, then the recurrent
    /// bias; without `BIAS` (`use_bias = False`) zero, and neither visited, saved nor trained.
    pub bias: Param<SMatrix<f32, G, 2>>,
}

/// Keras's `SimpleRNN(units, return_sequences)` over `T` steps of `D` features with `U` units:
/// `h_t = tanh(x·W + h_{t−1}·R + b)`. Keras's defaults: glorot-uniform `kernel`, orthogonal
/// `recurrent_kernel`, zero `bias`.
pub struct SimpleRNN<const T: usize, const D: usize, const U: usize, const SEQ: bool, const BIAS: bool = true>
{
    /// Input weights, `U × D` (Keras's `(D, U)` row-major).
    pub kernel: Param<SMatrix<f32, U, D>>,
    /// Recurrent weights, `U × U` (Keras's `(U, U)` row-major).
    pub recurrent_kernel: Param<SMatrix<f32, U, U>>,
    /// The bias, `U` floats; without `BIAS` (`use_bias = False`) zero, and neither visited,
    /// saved nor trained.
    pub bias: Param<SVector<f32, U>>,
}

/// Training cache of a recurrent layer; buffers a cell does not need stay empty.
#[derive(Debug, Default)]
pub struct RecurrentCache {
    /// The batch's inputs in step-major order (`D × T·B`, column `t·B + b`); reused for
    /// `∂L/∂x` in the backward pass.
    xs: Floats,
    /// `G × T·B`, step-major: the pre-activations of every step, turned into the activated
    /// gates by the forward pass and into `∂L/∂(input projection)` by the backward pass.
    gates: Floats,
    /// States, `U × (T + 1)·B`: block 0 the initial (zero) state, block `t + 1` `h_t`.
    h: Floats,
    /// LSTM cell states, laid out as `h`.
    c: Floats,
    /// LSTM `tanh(c_t)`, `U × T·B`.
    tc: Vec<f32>,
    /// GRU: the step's recurrent projection `R·h_{t−1} + b'` (`G × B` scratch).
    rec: Vec<f32>,
    /// GRU: the candidate's recurrent projection `R_h·h_{t−1} + b'_h` of every step,
    /// `U × T·B`.
    rech: Vec<f32>,
    /// GRU: `∂L/∂(recurrent projection)`, `G × T·B` (equal to `gates` but in the candidate
    /// block, which the reset gate scales).
    drec: Vec<f32>,
    /// The state (and cell-state) gradients of the samples padded at the current step, `2 · U × B`.
    saved: Vec<f32>,
    /// `∂L/∂h` of the current step, `U × B`.
    dh: Vec<f32>,
    /// LSTM `∂L/∂c` of the current step, `U × B`.
    dc: Vec<f32>,
    /// `recurrent_kernelᵀ`, `U × G`, aligned as the kernels are: the backward pass's products
    /// stream it as their left operand.
    rt: Floats,
    /// `kernelᵀ`, `D × G`, likewise.
    kt: Floats,
    /// The batch of the last forward pass (checked by the backward pass).
    batch: usize,
    /// Whether a backward pass has run since the last forward pass (and consumed the cache).
    consumed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    Lstm,
    Gru,
    Simple,
}

/// The sizes of a recurrent layer and its batch, for the non-generic kernels.
#[derive(Clone, Copy, Debug)]
struct Dims {
    cell: Cell,
    steps: usize,
    inputs: usize,
    units: usize,
    seq: bool,
}

impl Dims {
    /// Gate rows: `gates · units`.
    const fn g(&self) -> usize {
        self.units
            * match self.cell {
                Cell::Lstm => 4,
                Cell::Gru => 3,
                Cell::Simple => 1,
            }
    }

    const fn outputs(&self) -> usize {
        if self.seq {
            self.steps * self.units
        } else {
            self.units
        }
    }

    /// Bytes per sample of the training buffers: the output and its gradient, and the
    /// [`RecurrentCache`] buffers that `recurrent_forward` and `recurrent_backward` size by the
    /// batch (every one but the transposed kernels).
    const fn training_bytes(&self) -> TrainingBytes {
        let (t, u, g) = (self.steps, self.units, self.g());
        // xs, gates, h (with the initial state) and dh.
        let mut floats = 2 * self.outputs() + self.inputs * t + g * t + u * (t + 1) + u;
        floats += match self.cell {
            // c (with the initial cell state), tc, dc.
            Cell::Lstm => u * (t + 1) + u * t + u,
            // rec (one step's), rech, drec.
            Cell::Gru => g + u * t + g * t,
            Cell::Simple => 0,
        };
        TrainingBytes {
            // `saved`: the state and cell-state gradients of padded samples.
            masked: bytes_of::<f32>(2 * u),
            ..TrainingBytes::always(bytes_of::<f32>(floats))
        }
    }
}

/// A layer's parameters as flat slices: kernel, recurrent kernel, input bias and (GRU)
/// recurrent bias.
struct Weights<'a> {
    kernel: &'a [f32],
    recurrent: &'a [f32],
    bias: &'a [f32],
    recurrent_bias: &'a [f32],
}

/// Their gradients, in the same order.
struct Grads<'a> {
    kernel: &'a mut [f32],
    recurrent: &'a mut [f32],
    bias: &'a mut [f32],
    recurrent_bias: &'a mut [f32],
}

/// The parts of `Layer` that are the same for the three recurrent layers.
macro_rules! recurrent_common {
    () => {
        const INPUTS: usize = T * D;
        const OUTPUTS: usize = if SEQ { T * U } else { U };
        type In = f32;
        type Extra = RecurrentCache;
        const TRAINING_BYTES: TrainingBytes = Self::DIMS.training_bytes();

        fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
            f("kernel", self.kernel.as_slice());
            f("recurrent_kernel", self.recurrent_kernel.as_slice());
            if BIAS {
                f("bias", self.bias.as_slice());
            }
        }

        fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
            f("kernel", self.kernel.as_mut_slice());
            f("recurrent_kernel", self.recurrent_kernel.as_mut_slice());
            if BIAS {
                f("bias", self.bias.as_mut_slice());
            }
        }

        fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
            f(self.kernel.as_mut_slice(), other.kernel.as_slice());
            f(
                self.recurrent_kernel.as_mut_slice(),
                other.recurrent_kernel.as_slice(),
            );
            if BIAS {
                f(self.bias.as_mut_slice(), other.bias.as_slice());
            }
        }

        fn zeros() -> Self {
            const { Self::CHECK };
            Self {
                kernel: Param::zeroed(),
                recurrent_kernel: Param::zeroed(),
                bias: Param::zeroed(),
            }
        }

        #[inline]
        fn forward_batch(
            &self,
            x: &[f32],
            batch: usize,
            buf: &mut Buffers<RecurrentCache>,
            _activation: Activation,
            training: bool,
        ) {
            self.forward_impl(x, batch, buf, training, None);
        }

        fn pre_activation<'a>(_extra: &'a RecurrentCache, y: &'a [f32]) -> &'a [f32] {
            y
        }

        #[inline]
        fn backward_batch(
            &self,
            x: &[f32],
            batch: usize,
            buf: &mut Buffers<RecurrentCache>,
            _activation: Activation,
            grads: &mut Self,
            dx: Option<&mut [f32]>,
        ) {
            self.backward_impl(x, batch, buf, grads, dx, None);
        }
    };
}

/// The masked passes, and the bodies shared with the unmasked ones.
macro_rules! recurrent_masked {
    ($name:ident [$($p:ident: $t:ty),*]) => {
        impl<$(const $p: $t),*> $name<$($p),*> {
            fn weights(&self) -> Weights<'_> {
                let (bias, recurrent_bias) = self.bias.as_slice().split_at(Self::INPUT_BIAS);
                Weights {
                    kernel: self.kernel.as_slice(),
                    recurrent: self.recurrent_kernel.as_slice(),
                    bias,
                    recurrent_bias,
                }
            }

            fn grads(&mut self) -> Grads<'_> {
                let (bias, recurrent_bias) = self.bias.as_mut_slice().split_at_mut(Self::INPUT_BIAS);
                Grads {
                    kernel: self.kernel.as_mut_slice(),
                    recurrent: self.recurrent_kernel.as_mut_slice(),
                    bias,
                    recurrent_bias,
                }
            }

            #[inline]
            fn forward_impl(
                &self,
                x: &[f32],
                batch: usize,
                buf: &mut Buffers<RecurrentCache>,
                training: bool,
                mask: Option<Mask<'_>>,
            ) {
                const { Self::CHECK };
                let out = <Self as Layer>::OUTPUTS * batch;
                fit_len(&mut buf.y, out);
                fit_len(&mut buf.dy, out);
                let pass = if training { recurrent_forward } else { recurrent_infer };
                pass(&Self::DIMS, &self.weights(), x, batch, &mut buf.extra, &mut buf.y, mask);
            }

            #[inline]
            fn backward_impl(
                &self,
                x: &[f32],
                batch: usize,
                buf: &mut Buffers<RecurrentCache>,
                grads: &mut Self,
                dx: Option<&mut [f32]>,
                mask: Option<Mask<'_>>,
            ) {
                assert_eq!(
                    x.len(),
                    <Self as Layer>::INPUTS * batch,
                    "recurrent input has the wrong length"
                );
                recurrent_backward(
                    &Self::DIMS,
                    &self.weights(),
                    batch,
                    &mut buf.extra,
                    &buf.dy[..<Self as Layer>::OUTPUTS * batch],
                    grads.grads(),
                    dx,
                    mask,
                );
            }
        }

        impl<$(const $p: $t),*> MaskedLayer for $name<$($p),*> {
            #[inline]
            fn forward_masked(
                &self,
                x: &[f32],
                batch: usize,
                buf: &mut Buffers<RecurrentCache>,
                _activation: Activation,
                training: bool,
                mask: Mask<'_>,
            ) {
                self.forward_impl(x, batch, buf, training, Some(mask));
            }

            #[inline]
            fn backward_masked(
                &self,
                x: &[f32],
                batch: usize,
                buf: &mut Buffers<RecurrentCache>,
                _activation: Activation,
                grads: &mut Self,
                dx: Option<&mut [f32]>,
                mask: Mask<'_>,
            ) {
                self.backward_impl(x, batch, buf, grads, dx, Some(mask));
            }
        }
    };
}

recurrent_masked!(LSTM [T: usize, D: usize, U: usize, SEQ: bool, G: usize, BIAS: bool]);
recurrent_masked!(GRU [T: usize, D: usize, U: usize, SEQ: bool, G: usize, BIAS: bool]);
recurrent_masked!(SimpleRNN [T: usize, D: usize, U: usize, SEQ: bool, BIAS: bool]);

/// `Clone` through `zeros` (field-wise `Box::clone` would build the matrices on the stack) and
/// a short `Debug`.
macro_rules! recurrent_clone_debug {
    ($name:ident [$($p:ident: $t:ty),*] $fmt:literal) => {
        impl<$(const $p: $t),*> Clone for $name<$($p),*> {
            fn clone(&self) -> Self {
                let mut copy = <Self as Layer>::zeros();
                copy.kernel.copy_from(&*self.kernel);
                copy.recurrent_kernel.copy_from(&*self.recurrent_kernel);
                copy.bias.copy_from(&*self.bias);
                copy
            }
        }

        impl<$(const $p: $t),*> core::fmt::Debug for $name<$($p),*> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, $fmt)
            }
        }
    };
}

recurrent_clone_debug!(LSTM [T: usize, D: usize, U: usize, SEQ: bool, G: usize, BIAS: bool]
    "LSTM<{T} steps × {D} → {U} units, return_sequences {SEQ}, use_bias {BIAS}>");
recurrent_clone_debug!(GRU [T: usize, D: usize, U: usize, SEQ: bool, G: usize, BIAS: bool]
    "GRU<{T} steps × {D} → {U} units, return_sequences {SEQ}, use_bias {BIAS}>");
recurrent_clone_debug!(SimpleRNN [T: usize, D: usize, U: usize, SEQ: bool, BIAS: bool]
    "SimpleRNN<{T} steps × {D} → {U} units, return_sequences {SEQ}, use_bias {BIAS}>");

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool, const G: usize, const BIAS: bool>
    LSTM<T, D, U, SEQ, G, BIAS>
{
    /// Post-monomorphisation check of the sizes.
    const CHECK: () = {
        assert!(
            T > 0 && D > 0 && U > 0,
            "LSTM: steps, features and units must be positive"
        );
        assert!(G == 4 * U, "LSTM: G must be 4·U");
    };

    const DIMS: Dims = Dims {
        cell: Cell::Lstm,
        steps: T,
        inputs: D,
        units: U,
        seq: SEQ,
    };

    /// Keras's defaults: glorot-uniform kernel (`fan_in = D`, `fan_out = 4U`), orthogonal
    /// recurrent kernel, `unit_forget_bias` (1 for the forget gate, 0 elsewhere) unless there
    /// is no bias.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = <Self as Layer>::zeros();
        init::glorot_uniform(rng, D, G, layer.kernel.as_mut_slice());
        init::orthogonal(rng, U, G, layer.recurrent_kernel.as_mut_slice());
        if BIAS {
            layer.bias.as_mut_slice()[U..2 * U].fill(1.0);
        }
        layer
    }

    /// All of the bias is the input bias.
    const INPUT_BIAS: usize = Self::DIMS.g();
}

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool, const G: usize, const BIAS: bool> Layer
    for LSTM<T, D, U, SEQ, G, BIAS>
{
    const PARAMS: usize = G * D + G * U + if BIAS { G } else { 0 };
    recurrent_common!();
}

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool, const G: usize, const BIAS: bool>
    GRU<T, D, U, SEQ, G, BIAS>
{
    /// Post-monomorphisation check of the sizes.
    const CHECK: () = {
        assert!(
            T > 0 && D > 0 && U > 0,
            "GRU: steps, features and units must be positive"
        );
        assert!(G == 3 * U, "GRU: G must be 3·U");
    };

    const DIMS: Dims = Dims {
        cell: Cell::Gru,
        steps: T,
        inputs: D,
        units: U,
        seq: SEQ,
    };

    /// Keras's defaults: glorot-uniform kernel (`fan_in = D`, `fan_out = 3U`), orthogonal
    /// recurrent kernel, zero biases.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = <Self as Layer>::zeros();
        init::glorot_uniform(rng, D, G, layer.kernel.as_mut_slice());
        init::orthogonal(rng, U, G, layer.recurrent_kernel.as_mut_slice());
        layer
    }

    /// The bias is Keras's `(2, 3U)`: input bias, then recurrent bias (`reset_after`).
    const INPUT_BIAS: usize = G;
}

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool, const G: usize, const BIAS: bool> Layer
    for GRU<T, D, U, SEQ, G, BIAS>
{
    const PARAMS: usize = G * D + G * U + if BIAS { 2 * G } else { 0 };
    recurrent_common!();
}

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool, const BIAS: bool>
    SimpleRNN<T, D, U, SEQ, BIAS>
{
    /// Post-monomorphisation check of the sizes.
    const CHECK: () = assert!(
        T > 0 && D > 0 && U > 0,
        "SimpleRNN: steps, features and units must be positive"
    );

    const DIMS: Dims = Dims {
        cell: Cell::Simple,
        steps: T,
        inputs: D,
        units: U,
        seq: SEQ,
    };

    /// Keras's defaults: glorot-uniform kernel (`fan_in = D`, `fan_out = U`), orthogonal
    /// recurrent kernel, zero bias.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = <Self as Layer>::zeros();
        init::glorot_uniform(rng, D, U, layer.kernel.as_mut_slice());
        init::orthogonal(rng, U, U, layer.recurrent_kernel.as_mut_slice());
        layer
    }

    /// All of the bias is the input bias.
    const INPUT_BIAS: usize = Self::DIMS.g();
}

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool, const BIAS: bool> Layer
    for SimpleRNN<T, D, U, SEQ, BIAS>
{
    const PARAMS: usize = U * D + U * U + if BIAS { U } else { 0 };
    recurrent_common!();
}
