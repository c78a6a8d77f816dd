//! `MaxPooling2D`, `AveragePooling2D`, `GlobalMaxPooling2D` and `GlobalAveragePooling2D` on
//! channels-last images.
//!
//! Layout: a sample is `H·W·C` floats in HWC order, element `(h·W + w)·C + c` (channel fastest,
//! then column, then row); the pooled output `(oh·OW + ow)·C + c` is HWC too, and the global
//! poolings' output is the `C` channels. Every window cell is a contiguous run of `C` floats, so
//! the kernels combine whole runs (one vectorised pass over the channels per cell) instead of
//! walking the window once per channel. Pooling has no parameters and ignores the activation
//! it is given (`network!` passes `Linear`).

use super::conv2d::{Window, span, window_fits};
use super::{Buffers, Layer, TrainingBytes, bytes_of, fit_len, output_and_gradient};
use crate::activation::Activation;

macro_rules! no_params {
    () => {
        const PARAMS: usize = 0;

        fn for_each_param<'a>(&'a self, _f: &mut impl FnMut(&'static str, &'a [f32])) {}

        fn for_each_param_mut(&mut self, _f: &mut impl FnMut(&'static str, &mut [f32])) {}

        fn zip_params_mut(&mut self, _other: &Self, _f: &mut impl FnMut(&mut [f32], &[f32])) {}
    };
}

/// Keras's `MaxPooling2D(pool_size, strides, padding)`: the maximum of each `PH × PW` window,
/// moved by `SH × SW`, over `H × W × C` to `OH × OW × C`.
///
/// With `same` padding (`PT` rows on top, `PL` columns on the left, the rest at the
/// bottom/right) the padded cells never win. The gradient of each output goes to the input
/// that won its window; on a tie, to the first of the tied cells in row-major window order, as
/// TensorFlow does. Inconsistent sizes fail to compile when the layer is used.
#[derive(Clone, Copy, Debug, Default)]
pub struct MaxPooling2D<
    const H: usize,
    const W: usize,
    const C: usize,
    const PH: usize,
    const PW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
>;

/// Keras's `AveragePooling2D(pool_size, strides, padding)`: the mean of each `PH × PW` window,
/// with the parameters of [`MaxPooling2D`]. With `same` padding a window at the edge averages
/// its cells inside the image only (the padding is not counted), as Keras does.
#[derive(Clone, Copy, Debug, Default)]
pub struct AveragePooling2D<
    const H: usize,
    const W: usize,
    const C: usize,
    const PH: usize,
    const PW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
>;

/// Keras's `GlobalMaxPooling2D()`: the maximum of each channel over `H × W`, `C` outputs. Ties
/// send the gradient to the first cell in row-major order.
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalMaxPooling2D<const H: usize, const W: usize, const C: usize>;

/// Keras's `GlobalAveragePooling2D()`: the mean of each channel over `H × W`, `C` outputs.
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalAveragePooling2D<const H: usize, const W: usize, const C: usize>;

/// Training cache of the max poolings: for each output, the index in the batch's input of the
/// cell that won its window.
#[derive(Debug, Default)]
pub struct ArgmaxCache {
    /// Winning input index per output, `OUTPUTS × batch`.
    pub argmax: Vec<u32>,
}

/// Keeps the window checks and geometry in one place for both windowed poolings.
macro_rules! windowed {
    ($name:ident) => {
        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const PH: usize,
            const PW: usize,
            const SH: usize,
            const SW: usize,
            const OH: usize,
            const OW: usize,
            const PT: usize,
            const PL: usize,
        > $name<H, W, C, PH, PW, SH, SW, OH, OW, PT, PL>
        {
            /// Post-monomorphisation check that the derived sizes agree with the others.
            const CHECK: () = {
                assert!(C > 0, "pooling: channels must be positive");
                assert!(
                    window_fits(H, PH, SH, OH, PT),
                    "pooling: OH and PT are not Keras's output height and top padding for H, PH, SH"
                );
                assert!(
                    window_fits(W, PW, SW, OW, PL),
                    "pooling: OW and PL are not Keras's output width and left padding for W, PW, SW"
                );
            };

            const WINDOW: Window = Window {
                h: H,
                w: W,
                c: C,
                kh: PH,
                kw: PW,
                sh: SH,
                sw: SW,
                oh: OH,
                ow: OW,
                pt: PT,
                pl: PL,
            };
        }
    };
}

windowed!(MaxPooling2D);
windowed!(AveragePooling2D);

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const PH: usize,
    const PW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
> Layer for MaxPooling2D<H, W, C, PH, PW, SH, SW, OH, OW, PT, PL>
{
    const INPUTS: usize = H * W * C;
    const OUTPUTS: usize = OH * OW * C;
    type In = f32;
    type Extra = ArgmaxCache;
    // The winning input index of every output.
    const TRAINING_BYTES: TrainingBytes =
        TrainingBytes::always(output_and_gradient::<Self>() + bytes_of::<u32>(Self::OUTPUTS));
    no_params!();

    fn zeros() -> Self {
        const { Self::CHECK };
        Self
    }

    #[inline]
    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<ArgmaxCache>,
        _activation: Activation,
        training: bool,
    ) {
        const { Self::CHECK };
        max_pool_layer(&Self::WINDOW, x, batch, buf, training);
    }

    fn pre_activation<'a>(_extra: &'a ArgmaxCache, y: &'a [f32]) -> &'a [f32] {
        y
    }

    #[inline]
    fn backward_batch(
        &self,
        _x: &[f32],
        batch: usize,
        buf: &mut Buffers<ArgmaxCache>,
        _activation: Activation,
        _grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        const { Self::CHECK };
        if let Some(dx) = dx {
            scatter_argmax(&buf.dy[..Self::OUTPUTS * batch], &buf.extra.argmax, dx, batch);
        }
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const PH: usize,
    const PW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
> Layer for AveragePooling2D<H, W, C, PH, PW, SH, SW, OH, OW, PT, PL>
{
    const INPUTS: usize = H * W * C;
    const OUTPUTS: usize = OH * OW * C;
    type In = f32;
    type Extra = ();
    const TRAINING_BYTES: TrainingBytes = TrainingBytes::always(output_and_gradient::<Self>());
    no_params!();

    fn zeros() -> Self {
        const { Self::CHECK };
        Self
    }

    #[inline]
    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _training: bool,
    ) {
        const { Self::CHECK };
        avg_pool_layer(&Self::WINDOW, x, batch, buf);
    }

    fn pre_activation<'a>(_extra: &'a (), y: &'a [f32]) -> &'a [f32] {
        y
    }

    #[inline]
    fn backward_batch(
        &self,
        _x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        const { Self::CHECK };
        if let Some(dx) = dx {
            avg_pool_backward(&Self::WINDOW, &buf.dy[..Self::OUTPUTS * batch], batch, dx);
        }
    }
}

/// A global pooling is a window over the whole image.
const fn global_window(h: usize, w: usize, c: usize) -> Window {
    Window {
        h,
        w,
        c,
        kh: h,
        kw: w,
        sh: 1,
        sw: 1,
        oh: 1,
        ow: 1,
        pt: 0,
        pl: 0,
    }
}

impl<const H: usize, const W: usize, const C: usize> Layer for GlobalMaxPooling2D<H, W, C> {
    const INPUTS: usize = H * W * C;
    const OUTPUTS: usize = C;
    type In = f32;
    type Extra = ArgmaxCache;
    // The winning input index of every output.
    const TRAINING_BYTES: TrainingBytes =
        TrainingBytes::always(output_and_gradient::<Self>() + bytes_of::<u32>(Self::OUTPUTS));
    no_params!();

    fn zeros() -> Self {
        const { assert!(H > 0 && W > 0 && C > 0, "GlobalMaxPooling2D: empty image") };
        Self
    }

    #[inline]
    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<ArgmaxCache>,
        _activation: Activation,
        training: bool,
    ) {
        const { assert!(H > 0 && W > 0 && C > 0, "GlobalMaxPooling2D: empty image") };
        max_pool_layer(&global_window(H, W, C), x, batch, buf, training);
    }

    fn pre_activation<'a>(_extra: &'a ArgmaxCache, y: &'a [f32]) -> &'a [f32] {
        y
    }

    #[inline]
    fn backward_batch(
        &self,
        _x: &[f32],
        batch: usize,
        buf: &mut Buffers<ArgmaxCache>,
        _activation: Activation,
        _grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        if let Some(dx) = dx {
            scatter_argmax(&buf.dy[..C * batch], &buf.extra.argmax, dx, batch);
        }
    }
}

