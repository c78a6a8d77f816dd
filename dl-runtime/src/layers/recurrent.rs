//! `LSTM`, `GRU` and `SimpleRNN` (Keras's defaults: `tanh` activation, `sigmoid` recurrent
//! activation, GRU with `reset_after = True`), and `GlobalAveragePooling1D` /
//! `GlobalMaxPooling1D` over time.
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
//! The forward pass copies the batch to step-major order (column `t·B + b`) and runs the
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
//! `∂L/∂x`): each backward pass needs its own forward pass, as in training.
//!
//! Recurrent layers ignore the `activation` the network passes them (`network!` passes
//! `Linear`): their activations are fixed to Keras's defaults. The initial state is zero, as in
//! Keras without `initial_state`; there is no masking (`mask_zero`), no dropout and no
//! statefulness.

use nalgebra::{SMatrix, SVector};
use rand::Rng;

use super::{Buffers, GlobalAveragePooling2D, GlobalMaxPooling2D, Layer, fit_len, zeroed_box};
use crate::activation::Activation;
use crate::gemm::{Op, gemm, transpose};
use crate::init;

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
pub struct LSTM<const T: usize, const D: usize, const U: usize, const SEQ: bool, const G: usize> {
    /// Input weights, `G × D` (Keras's `(D, 4U)` row-major), gates `i, f, c, o`.
    pub kernel: Box<SMatrix<f32, G, D>>,
    /// Recurrent weights, `G × U` (Keras's `(U, 4U)` row-major).
    pub recurrent_kernel: Box<SMatrix<f32, G, U>>,
    /// The bias, `G` floats.
    pub bias: Box<SVector<f32, G>>,
}

/// Keras's `GRU(units, return_sequences)` with its defaults (`reset_after = True`) over `T`
/// steps of `D` features, with `U` units and `G = 3·U` gate rows.
///
/// `z = σ(x·W_z + b_z + h·R_z + b'_z)`, `r` likewise,
/// `ĥ = tanh(x·W_h + b_h + r·(h·R_h + b'_h))`, `h_t = z·h_{t−1} + (1 − z)·ĥ`, where `b` is the
/// input bias (`bias` column 0) and `b'` the recurrent bias (column 1). Keras's defaults:
/// glorot-uniform `kernel`, orthogonal `recurrent_kernel`, zero `bias`.
#[allow(clippy::upper_case_acronyms)]
pub struct GRU<const T: usize, const D: usize, const U: usize, const SEQ: bool, const G: usize> {
    /// Input weights, `G × D` (Keras's `(D, 3U)` row-major), gates `z, r, h`.
    pub kernel: Box<SMatrix<f32, G, D>>,
    /// Recurrent weights, `G × U` (Keras's `(U, 3U)` row-major).
    pub recurrent_kernel: Box<SMatrix<f32, G, U>>,
    /// The biases, `G × 2` (Keras's `(2, 3U)` row-major): the input bias, then the recurrent
    /// bias.
    pub bias: Box<SMatrix<f32, G, 2>>,
}

/// Keras's `SimpleRNN(units, return_sequences)` over `T` steps of `D` features with `U` units:
/// `h_t = tanh(x·W + h_{t−1}·R + b)`. Keras's defaults: glorot-uniform `kernel`, orthogonal
/// `recurrent_kernel`, zero `bias`.
pub struct SimpleRNN<const T: usize, const D: usize, const U: usize, const SEQ: bool> {
    /// Input weights, `U × D` (Keras's `(D, U)` row-major).
    pub kernel: Box<SMatrix<f32, U, D>>,
    /// Recurrent weights, `U × U` (Keras's `(U, U)` row-major).
    pub recurrent_kernel: Box<SMatrix<f32, U, U>>,
    /// The bias, `U` floats.
    pub bias: Box<SVector<f32, U>>,
}

/// Training cache of a recurrent layer; buffers a cell does not need stay empty.
#[derive(Debug, Default)]
pub struct RecurrentCache {
    /// The batch's inputs in step-major order (`D × T·B`, column `t·B + b`); reused for
    /// `∂L/∂x` in the backward pass.
    xs: Vec<f32>,
    /// `G × T·B`, step-major: the pre-activations of every step, turned into the activated
    /// gates by the forward pass and into `∂L/∂(input projection)` by the backward pass.
    gates: Vec<f32>,
    /// States, `U × (T + 1)·B`: block 0 the initial (zero) state, block `t + 1` `h_t`.
    h: Vec<f32>,
    /// LSTM cell states, laid out as `h`.
    c: Vec<f32>,
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
    /// `∂L/∂h` of the current step, `U × B`.
    dh: Vec<f32>,
    /// LSTM `∂L/∂c` of the current step, `U × B`.
    dc: Vec<f32>,
    /// `recurrent_kernelᵀ`, `U × G`.
    rt: Vec<f32>,
    /// `kernelᵀ`, `D × G`.
    kt: Vec<f32>,
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
    fn g(&self) -> usize {
        self.units
            * match self.cell {
                Cell::Lstm => 4,
                Cell::Gru => 3,
                Cell::Simple => 1,
            }
    }

