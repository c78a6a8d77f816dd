//! `BatchNormalization(momentum, epsilon)`: Keras's batch normalization over the last axis.
//!
//! Each of the `C` channels (the last dimension: an image's channels, a vector's features, a
//! sequence's features per step) is normalized over every other axis of the batch, then scaled
//! and shifted: `y = gamma · (x − μ) / √(σ² + ε) + beta`. In training, `μ` and `σ²` are the
//! batch's own mean and biased variance; in inference they are the moving statistics, which a
//! successful training step moves towards the batch's as Keras 3 does:
//! `moving = moving · momentum + batch · (1 − momentum)` (the *biased* batch variance, as
//! `keras.ops.moments` computes it).
//!
//! The moving statistics are state, not parameters: the optimizer never sees them, gradients
//! have no room for them, and they change only through [`Layer::update_state`].
//!
//! Momentum and epsilon travel as the bits of `f64` and `f32` const parameters (floats cannot be
//! const generics). Per-channel sums are taken in `f32` over blocks of 64 rows and accumulated in
//! `f64`: a batch of 32 images of 28×28 sums 25 088 values per channel, where one `f32` sum would
//! lose several digits of the variance.

use nalgebra::SVector;
use rand::Rng;

use super::{
    Buffers, ChunkObserver, InputChunks, Layer, OutputGradient, TrainingBytes, fit_len, output_and_gradient,
    with_channels, with_flag,
};
use crate::activation::{Activation, relu_slope};
use crate::aligned::Param;
use crate::simd::simd_fn;

/// Batch normalization of `N` positions × `C` channels per sample (`N` is `H·W` for an image,
/// the number of steps for a sequence, 1 for a vector), with momentum
/// `f64::from_bits(MOMENTUM_BITS)` and epsilon `f32::from_bits(EPSILON_BITS)`. Without `CENTER`
/// (`center = False`) there is no `beta`, without `SCALE` (`scale = False`) no `gamma`: neither
/// is visited, saved or trained, and the one kept stays at its neutral value (0 or 1), so the
/// kernels are the same.
pub struct BatchNormalization<
    const C: usize,
    const N: usize,
    const MOMENTUM_BITS: u64,
    const EPSILON_BITS: u32,
    const CENTER: bool = true,
    const SCALE: bool = true,
> {
    /// The scale, one per channel (trainable; 1 at first).
    pub gamma: Param<SVector<f32, C>>,
    /// The shift, one per channel (trainable; 0 at first).
    pub beta: Param<SVector<f32, C>>,
    /// The mean used in inference (state; 0 at first).
    pub moving_mean: Param<SVector<f32, C>>,
    /// The variance used in inference (state; 1 at first).
    pub moving_variance: Param<SVector<f32, C>>,
}

impl<
    const C: usize,
    const N: usize,
    const MOMENTUM_BITS: u64,
    const EPSILON_BITS: u32,
    const CENTER: bool,
    const SCALE: bool,
> BatchNormalization<C, N, MOMENTUM_BITS, EPSILON_BITS, CENTER, SCALE>
{
    /// How much of the moving statistics a training step keeps.
    pub const MOMENTUM: f32 = f64::from_bits(MOMENTUM_BITS) as f32;
    /// How much of the batch's statistics a training step takes: `1 − momentum` computed in
    /// `f64`, then rounded, as Keras does (its momentum is a Python float).
    pub const ONE_MINUS_MOMENTUM: f32 = (1.0 - f64::from_bits(MOMENTUM_BITS)) as f32;
    /// Added to the variance before its square root.
    pub const EPSILON: f32 = f32::from_bits(EPSILON_BITS);
    const CHECK: () = assert!(
        f64::from_bits(MOMENTUM_BITS) >= 0.0 && f64::from_bits(MOMENTUM_BITS) < 1.0 && Self::EPSILON > 0.0,
        "batch normalization needs momentum in [0, 1) and epsilon > 0"
    );

    /// Keras's initial values: `gamma` 1, `beta` 0, moving mean 0, moving variance 1. Draws
    /// nothing from `rng`.
    pub fn new<R: Rng + ?Sized>(_rng: &mut R) -> Self {
        let mut layer = Self::zeros();
        layer.gamma.fill(1.0);
        layer.moving_variance.fill(1.0);
        layer
    }
}

impl<
    const C: usize,
    const N: usize,
    const MOMENTUM_BITS: u64,
    const EPSILON_BITS: u32,
    const CENTER: bool,
    const SCALE: bool,
> Clone for BatchNormalization<C, N, MOMENTUM_BITS, EPSILON_BITS, CENTER, SCALE>
{
    fn clone(&self) -> Self {
        let mut copy = Self::zeros();
        copy.gamma.copy_from(&*self.gamma);
        copy.beta.copy_from(&*self.beta);
        copy.moving_mean.copy_from(&*self.moving_mean);
        copy.moving_variance.copy_from(&*self.moving_variance);
        copy
    }
}

impl<
    const C: usize,
    const N: usize,
    const MOMENTUM_BITS: u64,
    const EPSILON_BITS: u32,
    const CENTER: bool,
    const SCALE: bool,
> core::fmt::Debug for BatchNormalization<C, N, MOMENTUM_BITS, EPSILON_BITS, CENTER, SCALE>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "BatchNormalization<{C}, {N}>(momentum {}, epsilon {})",
            Self::MOMENTUM,
            Self::EPSILON
        )
    }
}

/// Training cache of a batch normalization: the statistics the last forward pass used.
#[derive(Debug, Clone, Default)]
pub struct BatchNormCache {
    /// Whether the last forward pass normalized with the batch's statistics.
    training: bool,
    /// The mean used, per channel (the batch's in training, the moving one otherwise).
    mean: Vec<f32>,
    /// The batch's biased variance per channel (training only; for the moving update).
    variance: Vec<f32>,
    /// `1 / √(σ² + ε)` per channel, with the variance used.
    inv_std: Vec<f32>,
    /// `gamma · inv_std` and `beta − mean · gamma · inv_std` per channel: the output is
    /// `x · scale + shift`, the expression of TensorFlow's `batch_normalization`, which Keras
    /// calls.
    scale: Vec<f32>,
    shift: Vec<f32>,
    /// Two per-channel `f64` sums, scratch of both passes: `Σx` and `Σx²` forward, `∂L/∂beta`
    /// and `∂L/∂gamma` backward.
    sums: Vec<f64>,
    /// Two per-channel `f32` coefficients of `∂L/∂x` beside the forward's `scale`, scratch of
    /// the backward pass.
    coefficients: Vec<f32>,
}

impl<
    const C: usize,
    const N: usize,
    const MOMENTUM_BITS: u64,
    const EPSILON_BITS: u32,
    const CENTER: bool,
    const SCALE: bool,
