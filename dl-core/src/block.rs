//! The register-blocked multiply-accumulate that `Dense`, `Conv2D` (any kernel size) and the
//! pointwise half of `SeparableConv2D` share: a block of output pixels × a block of output
//! channels is summed in a fixed-size accumulator, so each weight row loaded from memory feeds
//! every pixel of the block and the accumulators stay in vector registers. The block sizes are
//! const arguments: the compiler unrolls the inner loops and vectorizes over the channels with
//! whatever vector width the target has (`-C target-cpu=…`), and the same code stays correct
//! on any target.

use wide::f32x8;

use crate::activation::Activation;

/// Output pixels summed together: each weight row is loaded once for this many pixels.
pub(crate) const PIXELS: usize = 4;

/// Vectors of eight channels per pixel in a block: four pixels × four vectors are 16
/// accumulators, which fit AVX-512's 32 vector registers; targets with 16 take half as many.
const VECTORS: usize = if cfg!(target_feature = "avx512f") { 4 } else { 2 };

/// Eight floats of `s` from `at`.
#[inline(always)]
fn load(s: &[f32], at: usize) -> f32x8 {
    f32x8::new(*s[at..].first_chunk().expect("eight floats of the block"))
}

/// `V` vectors of `s` from `at`. (A loop: `core::array::from_fn` was left out of line, and the
/// accumulators then went through memory.)
#[inline(always)]
fn vectors<const V: usize>(s: &[f32], at: usize) -> [f32x8; V] {
    let mut v = [f32x8::ZERO; V];
    for (k, v) in v.iter_mut().enumerate() {
        *v = load(s, at + 8 * k);
    }
    v
}

/// `V` vectors of `s` from `at`, unchecked: the hot loops check their whole range once
/// beforehand, since a bounds check inside the loop (a way out of it) kept the accumulators
/// from staying in registers.
///
/// # Safety
/// `at + 8·V <= s.len()`.
#[inline(always)]
unsafe fn vectors_unchecked<const V: usize>(s: &[f32], at: usize) -> [f32x8; V] {
    debug_assert!(at + 8 * V <= s.len());
    let mut v = [f32x8::ZERO; V];
    for (k, v) in v.iter_mut().enumerate() {
        // SAFETY: `at + 8k + 8 <= at + 8V <= s.len()` (the caller's promise), and `[f32; 8]`
        // has `f32`'s alignment, so the eight floats from there are a valid `&[f32; 8]`.
        *v = f32x8::new(unsafe { *(s.as_ptr().add(at + 8 * k) as *const [f32; 8]) });
    }
    v
}

/// How a block's inputs meet its weights.
pub(crate) trait Product {
    /// Adds to `acc` the products of the pixels' inputs `x[p]` (one kernel row of taps each)
    /// with the weights `w` of the same taps; the block's channels start at `f0`, and `stride`
    /// floats separate one input (or tap) of the weights from the next.
    fn accumulate<const P: usize, const V: usize>(
        acc: &mut [[f32x8; V]; P],
        x: [&[f32]; P],
        w: &[f32],
        f0: usize,
        stride: usize,
    );

