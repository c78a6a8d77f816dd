//! Pooling over time: `GlobalAveragePooling1D` and `GlobalMaxPooling1D`, the 2-D global poolings
//! on a `T × 1 × D` image; the average also honours the padding mask.

use crate::activation::Activation;
use crate::layers::{
    Buffers, GlobalAveragePooling2D, GlobalMaxPooling2D, Layer, Mask, MaskedLayer, TrainingBytes, fit_len,
};

/// Keras's `GlobalAveragePooling1D()`: the mean over the `T` steps of each of the `D` features,
/// `D` outputs. (The same computation as [`GlobalAveragePooling2D`] on a `T × 1 × D` image.)
///
/// With the padding mask ([`MaskedLayer`]) the mean is over the unpadded steps only, as in
/// Keras. A sample that is all padding outputs zeros (and passes no gradient), where Keras
/// divides 0 by 0 and outputs NaN.
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
            // The masked average pass holds the same buffers.
            const TRAINING_BYTES: TrainingBytes = <$image<T, 1, D> as Layer>::TRAINING_BYTES;

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

impl<const T: usize, const D: usize> MaskedLayer for GlobalAveragePooling1D<T, D> {
    fn forward_masked(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _training: bool,
        mask: Mask<'_>,
    ) {
        const { assert!(T > 0 && D > 0, "GlobalAveragePooling1D: empty sequence") };
        let out = D * batch;
        fit_len(&mut buf.y, out);
        fit_len(&mut buf.dy, out);
        masked_mean(T, D, x, batch, mask, &mut buf.y);
    }

    fn backward_masked(
        &self,
        _x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _grads: &mut Self,
        dx: Option<&mut [f32]>,
        mask: Mask<'_>,
    ) {
        if let Some(dx) = dx {
            masked_mean_back(T, D, &buf.dy[..D * batch], batch, mask, dx);
        }
    }
}

/// `1 / (unpadded steps of the sample)`, or 0 for an all-padding sample (which has no steps to
/// average: its output is 0 rather than Keras's 0/0).
fn inverse_count(ids: &[u32]) -> f32 {
    let n = ids.iter().filter(|&&id| id != 0).count();
    if n == 0 { 0.0 } else { 1.0 / n as f32 }
}

/// `y` (`d × batch`) = the mean of each sample's unpadded steps of `x` (`steps × d` each).
fn masked_mean(steps: usize, d: usize, x: &[f32], batch: usize, mask: Mask<'_>, y: &mut [f32]) {
    assert_eq!(x.len(), steps * d * batch, "pooling input has the wrong length");
    assert_eq!(mask.len(), steps * batch, "pooling mask has the wrong length");
    let samples = x.chunks_exact(steps * d).zip(mask.chunks_exact(steps));
    for ((sample, ids), out) in samples.zip(y.chunks_exact_mut(d)) {
        out.fill(0.0);
        for (step, _) in sample.chunks_exact(d).zip(ids).filter(|(_, id)| **id != 0) {
            out.iter_mut().zip(step).for_each(|(o, &v)| *o += v);
        }
        let scale = inverse_count(ids);
        out.iter_mut().for_each(|o| *o *= scale);
    }
}

/// The adjoint of [`masked_mean`]: each unpadded step receives `dy / count`, padded ones 0.
fn masked_mean_back(steps: usize, d: usize, dy: &[f32], batch: usize, mask: Mask<'_>, dx: &mut [f32]) {
    assert_eq!(
        dx.len(),
        steps * d * batch,
        "pooling input gradient has the wrong length"
    );
    assert_eq!(mask.len(), steps * batch, "pooling mask has the wrong length");
    let samples = dx.chunks_exact_mut(steps * d).zip(mask.chunks_exact(steps));
    for ((sample, ids), g) in samples.zip(dy.chunks_exact(d)) {
        let scale = inverse_count(ids);
        for (step, &id) in sample.chunks_exact_mut(d).zip(ids) {
            if id == 0 {
                step.fill(0.0);
            } else {
                step.iter_mut().zip(g).for_each(|(s, &v)| *s = v * scale);
            }
        }
    }
}