impl<const H: usize, const W: usize, const C: usize> Layer for GlobalAveragePooling2D<H, W, C> {
    const INPUTS: usize = H * W * C;
    const OUTPUTS: usize = C;
    type In = f32;
    type Extra = ();
    const TRAINING_BYTES: TrainingBytes = TrainingBytes::always(output_and_gradient::<Self>());
    no_params!();

    fn zeros() -> Self {
        const { assert!(H > 0 && W > 0 && C > 0, "GlobalAveragePooling2D: empty image") };
        Self
    }

    #[inline]
    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _training: bool,
    ) {
        const { assert!(H > 0 && W > 0 && C > 0, "GlobalAveragePooling2D: empty image") };
        avg_pool_layer(&global_window(H, W, C), x, batch, buf);
    }

    fn pre_activation<'a>(_extra: &'a (), y: &'a [f32]) -> &'a [f32] {
        y
    }

    #[inline]
    fn backward_batch(
        &self,
        _x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        if let Some(dx) = dx {
            avg_pool_backward(&global_window(H, W, C), &buf.dy[..C * batch], batch, dx);
        }
    }
}

/// A max-pooling layer's forward over `win` (the windowed and the global one): sizes the
/// batch's buffers and pools.
fn max_pool_layer(win: &Window, x: &[f32], batch: usize, buf: &mut Buffers<ArgmaxCache>, training: bool) {
    let out = win.pooled_len() * batch;
    fit_len(&mut buf.y, out);
    fit_len(&mut buf.dy, out);
    max_pool_forward(win, x, batch, &mut buf.y, &mut buf.extra.argmax, training);
}

