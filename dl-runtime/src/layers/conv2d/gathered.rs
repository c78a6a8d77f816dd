//! The convolution's products that read images in place rather than through im2col's patch
//! matrix: the forward pass over the image (or a zero-bordered copy of it), the kernel gradient
//! from the same patches, and the input gradient as a convolution of the bordered output
//! gradient (for unit strides) or one such convolution per sub-pixel class (for larger ones).
//! Used where the gathered product has its fast kernel (AVX-512).

use super::{Window, interior};
use crate::activation::Activation;
use crate::gemm::{Gathered, gathered_is_fast, gemm_gathered_add, gemm_gathered_bias, gemm_gathered_nt_add};
use crate::layers::{ChunkObserver, fit_len, keeps_pre_activation};

use super::Conv2DCache;

/// Whether every window lies inside the image (no padding reached), so that each patch column
/// is `KH` whole runs of `KW·C` input floats and the product can gather them in place.
pub(super) fn gathered_applies(win: &Window) -> bool {
    interior(win.h, win.kh, win.sh, win.oh, win.pt) == (0, win.oh)
        && interior(win.w, win.kw, win.sw, win.ow, win.pl) == (0, win.ow)
}

/// The forward pass without im2col: each sample's product reads its patch columns from the
/// image (`KH` runs of `KW·C` floats, a row of the image apart), so the patch matrix — `KH·KW`
/// times the input — is never written and read back. Where windows reach into the padding
/// (`same`), each sample is first copied into a zero-bordered image, one copy instead of
/// `KH·KW`; its padding cells then enter the sums as zeros, as im2col's do.
#[allow(clippy::too_many_arguments)]
pub(super) fn gathered_forward(
    win: &Window,
    filters: usize,
    kernel: &[f32],
    bias: &[f32],
    x: &[f32],
    batch: usize,
    cache: &mut Conv2DCache,
    y: &mut [f32],
    activation: Activation,
    mut shown: Option<&mut dyn ChunkObserver>,
) {
    let (cols, in_len) = (win.cols(), win.in_len());
    let padded = padded_window(win);
    let src = padded.unwrap_or(*win);
    let row = src.w * src.c;
    // The offsets depend on the window only (one layer, one cache): built by the first pass.
    if cache.offsets.len() != cols {
        cache.offsets.clear();
        for o_r in 0..win.oh {
            for o_c in 0..win.ow {
                cache.offsets.push(o_r * win.sh * row + o_c * win.sw * win.c);
            }
        }
    }
    if let Some(p) = padded {
        // Only the interior is ever written, so the border stays zero from the first pass on.
        fit_len(&mut cache.padded, p.in_len());
    }
    let relu = activation == Activation::Relu;
    let keep_z = keeps_pre_activation(activation);
    for s in 0..batch {
        let sample = &x[s * in_len..(s + 1) * in_len];
        let b = sample_patches(win, sample, &mut cache.padded, &cache.offsets);
        let out = s * filters * cols..(s + 1) * filters * cols;
        if keep_z {
            let zc = &mut cache.z[out.clone()];
            gemm_gathered_bias(filters, kernel, b, bias, false, zc);
            activation.apply(zc, &mut y[out.clone()], filters);
        } else {
            gemm_gathered_bias(filters, kernel, b, bias, relu, &mut y[out.clone()]);
            if activation == Activation::Relu6 {
                activation.apply_in_place(&mut y[out.clone()], filters);
            }
        }
        if let Some(shown) = shown.as_deref_mut() {
            shown.chunk(out.start, &y[out]);
        }
    }
}

/// Whether [`kernel_gradient`] sums this layer's kernel gradient: a fast gathered product, a
/// window that is not the identity (a 1×1 unit-stride kernel reads its input as the patch
/// matrix already), and runs (`KW·C` floats) of at least a register, which the product loads
/// whole (the 3-channel first layer, runs of 9, keeps im2col).
pub(super) fn gathered_gradient_applies(win: &Window) -> bool {
    gathered_is_fast() && win.kw * win.c >= 16 && !win.pointwise()
}