> Layer for BatchNormalization<C, N, MOMENTUM_BITS, EPSILON_BITS, CENTER, SCALE>
{
    const PARAMS: usize = if CENTER { C } else { 0 } + if SCALE { C } else { 0 };
    const INPUTS: usize = N * C;
    const OUTPUTS: usize = N * C;
    type In = f32;
    type Extra = BatchNormCache;
    // The backward pass normalises `x` again rather than keeping `x̂`; the statistics are per
    // channel, not per sample.
    const TRAINING_BYTES: TrainingBytes = TrainingBytes::always(output_and_gradient::<Self>());

    fn zeros() -> Self {
        let () = Self::CHECK;
        let mut layer: Self = BatchNormalization {
            gamma: Param::zeroed(),
            beta: Param::zeroed(),
            moving_mean: Param::zeroed(),
            moving_variance: Param::zeroed(),
        };
        // An absent `gamma` is the neutral scale, also in a network built by `zeros`.
        if !SCALE {
            layer.gamma.fill(1.0);
        }
        layer
    }

    fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
        if SCALE {
            f("gamma", self.gamma.as_slice());
        }
        if CENTER {
            f("beta", self.beta.as_slice());
        }
    }

    fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
        if SCALE {
            f("gamma", self.gamma.as_mut_slice());
        }
        if CENTER {
            f("beta", self.beta.as_mut_slice());
        }
    }

    fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        if SCALE {
            f(self.gamma.as_mut_slice(), other.gamma.as_slice());
        }
        if CENTER {
            f(self.beta.as_mut_slice(), other.beta.as_slice());
        }
    }

    fn for_each_state<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
        f("moving_mean", self.moving_mean.as_slice());
        f("moving_variance", self.moving_variance.as_slice());
    }

    fn for_each_state_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
        f("moving_mean", self.moving_mean.as_mut_slice());
        f("moving_variance", self.moving_variance.as_mut_slice());
    }

    fn update_state(&mut self, buf: &Buffers<BatchNormCache>) {
        let cache = &buf.extra;
        if !cache.training {
            return;
        }
        let (m, k) = (Self::MOMENTUM, Self::ONE_MINUS_MOMENTUM);
        // Keras 3's expression, term for term: `moving * momentum + batch * (1 - momentum)`.
        for (mm, &mean) in self.moving_mean.iter_mut().zip(&cache.mean) {
            *mm = *mm * m + mean * k;
        }
        for (mv, &var) in self.moving_variance.iter_mut().zip(&cache.variance) {
            *mv = *mv * m + var * k;
        }
    }

    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BatchNormCache>,
        activation: Activation,
        training: bool,
    ) {
        self.forward(x, batch, buf, activation, training, false);
    }

    fn pre_activation<'a>(_extra: &'a BatchNormCache, y: &'a [f32]) -> &'a [f32] {
        y
    }

    fn backward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BatchNormCache>,
        activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        self.backward_batch_summed(x, batch, buf, activation, grads, dx, false);
    }
}

impl<
    const C: usize,
    const N: usize,
    const MOMENTUM_BITS: u64,
    const EPSILON_BITS: u32,
    const CENTER: bool,
    const SCALE: bool,
> BatchNormalization<C, N, MOMENTUM_BITS, EPSILON_BITS, CENTER, SCALE>
{
    /// [`Layer::forward_batch`]; with `summed`, the rows' sums were taken by the layer writing
    /// `x`, as it stored each chunk (see [`row_sums`](Self::row_sums)).
    pub fn forward(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BatchNormCache>,
        activation: Activation,
        training: bool,
        summed: bool,
    ) {
        let len = N * C * batch;
        fit_len(&mut buf.y, len);
        self.statistics(x, batch, buf, training, summed);
        let cache = &buf.extra;
        normalize(
            &x[..len],
            &cache.scale,
            &cache.shift,
            applies_relu(activation),
            &mut buf.y,
        );
    }

    /// The statistics of [`forward`](Self::forward), without the normalized output: `network!`
    /// calls it where the normalization's only reader computes the output as it reads it, an
    /// `Add` as it sums (see [`normalized`](Self::normalized)) or a convolution (`Conv2D`,
    /// `DepthwiseConv2D`) a chunk at a time (see [`output`](Self::output)). The output buffer is
    /// left empty (`network!`'s `TRAINING_BYTES_PER_SAMPLE` does not count it).
    pub fn forward_statistics(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BatchNormCache>,
        training: bool,
        summed: bool,
    ) {
        buf.y.clear();
        self.statistics(x, batch, buf, training, summed);
    }

    /// What both forward passes take: the mean and inverse deviation used (the batch's in
    /// training), and the output gradient's buffer sized.
    fn statistics(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BatchNormCache>,
        training: bool,
        summed: bool,
    ) {
        let () = Self::CHECK;
        let len = N * C * batch;
        fit_len(&mut buf.dy, len);
        let cache = &mut buf.extra;
        fit_len(&mut cache.mean, C);
        fit_len(&mut cache.variance, C);
        fit_len(&mut cache.inv_std, C);
        fit_len(&mut cache.scale, C);
        fit_len(&mut cache.shift, C);
        fit_sums(&mut cache.sums, C);
        cache.training = training;
        let x = &x[..len];
        if training {
            batch_moments(
                x,
                C,
                &mut cache.sums,
                &mut cache.mean,
                &mut cache.variance,
                summed,
                N,
            );
            inverse_std(&cache.variance, Self::EPSILON, &mut cache.inv_std);
        } else {
            cache.mean.copy_from_slice(self.moving_mean.as_slice());
            inverse_std(self.moving_variance.as_slice(), Self::EPSILON, &mut cache.inv_std);
        }
        scale_and_shift(
            &cache.mean,
            &cache.inv_std,
            self.gamma.as_slice(),
            self.beta.as_slice(),
            &mut cache.scale,
            &mut cache.shift,
        );
    }

    /// The normalization [`forward_statistics`](Self::forward_statistics) prepared, for the
    /// layer reading the output to apply as it reads the input.
    pub fn normalized<'a>(&'a self, buf: &'a Buffers<BatchNormCache>) -> Normalized<'a> {
        Normalized(Statistics {
            mean: &buf.extra.mean,
            inv_std: &buf.extra.inv_std,
            scale: &buf.extra.scale,
            shift: &buf.extra.shift,
        })
    }

    /// [`Layer::backward_batch`]; with `summed`, the sums of its first pass were taken by the
    /// layer reading the output as it wrote their gradient (see
    /// [`output_and_gradient_row_sums`](Self::output_and_gradient_row_sums)).
    #[allow(clippy::too_many_arguments)]
    pub fn backward_batch_summed(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BatchNormCache>,
        activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
        summed: bool,
    ) {
        self.backward_statistics(x, batch, buf, activation, grads, summed);
        if let Some(dx) = dx {
            let len = N * C * batch;
            self.input_gradient(buf, activation)
                .chunk(0, &x[..len], &mut dx[..len]);
        }
    }

    /// The first pass of [`Layer::backward_batch`]: the gradients of `gamma` and `beta` into
    /// `grads`, and the coefficients of `∂L/∂x` into the cache, for
    /// [`input_gradient`](Self::input_gradient) to apply. `network!` calls it alone where the
    /// convolution before the normalization takes its gradient a chunk at a time from
    /// `input_gradient` instead of reading it whole (see [`OutputGradient`]).
    pub fn backward_statistics(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BatchNormCache>,
        activation: Activation,
        grads: &mut Self,
        summed: bool,
    ) {
        let relu = applies_relu(activation);
        let len = N * C * batch;
        let cache = &mut buf.extra;
        fit_sums(&mut cache.sums, C);
        fit_len(&mut cache.coefficients, 2 * C);
        let stats = Statistics {
            mean: &cache.mean,
            inv_std: &cache.inv_std,
            scale: &cache.scale,
            shift: &cache.shift,
        };
        gradient_sums(
            &x[..len],
            &buf.dy[..len],
            &stats,
            relu,
            &mut cache.sums,
            &mut cache.coefficients,
            grads.gamma.as_mut_slice(),
            grads.beta.as_mut_slice(),
            summed,
            N,
        );
    }

    /// Takes the sums of the rows of the normalization's input and of their squares a chunk at
    /// a time, as the layer writing it stores each chunk (still in cache), for
    /// [`forward`](Self::forward) with `summed`: its one pass over the batch, in the same order,
    /// so the same bits.
    pub fn row_sums(buf: &mut Buffers<BatchNormCache>) -> RowSums<'_> {
        let sums = &mut buf.extra.sums;
        fit_sums(sums, C);
        sums.fill(0.0);
        RowSums { sums, sample_rows: N }
    }

    /// The output [`forward_statistics`](Self::forward_statistics) left unstored, computed a
    /// chunk at a time for the convolution alone reading it (see [`InputChunks`]); `x` is the
    /// normalization's input.
    pub fn output<'a>(
        &'a self,
        x: &'a [f32],
        cache: &'a BatchNormCache,
        activation: Activation,
    ) -> NormalizedOutput<'a> {
        NormalizedOutput {
            x,
            stats: Statistics {
                mean: &cache.mean,
                inv_std: &cache.inv_std,
                scale: &cache.scale,
                shift: &cache.shift,
            },
            relu: applies_relu(activation),
        }
    }

    /// [`output`](Self::output), and the sums `∂L/∂beta` and `∂L/∂gamma` taken a chunk at a
    /// time, as the convolution reading the output writes its gradient (still in cache), for
    /// [`backward_statistics`](Self::backward_statistics) with `summed`: that pass over the
    /// batch, in the same order, so the same bits. `x` is the normalization's input.
    pub fn output_and_gradient_row_sums<'a>(
        &'a self,
        x: &'a [f32],
        cache: &'a mut BatchNormCache,
        activation: Activation,
    ) -> (NormalizedOutput<'a>, GradientRowSums<'a>) {
        let BatchNormCache {
            mean,
            inv_std,
            scale,
            shift,
            sums,
            ..
        } = cache;
        fit_sums(sums, C);
        sums.fill(0.0);
        let stats = Statistics {
            mean,
            inv_std,
            scale,
            shift,
        };
        let relu = applies_relu(activation);
        (
            NormalizedOutput { x, stats, relu },
            GradientRowSums {
                x,
                stats,
                relu,
                sums,
                sample_rows: N,
            },
        )
    }

    /// `∂L/∂x` after [`backward_statistics`](Self::backward_statistics), for any chunk of
    /// whole samples.
    pub fn input_gradient<'a>(
        &'a self,
        buf: &'a Buffers<BatchNormCache>,
        activation: Activation,
    ) -> BatchNormInputGradient<'a> {
        let cache = &buf.extra;
        BatchNormInputGradient {
            dy: &buf.dy,
            stats: Statistics {
                mean: &cache.mean,
                inv_std: &cache.inv_std,
                scale: &cache.scale,
                shift: &cache.shift,
            },
            batch_stats: cache.training,
            relu: applies_relu(activation),
            coefficients: &cache.coefficients,
        }
    }
}