/// An average-pooling layer's forward over `win`, as [`max_pool_layer`].
fn avg_pool_layer(win: &Window, x: &[f32], batch: usize, buf: &mut Buffers<()>) {
    let out = win.pooled_len() * batch;
    fit_len(&mut buf.y, out);
    fit_len(&mut buf.dy, out);
    avg_pool_forward(win, x, batch, &mut buf.y);
}

/// Resizes an index buffer without shrinking its capacity.
fn fit_index(v: &mut Vec<u32>, len: usize) {
    if v.len() != len {
        v.resize(len, 0);
    }
}

/// One pass over each window: the running maximum and, when `training`, its input index, per
/// channel, updated cell by cell in row-major window order. Only a strictly greater value
/// replaces the maximum, so the first of tied cells wins. Inference skips the indices (and
/// empties them, so a backward pass without a training forward pass fails its length check).
fn max_pool_forward(
    win: &Window,
    x: &[f32],
    batch: usize,
    y: &mut [f32],
    argmax: &mut Vec<u32>,
    training: bool,
) {
    let (in_len, out_len) = (win.in_len(), win.pooled_len());
    assert_eq!(x.len(), in_len * batch, "pooling input has the wrong length");
    assert!(
        u32::try_from(x.len()).is_ok(),
        "max pooling indexes its input with u32; the batch is too large"
    );
    let y = &mut y[..out_len * batch];
    if training {
        fit_index(argmax, out_len * batch);
    } else {
        argmax.clear();
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F.
            unsafe {
                if training {
                    max_pool_avx512::<true>(win, x, y, argmax);
                } else if win.pt == 0 && win.pl == 0 && valid(win) {
                    avx512::max_pool_valid(win, x, batch, y);
                } else {
                    max_pool_avx512::<false>(win, x, y, argmax);
                }
            }
            return;
        }
    }
    if training {
        max_pool_scan::<false, true>(win, x, y, argmax);
    } else {
        max_pool_scan::<false, false>(win, x, y, argmax);
    }
}

/// Whether every window lies inside the image (no padding), so no window needs clipping.
fn valid(win: &Window) -> bool {
    win.h >= win.kh
        && win.w >= win.kw
        && (win.oh - 1) * win.sh + win.kh <= win.h
        && (win.ow - 1) * win.sw + win.kw <= win.w
}

/// [`max_pool_scan`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn max_pool_avx512<const ARG: bool>(win: &Window, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    max_pool_scan::<true, ARG>(win, x, y, argmax);
}

