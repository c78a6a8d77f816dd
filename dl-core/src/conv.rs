//! `Conv2D` on one image, channels-last, as a direct convolution: for a single image the
//! im2col matrix the training runtime builds would cost more to write than the convolution.

use crate::activation::Activation;
use core::ops::Range;

use crate::block::{self, CHUNK, Dot, Elementwise, Product};
use crate::depthwise3;

/// Where a window (convolution kernel or pooling window) goes over an `h × w × c` image: its
/// size, strides, the padding the macro computed (top and left; the rest is at the bottom and
/// right, as Keras splits `same` padding), and the output size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Input height, width and channels.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Input channels.
    pub c: usize,
    /// Window height.
    pub kh: usize,
    /// Window width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Padding rows on top.
    pub pt: usize,
    /// Padding columns on the left.
    pub pl: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl Window {
    /// The input cells `(row, column)` under the window at output `(oy, ox)`, padding skipped.
    #[inline]
    pub(crate) fn cells(
        &self,
        oy: usize,
        ox: usize,
    ) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
        let top = (oy * self.sh) as isize - self.pt as isize;
        let left = (ox * self.sw) as isize - self.pl as isize;
        (0..self.kh).flat_map(move |ky| {
            (0..self.kw).filter_map(move |kx| {
                let (iy, ix) = (top + ky as isize, left + kx as isize);
                let inside = iy >= 0 && ix >= 0 && (iy as usize) < self.h && (ix as usize) < self.w;
                inside.then_some((ky, kx, iy as usize, ix as usize))
            })
        })
    }
}

/// [`slide_by`] with as many pixels to a block as [`block::pixels_per_block`] gives `F`, a
/// [`CHUNK`] of output channels at a time.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn slide<M: Product, const F: usize>(
    win: &Window,
    x: &[f32],
    kernel: &[f32],
    per_tap: usize,
    stride: usize,
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) {
    let chunks = if F > CHUNK && F.is_multiple_of(CHUNK) {
        CHUNK
    } else {
        F
    };
    for f0 in (0..F).step_by(chunks) {
        let channels = f0..f0 + chunks;
        match block::pixels_per_block(F) {
            8 => slide_by::<M, F, 8>(win, x, kernel, per_tap, stride, bias, y, activation, channels),
            6 => slide_by::<M, F, 6>(win, x, kernel, per_tap, stride, bias, y, activation, channels),
            _ => slide_by::<M, F, 4>(win, x, kernel, per_tap, stride, bias, y, activation, channels),
        }
    }
}

/// Zeros that stand for the input under a block's taps outside the image (padding), for inputs
/// of up to this many channels.
static ZEROS: [f32; 256] = [0.0; 256];

