//! The layer kernels the `network!` macro calls, one module per layer kind.
//!
//! Each layer is generic over its sizes, which the macro computes and passes as const arguments;
//! the heavy loops live in non-generic functions so that they are compiled (and optimised) once,
//! here, rather than in every crate that declares a network.
//!
//! Weights, biases and statistics are [`Param`]s: boxed matrices that start on a 64-byte
//! boundary (a cache line) and dereference to the `nalgebra` matrix, so `layer.kernel[(r, c)]`,
//! `layer.kernel.as_slice()` and `*layer.kernel = m` work as on the matrix itself.

mod activation_layer;
mod batch_norm;
mod chunks;
mod conv1d;
mod conv2d;
mod dense;
mod depthwise;
mod dropout;
mod embedding;
mod flatten;
mod layer_norm;
mod merge;
mod normalization;
mod pool;
mod recurrent;
mod rescaling;
mod upsampling;
mod zero_padding;

pub use crate::aligned::Param;
pub use activation_layer::{ActivationCache, ActivationLayer};
pub use batch_norm::{
    BatchNormCache, BatchNormInputGradient, BatchNormalization, GradientRowSums, Normalized,
    NormalizedOutput, RowSums,
};
pub use chunks::{ChunkObserver, Input, InputChunks, OutputGradient};
pub use conv1d::{Conv1D, Conv1DCache};
pub use conv2d::Conv2D;
pub use dense::Dense;
pub use depthwise::{DepthwiseCache, DepthwiseConv2D, SeparableCache, SeparableConv2D};
pub use dropout::Dropout;
pub(crate) use dropout::draw_key;
pub use embedding::{Embedding, EmbeddingCache};
pub use flatten::Flatten;
pub use layer_norm::{LayerNormCache, LayerNormalization};
pub use merge::{Concatenate, Merge, MergeOp};
#[doc(hidden)]
pub use merge::{GradientTo, add_gradient, gradient_scratch};
pub use normalization::{Moments, Normalization};
#[doc(hidden)]
pub use normalization::{input_moments, layer_moments};
pub use pool::{AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D};
pub use recurrent::{
    Bidirectional, BidirectionalCache, GRU, GlobalAveragePooling1D, GlobalMaxPooling1D, LSTM, Recurrent,
    RecurrentCache, SimpleRNN,
};
pub use rescaling::Rescaling;
pub use upsampling::UpSampling2D;
pub use zero_padding::ZeroPadding2D;

/// The padding mask of `Embedding(mask_zero = true)`: the batch's token ids, sample-major
/// (`tokens[b·T + t]` is step `t` of sample `b`); a step whose id is 0 is padding.
pub type Mask<'a> = &'a [u32];

use crate::activation::Activation;
use crate::floats::Floats;
use crate::simd::simd_fn;

/// Per-layer buffers of a training batch: the layer's output, the gradient flowing into it, and
/// whatever else its backward pass needs (`Extra`). Buffers grow to the largest batch seen and
/// are then reused, so a training step allocates nothing after the first batch.
#[derive(Debug, Default)]
pub struct Buffers<E> {
    /// The layer's output for the batch, column-major `features × batch`.
    pub y: Floats,
    /// `∂L/∂y`, written by the next layer (or the loss) during the backward pass.
    pub dy: Floats,
    /// Layer-specific cache (pre-activations, pooling indices, …).
    pub extra: E,
}

