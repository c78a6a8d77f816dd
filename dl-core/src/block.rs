//! The register-blocked multiply-accumulate that `Dense`, `Conv2D` (any kernel size) and the
//! pointwise half of `SeparableConv2D` share: a block of output pixels × a block of output
//! channels is summed in a fixed-size accumulator, so each weight row loaded from memory feeds
//! every pixel of the block and the accumulators stay in vector registers. The block sizes are
//! const arguments: the compiler unrolls the inner loops, and the vectors are as wide as the
//! target allows (`-C target-cpu=…`): 16 floats with AVX-512, else 8, and the same code stays
//! correct on any target.

use wide::f32x8;
#[cfg(target_feature = "avx512f")]
use wide::f32x16;

use core::ops::Range;

use crate::activation::Activation;

/// A vector of floats a block is made of.
pub(crate) trait Lanes: Copy {
    /// Floats in the vector.
    const N: usize;
    /// All zero.
    const ZERO: Self;
    /// `v` in every lane.
    fn splat(v: f32) -> Self;
    /// `N` floats of `s` from `at`.
    fn load(s: &[f32], at: usize) -> Self;
    /// `N` floats of `s` from `at`, unchecked: the hot loops check their whole range once
    /// beforehand, since a bounds check inside the loop (a way out of it) kept the accumulators
    /// from staying in registers.
    ///
    /// # Safety
    /// `at + N <= s.len()`.
    unsafe fn load_unchecked(s: &[f32], at: usize) -> Self;
    /// `self · a + b`, fused where the target has FMA.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `self + a`.
    fn add(self, a: Self) -> Self;
    /// `max(v, 0)` in every lane, `0` for NaN as `f32::max` gives.
    fn relu(self) -> Self;
    /// Writes the `N` lanes to `out` (`N` floats).
    fn store(self, out: &mut [f32]);
}

macro_rules! lanes {
    ($t:ty, $n:literal) => {
        impl Lanes for $t {
            const N: usize = $n;
            const ZERO: Self = <$t>::ZERO;

            #[inline(always)]
            fn splat(v: f32) -> Self {
                <$t>::splat(v)
            }

            #[inline(always)]
            fn load(s: &[f32], at: usize) -> Self {
                <$t>::new(*s[at..].first_chunk().expect("a vector of the block"))
            }

            #[inline(always)]
            unsafe fn load_unchecked(s: &[f32], at: usize) -> Self {
                debug_assert!(at + $n <= s.len());
                // SAFETY: `at + N <= s.len()` (the caller's promise), and `[f32; N]` has `f32`'s
                // alignment, so the `N` floats from there are a valid `&[f32; N]`.
                <$t>::new(unsafe { *(s.as_ptr().add(at) as *const [f32; $n]) })
            }

            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }

            #[inline(always)]
            fn add(self, a: Self) -> Self {
                self + a
            }

            #[inline(always)]
            fn relu(self) -> Self {
                self.max(<$t>::ZERO)
            }

            #[inline(always)]
            fn store(self, out: &mut [f32]) {
                out.copy_from_slice(self.as_array());
            }
        }
    };
}

lanes!(f32x8, 8);
#[cfg(target_feature = "avx512f")]
lanes!(f32x16, 16);

/// The widest vector of the target.
#[cfg(target_feature = "avx512f")]
pub(crate) type Wide = f32x16;
/// The widest vector of the target (`f32x8` is two SSE vectors where there is no AVX).
#[cfg(not(target_feature = "avx512f"))]
pub(crate) type Wide = f32x8;

/// Most vectors of channels per pixel in a block: four pixels × four vectors are 16
/// accumulators, which fit AVX-512's 32 vector registers; targets with 16 take half as many.
const MAX_VECTORS: usize = if cfg!(target_feature = "avx512f") { 4 } else { 2 };

/// Accumulators a block aims at: enough independent sums to keep both FMA units busy through
/// their latency, and few enough to leave registers for the weights and the broadcast input.
const ACCUMULATORS: usize = if cfg!(target_feature = "avx512f") { 24 } else { 8 };

