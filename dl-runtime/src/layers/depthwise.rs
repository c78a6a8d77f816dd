//! `DepthwiseConv2D(kernel_size, strides, padding, depth_multiplier, activation, use_bias)` and
//! `SeparableConv2D(filters, kernel_size, strides, padding, depth_multiplier, activation,
//! use_bias)` on channels-last images.
//!
//! A depthwise convolution filters each input channel on its own with `M` (`depth_multiplier`)
//! kernels: output channel `c·M + m` of pixel `(oh, ow)` is
//! `Σ_{kh,kw} x[ih, iw, c] · kernel[kh, kw, c, m]` (+ `bias[c·M + m]`), Keras's
//! depthwise kernel `(KH, KW, C, M)` row-major (`kernel` in Keras 3's `DepthwiseConv2D`,
//! `depthwise_kernel` in `SeparableConv2D`). There is no reduction over channels to turn
//! into a matrix product, so the kernels here are direct: for each output pixel, each window cell
//! inside the image adds one contiguous run of `C·M` products (input pixel times kernel taps) to
//! the pixel's `C·M` outputs, channels innermost. The backward pass walks the same cells once,
//! accumulating the kernel gradient and the input gradient in the same contiguous runs.
//!
//! The common case, a 3×3 kernel with strides 1 or 2, multiplier 1 and a channel count that is
//! a multiple of 8, takes other loops: channel slice by channel slice, the slice's nine taps or
//! nine kernel-gradient sums held as locals over the whole image, and the input gradient
//! gathered per input pixel (stride 1) or added row by row (stride 2) instead of scattered.
//! They add the same terms in the same order as the plain loops, so the bits are the same; a
//! test holds them to that.
//!
//! `SeparableConv2D` is a depthwise convolution without bias followed by a pointwise (1×1)
//! convolution with bias: the depthwise output, kept for the backward pass, is the right operand
//! of one matrix product over the batch.

use nalgebra::{SMatrix, SVector};
use rand::Rng;

use super::conv2d::{Window, span, window_fits};
use super::{
    Buffers, ChunkObserver, Input, Layer, OutputGradient, TrainingBytes, add_gradient, bytes_of, fit_len,
    keeps_pre_activation, output_and_gradient,
};
use crate::activation::Activation;
use crate::aligned::Param;
use crate::floats::Floats;
use crate::gemm::{Op, gemm, gemm_bias};
use crate::init;

/// A depthwise 2-D convolution from `H × W × C` to `OH × OW × CM` (`CM = C·M`, channels last).
///
/// The const arguments are `network!`'s, as for [`Conv2D`](super::Conv2D): kernel `KH × KW`,
/// strides `SH × SW`, leading padding `PT`/`PL`, `M` the depth multiplier, `K = KH·KW·C·M` and
/// `CM = C·M`. `BIAS` is `use_bias`: without it the bias stays zero and is neither visited nor
/// trained.
pub struct DepthwiseConv2D<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> {
    /// The depthwise kernel, `(KH, KW, C, M)` row-major: Keras 3's `kernel` of the layer (Keras
    /// 2 named it `depthwise_kernel`).
    pub kernel: Param<SVector<f32, K>>,
    /// One per output channel; zero without `use_bias`.
    pub bias: Param<SVector<f32, CM>>,
}

/// Training cache of a depthwise convolution.
#[derive(Debug, Default)]
pub struct DepthwiseCache {
    /// Pre-activations, `CM × OH·OW·batch`; left empty for `linear` and `relu`.
    pub z: Vec<f32>,
    /// A sample of the input computed by the layer that left it unstored (see
    /// [`DepthwiseConv2D::forward_batch_fused`]).
    pub input: Vec<f32>,
    /// A sample of `∂L/∂z` handed over by the layer reading the output (see
    /// [`DepthwiseConv2D::backward_batch_fused`]).
    pub pulled: Vec<f32>,
    /// A sample's input gradient, where it is added to `dx` rather than written.
    pub added: Vec<f32>,
}

/// Calls `$f::<C>` with `C` the image's channel count where that is a common one and the
/// multiplier is 1, else 0 ("read `win.c`"), compiled for AVX-512 with FMA where the CPU has them
/// (16 lanes) and portably otherwise. The runs of channels are then of a length the compiler
/// knows, unrolled and vectorised whole. The arithmetic is the same per-element sequence either
/// way (LLVM fuses no multiply-add on its own), so the bits are too.
macro_rules! with_channels {
    ($win:expr, $m:expr, $f:ident($($arg:ident: $ty:ty),* $(,)?)) => {{
        macro_rules! by_channels {
            ($call:ident) => {
                match if $m == 1 { $win.c } else { 0 } {
                    8 => $call::<8>($($arg),*),
                    16 => $call::<16>($($arg),*),
                    32 => $call::<32>($($arg),*),
                    64 => $call::<64>($($arg),*),
                    128 => $call::<128>($($arg),*),
                    256 => $call::<256>($($arg),*),
                    _ => $call::<0>($($arg),*),
                }
            };
        }
        #[cfg(target_arch = "x86_64")]
        {
            /// # Safety
            /// The CPU must support AVX-512F and FMA.
            #[target_feature(enable = "avx512f,fma")]
            unsafe fn avx512<const C: usize>($($arg: $ty),*) {
                $f::<C>($($arg),*)
            }
            if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports AVX-512F and FMA.
                unsafe { by_channels!(avx512) };
                return;
            }
        }
        by_channels!($f)
    }};
}

/// Calls `$f::<L, S>` and is `true` when the kernel is 3×3 with equal strides `S` of 1 or 2,
/// the multiplier 1 and the channel count `C` known at compile time and a multiple of 8; else
/// `false` and calls nothing. A slice is `L` channels, the largest of 64, 32, 16 and 8 that
/// divides `C`: fewer slices, fewer passes over the image and less bookkeeping per pixel. (At
/// 64 the nine kernel-gradient accumulators no longer all fit in registers and some live on
/// the stack; measured, that still beats two passes of 32.)
macro_rules! by_slices {
    ($c:expr, $win:expr, $f:ident($($arg:expr),* $(,)?)) => {{
        let fits = $c > 0 && $c % 8 == 0 && $win.kh == 3 && $win.kw == 3 && $win.sh == $win.sw;
        let lanes = [64, 32, 16, 8].into_iter().find(|l| $c % l == 0).unwrap_or(0);
        match (fits, lanes, $win.sh) {
            (true, 64, 1) => $f::<64, 1>($($arg),*),
            (true, 64, 2) => $f::<64, 2>($($arg),*),
            (true, 32, 1) => $f::<32, 1>($($arg),*),
            (true, 32, 2) => $f::<32, 2>($($arg),*),
            (true, 16, 1) => $f::<16, 1>($($arg),*),
            (true, 16, 2) => $f::<16, 2>($($arg),*),
            (true, _, 1) => $f::<8, 1>($($arg),*),
            (true, _, 2) => $f::<8, 2>($($arg),*),
            _ => return_false(),
        }
    }};
}

