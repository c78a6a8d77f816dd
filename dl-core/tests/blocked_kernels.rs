//! The register-blocked kernels against the plain loops they replaced, on shapes that reach
//! every path: interior blocks and edge pixels, strides, `same` padding split unevenly, output
//! widths that are a multiple of 32, of 16, below 32 and neither, depth multipliers above 1.

use dl_core::Activation;
use dl_core::conv::{Window, conv2d, depthwise_conv2d, separable_conv2d};
use dl_core::dense::dense;

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

fn window(h: usize, w: usize, c: usize, k: (usize, usize), s: (usize, usize), same: bool) -> Window {
    let (oh, ow, pt, pl) = if same {
        let (oh, ow) = (h.div_ceil(s.0), w.div_ceil(s.1));
        let ph = ((oh - 1) * s.0 + k.0).saturating_sub(h);
        let pw = ((ow - 1) * s.1 + k.1).saturating_sub(w);
        (oh, ow, ph / 2, pw / 2)
    } else {
        ((h - k.0) / s.0 + 1, (w - k.1) / s.1 + 1, 0, 0)
    };
    Window {
        h,
        w,
        c,
        kh: k.0,
        kw: k.1,
        sh: s.0,
        sw: s.1,
        pt,
        pl,
        oh,
        ow,
    }
}

/// `Σ x[iy, ix, ci] · k(ky, kx, ci, j)` over the window at `(oy, ox)`, padding skipped.
fn reference(
    win: &Window,
    x: &[f32],
    k: impl Fn(usize, usize, usize, usize) -> f32,
    oy: usize,
    ox: usize,
    j: usize,
    ci: Option<usize>,
) -> f32 {
    let mut sum = 0.0;
    for ky in 0..win.kh {
        for kx in 0..win.kw {
            let iy = (oy * win.sh + ky) as isize - win.pt as isize;
            let ix = (ox * win.sw + kx) as isize - win.pl as isize;
            if iy < 0 || ix < 0 || iy as usize >= win.h || ix as usize >= win.w {
                continue;
            }
            let at = (iy as usize * win.w + ix as usize) * win.c;
            match ci {
                Some(ci) => sum += x[at + ci] * k(ky, kx, ci, j),
                None => (0..win.c).for_each(|ci| sum += x[at + ci] * k(ky, kx, ci, j)),
            }
        }
    }
    sum
}

fn close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "at {i}: {g} against {w}");
    }
}

fn check_conv<const F: usize>(win: Window, bias: bool) {
    let x = values(win.h * win.w * win.c, 1);
    let kernel = values(win.kh * win.kw * win.c * F, 2);
    let b = if bias { values(F, 3) } else { Vec::new() };
    let mut y = vec![f32::NAN; win.oh * win.ow * F];
    conv2d::<F>(&win, &x, &kernel, &b, &mut y, Activation::Relu);
    let k = |ky: usize, kx: usize, ci: usize, j: usize| kernel[((ky * win.kw + kx) * win.c + ci) * F + j];
    let mut want = Vec::new();
    for oy in 0..win.oh {
        for ox in 0..win.ow {
            for j in 0..F {
                let v = reference(&win, &x, k, oy, ox, j, None) + b.get(j).copied().unwrap_or(0.0);
                want.push(v.max(0.0));
            }
        }
    }
    close(&y, &want);
}

#[test]
fn conv2d_matches_the_plain_loops() {
    check_conv::<64>(window(49, 10, 1, (10, 4), (2, 2), true), true);
    check_conv::<8>(window(13, 11, 3, (3, 3), (2, 2), true), true);
    check_conv::<16>(window(9, 9, 5, (3, 3), (1, 1), true), false);
    check_conv::<12>(window(7, 10, 4, (1, 1), (1, 1), true), true);
    check_conv::<40>(window(6, 9, 3, (3, 2), (1, 2), false), true);
    check_conv::<3>(window(5, 5, 2, (5, 5), (1, 1), true), true);
}

fn check_depthwise<const CM: usize>(win: Window, m: usize) {
    let x = values(win.h * win.w * win.c, 4);
    let kernel = values(win.kh * win.kw * CM, 5);
    let b = values(CM, 6);
    let mut y = vec![f32::NAN; win.oh * win.ow * CM];
    depthwise_conv2d::<CM>(&win, m, &x, &kernel, &b, &mut y, Activation::Linear);
    let mut want = Vec::new();
    for oy in 0..win.oh {
        for ox in 0..win.ow {
            for (j, bias) in b.iter().enumerate() {
                let k = |ky: usize, kx: usize, ci: usize, j: usize| {
                    kernel[(ky * win.kw + kx) * CM + ci * m + j % m]
                };
                want.push(reference(&win, &x, k, oy, ox, j, Some(j / m)) + bias);
            }
        }
    }
    close(&y, &want);
}

#[test]
fn depthwise_conv2d_matches_the_plain_loops() {
    check_depthwise::<64>(window(25, 5, 64, (3, 3), (1, 1), true), 1);
    check_depthwise::<32>(window(12, 12, 32, (3, 3), (2, 2), true), 1);
    check_depthwise::<24>(window(7, 9, 24, (3, 3), (1, 1), false), 1);
    check_depthwise::<40>(window(6, 7, 40, (2, 3), (2, 1), true), 1);
    check_depthwise::<6>(window(5, 6, 3, (3, 3), (1, 1), true), 2);
}

#[test]
fn separable_conv2d_is_depthwise_then_pointwise() {
    let win = window(9, 8, 4, (3, 3), (1, 1), true);
    let x = values(9 * 8 * 4, 7);
    let (depthwise, pointwise, b) = (values(9 * 4, 8), values(4 * 16, 9), values(16, 10));
    let (mut mid, mut y) = (vec![0.0; 9 * 8 * 4], vec![0.0; 9 * 8 * 16]);
    separable_conv2d::<4, 16>(
        &win,
        1,
        &x,
        &depthwise,
        &pointwise,
        &b,
        &mut mid,
        &mut y,
        Activation::Linear,
    );
    let mut want_mid = vec![0.0; 9 * 8 * 4];
    depthwise_conv2d::<4>(&win, 1, &x, &depthwise, &[], &mut want_mid, Activation::Linear);
    close(&mid, &want_mid);
    let mut want = Vec::new();
    for px in want_mid.chunks_exact(4) {
        for j in 0..16 {
            want.push(b[j] + (0..4).map(|c| px[c] * pointwise[c * 16 + j]).sum::<f32>());
        }
    }
    close(&y, &want);
}

fn check_dense<const I: usize, const O: usize>(rows: usize, activation: Activation) {
    let x = values(rows * I, 11);
    let kernel = values(I * O, 12);
    let bias: [f32; O] = values(O, 13).try_into().unwrap();
    let mut y = vec![f32::NAN; rows * O];
    dense::<I, O>(&x, &kernel, &bias, &mut y, activation);
    let mut want = Vec::new();
    for xs in x.chunks_exact(I) {
        let mut row: Vec<f32> = (0..O)
            .map(|j| bias[j] + (0..I).map(|i| xs[i] * kernel[i * O + j]).sum::<f32>())
            .collect();
        activation.apply(&mut row);
        want.extend(row);
    }
    close(&y, &want);
}

#[test]
fn dense_matches_the_plain_loops() {
    check_dense::<640, 128>(1, Activation::Relu);
    check_dense::<128, 640>(1, Activation::Linear);
    check_dense::<128, 8>(1, Activation::Relu);
    check_dense::<64, 12>(1, Activation::Softmax);
    check_dense::<7, 50>(3, Activation::Tanh);
}
