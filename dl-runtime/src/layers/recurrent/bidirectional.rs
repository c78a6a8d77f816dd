//! Keras's `Bidirectional(layer)` with its default `merge_mode = "concat"`: a forward copy of a
//! recurrent layer, and a backward copy that reads every sample's steps in reverse order (Keras's
//! `go_backwards = True`), their outputs concatenated on the feature axis, forward first. With
//! `return_sequences`, the backward copy's output sequence is put back in input order first, so
//! that step `t` of the output holds both directions' state at input step `t`.
//!
//! Padding mask: each copy sees the mask in its own reading order, so the backward copy starts
//! with the trailing padding of a sample (which leaves its zero initial state unchanged). As Keras
//! forces `zero_output_for_mask` on both copies when they return sequences, a padded step's
//! output is zero in both halves (not the carried state a lone recurrent layer outputs).
//!
//! Weights: Keras's `bidirectional/forward_lstm/lstm_cell/kernel` is the tensor
//! `forward_lstm.kernel` here (file name `bidirectional.forward_lstm.kernel`), then the
//! recurrent kernel and bias, then the backward copy's three tensors.

use rand::Rng;

use super::{GRU, LSTM, RecurrentCache, SimpleRNN};
use crate::activation::Activation;
use crate::layers::{
    Buffers, Layer, Mask, MaskedLayer, TrainingBytes, bytes_of, fit_len, output_and_gradient,
};

