//! `Conv2D` of a 3 × 3 kernel over three input channels into eight output channels (MobileNetV1
//! α = 0.25's first layer on an RGB image), with AVX-512. The general blocks give each of the
//! 27 taps its own FMA on eight lanes (half a vector) after its own broadcast input. Here one
//! kernel row of a pixel is nine consecutive floats (three columns × three channels), taken two
//! at a time: a 64-bit broadcast puts inputs `2j` and `2j + 1` in the even and odd lanes, the
//! weights of those two inputs for the eight channels are interleaved the same way, so one
//! 16-lane FMA does 16 useful multiply-adds (14.4 on average with the ninth input alone) and a
//! pixel takes 15 FMAs instead of 27, each weight vector loaded once for a block of eight
//! pixels; at the end each pixel's even and odd lanes are added. (MobileNetV1's 96 × 96 × 3
//! layer: 22 → 11.5 µs, `benches/embedded_layers`.)

use core::arch::x86_64::{
    __m512, __m512i, _mm256_storeu_ps, _mm512_add_ps, _mm512_castpd_ps, _mm512_castps_si512,
    _mm512_castps512_ps256, _mm512_castsi512_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_maskz_mov_ps,
    _mm512_max_ps, _mm512_permutex2var_epi32, _mm512_set1_pd, _mm512_set1_ps, _mm512_setr_epi32,
    _mm512_setzero_ps, _mm512_storeu_ps,
};

use crate::activation::Activation;
use crate::conv::Window;

/// Input floats of one kernel row: three columns of three channels.
const ROW: usize = 9;
/// Output channels.
const F: usize = 8;
/// Pixels of a block: independent sums enough to cover the FMA latency on both units.
const PIXELS: usize = 8;

/// Computes the layer if it is one this kernel covers (3 × 3 over three channels into eight) and
/// says whether it did.
pub(crate) fn conv3x3_rgb8(
    win: &Window,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) -> bool {
    if (win.kh, win.kw, win.c) != (3, 3, 3) {
        return false;
    }
    // SAFETY: this module is compiled only for targets with AVX-512 (`lib.rs`).
    unsafe { image(win, x, kernel, bias, y, activation) };
    true
}

/// The whole layer, [`conv3x3_rgb8`]'s work.
#[target_feature(enable = "avx512f")]
fn image(win: &Window, x: &[f32], kernel: &[f32], bias: &[f32], y: &mut [f32], activation: Activation) {
    let x = &x[..win.h * win.w * 3];
    let y = &mut y[..win.oh * win.ow * F];
    let weights = weights(&kernel[..3 * ROW * F]);
    // The bias in the even lanes, where the sums start.
    let mut start = [0.0; 16];
    if !bias.is_empty() {
        for (f, &b) in bias[..F].iter().enumerate() {
            start[2 * f] = b;
        }
    }
    // SAFETY: `start` is 16 floats.
    let start = unsafe { _mm512_loadu_ps(start.as_ptr()) };
    let relu = activation == Activation::Relu;
    // The output columns whose windows are inside the image: there, blocks of `PIXELS` (the
    // last one moved back to end at the last such column, recomputing a few pixels), so that
    // only the pixels at the edges take the padded copy, one at a time.
    let left = |ox: usize| (ox * win.sw) as isize - win.pl as isize;
    let lo = (0..win.ow).find(|&ox| left(ox) >= 0).unwrap_or(win.ow);
    let hi = (lo..win.ow)
        .rev()
        .find(|&ox| left(ox) + 3 <= win.w as isize)
        .map_or(lo, |ox| ox + 1);
    for oy in 0..win.oh {
        let top = (oy * win.sh) as isize - win.pt as isize;
        // Rows with padding take the padded copy anyway: blocks over all of them.
        let (lo, hi) = if top >= 0 && top + 3 <= win.h as isize {
            (lo, hi)
        } else {
            (0, win.ow)
        };
        let mut run = |ox: usize, n: usize| {
            let out = &mut y[(oy * win.ow + ox) * F..][..n * F];
            match n {
                PIXELS => block::<PIXELS>(win, x, &weights, start, oy, ox, out, relu),
                2 => block::<2>(win, x, &weights, start, oy, ox, out, relu),
                _ => block::<1>(win, x, &weights, start, oy, ox, out, relu),
            }
            if !relu {
                activation.apply_elementwise(out);
            }
        };
        (0..lo).for_each(|ox| run(ox, 1));
        let mut ox = lo;
        if hi - lo >= PIXELS {
            while ox < hi {
                run(ox.min(hi - PIXELS), PIXELS);
                ox += PIXELS;
            }
        } else {
            while ox + 2 <= hi {
                run(ox, 2);
                ox += 2;
            }
            if ox < hi {
                run(ox, 1);
            }
        }
        (hi..win.ow).for_each(|ox| run(ox, 1));
    }
}

