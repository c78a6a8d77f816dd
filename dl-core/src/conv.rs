//! `Conv2D` on one image, channels-last, as a direct convolution: for a single image the
//! im2col matrix the training runtime builds would cost more to write than the convolution.

use crate::activation::Activation;

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

/// `y = activation(conv(x, kernel) + bias)`: `x` is `h × w × c`, `kernel` `[kh, kw, c, f]`
/// (HWIO), `y` `oh × ow × f`.
pub fn conv2d(win: &Window, x: &[f32], kernel: &[f32], bias: &[f32], y: &mut [f32], activation: Activation) {
    let f = bias.len();
    for oy in 0..win.oh {
        for ox in 0..win.ow {
            let out = &mut y[(oy * win.ow + ox) * f..][..f];
            out.copy_from_slice(bias);
            for (ky, kx, iy, ix) in win.cells(oy, ox) {
                let pixel = &x[(iy * win.w + ix) * win.c..][..win.c];
                let taps = &kernel[(ky * win.kw + kx) * win.c * f..][..win.c * f];
                for (&v, row) in pixel.iter().zip(taps.chunks_exact(f)) {
                    for (o, &k) in out.iter_mut().zip(row) {
                        *o += v * k;
                    }
                }
            }
            activation.apply_elementwise(out);
        }
    }
}

/// `DepthwiseConv2D`: `y = activation(depthwise(x, kernel) + bias)`: `x` is `h × w × c`, `kernel`
/// `[kh, kw, c, m]`, `y` `oh × ow × c·m` with channel `c·m + j`
/// filtered by `kernel[.., .., c, j]`; `bias` is `c·m` floats, or empty without `use_bias`.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_conv2d(
    win: &Window,
    m: usize,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) {
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
/// (`oh × ow × c·m`), then a pointwise (1×1) convolution with `pointwise` `[c·m, f]` and `bias`
/// (`f` floats, or empty) into `y` (`oh × ow × f`), then the activation.
#[allow(clippy::too_many_arguments)]
pub fn separable_conv2d(
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
    let cm = win.c * m;
    let f = pointwise.len() / cm;
    depthwise_conv2d(win, m, x, depthwise, &[], mid, Activation::Linear);
    for (px, out) in mid
        .chunks_exact(cm)
        .zip(y.chunks_exact_mut(f))
        .take(win.oh * win.ow)
    {
        if bias.is_empty() {
            out.fill(0.0);
        } else {
            out.copy_from_slice(&bias[..f]);
        }
        for (&v, row) in px.iter().zip(pointwise.chunks_exact(f)) {
            for (o, &k) in out.iter_mut().zip(row) {
                *o += v * k;
            }
        }
        activation.apply_elementwise(out);
    }
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
