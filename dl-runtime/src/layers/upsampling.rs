//! `UpSampling2D(size = (2, 2), interpolation = nearest)`: each pixel of a channels-last image
//! repeated `SH` times down and `SW` times across.
//!
//! Layout: a sample is its `H × W × C` image in HWC order; output pixel `(i, j)` is input pixel
//! `(i / SH, j / SW)`. The backward pass sums each input pixel's `SH × SW` block of gradients.

use super::{Buffers, Layer, TrainingBytes, fit_len, output_and_gradient};
use crate::activation::Activation;

/// Nearest-neighbour upsampling of an `H × W × C` image to `H·SH × W·SW × C`. No parameters;
/// ignores the activation it is given (`network!` passes `Linear`).
#[derive(Clone, Copy, Debug, Default)]
pub struct UpSampling2D<const H: usize, const W: usize, const C: usize, const SH: usize, const SW: usize>;

impl<const H: usize, const W: usize, const C: usize, const SH: usize, const SW: usize> Layer
    for UpSampling2D<H, W, C, SH, SW>
{
    const PARAMS: usize = 0;
    const INPUTS: usize = H * W * C;
    const OUTPUTS: usize = H * SH * W * SW * C;
    type In = f32;
    type Extra = ();
    const TRAINING_BYTES: TrainingBytes = TrainingBytes::always(output_and_gradient::<Self>());

    fn zeros() -> Self {
        const { assert!(SH > 0 && SW > 0, "UpSampling2D: sizes must be positive") };
        UpSampling2D
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
        let (n, m) = (Self::INPUTS, Self::OUTPUTS);
        assert_eq!(x.len(), n * batch, "UpSampling2D input has the wrong length");
        fit_len(&mut buf.y, m * batch);
        fit_len(&mut buf.dy, m * batch);
        for (xs, ys) in x.chunks_exact(n).zip(buf.y.chunks_exact_mut(m)) {
            dl_core::conv::upsample2d(xs, ys, W, C, SH, SW);
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
        let (n, m) = (Self::INPUTS, Self::OUTPUTS);
        assert_eq!(
            dx.len(),
            n * batch,
            "UpSampling2D input gradient has the wrong length"
        );
        let (ow, row) = (W * SW, W * SW * C);
        for (dxs, dys) in dx.chunks_exact_mut(n).zip(buf.dy.chunks_exact(m)) {
            dxs.fill(0.0);
            for (i, out_row) in dys.chunks_exact(row).enumerate() {
                let in_row = &mut dxs[(i / SH) * W * C..][..W * C];
                for (j, px) in out_row.chunks_exact(C).enumerate().take(ow) {
                    let dst = &mut in_row[(j / SW) * C..][..C];
                    dst.iter_mut().zip(px).for_each(|(d, &g)| *d += g);
                }
            }
        }
    }
}