    fn outputs(&self) -> usize {
        if self.seq {
            self.steps * self.units
        } else {
            self.units
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
        fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
            f("kernel", self.kernel.as_slice());
            f("recurrent_kernel", self.recurrent_kernel.as_slice());
            f("bias", self.bias.as_slice());
        }

        fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
            f("kernel", self.kernel.as_mut_slice());
            f("recurrent_kernel", self.recurrent_kernel.as_mut_slice());
            f("bias", self.bias.as_mut_slice());
        }

        fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
            f(self.kernel.as_mut_slice(), other.kernel.as_slice());
            f(
                self.recurrent_kernel.as_mut_slice(),
                other.recurrent_kernel.as_slice(),
            );
            f(self.bias.as_mut_slice(), other.bias.as_slice());
        }

        fn zeros() -> Self {
            const { Self::CHECK };
            Self {
                kernel: zeroed_box(),
                recurrent_kernel: zeroed_box(),
                bias: zeroed_box(),
            }
        }

        #[inline]
        fn forward_batch(
            &self,
            x: &[f32],
            batch: usize,
            buf: &mut Buffers<RecurrentCache>,
            _activation: Activation,
            _training: bool,
        ) {
            const { Self::CHECK };
            let out = Self::OUTPUTS * batch;
            fit_len(&mut buf.y, out);
            fit_len(&mut buf.dy, out);
            recurrent_forward(
                &Self::DIMS,
                &self.weights(),
                x,
                batch,
                &mut buf.extra,
                &mut buf.y,
            );
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
            assert_eq!(
                x.len(),
                Self::INPUTS * batch,
                "recurrent input has the wrong length"
            );
            recurrent_backward(
                &Self::DIMS,
                &self.weights(),
                batch,
                &mut buf.extra,
                &buf.dy[..Self::OUTPUTS * batch],
                grads.grads(),
                dx,
            );
        }
    };
}

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

recurrent_clone_debug!(LSTM [T: usize, D: usize, U: usize, SEQ: bool, G: usize]
    "LSTM<{T} steps × {D} → {U} units, return_sequences {SEQ}>");
recurrent_clone_debug!(GRU [T: usize, D: usize, U: usize, SEQ: bool, G: usize]
    "GRU<{T} steps × {D} → {U} units, return_sequences {SEQ}>");
recurrent_clone_debug!(SimpleRNN [T: usize, D: usize, U: usize, SEQ: bool]
    "SimpleRNN<{T} steps × {D} → {U} units, return_sequences {SEQ}>");

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool, const G: usize> LSTM<T, D, U, SEQ, G> {
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
    /// recurrent kernel, `unit_forget_bias` (1 for the forget gate, 0 elsewhere).
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = <Self as Layer>::zeros();
        init::glorot_uniform(rng, D, G, layer.kernel.as_mut_slice());
        init::orthogonal(rng, U, G, layer.recurrent_kernel.as_mut_slice());
        layer.bias.as_mut_slice()[U..2 * U].fill(1.0);
        layer
    }

    fn weights(&self) -> Weights<'_> {
        Weights {
            kernel: self.kernel.as_slice(),
            recurrent: self.recurrent_kernel.as_slice(),
            bias: self.bias.as_slice(),
            recurrent_bias: &[],
        }
    }

    fn grads(&mut self) -> Grads<'_> {
        Grads {
            kernel: self.kernel.as_mut_slice(),
            recurrent: self.recurrent_kernel.as_mut_slice(),
            bias: self.bias.as_mut_slice(),
            recurrent_bias: &mut [],
        }
    }
}

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool, const G: usize> Layer
    for LSTM<T, D, U, SEQ, G>
{
    const PARAMS: usize = G * D + G * U + G;
    const INPUTS: usize = T * D;
    const OUTPUTS: usize = if SEQ { T * U } else { U };
    type In = f32;
    type Extra = RecurrentCache;
    recurrent_common!();
}

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool, const G: usize> GRU<T, D, U, SEQ, G> {
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

    fn weights(&self) -> Weights<'_> {
        let (bias, recurrent_bias) = self.bias.as_slice().split_at(G);
        Weights {
            kernel: self.kernel.as_slice(),
            recurrent: self.recurrent_kernel.as_slice(),
            bias,
            recurrent_bias,
        }
    }

    fn grads(&mut self) -> Grads<'_> {
        let (bias, recurrent_bias) = self.bias.as_mut_slice().split_at_mut(G);
        Grads {
            kernel: self.kernel.as_mut_slice(),
            recurrent: self.recurrent_kernel.as_mut_slice(),
            bias,
            recurrent_bias,
        }
    }
}

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool, const G: usize> Layer
    for GRU<T, D, U, SEQ, G>
{
    const PARAMS: usize = G * D + G * U + 2 * G;
    const INPUTS: usize = T * D;
    const OUTPUTS: usize = if SEQ { T * U } else { U };
    type In = f32;
    type Extra = RecurrentCache;
    recurrent_common!();
}

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool> SimpleRNN<T, D, U, SEQ> {
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

    fn weights(&self) -> Weights<'_> {
        Weights {
            kernel: self.kernel.as_slice(),
            recurrent: self.recurrent_kernel.as_slice(),
            bias: self.bias.as_slice(),
            recurrent_bias: &[],
        }
    }

    fn grads(&mut self) -> Grads<'_> {
        Grads {
            kernel: self.kernel.as_mut_slice(),
            recurrent: self.recurrent_kernel.as_mut_slice(),
            bias: self.bias.as_mut_slice(),
            recurrent_bias: &mut [],
        }
    }
}