    /// The same for the one channel `f0`.
    fn accumulate_one<const P: usize>(
        acc: &mut [f32; P],
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
    fn accumulate<const P: usize, const V: usize>(
        acc: &mut [[f32x8; V]; P],
        x: [&[f32]; P],
        w: &[f32],
        f0: usize,
        stride: usize,
    ) {
        let n = x[0].len();
        if n == 0 {
            return;
        }
        assert!(x.iter().all(|s| s.len() == n), "the pixels' inputs");
        assert!(
            (n - 1) * stride + f0 + 8 * V <= w.len(),
            "the block's weight rows"
        );
        // A local copy whose address never leaves this loop, so that the compiler keeps it in
        // registers (through `acc` it stored every vector back on every row).
        let mut sum = *acc;
        // `r` indexes every pixel's inputs and the weight rows alike.
        #[allow(clippy::needless_range_loop)]
        for r in 0..n {
            // SAFETY: `r ≤ n − 1`, so `r·stride + f0 + 8V ≤ w.len()`, asserted above.
            let row: [f32x8; V] = unsafe { vectors_unchecked(w, r * stride + f0) };
            for p in 0..P {
                // SAFETY: `r < n`, the length of every `x[p]` (asserted above).
                let v = f32x8::splat(unsafe { *x[p].get_unchecked(r) });
                for k in 0..V {
                    sum[p][k] = v.mul_add(row[k], sum[p][k]);
                }
            }
        }
        *acc = sum;
    }

    #[inline(always)]
    fn accumulate_one<const P: usize>(
        acc: &mut [f32; P],
        x: [&[f32]; P],
        w: &[f32],
        f0: usize,
        stride: usize,
    ) {
        for (r, &k) in w[f0..].iter().step_by(stride).take(x[0].len()).enumerate() {
            for p in 0..P {
                acc[p] += x[p][r] * k;
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
    fn accumulate<const P: usize, const V: usize>(
        acc: &mut [[f32x8; V]; P],
        x: [&[f32]; P],
        w: &[f32],
        f0: usize,
        stride: usize,
    ) {
        // A local copy kept in registers, as in `Dot`.
        let n = x[0].len();
        let w = &w[..n];
        assert!(x.iter().all(|s| s.len() == n), "the pixels' inputs");
        assert!(f0 + 8 * V <= stride, "the block's channels");
        let mut sum = *acc;
        for t in 0..n / stride {
            let at = t * stride + f0;
            // SAFETY: `t < n / stride`, so `at + 8V ≤ t·stride + stride ≤ n`, the length of
            // `w` (sliced above) and of every `x[p]` (asserted above).
            let taps: [f32x8; V] = unsafe { vectors_unchecked(w, at) };
            for p in 0..P {
                // SAFETY: as for `taps`.
                let v: [f32x8; V] = unsafe { vectors_unchecked(x[p], at) };
                for k in 0..V {
                    sum[p][k] = v[k].mul_add(taps[k], sum[p][k]);
                }
            }
        }
        *acc = sum;
    }

    #[inline(always)]
    fn accumulate_one<const P: usize>(
        acc: &mut [f32; P],
        x: [&[f32]; P],
        w: &[f32],
        f0: usize,
        stride: usize,
    ) {
        for t in 0..x[0].len() / stride {
            let at = t * stride + f0;
            for p in 0..P {
                acc[p] += x[p][at] * w[at];
            }
        }
    }
}

/// One block of `P` output pixels × `8·V` output channels from `f0`: starts from `bias` (zeros
/// when empty), adds every `(inputs, weights)` pair `taps` yields, stores pixel `p` at `y[p]`
/// and applies the activation there.
#[inline(always)]
fn block<'a, M: Product, const P: usize, const V: usize>(
    f0: usize,
    stride: usize,
    bias: &[f32],
    taps: impl Iterator<Item = ([&'a [f32]; P], &'a [f32])>,
    y: &mut [&mut [f32]; P],
    activation: Activation,
) {
    let start: [f32x8; V] = if bias.is_empty() {
        [f32x8::ZERO; V]
    } else {
        vectors(bias, f0)
    };
    let mut acc = [start; P];
    for (x, w) in taps {
        M::accumulate::<P, V>(&mut acc, x, w, f0, stride);
    }
    for (acc, y) in acc.iter().zip(y.iter_mut()) {
        let out = &mut y[f0..f0 + 8 * V];
        for (o, a) in out.chunks_exact_mut(8).zip(acc) {
            o.copy_from_slice(a.as_array());
        }
        activation.apply_elementwise(out);
    }
}

/// The one output channel `f0` of `P` pixels, for widths that are not a multiple of eight.
#[inline(always)]
fn channel<'a, M: Product, const P: usize>(
    f0: usize,
    stride: usize,
    bias: &[f32],
    taps: impl Iterator<Item = ([&'a [f32]; P], &'a [f32])>,
    y: &mut [&mut [f32]; P],
    activation: Activation,
) {
    let mut acc = [bias.get(f0).copied().unwrap_or(0.0); P];
    for (x, w) in taps {
        M::accumulate_one::<P>(&mut acc, x, w, f0, stride);
    }
    for (a, y) in acc.iter().zip(y.iter_mut()) {
        y[f0] = *a;
        activation.apply_elementwise(&mut y[f0..f0 + 1]);
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
    if F.is_multiple_of(8 * VECTORS) {
        for f0 in (0..F).step_by(8 * VECTORS) {
            block::<M, P, VECTORS>(f0, stride, bias, taps(), &mut y, activation);
        }
    } else if F.is_multiple_of(16) {
        for f0 in (0..F).step_by(16) {
            block::<M, P, 2>(f0, stride, bias, taps(), &mut y, activation);
        }
    } else {
        let whole = F - F % 8;
        for f0 in (0..whole).step_by(8) {
            block::<M, P, 1>(f0, stride, bias, taps(), &mut y, activation);
        }
        for f0 in whole..F {
            channel::<M, P>(f0, stride, bias, taps(), &mut y, activation);
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
    if F.is_multiple_of(64) {
        for f0 in (0..F).step_by(64) {
            block::<Dot, 1, 8>(f0, F, bias, taps(), &mut [&mut *y], activation);
        }
    } else {
        pixels::<Dot, 1, F, _>(F, bias, taps, [y], activation);
    }
}
