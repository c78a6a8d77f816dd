//! `ZeroPadding2D(padding = 1)`: zeros around a channels-last image.
//!
//! Layout: a sample is its `H × W × C` image in HWC order; the output is the `OH × OW × C` image
//! with the input at rows `PT..PT + H` and columns `PL..PL + W` and zeros around it. The
//! backward pass reads the gradient of that window back.

use super::{Buffers, Layer, TrainingBytes, fit_len, output_and_gradient};
use crate::activation::Activation;

/// Pads an `H × W × C` image to `OH × OW × C`, `PT` rows above and `PL` columns to the left. No
/// parameters; ignores the activation it is given (`network!` passes `Linear`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ZeroPadding2D<
    const H: usize,
    const W: usize,
    const C: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
>;

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
> ZeroPadding2D<H, W, C, OH, OW, PT, PL>
{
    /// Where row `r` of a sample's input starts in its output.
    #[inline]
    fn row_start(r: usize) -> usize {
        ((r + PT) * OW + PL) * C
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
> Layer for ZeroPadding2D<H, W, C, OH, OW, PT, PL>
{
    const PARAMS: usize = 0;
    const INPUTS: usize = H * W * C;
    const OUTPUTS: usize = OH * OW * C;
    type In = f32;
    type Extra = ();
    const TRAINING_BYTES: TrainingBytes = TrainingBytes::always(output_and_gradient::<Self>());

    fn zeros() -> Self {
        ZeroPadding2D
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
        let (n, m) = (H * W * C, OH * OW * C);
        assert_eq!(x.len(), n * batch, "ZeroPadding2D input has the wrong length");
        fit_len(&mut buf.y, m * batch);
        fit_len(&mut buf.dy, m * batch);
        buf.y.fill(0.0);
        for (xs, ys) in x.chunks_exact(n).zip(buf.y.chunks_exact_mut(m)) {
            for (r, row) in xs.chunks_exact(W * C).enumerate() {
                let start = Self::row_start(r);
                ys[start..start + W * C].copy_from_slice(row);
            }
        }
    }

    fn pre_activation<'a>(_extra: &'a (), y: &'a [f32]) -> &'a [f32] {
        y
    }

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
        let (n, m) = (H * W * C, OH * OW * C);
        for (dxs, dys) in dx[..n * batch].chunks_exact_mut(n).zip(buf.dy.chunks_exact(m)) {
            for (r, row) in dxs.chunks_exact_mut(W * C).enumerate() {
                let start = Self::row_start(r);
                row.copy_from_slice(&dys[start..start + W * C]);
            }
        }
    }
}