/// A batch normalization's input gradient, ready to be taken a chunk at a time: the gradient
/// of its output and the per-channel values of the backward pass.
#[derive(Clone, Copy)]
pub struct BatchNormInputGradient<'a> {
    dy: &'a [f32],
    stats: Statistics<'a>,
    batch_stats: bool,
    relu: bool,
    coefficients: &'a [f32],
}

/// A batch normalization's per-channel values, applied by the `Add` reading its output as it
/// sums (see [`BatchNormalization::normalized`]).
#[derive(Clone, Copy)]
pub struct Normalized<'a>(Statistics<'a>);

impl Normalized<'_> {
    /// `y = normalized(x) + other`, then `max(y, 0)` when `relu`: the bits of the normalized
    /// output stored and then added (the sum of two floats is the same either way round).
    pub fn add(&self, x: &[f32], other: &[f32], relu: bool, y: &mut [f32]) {
        add_normalized(x, other, &self.0, relu, y);
    }
}

simd_fn! {
    fn add_normalized(x: &[f32], other: &[f32], stats: &Statistics<'_>, relu: bool, y: &mut [f32]) {
        let c = stats.mean.len();
        with_flag!(relu, |RELU| for ((y_row, x_row), o_row) in y
            .chunks_exact_mut(c)
            .zip(x.chunks_exact(c))
            .zip(other.chunks_exact(c))
        {
            add_normalized_row::<RELU>(y_row, x_row, o_row, stats);
        })
    }
}

#[inline(always)]
fn add_normalized_row<const RELU: bool>(y: &mut [f32], x: &[f32], other: &[f32], stats: &Statistics<'_>) {
    let Statistics { scale, shift, .. } = *stats;
    for ((((y, &x), &o), &a), &c) in y.iter_mut().zip(x).zip(other).zip(scale).zip(shift) {
        // `normalize_row`'s expression, then the sum.
        let v = (x * a + c) + o;
        *y = if RELU { v.max(0.0) } else { v };
    }
}

/// A batch normalization's output, computed chunk by chunk (see [`BatchNormalization::output`]).
#[derive(Clone, Copy)]
pub struct NormalizedOutput<'a> {
    x: &'a [f32],
    stats: Statistics<'a>,
    relu: bool,
}

impl InputChunks for NormalizedOutput<'_> {
    fn fill(&self, at: usize, out: &mut [f32]) {
        let Statistics { scale, shift, .. } = self.stats;
        normalize(&self.x[at..at + out.len()], scale, shift, self.relu, out);
    }
}

/// The sums of the rows of a normalization's input and of their squares, `[Σx, Σx²]`, taken
/// chunk by chunk (see [`BatchNormalization::row_sums`]).
pub struct RowSums<'a> {
    sums: &'a mut [f64],
    sample_rows: usize,
}

impl ChunkObserver for RowSums<'_> {
    fn chunk(&mut self, _at: usize, x: &[f32]) {
        add_row_sums(self.sums, x, self.sample_rows);
    }
}

simd_fn! {
    /// `sums[ch] += x[row, ch]` and `squares[ch] += x[row, ch]²` over whole samples of
    /// `sample_rows` rows, in blocks (see [`blocks`]); `sums` is `[sums, squares]`.
    fn add_row_sums(sums: &mut [f64], x: &[f32], sample_rows: usize) {
        let (sums, squares) = sums.split_at_mut(sums.len() / 2);
        with_channels!(sums.len(), |C| add_rows::<C>(sums, squares, x, sample_rows));
    }
}

/// `∂L/∂beta` and `∂L/∂gamma` of a normalization, taken chunk by chunk (see
/// [`BatchNormalization::output_and_gradient_row_sums`]).
pub struct GradientRowSums<'a> {
    x: &'a [f32],
    stats: Statistics<'a>,
    relu: bool,
    sums: &'a mut [f64],
    sample_rows: usize,
}