impl<const T: usize, const D: usize, const U: usize, const SEQ: bool> Layer for SimpleRNN<T, D, U, SEQ> {
    const PARAMS: usize = U * D + U * U + U;
    const INPUTS: usize = T * D;
    const OUTPUTS: usize = if SEQ { T * U } else { U };
    type In = f32;
    type Extra = RecurrentCache;
    recurrent_common!();
}

// ---------------------------------------------------------------------------------------------
// The non-generic kernels.

/// Batch columns of the GEMMs over a chunk of steps (the input projections, the weight and
/// input gradients): a chunk of about this many columns is still in cache when it is consumed.
const GRAD_CHUNK_COLUMNS: usize = 256;

fn recurrent_forward(
    dims: &Dims,
    w: &Weights<'_>,
    x: &[f32],
    batch: usize,
    cache: &mut RecurrentCache,
    y: &mut [f32],
) {
    let Dims {
        cell,
        steps,
        inputs: d,
        units: u,
        seq: _,
    } = *dims;
    let g = dims.g();
    let (b, tb) = (batch, steps * batch);
    assert_eq!(x.len(), steps * d * b, "recurrent input has the wrong length");
    assert_eq!(
        y.len(),
        dims.outputs() * b,
        "recurrent output has the wrong length"
    );
    cache.batch = b;
    cache.consumed = false;
    fit_len(&mut cache.xs, d * tb);
    fit_len(&mut cache.gates, g * tb);
    fit_len(&mut cache.h, u * (tb + b));
    if cell == Cell::Lstm {
        fit_len(&mut cache.c, u * (tb + b));
        fit_len(&mut cache.tc, u * tb);
    }
    if cell == Cell::Gru {
        fit_len(&mut cache.rec, g * b);
        fit_len(&mut cache.rech, u * tb);
    }
    if b == 0 {
        return;
    }

    to_step_major(x, steps, b, d, &mut cache.xs);
    cache.h[..u * b].fill(0.0);
    if cell == Cell::Lstm {
        cache.c[..u * b].fill(0.0);
    }
    let (gb, ub) = (g * b, u * b);
    // The input projections `kernel · x + bias` of a chunk of steps at a time (one GEMM over
    // its batch columns), just before the steps consume them, so that they stay in cache.
    let chunk = (GRAD_CHUNK_COLUMNS / b).clamp(1, steps);
    for t in 0..steps {
        if t % chunk == 0 {
            let end = (t + chunk).min(steps);
            let gates = &mut cache.gates[t * gb..end * gb];
            fill_columns(gates, w.bias);
            let xs = &cache.xs[t * b * d..end * b * d];
            gemm(g, (end - t) * b, d, 1.0, w.kernel, Op::N, xs, Op::N, 1.0, gates);
        }
        let (prev, next) = cache.h.split_at_mut((t + 1) * ub);
        let (hp, hn) = (&prev[t * ub..], &mut next[..ub]);
        let gt = &mut cache.gates[t * gb..(t + 1) * gb];
        // The initial state is zero: no recurrent product at the first step.
        let first = t == 0;
        match cell {
            Cell::Lstm => {
                if !first {
                    gemm(g, b, u, 1.0, w.recurrent, Op::N, hp, Op::N, 1.0, gt);
                }
                let (cprev, cnext) = cache.c.split_at_mut((t + 1) * ub);
                let tc = &mut cache.tc[t * ub..(t + 1) * ub];
                lstm_step(u, gt, &cprev[t * ub..], &mut cnext[..ub], tc, hn);
            }
            Cell::Gru => {
                let rec = &mut cache.rec[..gb];
                fill_columns(rec, w.recurrent_bias);
                if !first {
                    gemm(g, b, u, 1.0, w.recurrent, Op::N, hp, Op::N, 1.0, rec);
                }
                let rech = &mut cache.rech[t * ub..(t + 1) * ub];
                gru_step(u, gt, rec, hp, hn, rech);
            }
            Cell::Simple => {
                if !first {
                    gemm(g, b, u, 1.0, w.recurrent, Op::N, hp, Op::N, 1.0, gt);
                }
                tanh_into(gt, hn);
            }
        }
    }

    if dims.seq {
        // Step-major states (blocks 1..=T) to the sample-major output.
        from_step_major(&cache.h[ub..], steps, b, u, y);
    } else {
        y.copy_from_slice(&cache.h[steps * ub..]);
    }
}

