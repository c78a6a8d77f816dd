//! `Flatten()`: the identity on the flat layout.
//!
//! Layout: every layer already stores a sample as one contiguous run of features (an image in
//! HWC order, element `(h·W + w)·C + c`, exactly Keras's row-major `(H, W, C)` flattening), so
//! flattening copies the batch unchanged and passes the gradient straight back.

use super::{Buffers, Layer, TrainingBytes, fit_len, output_and_gradient};
use crate::activation::Activation;

/// Flattens `N` features per sample (an `H × W × C` image has `N = H·W·C`). No parameters;
/// ignores the activation it is given (`network!` passes `Linear`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Flatten<const N: usize>;

impl<const N: usize> Layer for Flatten<N> {
    const PARAMS: usize = 0;
    const INPUTS: usize = N;
    const OUTPUTS: usize = N;
    type In = f32;
    type Extra = ();
    const TRAINING_BYTES: TrainingBytes = TrainingBytes::always(output_and_gradient::<Self>());

    fn zeros() -> Self {
        Flatten
    }

    fn for_each_param<'a>(&'a self, _f: &mut impl FnMut(&'static str, &'a [f32])) {}

    fn for_each_param_mut(&mut self, _f: &mut impl FnMut(&'static str, &mut [f32])) {}

    fn zip_params_mut(&mut self, _other: &Self, _f: &mut impl FnMut(&mut [f32], &[f32])) {}

    #[inline]
    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _training: bool,
    ) {
        assert_eq!(x.len(), N * batch, "Flatten input has the wrong length");
        fit_len(&mut buf.y, N * batch);
        fit_len(&mut buf.dy, N * batch);
        buf.y.copy_from_slice(x);
    }

    fn pre_activation<'a>(_extra: &'a (), y: &'a [f32]) -> &'a [f32] {
        y
    }

    #[inline]
    fn backward_batch(
        &self,
        _x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        if let Some(dx) = dx {
            dx.copy_from_slice(&buf.dy[..N * batch]);
        }
    }
}