impl ChunkObserver for GradientRowSums<'_> {
    fn chunk(&mut self, at: usize, dy: &[f32]) {
        let x = &self.x[at..at + dy.len()];
        add_gradient_row_sums(x, dy, &self.stats, self.relu, self.sums, self.sample_rows);
    }
}

simd_fn! {
    /// `d_beta[ch] += dy` and `d_gamma[ch] += dy·x̂` over whole samples of `sample_rows` rows,
    /// in blocks (see [`blocks`]); `sums` is `[d_beta, d_gamma]`.
    fn add_gradient_row_sums(x: &[f32], dy: &[f32], stats: &Statistics<'_>, relu: bool, sums: &mut [f64], sample_rows: usize) {
        let c = stats.mean.len();
        let (d_beta, d_gamma) = sums.split_at_mut(c);
        with_flag!(relu, |RELU| with_channels!(c, |C| add_gradient_sums::<C, RELU>(d_beta, d_gamma, x, dy, stats, sample_rows)));
    }
}

impl OutputGradient for BatchNormInputGradient<'_> {
    fn chunk(&self, at: usize, x: &[f32], dx: &mut [f32]) {
        let dy = &self.dy[at..at + x.len()];
        input_gradient(
            x,
            dy,
            &self.stats,
            self.batch_stats,
            self.relu,
            self.coefficients,
            dx,
        );
    }
}

/// The mean and biased variance of each channel of `x` (samples of `sample_rows` rows of `c`
/// channels) by `E[x²] − E[x]²`, in one pass, as `keras.ops.moments` takes them on Keras's
/// PyTorch and NumPy backends (its TensorFlow backend calls the two-pass `tf.nn.moments`); `sums`
/// is `2c` scratch. With `summed`, it holds `[Σx, Σx²]` already, taken a chunk at a time as `x`
/// was written (see [`RowSums`]).
///
/// Keras sums in `f32` throughout; here blocks of rows are summed in `f32` and the blocks in
/// `f64` (see [`blocks`]). The cancellation of `E[x²] − E[x]²` costs the variance about
/// `log₂(1 + μ²/σ²)` bits of the sums' precision; a variance cancelled below zero is 0.
fn batch_moments(
    x: &[f32],
    c: usize,
    sums: &mut [f64],
    mean: &mut [f32],
    variance: &mut [f32],
    summed: bool,
    sample_rows: usize,
) {
    let rows = (x.len() / c).max(1) as f64;
    if !summed {
        sums.fill(0.0);
        add_row_sums(sums, x, sample_rows);
    }
    let (means, squares) = sums.split_at(c);
    for (((m, v), &s), &q) in mean.iter_mut().zip(variance.iter_mut()).zip(means).zip(squares) {
        let mu = s / rows;
        *m = mu as f32;
        *v = (q / rows - mu * mu).max(0.0) as f32;
    }
}

// The loops below take every buffer as its own argument: inlined, they keep LLVM's no-alias
// scopes and vectorise across the channels. Each channel's sum still runs over each block's
// rows in order and over the blocks in order, so the bits are those of the plain loops.

/// Rows summed in `f32` before their sum is added to the `f64` totals. The conversions and the
/// half-width `f64` additions cost more than all the rest of a row's arithmetic; 64 additions
/// in `f32` keep a block's sum to a few units of its last place, and the totals of the blocks
/// are `f64`.
const BLOCK_ROWS: usize = 64;

/// The blocks of `len` floats in rows of `c` channels and samples of `sample_rows` rows: up to
/// [`BLOCK_ROWS`] rows each, counted from each sample's first row, so that a batch shown a
/// chunk of whole samples at a time is cut into the blocks of the whole batch, and its sums
/// have the same bits.
#[inline(always)]
fn blocks(len: usize, c: usize, sample_rows: usize) -> impl Iterator<Item = core::ops::Range<usize>> {
    let (sample, block) = (sample_rows.max(1) * c, BLOCK_ROWS * c);
    (0..len).step_by(sample.max(1)).flat_map(move |s| {
        let end = (s + sample).min(len);
        (s..end)
            .step_by(block.max(1))
            .map(move |b| b..(b + block).min(end))
    })
}

/// Channels summed together where their count is not one of `with_channels`'s.
const GROUP: usize = 16;

/// `sums[ch] += x[row, ch]` and `squares[ch] += x[row, ch]²` over the rows of each block (see
/// [`blocks`]), for `C` channels (or `sums.len()` when `C` is 0).
#[inline(always)]
fn add_rows<const C: usize>(sums: &mut [f64], squares: &mut [f64], x: &[f32], sample_rows: usize) {
    let c = sums.len();
    if C == 0 {
        for b in blocks(x.len(), c, sample_rows) {
            for g in (0..c).step_by(GROUP) {
                let w = GROUP.min(c - g);
                let (mut s, mut q) = ([0.0f32; GROUP], [0.0f32; GROUP]);
                for row in x[b.clone()].chunks_exact(c) {
                    for ((s, q), &v) in s.iter_mut().zip(q.iter_mut()).zip(&row[g..g + w]) {
                        *s += v;
                        *q += v * v;
                    }
                }
                add_block(&mut sums[g..g + w], &s);
                add_block(&mut squares[g..g + w], &q);
            }
        }
        return;
    }
    let mut acc: [f64; C] = sums[..C].try_into().expect("C sums");
    let mut acc2: [f64; C] = squares[..C].try_into().expect("C sums");
    for b in blocks(x.len(), C, sample_rows) {
        let (mut s, mut q) = ([0.0f32; C], [0.0f32; C]);
        for row in x[b].chunks_exact(C) {
            for ((s, q), &v) in s.iter_mut().zip(q.iter_mut()).zip(row) {
                *s += v;
                *q += v * v;
            }
        }
        add_block(&mut acc, &s);
        add_block(&mut acc2, &q);
    }
    sums[..C].copy_from_slice(&acc);
    squares[..C].copy_from_slice(&acc2);
}

/// A block's `f32` sums added to the `f64` totals.
#[inline(always)]
fn add_block(totals: &mut [f64], block: &[f32]) {
    for (t, &b) in totals.iter_mut().zip(block) {
        *t += f64::from(b);
    }
}

/// `1 / √(σ² + ε)` per channel.
fn inverse_std(variance: &[f32], epsilon: f32, inv_std: &mut [f32]) {
    for (i, &v) in inv_std.iter_mut().zip(variance) {
        *i = 1.0 / (v + epsilon).sqrt();
    }
}

/// `scale = gamma · inv_std` and `shift = beta − mean · scale` per channel, TensorFlow's
/// `batch_normalization` coefficients: the output is then one product and one sum per value.
fn scale_and_shift(
    mean: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    beta: &[f32],
    scale: &mut [f32],
    shift: &mut [f32],
) {
    for (((((a, c), &m), &s), &g), &b) in scale
        .iter_mut()
        .zip(shift.iter_mut())
        .zip(mean)
        .zip(inv_std)
        .zip(gamma)
        .zip(beta)
    {
        *a = g * s;
        *c = b - m * *a;
    }
}