fn recurrent_backward(
    dims: &Dims,
    w: &Weights<'_>,
    batch: usize,
    cache: &mut RecurrentCache,
    dy: &[f32],
    grads: Grads<'_>,
    dx: Option<&mut [f32]>,
) {
    let Dims {
        cell,
        steps,
        inputs: d,
        units: u,
        seq,
    } = *dims;
    let g = dims.g();
    let (b, tb) = (batch, steps * batch);
    assert!(
        !cache.consumed && cache.batch == b && cache.gates.len() == g * tb && cache.h.len() == u * (tb + b),
        "recurrent backward_batch needs the forward pass of the same batch (one per backward pass)"
    );
    cache.consumed = true;
    assert_eq!(
        dy.len(),
        dims.outputs() * b,
        "recurrent output gradient has the wrong length"
    );
    if let Some(dx) = &dx {
        assert_eq!(
            dx.len(),
            steps * d * b,
            "recurrent input gradient has the wrong length"
        );
    }
    grads.kernel.fill(0.0);
    grads.recurrent.fill(0.0);
    grads.bias.fill(0.0);
    grads.recurrent_bias.fill(0.0);
    if b == 0 {
        return;
    }

    fit_len(&mut cache.rt, u * g);
    transpose(g, u, w.recurrent, &mut cache.rt);
    if dx.is_some() {
        fit_len(&mut cache.kt, d * g);
        transpose(g, d, w.kernel, &mut cache.kt);
    }
    let (gb, ub) = (g * b, u * b);
    fit_len(&mut cache.dh, ub);
    cache.dh.fill(0.0);
    if cell == Cell::Lstm {
        fit_len(&mut cache.dc, ub);
        cache.dc.fill(0.0);
    }
    if cell == Cell::Gru {
        fit_len(&mut cache.drec, g * tb);
    }

    let chunk = (GRAD_CHUNK_COLUMNS / b).clamp(1, steps);
    let mut end = steps;
    for t in (0..steps).rev() {
        // ∂L/∂h_t: from the output, plus (already in `dh`) from step t + 1.
        if seq {
            for (dh, dyc) in cache.dh.chunks_exact_mut(u).zip(dy.chunks_exact(steps * u)) {
                add(dh, &dyc[t * u..(t + 1) * u]);
            }
        } else if t == steps - 1 {
            add(&mut cache.dh, dy);
        }

        let gt = &mut cache.gates[t * gb..(t + 1) * gb];
        let hp = &cache.h[t * ub..(t + 1) * ub];
        // `dz`: the gradient of the step's recurrent projection, for ∂L/∂h_{t−1}.
        let dz: &[f32] = match cell {
            Cell::Lstm => {
                let cp = &cache.c[t * ub..(t + 1) * ub];
                let tc = &cache.tc[t * ub..(t + 1) * ub];
                lstm_step_back(u, gt, cp, tc, &cache.dh, &mut cache.dc);
                gt
            }
            Cell::Gru => {
                let rech = &cache.rech[t * ub..(t + 1) * ub];
                let drec = &mut cache.drec[t * gb..(t + 1) * gb];
                gru_step_back(u, gt, rech, hp, &mut cache.dh, drec);
                drec
            }
            Cell::Simple => {
                let ht = &cache.h[(t + 1) * ub..(t + 2) * ub];
                tanh_back(ht, &cache.dh, gt);
                gt
            }
        };
        if t > 0 {
            // ∂L/∂h_{t−1} = Rᵀ·dz (GRU: plus z·∂L/∂h_t, which the step left in `dh`).
            let beta = if cell == Cell::Gru { 1.0 } else { 0.0 };
            gemm(u, b, g, 1.0, &cache.rt, Op::N, dz, Op::N, beta, &mut cache.dh);
        }

        if t == 0 || end - t == chunk {
            // The weight and input gradients of steps t..end, while they are in cache.
            let (cols, x0) = ((end - t) * b, t * b);
            let dzx = &cache.gates[x0 * g..end * gb];
            let dzr = if cell == Cell::Gru {
                &cache.drec[x0 * g..end * gb]
            } else {
                dzx
            };
            let hs = &cache.h[x0 * u..end * ub];
            gemm(g, u, cols, 1.0, dzr, Op::N, hs, Op::T, 1.0, grads.recurrent);
            let xs = &mut cache.xs[x0 * d..end * b * d];
            gemm(g, d, cols, 1.0, dzx, Op::N, xs, Op::T, 1.0, grads.kernel);
            add_columns(grads.bias, dzx);
            if cell == Cell::Gru {
                add_columns(grads.recurrent_bias, dzr);
            }
            if dx.is_some() {
                // The chunk's inputs are no longer needed: ∂L/∂x replaces them.
                gemm(d, cols, g, 1.0, &cache.kt, Op::N, dzx, Op::N, 0.0, xs);
            }
            end = t;
        }
    }
    if let Some(dx) = dx {
        from_step_major(&cache.xs, steps, b, d, dx);
    }
}

/// Copies sample-major `x` (`n` floats per step, `steps` steps per sample, `batch` samples) to
/// step-major `xs` (column `t·batch + s`).
fn to_step_major(x: &[f32], steps: usize, batch: usize, n: usize, xs: &mut [f32]) {
    for (s, sample) in x.chunks_exact(steps * n).enumerate().take(batch) {
        for (t, col) in sample.chunks_exact(n).enumerate() {
            let at = (t * batch + s) * n;
            xs[at..at + n].copy_from_slice(col);
        }
    }
}