/// Adds the kernel gradient of `n` samples, transposed (`K × F`), to `cache.kernel_gradient`:
/// `Σ_pixels patch · ∂L/∂zᵀ` with each patch read from the sample (or its zero-bordered copy)
/// where it lies, as the forward pass reads it, so the patch matrix is never written. The
/// offsets are the forward pass's, which ran on the same batch.
pub(super) fn kernel_gradient(
    win: &Window,
    filters: usize,
    x: &[f32],
    dz: &[f32],
    n: usize,
    cache: &mut Conv2DCache,
) {
    let (in_len, out_len) = (win.in_len(), win.cols() * filters);
    debug_assert_eq!(
        cache.offsets.len(),
        win.cols(),
        "the forward pass builds the offsets"
    );
    for (sample, dzs) in x.chunks_exact(in_len).zip(dz.chunks_exact(out_len)).take(n) {
        let a = sample_patches(win, sample, &mut cache.padded, &cache.offsets);
        gemm_gathered_nt_add(a, filters, dzs, &mut cache.kernel_gradient);
    }
}

/// One sample's patch matrix as the gathered products read it: from the sample itself, or,
/// when windows reach into the padding, from its zero-bordered copy written into `padded`.
fn sample_patches<'a>(
    win: &Window,
    sample: &'a [f32],
    padded: &'a mut [f32],
    offsets: &'a [usize],
) -> Gathered<'a> {
    let bordered = padded_window(win);
    let data = if bordered.is_some() {
        pad_into(win, sample, padded);
        &*padded
    } else {
        sample
    };
    Gathered {
        data,
        offsets,
        runs: win.kh,
        len: win.kw * win.c,
        stride: bordered.unwrap_or(*win).w * win.c,
    }
}

/// The window over the image with its padding made explicit (every window inside it, none
/// padded), when some window of `win` reaches outside the image; `None` when none does.
fn padded_window(win: &Window) -> Option<Window> {
    if gathered_applies(win) {
        return None;
    }
    // Padded extent: the last window's far edge, and never less than the image.
    let h = ((win.oh - 1) * win.sh + win.kh).max(win.pt + win.h);
    let w = ((win.ow - 1) * win.sw + win.kw).max(win.pl + win.w);
    Some(Window {
        h,
        w,
        pt: 0,
        pl: 0,
        ..*win
    })
}

/// Copies an HWC image into the interior of its padded copy (rows `pt..pt + h`, columns
/// `pl..pl + w` of a `padded_window(win)`-sized image), leaving the border as it is.
fn pad_into(win: &Window, image: &[f32], padded: &mut [f32]) {
    let p = padded_window(win).expect("a window that reaches into the padding");
    copy_rows(
        image,
        win.w * win.c,
        padded,
        win.pt * p.w * p.c + win.pl * win.c,
        p.w * p.c,
    );
}

/// Copies the rows of `image` (`run` floats each) into `padded`, row `r` at `first + r·stride`.
fn copy_rows(image: &[f32], run: usize, padded: &mut [f32], first: usize, stride: usize) {
    for (r, src) in image.chunks_exact(run).enumerate() {
        let at = first + r * stride;
        padded[at..at + run].copy_from_slice(src);
    }
}

/// Whether [`input_gradient`] computes this layer's `∂L/∂x`: unit strides (so that the adjoint
/// of the convolution is a convolution), a kernel larger than 1×1, and a fast gathered product.
pub(super) fn transposed_applies(win: &Window) -> bool {
    win.sh == 1 && win.sw == 1 && !(win.kh == 1 && win.kw == 1) && gathered_is_fast()
}

/// Scratch of [`input_gradient`], kept in the layer's cache.
#[derive(Debug, Default)]
pub struct TransposedScratch {
    /// The kernel flipped in both spatial axes with filters and channels swapped (`C × KH·KW·F`).
    flipped: Vec<f32>,
    /// One sample's `∂L/∂z` with a zero border.
    padded: Vec<f32>,
    offsets: Vec<usize>,
    zeros: Vec<f32>,
}