/// Bytes per sample of the buffers a layer's [`Buffers`] hold after a training step (forward and
/// backward), by the condition under which each is held. Every figure counts the buffers the
/// workspace keeps in proportion to the batch: the output `y`, its gradient `dy`, and the
/// per-sample part of `extra` (pre-activations, pooling indices, dropout masks, recurrent gates
/// and states, …). Buffers whose size does not grow with the batch (transposed kernels, a
/// convolution's im2col chunk, batch-normalization statistics) are not counted.
///
/// Each layer declares its own as [`Layer::TRAINING_BYTES`], next to the code that sizes the
/// buffers; `network!` sums them into the network's `TRAINING_BYTES_PER_SAMPLE`, and a test
/// checks the sum against the bytes a workspace really grows by per sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrainingBytes {
    /// Held in every training step.
    pub always: usize,
    /// The pre-activations, kept unless the activation's backward pass can read `y` instead
    /// (see [`keeps_pre_activation`]).
    pub pre_activation: usize,
    /// Scratch for `∂L/∂x`, held only when a layer upstream needs that gradient (every layer
    /// but the first).
    pub input_gradient: usize,
    /// Held only when the layer runs behind a padding mask.
    pub masked: usize,
    /// The pre-activations a loss fused with the layer's activation reads (sigmoid and softmax,
    /// see [`Layer::pre_activation`]), for a layer that keeps them for that alone.
    pub fused_pre_activation: usize,
}

impl TrainingBytes {
    /// Buffers held in every case only.
    pub const fn always(bytes: usize) -> Self {
        TrainingBytes {
            always: bytes,
            pre_activation: 0,
            input_gradient: 0,
            masked: 0,
            fused_pre_activation: 0,
        }
    }

    /// The bytes per sample for a layer with this `activation`, run with or without an input
    /// gradient and a padding mask.
    pub const fn per_sample(self, activation: Activation, input_gradient: bool, masked: bool) -> usize {
        let mut bytes = self.always;
        if keeps_pre_activation(activation) {
            bytes += self.pre_activation;
        }
        if fused_with_loss(activation) {
            bytes += self.fused_pre_activation;
        }
        if input_gradient {
            bytes += self.input_gradient;
        }
        if masked {
            bytes += self.masked;
        }
        bytes
    }
}

/// Whether a loss may fuse with `activation` and so read the pre-activations (sigmoid with
/// binary cross-entropy, softmax with the categorical ones).
pub const fn fused_with_loss(activation: Activation) -> bool {
    matches!(activation, Activation::Sigmoid | Activation::Softmax)
}

/// Bytes of `n` values of type `T`.
pub(crate) const fn bytes_of<T>(n: usize) -> usize {
    n * core::mem::size_of::<T>()
}

/// Bytes per sample of a layer's output and its gradient (`y` and `dy`), which every layer holds.
pub(crate) const fn output_and_gradient<L: Layer>() -> usize {
    bytes_of::<f32>(2 * L::OUTPUTS)
}

/// Whether a layer with `activation` keeps its pre-activations `z` for the backward pass: every
/// activation but `linear` (`z = y`), `relu` (`z > 0 ⇔ y > 0`) and `relu6` (`0 < z < 6 ⇔ 0 < y <
/// 6`), whose backward passes read
/// `y`. Neither is fused with a loss, the only other reader of `z` (through
/// [`Layer::pre_activation`]), which gets `y` then. Skipping `z` saves writing and reading back
/// a buffer the size of the output, the largest of a network after its first convolution.
pub const fn keeps_pre_activation(activation: Activation) -> bool {
    !matches!(
        activation,
        Activation::Linear | Activation::Relu | Activation::Relu6
    )
}

/// Resizes a buffer (a `Vec<f32>` or a workspace's [`Floats`]) without shrinking its capacity;
/// new values are zeros.
#[inline]
pub(crate) fn fit_len(v: &mut impl FitLen, len: usize) {
    v.fit_len(len);
}

/// A buffer [`fit_len`] resizes.
pub(crate) trait FitLen {
    fn fit_len(&mut self, len: usize);
}

impl FitLen for Vec<f32> {
    #[inline]
    fn fit_len(&mut self, len: usize) {
        if self.len() != len {
            self.resize(len, 0.0);
        }
    }
}

impl FitLen for Floats {
    #[inline]
    fn fit_len(&mut self, len: usize) {
        Floats::fit_len(self, len);
    }
}