/// The inverse of [`to_step_major`].
fn from_step_major(xs: &[f32], steps: usize, batch: usize, n: usize, x: &mut [f32]) {
    for (s, sample) in x.chunks_exact_mut(steps * n).enumerate().take(batch) {
        for (t, col) in sample.chunks_exact_mut(n).enumerate() {
            let at = (t * batch + s) * n;
            col.copy_from_slice(&xs[at..at + n]);
        }
    }
}

/// Writes `bias` into every `bias.len()`-float column of `z`, with a few doubling copies rather
/// than one `memcpy` call per column.
fn fill_columns(z: &mut [f32], bias: &[f32]) {
    let f = bias.len();
    if z.len() < f || f == 0 {
        return;
    }
    z[..f].copy_from_slice(bias);
    let mut done = f;
    while done < z.len() {
        let n = done.min(z.len() - done);
        let (head, tail) = z.split_at_mut(done);
        tail[..n].copy_from_slice(&head[..n]);
        done += n;
    }
}

/// `sum += Σ_columns z` for the `sum.len()`-float columns of `z`.
fn add_columns(sum: &mut [f32], z: &[f32]) {
    for col in z.chunks_exact(sum.len()) {
        add(sum, col);
    }
}

/// `dst += src`.
#[inline]
fn add(dst: &mut [f32], src: &[f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// Defines a function whose body is compiled twice: for AVX-512F with FMA (used when the CPU
/// has them, so that its plain loops vectorise 16 lanes wide and [`fmadd`] is one instruction),
/// and portably. The body sees the const `FMA`, to pass on to the math functions.
macro_rules! simd_fn {
    ($(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn imp<const FMA: bool>($($arg: $ty),*) $body

            /// # Safety
            /// The CPU must support AVX-512F and FMA.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx512($($arg: $ty),*) {
                imp::<true>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports AVX-512F and FMA.
                    unsafe { avx512($($arg),*) };
                    return;
                }
            }
            imp::<false>($($arg),*)
        }
    };
}

// The element-wise kernels walk the batch's columns and hand each column's gate blocks to an
// `#[inline(always)]` function as separate slices: the blocks are parts of one buffer, and only
// as distinct arguments (which LLVM keeps as no-alias scopes when inlining) do the loops that
// write several of them vectorise.

