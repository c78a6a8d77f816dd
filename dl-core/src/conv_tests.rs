//! The blocked convolution kernels against plain loops over the same windows, on the shapes
//! whose paths differ: row ends of every block width, padding at every edge, strides, 1×1
//! convolutions taken as one row, channels in chunks, inputs too wide for the zero column, and
//! widths that are not a multiple of a vector. (The test build's target decides which vector
//! widths run; CI's has no AVX-512, the embedded benches' has.)

extern crate std;

use std::format;
use std::vec::Vec;

use crate::activation::Activation;
use crate::conv::{Window, conv2d, depthwise_conv2d};

/// A window with Keras's `same` padding (`same = true`) or `valid`.
fn window(h: usize, w: usize, c: usize, k: (usize, usize), s: usize, same: bool) -> Window {
    let out = |n: usize, k: usize| if same { n.div_ceil(s) } else { (n - k) / s + 1 };
    let (oh, ow) = (out(h, k.0), out(w, k.1));
    let pad = |o: usize, n: usize, k: usize| ((o - 1) * s + k).saturating_sub(n) / 2;
    Window {
        h,
        w,
        c,
        kh: k.0,
        kw: k.1,
        sh: s,
        sw: s,
        pt: pad(oh, h, k.0),
        pl: pad(ow, w, k.1),
        oh,
        ow,
    }
}

/// Values that are not round numbers, different for each `seed`.
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0)
        .collect()
}

/// `y[oy, ox, f]` of a convolution by plain loops; `depthwise` reads channel `f` only.
fn reference(
    win: &Window,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    f_total: usize,
    depthwise: bool,
    y: &mut [f32],
) {
    for oy in 0..win.oh {
        for ox in 0..win.ow {
            for f in 0..f_total {
                let mut sum = bias[f];
                for (ky, kx, iy, ix) in win.cells(oy, ox) {
                    let tap = ky * win.kw + kx;
                    if depthwise {
                        sum += x[(iy * win.w + ix) * win.c + f] * kernel[tap * win.c + f];
                    } else {
                        for ci in 0..win.c {
                            sum +=
                                x[(iy * win.w + ix) * win.c + ci] * kernel[(tap * win.c + ci) * f_total + f];
                        }
                    }
                }
                y[(oy * win.ow + ox) * f_total + f] = sum.max(0.0);
            }
        }
    }
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
            "{what}: output {i}: {g} against {w}"
        );
    }
}

fn check_conv<const F: usize>(win: Window) {
    let (x, kernel, bias) = (
        values(win.h * win.w * win.c, 1),
        values(win.kh * win.kw * win.c * F, 2),
        values(F, 3),
    );
    let n = win.oh * win.ow * F;
    let (mut got, mut want) = (std::vec![f32::NAN; n], std::vec![0.0; n]);
    conv2d::<F>(&win, &x, &kernel, &bias, &mut got, Activation::Relu);
    reference(&win, &x, &kernel, &bias, F, false, &mut want);
    assert_close(&got, &want, &format!("conv2d::<{F}>({win:?})"));
}

fn check_depthwise<const C: usize>(win: Window) {
    assert_eq!(win.c, C);
    let (x, kernel, bias) = (
        values(win.h * win.w * C, 4),
        values(win.kh * win.kw * C, 5),
        values(C, 6),
    );
    let n = win.oh * win.ow * C;
    let (mut got, mut want) = (std::vec![f32::NAN; n], std::vec![0.0; n]);
    depthwise_conv2d::<C>(&win, 1, &x, &kernel, &bias, &mut got, Activation::Relu);
    reference(&win, &x, &kernel, &bias, C, true, &mut want);
    assert_close(&got, &want, &format!("depthwise_conv2d::<{C}>({win:?})"));
}

#[test]
fn convolutions_match_plain_loops() {
    // DS-CNN's first layer: a 10 × 4 kernel, stride 2, rows of five (`one_channel` with
    // AVX-512); 128 channels, rows of one, two and six, `valid`.
    check_conv::<64>(window(49, 10, 1, (10, 4), 2, true));
    check_conv::<128>(window(9, 2, 1, (3, 3), 2, true));
    check_conv::<64>(window(7, 4, 1, (3, 2), 1, false));
    check_conv::<64>(window(8, 6, 1, (5, 5), 1, true));
    check_conv::<64>(window(10, 13, 1, (4, 3), 2, true));
    // ResNet-8's: 16 channels over 32-pixel rows, padding at both ends.
    check_conv::<16>(window(32, 32, 3, (3, 3), 1, true));
    check_conv::<32>(window(9, 7, 16, (3, 3), 2, true));
    check_conv::<8>(window(11, 10, 3, (3, 3), 2, true));
    // Three channels into eight (`rgb3x3` with AVX-512): MobileNetV1's first layer, padding
    // on the right and bottom only; on both sides with stride 1 and rows of two blocks, a pair
    // and a single pixel; `valid`.
    check_conv::<8>(window(96, 96, 3, (3, 3), 2, true));
    check_conv::<8>(window(9, 19, 3, (3, 3), 1, true));
    check_conv::<8>(window(12, 21, 3, (3, 3), 2, false));
    check_conv::<24>(window(7, 13, 5, (3, 3), 1, true));
    check_conv::<5>(window(6, 9, 2, (2, 3), 1, false));
    // 1 × 1: one row of pixels, 128 channels in chunks; 9 pixels leave a tail after a block.
    check_conv::<128>(window(6, 6, 64, (1, 1), 1, true));
    check_conv::<256>(window(3, 3, 32, (1, 1), 1, true));
    check_conv::<32>(window(8, 8, 16, (1, 1), 2, true));
    // More input channels than the zero column holds: edges one pixel at a time.
    check_conv::<16>(window(5, 6, 300, (3, 3), 1, true));
}

#[test]
fn depthwise_convolutions_match_plain_loops() {
    // The 3 × 3 column kernel: 8 (a half vector with AVX-512) and 32 channels, rows that
    // leave every tail length.
    check_depthwise::<8>(window(20, 20, 8, (3, 3), 1, true));
    check_depthwise::<32>(window(17, 23, 32, (3, 3), 1, true));
    check_depthwise::<16>(window(9, 19, 16, (3, 3), 1, false));
    // Whole rows (`same`, stride 1, narrow): DS-CNN's 25 × 5 × 64, MobileNet's 6 × 6 × 128 and
    // 3 × 3 × 256, rows of two and eight, half vectors (24 channels with AVX-512).
    check_depthwise::<64>(window(25, 5, 64, (3, 3), 1, true));
    check_depthwise::<128>(window(6, 6, 128, (3, 3), 1, true));
    check_depthwise::<256>(window(3, 3, 256, (3, 3), 1, true));
    check_depthwise::<16>(window(4, 2, 16, (3, 3), 1, true));
    check_depthwise::<16>(window(5, 8, 16, (3, 3), 1, true));
    check_depthwise::<24>(window(7, 3, 24, (3, 3), 1, true));
    // The general product: strides, narrow images without padding, other kernels, odd widths.
    check_depthwise::<64>(window(12, 12, 64, (3, 3), 2, true));
    check_depthwise::<16>(window(6, 4, 16, (3, 3), 1, false));
    check_depthwise::<24>(window(7, 6, 24, (5, 3), 1, true));
    check_depthwise::<3>(window(6, 7, 3, (3, 3), 1, true));
}