/// Whether the layer applies the activation the generated code passes it. `network!` passes
/// `relu` when an `Activation('relu')` is the normalization's only reader, and `linear`
/// otherwise: the relu is then applied as the normalized value is stored, and its gradient mask
/// is recomputed from `x` in the backward pass, which saves the relu layer's two passes over the
/// batch and its two buffers.
fn applies_relu(activation: Activation) -> bool {
    match activation {
        Activation::Linear => false,
        Activation::Relu => true,
        other => panic!(
            "BatchNormalization applies `linear` or `relu`, not `{}`",
            other.name()
        ),
    }
}

simd_fn! {
    /// `y = x · scale + shift` (see [`scale_and_shift`]), channel by channel, then `max(y, 0)`
    /// when `relu`.
    fn normalize(x: &[f32], scale: &[f32], shift: &[f32], relu: bool, y: &mut [f32]) {
        with_flag!(relu, |RELU| with_channels!(scale.len(), |C| normalize_rows::<C, RELU>(y, x, scale, shift)))
    }
}

/// [`normalize`] over whole rows; `C` as in [`add_rows`], the per-channel values then held in
/// registers across the rows.
#[inline(always)]
fn normalize_rows<const C: usize, const RELU: bool>(y: &mut [f32], x: &[f32], scale: &[f32], shift: &[f32]) {
    let c = scale.len();
    if C == 0 {
        for (y_row, x_row) in y.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
            normalize_row::<RELU>(y_row, x_row, scale, shift);
        }
        return;
    }
    let [scale, shift] = [scale, shift].map(fixed::<C>);
    for (y_row, x_row) in y.chunks_exact_mut(C).zip(x.chunks_exact(C)) {
        normalize_row::<RELU>(y_row, x_row, &scale, &shift);
    }
}

#[inline(always)]
fn normalize_row<const RELU: bool>(y: &mut [f32], x: &[f32], scale: &[f32], shift: &[f32]) {
    for (((y, &x), &a), &c) in y.iter_mut().zip(x).zip(scale).zip(shift) {
        let z = x * a + c;
        *y = if RELU { z.max(0.0) } else { z };
    }
}

/// `dy` through the relu when `RELU`: `dy · relu'(z)` with `z` recomputed from `x` by the
/// forward pass's own expression, so that the mask, and every bit after it, are those of a
/// separate relu layer.
#[inline(always)]
fn through_relu<const RELU: bool>(dy: f32, x: f32, scale: f32, shift: f32) -> f32 {
    if RELU {
        dy * relu_slope(x * scale + shift)
    } else {
        dy
    }
}

simd_fn! {
    /// Gradients of `gamma` and `beta`, and the per-channel coefficients of `∂L/∂x` that
    /// [`input_gradient`] applies. With `x̂ = (x − μ)·s`, `s = 1/√(σ² + ε)` and `m` rows:
    /// `∂L/∂beta = Σ dy`, `∂L/∂gamma = Σ dy·x̂`. With `relu`, `dy` is the gradient of the
    /// relu's output, masked here (see [`through_relu`]). With `summed`, the two sums are in
    /// `sums` already, taken a chunk at a time as `dy` was written (see [`GradientRowSums`]).
    fn gradient_sums(
        x: &[f32],
        dy: &[f32],
        stats: &Statistics<'_>,
        relu: bool,
        sums: &mut [f64],
        coefficients: &mut [f32],
        grad_gamma: &mut [f32],
        grad_beta: &mut [f32],
        summed: bool,
        sample_rows: usize,
    ) {
        let c = stats.mean.len();
        let (d_beta, d_gamma) = sums.split_at_mut(c);
        if !summed {
            d_beta.fill(0.0);
            d_gamma.fill(0.0);
            with_flag!(relu, |RELU| with_channels!(c, |C| add_gradient_sums::<C, RELU>(d_beta, d_gamma, x, dy, stats, sample_rows)));
        }
        for (o, &v) in grad_beta.iter_mut().zip(d_beta.iter()) {
            *o = v as f32;
        }
        for (o, &v) in grad_gamma.iter_mut().zip(d_gamma.iter()) {
            *o = v as f32;
        }
        // Per channel, `∂L/∂x = k·(dy − mean(dy)) − k·s·mean(dy·x̂)·(x − μ)` with `k = gamma·s`,
        // the forward pass's scale: `k` and two f32 coefficients, so that the pass over the batch
        // is plain f32 arithmetic.
        let rows = (x.len() / c).max(1) as f64;
        let (mean_dy, slope) = coefficients.split_at_mut(c);
        for ch in 0..c {
            mean_dy[ch] = (d_beta[ch] / rows) as f32;
            slope[ch] = stats.scale[ch] * stats.inv_std[ch] * (d_gamma[ch] / rows) as f32;
        }
    }
}

simd_fn! {
    /// `∂L/∂x` of whole rows: `gamma·s·(dy − ∂L/∂beta / m − x̂·∂L/∂gamma / m)` when `μ` and `σ²`
    /// are the batch's (they depend on every `x` of the channel; `coefficients` from
    /// [`gradient_sums`]), `gamma·s·dy` when they are the moving ones. Each value depends on its
    /// own row only, so a batch gives the same bits whole or a chunk at a time.
    fn input_gradient(
        x: &[f32],
        dy: &[f32],
        stats: &Statistics<'_>,
        batch_stats: bool,
        relu: bool,
        coefficients: &[f32],
        dx: &mut [f32],
    ) {
        let c = stats.mean.len();
        if !batch_stats {
            with_flag!(relu, |RELU| for ((dx_row, dy_row), x_row) in dx
                .chunks_exact_mut(c)
                .zip(dy.chunks_exact(c))
                .zip(x.chunks_exact(c))
            {
                scale_row::<RELU>(dx_row, dy_row, x_row, stats);
            });
            return;
        }
        with_flag!(relu, |RELU| with_channels!(c, |C| input_gradient_rows::<C, RELU>(dx, dy, x, stats, coefficients)));
    }
}

/// [`input_gradient`] with batch statistics over whole rows; `C` as in [`add_rows`], the
/// per-channel values then held in registers across the rows.
#[inline(always)]
fn input_gradient_rows<const C: usize, const RELU: bool>(
    dx: &mut [f32],
    dy: &[f32],
    x: &[f32],
    stats: &Statistics<'_>,
    coefficients: &[f32],
) {
    let c = stats.mean.len();
    let (mean_dy, slope) = coefficients.split_at(c);
    let rows = dx
        .chunks_exact_mut(c)
        .zip(dy.chunks_exact(c))
        .zip(x.chunks_exact(c));
    if C == 0 {
        for ((dx_row, dy_row), x_row) in rows {
            input_gradient_row::<RELU>(dx_row, dy_row, x_row, stats, [mean_dy, slope]);
        }
        return;
    }
    let [mean, inv_std, a, c] = stats.fixed::<C>();
    let stats = Statistics {
        mean: &mean,
        inv_std: &inv_std,
        scale: &a,
        shift: &c,
    };
    let [mean_dy, slope] = [mean_dy, slope].map(fixed::<C>);
    for ((dx_row, dy_row), x_row) in rows {
        input_gradient_row::<RELU>(dx_row, dy_row, x_row, &stats, [&mean_dy, &slope]);
    }
}