/// The window of the adjoint of a unit-stride convolution: a `KH × KW` window over `∂L/∂z`
/// (`F` channels) bordered by `KH − 1 − PT` rows on top and `KW − 1 − PL` columns on the left,
/// `H + KH − 1` rows by `W + KW − 1` columns in all, giving the `H × W` input positions.
fn transposed_window(win: &Window, filters: usize) -> Window {
    Window {
        h: win.h + win.kh - 1,
        w: win.w + win.kw - 1,
        c: filters,
        oh: win.h,
        ow: win.w,
        pt: 0,
        pl: 0,
        ..*win
    }
}

/// `∂L/∂x` of the `n` samples whose `∂L/∂z` is `dz`, for a unit-stride convolution: input cell
/// `(h, w, c)` received `kernel[f, (kh, kw, c)]` times itself in output `(h + PT − kh,
/// w + PL − kw, f)`, so its gradient is the correlation of the bordered `∂L/∂z` with the kernel
/// flipped in both axes — a gathered product, with no `K`-rows patch gradient to fold back.
/// [`flip_kernel`] must have prepared `scratch` for this kernel.
pub(super) fn input_gradient(
    win: &Window,
    filters: usize,
    dz: &[f32],
    n: usize,
    scratch: &mut TransposedScratch,
    dx: &mut [f32],
    adding: bool,
) {
    let t = transposed_window(win, filters);
    let c = win.c;
    let row = t.w * filters;
    if scratch.offsets.len() != t.cols() {
        scratch.offsets = (0..t.oh)
            .flat_map(|o_r| (0..t.ow).map(move |o_c| o_r * row + o_c * filters))
            .collect();
    }
    // Only the interior is ever written, so the border stays zero.
    fit_len(&mut scratch.padded, t.in_len());
    fit_len(&mut scratch.zeros, c);
    let (out_len, in_len) = (win.cols() * filters, win.in_len());
    let first = (win.kh - 1 - win.pt) * row + (win.kw - 1 - win.pl) * filters;
    for (dzs, dxs) in dz.chunks_exact(out_len).zip(dx.chunks_exact_mut(in_len)).take(n) {
        copy_rows(dzs, win.ow * filters, &mut scratch.padded, first, row);
        let b = Gathered {
            data: &scratch.padded,
            offsets: &scratch.offsets,
            runs: t.kh,
            len: t.kw * filters,
            stride: row,
        };
        if adding {
            gemm_gathered_add(c, &scratch.flipped, b, dxs);
        } else {
            gemm_gathered_bias(c, &scratch.flipped, b, &scratch.zeros, false, dxs);
        }
    }
}

/// Lays out the kernel for [`input_gradient`]: flipped in both spatial axes, filters and
/// channels swapped (`C × KH·KW·F`, column-major).
pub(super) fn flip_kernel(win: &Window, filters: usize, kernel: &[f32], scratch: &mut TransposedScratch) {
    let c = win.c;
    fit_len(&mut scratch.flipped, c * win.kh * win.kw * filters);
    // flipped[c, ((KH−1−kh)·KW + KW−1−kw)·F + f] = kernel[f, (kh·KW + kw)·C + c].
    for kh in 0..win.kh {
        for kw in 0..win.kw {
            let (q, p) = (kh * win.kw + kw, (win.kh - 1 - kh) * win.kw + (win.kw - 1 - kw));
            for ch in 0..c {
                for f in 0..filters {
                    scratch.flipped[ch + (p * filters + f) * c] = kernel[f + (q * c + ch) * filters];
                }
            }
        }
    }
}

/// Whether [`strided_input_gradient`] computes this layer's `∂L/∂x`: a stride above 1 (unit
/// strides take [`input_gradient`], and a 1×1 unit-stride kernel one product), and a fast
/// gathered product.
pub(super) fn strided_applies(win: &Window) -> bool {
    (win.sh > 1 || win.sw > 1) && gathered_is_fast()
}