/// A recurrent layer that [`Bidirectional`] can wrap: `LSTM`, `GRU` or `SimpleRNN`.
pub trait Recurrent: MaskedLayer<Extra = RecurrentCache> + Clone + core::fmt::Debug {
    /// Time steps `T`.
    const STEPS: usize;
    /// Input features per step `D`.
    const FEATURES: usize;
    /// Units `U`: output features per step.
    const UNITS: usize;
    /// `return_sequences`.
    const SEQUENCES: bool;
    /// The forward copy's tensor names (`forward_lstm.kernel`, …), in the inner layer's order.
    const FORWARD_NAMES: [&'static str; 3];
    /// The backward copy's tensor names.
    const BACKWARD_NAMES: [&'static str; 3];

    /// The layer with Keras's initialisers.
    fn init<R: Rng + ?Sized>(rng: &mut R) -> Self;
}

macro_rules! recurrent_kind {
    ($name:ident [$($p:ident: $t:ty),*] $keras:literal) => {
        impl<$(const $p: $t),*> Recurrent for $name<$($p),*> {
            const STEPS: usize = T;
            const FEATURES: usize = D;
            const UNITS: usize = U;
            const SEQUENCES: bool = SEQ;
            const FORWARD_NAMES: [&'static str; 3] = [
                concat!("forward_", $keras, ".kernel"),
                concat!("forward_", $keras, ".recurrent_kernel"),
                concat!("forward_", $keras, ".bias"),
            ];
            const BACKWARD_NAMES: [&'static str; 3] = [
                concat!("backward_", $keras, ".kernel"),
                concat!("backward_", $keras, ".recurrent_kernel"),
                concat!("backward_", $keras, ".bias"),
            ];

            fn init<R: Rng + ?Sized>(rng: &mut R) -> Self {
                Self::new(rng)
            }
        }
    };
}

recurrent_kind!(LSTM [T: usize, D: usize, U: usize, SEQ: bool, G: usize, BIAS: bool] "lstm");
recurrent_kind!(GRU [T: usize, D: usize, U: usize, SEQ: bool, G: usize, BIAS: bool] "gru");
recurrent_kind!(SimpleRNN [T: usize, D: usize, U: usize, SEQ: bool, BIAS: bool] "simple_rnn");

/// Keras's `Bidirectional(layer)` (`merge_mode = "concat"`) over the recurrent layer `L`:
/// `2·U` output features (per step with `return_sequences`), forward copy first.
#[derive(Clone, Debug)]
pub struct Bidirectional<L> {
    /// The copy that reads the steps in order.
    pub forward: L,
    /// The copy that reads them in reverse (Keras's `go_backwards`).
    pub backward: L,
}

/// Training buffers of [`Bidirectional`]: each copy's own buffers and the time-reversed
/// copies of the input, mask and input gradient.
#[derive(Debug, Default)]
pub struct BidirectionalCache {
    forward: Buffers<RecurrentCache>,
    backward: Buffers<RecurrentCache>,
    /// The batch with every sample's steps reversed (the backward copy's input).
    reversed: Vec<f32>,
    /// The mask in reverse step order, for a masked forward pass.
    mask: Vec<u32>,
    /// The backward copy's `∂L/∂x`, in its (reversed) step order.
    dx: Vec<f32>,
}

/// Reverses the `steps` blocks of `width` values of each of the `batch` samples of `src`.
fn reverse_steps<T: Copy>(src: &[T], steps: usize, width: usize, dst: &mut [T]) {
    let sample = steps * width;
    for (s, d) in src.chunks_exact(sample).zip(dst.chunks_exact_mut(sample)) {
        for (t, block) in s.chunks_exact(width).enumerate() {
            let r = steps - 1 - t;
            d[r * width..(r + 1) * width].copy_from_slice(block);
        }
    }
}

impl<L: Recurrent> Bidirectional<L> {
    /// Both copies with Keras's initialisers, forward first (as Keras builds them).
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self {
            forward: L::init(rng),
            backward: L::init(rng),
        }
    }

    /// Output features of one copy per sample.
    const HALF: usize = L::OUTPUTS;

    fn forward_impl(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BidirectionalCache>,
        training: bool,
        mask: Option<Mask<'_>>,
    ) {
        let (t, d, u) = (L::STEPS, L::FEATURES, L::UNITS);
        assert_eq!(
            x.len(),
            L::INPUTS * batch,
            "Bidirectional input has the wrong length"
        );
        let c = &mut buf.extra;
        fit_len(&mut c.reversed, x.len());
        reverse_steps(x, t, d, &mut c.reversed);
        let reversed_mask = mask.map(|m| {
            assert_eq!(m.len(), t * batch, "Bidirectional mask has the wrong length");
            if c.mask.len() != m.len() {
                c.mask.resize(m.len(), 0);
            }
            reverse_steps(m, t, 1, &mut c.mask);
            &c.mask[..]
        });
        let linear = Activation::Linear;
        match mask {
            Some(m) => {
                self.forward
                    .forward_masked(x, batch, &mut c.forward, linear, training, m);
                let rm = reversed_mask.expect("set with the mask");
                self.backward
                    .forward_masked(&c.reversed, batch, &mut c.backward, linear, training, rm);
            }
            None => {
                self.forward
                    .forward_batch(x, batch, &mut c.forward, linear, training);
                self.backward
                    .forward_batch(&c.reversed, batch, &mut c.backward, linear, training);
            }
        }

        let out = 2 * Self::HALF * batch;
        fit_len(&mut buf.y, out);
        fit_len(&mut buf.dy, out);
        let (f, b) = (&c.forward.y, &c.backward.y);
        if L::SEQUENCES {
            for s in 0..batch {
                for step in 0..t {
                    let o = (s * t + step) * 2 * u;
                    let padded = mask.is_some_and(|m| m[s * t + step] == 0);
                    let y = &mut buf.y[o..o + 2 * u];
                    if padded {
                        y.fill(0.0);
                        continue;
                    }
                    let fo = (s * t + step) * u;
                    let bo = (s * t + (t - 1 - step)) * u;
                    y[..u].copy_from_slice(&f[fo..fo + u]);
                    y[u..].copy_from_slice(&b[bo..bo + u]);
                }
            }
        } else {
            for s in 0..batch {
                let y = &mut buf.y[s * 2 * u..(s + 1) * 2 * u];
                y[..u].copy_from_slice(&f[s * u..(s + 1) * u]);
                y[u..].copy_from_slice(&b[s * u..(s + 1) * u]);
            }
        }
    }

    fn backward_impl(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BidirectionalCache>,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
        mask: Option<Mask<'_>>,
    ) {
        let (t, u) = (L::STEPS, L::UNITS);
        let c = &mut buf.extra;
        let dy = &buf.dy[..2 * Self::HALF * batch];
        // Split `∂L/∂y` between the copies, the backward half into its reading order. Padded
        // steps output a constant zero: no gradient reaches the copies through them.
        let (df, db) = (&mut c.forward.dy, &mut c.backward.dy);
        if L::SEQUENCES {
            for s in 0..batch {
                for step in 0..t {
                    let o = (s * t + step) * 2 * u;
                    let fo = (s * t + step) * u;
                    let bo = (s * t + (t - 1 - step)) * u;
                    if mask.is_some_and(|m| m[s * t + step] == 0) {
                        df[fo..fo + u].fill(0.0);
                        db[bo..bo + u].fill(0.0);
                    } else {
                        df[fo..fo + u].copy_from_slice(&dy[o..o + u]);
                        db[bo..bo + u].copy_from_slice(&dy[o + u..o + 2 * u]);
                    }
                }
            }
        } else {
            for s in 0..batch {
                let o = s * 2 * u;
                df[s * u..(s + 1) * u].copy_from_slice(&dy[o..o + u]);
                db[s * u..(s + 1) * u].copy_from_slice(&dy[o + u..o + 2 * u]);
            }
        }

        let linear = Activation::Linear;
        let mut dx = dx;
        if dx.is_some() {
            fit_len(&mut c.dx, x.len());
        }
        let dx_backward = dx.is_some().then_some(&mut c.dx[..]);
        match mask {
            Some(m) => {
                let f = &mut grads.forward;
                self.forward
                    .backward_masked(x, batch, &mut c.forward, linear, f, dx.as_deref_mut(), m);
                let b = &mut grads.backward;
                self.backward.backward_masked(
                    &c.reversed,
                    batch,
                    &mut c.backward,
                    linear,
                    b,
                    dx_backward,
                    &c.mask,
                );
            }
            None => {
                let f = &mut grads.forward;
                self.forward
                    .backward_batch(x, batch, &mut c.forward, linear, f, dx.as_deref_mut());
                let b = &mut grads.backward;
                self.backward
                    .backward_batch(&c.reversed, batch, &mut c.backward, linear, b, dx_backward);
            }
        }
        if let Some(dx) = dx {
            let d = L::FEATURES;
            let sample = t * d;
            for (out, rev) in dx.chunks_exact_mut(sample).zip(c.dx.chunks_exact(sample)) {
                for step in 0..t {
                    let r = (t - 1 - step) * d;
                    for (o, v) in out[step * d..(step + 1) * d].iter_mut().zip(&rev[r..r + d]) {
                        *o += v;
                    }
                }
            }
        }
    }
}

impl<L: Recurrent> Layer for Bidirectional<L> {
    const PARAMS: usize = 2 * L::PARAMS;
    const INPUTS: usize = L::INPUTS;
    const OUTPUTS: usize = 2 * L::OUTPUTS;
    type In = f32;
    type Extra = BidirectionalCache;
    // Both copies' buffers, the reversed input, and the reversed mask and input gradient when
    // they are used.
    const TRAINING_BYTES: TrainingBytes = {
        let inner = L::TRAINING_BYTES;
        TrainingBytes {
            always: output_and_gradient::<Self>() + 2 * inner.always + bytes_of::<f32>(L::INPUTS),
            pre_activation: 2 * inner.pre_activation,
            input_gradient: 2 * inner.input_gradient + bytes_of::<f32>(L::INPUTS),
            masked: 2 * inner.masked + bytes_of::<u32>(L::STEPS),
            fused_pre_activation: 2 * inner.fused_pre_activation,
        }
    };