simd_fn! {
    /// One LSTM step on a `4U × B` block of pre-activations (gates `i, f, c, o`), which it
    /// overwrites with the activated gates; writes the cell states, their `tanh` and the states.
    fn lstm_step(u: usize, gates: &mut [f32], c_prev: &[f32], c: &mut [f32], tc: &mut [f32], h: &mut [f32]) {
        let cols = gates
            .chunks_exact_mut(4 * u)
            .zip(c_prev.chunks_exact(u))
            .zip(c.chunks_exact_mut(u))
            .zip(tc.chunks_exact_mut(u))
            .zip(h.chunks_exact_mut(u));
        for ((((gc, cp), cc), tcc), hc) in cols {
            let (gi, rest) = gc.split_at_mut(u);
            let (gf, rest) = rest.split_at_mut(u);
            let (gg, go) = rest.split_at_mut(u);
            lstm_column::<FMA>(gi, gf, gg, go, cp, cc, tcc, hc);
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lstm_column<const FMA: bool>(
    gi: &mut [f32],
    gf: &mut [f32],
    gg: &mut [f32],
    go: &mut [f32],
    cp: &[f32],
    c: &mut [f32],
    tc: &mut [f32],
    h: &mut [f32],
) {
    let u = gi.len();
    let (gf, gg, go) = (&mut gf[..u], &mut gg[..u], &mut go[..u]);
    let (cp, c, tc, h) = (&cp[..u], &mut c[..u], &mut tc[..u], &mut h[..u]);
    for k in 0..u {
        let i = sigmoid::<FMA>(gi[k]);
        let f = sigmoid::<FMA>(gf[k]);
        let cand = tanh::<FMA>(gg[k]);
        let o = sigmoid::<FMA>(go[k]);
        let cn = fmadd::<FMA>(f, cp[k], i * cand);
        let t = tanh::<FMA>(cn);
        gi[k] = i;
        gf[k] = f;
        gg[k] = cand;
        go[k] = o;
        c[k] = cn;
        tc[k] = t;
        h[k] = o * t;
    }
}

simd_fn! {
    /// The adjoint of [`lstm_step`]: turns the activated gates into the gradients of their
    /// pre-activations, given `∂L/∂h_t` (`dh`) and `∂L/∂c_t` from step `t + 1` (`dc`), which it
    /// replaces with `∂L/∂c_{t−1}`'s part through `c_t`.
    fn lstm_step_back(u: usize, gates: &mut [f32], c_prev: &[f32], tc: &[f32], dh: &[f32], dc: &mut [f32]) {
        let cols = gates
            .chunks_exact_mut(4 * u)
            .zip(c_prev.chunks_exact(u))
            .zip(tc.chunks_exact(u))
            .zip(dh.chunks_exact(u))
            .zip(dc.chunks_exact_mut(u));
        for ((((gc, cp), tcc), dhc), dcc) in cols {
            let (gi, rest) = gc.split_at_mut(u);
            let (gf, rest) = rest.split_at_mut(u);
            let (gg, go) = rest.split_at_mut(u);
            lstm_column_back(gi, gf, gg, go, cp, tcc, dhc, dcc);
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lstm_column_back(
    gi: &mut [f32],
    gf: &mut [f32],
    gg: &mut [f32],
    go: &mut [f32],
    cp: &[f32],
    tc: &[f32],
    dh: &[f32],
    dc: &mut [f32],
) {
    let u = gi.len();
    let (gf, gg, go) = (&mut gf[..u], &mut gg[..u], &mut go[..u]);
    let (cp, tc, dh, dc) = (&cp[..u], &tc[..u], &dh[..u], &mut dc[..u]);
    for k in 0..u {
        let (i, f, cand, o) = (gi[k], gf[k], gg[k], go[k]);
        let (t, d) = (tc[k], dh[k]);
        let dct = dc[k] + d * o * (1.0 - t * t);
        dc[k] = dct * f;
        gi[k] = dct * cand * i * (1.0 - i);
        gf[k] = dct * cp[k] * f * (1.0 - f);
        gg[k] = dct * i * (1.0 - cand * cand);
        go[k] = d * t * o * (1.0 - o);
    }
}

simd_fn! {
    /// One GRU step: `gates` holds the input projections `x_z, x_r, x_h` (input bias included)
    /// and becomes `z, r, ĥ`; `rec` holds the recurrent projections (recurrent bias included),
    /// whose candidate block is kept in `rech`; `h` receives the new states.
    fn gru_step(u: usize, gates: &mut [f32], rec: &[f32], h_prev: &[f32], h: &mut [f32], rech: &mut [f32]) {
        let cols = gates
            .chunks_exact_mut(3 * u)
            .zip(rec.chunks_exact(3 * u))
            .zip(h_prev.chunks_exact(u))
            .zip(h.chunks_exact_mut(u))
            .zip(rech.chunks_exact_mut(u));
        for ((((gc, rc), hp), hc), rhc) in cols {
            let (gz, rest) = gc.split_at_mut(u);
            let (gr, gh) = rest.split_at_mut(u);
            gru_column::<FMA>(gz, gr, gh, rc, hp, hc, rhc);
        }
    }
}

#[inline(always)]
fn gru_column<const FMA: bool>(
    gz: &mut [f32],
    gr: &mut [f32],
    gh: &mut [f32],
    rec: &[f32],
    hp: &[f32],
    h: &mut [f32],
    rech: &mut [f32],
) {
    let u = gz.len();
    let (gr, gh) = (&mut gr[..u], &mut gh[..u]);
    let (rz, rr, rh) = (&rec[..u], &rec[u..2 * u], &rec[2 * u..3 * u]);
    let (hp, h, rech) = (&hp[..u], &mut h[..u], &mut rech[..u]);
    for k in 0..u {
        let z = sigmoid::<FMA>(gz[k] + rz[k]);
        let r = sigmoid::<FMA>(gr[k] + rr[k]);
        let cand = tanh::<FMA>(fmadd::<FMA>(r, rh[k], gh[k]));
        gz[k] = z;
        gr[k] = r;
        gh[k] = cand;
        rech[k] = rh[k];
        h[k] = z * hp[k] + (1.0 - z) * cand;
    }
}

simd_fn! {
    /// The adjoint of [`gru_step`]: `gates` (`z, r, ĥ`) becomes the gradient of the input
    /// projections, `drec` receives that of the recurrent projections, and `dh` (`∂L/∂h_t`)
    /// becomes the direct part of `∂L/∂h_{t−1}`, `z·∂L/∂h_t`.
    fn gru_step_back(u: usize, gates: &mut [f32], rech: &[f32], h_prev: &[f32], dh: &mut [f32], drec: &mut [f32]) {
        let cols = gates
            .chunks_exact_mut(3 * u)
            .zip(rech.chunks_exact(u))
            .zip(h_prev.chunks_exact(u))
            .zip(dh.chunks_exact_mut(u))
            .zip(drec.chunks_exact_mut(3 * u));
        for ((((gc, rhc), hp), dhc), drc) in cols {
            let (gz, rest) = gc.split_at_mut(u);
            let (gr, gh) = rest.split_at_mut(u);
            let (dz, rest) = drc.split_at_mut(u);
            let (dr, dhh) = rest.split_at_mut(u);
            gru_column_back(gz, gr, gh, rhc, hp, dhc, dz, dr, dhh);
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gru_column_back(
    gz: &mut [f32],
    gr: &mut [f32],
    gh: &mut [f32],
    rech: &[f32],
    hp: &[f32],
    dh: &mut [f32],
    dz: &mut [f32],
    dr: &mut [f32],
    dhh: &mut [f32],
) {
    let u = gz.len();
    let (gr, gh) = (&mut gr[..u], &mut gh[..u]);
    let (rech, hp, dh) = (&rech[..u], &hp[..u], &mut dh[..u]);
    let (dz, dr, dhh) = (&mut dz[..u], &mut dr[..u], &mut dhh[..u]);
    for k in 0..u {
        let (z, r, cand, d) = (gz[k], gr[k], gh[k], dh[k]);
        let dzz = d * (hp[k] - cand) * z * (1.0 - z);
        let dzh = d * (1.0 - z) * (1.0 - cand * cand);
        let dzr = dzh * rech[k] * r * (1.0 - r);
        gz[k] = dzz;
        gr[k] = dzr;
        gh[k] = dzh;
        dz[k] = dzz;
        dr[k] = dzr;
        dhh[k] = dzh * r;
        dh[k] = d * z;
    }
}

simd_fn! {
    /// `h = tanh(z)`.
    fn tanh_into(z: &[f32], h: &mut [f32]) {
        let n = h.len();
        let z = &z[..n];
        for k in 0..n {
            h[k] = tanh::<FMA>(z[k]);
        }
    }
}

simd_fn! {
    /// `dz = dh · (1 − h²)`.
    fn tanh_back(h: &[f32], dh: &[f32], dz: &mut [f32]) {
        let n = dz.len();
        let (h, dh) = (&h[..n], &dh[..n]);
        for k in 0..n {
            dz[k] = dh[k] * (1.0 - h[k] * h[k]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Vectorisable `exp`, `sigmoid` and `tanh`.

/// `a·b + c`: one fused instruction with `FMA` (only set where the CPU has it: `mul_add` is a
/// slow libm call otherwise), else a product and a sum.
#[inline(always)]
fn fmadd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// `(2ⁿ, eʳ − 1)` where `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2`, for `x` clamped to `[−87, 88]`
/// (Cephes's `expf`: `eʳ − 1 = r + r²·P(r)` with a degree-5 `P`, to about 1 ulp), in operations
/// that vectorise. NaN stays NaN.
#[inline(always)]
fn exp_parts<const FMA: bool>(x: f32) -> (f32, f32) {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    // ln 2 in two parts, the first with few enough bits that `n·LN2_HI` is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding it rounds to an integer, left in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = fmadd::<FMA>(x, LOG2E, ROUND);
    let n = t - ROUND;
    let r = fmadd::<FMA>(-n, LN2_LO, fmadd::<FMA>(-n, LN2_HI, x));
    let p = 1.987_569_2e-4;
    let p = fmadd::<FMA>(p, r, 1.398_199_9e-3);
    let p = fmadd::<FMA>(p, r, 8.333_452e-3);
    let p = fmadd::<FMA>(p, r, 4.166_579_6e-2);
    let p = fmadd::<FMA>(p, r, 1.666_666_5e-1);
    let p = fmadd::<FMA>(p, r, 0.5);
    let q = fmadd::<FMA>(p, r * r, r);
    // `t`'s bits are those of 1.5·2²³ plus `n`; shifted left by 23 only `n + 127` survives, as
    // the exponent field of 2ⁿ (`n` lies in [−126, 127]).
    (f32::from_bits(t.to_bits().wrapping_add(127) << 23), q)
}

/// `eˣ` for `x ≥ −87` (below, `e⁻⁸⁷`), to about 1 ulp.
#[inline(always)]
fn exp<const FMA: bool>(x: f32) -> f32 {
    let (s, q) = exp_parts::<FMA>(x);
    fmadd::<FMA>(s, q, s)
}

/// `eˣ − 1` for `x ≥ −87`, accurate relative to the result also near 0: `2ⁿ·(eʳ − 1) + (2ⁿ − 1)`
/// is `eʳ − 1` itself when `n = 0`, and `|eˣ − 1| > 0.29` otherwise.
#[inline(always)]
fn expm1<const FMA: bool>(x: f32) -> f32 {
    let (s, q) = exp_parts::<FMA>(x);
    fmadd::<FMA>(s, q, s - 1.0)
}

/// `1 / (1 + e⁻ˣ)`.
#[inline(always)]
fn sigmoid<const FMA: bool>(x: f32) -> f32 {
    1.0 / (1.0 + exp::<FMA>(-x))
}

/// `tanh x = −m / (2 + m)` with `m = e^{−2|x|} − 1 ∈ (−1, 0]` and the sign of `x`: no
/// cancellation anywhere, so the result is good to a few ulps relative, small `x` included.
#[inline(always)]
fn tanh<const FMA: bool>(x: f32) -> f32 {
    let m = expm1::<FMA>(-2.0 * x.abs());
    (-m / (2.0 + m)).copysign(x)
}

// ---------------------------------------------------------------------------------------------
// Pooling over time.

/// Keras's `GlobalAveragePooling1D()`: the mean over the `T` steps of each of the `D` features,
/// `D` outputs. (The same computation as [`GlobalAveragePooling2D`] on a `T × 1 × D` image.)
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalAveragePooling1D<const T: usize, const D: usize>;

/// Keras's `GlobalMaxPooling1D()`: the maximum over the `T` steps of each of the `D` features,
/// `D` outputs; on a tie the gradient goes to the first step holding the maximum. (The same
/// computation as [`GlobalMaxPooling2D`] on a `T × 1 × D` image.)
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalMaxPooling1D<const T: usize, const D: usize>;

/// Forwards the whole `Layer` implementation to the 2-D global pooling of a `T × 1 × D` image.
macro_rules! pool_over_time {
    ($name:ident, $image:ident) => {
        impl<const T: usize, const D: usize> Layer for $name<T, D> {
            const PARAMS: usize = 0;
            const INPUTS: usize = T * D;
            const OUTPUTS: usize = D;
            type In = f32;
            type Extra = <$image<T, 1, D> as Layer>::Extra;

            fn zeros() -> Self {
                <$image<T, 1, D> as Layer>::zeros();
                Self
            }

            fn for_each_param<'a>(&'a self, _f: &mut impl FnMut(&'static str, &'a [f32])) {}

            fn for_each_param_mut(&mut self, _f: &mut impl FnMut(&'static str, &mut [f32])) {}

            fn zip_params_mut(&mut self, _other: &Self, _f: &mut impl FnMut(&mut [f32], &[f32])) {}

            #[inline]
            fn forward_batch(
                &self,
                x: &[f32],
                batch: usize,
                buf: &mut Buffers<Self::Extra>,
                activation: Activation,
                training: bool,
            ) {
                $image::<T, 1, D>.forward_batch(x, batch, buf, activation, training);
            }

            fn pre_activation<'a>(extra: &'a Self::Extra, y: &'a [f32]) -> &'a [f32] {
                <$image<T, 1, D> as Layer>::pre_activation(extra, y)
            }

            #[inline]
            fn backward_batch(
                &self,
                x: &[f32],
                batch: usize,
                buf: &mut Buffers<Self::Extra>,
                activation: Activation,
                _grads: &mut Self,
                dx: Option<&mut [f32]>,
            ) {
                $image::<T, 1, D>.backward_batch(x, batch, buf, activation, &mut $image, dx);
            }
        }
    };
}

pool_over_time!(GlobalAveragePooling1D, GlobalAveragePooling2D);
pool_over_time!(GlobalMaxPooling1D, GlobalMaxPooling2D);

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorisable functions against f64, with and without FMA (`mul_add` is exact either
    /// way, a libm call without the CPU feature), over a dense grid covering saturation and the
    /// clamp of `exp`, and over tiny arguments.
    fn check_math<const FMA: bool>() {
        let (mut worst_exp, mut worst_sig, mut worst_tanh) = (0.0f64, 0.0f64, 0.0f64);
        let rel = |got: f32, want: f64| {
            if want == 0.0 {
                (got as f64).abs()
            } else {
                ((got as f64 - want) / want).abs()
            }
        };
        let mut grid: Vec<f32> = Vec::new();
        let mut x = -90.0f32;
        while x <= 90.0 {
            grid.push(x);
            x += if x.abs() < 1.0 { 1.0 / 4096.0 } else { 1.0 / 256.0 };
        }
        for e in -40..0 {
            let v = 10f32.powi(e) * 1.2345;
            grid.extend([v, -v]);
        }
        for &x in &grid {
            let xd = x as f64;
            if (-87.0..=88.0).contains(&x) {
                worst_exp = worst_exp.max(rel(exp::<FMA>(x), xd.exp()));
            }
            if x >= -80.0 {
                // Below, σ(x) < 1.8e-35: only its smallness matters.
                worst_sig = worst_sig.max(rel(sigmoid::<FMA>(x), 1.0 / (1.0 + (-xd).exp())));
            }
            worst_tanh = worst_tanh.max(rel(tanh::<FMA>(x), xd.tanh()));
        }
        eprintln!(
            "FMA {FMA}: worst relative errors: exp {worst_exp:e}, sigmoid {worst_sig:e}, tanh {worst_tanh:e}"
        );
        assert!(worst_exp < 3e-7, "exp: {worst_exp:e}");
        assert!(worst_sig < 5e-7, "sigmoid: {worst_sig:e}");
        assert!(worst_tanh < 5e-7, "tanh: {worst_tanh:e}");
        assert_eq!(tanh::<FMA>(1e-20), 1e-20);
        assert_eq!(tanh::<FMA>(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(sigmoid::<FMA>(0.0), 0.5);
        assert!(exp::<FMA>(f32::NAN).is_nan());
        assert!(tanh::<FMA>(f32::NAN).is_nan() && sigmoid::<FMA>(f32::NAN).is_nan());
        assert_eq!(tanh::<FMA>(100.0), 1.0);
        assert_eq!(tanh::<FMA>(-100.0), -1.0);
        assert_eq!(tanh::<FMA>(f32::INFINITY), 1.0);
        assert!((0.0..1e-37).contains(&sigmoid::<FMA>(-200.0)));
        assert_eq!(sigmoid::<FMA>(200.0), 1.0);
    }

    #[test]
    fn exp_sigmoid_tanh_are_accurate() {
        check_math::<false>();
        check_math::<true>();
    }

    #[test]
    fn step_major_round_trips() {
        let (steps, batch, n) = (3, 4, 5);
        let x: Vec<f32> = (0..steps * batch * n).map(|v| v as f32).collect();
        let mut xs = vec![0.0; x.len()];
        to_step_major(&x, steps, batch, n, &mut xs);
        // Sample 2, step 1, feature 3 lies at column 1·4 + 2.
        assert_eq!(xs[(4 + 2) * n + 3], x[(2 * steps + 1) * n + 3]);
        let mut back = vec![0.0; x.len()];
        from_step_major(&xs, steps, batch, n, &mut back);
        assert_eq!(back, x);
    }
}