/// The max-pooling loop over the samples of `x` and their windows. `AVX512` selects the
/// 16-lane kernel, which may only be inlined into a function compiled with AVX-512F; `ARG`
/// whether the winners' indices are written to `argmax` (which is otherwise empty).
#[inline(always)]
fn max_pool_scan<const AVX512: bool, const ARG: bool>(
    win: &Window,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) {
    let Window {
        h,
        w,
        c,
        kh,
        kw,
        sh,
        sw,
        oh,
        ow,
        pt,
        pl,
    } = *win;
    let (in_len, out_len) = (win.in_len(), win.pooled_len());
    // Without indices, every sample and output cell gets an empty index slice.
    let arg_len = if ARG { out_len } else { 0 };
    let arg_cell = if ARG { c } else { 0 };
    for (n, (xs, ys)) in x
        .chunks_exact(in_len)
        .zip(y.chunks_exact_mut(out_len))
        .enumerate()
    {
        let args = &mut argmax[n * arg_len..(n + 1) * arg_len];
        let base = n * in_len;
        for o_r in 0..oh {
            let (ih, _, nkh) = span(o_r, sh, pt, kh, h);
            for o_c in 0..ow {
                let (iw, _, nkw) = span(o_c, sw, pl, kw, w);
                let o = o_r * ow + o_c;
                let out = &mut ys[o * c..(o + 1) * c];
                let arg = &mut args[o * arg_cell..(o + 1) * arg_cell];
                // The window always holds at least one cell of the image (`window_fits`).
                let first = (ih * w + iw) * c;
                let scan = Scan {
                    xs,
                    base,
                    first,
                    rows: nkh,
                    cols: nkw,
                    row_stride: w * c,
                    c,
                };
                #[cfg(target_arch = "x86_64")]
                {
                    if AVX512 {
                        // SAFETY: `AVX512` is only set inside `max_pool_avx512`.
                        unsafe { avx512::max_window::<ARG>(&scan, out, arg) };
                        continue;
                    }
                }
                let mut c0 = 0;
                while c0 + LANES <= c {
                    scan.max_block::<LANES, ARG>(c0, out, arg);
                    c0 += LANES;
                }
                while c0 < c {
                    scan.max_block::<1, ARG>(c0, out, arg);
                    c0 += 1;
                }
            }
        }
    }
}

/// Channels per block of the portable max-pooling scan.
const LANES: usize = 8;

/// One window of one sample: its cells inside the image are `rows × cols` runs of `c` floats,
/// the first at `first` in `xs`, rows `row_stride` apart; the sample starts at `base` in the
/// batch.
struct Scan<'a> {
    xs: &'a [f32],
    base: usize,
    first: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    c: usize,
}

