//! `Dropout(rate)`: during training, zeroes each value with probability `rate` and scales the
//! survivors by `1 / (1 − rate)` (Keras's inverted dropout); at inference, the identity.
//!
//! The rate travels as the bits of an `f32` const parameter (floats cannot be const generics).
//! The masks are a function of `SEED`, the training step and the sample's place in the step's
//! batch (see [`draw_key`]), not of how many masks were drawn before: a run is reproducible, a
//! resumed run draws what an uninterrupted one would, and a shard of a batch draws what the
//! whole batch would for its samples. The mask of a batch is kept in the training cache for the
//! backward pass.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Buffers, Layer, TrainingBytes, bytes_of, fit_len, output_and_gradient};
use crate::activation::Activation;
use crate::simd::simd_fn;

/// Dropout over `N` values per sample at rate `f32::from_bits(RATE_BITS)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dropout<const N: usize, const RATE_BITS: u32, const SEED: u64>;

impl<const N: usize, const RATE_BITS: u32, const SEED: u64> Dropout<N, RATE_BITS, SEED> {
    /// The fraction of values dropped in training.
    pub const RATE: f32 = f32::from_bits(RATE_BITS);
    const CHECK: () = assert!(
        Self::RATE >= 0.0 && Self::RATE < 1.0,
        "dropout rate must be in [0, 1)"
    );
}

/// Where the masks of a training forward pass are drawn from: step `step` of training (counted
/// from the start of the whole training, as [`Trainer`](crate::train::Trainer) counts them), for
/// a batch whose first sample is sample `first` of the step's batch (non-zero for the shards of a
/// data-parallel step). Packed into the `u64` that [`Layer::set_stream`] passes: the step in the
/// high 32 bits, the sample in the low 32.
///
/// Dropout draws the mask of sample `j` of step `s` from words `j·N ..` of ChaCha8 stream `s mod
/// 2³²` under its `SEED`. Keyed by position, a mask does not depend on the draws before it, so a
/// run resumed at an epoch boundary, or a batch cut into shards, draws exactly what one
/// uninterrupted, unsharded run does. (After 2³² steps the streams repeat; batches of 2³²
/// samples and more are beyond any memory.)
pub(crate) fn draw_key(step: usize, first: usize) -> u64 {
    ((step as u64) << 32) | (first as u64 & 0xffff_ffff)
}

/// Training cache: the mask of the last training batch (`kept / (1 − rate)` or 0 per value).
#[derive(Debug, Clone, Default)]
pub struct DropoutCache {
    mask: Vec<f32>,
    masked: bool,
    /// The [`draw_key`] of the next training forward pass in this workspace.
    key: u64,
}

impl<const N: usize, const RATE_BITS: u32, const SEED: u64> Layer for Dropout<N, RATE_BITS, SEED> {
    const PARAMS: usize = 0;
    const INPUTS: usize = N;
    const OUTPUTS: usize = N;
    type In = f32;
    type Extra = DropoutCache;
    // The mask, unless nothing is dropped.
    const TRAINING_BYTES: TrainingBytes = TrainingBytes::always(
        output_and_gradient::<Self>() + if Self::RATE > 0.0 { bytes_of::<f32>(N) } else { 0 },
    );

    fn zeros() -> Self {
        let () = Self::CHECK;
        Dropout
    }

    fn for_each_param<'a>(&'a self, _f: &mut impl FnMut(&'static str, &'a [f32])) {}

    fn for_each_param_mut(&mut self, _f: &mut impl FnMut(&'static str, &mut [f32])) {}

    fn zip_params_mut(&mut self, _other: &Self, _f: &mut impl FnMut(&mut [f32], &[f32])) {}

    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<DropoutCache>,
        _activation: Activation,
        training: bool,
    ) {
        let () = Self::CHECK;
        let len = N * batch;
        fit_len(&mut buf.y, len);
        fit_len(&mut buf.dy, len);
        let cache = &mut buf.extra;
        cache.masked = training && Self::RATE > 0.0;
        if !cache.masked {
            buf.y.copy_from_slice(&x[..len]);
            return;
        }
        fit_len(&mut cache.mask, len);
        // Positioned afresh at every pass (seeding costs a few hashes of 32 bytes), so that the
        // mask depends only on the key, whatever this workspace drew before.
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        rng.set_stream(cache.key >> 32);
        rng.set_word_pos(u128::from(cache.key & 0xffff_ffff) * N as u128);
        // The stream's words, drawn in bulk into the mask's memory: `fill_bytes` hands out the
        // words `next_u32` would, in order (little-endian bytes), so each becomes the `f32`
        // that `rng.random::<f32>()` makes of it, without a call and a bounds check per value.
        rng.fill_bytes(bytemuck::cast_slice_mut(&mut cache.mask[..]));
        mask_and_scale(&mut cache.mask, &x[..len], &mut buf.y, Self::RATE);
    }

    fn pre_activation<'a>(_extra: &'a DropoutCache, y: &'a [f32]) -> &'a [f32] {
        y
    }

    fn set_stream(extra: &mut DropoutCache, key: u64) {
        extra.key = key;
    }

    fn backward_batch(
        &self,
        _x: &[f32],
        batch: usize,
        buf: &mut Buffers<DropoutCache>,
        _activation: Activation,
        _grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        let len = N * batch;
        let Some(dx) = dx else { return };
        if buf.extra.masked {
            for ((d, &g), &m) in dx[..len].iter_mut().zip(&buf.dy).zip(&buf.extra.mask) {
                *d = g * m;
            }
        } else {
            dx[..len].copy_from_slice(&buf.dy[..len]);
        }
    }
}