/// Runs `$body` with the const `$c` equal to `$channels` where that is one of the common channel
/// counts, else `0`, which the kernels read as "as many as the slices hold". With a known count
/// the per-channel sums stay in registers across the rows instead of going through memory
/// (a store-to-load chain per row).
macro_rules! with_channels {
    ($channels:expr, |$c:ident| $body:expr) => {
        match $channels {
            8 => {
                const $c: usize = 8;
                $body
            }
            16 => {
                const $c: usize = 16;
                $body
            }
            32 => {
                const $c: usize = 32;
                $body
            }
            64 => {
                const $c: usize = 64;
                $body
            }
            _ => {
                const $c: usize = 0;
                $body
            }
        }
    };
}
pub(crate) use with_channels;

/// Runs `$body` with the const `$name` equal to the run-time flag `$flag`, so that a kernel is
/// compiled once for each value (with a relu and without, writing and adding) and the choice is
/// made once per call rather than per value.
macro_rules! with_flag {
    ($flag:expr, |$name:ident| $body:expr) => {
        if $flag {
            const $name: bool = true;
            $body
        } else {
            const $name: bool = false;
            $body
        }
    };
}
pub(crate) use with_flag;

simd_fn! {
    /// `sums[i] += Σ_columns columns[i, col]` over the columns (`sums.len()` values each, laid
    /// end to end), each row summed over the columns in order: a bias's gradient from its
    /// layer's `∂L/∂z`. With 8 to 64 rows the sums stay in registers across the columns; summed
    /// through memory they wait on a store and a reload per column.
    pub(crate) fn add_column_sums(columns: &[f32], sums: &mut [f32]) {
        with_channels!(sums.len(), |R| add_columns::<R>(columns, sums))
    }
}

/// [`add_column_sums`] for `R` rows, or `sums.len()` when `R` is 0.
#[inline(always)]
fn add_columns<const R: usize>(columns: &[f32], sums: &mut [f32]) {
    if R == 0 {
        for col in columns.chunks_exact(sums.len()) {
            sums.iter_mut().zip(col).for_each(|(s, &v)| *s += v);
        }
        return;
    }
    let mut acc: [f32; R] = sums[..R].try_into().expect("R sums");
    for col in columns.chunks_exact(R) {
        acc.iter_mut().zip(col).for_each(|(s, &v)| *s += v);
    }
    sums[..R].copy_from_slice(&acc);
}

/// What the generated network needs from every layer kind: construction, parameter access and
/// the batched forward and backward passes.
pub trait Layer: Sized {
    /// Number of trainable parameters.
    const PARAMS: usize;
    /// Input features per sample (flattened).
    const INPUTS: usize;
    /// Output features per sample (flattened).
    const OUTPUTS: usize;
    /// What the layer reads: `f32` features, or `u32` token ids for an `Embedding`.
    type In: Copy + Default + Send + Sync + 'static;
    /// Layer-specific training cache.
    type Extra: Default;
    /// Bytes per sample of the buffers a training step leaves in this layer's [`Buffers`].
    const TRAINING_BYTES: TrainingBytes;

    /// A layer with every parameter zero, allocated directly on the heap (also the shape of its
    /// gradients).
    fn zeros() -> Self;