/// `false`, for [`by_slices!`]'s fall-through.
#[inline(always)]
fn return_false() -> bool {
    false
}

/// Writes the depthwise convolution of one HWC image `x` into `out` (`OH·OW·C·M`), starting
/// every output from `bias` (`C·M` floats) or from zero.
pub(crate) fn depthwise_sample(
    win: &Window,
    m: usize,
    kernel: &[f32],
    bias: Option<&[f32]>,
    x: &[f32],
    out: &mut [f32],
) {
    with_channels!(win, m, sample(win: &Window, m: usize, kernel: &[f32], bias: Option<&[f32]>, x: &[f32], out: &mut [f32]));
}

/// The gradients [`depthwise_sample_backward`] adds to: the kernel's and, with a bias, the
/// bias's.
pub(crate) struct Grads<'a> {
    pub kernel: &'a mut [f32],
    pub bias: Option<&'a mut [f32]>,
}

/// The backward pass of [`depthwise_sample`] for one image, given `dz` (`OH·OW·C·M`): adds the
/// kernel's gradient (and the bias's, `dz` summed over the pixels, in pixel order) to `grads`
/// and, when given, writes `∂L/∂x` into `dx`.
pub(crate) fn depthwise_sample_backward(
    win: &Window,
    m: usize,
    kernel: &[f32],
    x: &[f32],
    dz: &[f32],
    grads: Grads<'_>,
    dx: Option<&mut [f32]>,
) {
    with_channels!(
        win,
        m,
        sample_backward(
            win: &Window,
            m: usize,
            kernel: &[f32],
            x: &[f32],
            dz: &[f32],
            grads: Grads<'_>,
            dx: Option<&mut [f32]>,
        )
    );
}