/// The kernel (`[3, 3, 3, 8]`, HWIO) as 15 vectors: kernel row `ky`'s inputs `2j, 2j + 1` in
/// vector `5·ky + j`, lane `2f + t` holding input `2j + t`'s weight for channel `f` (zero for
/// the tenth input, which does not exist).
#[target_feature(enable = "avx512f")]
fn weights(kernel: &[f32]) -> [__m512; 15] {
    let mut lanes = [[0.0f32; 16]; 15];
    for ky in 0..3 {
        for q in 0..ROW {
            for f in 0..F {
                lanes[5 * ky + q / 2][2 * f + q % 2] = kernel[(ky * ROW + q) * F + f];
            }
        }
    }
    // SAFETY: each row of `lanes` is 16 floats.
    lanes.map(|l| unsafe { _mm512_loadu_ps(l.as_ptr()) })
}

/// Output pixels `ox .. ox + P` of row `oy` into `y` (`P · 8` floats), ReLU applied in the
/// registers with `relu` (the caller applies any other activation).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
#[inline]
fn block<const P: usize>(
    win: &Window,
    x: &[f32],
    weights: &[__m512; 15],
    start: __m512,
    oy: usize,
    ox: usize,
    y: &mut [f32],
    relu: bool,
) {
    let Window {
        h, w, sh, sw, pt, pl, ..
    } = *win;
    let top = (oy * sh) as isize - pt as isize;
    let left = (ox * sw) as isize - pl as isize;
    let last = left + ((P - 1) * sw) as isize + 3;
    let inside = top >= 0 && top + 3 <= h as isize && left >= 0 && last <= w as isize;
    // Where the window is partly in the padding, the block's rows are copied with zeros around
    // them, so that the same unrolled code reads every tap.
    let mut padded = [[[0.0f32; ROW]; 3]; P];
    let (base, row_stride, pixel_stride): (&[f32], usize, usize) = if inside {
        let at = (top as usize * w + left as usize) * 3;
        (&x[at..], w * 3, sw * 3)
    } else {
        for (p, rows) in padded.iter_mut().enumerate() {
            for (ky, row) in rows.iter_mut().enumerate() {
                let iy = top + ky as isize;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                for kx in 0..3 {
                    let ix = left + (p * sw + kx) as isize;
                    if ix >= 0 && ix < w as isize {
                        let at = (iy as usize * w + ix as usize) * 3;
                        row[kx * 3..kx * 3 + 3].copy_from_slice(&x[at..at + 3]);
                    }
                }
            }
        }
        (padded.as_flattened().as_flattened(), ROW, 3 * ROW)
    };
    // One check for every read below.
    assert!(
        2 * row_stride + (P - 1) * pixel_stride + ROW <= base.len(),
        "the block's inputs"
    );
    let mut acc = [start; P];
    for ky in 0..3 {
        for j in 0..5 {
            let wv = weights[5 * ky + j];
            for (p, acc) in acc.iter_mut().enumerate() {
                let at = ky * row_stride + p * pixel_stride + 2 * j;
                // SAFETY: `at + 2 ≤ 2·row_stride + (P − 1)·pixel_stride + ROW ≤ base.len()`
                // for `j < 4` (asserted above), and `at + 1` for the ninth input (`j = 4`),
                // the only one read there.
                unsafe {
                    let pair = base.as_ptr().add(at);
                    if j < 4 {
                        let both = _mm512_set1_pd((pair as *const f64).read_unaligned());
                        *acc = _mm512_fmadd_ps(_mm512_castpd_ps(both), wv, *acc);
                    } else {
                        // The ninth input in the even lanes and zeros in the odd ones, which
                        // have no tenth input (its zero weight times an infinite input would
                        // make them NaN): a zero-masked broadcast load.
                        let one = _mm512_maskz_mov_ps(0x5555, _mm512_set1_ps(*pair));
                        *acc = _mm512_fmadd_ps(one, wv, *acc);
                    }
                }
            }
        }
    }
    store(&acc, y, relu);
}

/// Adds each pixel's even and odd lanes into its eight channels and stores them in `y`, through
/// ReLU with `relu`.
#[target_feature(enable = "avx512f")]
#[inline]
fn store<const P: usize>(acc: &[__m512; P], y: &mut [f32], relu: bool) {
    assert!(y.len() == P * F, "the block's outputs");
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (p, pair) in acc.chunks(2).enumerate() {
        let (a, b) = (pair[0], *pair.last().expect("a pixel"));
        let sum = _mm512_add_ps(pick(a, even, b), pick(a, odd, b));
        let sum = if relu {
            _mm512_max_ps(sum, _mm512_setzero_ps())
        } else {
            sum
        };
        let out = &mut y[2 * p * F..];
        if pair.len() == 2 {
            // SAFETY: `out` holds the two pixels' 16 floats (`y` is `P · 8`, asserted above).
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), sum) };
        } else {
            // SAFETY: `out` holds the last pixel's 8 floats.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), _mm512_castps512_ps256(sum)) };
        }
    }
}

/// The lanes `idx` picks from `a` (0–15) and `b` (16–31).
#[target_feature(enable = "avx512f")]
#[inline]
fn pick(a: __m512, idx: __m512i, b: __m512) -> __m512 {
    _mm512_castsi512_ps(_mm512_permutex2var_epi32(
        _mm512_castps_si512(a),
        idx,
        _mm512_castps_si512(b),
    ))
}
