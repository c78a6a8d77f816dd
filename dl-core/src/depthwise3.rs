//! `DepthwiseConv2D` with a 3 × 3 kernel, depth multiplier 1 and stride 1 over images at least
//! two blocks wide, MobileNet's first depthwise layers: each output channel reads its own input
//! channel, so a block of output pixels on one row takes, per kernel row, one vector of each
//! input column it covers (loaded once, used by up to three pixels) against the row's three
//! taps, instead of three vectors per pixel as the general product does. (On narrower images,
//! and with stride 2, the general product's blocks of four pixels × 64 channels measured
//! faster.)

use wide::f32x8;

use crate::activation::Activation;
use crate::block::{Lanes, Wide};
use crate::conv::Window;

/// Output pixels of a block: eight of them with the columns they read fill AVX-512's 32 vector
/// registers, four the 16 of other targets.
const PIXELS: usize = if cfg!(target_feature = "avx512f") { 8 } else { 4 };

/// Computes the layer if it is one this kernel covers (3 × 3, stride 1, at least two blocks of
/// output pixels to a row, channels a multiple of eight) and says whether it did.
pub(crate) fn depthwise3x3(
    win: &Window,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) -> bool {
    let covered = (win.kh, win.kw, win.sw) == (3, 3, 1) && win.ow >= 2 * PIXELS;
    if !covered || !win.c.is_multiple_of(8) {
        return false;
    }
    if win.c.is_multiple_of(<Wide as Lanes>::N) {
        channels::<Wide, PIXELS, { PIXELS + 2 }>(win, x, kernel, bias, y, activation);
    } else {
        channels::<f32x8, PIXELS, { PIXELS + 2 }>(win, x, kernel, bias, y, activation);
    }
    true
}

/// Every output pixel, one vector of channels at a time, in blocks of `P` pixels (reading `Q =
/// P + 2` columns) along each row, then of four, two and one for a row's last pixels.
#[inline(always)]
fn channels<L: Lanes, const P: usize, const Q: usize>(
    win: &Window,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) {
    let (c, oh, ow) = (win.c, win.oh, win.ow);
    let x = &x[..win.h * win.w * c];
    let kernel = &kernel[..9 * c];
    let y = &mut y[..oh * ow * c];
    for c0 in (0..c).step_by(L::N) {
        let start = if bias.is_empty() {
            L::ZERO
        } else {
            L::load(bias, c0)
        };
        for oy in 0..oh {
            let mut ox = 0;
            // `n` pixels from `ox`, reading `n + 2` columns.
            macro_rules! pixels {
                ($n:tt, $q:tt) => {{
                    pixels::<L, $n, $q>(win, x, kernel, start, y, activation, c0, oy, ox);
                    ox += $n;
                }};
            }
            while ox + P <= ow {
                pixels!(P, Q);
            }
            if P > 4 && ox + 4 <= ow {
                pixels!(4, 6);
            }
            while ox + 2 <= ow {
                pixels!(2, 4);
            }
            if ox < ow {
                pixels::<L, 1, 3>(win, x, kernel, start, y, activation, c0, oy, ox);
            }
        }
    }
}

/// Output pixels `ox .. ox + P` of row `oy`, channels `c0 .. c0 + N`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pixels<L: Lanes, const P: usize, const Q: usize>(
    win: &Window,
    x: &[f32],
    kernel: &[f32],
    start: L,
    y: &mut [f32],
    activation: Activation,
    c0: usize,
    oy: usize,
    ox: usize,
) {
    let (w, c) = (win.w, win.c);
    // The input column under the first pixel's first tap, and whether all `Q` are inside.
    let first = ox as isize - win.pl as isize;
    let inside = first >= 0 && first as usize + Q <= w;
    // Blocks of up to four pixels sum each kernel row apart, so that there are enough
    // independent sums to cover the FMA latency.
    let sums = if P <= 4 { 3 } else { 1 };
    let mut acc = [[L::ZERO; P]; 3];
    acc[0] = [start; P];
    for ky in 0..3 {
        let iy = (oy * win.sh + ky) as isize - win.pt as isize;
        if iy < 0 || iy as usize >= win.h {
            continue;
        }
        let row = &x[iy as usize * w * c..][..w * c];
        let taps: [L; 3] = core::array::from_fn(|kx| L::load(kernel, (ky * 3 + kx) * c + c0));
        let mut cols = [L::ZERO; Q];
        if inside {
            let at = first as usize * c + c0;
            // One check for the block's columns, so that none is left in the loads below.
            assert!(at + (Q - 1) * c + L::N <= row.len(), "the block's columns");
            for (q, col) in cols.iter_mut().enumerate() {
                // SAFETY: `at + q·c + N ≤ at + (Q − 1)·c + N ≤ row.len()`, asserted above.
                *col = unsafe { L::load_unchecked(row, at + q * c) };
            }
        } else {
            for (q, col) in cols.iter_mut().enumerate() {
                // Columns in the padding stay zero.
                if let Ok(ix) = usize::try_from(first + q as isize)
                    && ix < w
                {
                    *col = L::load(row, ix * c + c0);
                }
            }
        }
        for (p, acc) in acc[ky % sums].iter_mut().enumerate() {
            for (kx, tap) in taps.iter().enumerate() {
                *acc = cols[p + kx].mul_add(*tap, *acc);
            }
        }
    }
    let acc: [L; P] = if sums == 3 {
        core::array::from_fn(|p| acc[0][p].add(acc[1][p]).add(acc[2][p]))
    } else {
        acc[0]
    };
    let relu = activation == Activation::Relu;
    for (p, acc) in acc.iter().enumerate() {
        let out = &mut y[((oy * win.ow + ox + p) * c + c0)..][..L::N];
        if relu { acc.relu() } else { *acc }.store(out);
        if !relu {
            activation.apply_elementwise(out);
        }
    }
}
