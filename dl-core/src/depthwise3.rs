//! `DepthwiseConv2D` with a 3 × 3 kernel, depth multiplier 1 and stride 1 over images at least
//! two blocks wide, MobileNet's first depthwise layers: each output channel reads its own input
//! channel, so a block of output pixels on one row takes, per kernel row, one vector of each
//! input column it covers (loaded once, used by up to three pixels) against the row's three
//! taps, instead of three vectors per pixel as the general product does. (With stride 2, the
//! general product's blocks of four pixels × 64 channels measured faster.)
//!
//! Images narrower than two blocks, with `same` padding (DS-CNN's 25 × 5, MobileNet's 6 × 6
//! and 3 × 3), go a whole row at a time: the row's `W` sums and the `W` columns under them are
//! registers, the nine taps of a vector of channels stay in registers over the whole image, and
//! the taps that fall in the padding are left out at compile time (`W` is a const). DS-CNN's
//! 25 × 5 × 64 layer 3.5 → 1.8 µs, MobileNet's 6 × 6 × 128 1.65 → 0.97 and 3 × 3 × 256 0.93 →
//! 0.6 (`benches/embedded_layers.rs`); a separate sum per kernel row measured no faster.

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
    if (win.kh, win.kw, win.sw) != (3, 3, 1) || !win.c.is_multiple_of(8) {
        return false;
    }
    let wide = win.c.is_multiple_of(<Wide as Lanes>::N);
    if win.ow >= 2 * PIXELS {
        if wide {
            channels::<Wide, PIXELS, { PIXELS + 2 }>(win, x, kernel, bias, y, activation);
        } else {
            channels::<f32x8, PIXELS, { PIXELS + 2 }>(win, x, kernel, bias, y, activation);
        }
        return true;
    }
    // `same` padding across the row: one column of zeros on either side.
    if win.sh != 1 || win.pl != 1 || win.ow != win.w {
        return false;
    }
    macro_rules! rows {
        ($($w:literal)*) => {
            match win.w {
                $($w if $w <= ROW_MAX => {
                    if wide {
                        whole_rows::<Wide, $w>(win, x, kernel, bias, y, activation);
                    } else {
                        whole_rows::<f32x8, $w>(win, x, kernel, bias, y, activation);
                    }
                    true
                })*
                _ => false,
            }
        };
    }
    rows!(2 3 4 5 6 7 8)
}

/// Widest rows [`whole_rows`] takes: its `W` sums, `W` columns and nine taps fit AVX-512's 32
/// vector registers up to 11; other targets have 16, enough for three.
const ROW_MAX: usize = if cfg!(target_feature = "avx512f") { 8 } else { 3 };

/// Stride 1, `same` padding, rows of `W` pixels: every output row from the (up to) three input
/// rows under it, a vector of channels at a time.
#[inline(never)]
fn whole_rows<L: Lanes, const W: usize>(
    win: &Window,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) {
    let (h, c, oh) = (win.h, win.c, win.oh);
    let x = &x[..h * W * c];
    let kernel = &kernel[..9 * c];
    let y = &mut y[..oh * W * c];
    let relu = activation == Activation::Relu;
    for c0 in (0..c).step_by(L::N) {
        let start = if bias.is_empty() {
            L::ZERO
        } else {
            L::load(bias, c0)
        };
        let taps: [L; 9] = core::array::from_fn(|t| L::load(kernel, t * c + c0));
        for oy in 0..oh {
            let mut acc = [start; W];
            for ky in 0..3 {
                let iy = (oy + ky) as isize - win.pt as isize;
                if iy < 0 || iy as usize >= h {
                    continue;
                }
                let row = &x[iy as usize * W * c..][..W * c];
                // One check for the row's columns, so that none is left in the loads below.
                assert!(c0 + L::N <= c, "the row's channels");
                // SAFETY: `ix·c + c0 + N ≤ (W − 1)·c + c = row.len()` (asserted above).
                let cols: [L; W] = core::array::from_fn(|ix| unsafe { L::load_unchecked(row, ix * c + c0) });
                for (p, acc) in acc.iter_mut().enumerate() {
                    for kx in 0..3 {
                        // Input column `p + kx − 1`; the two in the padding are skipped.
                        if let Some(ix) = (p + kx).checked_sub(1)
                            && ix < W
                        {
                            *acc = cols[ix].mul_add(taps[ky * 3 + kx], *acc);
                        }
                    }
                }
            }
            for (p, acc) in acc.iter().enumerate() {
                let out = &mut y[(oy * W + p) * c + c0..][..L::N];
                if relu { acc.relu() } else { *acc }.store(out);
                if !relu {
                    activation.apply_elementwise(out);
                }
            }
        }
    }
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