/// Scratch of [`strided_input_gradient`], kept in the layer's cache: built for the window on
/// the first pass (the classes' columns), refilled for the kernel on every pass.
#[derive(Debug, Default)]
pub struct StridedScratch {
    classes: Vec<Class>,
    /// One sample's `∂L/∂z` with a zero border.
    padded: Vec<f32>,
    /// One class's `∂L/∂x` columns before they are spread over the image.
    out: Vec<f32>,
    zeros: Vec<f32>,
}

/// The input pixels whose row and column are `(rh, rw)` past a multiple of the strides
/// (counted in padded coordinates): each receives the same `taps_h × taps_w` kernel taps, from
/// neighbouring outputs, so their gradient is one correlation of the bordered `∂L/∂z` with that
/// sub-kernel, flipped.
#[derive(Debug, Default)]
struct Class {
    taps: (usize, usize),
    /// The first kernel row and column of the class (`rh`, `rw`).
    first: (usize, usize),
    /// The sub-kernel, flipped, filters and channels swapped (`C × taps_h·taps_w·F`).
    kernel: Vec<f32>,
    /// Where each of the class's pixels' windows starts in the bordered `∂L/∂z`.
    offsets: Vec<usize>,
    /// Each of the class's pixels' place in the image (`h·W + w`).
    pixels: Vec<usize>,
}

/// The bordered `∂L/∂z` of [`strided_input_gradient`]: `(rows, columns)` of the border on the
/// top and left (a class reaches up to `⌈K/S⌉ − 1` outputs before its own), and the whole
/// height and width (down to the last output any pixel's class reaches).
fn strided_border(win: &Window) -> ((usize, usize), (usize, usize)) {
    let (bt, bl) = (win.kh.div_ceil(win.sh) - 1, win.kw.div_ceil(win.sw) - 1);
    let last_h = (win.h - 1 + win.pt) / win.sh;
    let last_w = (win.w - 1 + win.pl) / win.sw;
    (
        (bt, bl),
        (bt + win.oh.max(last_h + 1), bl + win.ow.max(last_w + 1)),
    )
}

/// Builds the classes' columns (on the first pass) and their flipped sub-kernels (every pass).
pub(super) fn prepare_strided(win: &Window, filters: usize, kernel: &[f32], scratch: &mut StridedScratch) {
    let ((bt, bl), (_, width)) = strided_border(win);
    let row = width * filters;
    let taps = |k: usize, s: usize, r: usize| if r < k { (k - r).div_ceil(s) } else { 0 };
    if scratch.classes.is_empty() {
        for rh in 0..win.sh {
            for rw in 0..win.sw {
                let t = (taps(win.kh, win.sh, rh), taps(win.kw, win.sw, rw));
                let mut class = Class {
                    taps: t,
                    first: (rh, rw),
                    ..Class::default()
                };
                for h in (0..win.h).filter(|h| (h + win.pt) % win.sh == rh) {
                    for w in (0..win.w).filter(|w| (w + win.pl) % win.sw == rw) {
                        class.pixels.push(h * win.w + w);
                        if t.0 > 0 && t.1 > 0 {
                            // The class's window ends at output (q_h, q_w), the one its first
                            // tap reaches; it starts taps − 1 outputs before.
                            let (qh, qw) = ((h + win.pt - rh) / win.sh, (w + win.pl - rw) / win.sw);
                            class
                                .offsets
                                .push((qh + bt + 1 - t.0) * row + (qw + bl + 1 - t.1) * filters);
                        }
                    }
                }
                scratch.classes.push(class);
            }
        }
    }
    let c = win.c;
    for class in &mut scratch.classes {
        let ((th, tw), (rh, rw)) = (class.taps, class.first);
        fit_len(&mut class.kernel, c * th * tw * filters);
        // kernel[c, (u·T_w + v)·F + f] = kernel[f, (kh·KW + kw)·C + c] with the window's row u
        // reaching kernel row kh = rh + (T_h − 1 − u)·S_h (its last row, the first tap).
        for u in 0..th {
            for v in 0..tw {
                let (kh, kw) = (rh + (th - 1 - u) * win.sh, rw + (tw - 1 - v) * win.sw);
                let q = kh * win.kw + kw;
                for ch in 0..c {
                    for f in 0..filters {
                        class.kernel[ch + ((u * tw + v) * filters + f) * c] =
                            kernel[f + (q * c + ch) * filters];
                    }
                }
            }
        }
    }
}