/// Slides the window over `x` a block of output pixels at a time ([`block::pixels`]), `P`
/// pixels sharing each weight load (four or two where fewer than `P` are left on the row). Where the
/// whole window is inside the image for every pixel of the block (the interior) the taps come a
/// kernel row at a time; at the edges one `(ky, kx)` tap at a time, with [`ZEROS`] for the
/// pixels it falls outside of (one pixel at a time over the taps inside the image for inputs of
/// more channels than that, and for a row's last pixels). `per_tap` is the number of kernel
/// floats of one `(ky, kx)` tap, `stride` as [`block::Product`] reads it.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn slide_by<M: Product, const F: usize, const P: usize>(
    win: &Window,
    x: &[f32],
    kernel: &[f32],
    per_tap: usize,
    stride: usize,
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
    channels: Range<usize>,
) {
    let Window {
        h,
        w,
        c,
        kh,
        kw,
        sh,
        sw,
        pt,
        pl,
        oh,
        ow,
    } = *win;
    let x = &x[..h * w * c];
    let left = |ox: usize| (ox * sw) as isize - pl as isize;
    let inside = |ox: usize| left(ox) >= 0 && left(ox) + kw as isize <= w as isize;
    for (oy, yrow) in y.chunks_exact_mut(ow * F).take(oh).enumerate() {
        let top = (oy * sh) as isize - pt as isize;
        // The kernel rows that fall inside the image.
        let ky0 = (-top).clamp(0, kh as isize) as usize;
        let ky1 = (h as isize - top).clamp(ky0 as isize, kh as isize) as usize;
        let mut ox = 0;
        while ox < ow {
            // `n` pixels from `ox`, in the interior or, with `ZEROS`, at the edges.
            macro_rules! pixels {
                ($n:tt) => {{
                    let mut outs = yrow[ox * F..(ox + $n) * F].chunks_exact_mut(F);
                    let ys = core::array::from_fn(|_| outs.next().expect("a pixel of the block"));
                    if inside(ox) && inside(ox + $n - 1) {
                        let lefts: [usize; $n] = core::array::from_fn(|p| left(ox + p) as usize);
                        let taps = move || {
                            (ky0..ky1).map(move |ky| {
                                let row = (top + ky as isize) as usize * w;
                                let xs = lefts.map(|l| &x[(row + l) * c..][..kw * c]);
                                (xs, &kernel[ky * kw * per_tap..])
                            })
                        };
                        block::pixels::<M, $n, F, _>(channels.clone(), stride, bias, taps, ys, activation);
                    } else {
                        let lefts: [isize; $n] = core::array::from_fn(|p| left(ox + p));
                        let taps = move || {
                            (ky0..ky1).flat_map(move |ky| {
                                let row = (top + ky as isize) as usize * w;
                                (0..kw).map(move |kx| {
                                    let xs = lefts.map(|l| match usize::try_from(l + kx as isize) {
                                        Ok(ix) if ix < w => &x[(row + ix) * c..][..c],
                                        _ => &ZEROS[..c],
                                    });
                                    (xs, &kernel[(ky * kw + kx) * per_tap..])
                                })
                            })
                        };
                        block::pixels::<M, $n, F, _>(channels.clone(), stride, bias, taps, ys, activation);
                    }
                    ox += $n;
                }};
            }
            let fits = |n: usize| ox + n <= ow && (c <= ZEROS.len() || inside(ox) && inside(ox + n - 1));
            if fits(P) {
                pixels!(P);
            } else if P > 4 && fits(4) {
                pixels!(4);
            } else if fits(2) {
                pixels!(2);
            } else {
                let l = left(ox);
                let kx0 = (-l).clamp(0, kw as isize) as usize;
                let kx1 = (w as isize - l).clamp(kx0 as isize, kw as isize) as usize;
                let taps = move || {
                    (ky0..ky1).map(move |ky| {
                        let start = (top + ky as isize) as usize * w + (l + kx0 as isize) as usize;
                        let xs = [&x[start * c..][..(kx1 - kx0) * c]];
                        (xs, &kernel[(ky * kw + kx0) * per_tap..])
                    })
                };
                block::pixels::<M, 1, F, _>(
                    channels.clone(),
                    stride,
                    bias,
                    taps,
                    [&mut yrow[ox * F..][..F]],
                    activation,
                );
                ox += 1;
            }
        }
    }
}

/// `y = activation(conv(x, kernel) + bias)`: `x` is `h × w × c`, `kernel` `[kh, kw, c, F]`
/// (HWIO), `bias` `F` floats (or empty), `y` `oh × ow × F`. A softmax activation is left to
/// the caller (it needs a whole pixel).
pub fn conv2d<const F: usize>(
    win: &Window,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if F == 8 && crate::rgb3x3::conv3x3_rgb8(win, x, kernel, bias, y, activation) {
        return;
    }
    if crate::one_channel::conv_one_channel::<F>(win, x, kernel, bias, y, activation) {
        return;
    }
    // A 1×1 convolution with unit strides and no padding is one row of `h·w` pixels: no row
    // ends that leave fewer pixels than a block.
    let pointwise = win.kh == 1 && win.kw == 1 && win.sh == 1 && win.sw == 1;
    let win = if pointwise && (win.pt, win.pl, win.oh, win.ow) == (0, 0, win.h, win.w) {
        &Window {
            h: 1,
            w: win.h * win.w,
            oh: 1,
            ow: win.h * win.w,
            ..*win
        }
    } else {
        win
    };
    slide::<Dot, F>(win, x, kernel, win.c * F, F, bias, y, activation);
}