impl Scan<'_> {
    /// The maximum and argmax of channels `c0..c0 + B`, kept in registers while the window is
    /// scanned.
    #[inline(always)]
    fn max_block<const B: usize, const ARG: bool>(&self, c0: usize, out: &mut [f32], arg: &mut [u32]) {
        let start = self.first + c0;
        let mut best: [f32; B] = self.xs[start..start + B].try_into().expect("block in bounds");
        let mut at: [u32; B] = core::array::from_fn(|l| (self.base + start + l) as u32);
        for r in 0..self.rows {
            for q in 0..self.cols {
                let cell = start + r * self.row_stride + q * self.c;
                let v: &[f32; B] = self.xs[cell..cell + B].try_into().expect("block in bounds");
                let idx = (self.base + cell) as u32;
                for l in 0..B {
                    let better = v[l] > best[l];
                    best[l] = if better { v[l] } else { best[l] };
                    at[l] = if better { idx + l as u32 } else { at[l] };
                }
            }
        }
        out[c0..c0 + B].copy_from_slice(&best);
        if ARG {
            arg[c0..c0 + B].copy_from_slice(&at);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::*;

    use super::{Scan, Window};

    /// Inference max pooling when no window reaches the padding: the maxima only, each
    /// window's cells read at fixed offsets from its corner, without the per-window clipping
    /// and index bookkeeping of [`max_window`]. `maxps` returns its second operand unless the
    /// first is greater, as the training scan's masked move does, so the values agree.
    ///
    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn max_pool_valid(win: &Window, x: &[f32], batch: usize, y: &mut [f32]) {
        let Window {
            w,
            c,
            kh,
            kw,
            sh,
            sw,
            oh,
            ow,
            ..
        } = *win;
        let (in_len, out_len) = (win.in_len(), win.pooled_len());
        assert!(
            super::valid(win) && x.len() >= in_len * batch && y.len() >= out_len * batch,
            "pooling buffers too short"
        );
        // SAFETY: window (o_r, o_c) reads rows o_r·sh + r < h and columns o_c·sw + q < w of
        // its sample (`valid`), channels below c (masked), and writes output cell (o_r, o_c);
        // both buffers hold `batch` samples (asserted).
        unsafe {
            for n in 0..batch {
                let xs = x.as_ptr().add(n * in_len);
                let ys = y.as_mut_ptr().add(n * out_len);
                for o_r in 0..oh {
                    for o_c in 0..ow {
                        let corner = xs.add((o_r * sh * w + o_c * sw) * c);
                        let out = ys.add((o_r * ow + o_c) * c);
                        let mut c0 = 0;
                        while c0 < c {
                            let left = c - c0;
                            let m: __mmask16 = if left >= 16 {
                                0xffff
                            } else {
                                ((1u32 << left) - 1) as __mmask16
                            };
                            let mut best = _mm512_maskz_loadu_ps(m, corner.add(c0));
                            for r in 0..kh {
                                for q in 0..kw {
                                    if r + q > 0 {
                                        let cell = corner.add((r * w + q) * c + c0);
                                        best = _mm512_max_ps(_mm512_maskz_loadu_ps(m, cell), best);
                                    }
                                }
                            }
                            _mm512_mask_storeu_ps(out.add(c0), m, best);
                            c0 += 16;
                        }
                    }
                }
            }
        }
    }

    /// The window's maximum and argmax for all channels, 16 at a time (the last block masked),
    /// each block's running maximum and index in two registers updated by a masked move.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[inline(always)]
    pub(super) unsafe fn max_window<const ARG: bool>(s: &Scan<'_>, out: &mut [f32], arg: &mut [u32]) {
        let last = s.first + (s.rows - 1) * s.row_stride + (s.cols - 1) * s.c + s.c;
        assert!(
            s.rows > 0 && s.cols > 0 && last <= s.xs.len() && out.len() >= s.c && (!ARG || arg.len() >= s.c),
            "pooling window out of bounds"
        );
        let xs = s.xs.as_ptr();
        // SAFETY: AVX-512F is available (caller); every load reads lanes below `c` of a cell
        // at or before `last` ≤ xs.len(), and every store lanes below `c` ≤ out.len(),
        // arg.len() (checked above), the masks excluding the rest.
        unsafe {
            let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let mut c0 = 0;
            while c0 < s.c {
                let left = s.c - c0;
                let m: __mmask16 = if left >= 16 {
                    0xffff
                } else {
                    ((1u32 << left) - 1) as __mmask16
                };
                let start = s.first + c0;
                let mut best = _mm512_maskz_loadu_ps(m, xs.add(start));
                let mut at = _mm512_add_epi32(_mm512_set1_epi32((s.base + start) as i32), lane);
                for r in 0..s.rows {
                    for q in 0..s.cols {
                        if r == 0 && q == 0 {
                            continue;
                        }
                        let cell = start + r * s.row_stride + q * s.c;
                        let v = _mm512_maskz_loadu_ps(m, xs.add(cell));
                        if !ARG {
                            // `maxps` returns its second operand unless the first is greater,
                            // as the masked move below does.
                            best = _mm512_max_ps(v, best);
                            continue;
                        }
                        let better = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best);
                        best = _mm512_mask_mov_ps(best, better, v);
                        let idx = _mm512_add_epi32(_mm512_set1_epi32((s.base + cell) as i32), lane);
                        at = _mm512_mask_mov_epi32(at, better, idx);
                    }
                }
                _mm512_mask_storeu_ps(out.as_mut_ptr().add(c0), m, best);
                if ARG {
                    _mm512_mask_storeu_epi32(arg.as_mut_ptr().add(c0).cast(), m, at);
                }
                c0 += 16;
            }
        }
    }
}

/// `dx[argmax[o]] += dy[o]` over a zeroed `dx` (overlapping windows may share a winner), a
/// sample at a time so that its part of `dx` is still in cache when the gradients land.
fn scatter_argmax(dy: &[f32], argmax: &[u32], dx: &mut [f32], batch: usize) {
    assert_eq!(
        dy.len(),
        argmax.len(),
        "max pooling backward without its forward pass"
    );
    if batch == 0 {
        return;
    }
    let (in_len, out_len) = (dx.len() / batch, dy.len() / batch);
    assert_eq!(
        dx.len(),
        in_len * batch,
        "pooling input gradient has the wrong length"
    );
    for (n, ((dxs, dys), args)) in dx
        .chunks_exact_mut(in_len)
        .zip(dy.chunks_exact(out_len))
        .zip(argmax.chunks_exact(out_len))
        .enumerate()
    {
        dxs.fill(0.0);
        let base = n * in_len;
        for (&g, &i) in dys.iter().zip(args) {
            dxs[i as usize - base] += g;
        }
    }
}