/// Output channels a convolution computes over the whole image before it turns to the next
/// ones, where it has more: the weights of these channels stay in the L1 cache across the
/// image, instead of all of them streaming from L2 for every block of pixels.
pub(crate) const CHUNK: usize = MAX_VECTORS * <Wide as Lanes>::N;

/// Vectors of `Wide` per pixel in the blocks of `f` output channels (0: narrower than one).
const fn vectors(f: usize) -> usize {
    let w = <Wide as Lanes>::N;
    if f.is_multiple_of(MAX_VECTORS * w) {
        MAX_VECTORS
    } else if f.is_multiple_of(2 * w) {
        2
    } else if f.is_multiple_of(w) {
        1
    } else {
        0
    }
}

/// Output pixels summed together in the blocks of `f` output channels: each weight row is
/// loaded once for this many pixels, and narrow blocks take more pixels so that there are
/// [`ACCUMULATORS`] of them (at most eight pixels, so that images a few pixels wide still fill
/// blocks).
pub(crate) const fn pixels_per_block(f: usize) -> usize {
    let v = if vectors(f) == 0 { 1 } else { vectors(f) };
    let p = ACCUMULATORS / v;
    if p < 4 {
        4
    } else if p > 8 {
        8
    } else {
        p
    }
}

/// How a block's inputs meet its weights.
pub(crate) trait Product {
    /// Adds to `acc` the products of the pixels' inputs `x[p]` (one kernel row of taps each)
    /// with the weights `w` of the same taps; the block's channels start at `f0`, and `stride`
    /// floats separate one input (or tap) of the weights from the next.
    fn accumulate<L: Lanes, const P: usize, const V: usize>(
        acc: &mut [[L; V]; P],
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

/// `V` vectors of `s` from `at`, unchecked.
///
/// # Safety
/// `at + V·L::N <= s.len()`.
#[inline(always)]
unsafe fn vectors_unchecked<L: Lanes, const V: usize>(s: &[f32], at: usize) -> [L; V] {
    let mut v = [L::ZERO; V];
    for (k, v) in v.iter_mut().enumerate() {
        // SAFETY: `at + k·N + N <= at + V·N <= s.len()` (the caller's promise).
        *v = unsafe { L::load_unchecked(s, at + L::N * k) };
    }
    v
}

/// Every input feeds every output channel (`Dense`, `Conv2D`): `acc[p][j] += Σ_r x[p][r] ·
/// w[r·stride + f0 + j]`, weights `[inputs, outputs]`.
pub(crate) struct Dot;

impl Product for Dot {
    #[inline(always)]
    fn accumulate<L: Lanes, const P: usize, const V: usize>(
        acc: &mut [[L; V]; P],
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
            (n - 1) * stride + f0 + L::N * V <= w.len(),
            "the block's weight rows"
        );
        // A local copy whose address never leaves this loop, so that the compiler keeps it in
        // registers (through `acc` it stored every vector back on every row).
        let mut sum = *acc;
        // `r` indexes every pixel's inputs and the weight rows alike.
        #[allow(clippy::needless_range_loop)]
        for r in 0..n {
            // SAFETY: `r ≤ n − 1`, so `r·stride + f0 + V·N ≤ w.len()`, asserted above.
            let row: [L; V] = unsafe { vectors_unchecked(w, r * stride + f0) };
            for p in 0..P {
                // SAFETY: `r < n`, the length of every `x[p]` (asserted above).
                let v = L::splat(unsafe { *x[p].get_unchecked(r) });
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
    fn accumulate<L: Lanes, const P: usize, const V: usize>(
        acc: &mut [[L; V]; P],
        x: [&[f32]; P],
        w: &[f32],
        f0: usize,
        stride: usize,
    ) {
        // A local copy kept in registers, as in `Dot`.
        let n = x[0].len();
        let w = &w[..n];
        assert!(x.iter().all(|s| s.len() == n), "the pixels' inputs");
        assert!(f0 + L::N * V <= stride, "the block's channels");
        let mut sum = *acc;
        for t in 0..n / stride {
            let at = t * stride + f0;
            // SAFETY: `t < n / stride`, so `at + V·N ≤ t·stride + stride ≤ n`, the length of
            // `w` (sliced above) and of every `x[p]` (asserted above).
            let taps: [L; V] = unsafe { vectors_unchecked(w, at) };
            for p in 0..P {
                // SAFETY: as for `taps`.
                let v: [L; V] = unsafe { vectors_unchecked(x[p], at) };
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

/// One block of `P` output pixels × `V` vectors of output channels from `f0`: starts from
/// `bias` (zeros when empty), adds every `(inputs, weights)` pair `taps` yields, stores pixel `p`
/// at `y[p]` and applies the activation there.
#[inline(always)]
fn block<'a, M: Product, L: Lanes, const P: usize, const V: usize>(
    f0: usize,
    stride: usize,
    bias: &[f32],
    taps: impl Iterator<Item = ([&'a [f32]; P], &'a [f32])>,
    y: &mut [&mut [f32]; P],
    activation: Activation,
) {
    let mut start = [L::ZERO; V];
    if !bias.is_empty() {
        for (k, s) in start.iter_mut().enumerate() {
            *s = L::load(bias, f0 + L::N * k);
        }
    }
    let mut acc = [start; P];
    for (x, w) in taps {
        M::accumulate::<L, P, V>(&mut acc, x, w, f0, stride);
    }
    // ReLU, the activation of nearly every convolution, in the registers on the way out; the
    // others over the stored block.
    let relu = activation == Activation::Relu;
    for (acc, y) in acc.iter().zip(y.iter_mut()) {
        let out = &mut y[f0..f0 + L::N * V];
        for (o, a) in out.chunks_exact_mut(L::N).zip(acc) {
            if relu { a.relu() } else { *a }.store(o);
        }
        if !relu {
            activation.apply_elementwise(out);
        }
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

/// The output `channels` (of `F`; the range a multiple of [`CHUNK`] or all of them) of `P`
/// pixels, in blocks as wide as `F` allows: `taps` gives the pixels' inputs and the weights of
/// each kernel row, `stride` apart (see [`Product`]).
#[inline(always)]
pub(crate) fn pixels<'a, M: Product, const P: usize, const F: usize, T>(
    channels: Range<usize>,
    stride: usize,
    bias: &[f32],
    taps: impl Fn() -> T,
    mut y: [&mut [f32]; P],
    activation: Activation,
) where
    T: Iterator<Item = ([&'a [f32]; P], &'a [f32])>,
{
    let w = <Wide as Lanes>::N;
    match vectors(F) {
        4 => {
            for f0 in channels.clone().step_by(4 * w) {
                block::<M, Wide, P, 4>(f0, stride, bias, taps(), &mut y, activation);
            }
        }
        2 => {
            for f0 in channels.clone().step_by(2 * w) {
                block::<M, Wide, P, 2>(f0, stride, bias, taps(), &mut y, activation);
            }
        }
        1 => {
            for f0 in channels.clone().step_by(w) {
                block::<M, Wide, P, 1>(f0, stride, bias, taps(), &mut y, activation);
            }
        }
        _ => {
            debug_assert!(channels == (0..F));
            let whole = F - F % 8;
            for f0 in (0..whole).step_by(8) {
                block::<M, f32x8, P, 1>(f0, stride, bias, taps(), &mut y, activation);
            }
            for f0 in whole..F {
                channel::<M, P>(f0, stride, bias, taps(), &mut y, activation);
            }
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
    let w = <Wide as Lanes>::N;
    if F.is_multiple_of(8 * w) {
        for f0 in (0..F).step_by(8 * w) {
            block::<Dot, Wide, 1, 8>(f0, F, bias, taps(), &mut [&mut *y], activation);
        }
    } else {
        pixels::<Dot, 1, F, _>(0..F, F, bias, taps, [y], activation);
    }
}