/// `DepthwiseConv2D`: `y = activation(depthwise(x, kernel) + bias)`: `x` is `h × w × c`, `kernel`
/// `[kh, kw, c, m]`, `y` `oh × ow × CM` (`CM = c·m`) with channel `c·m + j`
/// filtered by `kernel[.., .., c, j]`; `bias` is `c·m` floats, or empty without `use_bias`. A
/// softmax activation is left to the caller.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_conv2d<const CM: usize>(
    win: &Window,
    m: usize,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) {
    if m == 1 {
        if depthwise3::depthwise3x3(win, x, kernel, bias, y, activation) {
            return;
        }
        // Each output channel reads its own input channel: vectorized over the channels.
        return slide::<Elementwise, CM>(win, x, kernel, win.c, win.c, bias, y, activation);
    }
    let cm = win.c * m;
    for oy in 0..win.oh {
        for ox in 0..win.ow {
            let out = &mut y[(oy * win.ow + ox) * cm..][..cm];
            if bias.is_empty() {
                out.fill(0.0);
            } else {
                out.copy_from_slice(&bias[..cm]);
            }
            for (ky, kx, iy, ix) in win.cells(oy, ox) {
                let pixel = &x[(iy * win.w + ix) * win.c..][..win.c];
                let taps = &kernel[(ky * win.kw + kx) * cm..][..cm];
                for ((o, &v), t) in out.chunks_exact_mut(m).zip(pixel).zip(taps.chunks_exact(m)) {
                    for (o, &k) in o.iter_mut().zip(t) {
                        *o += v * k;
                    }
                }
            }
            activation.apply_elementwise(out);
        }
    }
}

/// `SeparableConv2D`: [`depthwise_conv2d`] without bias or activation into `mid`
/// (`oh × ow × CM`), then a pointwise (1×1) convolution with `pointwise` `[CM, F]` and `bias`
/// (`F` floats, or empty) into `y` (`oh × ow × F`), then the activation (softmax is left to the
/// caller).
#[allow(clippy::too_many_arguments)]
pub fn separable_conv2d<const CM: usize, const F: usize>(
    win: &Window,
    m: usize,
    x: &[f32],
    depthwise: &[f32],
    pointwise: &[f32],
    bias: &[f32],
    mid: &mut [f32],
    y: &mut [f32],
    activation: Activation,
) {
    depthwise_conv2d::<CM>(win, m, x, depthwise, &[], mid, Activation::Linear);
    let (oh, ow) = (win.oh, win.ow);
    let pixels = Window {
        h: oh,
        w: ow,
        c: CM,
        kh: 1,
        kw: 1,
        sh: 1,
        sw: 1,
        pt: 0,
        pl: 0,
        oh,
        ow,
    };
    conv2d::<F>(&pixels, mid, pointwise, bias, y, activation);
}

/// `UpSampling2D` (nearest): `x` (`h × w × c`) into `y` (`h·sh × w·sw × c`), each pixel repeated
/// into an `sh × sw` block.
pub fn upsample2d(x: &[f32], y: &mut [f32], w: usize, c: usize, sh: usize, sw: usize) {
    let row = w * sw * c;
    for (r, in_row) in x.chunks_exact(w * c).enumerate() {
        let first = r * sh * row;
        for (px, block) in in_row
            .chunks_exact(c)
            .zip(y[first..first + row].chunks_exact_mut(sw * c))
        {
            for out in block.chunks_exact_mut(c) {
                out.copy_from_slice(px);
            }
        }
        for k in 1..sh {
            y.copy_within(first..first + row, first + k * row);
        }
    }
}

/// `ZeroPadding2D`: `x` (`h × w × c`) into `y` (`oh × ow × c`) at row `pt` and column `pl`, zeros
/// around it.
pub fn zero_pad2d(x: &[f32], y: &mut [f32], w: usize, c: usize, ow: usize, pt: usize, pl: usize) {
    y.fill(0.0);
    for (r, row) in x.chunks_exact(w * c).enumerate() {
        let start = ((r + pt) * ow + pl) * c;
        y[start..start + w * c].copy_from_slice(row);
    }
}
