//! `Rescaling(scale, offset = 0.0)`: Keras's preprocessing layer `y = x · scale + offset`, in
//! training and inference alike (`Rescaling(1.0 / 255)` for pixels).

use super::{Buffers, Layer, TrainingBytes, fit_len, output_and_gradient};
use crate::activation::Activation;

/// `y = x · f32::from_bits(SCALE_BITS) + f32::from_bits(OFFSET_BITS)` on `N` values per sample
/// (floats cannot be const generics, so they travel as bits). No parameters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rescaling<const N: usize, const SCALE_BITS: u32, const OFFSET_BITS: u32>;

impl<const N: usize, const SCALE_BITS: u32, const OFFSET_BITS: u32> Rescaling<N, SCALE_BITS, OFFSET_BITS> {
    /// The factor.
    pub const SCALE: f32 = f32::from_bits(SCALE_BITS);
    /// The shift added after scaling.
    pub const OFFSET: f32 = f32::from_bits(OFFSET_BITS);
    const CHECK: () = assert!(
        Self::SCALE.is_finite() && Self::OFFSET.is_finite(),
        "rescaling needs a finite scale and offset"
    );
}

impl<const N: usize, const SCALE_BITS: u32, const OFFSET_BITS: u32> Layer
    for Rescaling<N, SCALE_BITS, OFFSET_BITS>
{
    const PARAMS: usize = 0;
    const INPUTS: usize = N;
    const OUTPUTS: usize = N;
    type In = f32;
    type Extra = ();
    const TRAINING_BYTES: TrainingBytes = TrainingBytes::always(output_and_gradient::<Self>());

    fn zeros() -> Self {
        const { Self::CHECK };
        Rescaling
    }

    fn for_each_param<'a>(&'a self, _f: &mut impl FnMut(&'static str, &'a [f32])) {}

    fn for_each_param_mut(&mut self, _f: &mut impl FnMut(&'static str, &mut [f32])) {}

    fn zip_params_mut(&mut self, _other: &Self, _f: &mut impl FnMut(&mut [f32], &[f32])) {}

    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _training: bool,
    ) {
        let len = N * batch;
        fit_len(&mut buf.y, len);
        fit_len(&mut buf.dy, len);
        dl_core::norm::rescale(Self::SCALE, Self::OFFSET, &x[..len], &mut buf.y);
    }

    fn pre_activation<'a>(_extra: &'a (), y: &'a [f32]) -> &'a [f32] {
        y
    }

    /// `∂L/∂x = ∂L/∂y · scale`.
    fn backward_batch(
        &self,
        _x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        let Some(dx) = dx else { return };
        let len = N * batch;
        for (d, &dy) in dx[..len].iter_mut().zip(&buf.dy[..len]) {
            *d = dy * Self::SCALE;
        }
    }
}