/// Both backward passes over a whole batch, the order [`Layer::backward_batch`] runs them in.
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
fn backward(
    x: &[f32],
    dy: &[f32],
    c: usize,
    batch_stats: bool,
    mean: &[f32],
    inv_std: &[f32],
    [gamma, beta]: [&[f32]; 2],
    relu: bool,
    sums: &mut [f64],
    coefficients: &mut [f32],
    grad_gamma: &mut [f32],
    grad_beta: &mut [f32],
    dx: Option<&mut [f32]>,
    sample_rows: usize,
) {
    assert_eq!(mean.len(), c);
    let (mut scale, mut shift) = (vec![0.0; c], vec![0.0; c]);
    scale_and_shift(mean, inv_std, gamma, beta, &mut scale, &mut shift);
    let stats = Statistics {
        mean,
        inv_std,
        scale: &scale,
        shift: &shift,
    };
    gradient_sums(
        x,
        dy,
        &stats,
        relu,
        sums,
        coefficients,
        grad_gamma,
        grad_beta,
        false,
        sample_rows,
    );
    if let Some(dx) = dx {
        input_gradient(x, dy, &stats, batch_stats, relu, coefficients, dx);
    }
}

/// `sums` sized to the two runs of `c` per-channel `f64` sums the passes take (the forward's
/// `Σx` and `Σx²`, the backward's ∂L/∂beta and ∂L/∂gamma).
fn fit_sums(sums: &mut Vec<f64>, c: usize) {
    if sums.len() != 2 * c {
        sums.resize(2 * c, 0.0);
    }
}

/// The per-channel values the passes read beside the batch: `x̂ = (x − mean) · inv_std`, and
/// the output `x · scale + shift` (see [`scale_and_shift`]).
#[derive(Clone, Copy)]
struct Statistics<'a> {
    mean: &'a [f32],
    inv_std: &'a [f32],
    scale: &'a [f32],
    shift: &'a [f32],
}

impl Statistics<'_> {
    /// The first `C` values of each, in arrays: a loop over rows of `C` channels then knows
    /// every length and keeps the values in registers.
    #[inline(always)]
    fn fixed<const C: usize>(&self) -> [[f32; C]; 4] {
        [self.mean, self.inv_std, self.scale, self.shift].map(fixed::<C>)
    }
}

/// The first `C` values of `v`.
#[inline(always)]
fn fixed<const C: usize>(v: &[f32]) -> [f32; C] {
    v[..C].try_into().expect("C values")
}

/// `d_beta[ch] += dy` and `d_gamma[ch] += dy·x̂` over the rows of each block (see
/// [`blocks`]); `C` as in [`add_rows`].
#[inline(always)]
fn add_gradient_sums<const C: usize, const RELU: bool>(
    d_beta: &mut [f64],
    d_gamma: &mut [f64],
    x: &[f32],
    dy: &[f32],
    stats: &Statistics<'_>,
    sample_rows: usize,
) {
    let c = d_beta.len();
    if C == 0 {
        for b in blocks(x.len(), c, sample_rows) {
            for g in (0..c).step_by(GROUP) {
                let w = GROUP.min(c - g);
                let (mut db, mut dg) = ([0.0f32; GROUP], [0.0f32; GROUP]);
                let stats = Statistics {
                    mean: &stats.mean[g..g + w],
                    inv_std: &stats.inv_std[g..g + w],
                    scale: &stats.scale[g..g + w],
                    shift: &stats.shift[g..g + w],
                };
                for (x_row, dy_row) in x[b.clone()].chunks_exact(c).zip(dy[b.clone()].chunks_exact(c)) {
                    add_gradient_row::<RELU>(&mut db, &mut dg, &x_row[g..g + w], &dy_row[g..g + w], &stats);
                }
                add_block(&mut d_beta[g..g + w], &db);
                add_block(&mut d_gamma[g..g + w], &dg);
            }
        }
        return;
    }
    let mut db: [f64; C] = d_beta[..C].try_into().expect("C sums");
    let mut dg: [f64; C] = d_gamma[..C].try_into().expect("C sums");
    let [mean, inv_std, scale, shift] = stats.fixed::<C>();
    let stats = Statistics {
        mean: &mean,
        inv_std: &inv_std,
        scale: &scale,
        shift: &shift,
    };
    for b in blocks(x.len(), C, sample_rows) {
        let (mut block_db, mut block_dg) = ([0.0f32; C], [0.0f32; C]);
        for (x_row, dy_row) in x[b.clone()].chunks_exact(C).zip(dy[b].chunks_exact(C)) {
            add_gradient_row::<RELU>(&mut block_db, &mut block_dg, x_row, dy_row, &stats);
        }
        add_block(&mut db, &block_db);
        add_block(&mut dg, &block_dg);
    }
    d_beta[..C].copy_from_slice(&db);
    d_gamma[..C].copy_from_slice(&dg);
}

#[inline(always)]
fn add_gradient_row<const RELU: bool>(
    d_beta: &mut [f32],
    d_gamma: &mut [f32],
    x: &[f32],
    dy: &[f32],
    stats: &Statistics<'_>,
) {
    let Statistics {
        mean,
        inv_std,
        scale,
        shift,
    } = *stats;
    for (((((db, dg), &x), &g), (&m, &s)), (&a, &c)) in d_beta
        .iter_mut()
        .zip(d_gamma.iter_mut())
        .zip(x)
        .zip(dy)
        .zip(mean.iter().zip(inv_std))
        .zip(scale.iter().zip(shift))
    {
        let x_hat = (x - m) * s;
        let g = through_relu::<RELU>(g, x, a, c);
        *db += g;
        *dg += g * x_hat;
    }
}

#[inline(always)]
fn scale_row<const RELU: bool>(dx: &mut [f32], dy: &[f32], x: &[f32], stats: &Statistics<'_>) {
    let Statistics { scale, shift, .. } = *stats;
    for ((((d, &g), &x), &a), &c) in dx.iter_mut().zip(dy).zip(x).zip(scale).zip(shift) {
        let g = through_relu::<RELU>(g, x, a, c);
        *d = a * g;
    }
}