/// `∂L/∂x` of the `n` samples whose `∂L/∂z` is `dz`, for a strided convolution, by sub-pixel
/// classes: input pixel `(h, w)` received kernel tap `(kh, kw)` from output
/// `((h + PT − kh)/S_h, (w + PL − kw)/S_w)` where those divide, so the pixels of one residue
/// class all receive the same taps and their gradients are one gathered product over the
/// bordered `∂L/∂z` — no `K`-row patch gradient written and folded back by col2im, and every
/// pixel of `dx` written once (those no tap reaches, zero). [`prepare_strided`] must have
/// prepared `scratch` for this kernel.
pub(super) fn strided_input_gradient(
    win: &Window,
    filters: usize,
    dz: &[f32],
    n: usize,
    scratch: &mut StridedScratch,
    dx: &mut [f32],
    adding: bool,
) {
    let ((bt, bl), (height, width)) = strided_border(win);
    let row = width * filters;
    let c = win.c;
    // Only the interior is ever written, so the border stays zero.
    fit_len(&mut scratch.padded, height * row);
    fit_len(&mut scratch.zeros, c);
    let (out_len, in_len) = (win.cols() * filters, win.in_len());
    for (dzs, dxs) in dz.chunks_exact(out_len).zip(dx.chunks_exact_mut(in_len)).take(n) {
        copy_rows(
            dzs,
            win.ow * filters,
            &mut scratch.padded,
            bt * row + bl * filters,
            row,
        );
        for class in &scratch.classes {
            if class.offsets.is_empty() {
                // No tap reaches these pixels: their gradient is zero (and adding it is nothing).
                if !adding {
                    for &px in &class.pixels {
                        dxs[px * c..(px + 1) * c].fill(0.0);
                    }
                }
                continue;
            }
            let b = Gathered {
                data: &scratch.padded,
                offsets: &class.offsets,
                runs: class.taps.0,
                len: class.taps.1 * filters,
                stride: row,
            };
            let cols = class.pixels.len();
            fit_len(&mut scratch.out, c * cols);
            gemm_gathered_bias(c, &class.kernel, b, &scratch.zeros, false, &mut scratch.out);
            let (pixels, out) = (&class.pixels[..], &scratch.out[..]);
            match (c, adding) {
                (16, false) => spread::<16, false>(pixels, out, dxs),
                (16, true) => spread::<16, true>(pixels, out, dxs),
                (32, false) => spread::<32, false>(pixels, out, dxs),
                (32, true) => spread::<32, true>(pixels, out, dxs),
                (64, false) => spread::<64, false>(pixels, out, dxs),
                (64, true) => spread::<64, true>(pixels, out, dxs),
                _ => {
                    for (&px, col) in pixels.iter().zip(out.chunks_exact(c)) {
                        let to = &mut dxs[px * c..(px + 1) * c];
                        if adding {
                            to.iter_mut().zip(col).for_each(|(d, v)| *d += v);
                        } else {
                            to.copy_from_slice(col);
                        }
                    }
                }
            }
        }
    }
}

/// Copies (or, with `ADD`, adds) column `j` of `out` (`C` floats) to pixel `pixels[j]` of `dx`:
/// with `C` known the copies are a few vector moves, where a run-time length made each a call
/// to `memcpy`. Each pixel belongs to one class, so an added value is the whole gradient.
fn spread<const C: usize, const ADD: bool>(pixels: &[usize], out: &[f32], dx: &mut [f32]) {
    for (&px, col) in pixels.iter().zip(out.chunks_exact(C)) {
        let to: &mut [f32; C] = (&mut dx[px * C..(px + 1) * C]).try_into().expect("C floats");
        let col: &[f32; C] = col.try_into().expect("C floats");
        if ADD {
            to.iter_mut().zip(col).for_each(|(d, v)| *d += v);
        } else {
            *to = *col;
        }
    }
}