/// The mean of each window over its cells inside the image.
fn avg_pool_forward(win: &Window, x: &[f32], batch: usize, y: &mut [f32]) {
    let Window {
        h,
        w,
        c,
        kh,
        kw,
        sh,
        sw,
        oh,
        ow,
        pt,
        pl,
    } = *win;
    let (in_len, out_len) = (win.in_len(), win.pooled_len());
    assert_eq!(x.len(), in_len * batch, "pooling input has the wrong length");
    let y = &mut y[..out_len * batch];
    for (xs, ys) in x.chunks_exact(in_len).zip(y.chunks_exact_mut(out_len)) {
        let mut outs = ys.chunks_exact_mut(c);
        for o_r in 0..oh {
            let (ih, _, nkh) = span(o_r, sh, pt, kh, h);
            for o_c in 0..ow {
                let (iw, _, nkw) = span(o_c, sw, pl, kw, w);
                let out = outs.next().expect("output sized for the batch");
                out.fill(0.0);
                for r in 0..nkh {
                    let row = ((ih + r) * w + iw) * c;
                    for cell in xs[row..row + nkw * c].chunks_exact(c) {
                        for (o, &v) in out.iter_mut().zip(cell) {
                            *o += v;
                        }
                    }
                }
                let inv = 1.0 / (nkh * nkw) as f32;
                out.iter_mut().for_each(|o| *o *= inv);
            }
        }
    }
}

/// Overwrites `dx` with each output's gradient spread evenly over its window's cells inside the
/// image.
fn avg_pool_backward(win: &Window, dy: &[f32], batch: usize, dx: &mut [f32]) {
    let Window {
        h,
        w,
        c,
        kh,
        kw,
        sh,
        sw,
        oh,
        ow,
        pt,
        pl,
    } = *win;
    let (in_len, out_len) = (win.in_len(), win.pooled_len());
    assert_eq!(
        dx.len(),
        in_len * batch,
        "pooling input gradient has the wrong length"
    );
    dx.fill(0.0);
    for (dxs, dys) in dx.chunks_exact_mut(in_len).zip(dy.chunks_exact(out_len)) {
        let mut grads = dys.chunks_exact(c);
        for o_r in 0..oh {
            let (ih, _, nkh) = span(o_r, sh, pt, kh, h);
            for o_c in 0..ow {
                let (iw, _, nkw) = span(o_c, sw, pl, kw, w);
                let g = grads.next().expect("gradient sized for the batch");
                let inv = 1.0 / (nkh * nkw) as f32;
                for r in 0..nkh {
                    let row = ((ih + r) * w + iw) * c;
                    for cell in dxs[row..row + nkw * c].chunks_exact_mut(c) {
                        for (d, &g) in cell.iter_mut().zip(g) {
                            *d += g * inv;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portable scan (which machines with AVX-512 never run otherwise) matches the
    /// dispatched one bit for bit, ties included (values from a small set).
    #[test]
    fn portable_max_pool_matches_dispatched() {
        for c in [1, 3, 8, 16, 17, 32, 40] {
            for (kh, kw, sh, sw, pt, pl, oh, ow) in [
                (2, 2, 2, 2, 0, 0, 3, 2),
                (3, 3, 2, 2, 1, 1, 4, 3),
                (3, 2, 1, 1, 0, 0, 5, 4),
            ] {
                let win = Window {
                    h: 7,
                    w: 5,
                    c,
                    kh,
                    kw,
                    sh,
                    sw,
                    oh,
                    ow,
                    pt,
                    pl,
                };
                let batch = 2;
                let x: Vec<f32> = (0..7 * 5 * c * batch).map(|i| ((i * 7919) % 11) as f32).collect();
                let outs = oh * ow * c * batch;
                let (mut ya, mut yb) = (vec![f32::NAN; outs], vec![f32::NAN; outs]);
                let (mut aa, mut ab) = (Vec::new(), vec![u32::MAX; outs]);
                max_pool_forward(&win, &x, batch, &mut ya, &mut aa, true);
                max_pool_scan::<false, true>(&win, &x, &mut yb, &mut ab);
                assert_eq!((&ya, aa), (&yb, ab), "{win:?}");
                // Inference: the same maxima from both paths, no indices.
                let (mut yi, mut yp) = (vec![f32::NAN; outs], vec![f32::NAN; outs]);
                let mut ai = vec![7; 3];
                max_pool_forward(&win, &x, batch, &mut yi, &mut ai, false);
                max_pool_scan::<false, false>(&win, &x, &mut yp, &mut []);
                assert_eq!((&yi, &yp), (&ya, &ya), "{win:?} inference");
                assert!(ai.is_empty(), "inference keeps no indices");
            }
        }
    }
}
