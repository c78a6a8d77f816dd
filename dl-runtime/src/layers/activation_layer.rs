//! `Activation(name)`: an activation as a layer of its own, as Keras's ResNet code writes
//! `Activation('relu')` after a `BatchNormalization` or an `Add`.

use super::{Buffers, Layer, TrainingBytes, bytes_of, fit_len, fused_with_loss, output_and_gradient};
use crate::activation::Activation;

/// Applies the activation `network!` passes to `N` values per sample; softmax normalises each
/// run of `F` values (the last axis). No parameters.
#[derive(Clone, Copy, Debug, Default)]
pub struct ActivationLayer<const N: usize, const F: usize>;

/// The input, kept only where a loss may fuse with the activation and read the pre-activations
/// (sigmoid, softmax); the backward pass reads the input it is given, so no other activation
/// needs a copy.
#[derive(Debug, Default)]
pub struct ActivationCache {
    z: Vec<f32>,
}

impl<const N: usize, const F: usize> Layer for ActivationLayer<N, F> {
    const PARAMS: usize = 0;
    const INPUTS: usize = N;
    const OUTPUTS: usize = N;
    type In = f32;
    type Extra = ActivationCache;
    const TRAINING_BYTES: TrainingBytes = TrainingBytes {
        fused_pre_activation: bytes_of::<f32>(N),
        ..TrainingBytes::always(output_and_gradient::<Self>())
    };

    fn zeros() -> Self {
        ActivationLayer
    }

    fn for_each_param<'a>(&'a self, _f: &mut impl FnMut(&'static str, &'a [f32])) {}

    fn for_each_param_mut(&mut self, _f: &mut impl FnMut(&'static str, &mut [f32])) {}

    fn zip_params_mut(&mut self, _other: &Self, _f: &mut impl FnMut(&mut [f32], &[f32])) {}

    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<ActivationCache>,
        activation: Activation,
        _training: bool,
    ) {
        assert_eq!(x.len(), N * batch, "Activation input has the wrong length");
        fit_len(&mut buf.y, N * batch);
        fit_len(&mut buf.dy, N * batch);
        activation.apply(x, &mut buf.y, F);
        if fused_with_loss(activation) {
            fit_len(&mut buf.extra.z, N * batch);
            buf.extra.z.copy_from_slice(x);
        } else {
            buf.extra.z.clear();
        }
    }

    fn pre_activation<'a>(extra: &'a ActivationCache, y: &'a [f32]) -> &'a [f32] {
        if extra.z.len() == y.len() { &extra.z } else { y }
    }

    fn backward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<ActivationCache>,
        activation: Activation,
        _grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        let Some(dx) = dx else { return };
        let len = N * batch;
        // The layer's input is its `z`.
        activation.backward_into(&x[..len], &buf.y[..len], &buf.dy[..len], &mut dx[..len], F);
    }
}
