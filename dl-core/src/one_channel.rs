//! `Conv2D` over one input channel into 64 or more, on rows of at most six output pixels, with
//! AVX-512: DS-CNN's first layer (10 × 4, stride 2, over 49 × 10 MFCCs into 25 × 5 × 64). The
//! general blocks meet the padding in every block of such rows and then take their taps one at
//! a time, one input each; here the input is copied once with zero columns around each row
//! (on the stack, at most 4 KiB), so that a whole output row (`W` pixels × 64 channels, `4·W`
//! sums in registers) takes every tap of a kernel row with one load of its weights and no test
//! for the padding.

use crate::activation::Activation;
use crate::block::{Lanes, Wide};
use crate::conv::Window;

/// Vectors of output channels summed together: 64 channels, the weights of a tap.
const V: usize = 4;
/// Output channels of a block.
const CHANNELS: usize = 16 * V;
/// Widest output rows: six pixels × four vectors are 24 sums, which leave AVX-512's 32
/// registers room for a tap's four weight vectors and the broadcast input.
const MAX_W: usize = 6;
/// Floats of the padded copy of the input (4 KiB of stack): DS-CNN's is 49 rows of 12.
const MAX_COPY: usize = 1024;

/// Computes the layer if it is one this kernel covers (one input channel, `F` a multiple of 64,
/// rows of at most six output pixels, AVX-512) and says whether it did.
pub(crate) fn conv_one_channel<const F: usize>(
    win: &Window,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) -> bool {
    let covered = cfg!(target_feature = "avx512f")
        && <Wide as Lanes>::N == 16
        && win.c == 1
        && F.is_multiple_of(CHANNELS)
        && win.ow <= MAX_W
        && win.h * ((win.ow.max(1) - 1) * win.sw + win.kw) <= MAX_COPY;
    if !covered {
        return false;
    }
    match win.ow {
        1 => rows::<1>(win, F, x, kernel, bias, y, activation),
        2 => rows::<2>(win, F, x, kernel, bias, y, activation),
        3 => rows::<3>(win, F, x, kernel, bias, y, activation),
        4 => rows::<4>(win, F, x, kernel, bias, y, activation),
        5 => rows::<5>(win, F, x, kernel, bias, y, activation),
        6 => rows::<6>(win, F, x, kernel, bias, y, activation),
        _ => return false,
    }
    true
}

/// Every output row of `W` pixels, 64 channels at a time.
#[inline(never)]
fn rows<const W: usize>(
    win: &Window,
    f: usize,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) {
    let Window {
        h,
        w,
        kh,
        kw,
        sh,
        sw,
        pt,
        pl,
        oh,
        ..
    } = *win;
    let x = &x[..h * w];
    let kernel = &kernel[..kh * kw * f];
    let y = &mut y[..oh * W * f];
    // The input columns a row of outputs reads, from `−pl`.
    let span = (W - 1) * sw + kw;
    assert!(h * span <= MAX_COPY, "the padded copy");
    // Each input row once between its zero columns, rather than for every output row that
    // reads it (five of them in DS-CNN).
    let mut padded = [0.0f32; MAX_COPY];
    for (row, out) in x.chunks_exact(w).zip(padded.chunks_exact_mut(span)) {
        for (q, v) in out.iter_mut().enumerate() {
            if let Some(&xv) = q.checked_sub(pl).and_then(|ix| row.get(ix)) {
                *v = xv;
            }
        }
    }
    let relu = activation == Activation::Relu;
    for f0 in (0..f).step_by(CHANNELS) {
        let mut start = [<Wide as Lanes>::ZERO; V];
        if !bias.is_empty() {
            for (k, s) in start.iter_mut().enumerate() {
                *s = Wide::load(bias, f0 + 16 * k);
            }
        }
        for oy in 0..oh {
            let mut acc = [start; W];
            for ky in 0..kh {
                let iy = (oy * sh + ky) as isize - pt as isize;
                if iy < 0 || iy as usize >= h {
                    continue;
                }
                let row = &padded[iy as usize * span..][..span];
                let taps = &kernel[ky * kw * f..][..kw * f];
                // One check for the kernel row's weights, so that none is left in the loads.
                assert!((kw - 1) * f + f0 + CHANNELS <= taps.len(), "the kernel row");
                for kx in 0..kw {
                    // SAFETY: `kx·f + f0 + 16·k + 16 ≤ (kw − 1)·f + f0 + 64 ≤ taps.len()`.
                    let wv: [Wide; V] =
                        core::array::from_fn(|k| unsafe { Wide::load_unchecked(taps, kx * f + f0 + 16 * k) });
                    for (p, acc) in acc.iter_mut().enumerate() {
                        // SAFETY: `p·sw + kx ≤ (W − 1)·sw + kw − 1 < span = row.len()`.
                        let v = Wide::splat(unsafe { *row.get_unchecked(p * sw + kx) });
                        for (a, wk) in acc.iter_mut().zip(&wv) {
                            *a = v.mul_add(*wk, *a);
                        }
                    }
                }
            }
            for (p, acc) in acc.iter().enumerate() {
                let out = &mut y[(oy * W + p) * f + f0..][..CHANNELS];
                for (o, a) in out.chunks_exact_mut(16).zip(acc) {
                    if relu { a.relu() } else { *a }.store(o);
                }
                if !relu {
                    activation.apply_elementwise(out);
                }
            }
        }
    }
}