#[inline(always)]
fn sample<const C: usize>(
    win: &Window,
    m: usize,
    kernel: &[f32],
    bias: Option<&[f32]>,
    x: &[f32],
    out: &mut [f32],
) {
    if by_slices!(C, win, sample_3x3(win, kernel, bias, x, out)) {
        return;
    }
    // A channel count known at compile time (`C > 0`, with `m == 1`) fixes every run's length.
    let (c, m) = if C == 0 { (win.c, m) } else { (C, 1) };
    let cm = c * m;
    for oy in 0..win.oh {
        let (iy0, ky0, ny) = span(oy, win.sh, win.pt, win.kh, win.h);
        for ox in 0..win.ow {
            let (ix0, kx0, nx) = span(ox, win.sw, win.pl, win.kw, win.w);
            let o = &mut out[(oy * win.ow + ox) * cm..][..cm];
            match bias {
                Some(b) => o.copy_from_slice(b),
                None => o.fill(0.0),
            }
            for dy in 0..ny {
                let row = (iy0 + dy) * win.w;
                let krow = (ky0 + dy) * win.kw;
                for dx in 0..nx {
                    let px = &x[(row + ix0 + dx) * c..][..c];
                    let taps = &kernel[(krow + kx0 + dx) * cm..][..cm];
                    if m == 1 {
                        for ((o, &v), &k) in o.iter_mut().zip(px).zip(taps) {
                            *o += v * k;
                        }
                    } else {
                        for ((o, &v), t) in o.chunks_exact_mut(m).zip(px).zip(taps.chunks_exact(m)) {
                            for (o, &k) in o.iter_mut().zip(t) {
                                *o += v * k;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn sample_backward<const C: usize>(
    win: &Window,
    m: usize,
    kernel: &[f32],
    x: &[f32],
    dz: &[f32],
    grads: Grads<'_>,
    mut dx: Option<&mut [f32]>,
) {
    let (c, m) = if C == 0 { (win.c, m) } else { (C, 1) };
    let cm = c * m;
    let Grads {
        kernel: grad_kernel,
        mut bias,
    } = grads;
    if by_slices!(
        C,
        win,
        kernel_gradient_3x3(win, x, dz, &mut *grad_kernel, bias.as_deref_mut())
    ) {
        if let Some(dx) = dx {
            by_slices!(C, win, input_gradient_3x3(win, kernel, dz, dx));
        }
        return;
    }
    if let Some(dx) = dx.as_deref_mut() {
        dx.fill(0.0);
    }
    for oy in 0..win.oh {
        let (iy0, ky0, ny) = span(oy, win.sh, win.pt, win.kh, win.h);
        for ox in 0..win.ow {
            let (ix0, kx0, nx) = span(ox, win.sw, win.pl, win.kw, win.w);
            let d = &dz[(oy * win.ow + ox) * cm..][..cm];
            if let Some(b) = bias.as_deref_mut() {
                for (b, &d) in b[..cm].iter_mut().zip(d) {
                    *b += d;
                }
            }
            for dy in 0..ny {
                let row = (iy0 + dy) * win.w;
                let krow = (ky0 + dy) * win.kw;
                for dxc in 0..nx {
                    let at = (row + ix0 + dxc) * c;
                    let px = &x[at..][..c];
                    let tap = (krow + kx0 + dxc) * cm;
                    let g = &mut grad_kernel[tap..][..cm];
                    if m == 1 {
                        for ((g, &v), &d) in g.iter_mut().zip(px).zip(d) {
                            *g += v * d;
                        }
                    } else {
                        for ((g, &v), d) in g.chunks_exact_mut(m).zip(px).zip(d.chunks_exact(m)) {
                            for (g, &d) in g.iter_mut().zip(d) {
                                *g += v * d;
                            }
                        }
                    }
                    if let Some(dx) = dx.as_deref_mut() {
                        let taps = &kernel[tap..][..cm];
                        let dpx = &mut dx[at..][..c];
                        if m == 1 {
                            for ((o, &k), &d) in dpx.iter_mut().zip(taps).zip(d) {
                                *o += k * d;
                            }
                        } else {
                            for ((o, t), d) in dpx.iter_mut().zip(taps.chunks_exact(m)).zip(d.chunks_exact(m))
                            {
                                *o += t.iter().zip(d).map(|(&k, &d)| k * d).sum::<f32>();
                            }
                        }
                    }
                }
            }
        }
    }
}

// The 3×3 kernels by channel slices. A slice is `L` consecutive channels of every pixel: one
// to four vector registers. Each walks the image once per slice with the slice's nine taps (or
// nine kernel-gradient accumulators) held as locals, in registers as far as they go, instead
// of a read-modify-write of memory per pixel and tap. Every output element still sums the same terms in the same order as the plain loops
// (the taps of a pixel in window order, the kernel gradient over pixels in pixel order), so the
// bits are theirs.

/// The `L` floats of `s` from `at`, borrowed: a copy would go through the stack where `L`
/// spans two registers.
#[inline(always)]
fn lanes<const L: usize>(s: &[f32], at: usize) -> &[f32; L] {
    s[at..at + L].try_into().expect("a slice of L floats")
}

/// The input cells under the three window cells of output `o` moved by `S` with `pad` leading
/// padding over `n` cells; `None` in the padding.
#[inline(always)]
fn cells_under<const S: usize>(o: usize, pad: usize, n: usize) -> [Option<usize>; 3] {
    core::array::from_fn(|k| (o * S + k).checked_sub(pad).filter(|&i| i < n))
}

/// The outputs whose window cell `k` lies on input cell `i` (the inverse of [`cells_under`]),
/// for `out` outputs; `None` where no output has.
#[inline(always)]
fn outputs_over<const S: usize>(i: usize, pad: usize, out: usize) -> [Option<usize>; 3] {
    core::array::from_fn(|k| {
        (i + pad)
            .checked_sub(k)
            .filter(|p| p % S == 0)
            .map(|p| p / S)
            .filter(|&o| o < out)
    })
}

/// `f(ky, kx)` for the nine window cells, row by row (written out: `core::array::from_fn` is
/// not inlined and the pixel loops would call it).
#[inline(always)]
fn grid(f: impl Fn(usize, usize) -> Option<usize>) -> [Option<usize>; 9] {
    [
        f(0, 0),
        f(0, 1),
        f(0, 2),
        f(1, 0),
        f(1, 1),
        f(1, 2),
        f(2, 0),
        f(2, 1),
        f(2, 2),
    ]
}

/// Runs `$body` for every output pixel in pixel order with `$o` the offset of its channel slice
/// `$off` and `$cells[ky·3 + kx]` that of the input pixel under window cell `(ky, kx)` (`None`
/// in the padding). Pixels whose window lies inside the image get cells computed from one base,
/// all `Some`, in a copy of `$body` of their own: there the taps are straight-line code. (A
/// macro, not a closure: LLVM would call a closure used twice rather than inline it.)
macro_rules! for_each_output {
    ($s:ident, $win:expr, $off:expr, |$o:ident, $cells:ident| $body:block) => {{
        let (win, off): (&Window, usize) = ($win, $off);
        let (c, w) = (win.c, win.w);
        for oy in 0..win.oh {
            let rows = cells_under::<$s>(oy, win.pt, win.h);
            for ox in 0..win.ow {
                let $o = (oy * win.ow + ox) * c + off;
                let cols = cells_under::<$s>(ox, win.pl, w);
                if let ([Some(iy), _, Some(_)], [Some(ix), _, Some(_)]) = (rows, cols) {
                    let base = (iy * w + ix) * c + off;
                    let $cells = grid(|ky, kx| Some(base + (ky * w + kx) * c));
                    $body
                } else {
                    let $cells = grid(|ky, kx| Some((rows[ky]? * w + cols[kx]?) * c + off));
                    $body
                }
            }
        }
    }};
}

/// Runs `$body` for every input pixel in pixel order with `$i` the offset of its channel slice
/// `$off` and `$outputs[ky·3 + kx]` that of the output pixel whose window cell `(ky, kx)` lies
/// on it (`None` where none does); all `Some` and from one base where they can be, as in
/// `for_each_output!`.
macro_rules! for_each_input {
    ($s:ident, $win:expr, $off:expr, |$i:ident, $outputs:ident| $body:block) => {{
        let (win, off): (&Window, usize) = ($win, $off);
        let (c, ow) = (win.c, win.ow);
        for iy in 0..win.h {
            let rows = outputs_over::<$s>(iy, win.pt, win.oh);
            for ix in 0..win.w {
                let $i = (iy * win.w + ix) * c + off;
                let cols = outputs_over::<$s>(ix, win.pl, ow);
                match (rows, cols) {
                    ([Some(oy), _, Some(_)], [Some(ox), _, Some(_)]) if $s == 1 => {
                        let base = (oy * ow + ox) * c + off;
                        let $outputs = grid(|ky, kx| Some(base - (ky * ow + kx) * c));
                        $body
                    }
                    _ => {
                        let $outputs = grid(|ky, kx| Some((rows[ky]? * ow + cols[kx]?) * c + off));
                        $body
                    }
                }
            }
        }
    }};
}

/// [`sample`] for a 3×3 kernel: returns `true`.
#[inline(always)]
fn sample_3x3<const L: usize, const S: usize>(
    win: &Window,
    kernel: &[f32],
    bias: Option<&[f32]>,
    x: &[f32],
    out: &mut [f32],
) -> bool {
    let c = win.c;
    for off in (0..c).step_by(L) {
        let taps: [[f32; L]; 9] = core::array::from_fn(|t| *lanes(kernel, t * c + off));
        let start = bias.map_or([0.0; L], |b| *lanes(b, off));
        for_each_output!(S, win, off, |o, cells| {
            let mut acc = start;
            for (cell, taps) in cells.iter().zip(&taps) {
                let Some(i) = *cell else { continue };
                for ((a, &v), &k) in acc.iter_mut().zip(lanes::<L>(x, i)).zip(taps) {
                    *a += v * k;
                }
            }
            out[o..o + L].copy_from_slice(&acc);
        });
    }
    true
}

/// The kernel's (and the bias's) gradient of [`sample_backward`] for a 3×3 kernel: returns
/// `true`.
#[inline(always)]
fn kernel_gradient_3x3<const L: usize, const S: usize>(
    win: &Window,
    x: &[f32],
    dz: &[f32],
    grad_kernel: &mut [f32],
    mut grad_bias: Option<&mut [f32]>,
) -> bool {
    let c = win.c;
    for off in (0..c).step_by(L) {
        let mut acc: [[f32; L]; 9] = core::array::from_fn(|t| *lanes(grad_kernel, t * c + off));
        let mut bias = grad_bias.as_deref().map(|b| *lanes::<L>(b, off));
        for_each_output!(S, win, off, |o, cells| {
            let d = lanes::<L>(dz, o);
            if let Some(b) = bias.as_mut() {
                for (b, &d) in b.iter_mut().zip(d) {
                    *b += d;
                }
            }
            for (cell, acc) in cells.iter().zip(&mut acc) {
                let Some(i) = *cell else { continue };
                for ((g, &v), &d) in acc.iter_mut().zip(lanes::<L>(x, i)).zip(d) {
                    *g += v * d;
                }
            }
        });
        for (t, g) in acc.iter().enumerate() {
            grad_kernel[t * c + off..][..L].copy_from_slice(g);
        }
        if let (Some(g), Some(b)) = (grad_bias.as_deref_mut(), bias) {
            g[off..off + L].copy_from_slice(&b);
        }
    }
    true
}

/// `∂L/∂x` of [`sample_backward`] for a 3×3 kernel, gathered: each input pixel sums the
/// products of the outputs over it in the order the plain loops scatter them (outputs in pixel
/// order, so window cells last to first), then is written once. Strides above 1, where most
/// cells have no output over them, go to [`input_gradient_strided_3x3`]. Returns `true`.
#[inline(always)]
fn input_gradient_3x3<const L: usize, const S: usize>(
    win: &Window,
    kernel: &[f32],
    dz: &[f32],
    dx: &mut [f32],
) -> bool {
    if S > 1 {
        return input_gradient_strided_3x3::<L, S>(win, kernel, dz, dx);
    }
    let c = win.c;
    for off in (0..c).step_by(L) {
        let taps: [[f32; L]; 9] = core::array::from_fn(|t| *lanes(kernel, t * c + off));
        for_each_input!(S, win, off, |i, outputs| {
            let mut acc = [0.0; L];
            for (output, taps) in outputs.iter().zip(&taps).rev() {
                let Some(o) = *output else { continue };
                for ((a, &k), &d) in acc.iter_mut().zip(taps).zip(lanes::<L>(dz, o)) {
                    *a += k * d;
                }
            }
            dx[i..i + L].copy_from_slice(&acc);
        });
    }
    true
}

/// `∂L/∂x` of [`sample_backward`] for a 3×3 kernel with strides `S > 1`, row by row: a row of
/// `dx` is zeroed, then each window cell over it, last to first (the order in which the plain
/// loops' outputs reach an input), adds its products along the row, `S` inputs apart. Every
/// input gets the plain loops' sum in their order without the per-pixel search for the outputs
/// over it that gathering would need where strides leave gaps. Returns `true`.
#[inline(always)]
fn input_gradient_strided_3x3<const L: usize, const S: usize>(
    win: &Window,
    kernel: &[f32],
    dz: &[f32],
    dx: &mut [f32],
) -> bool {
    let c = win.c;
    for off in (0..c).step_by(L) {
        let taps: [[f32; L]; 9] = core::array::from_fn(|t| *lanes(kernel, t * c + off));
        for iy in 0..win.h {
            let row = iy * win.w;
            for ix in 0..win.w {
                dx[(row + ix) * c + off..][..L].fill(0.0);
            }
            for (ky, oy) in outputs_over::<S>(iy, win.pt, win.oh)
                .into_iter()
                .enumerate()
                .rev()
            {
                let Some(oy) = oy else { continue };
                for kx in (0..3).rev() {
                    let k = &taps[ky * 3 + kx];
                    // Outputs `ox` whose cell `kx` lies on an input: `0 <= ox·S + kx - pl < w`.
                    let first = win.pl.saturating_sub(kx).div_ceil(S);
                    let end = ((win.w + win.pl).saturating_sub(kx).div_ceil(S)).min(win.ow);
                    for ox in first..end {
                        let d = lanes::<L>(dz, (oy * win.ow + ox) * c + off);
                        let at = (row + ox * S + kx - win.pl) * c + off;
                        for ((a, &k), &d) in dx[at..at + L].iter_mut().zip(k).zip(d) {
                            *a += k * d;
                        }
                    }
                }
            }
        }
    }
    true
}

/// Turns `dy` into `∂L/∂z` in place, reading the kept `z` or `y`.
fn deactivate(z: &[f32], y: &[f32], dy: &mut [f32], activation: Activation, features: usize, kind: &str) {
    let kept = z.len() == y.len();
    assert!(
        dy.len() == y.len() && (kept || !keeps_pre_activation(activation)),
        "{kind}::backward_batch needs the forward pass of the same batch"
    );
    activation.backward(if kept { z } else { y }, y, dy, features);
}

macro_rules! geometry {
    () => {
        const WINDOW: Window = Window {
            h: H,
            w: W,
            c: C,
            kh: KH,
            kw: KW,
            sh: SH,
            sw: SW,
            oh: OH,
            ow: OW,
            pt: PT,
            pl: PL,
        };
    };
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> DepthwiseConv2D<H, W, C, M, KH, KW, SH, SW, OH, OW, PT, PL, K, CM, BIAS>
{
    /// Post-monomorphisation check that the derived sizes agree with the others.
    const CHECK: () = {
        assert!(
            C > 0 && M > 0,
            "DepthwiseConv2D: channels and depth multiplier must be positive"
        );
        assert!(CM == C * M, "DepthwiseConv2D: CM must be C·M");
        assert!(K == KH * KW * C * M, "DepthwiseConv2D: K must be KH·KW·C·M");
        assert!(
            window_fits(H, KH, SH, OH, PT) && window_fits(W, KW, SW, OW, PL),
            "DepthwiseConv2D: OH, OW, PT, PL are not Keras's output size and padding"
        );
    };

    geometry!();

    /// Keras's defaults: glorot-uniform kernel (Keras's fans of a `(KH, KW, C, M)`
    /// kernel: `fan_in = KH·KW·C`, `fan_out = KH·KW·M`), zero bias.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = <Self as Layer>::zeros();
        init::glorot_uniform(rng, KH * KW * C, KH * KW * M, layer.kernel.as_mut_slice());
        layer
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> Clone for DepthwiseConv2D<H, W, C, M, KH, KW, SH, SW, OH, OW, PT, PL, K, CM, BIAS>
{
    fn clone(&self) -> Self {
        let mut copy = <Self as Layer>::zeros();
        copy.kernel.copy_from(&*self.kernel);
        copy.bias.copy_from(&*self.bias);
        copy
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> core::fmt::Debug for DepthwiseConv2D<H, W, C, M, KH, KW, SH, SW, OH, OW, PT, PL, K, CM, BIAS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "DepthwiseConv2D<{H}×{W}×{C} → {OH}×{OW}×{CM}, kernel {KH}×{KW}, strides {SH}×{SW}, padding {PT}/{PL}, bias {BIAS}>"
        )
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> Layer for DepthwiseConv2D<H, W, C, M, KH, KW, SH, SW, OH, OW, PT, PL, K, CM, BIAS>
{
    const PARAMS: usize = K + if BIAS { CM } else { 0 };
    const INPUTS: usize = H * W * C;
    const OUTPUTS: usize = OH * OW * CM;
    type In = f32;
    type Extra = DepthwiseCache;
    const TRAINING_BYTES: TrainingBytes = TrainingBytes {
        pre_activation: bytes_of::<f32>(Self::OUTPUTS),
        ..TrainingBytes::always(output_and_gradient::<Self>())
    };

    fn zeros() -> Self {
        const { Self::CHECK };
        DepthwiseConv2D {
            kernel: Param::zeroed(),
            bias: Param::zeroed(),
        }
    }

    fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
        f("kernel", self.kernel.as_slice());
        if BIAS {
            f("bias", self.bias.as_slice());
        }
    }

    fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
        f("kernel", self.kernel.as_mut_slice());
        if BIAS {
            f("bias", self.bias.as_mut_slice());
        }
    }

    fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        f(self.kernel.as_mut_slice(), other.kernel.as_slice());
        if BIAS {
            f(self.bias.as_mut_slice(), other.bias.as_slice());
        }
    }

    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<DepthwiseCache>,
        activation: Activation,
        _training: bool,
    ) {
        self.forward_batch_fused(Input::Stored(x), batch, buf, activation, None);
    }

    fn pre_activation<'a>(extra: &'a DepthwiseCache, y: &'a [f32]) -> &'a [f32] {
        if extra.z.len() == y.len() { &extra.z } else { y }
    }

    fn backward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<DepthwiseCache>,
        activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        self.backward_batch_fused(
            Input::Stored(x),
            batch,
            buf,
            activation,
            grads,
            dx,
            false,
            None,
            None,
        );
    }

    /// Adds each sample's input gradient as it is taken (see [`DepthwiseCache::added`]).
    fn backward_batch_adding(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<DepthwiseCache>,
        activation: Activation,
        grads: &mut Self,
        dx: &mut [f32],
        _scratch: &mut Floats,
    ) {
        self.backward_batch_fused(
            Input::Stored(x),
            batch,
            buf,
            activation,
            grads,
            Some(dx),
            true,
            None,
            None,
        );
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> DepthwiseConv2D<H, W, C, M, KH, KW, SH, SW, OH, OW, PT, PL, K, CM, BIAS>
{
    /// [`Layer::forward_batch`] with the layers around it fused in, a sample at a time (the
    /// kernels' own unit): the input computed sample by sample by the layer that left it
    /// unstored (`x`, a batch normalization's output), and each sample's output shown, as it is
    /// stored, to the layer reading it (`shown`, a batch normalization taking its sums; see
    /// [`ChunkObserver`]). A layer shown the output hands its gradient over in the backward
    /// pass (`upstream` of [`backward_batch_fused`](Self::backward_batch_fused)), so `buf.dy` is
    /// left empty.
    pub fn forward_batch_fused(
        &self,
        x: Input<'_>,
        batch: usize,
        buf: &mut Buffers<DepthwiseCache>,
        activation: Activation,
        mut shown: Option<&mut dyn ChunkObserver>,
    ) {
        const { Self::CHECK };
        let (inputs, outputs) = (Self::INPUTS, Self::OUTPUTS);
        if let Input::Stored(x) = x {
            assert_eq!(
                x.len(),
                inputs * batch,
                "DepthwiseConv2D input has the wrong length"
            );
        }
        fit_len(&mut buf.y, outputs * batch);
        if shown.is_some() {
            buf.dy.clear();
        } else {
            fit_len(&mut buf.dy, outputs * batch);
        }
        let keep = keeps_pre_activation(activation);
        let cache = &mut buf.extra;
        if keep {
            fit_len(&mut cache.z, outputs * batch);
        } else {
            cache.z.clear();
        }
        let mut input = core::mem::take(&mut cache.input);
        let (kernel, bias) = (self.kernel.as_slice(), self.bias.as_slice());
        for s in 0..batch {
            let xs = x.chunk(s * inputs..(s + 1) * inputs, &mut input);
            let at = s * outputs;
            let ys = &mut buf.y[at..at + outputs];
            // The activation applied sample by sample, as `activate` applies it to the batch.
            if keep {
                let zs = &mut cache.z[at..at + outputs];
                depthwise_sample(&Self::WINDOW, M, kernel, BIAS.then_some(bias), xs, zs);
                activation.apply(zs, ys, CM);
            } else {
                depthwise_sample(&Self::WINDOW, M, kernel, BIAS.then_some(bias), xs, ys);
                if activation == Activation::Relu {
                    for v in ys.iter_mut() {
                        *v = v.max(0.0);
                    }
                }
            }
            if let Some(shown) = shown.as_deref_mut() {
                shown.chunk(at, ys);
            }
        }
        cache.input = input;
    }

    /// [`Layer::backward_batch`] with the layers around it fused in, a sample at a time: the
    /// input computed again where it was left unstored, `∂L/∂z` taken sample by sample from the
    /// layer reading the output (`upstream`, a batch normalization's input gradient; see
    /// [`OutputGradient`]) instead of from `buf.dy`, `∂L/∂x` added to `dx` when `adding`, and
    /// each sample of it shown to the layer that wrote the input (`shown`).
    #[allow(clippy::too_many_arguments)]
    pub fn backward_batch_fused(
        &self,
        x: Input<'_>,
        batch: usize,
        buf: &mut Buffers<DepthwiseCache>,
        activation: Activation,
        grads: &mut Self,
        mut dx: Option<&mut [f32]>,
        adding: bool,
        upstream: Option<&dyn OutputGradient>,
        mut shown: Option<&mut dyn ChunkObserver>,
    ) {
        const { Self::CHECK };
        let (inputs, outputs) = (Self::INPUTS, Self::OUTPUTS);
        if let Input::Stored(x) = x {
            assert_eq!(
                x.len(),
                inputs * batch,
                "DepthwiseConv2D input has the wrong length"
            );
        }
        match upstream {
            None => deactivate(
                &buf.extra.z,
                &buf.y,
                &mut buf.dy,
                activation,
                CM,
                "DepthwiseConv2D",
            ),
            Some(_) => assert!(
                activation == Activation::Linear && buf.y.len() == outputs * batch,
                "a pulled gradient is of z, after the forward pass of the same batch"
            ),
        }
        let (gk, gb) = (grads.kernel.as_mut_slice(), grads.bias.as_mut_slice());
        gk.fill(0.0);
        gb.fill(0.0);
        let cache = &mut buf.extra;
        let (mut input, mut pulled, mut added) = (
            core::mem::take(&mut cache.input),
            core::mem::take(&mut cache.pulled),
            core::mem::take(&mut cache.added),
        );
        if upstream.is_some() {
            fit_len(&mut pulled, outputs);
        }
        if adding {
            fit_len(&mut added, inputs);
        }
        for s in 0..batch {
            let xs = x.chunk(s * inputs..(s + 1) * inputs, &mut input);
            let out = s * outputs..(s + 1) * outputs;
            let dz = match upstream {
                Some(upstream) => {
                    upstream.chunk(out.start, &buf.y[out], &mut pulled);
                    &pulled[..]
                }
                None => &buf.dy[out],
            };
            let mut dxs = dx.as_deref_mut().map(|dx| &mut dx[s * inputs..(s + 1) * inputs]);
            let into = match dxs.as_deref_mut() {
                Some(_) if adding => Some(&mut added[..]),
                other => other,
            };
            let grads = Grads {
                kernel: &mut *gk,
                bias: BIAS.then_some(&mut *gb),
            };
            depthwise_sample_backward(&Self::WINDOW, M, self.kernel.as_slice(), xs, dz, grads, into);
            if let Some(dxs) = dxs {
                if adding {
                    add_gradient(dxs, &added);
                }
                if let Some(shown) = shown.as_deref_mut() {
                    shown.chunk(s * inputs, dxs);
                }
            }
        }
        (cache.input, cache.pulled, cache.added) = (input, pulled, added);
    }
}

/// A depthwise convolution (no bias) then a pointwise 1×1 convolution with bias, from
/// `H × W × C` to `OH × OW × F`.
///
/// The const arguments are [`DepthwiseConv2D`]'s plus `F` (the filters) and `PF = C·M·F`. The
/// pointwise kernel is stored as an `F × CM` column-major matrix, byte for byte Keras's
/// `pointwise_kernel` `(1, 1, C·M, F)` row-major.
pub struct SeparableConv2D<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> {
    /// Keras's `depthwise_kernel`, `(KH, KW, C, M)` row-major.
    pub depthwise_kernel: Param<SVector<f32, K>>,
    /// Keras's `pointwise_kernel`, `F × CM` (`z = pointwise · depthwise output`).
    pub pointwise_kernel: Param<SMatrix<f32, F, CM>>,
    /// One per filter; zero without `use_bias`.
    pub bias: Param<SVector<f32, F>>,
}

/// Training cache of a separable convolution.
#[derive(Debug, Default)]
pub struct SeparableCache {
    /// Pre-activations, `F × OH·OW·batch`; left empty for `linear` and `relu`.
    pub z: Vec<f32>,
    /// The depthwise output, `CM × OH·OW·batch`.
    pub mid: Vec<f32>,
    /// Its gradient, `CM × OH·OW·batch`.
    pub dmid: Vec<f32>,
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> SeparableConv2D<H, W, C, M, F, KH, KW, SH, SW, OH, OW, PT, PL, K, CM, BIAS>
{
    const CHECK: () = {
        assert!(C > 0 && M > 0 && F > 0, "SeparableConv2D: sizes must be positive");
        assert!(CM == C * M, "SeparableConv2D: CM must be C·M");
        assert!(K == KH * KW * C * M, "SeparableConv2D: K must be KH·KW·C·M");
        assert!(
            window_fits(H, KH, SH, OH, PT) && window_fits(W, KW, SW, OW, PL),
            "SeparableConv2D: OH, OW, PT, PL are not Keras's output size and padding"
        );
    };

    geometry!();

    /// Keras's defaults: glorot-uniform kernels (`depthwise_kernel`: `fan_in = KH·KW·C`,
    /// `fan_out = KH·KW·M`; `pointwise_kernel`: `fan_in = C·M`, `fan_out = F`), zero bias.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = <Self as Layer>::zeros();
        init::glorot_uniform(
            rng,
            KH * KW * C,
            KH * KW * M,
            layer.depthwise_kernel.as_mut_slice(),
        );
        init::glorot_uniform(rng, CM, F, layer.pointwise_kernel.as_mut_slice());
        layer
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> Clone for SeparableConv2D<H, W, C, M, F, KH, KW, SH, SW, OH, OW, PT, PL, K, CM, BIAS>
{
    fn clone(&self) -> Self {
        let mut copy = <Self as Layer>::zeros();
        copy.depthwise_kernel.copy_from(&*self.depthwise_kernel);
        copy.pointwise_kernel.copy_from(&*self.pointwise_kernel);
        copy.bias.copy_from(&*self.bias);
        copy
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> core::fmt::Debug for SeparableConv2D<H, W, C, M, F, KH, KW, SH, SW, OH, OW, PT, PL, K, CM, BIAS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "SeparableConv2D<{H}×{W}×{C} → {OH}×{OW}×{F}, kernel {KH}×{KW}, depth multiplier {M}, strides {SH}×{SW}, padding {PT}/{PL}, bias {BIAS}>"
        )
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const M: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const CM: usize,
    const BIAS: bool,
> Layer for SeparableConv2D<H, W, C, M, F, KH, KW, SH, SW, OH, OW, PT, PL, K, CM, BIAS>
{
    const PARAMS: usize = K + CM * F + if BIAS { F } else { 0 };
    const INPUTS: usize = H * W * C;
    const OUTPUTS: usize = OH * OW * F;
    type In = f32;
    type Extra = SeparableCache;
    // The depthwise output and its gradient, besides the output's.
    const TRAINING_BYTES: TrainingBytes = TrainingBytes {
        pre_activation: bytes_of::<f32>(Self::OUTPUTS),
        ..TrainingBytes::always(output_and_gradient::<Self>() + bytes_of::<f32>(2 * OH * OW * CM))
    };

    fn zeros() -> Self {
        const { Self::CHECK };
        SeparableConv2D {
            depthwise_kernel: Param::zeroed(),
            pointwise_kernel: Param::zeroed(),
            bias: Param::zeroed(),
        }
    }

    fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
        f("depthwise_kernel", self.depthwise_kernel.as_slice());
        f("pointwise_kernel", self.pointwise_kernel.as_slice());
        if BIAS {
            f("bias", self.bias.as_slice());
        }
    }

    fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
        f("depthwise_kernel", self.depthwise_kernel.as_mut_slice());
        f("pointwise_kernel", self.pointwise_kernel.as_mut_slice());
        if BIAS {
            f("bias", self.bias.as_mut_slice());
        }
    }

    fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        f(
            self.depthwise_kernel.as_mut_slice(),
            other.depthwise_kernel.as_slice(),
        );
        f(
            self.pointwise_kernel.as_mut_slice(),
            other.pointwise_kernel.as_slice(),
        );
        if BIAS {
            f(self.bias.as_mut_slice(), other.bias.as_slice());
        }
    }

    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<SeparableCache>,
        activation: Activation,
        _training: bool,
    ) {
        const { Self::CHECK };
        assert_eq!(
            x.len(),
            Self::INPUTS * batch,
            "SeparableConv2D input has the wrong length"
        );
        let (pixels, mid_len) = (OH * OW * batch, OH * OW * CM);
        fit_len(&mut buf.y, Self::OUTPUTS * batch);
        fit_len(&mut buf.dy, Self::OUTPUTS * batch);
        let cache = &mut buf.extra;
        fit_len(&mut cache.mid, mid_len * batch);
        let kernel = self.depthwise_kernel.as_slice();
        for (xs, ms) in x
            .chunks_exact(Self::INPUTS)
            .zip(cache.mid.chunks_exact_mut(mid_len))
        {
            depthwise_sample(&Self::WINDOW, M, kernel, None, xs, ms);
        }
        let (pk, bias, mid) = (self.pointwise_kernel.as_slice(), self.bias.as_slice(), &cache.mid);
        if keeps_pre_activation(activation) {
            fit_len(&mut cache.z, Self::OUTPUTS * batch);
            gemm_bias(F, pixels, CM, pk, mid, bias, false, &mut cache.z);
            activation.apply(&cache.z, &mut buf.y, F);
        } else {
            cache.z.clear();
            let relu = activation == Activation::Relu;
            gemm_bias(F, pixels, CM, pk, mid, bias, relu, &mut buf.y);
        }
    }

    fn pre_activation<'a>(extra: &'a SeparableCache, y: &'a [f32]) -> &'a [f32] {
        if extra.z.len() == y.len() { &extra.z } else { y }
    }

    fn backward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<SeparableCache>,
        activation: Activation,
        grads: &mut Self,
        mut dx: Option<&mut [f32]>,
    ) {
        const { Self::CHECK };
        let (inputs, pixels, mid_len) = (Self::INPUTS, OH * OW * batch, OH * OW * CM);
        assert_eq!(
            x.len(),
            inputs * batch,
            "SeparableConv2D input has the wrong length"
        );
        let cache = &mut buf.extra;
        assert_eq!(
            cache.mid.len(),
            mid_len * batch,
            "SeparableConv2D::backward_batch needs the forward pass of the same batch"
        );
        deactivate(&cache.z, &buf.y, &mut buf.dy, activation, F, "SeparableConv2D");
        let dz = &buf.dy;
        let gb = grads.bias.as_mut_slice();
        gb.fill(0.0);
        if BIAS {
            for px in dz.chunks_exact(F) {
                for (g, &d) in gb.iter_mut().zip(px) {
                    *g += d;
                }
            }
        }
        // ∂L/∂pointwise = ∂L/∂z · midᵀ; ∂L/∂mid = pointwiseᵀ · ∂L/∂z.
        let pk = self.pointwise_kernel.as_slice();
        gemm(
            F,
            CM,
            pixels,
            1.0,
            dz,
            Op::N,
            &cache.mid,
            Op::T,
            0.0,
            grads.pointwise_kernel.as_mut_slice(),
        );
        fit_len(&mut cache.dmid, mid_len * batch);
        gemm(CM, pixels, F, 1.0, pk, Op::T, dz, Op::N, 0.0, &mut cache.dmid);
        let gk = grads.depthwise_kernel.as_mut_slice();
        gk.fill(0.0);
        let kernel = self.depthwise_kernel.as_slice();
        for (s, (xs, dm)) in x
            .chunks_exact(inputs)
            .zip(cache.dmid.chunks_exact(mid_len))
            .enumerate()
        {
            let dxs = dx.as_deref_mut().map(|dx| &mut dx[s * inputs..(s + 1) * inputs]);
            let grads = Grads {
                kernel: &mut *gk,
                bias: None,
            };
            depthwise_sample_backward(&Self::WINDOW, M, kernel, xs, dm, grads, dxs);
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Keras's window of a 3×3 kernel over `n` cells with stride `s`: `(outputs, leading pad)`.
    fn keras_axis(n: usize, s: usize, same: bool) -> (usize, usize) {
        if same {
            let out = n.div_ceil(s);
            (out, ((out - 1) * s + 3).saturating_sub(n) / 2)
        } else {
            ((n - 3) / s + 1, 0)
        }
    }

    fn random(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    /// The first index where `a` and `b` differ in bits, if any.
    fn first_difference(a: &[f32], b: &[f32]) -> Option<usize> {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).position(|(a, b)| a.to_bits() != b.to_bits())
    }

    /// The dispatched kernels (3×3 slices where they apply) against the plain loops, read
    /// with the channel count at run time, bit for bit: forward, kernel and bias gradients
    /// added to gradients already holding a sample's, and the input gradient.
    #[test]
    fn three_by_three_slices_match_the_plain_loops_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut checked = 0;
        for (h, w) in [(7, 6), (6, 5), (3, 3), (5, 13), (12, 9)] {
            for s in [1, 2] {
                for same in [false, true] {
                    for c in [8, 16, 17, 32, 64] {
                        for m in [1, 2] {
                            let ((oh, pt), (ow, pl)) = (keras_axis(h, s, same), keras_axis(w, s, same));
                            let win = Window {
                                h,
                                w,
                                c,
                                kh: 3,
                                kw: 3,
                                sh: s,
                                sw: s,
                                oh,
                                ow,
                                pt,
                                pl,
                            };
                            let cm = c * m;
                            let (x, kernel, bias) = (
                                random(&mut rng, h * w * c),
                                random(&mut rng, 9 * cm),
                                random(&mut rng, cm),
                            );
                            let mut out = vec![0.0; oh * ow * cm];
                            let mut plain_out = out.clone();
                            depthwise_sample(&win, m, &kernel, Some(&bias), &x, &mut out);
                            sample::<0>(&win, m, &kernel, Some(&bias), &x, &mut plain_out);
                            assert_eq!(first_difference(&out, &plain_out), None, "forward {win:?} m {m}");
                            depthwise_sample(&win, m, &kernel, None, &x, &mut out);
                            sample::<0>(&win, m, &kernel, None, &x, &mut plain_out);
                            assert_eq!(
                                first_difference(&out, &plain_out),
                                None,
                                "forward without bias {win:?} m {m}"
                            );

                            let dz = random(&mut rng, oh * ow * cm);
                            let (mut gk, mut gb) = (random(&mut rng, 9 * cm), random(&mut rng, cm));
                            let (mut plain_gk, mut plain_gb) = (gk.clone(), gb.clone());
                            let mut dx = random(&mut rng, h * w * c);
                            let mut plain_dx = dx.clone();
                            let grads = Grads {
                                kernel: &mut gk,
                                bias: Some(&mut gb),
                            };
                            depthwise_sample_backward(&win, m, &kernel, &x, &dz, grads, Some(&mut dx));
                            let grads = Grads {
                                kernel: &mut plain_gk,
                                bias: Some(&mut plain_gb),
                            };
                            sample_backward::<0>(&win, m, &kernel, &x, &dz, grads, Some(&mut plain_dx));
                            assert_eq!(
                                first_difference(&gk, &plain_gk),
                                None,
                                "kernel gradient {win:?} m {m}"
                            );
                            assert_eq!(
                                first_difference(&gb, &plain_gb),
                                None,
                                "bias gradient {win:?} m {m}"
                            );
                            assert_eq!(
                                first_difference(&dx, &plain_dx),
                                None,
                                "input gradient {win:?} m {m}"
                            );

                            let grads = Grads {
                                kernel: &mut gk,
                                bias: None,
                            };
                            depthwise_sample_backward(&win, m, &kernel, &x, &dz, grads, None);
                            let grads = Grads {
                                kernel: &mut plain_gk,
                                bias: None,
                            };
                            sample_backward::<0>(&win, m, &kernel, &x, &dz, grads, None);
                            assert_eq!(
                                first_difference(&gk, &plain_gk),
                                None,
                                "kernel gradient without bias {win:?} m {m}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 2 * 2 * 5 * 2);
    }

    /// A depthwise convolution's passes with the layers around it fused in give the bits of
    /// the plain passes: the input computed sample by sample, the output and the input gradient
    /// shown sample by sample (every float once, in order), `∂L/∂z` handed over sample by
    /// sample, and the input gradient added to another reader's; for the 3×3 slice kernels at
    /// strides 1 and 2 and the plain loops with a multiplier.
    #[test]
    fn fused_passes_give_the_plain_passes_bits() {
        /// `x = 2·base − 1`, computed where asked.
        struct Affine<'a>(&'a [f32]);
        impl crate::layers::InputChunks for Affine<'_> {
            fn fill(&self, at: usize, out: &mut [f32]) {
                for (o, &b) in out.iter_mut().zip(&self.0[at..]) {
                    *o = 2.0 * b - 1.0;
                }
            }
        }
        /// `dz = g · y + 0.5`: depends on the sample's place and on the output it is given.
        struct Scaled(Vec<f32>);
        impl OutputGradient for Scaled {
            fn chunk(&self, at: usize, y: &[f32], dz: &mut [f32]) {
                for ((d, &g), &y) in dz.iter_mut().zip(&self.0[at..at + y.len()]).zip(y) {
                    *d = g * y + 0.5;
                }
            }
        }
        /// The chunks, laid end to end where they say they start.
        #[derive(Default)]
        struct Record(Vec<f32>);
        impl ChunkObserver for Record {
            fn chunk(&mut self, at: usize, values: &[f32]) {
                assert_eq!(at, self.0.len(), "chunks in order, none skipped");
                self.0.extend_from_slice(values);
            }
        }
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        macro_rules! check {
            ($($ty:ty),* $(,)?) => {$({
                type Dw = $ty;
                let batch = 3;
                let mut rng = ChaCha8Rng::seed_from_u64(11);
                let mut dw = Dw::new(&mut rng);
                dw.bias.as_mut_slice().copy_from_slice(&random(&mut rng, Dw::zeros().bias.len()));
                let base = random(&mut rng, Dw::INPUTS * batch);
                let stored: Vec<f32> = base.iter().map(|&b| 2.0 * b - 1.0).collect();
                let g = random(&mut rng, Dw::OUTPUTS * batch);
                let other = random(&mut rng, Dw::INPUTS * batch);
                let upstream = Scaled(g.clone());
                for activation in [Activation::Linear, Activation::Relu] {
                    // The plain passes, `∂L/∂y` stored whole.
                    let mut buf = Buffers::<DepthwiseCache>::default();
                    dw.forward_batch(&stored, batch, &mut buf, activation, true);
                    let y = buf.y.clone();
                    if activation == Activation::Linear {
                        upstream.chunk(0, &y, &mut buf.dy);
                    } else {
                        buf.dy.copy_from_slice(&g);
                    }
                    let mut grads = Dw::zeros();
                    let mut dx = vec![f32::NAN; stored.len()];
                    dw.backward_batch(&stored, batch, &mut buf, activation, &mut grads, Some(&mut dx));
                    let sum: Vec<f32> = other.iter().zip(&dx).map(|(o, d)| o + d).collect();
                    for adding in [false, true] {
                        let mut fused = Buffers::<DepthwiseCache>::default();
                        let computed = Affine(&base);
                        let mut shown = Record::default();
                        dw.forward_batch_fused(Input::Computed(&computed), batch, &mut fused, activation, Some(&mut shown));
                        assert_eq!(bits(&fused.y), bits(&y), "{} forward", stringify!($ty));
                        assert_eq!(bits(&shown.0), bits(&y), "{} output shown", stringify!($ty));
                        // A relu'd output's gradient is stored; a linear one's handed over
                        // (and the forward pass shown the output left no room for it).
                        let pulled = (activation == Activation::Linear).then_some(&upstream as &dyn OutputGradient);
                        assert!(fused.dy.is_empty(), "{} dy left empty", stringify!($ty));
                        if pulled.is_none() {
                            fused.dy = g[..].into();
                        }
                        let mut fused_grads = Dw::zeros();
                        let mut fused_dx = if adding { other.clone() } else { vec![f32::NAN; stored.len()] };
                        let mut shown = Record::default();
                        dw.backward_batch_fused(
                            Input::Computed(&computed),
                            batch,
                            &mut fused,
                            activation,
                            &mut fused_grads,
                            Some(&mut fused_dx),
                            adding,
                            pulled,
                            Some(&mut shown),
                        );
                        let case = format!("{} {activation:?} adding {adding}", stringify!($ty));
                        assert_eq!(bits(fused_grads.kernel.as_slice()), bits(grads.kernel.as_slice()), "{case}");
                        assert_eq!(bits(fused_grads.bias.as_slice()), bits(grads.bias.as_slice()), "{case}");
                        assert_eq!(bits(&fused_dx), bits(if adding { &sum } else { &dx }), "{case}");
                        assert_eq!(bits(&shown.0), bits(&fused_dx), "{case} gradient shown");
                    }
                }
            })*};
        }
        check!(
            // 3×3 slices, stride 1, `same`.
            DepthwiseConv2D<6, 5, 16, 1, 3, 3, 1, 1, 6, 5, 1, 1, 144, 16, true>,
            // 3×3 slices, stride 2, `valid`.
            DepthwiseConv2D<7, 7, 8, 1, 3, 3, 2, 2, 3, 3, 0, 0, 72, 8, false>,
            // The plain loops: a 2×3 kernel, three channels, multiplier 2.
            DepthwiseConv2D<5, 4, 3, 2, 2, 3, 1, 1, 4, 2, 0, 0, 36, 6, true>,
        );
    }
}
