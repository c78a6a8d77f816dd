//! The register-blocked multiply-accumulate that `Dense`, `Conv2D` (any kernel size) and the
//! pointwise half of `SeparableConv2D` share: a block of output pixels × a block of output
//! channels is summed in a fixed-size accumulator, so each weight row loaded from memory feeds
//! every pixel of the block and the accumulators stay in vector registers. The block sizes are
//! const arguments: the compiler unrolls the inner loops and vectorizes over the channels with
//! whatever vector width the target has (`-C target-cpu=…`), and the same code stays correct
//! on any target.

use crate::activation::Activation;

/// Output pixels summed together: each weight row is loaded once for this many pixels.
pub(crate) const PIXELS: usize = 4;

/// How a block's inputs meet its weights.
pub(crate) trait Product {
    /// Adds to `acc` the products of the pixels' inputs `x[p]` (one kernel row of taps each)
    /// with the weights `w` of the same taps; the block's channels start at `f0`, and `stride`
    /// floats separate one input (or tap) of the weights from the next.
    fn accumulate<const P: usize, const B: usize>(
        acc: &mut [[f32; B]; P],
        x: [&[f32]; P],
        w: &[f32],
        f0: usize,
        stride: usize,
    );
}

/// Every input feeds every output channel (`Dense`, `Conv2D`): `acc[p][j] += Σ_r x[p][r] ·
/// w[r·stride + f0 + j]`, weights `[inputs, outputs]`.
pub(crate) struct Dot;

impl Product for Dot {
    #[inline(always)]
    fn accumulate<const P: usize, const B: usize>(
        acc: &mut [[f32; B]; P],
        x: [&[f32]; P],
        w: &[f32],
        f0: usize,
        stride: usize,
    ) {
        let n = x[0].len();
        let x = x.map(|s| &s[..n]);
        for r in 0..n {
            let row: &[f32; B] = w[r * stride + f0..]
                .first_chunk()
                .expect("a weight row of the block");
            for p in 0..P {
                let v = x[p][r];
                for j in 0..B {
                    acc[p][j] += v * row[j];
                }
            }
        }
    }
}

/// Channel `j` of the output reads channel `j` of the input only (`DepthwiseConv2D` with depth
/// multiplier 1): `acc[p][j] += Σ_t x[p][t·stride + f0 + j] · w[t·stride + f0 + j]` over the
/// taps `t`.
pub(crate) struct Elementwise;

impl Product for Elementwise {
    #[inline(always)]
    fn accumulate<const P: usize, const B: usize>(
        acc: &mut [[f32; B]; P],
        x: [&[f32]; P],
        w: &[f32],
        f0: usize,
        stride: usize,
    ) {
        for t in 0..x[0].len() / stride {
            let at = t * stride + f0;
            let taps: &[f32; B] = w[at..].first_chunk().expect("a tap of the block");
            for p in 0..P {
                let v: &[f32; B] = x[p][at..].first_chunk().expect("an input of the block");
                for j in 0..B {
                    acc[p][j] += v[j] * taps[j];
                }
            }
        }
    }
}

/// One block of `P` output pixels × `B` output channels from `f0`: starts from `bias` (zeros
/// when empty), adds every `(inputs, weights)` pair `taps` yields, applies the activation and
/// stores pixel `p` at `y[p]`.
#[inline(always)]
fn block<'a, M: Product, const P: usize, const B: usize>(
    f0: usize,
    stride: usize,
    bias: &[f32],
    taps: impl Iterator<Item = ([&'a [f32]; P], &'a [f32])>,
    y: &mut [&mut [f32]; P],
    activation: Activation,
) {
    let mut start = [0.0f32; B];
    if !bias.is_empty() {
        start.copy_from_slice(&bias[f0..f0 + B]);
    }
    let mut acc = [start; P];
    for (x, w) in taps {
        M::accumulate::<P, B>(&mut acc, x, w, f0, stride);
    }
    for (acc, y) in acc.iter_mut().zip(y.iter_mut()) {
        activation.apply_elementwise(acc);
        y[f0..f0 + B].copy_from_slice(acc);
    }
}

/// Every output channel of `P` pixels, `F` of them, in blocks as wide as `F` allows: `taps`
/// gives the pixels' inputs and the weights of each kernel row, `stride` apart (see
/// [`Product`]).
#[inline(always)]
pub(crate) fn pixels<'a, M: Product, const P: usize, const F: usize, T>(
    stride: usize,
    bias: &[f32],
    taps: impl Fn() -> T,
    mut y: [&mut [f32]; P],
    activation: Activation,
) where
    T: Iterator<Item = ([&'a [f32]; P], &'a [f32])>,
{
    // Two to four vector registers of channels per pixel; narrow layers in one block of `F`.
    if F.is_multiple_of(32) {
        for f0 in (0..F).step_by(32) {
            block::<M, P, 32>(f0, stride, bias, taps(), &mut y, activation);
        }
    } else if F.is_multiple_of(16) {
        for f0 in (0..F).step_by(16) {
            block::<M, P, 16>(f0, stride, bias, taps(), &mut y, activation);
        }
    } else if F <= 32 {
        block::<M, P, F>(0, stride, bias, taps(), &mut y, activation);
    } else {
        let whole = F - F % 16;
        for f0 in (0..whole).step_by(16) {
            block::<M, P, 16>(f0, stride, bias, taps(), &mut y, activation);
        }
        for f0 in whole..F {
            block::<M, P, 1>(f0, stride, bias, taps(), &mut y, activation);
        }
    }
}

/// A single pixel (a `Dense` row) of `F` outputs from `n` inputs: with one pixel there is no
/// weight reuse, so wide blocks keep enough independent accumulators in flight.
#[inline(always)]
pub(crate) fn row<const F: usize>(
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) {
    let taps = || core::iter::once(([x], kernel));
    if F.is_multiple_of(128) {
        for f0 in (0..F).step_by(128) {
            block::<Dot, 1, 128>(f0, F, bias, taps(), &mut [&mut *y], activation);
        }
    } else {
        pixels::<Dot, 1, F, _>(F, bias, taps, [y], activation);
    }
}