    /// Visits each parameter tensor with its Keras name (`kernel`, `bias`, …), in a fixed order.
    fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32]));

    /// Visits each parameter tensor mutably, in the same order as [`Layer::for_each_param`].
    fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32]));

    /// Visits each parameter tensor of `self` mutably beside the same tensor of `other`.
    fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32]));

    /// Visits each non-trainable state tensor (a batch normalization's `moving_mean` and
    /// `moving_variance`) with its Keras name, in a fixed order. The optimizer never sees these;
    /// weight files do. None by default.
    fn for_each_state<'a>(&'a self, _f: &mut impl FnMut(&'static str, &'a [f32])) {}

    /// Visits each state tensor mutably, in the same order as [`Layer::for_each_state`].
    fn for_each_state_mut(&mut self, _f: &mut impl FnMut(&'static str, &mut [f32])) {}

    /// Updates the state from the last forward pass into `buf` (a no-op unless it was a training
    /// pass). The trainer calls it once per successful training step. Nothing by default.
    fn update_state(&mut self, _buf: &Buffers<Self::Extra>) {}

    /// Batched forward: reads `x` (`INPUTS × batch`) and fills `buf.y` (`OUTPUTS × batch`) and
    /// the cache the backward pass needs.
    fn forward_batch(
        &self,
        x: &[Self::In],
        batch: usize,
        buf: &mut Buffers<Self::Extra>,
        activation: Activation,
        training: bool,
    );

    /// Tells a layer that draws random numbers (Dropout) where its next training forward pass
    /// in this cache draws from: a key packing the training step and the first sample's place in
    /// the step's batch (see the `draw_key` of `Dropout`). The trainer sets it before every
    /// pass, shard by shard. Nothing by default.
    fn set_stream(_extra: &mut Self::Extra, _stream: u64) {}

    /// The values before the activation, for losses fused with it (sigmoid and softmax).
    fn pre_activation<'a>(extra: &'a Self::Extra, y: &'a [f32]) -> &'a [f32];

    /// Batched backward: turns `buf.dy` into gradients of the parameters (overwriting `grads`)
    /// and, when asked, `∂L/∂x` into `dx`. `buf.dy` is used as scratch.
    fn backward_batch(
        &self,
        x: &[Self::In],
        batch: usize,
        buf: &mut Buffers<Self::Extra>,
        activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
    );

    /// [`backward_batch`](Self::backward_batch) with `∂L/∂x` added to what `dx` holds rather
    /// than written over it: how `network!` sums the gradients of a tensor several layers read.
    /// By default the gradient is written into `scratch` (grown to `dx`'s length once) and added
    /// in; a layer whose products can add as they store overrides this, sparing the scratch and
    /// a pass over it. Either way each value is the layer's gradient, summed first, then added,
    /// so the bits are the same.
    #[allow(clippy::too_many_arguments)]
    fn backward_batch_adding(
        &self,
        x: &[Self::In],
        batch: usize,
        buf: &mut Buffers<Self::Extra>,
        activation: Activation,
        grads: &mut Self,
        dx: &mut [f32],
        scratch: &mut Floats,
    ) {
        let part = gradient_scratch(scratch, dx.len());
        self.backward_batch(x, batch, buf, activation, grads, Some(&mut *part));
        add_gradient(dx, part);
    }
}

/// A layer that honours Keras's padding mask (`Embedding(mask_zero = true)` upstream): the
/// recurrent layers (a padded step carries the previous state and output unchanged) and
/// `GlobalAveragePooling1D` (the mean over the unpadded steps).
///
/// `network!` calls these instead of [`Layer::forward_batch`] and [`Layer::backward_batch`] on
/// the mask-aware layers downstream of a masking embedding, passing the network's input token
/// ids as the mask; layers that merely pass the mask on (`Dense` per time step, `Dropout`) need
/// nothing, and layers that would drop it are rejected at compile time.
pub trait MaskedLayer: Layer<In = f32> {
    /// [`Layer::forward_batch`] with padded steps masked out; `mask` holds `T` ids per sample.
    fn forward_masked(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<Self::Extra>,
        activation: Activation,
        training: bool,
        mask: Mask<'_>,
    );

    /// [`Layer::backward_batch`] of [`MaskedLayer::forward_masked`], with the same `mask`: padded
    /// steps receive no input gradient.
    #[allow(clippy::too_many_arguments)]
    fn backward_masked(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<Self::Extra>,
        activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
        mask: Mask<'_>,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatched column sums give the bits of the plain loop, row by row in column order,
    /// for the counts held in registers and for the others.
    #[test]
    fn column_sums_match_the_plain_loop_bit_for_bit() {
        for rows in [1, 3, 8, 16, 17, 32, 64, 128] {
            let columns: Vec<f32> = (0..rows * 37)
                .map(|v| ((v * 29) % 23) as f32 * 0.173 - 1.9)
                .collect();
            let start: Vec<f32> = (0..rows).map(|i| i as f32 * 0.31).collect();
            let mut expect = start.clone();
            for col in columns.chunks_exact(rows) {
                for (s, &v) in expect.iter_mut().zip(col) {
                    *s += v;
                }
            }
            let mut got = start;
            add_column_sums(&columns, &mut got);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&expect), "{rows} rows");
        }
    }
}