    fn zeros() -> Self {
        Self {
            forward: L::zeros(),
            backward: L::zeros(),
        }
    }

    fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
        let mut i = 0;
        self.forward.for_each_param(&mut |_, p| {
            f(L::FORWARD_NAMES[i], p);
            i += 1;
        });
        let mut i = 0;
        self.backward.for_each_param(&mut |_, p| {
            f(L::BACKWARD_NAMES[i], p);
            i += 1;
        });
    }

    fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
        let mut i = 0;
        self.forward.for_each_param_mut(&mut |_, p| {
            f(L::FORWARD_NAMES[i], p);
            i += 1;
        });
        let mut i = 0;
        self.backward.for_each_param_mut(&mut |_, p| {
            f(L::BACKWARD_NAMES[i], p);
            i += 1;
        });
    }

    fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        self.forward.zip_params_mut(&other.forward, f);
        self.backward.zip_params_mut(&other.backward, f);
    }

    #[inline]
    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BidirectionalCache>,
        _activation: Activation,
        training: bool,
    ) {
        self.forward_impl(x, batch, buf, training, None);
    }

    fn pre_activation<'a>(_extra: &'a BidirectionalCache, y: &'a [f32]) -> &'a [f32] {
        y
    }

    #[inline]
    fn backward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BidirectionalCache>,
        _activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        self.backward_impl(x, batch, buf, grads, dx, None);
    }
}

impl<L: Recurrent> MaskedLayer for Bidirectional<L> {
    #[inline]
    fn forward_masked(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<BidirectionalCache>,
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
        buf: &mut Buffers<BidirectionalCache>,
        _activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
        mask: Mask<'_>,
    ) {
        self.backward_impl(x, batch, buf, grads, dx, Some(mask));
    }
}