simd_fn! {
    /// Turns each random word of `mask` (its bits) into `1 / (1 − rate)` where the uniform value
    /// `rng.random::<f32>()` makes of it (the word's top 24 bits times 2⁻²⁴) is at least `rate`,
    /// 0 where it is below, and writes `y = x · mask`.
    fn mask_and_scale(mask: &mut [f32], x: &[f32], y: &mut [f32], rate: f32) {
        let scale = 1.0 / (1.0 - rate);
        for ((m, &x), y) in mask.iter_mut().zip(x).zip(y.iter_mut()) {
            let uniform = (u32::from_le(m.to_bits()) >> 8) as f32 * (1.0 / (1u32 << 24) as f32);
            *m = if uniform >= rate { scale } else { 0.0 };
            *y = x * *m;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    type Half = Dropout<4, 0x3f00_0000, 7>; // rate 0.5

    /// The masks drawn in bulk are those of one `rng.random::<f32>()` per value, at any rate
    /// and key: the bits of every run that trained with dropout stay the same.
    #[test]
    fn bulk_masks_are_the_per_value_draws() {
        type Fifth = Dropout<7, 0x3e4c_cccd, 11>; // rate 0.2
        let x: Vec<f32> = (0..7 * 33).map(|i| i as f32 * 0.5 - 3.0).collect();
        for key in [0, 5, (3u64 << 32) | 9] {
            let mut buf = Buffers::<DropoutCache>::default();
            Fifth::set_stream(&mut buf.extra, key);
            Fifth::zeros().forward_batch(&x, 33, &mut buf, Activation::Linear, true);
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            rng.set_stream(key >> 32);
            rng.set_word_pos(u128::from(key & 0xffff_ffff) * 7);
            let scale = 1.0 / (1.0 - Fifth::RATE);
            let want: Vec<f32> = x
                .iter()
                .map(|&v| {
                    v * if rng.random::<f32>() >= Fifth::RATE {
                        scale
                    } else {
                        0.0
                    }
                })
                .collect();
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&buf.y), bits(&want), "key {key}");
        }
    }

    #[test]
    fn inverted_dropout_in_training_identity_in_inference() {
        let layer = Half::zeros();
        let x: Vec<f32> = (0..4 * 500).map(|i| 1.0 + i as f32 * 1e-3).collect();
        let mut buf = Buffers::<DropoutCache>::default();
        layer.forward_batch(&x, 500, &mut buf, Activation::Linear, false);
        assert_eq!(buf.y, x);

        layer.forward_batch(&x, 500, &mut buf, Activation::Linear, true);
        let dropped = buf.y.iter().filter(|&&v| v == 0.0).count();
        assert!(
            (900..1100).contains(&dropped),
            "{dropped} of 2000 dropped at rate 0.5"
        );
        for (y, x) in buf.y.iter().zip(&x) {
            assert!(*y == 0.0 || *y == 2.0 * x);
        }
        // The backward pass uses the same mask (the finite-difference check of a fixed mask:
        // y is linear in x, so ∂L/∂x = mask · ∂L/∂y exactly).
        buf.dy.iter_mut().enumerate().for_each(|(i, d)| *d = i as f32);
        let mut dx = vec![f32::NAN; x.len()];
        layer.backward_batch(
            &x,
            500,
            &mut buf,
            Activation::Linear,
            &mut Half::zeros(),
            Some(&mut dx),
        );
        for i in 0..x.len() {
            let mask = buf.y[i] / x[i];
            assert_eq!(dx[i], mask * i as f32);
        }
        // Seeded: a fresh cache repeats the masks.
        let mut again = Buffers::<DropoutCache>::default();
        let first = buf.y.clone();
        let mut fresh = Buffers::<DropoutCache>::default();
        layer.forward_batch(&x, 500, &mut fresh, Activation::Linear, true);
        layer.forward_batch(&x, 500, &mut again, Activation::Linear, true);
        assert_eq!(fresh.y, again.y);
        assert_eq!(fresh.y, first);
    }

    /// The masks follow the key alone: a batch's tail drawn on its own at its first sample's
    /// place is the tail of the whole batch's masks (a shard, or a resumed run, draws what the
    /// whole uninterrupted batch would), the same key drawn twice repeats, and another step
    /// draws other masks.
    #[test]
    fn masks_are_placed_by_step_and_sample() {
        let layer = Half::zeros();
        let x = [1.0f32; 4 * 9];
        let masks = |step: usize, first: usize, batch: usize, buf: &mut Buffers<DropoutCache>| {
            Half::set_stream(&mut buf.extra, draw_key(step, first));
            layer.forward_batch(&x[..4 * batch], batch, buf, Activation::Linear, true);
            buf.y.clone()
        };
        let mut buf = Buffers::<DropoutCache>::default();
        let whole = masks(6, 0, 9, &mut buf);
        assert!(whole.contains(&0.0) && whole.contains(&2.0));
        for first in [1, 4, 8] {
            let mut shard = Buffers::<DropoutCache>::default();
            let tail = masks(6, first, 9 - first, &mut shard);
            assert_eq!(tail, whole[4 * first..], "samples from {first}");
        }
        assert_eq!(masks(6, 0, 9, &mut buf), whole, "the same key drew other masks");
        assert_ne!(masks(7, 0, 9, &mut buf), whole, "step 7 repeated step 6");
    }
}