#[inline(always)]
fn input_gradient_row<const RELU: bool>(
    dx: &mut [f32],
    dy: &[f32],
    x: &[f32],
    stats: &Statistics<'_>,
    [mean_dy, slope]: [&[f32]; 2],
) {
    let Statistics {
        mean, scale, shift, ..
    } = *stats;
    for (((((d, &g), &x), &m), (&sh, &sl)), (&k, &c)) in dx
        .iter_mut()
        .zip(dy)
        .zip(x)
        .zip(mean)
        .zip(mean_dy.iter().zip(slope))
        .zip(scale.iter().zip(shift))
    {
        // `k` is the forward's scale, which the relu's mask is recomputed with too.
        let g = through_relu::<RELU>(g, x, k, c);
        *d = k * (g - sh) - sl * (x - m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernels as plain per-element loops, one channel after another: the dispatched ones
    /// (AVX-512 where the CPU has it) must give these bits exactly, so that vectorising them
    /// changed no result.
    fn reference(
        x: &[f32],
        dy: &[f32],
        c: usize,
        gamma: &[f32],
        beta: &[f32],
        sample_rows: usize,
    ) -> Vec<Vec<f32>> {
        let rows = x.len() / c;
        // Each sample's rows in blocks of up to 64, each block summed in f32, the blocks in f64.
        let blocks: Vec<std::ops::Range<usize>> = (0..rows)
            .step_by(sample_rows)
            .flat_map(|s| {
                (s..(s + sample_rows).min(rows))
                    .step_by(64)
                    .map(move |b| b..(b + 64).min(s + sample_rows).min(rows))
            })
            .collect();
        let sum = |f: &dyn Fn(usize) -> f32| {
            blocks.iter().fold(0.0f64, |t, b| {
                t + f64::from(b.clone().fold(0.0f32, |s, r| s + f(r)))
            })
        };
        let (mut mean, mut variance, mut inv_std) = (vec![0.0; c], vec![0.0; c], vec![0.0; c]);
        let (mut y, mut dx, mut dx_moving) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()]);
        let (mut d_beta, mut d_gamma) = (vec![0.0; c], vec![0.0; c]);
        for ch in 0..c {
            let at = |r: usize| r * c + ch;
            let m = sum(&|r| x[at(r)]) / rows as f64;
            let squares = sum(&|r| x[at(r)] * x[at(r)]) / rows as f64;
            (mean[ch], variance[ch]) = (m as f32, (squares - m * m).max(0.0) as f32);
            inv_std[ch] = 1.0 / (variance[ch] + 1e-3).sqrt();
            let (mu, s, g) = (mean[ch], inv_std[ch], gamma[ch]);
            let (a, c) = (g * s, beta[ch] - mu * (g * s));
            let db = sum(&|r| dy[at(r)]);
            let dg = sum(&|r| dy[at(r)] * ((x[at(r)] - mu) * s));
            for r in 0..rows {
                y[at(r)] = x[at(r)] * a + c;
                dx_moving[at(r)] = a * dy[at(r)];
            }
            (d_beta[ch], d_gamma[ch]) = (db as f32, dg as f32);
            let k = a;
            let (shift, slope) = ((db / rows as f64) as f32, k * s * (dg / rows as f64) as f32);
            for r in 0..rows {
                dx[at(r)] = k * (dy[at(r)] - shift) - slope * (x[at(r)] - mu);
            }
        }
        vec![mean, variance, y, d_beta, d_gamma, dx, dx_moving]
    }

    /// Channels, rows and rows per sample: the channel counts `with_channels` knows and others
    /// (1, 3, 17, 40 channels; 17 and 40 in groups of 16 and a rest), samples of fewer than
    /// `BLOCK_ROWS` rows, of exactly as many and of more (two blocks, the second shorter).
    const SHAPES: [(usize, usize, usize); 9] = [
        (1, 7, 7),
        (3, 50, 10),
        (8, 400, 200),
        (16, 128, 64),
        (17, 330, 110),
        (32, 9, 3),
        (40, 150, 75),
        (64, 140, 70),
        (128, 72, 36),
    ];

    /// `scale_and_shift` into new vectors.
    fn scaled(mean: &[f32], inv_std: &[f32], gamma: &[f32], beta: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (mut scale, mut shift) = (vec![0.0; mean.len()], vec![0.0; mean.len()]);
        scale_and_shift(mean, inv_std, gamma, beta, &mut scale, &mut shift);
        (scale, shift)
    }

    /// Inputs and output gradients of `rows` rows of `c` channels, spread over a few units.
    fn batch(c: usize, rows: usize) -> (Vec<f32>, Vec<f32>) {
        let x = (0..c * rows)
            .map(|i| ((i * 7919) % 101) as f32 * 0.37 - 11.0)
            .collect();
        let dy = (0..c * rows)
            .map(|i| ((i * 104_729) % 89) as f32 * 0.05 - 2.0)
            .collect();
        (x, dy)
    }

    #[test]
    fn dispatched_kernels_match_the_plain_loops_bit_for_bit() {
        for (c, rows, sample_rows) in SHAPES {
            let (x, dy) = batch(c, rows);
            let gamma: Vec<f32> = (0..c).map(|i| 0.5 + i as f32 * 0.125).collect();
            let beta: Vec<f32> = (0..c).map(|i| i as f32 * 0.25 - 1.0).collect();
            let want = reference(&x, &dy, c, &gamma, &beta, sample_rows);
            let (mut sums, mut coefficients) = (vec![0.0; 2 * c], vec![0.0; 2 * c]);
            let (mut mean, mut variance, mut inv_std) = (vec![0.0; c], vec![0.0; c], vec![0.0; c]);
            batch_moments(&x, c, &mut sums, &mut mean, &mut variance, false, sample_rows);
            inverse_std(&variance, 1e-3, &mut inv_std);
            let (scale, shift) = scaled(&mean, &inv_std, &gamma, &beta);
            let mut y = vec![f32::NAN; x.len()];
            normalize(&x, &scale, &shift, false, &mut y);
            let (mut d_gamma, mut d_beta) = (vec![0.0; c], vec![0.0; c]);
            let (mut dx, mut dx_moving) = (vec![f32::NAN; x.len()], vec![f32::NAN; x.len()]);
            for (batch_stats, dx) in [(true, &mut dx), (false, &mut dx_moving)] {
                backward(
                    &x,
                    &dy,
                    c,
                    batch_stats,
                    &mean,
                    &inv_std,
                    [&gamma, &beta],
                    false,
                    &mut sums,
                    &mut coefficients,
                    &mut d_gamma,
                    &mut d_beta,
                    Some(dx),
                    sample_rows,
                );
            }
            let got = [mean, variance, y, d_beta, d_gamma, dx, dx_moving];
            for (name, (g, w)) in ["mean", "variance", "y", "d_beta", "d_gamma", "dx", "dx_moving"]
                .iter()
                .zip(got.iter().zip(&want))
            {
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(g), bits(w), "{name}, {c} channels × {rows}");
            }
        }
    }

    /// Normalizing as an `Add` sums gives the bits of the normalized output stored, then added
    /// (and relu'd), whichever input of the `Add` it is.
    #[test]
    fn normalizing_as_an_add_sums_gives_the_stored_output_s_bits() {
        for (c, rows, sample_rows) in SHAPES {
            let (x, other) = batch(c, rows);
            let gamma: Vec<f32> = (0..c).map(|i| 0.5 + i as f32 * 0.125 - (i % 3) as f32).collect();
            let beta: Vec<f32> = (0..c).map(|i| i as f32 * 0.25 - 0.3).collect();
            let mut sums = vec![0.0; 2 * c];
            let (mut mean, mut variance, mut inv_std) = (vec![0.0; c], vec![0.0; c], vec![0.0; c]);
            batch_moments(&x, c, &mut sums, &mut mean, &mut variance, false, sample_rows);
            inverse_std(&variance, 1e-3, &mut inv_std);
            let (scale, shift) = scaled(&mean, &inv_std, &gamma, &beta);
            let mut stored = vec![0.0; x.len()];
            normalize(&x, &scale, &shift, false, &mut stored);
            let normalized = Normalized(Statistics {
                mean: &mean,
                inv_std: &inv_std,
                scale: &scale,
                shift: &shift,
            });
            for relu in [false, true] {
                let mut fused = vec![f32::NAN; x.len()];
                normalized.add(&x, &other, relu, &mut fused);
                let expect: Vec<u32> = other
                    .iter()
                    .zip(&stored)
                    .map(|(&o, &n)| {
                        let v = o + n;
                        (if relu { v.max(0.0) } else { v }).to_bits()
                    })
                    .collect();
                let got: Vec<u32> = fused.iter().map(|f| f.to_bits()).collect();
                assert_eq!(got, expect, "{c} × {rows}, relu {relu}");
            }
        }
    }

    /// The input gradient taken a chunk of rows at a time, as a convolution pulls it, gives the
    /// bits of the whole batch's, with and without the relu and the batch's statistics.
    #[test]
    fn the_input_gradient_by_chunks_is_the_whole_batch_s() {
        for (c, rows, sample_rows) in SHAPES {
            let (x, dy) = batch(c, rows);
            let gamma: Vec<f32> = (0..c).map(|i| 0.5 + i as f32 * 0.125 - (i % 3) as f32).collect();
            let beta: Vec<f32> = (0..c).map(|i| i as f32 * 0.25 - 0.3).collect();
            let (mut sums, mut coefficients) = (vec![0.0; 2 * c], vec![0.0; 2 * c]);
            let (mut mean, mut variance, mut inv_std) = (vec![0.0; c], vec![0.0; c], vec![0.0; c]);
            batch_moments(&x, c, &mut sums, &mut mean, &mut variance, false, sample_rows);
            // The rows' sums taken chunk by chunk, as the layer writing `x` shows them.
            let mut shown = vec![0.0; 2 * c];
            for x in x.chunks(2 * sample_rows * c) {
                RowSums {
                    sums: &mut shown,
                    sample_rows,
                }
                .chunk(0, x);
            }
            let (mut m2, mut v2) = (vec![0.0; c], vec![0.0; c]);
            batch_moments(&x, c, &mut shown, &mut m2, &mut v2, true, sample_rows);
            assert_eq!(
                (&m2, &v2),
                (&mean, &variance),
                "{c} × {rows}: moments from shown sums"
            );
            inverse_std(&variance, 1e-3, &mut inv_std);
            let (scale, shift) = scaled(&mean, &inv_std, &gamma, &beta);
            let stats = Statistics {
                mean: &mean,
                inv_std: &inv_std,
                scale: &scale,
                shift: &shift,
            };
            for (relu, batch_stats) in [(false, true), (true, true), (true, false)] {
                let (mut d_gamma, mut d_beta) = (vec![0.0; c], vec![0.0; c]);
                gradient_sums(
                    &x,
                    &dy,
                    &stats,
                    relu,
                    &mut sums,
                    &mut coefficients,
                    &mut d_gamma,
                    &mut d_beta,
                    false,
                    sample_rows,
                );
                // The same sums taken chunk by chunk, as the layer writing `dy` shows them.
                let mut shown = vec![0.0; 2 * c];
                let mut by_rows = GradientRowSums {
                    x: &x,
                    stats,
                    relu,
                    sums: &mut shown,
                    sample_rows,
                };
                for (n, dy) in dy.chunks(sample_rows * c).enumerate() {
                    by_rows.chunk(n * sample_rows * c, dy);
                }
                let (mut g2, mut b2, mut k2) = (vec![0.0; c], vec![0.0; c], vec![0.0; 2 * c]);
                gradient_sums(
                    &x,
                    &[],
                    &stats,
                    relu,
                    &mut shown,
                    &mut k2,
                    &mut g2,
                    &mut b2,
                    true,
                    sample_rows,
                );
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    [bits(&g2), bits(&b2), bits(&k2)],
                    [bits(&d_gamma), bits(&d_beta), bits(&coefficients)],
                    "{c} × {rows}, relu {relu}: sums shown by chunks"
                );
                let mut whole = vec![f32::NAN; x.len()];
                input_gradient(&x, &dy, &stats, batch_stats, relu, &coefficients, &mut whole);
                let mut chunked = vec![f32::NAN; x.len()];
                let pulled = BatchNormInputGradient {
                    dy: &dy,
                    stats,
                    batch_stats,
                    relu,
                    coefficients: &coefficients,
                };
                for (n, (dx, x)) in chunked.chunks_mut(7 * c).zip(x.chunks(7 * c)).enumerate() {
                    pulled.chunk(n * 7 * c, x, dx);
                }
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&chunked), bits(&whole), "{c} × {rows}, relu {relu}");
            }
        }
    }

    /// A relu applied by the normalization gives the bits of a separate relu layer: the same
    /// output, and the same gradients from the relu's output gradient as the unfused
    /// normalization gives from the masked one.
    #[test]
    fn the_fused_relu_gives_the_bits_of_a_separate_relu_layer() {
        for (c, rows, sample_rows) in SHAPES {
            let (x, dy) = batch(c, rows);
            let gamma: Vec<f32> = (0..c).map(|i| 0.5 + i as f32 * 0.125 - (i % 3) as f32).collect();
            let beta: Vec<f32> = (0..c).map(|i| i as f32 * 0.25 - 0.3).collect();
            let (mut sums, mut coefficients) = (vec![0.0; 2 * c], vec![0.0; 2 * c]);
            let (mut mean, mut variance, mut inv_std) = (vec![0.0; c], vec![0.0; c], vec![0.0; c]);
            batch_moments(&x, c, &mut sums, &mut mean, &mut variance, false, sample_rows);
            inverse_std(&variance, 1e-3, &mut inv_std);
            let (scale, shift) = scaled(&mean, &inv_std, &gamma, &beta);
            let (mut z, mut y) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            normalize(&x, &scale, &shift, false, &mut z);
            normalize(&x, &scale, &shift, true, &mut y);
            let mut separate = vec![0.0; x.len()];
            Activation::Relu.apply(&z, &mut separate, c);
            let mut masked = vec![0.0; x.len()];
            Activation::Relu.backward_into(&z, &separate, &dy, &mut masked, c);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y), bits(&separate), "y, {c} channels × {rows}");
            assert!(y.contains(&0.0) && y.iter().any(|&v| v > 0.0), "the relu cuts");
            for batch_stats in [true, false] {
                let mut run = |dy: &[f32], relu: bool| {
                    let (mut d_gamma, mut d_beta, mut dx) =
                        (vec![0.0; c], vec![0.0; c], vec![f32::NAN; x.len()]);
                    backward(
                        &x,
                        dy,
                        c,
                        batch_stats,
                        &mean,
                        &inv_std,
                        [&gamma, &beta],
                        relu,
                        &mut sums,
                        &mut coefficients,
                        &mut d_gamma,
                        &mut d_beta,
                        Some(&mut dx),
                        sample_rows,
                    );
                    [d_gamma, d_beta, dx].map(|v| bits(&v))
                };
                assert_eq!(
                    run(&dy, true),
                    run(&masked, false),
                    "{c} channels × {rows}, batch statistics {batch_stats}"
                );
            }
        }
    }
}
