//! `Conv2D`, the poolings and `Flatten` against naive references written here, and their
//! backward passes against central finite differences of `L = Σ w·y`.
//!
//! Layout (channels last): a sample is `H·W·C` floats, element `(h·W + w)·C + c`. The
//! references loop over output pixels and window cells directly, in f64, using Keras's
//! definitions: zero padding for convolutions, padding that never wins a max, averages over the
//! cells inside the image, ties of a max won by the first cell in row-major window order.
//!
//! Exactness. Most checks use dyadic data: inputs, kernels and weights `w` are multiples of
//! 1/8 in [−1, 1] (biases multiples of 1/128), so every product is a multiple of 1/512 and every
//! sum here stays below 2¹⁰ in magnitude, which needs < 24 significant bits: the f32 kernels
//! compute them exactly, whatever the summation order or FMA use, and so does the f64 reference
//! and `L`. Convolutions (with `linear` or away from `relu`'s kink), max pooling (away from ties)
//! and `Flatten` are linear in each coordinate, so a central difference with a dyadic step is
//! exactly the derivative. Those checks therefore demand exact equality (`EXACT`, a margin of
//! f64 ulps only). Averages divide by the window count, which rounds: see `AVG_TOL`. Smooth
//! activations (`tanh`, `softmax`) are not linear: see `SMOOTH_ATOL`.

use dl_runtime::Activation;
use dl_runtime::layers::{
    AveragePooling2D, Buffers, Conv2D, DepthwiseConv2D, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D,
    Layer, MaxPooling2D, SeparableConv2D,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Exact checks: all values are exact in f32 and f64 (see the module docs), so any difference
/// is a bug; the margin covers nothing but f64 ulps of the reference.
const EXACT: f64 = 1e-9;

/// Average pooling: the window sum of dyadic values is exact, then it is multiplied by the f32
/// `1/count` — two roundings, ≤ 2 ulps ≈ 2.4e-7 relative — per output, and the gradient `g/count`
/// likewise. A finite difference with step `h = 1/8` of `L` (|w| ≤ 1, outputs ≤ 1 in
/// magnitude, at most 9 windows containing a cell) is off by at most
/// `9 · 2 · 2.4e-7 / (2h) ≈ 3.5e-5`. A wrong count (padding counted, or a 2×2 window divided by
/// 3) changes gradients of order 0.1 by ≥ 0.02.
const AVG_TOL: f64 = 1e-4;

/// Smooth activations (`tanh`, `softmax`) through a convolution, with steps `h = 2⁻⁶` and
/// Richardson extrapolation `(4·D(h/2) − D(h)) / 3`, whose truncation error is `O(h⁴)` ≈ 1e-7
/// times the fourth derivative of `L` along the coordinate (≲ 10² here). Rounding: `y` is good to
/// a few f32 ulps (~1e-7 relative) over ≤ 200 outputs with |w| ≤ 1, so `L` to ~2e-5; divided by
/// `2h = 1/32` and amplified ×5/3 by the extrapolation, ≲ 1e-3 in the worst case, ~1e-5 seen.
/// Hence `|analytic − numeric| ≤ SMOOTH_ATOL + SMOOTH_RTOL·|numeric|`; a dropped activation
/// derivative or a mix-up of `z` and `y` moves gradients of order 0.1–1 by as much.
const SMOOTH_ATOL: f64 = 1e-3;
const SMOOTH_RTOL: f64 = 1e-3;

// ---------------------------------------------------------------------------------------------
// Geometry, computed here from Keras's formulas independently of the layers (which check the
// const arguments against their own).

/// Output size along one axis: `valid` `(n − k) / s + 1`, `same` `⌈n / s⌉`.
const fn out_size(n: usize, k: usize, s: usize, same: bool) -> usize {
    if same { n.div_ceil(s) } else { (n - k) / s + 1 }
}

/// Padding before the first cell: half of `max((out − 1)·s + k − n, 0)` for `same`.
const fn pad_before(n: usize, k: usize, s: usize, same: bool) -> usize {
    if same {
        ((n.div_ceil(s) - 1) * s + k).saturating_sub(n) / 2
    } else {
        0
    }
}

#[derive(Clone, Copy, Debug)]
struct Geo {
    h: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    oh: usize,
    ow: usize,
    pt: usize,
    pl: usize,
}

impl Geo {
    fn new(
        h: usize,
        w: usize,
        c: usize,
        (kh, kw): (usize, usize),
        (sh, sw): (usize, usize),
        same: bool,
    ) -> Self {
        Geo {
            h,
            w,
            c,
            kh,
            kw,
            sh,
            sw,
            oh: out_size(h, kh, sh, same),
            ow: out_size(w, kw, sw, same),
            pt: pad_before(h, kh, sh, same),
            pl: pad_before(w, kw, sw, same),
        }
    }

    /// A global pooling: one window over the whole image.
    fn global(h: usize, w: usize, c: usize) -> Self {
        Geo::new(h, w, c, (h, w), (1, 1), false)
    }

    fn inputs(&self) -> usize {
        self.h * self.w * self.c
    }

    /// The cells of the window of output `(oh, ow)` inside the image, in row-major window order:
    /// `(kh, kw, ih, iw)`.
    fn cells(&self, oh: usize, ow: usize) -> Vec<(usize, usize, usize, usize)> {
        let mut cells = Vec::new();
        for kh in 0..self.kh {
            for kw in 0..self.kw {
                let ih = (oh * self.sh + kh) as isize - self.pt as isize;
                let iw = (ow * self.sw + kw) as isize - self.pl as isize;
                if (0..self.h as isize).contains(&ih) && (0..self.w as isize).contains(&iw) {
                    cells.push((kh, kw, ih as usize, iw as usize));
                }
            }
        }
        cells
    }
}

// ---------------------------------------------------------------------------------------------
// Naive references, in f64.

/// The operation a layer computes, with what its reference needs.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Convolution with `f` filters (kernel and bias read from the layer).
    Conv {
        f: usize,
    },
    Max,
    Avg,
}

/// Pre-activation outputs of `op` over `geo` for a batch, HWC.
fn reference(op: Op, geo: &Geo, params: &[Vec<f32>], x: &[f32], batch: usize) -> Vec<f64> {
    let g = geo;
    let channels = match op {
        Op::Conv { f } => f,
        _ => g.c,
    };
    let mut out = vec![0.0; batch * g.oh * g.ow * channels];
    for n in 0..batch {
        let xs = &x[n * g.inputs()..(n + 1) * g.inputs()];
        for oh in 0..g.oh {
            for ow in 0..g.ow {
                let cells = g.cells(oh, ow);
                let at = ((n * g.oh + oh) * g.ow + ow) * channels;
                for ch in 0..channels {
                    out[at + ch] = match op {
                        Op::Conv { f } => {
                            let (kernel, bias) = (&params[0], &params[1]);
                            let mut s = bias[ch] as f64;
                            for &(kh, kw, ih, iw) in &cells {
                                for c in 0..g.c {
                                    // Kernel element (f, (kh·KW + kw)·C + c) of the F × K
                                    // column-major matrix (Keras's (KH, KW, C, F) row-major).
                                    let k = kernel[ch + f * ((kh * g.kw + kw) * g.c + c)] as f64;
                                    s += k * xs[(ih * g.w + iw) * g.c + c] as f64;
                                }
                            }
                            s
                        }
                        Op::Max => cells
                            .iter()
                            .map(|&(_, _, ih, iw)| xs[(ih * g.w + iw) * g.c + ch] as f64)
                            .fold(f64::NEG_INFINITY, f64::max),
                        Op::Avg => {
                            let s: f64 = cells
                                .iter()
                                .map(|&(_, _, ih, iw)| xs[(ih * g.w + iw) * g.c + ch] as f64)
                                .sum();
                            s / cells.len() as f64
                        }
                    };
                }
            }
        }
    }
    out
}

/// `∂L/∂x` of max pooling with TensorFlow's tie rule: each output's gradient goes to the first
/// cell of its window, in row-major order, holding the maximum.
fn max_pool_dx(geo: &Geo, x: &[f32], batch: usize, dy: &[f32]) -> Vec<f64> {
    let g = geo;
    let mut dx = vec![0.0; x.len()];
    for n in 0..batch {
        let base = n * g.inputs();
        for oh in 0..g.oh {
            for ow in 0..g.ow {
                for c in 0..g.c {
                    let mut best: Option<(f32, usize)> = None;
                    for (_, _, ih, iw) in g.cells(oh, ow) {
                        let i = base + (ih * g.w + iw) * g.c + c;
                        if best.is_none_or(|(b, _)| x[i] > b) {
                            best = Some((x[i], i));
                        }
                    }
                    let (_, i) = best.expect("every window holds a cell of the image");
                    dx[i] += dy[((n * g.oh + oh) * g.ow + ow) * g.c + c] as f64;
                }
            }
        }
    }
    dx
}

// ---------------------------------------------------------------------------------------------
// Driving a layer through the `Layer` trait, as the generated network does.

fn params<L: Layer<In = f32>>(layer: &L) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    layer.for_each_param(&mut |_, p| out.push(p.to_vec()));
    out
}

fn param_names<L: Layer<In = f32>>(layer: &L) -> Vec<&'static str> {
    let mut out = Vec::new();
    layer.for_each_param(&mut |name, _| out.push(name));
    out
}

fn set_param<L: Layer<In = f32>>(layer: &mut L, tensor: usize, index: usize, value: f32) {
    let mut t = 0;
    layer.for_each_param_mut(&mut |_, p| {
        if t == tensor {
            p[index] = value;
        }
        t += 1;
    });
}

fn forward<L: Layer<In = f32>>(layer: &L, x: &[f32], batch: usize, act: Activation) -> Vec<f32> {
    let mut buf = Buffers::<L::Extra>::default();
    layer.forward_batch(x, batch, &mut buf, act, true);
    assert_eq!(buf.y.len(), L::OUTPUTS * batch);
    buf.y.into()
}

/// Forward then backward with `∂L/∂y = w`; returns the parameter gradients and `∂L/∂x`. The
/// gradient buffers start out as NaN, as stale values would, so anything the backward pass
/// fails to overwrite shows.
fn backward<L: Layer<In = f32>>(
    layer: &L,
    x: &[f32],
    batch: usize,
    act: Activation,
    w: &[f32],
) -> (Vec<Vec<f32>>, Vec<f32>) {
    let mut buf = Buffers::<L::Extra>::default();
    layer.forward_batch(x, batch, &mut buf, act, true);
    buf.dy.copy_from_slice(w);
    let mut grads = L::zeros();
    grads.for_each_param_mut(&mut |_, g| g.fill(f32::NAN));
    let mut dx = vec![f32::NAN; x.len()];
    layer.backward_batch(x, batch, &mut buf, act, &mut grads, Some(&mut dx));
    (params(&grads), dx)
}

fn pre_activation<L: Layer<In = f32>>(_layer: &L, buf: &Buffers<L::Extra>) -> Vec<f32> {
    L::pre_activation(&buf.extra, &buf.y).to_vec()
}

fn loss(w: &[f32], y: &[f32]) -> f64 {
    w.iter().zip(y).map(|(&w, &y)| w as f64 * y as f64).sum()
}

/// How a coordinate's numeric derivative is taken and compared.
#[derive(Clone, Copy)]
struct Fd {
    h: f32,
    /// Richardson-extrapolate from `h` and `h/2`.
    richardson: bool,
    atol: f64,
    rtol: f64,
    /// Skip coordinates whose perturbation moves an output across `relu`'s kink (the
    /// derivative is one-sided there).
    relu: bool,
}

const EXACT_FD: Fd = Fd {
    h: 1.0 / 8.0,
    richardson: false,
    atol: EXACT,
    rtol: 0.0,
    relu: false,
};

/// Which coordinates to check: all, or a random subset of this many per tensor (large layers).
#[derive(Clone, Copy)]
enum Coords {
    All,
    Sample(usize),
}

fn pick(rng: &mut ChaCha8Rng, len: usize, coords: Coords) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    if let Coords::Sample(n) = coords {
        all.shuffle(rng);
        all.truncate(n);
    }
    all
}

/// Compares the backward pass with central differences of `L = Σ w·y` for every parameter and
/// input coordinate (or a sample of them); returns the mismatches, described. Panics if fewer
/// than half the coordinates could be checked (kinks).
#[allow(clippy::too_many_arguments)]
fn check_fd<L: Layer<In = f32>>(
    name: &str,
    layer: &mut L,
    x: &[f32],
    batch: usize,
    act: Activation,
    w: &[f32],
    fd: Fd,
    coords: Coords,
) -> Vec<String> {
    let (grads, dx) = backward(layer, x, batch, act, w);
    let y0 = forward(layer, x, batch, act);
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut failures = Vec::new();
    let (mut checked, mut total) = (0, 0);

    // `eval(delta)`: L and the outputs with the coordinate moved by `delta`.
    let mut compare = |what: String, analytic: f32, eval: &mut dyn FnMut(f32) -> Vec<f32>, base: f32| {
        total += 1;
        let mut diff = |h: f32| -> Option<f64> {
            let (plus, minus) = (base + h, base - h);
            let (yp, ym) = (eval(plus - base), eval(minus - base));
            if fd.relu {
                let flips = |y: &[f32]| y.iter().zip(&y0).any(|(&a, &b)| (a > 0.0) != (b > 0.0));
                if flips(&yp) || flips(&ym) {
                    return None;
                }
            }
            Some((loss(w, &yp) - loss(w, &ym)) / (plus as f64 - minus as f64))
        };
        let Some(d1) = diff(fd.h) else { return };
        let numeric = if fd.richardson {
            let Some(d2) = diff(fd.h / 2.0) else { return };
            (4.0 * d2 - d1) / 3.0
        } else {
            d1
        };
        checked += 1;
        let a = analytic as f64;
        let tol = fd.atol + fd.rtol * numeric.abs();
        let close = (a - numeric).abs() <= tol; // false for NaN
        if !close {
            failures.push(format!(
                "{name}: {what}: backward {a:.9}, finite difference {numeric:.9}, |diff| {:.2e} > {tol:.2e}",
                (a - numeric).abs()
            ));
        }
    };

    let names = param_names(layer);
    let values = params(layer);
    for (t, tensor) in values.iter().enumerate() {
        for j in pick(&mut rng, tensor.len(), coords) {
            let base = tensor[j];
            let mut eval = |delta: f32| {
                set_param(layer, t, j, base + delta);
                let y = forward(layer, x, batch, act);
                set_param(layer, t, j, base);
                y
            };
            compare(format!("∂L/∂{}[{j}]", names[t]), grads[t][j], &mut eval, base);
        }
    }
    let mut xp = x.to_vec();
    for j in pick(&mut rng, x.len(), coords) {
        let base = x[j];
        let mut eval = |delta: f32| {
            xp[j] = base + delta;
            let y = forward(layer, &xp, batch, act);
            xp[j] = base;
            y
        };
        compare(format!("∂L/∂x[{j}]"), dx[j], &mut eval, base);
    }
    assert!(
        checked * 2 >= total,
        "{name}: only {checked} of {total} coordinates away from kinks"
    );
    failures
}

fn assert_none(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Multiples of 1/8 in [−1, 1].
fn dyadic(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len)
        .map(|_| rng.random_range(-8i32..=8) as f32 / 8.0)
        .collect()
}

/// Per sample, distinct multiples of 1/8 in random order: no two cells of a window tie, and a
/// step below 1/16 never changes a window's winner.
fn distinct(rng: &mut ChaCha8Rng, per_sample: usize, batch: usize) -> Vec<f32> {
    let mut out = Vec::new();
    for _ in 0..batch {
        let mut v: Vec<f32> = (0..per_sample)
            .map(|i| (i as f32 - per_sample as f32 / 2.0) / 8.0)
            .collect();
        v.shuffle(rng);
        out.extend(v);
    }
    out
}

/// Fills a layer's kernel with dyadic values and its bias with odd multiples of 1/128 (so no
/// dyadic pre-activation is exactly zero).
fn dyadic_params<L: Layer<In = f32>>(layer: &mut L, rng: &mut ChaCha8Rng) {
    layer.for_each_param_mut(&mut |name, p| {
        for v in p.iter_mut() {
            *v = if name == "bias" {
                (2 * rng.random_range(-16i32..16) + 1) as f32 / 128.0
            } else {
                rng.random_range(-8i32..=8) as f32 / 8.0
            };
        }
    });
}

fn assert_close(name: &str, got: &[f32], want: &[f64], tol: impl Fn(f64) -> f64) {
    assert_eq!(got.len(), want.len(), "{name}: lengths differ");
    let bad: Vec<String> = got
        .iter()
        .zip(want)
        .enumerate()
        .filter(|&(_, (&g, &w))| {
            let close = (g as f64 - w).abs() <= tol(w); // false for NaN
            !close
        })
        .take(10)
        .map(|(i, (g, w))| format!("[{i}]: got {g}, want {w}"))
        .collect();
    assert!(bad.is_empty(), "{name}:\n{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Convolutions.

/// A Conv2D type from the input size, filters, kernel, strides and padding, with the derived
/// const arguments computed by the test's own formulas; and its geometry.
macro_rules! conv {
    ($h:literal, $w:literal, $c:literal, $f:literal, ($kh:literal, $kw:literal), ($sh:literal, $sw:literal), $same:literal) => {
        (
            Conv2D::<
                $h,
                $w,
                $c,
                $f,
                $kh,
                $kw,
                $sh,
                $sw,
                { out_size($h, $kh, $sh, $same) },
                { out_size($w, $kw, $sw, $same) },
                { pad_before($h, $kh, $sh, $same) },
                { pad_before($w, $kw, $sw, $same) },
                { $kh * $kw * $c },
            >::zeros(),
            Geo::new($h, $w, $c, ($kh, $kw), ($sh, $sw), $same),
            $f,
        )
    };
}

/// Forward against the reference, and exact gradients against finite differences, of a
/// convolution with dyadic parameters and data, `linear` and `relu`.
fn conv_exact<L: Layer<In = f32>>(
    name: &str,
    (mut layer, geo, f): (L, Geo, usize),
    batch: usize,
    coords: Coords,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(name.len() as u64);
    dyadic_params(&mut layer, &mut rng);
    assert_eq!(L::INPUTS, geo.inputs());
    assert_eq!(L::OUTPUTS, geo.oh * geo.ow * f);
    assert_eq!(L::PARAMS, geo.kh * geo.kw * geo.c * f + f);
    assert_eq!(param_names(&layer), ["kernel", "bias"]);
    let x = dyadic(&mut rng, geo.inputs() * batch);
    let w = dyadic(&mut rng, L::OUTPUTS * batch);
    let z = reference(Op::Conv { f }, &geo, &params(&layer), &x, batch);

    let y = forward(&layer, &x, batch, Activation::Linear);
    assert_close(&format!("{name} forward"), &y, &z, |_| EXACT);
    let y = forward(&layer, &x, batch, Activation::Relu);
    let relu: Vec<f64> = z.iter().map(|v| v.max(0.0)).collect();
    assert_close(&format!("{name} relu forward"), &y, &relu, |_| EXACT);

    assert_none(check_fd(
        &format!("{name} linear"),
        &mut layer,
        &x,
        batch,
        Activation::Linear,
        &w,
        EXACT_FD,
        coords,
    ));
    // Pre-activations are odd multiples of 1/128 (dyadic products plus the bias), so
    // |z| ≥ 1/128, and a step of 1/256 moves none by more than 1/256 (|x|, |kernel| ≤ 1): no
    // output crosses relu's kink. Still dyadic, still exact.
    let fd = Fd {
        h: 1.0 / 256.0,
        relu: true,
        ..EXACT_FD
    };
    assert_none(check_fd(
        &format!("{name} relu"),
        &mut layer,
        &x,
        batch,
        Activation::Relu,
        &w,
        fd,
        coords,
    ));
}

#[test]
fn conv_valid_stride_1() {
    conv_exact(
        "3×3 valid",
        conv!(6, 7, 2, 3, (3, 3), (1, 1), false),
        2,
        Coords::All,
    );
}

#[test]
fn conv_valid_strided_non_square() {
    conv_exact(
        "2×3 valid s2",
        conv!(7, 8, 3, 2, (2, 3), (2, 2), false),
        3,
        Coords::All,
    );
    conv_exact(
        "3×2 valid s(2,1)",
        conv!(6, 5, 2, 4, (3, 2), (2, 1), false),
        2,
        Coords::All,
    );
    // Strides that skip input rows and columns entirely.
    conv_exact(
        "2×2 valid s3",
        conv!(8, 7, 2, 2, (2, 2), (3, 3), false),
        2,
        Coords::All,
    );
}

#[test]
fn conv_same() {
    conv_exact(
        "3×3 same",
        conv!(5, 6, 2, 3, (3, 3), (1, 1), true),
        2,
        Coords::All,
    );
    // Even kernels pad one more cell at the bottom/right than at the top/left.
    conv_exact(
        "4×2 same",
        conv!(6, 5, 2, 2, (4, 2), (1, 1), true),
        2,
        Coords::All,
    );
    conv_exact(
        "4×3 same s2",
        conv!(7, 6, 3, 2, (4, 3), (2, 2), true),
        2,
        Coords::All,
    );
    conv_exact(
        "3×3 same s(1,2)",
        conv!(5, 7, 1, 3, (3, 3), (1, 2), true),
        3,
        Coords::All,
    );
    // A kernel wider than the image: every window overlaps the padding.
    conv_exact(
        "5×5 same on 3×4",
        conv!(3, 4, 2, 2, (5, 5), (1, 1), true),
        2,
        Coords::All,
    );
}

#[test]
fn conv_pointwise() {
    // 1×1 with unit strides skips im2col; with stride 2 it does not.
    conv_exact("1×1", conv!(4, 3, 5, 4, (1, 1), (1, 1), false), 3, Coords::All);
    conv_exact("1×1 s2", conv!(5, 4, 3, 2, (1, 1), (2, 2), false), 2, Coords::All);
}

#[test]
fn conv_tutorial_shapes() {
    // Keras's CNN tutorial. The second layer's patches exceed a chunk per sample (one GEMM
    // chunk per sample, three here); the first layer's fit five samples per chunk, so a batch
    // of seven ends with a partial chunk.
    conv_exact(
        "28×28×1 → 32",
        conv!(28, 28, 1, 32, (3, 3), (1, 1), false),
        7,
        Coords::Sample(300),
    );
    conv_exact(
        "13×13×32 → 64",
        conv!(13, 13, 32, 64, (3, 3), (1, 1), false),
        3,
        Coords::Sample(300),
    );
}

/// Smooth activations keep `z`: the forward pass, `pre_activation` and the backward pass
/// through `tanh` and a per-pixel softmax over the filters.
#[test]
fn conv_smooth_activations() {
    let (mut layer, geo, f) = conv!(5, 6, 2, 4, (3, 2), (2, 1), true);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    dyadic_params(&mut layer, &mut rng);
    layer.for_each_param_mut(&mut |_, p| p.iter_mut().for_each(|v| *v *= 0.5));
    let batch = 2;
    let x = dyadic(&mut rng, geo.inputs() * batch);
    let w: Vec<f32> = (0..geo.oh * geo.ow * f * batch)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let z = reference(Op::Conv { f }, &geo, &params(&layer), &x, batch);
    // Library functions on exact pre-activations: a couple of ulps.
    let tol = |v: f64| 1e-6 * v.abs().max(1.0);

    for act in [Activation::Tanh, Activation::Softmax] {
        let mut buf = Buffers::default();
        layer.forward_batch(&x, batch, &mut buf, act, true);
        assert_close("pre-activation", &pre_activation(&layer, &buf), &z, |_| EXACT);
        let want: Vec<f64> = match act {
            Activation::Tanh => z.iter().map(|v| v.tanh()).collect(),
            _ => z
                .chunks(f)
                .flat_map(|zc| {
                    let m = zc.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let s: f64 = zc.iter().map(|v| (v - m).exp()).sum();
                    zc.iter().map(move |v| (v - m).exp() / s)
                })
                .collect(),
        };
        assert_close(act.name(), &buf.y, &want, tol);
        let fd = Fd {
            h: 1.0 / 64.0,
            richardson: true,
            atol: SMOOTH_ATOL,
            rtol: SMOOTH_RTOL,
            relu: false,
        };
        assert_none(check_fd(
            act.name(),
            &mut layer,
            &x,
            batch,
            act,
            &w,
            fd,
            Coords::All,
        ));
    }
}

#[test]
fn conv_relu_head_reports_outputs_as_pre_activations() {
    // Without a loss fused to it, a relu layer's pre-activations are not kept; what it reports
    // must still be a buffer of the output's size.
    let (layer, geo, _) = conv!(4, 4, 1, 2, (3, 3), (1, 1), false);
    let x = vec![0.5; geo.inputs()];
    let mut buf = Buffers::default();
    layer.forward_batch(&x, 1, &mut buf, Activation::Relu, true);
    assert_eq!(pre_activation(&layer, &buf).len(), buf.y.len());
}

#[test]
fn conv_new_is_keras_glorot_uniform() {
    type L = Conv2D<6, 6, 3, 5, 3, 2, 1, 1, 4, 5, 0, 0, 18>;
    let layer = L::new(&mut ChaCha8Rng::seed_from_u64(3));
    let (kernel, bias) = (&params(&layer)[0], &params(&layer)[1]);
    // fan_in = KH·KW·C = 18, fan_out = KH·KW·F = 30.
    let mut want = vec![0.0; 5 * 18];
    dl_runtime::init::glorot_uniform(&mut ChaCha8Rng::seed_from_u64(3), 18, 30, &mut want);
    assert_eq!(kernel, &want, "drawn in storage order with Keras's fans");
    let limit = (6.0f64 / 48.0).sqrt() as f32;
    assert!(kernel.iter().all(|v| v.abs() <= limit));
    assert!(bias.iter().all(|&b| b == 0.0));
}

/// The exact checker notices an error of one step in one gradient.
#[test]
fn exact_checker_rejects_a_small_error() {
    let (mut layer, geo, _) = conv!(5, 5, 2, 2, (3, 3), (1, 1), false);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    dyadic_params(&mut layer, &mut rng);
    let x = dyadic(&mut rng, geo.inputs() * 2);
    let w = dyadic(&mut rng, 9 * 2 * 2);
    let (grads, dx) = backward(&layer, &x, 2, Activation::Linear, &w);
    assert!(
        check_fd(
            "ok",
            &mut layer,
            &x,
            2,
            Activation::Linear,
            &w,
            EXACT_FD,
            Coords::All
        )
        .is_empty()
    );
    // The same comparison against a gradient off by 1/512 in one kernel entry.
    let mut wrong = grads[0].clone();
    wrong[7] += 1.0 / 512.0;
    let kernel = params(&layer)[0].clone();
    let numeric = {
        let mut eval = |d: f32| {
            set_param(&mut layer, 0, 7, kernel[7] + d);
            let y = forward(&layer, &x, 2, Activation::Linear);
            set_param(&mut layer, 0, 7, kernel[7]);
            loss(&w, &y)
        };
        (eval(0.125) - eval(-0.125)) / 0.25
    };
    assert_eq!(numeric, grads[0][7] as f64);
    assert!((numeric - wrong[7] as f64).abs() > EXACT);
    assert!(dx.iter().all(|v| v.is_finite()));
}

// ---------------------------------------------------------------------------------------------
// Pooling and Flatten.

macro_rules! pool {
    ($kind:ident, $h:literal, $w:literal, $c:literal, ($ph:literal, $pw:literal), ($sh:literal, $sw:literal), $same:literal) => {
        (
            $kind::<
                $h,
                $w,
                $c,
                $ph,
                $pw,
                $sh,
                $sw,
                { out_size($h, $ph, $sh, $same) },
                { out_size($w, $pw, $sw, $same) },
                { pad_before($h, $ph, $sh, $same) },
                { pad_before($w, $pw, $sw, $same) },
            >::zeros(),
            Geo::new($h, $w, $c, ($ph, $pw), ($sh, $sw), $same),
        )
    };
}

/// Max pooling with distinct values (no ties): forward exact, gradients exact against finite
/// differences with a step below half the gap between values.
fn max_exact<L: Layer<In = f32>>(name: &str, (mut layer, geo): (L, Geo), batch: usize, coords: Coords) {
    let mut rng = ChaCha8Rng::seed_from_u64(name.len() as u64 + 100);
    assert_eq!(
        (L::INPUTS, L::OUTPUTS, L::PARAMS),
        (geo.inputs(), geo.oh * geo.ow * geo.c, 0)
    );
    assert!(params(&layer).is_empty());
    let x = distinct(&mut rng, geo.inputs(), batch);
    let w = dyadic(&mut rng, L::OUTPUTS * batch);
    let want = reference(Op::Max, &geo, &[], &x, batch);
    assert_close(
        &format!("{name} forward"),
        &forward(&layer, &x, batch, Activation::Linear),
        &want,
        |_| EXACT,
    );
    let fd = Fd {
        h: 1.0 / 32.0,
        ..EXACT_FD
    };
    assert_none(check_fd(
        name,
        &mut layer,
        &x,
        batch,
        Activation::Linear,
        &w,
        fd,
        coords,
    ));
}

#[test]
fn max_pool_valid() {
    // Pool and strides 2×2 over odd sizes: the last row and column belong to no window.
    max_exact(
        "max 2×2",
        pool!(MaxPooling2D, 7, 5, 3, (2, 2), (2, 2), false),
        2,
        Coords::All,
    );
    // Overlapping, non-square windows.
    max_exact(
        "max 3×2 s1",
        pool!(MaxPooling2D, 5, 6, 2, (3, 2), (1, 1), false),
        2,
        Coords::All,
    );
    max_exact(
        "max 2×3 s(1,2)",
        pool!(MaxPooling2D, 6, 7, 2, (2, 3), (1, 2), false),
        2,
        Coords::All,
    );
}

#[test]
fn max_pool_same() {
    max_exact(
        "max 3×3 same s2",
        pool!(MaxPooling2D, 7, 8, 2, (3, 3), (2, 2), true),
        2,
        Coords::All,
    );
    max_exact(
        "max 2×2 same s1",
        pool!(MaxPooling2D, 5, 4, 3, (2, 2), (1, 1), true),
        2,
        Coords::All,
    );
    max_exact(
        "max 2×2 same s2",
        pool!(MaxPooling2D, 5, 5, 17, (2, 2), (2, 2), true),
        2,
        Coords::All,
    );
}

#[test]
fn max_pool_tutorial_shapes() {
    // 32 and 64 channels: whole 16-lane blocks; many samples: indices across the batch.
    max_exact(
        "max 26×26×32",
        pool!(MaxPooling2D, 26, 26, 32, (2, 2), (2, 2), false),
        3,
        Coords::Sample(400),
    );
    max_exact(
        "max 11×11×64",
        pool!(MaxPooling2D, 11, 11, 64, (2, 2), (2, 2), false),
        3,
        Coords::Sample(400),
    );
}

#[test]
fn global_max_pool() {
    let mut layer = GlobalMaxPooling2D::<5, 4, 3>::zeros();
    let geo = Geo::global(5, 4, 3);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    assert_eq!(<GlobalMaxPooling2D<5, 4, 3> as Layer>::OUTPUTS, 3);
    let x = distinct(&mut rng, 60, 3);
    let w = dyadic(&mut rng, 9);
    let want = reference(Op::Max, &geo, &[], &x, 3);
    assert_close(
        "global max",
        &forward(&layer, &x, 3, Activation::Linear),
        &want,
        |_| EXACT,
    );
    let fd = Fd {
        h: 1.0 / 32.0,
        ..EXACT_FD
    };
    assert_none(check_fd(
        "global max",
        &mut layer,
        &x,
        3,
        Activation::Linear,
        &w,
        fd,
        Coords::All,
    ));
}

/// Ties: in constant regions every cell of a window holds the maximum; the whole gradient
/// must go to the first in row-major window order (overlapping windows may pick the same
/// cell, which then collects several gradients). Padding never wins, even over negative
/// values. Finite differences do not apply at a tie (the one-sided derivatives differ), so the
/// gradient is compared with the reference's rule instead, exactly.
#[test]
fn max_pool_ties_go_to_the_first_cell() {
    fn check<L: Layer<In = f32>>(name: &str, (layer, geo): (L, Geo), batch: usize) {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        // Each sample: a few constant blocks (one negative, so padding treated as 0 would
        // win), the rest random values from a small set (more ties).
        let mut x = Vec::new();
        for n in 0..batch {
            for h in 0..geo.h {
                for w in 0..geo.w {
                    for c in 0..geo.c {
                        x.push(match (h * 2 / geo.h, w * 2 / geo.w) {
                            (0, 0) => -0.75,
                            (1, 1) => 0.5 + n as f32,
                            _ if c % 2 == 0 => 0.25,
                            _ => rng.random_range(-2i32..=2) as f32 / 4.0,
                        });
                    }
                }
            }
        }
        let w = dyadic(&mut rng, L::OUTPUTS * batch);
        let want = reference(Op::Max, &geo, &[], &x, batch);
        assert_close(
            &format!("{name} forward"),
            &forward(&layer, &x, batch, Activation::Linear),
            &want,
            |_| EXACT,
        );
        let (_, dx) = backward(&layer, &x, batch, Activation::Linear, &w);
        assert_close(
            &format!("{name} ∂L/∂x"),
            &dx,
            &max_pool_dx(&geo, &x, batch, &w),
            |_| EXACT,
        );
    }
    check("ties 2×2", pool!(MaxPooling2D, 6, 6, 3, (2, 2), (2, 2), false), 2);
    check(
        "ties 3×3 s1",
        pool!(MaxPooling2D, 6, 7, 2, (3, 3), (1, 1), false),
        2,
    );
    check(
        "ties 3×3 same s2",
        pool!(MaxPooling2D, 7, 6, 20, (3, 3), (2, 2), true),
        2,
    );
    check(
        "ties global",
        (GlobalMaxPooling2D::<4, 6, 3>, Geo::global(4, 6, 3)),
        2,
    );
}

/// Average pooling, linear: forward and gradients to `AVG_TOL` (the division by the count
/// rounds).
fn avg_check<L: Layer<In = f32>>(name: &str, (mut layer, geo): (L, Geo), batch: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(name.len() as u64 + 200);
    assert_eq!(
        (L::INPUTS, L::OUTPUTS, L::PARAMS),
        (geo.inputs(), geo.oh * geo.ow * geo.c, 0)
    );
    let x = dyadic(&mut rng, geo.inputs() * batch);
    let w = dyadic(&mut rng, L::OUTPUTS * batch);
    let want = reference(Op::Avg, &geo, &[], &x, batch);
    // Two roundings of a value ≤ 1: ≤ 2.4e-7.
    assert_close(
        &format!("{name} forward"),
        &forward(&layer, &x, batch, Activation::Linear),
        &want,
        |_| 3e-7,
    );
    let fd = Fd {
        atol: AVG_TOL,
        ..EXACT_FD
    };
    assert_none(check_fd(
        name,
        &mut layer,
        &x,
        batch,
        Activation::Linear,
        &w,
        fd,
        Coords::All,
    ));
}

#[test]
fn average_pool() {
    avg_check(
        "avg 2×2",
        pool!(AveragePooling2D, 7, 6, 3, (2, 2), (2, 2), false),
        2,
    );
    avg_check(
        "avg 3×2 s1",
        pool!(AveragePooling2D, 5, 6, 2, (3, 2), (1, 1), false),
        2,
    );
    // `same`: the windows at the edges average fewer cells (Keras excludes the padding).
    avg_check(
        "avg 3×3 same s2",
        pool!(AveragePooling2D, 7, 8, 2, (3, 3), (2, 2), true),
        2,
    );
    avg_check(
        "avg 2×3 same s1",
        pool!(AveragePooling2D, 5, 4, 19, (2, 3), (1, 1), true),
        3,
    );
    avg_check(
        "global avg",
        (GlobalAveragePooling2D::<5, 4, 3>, Geo::global(5, 4, 3)),
        3,
    );
}

#[test]
fn average_pool_same_excludes_padding() {
    // A constant image averages to the constant everywhere, corners included.
    let (layer, _) = pool!(AveragePooling2D, 5, 5, 2, (3, 3), (2, 2), true);
    let y = forward(&layer, &[0.75; 50], 1, Activation::Linear);
    assert!(y.iter().all(|&v| v == 0.75), "{y:?}");
}

#[test]
fn flatten_is_the_identity() {
    let mut layer = Flatten::<12>;
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let x = dyadic(&mut rng, 36);
    let w = dyadic(&mut rng, 36);
    let y = forward(&layer, &x, 3, Activation::Linear);
    assert_eq!(y, x);
    let (_, dx) = backward(&layer, &x, 3, Activation::Linear, &w);
    assert_eq!(dx, w);
    assert_none(check_fd(
        "flatten",
        &mut layer,
        &x,
        3,
        Activation::Linear,
        &w,
        EXACT_FD,
        Coords::All,
    ));
}

// ---------------------------------------------------------------------------------------------
// Buffer reuse.

/// Outputs, parameter gradients and `∂L/∂x` of a forward and backward pass.
type Pass = (Vec<f32>, Vec<Vec<f32>>, Vec<f32>);

fn pass<L: Layer<In = f32>>(
    layer: &L,
    buf: &mut Buffers<L::Extra>,
    x: &[f32],
    batch: usize,
    act: Activation,
    seed: u64,
) -> Pass {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    layer.forward_batch(x, batch, buf, act, true);
    let y = buf.y.clone();
    assert_eq!(y.len(), L::OUTPUTS * batch);
    let w = dyadic(&mut rng, y.len());
    buf.dy.copy_from_slice(&w);
    let mut grads = L::zeros();
    grads.for_each_param_mut(&mut |_, g| g.fill(f32::NAN));
    let mut dx = vec![f32::NAN; x.len()];
    layer.backward_batch(x, batch, buf, act, &mut grads, Some(&mut dx));
    (y.into(), params(&grads), dx)
}

/// Passes with a large batch, a smaller one, an inference pass in between, and the large one
/// again, all through the same buffers, match passes through fresh buffers bit for bit.
fn reuse<L: Layer<In = f32>>(name: &str, mut layer: L, act: Activation) {
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    dyadic_params(&mut layer, &mut rng);
    let big = dyadic(&mut rng, L::INPUTS * 7);
    let small = dyadic(&mut rng, L::INPUTS * 2);
    let fresh_big = pass(&layer, &mut Buffers::default(), &big, 7, act, 1);
    let fresh_small = pass(&layer, &mut Buffers::default(), &small, 2, act, 2);

    let mut buf = Buffers::default();
    assert_eq!(
        pass(&layer, &mut buf, &big, 7, act, 1),
        fresh_big,
        "{name}: first pass"
    );
    assert_eq!(
        pass(&layer, &mut buf, &small, 2, act, 2),
        fresh_small,
        "{name}: smaller batch"
    );
    layer.forward_batch(&big[..L::INPUTS * 3], 3, &mut buf, act, false);
    assert_eq!(
        pass(&layer, &mut buf, &small, 2, act, 2),
        fresh_small,
        "{name}: after inference"
    );
    assert_eq!(
        pass(&layer, &mut buf, &big, 7, act, 1),
        fresh_big,
        "{name}: larger again"
    );
}

#[test]
fn buffers_are_reused_across_batch_sizes() {
    reuse(
        "conv valid s2 relu",
        conv!(9, 8, 3, 4, (3, 2), (2, 2), false).0,
        Activation::Relu,
    );
    reuse(
        "conv same tanh",
        conv!(6, 6, 2, 3, (3, 3), (1, 1), true).0,
        Activation::Tanh,
    );
    reuse(
        "conv 1×1 linear",
        conv!(4, 4, 3, 2, (1, 1), (1, 1), false).0,
        Activation::Linear,
    );
    // Several chunks per batch (34848 patch floats per sample).
    reuse(
        "conv tutorial 2",
        conv!(13, 13, 32, 64, (3, 3), (1, 1), false).0,
        Activation::Relu,
    );
    reuse(
        "max same",
        pool!(MaxPooling2D, 7, 6, 3, (3, 3), (2, 2), true).0,
        Activation::Linear,
    );
    reuse(
        "avg",
        pool!(AveragePooling2D, 6, 6, 2, (2, 2), (2, 2), false).0,
        Activation::Linear,
    );
    reuse("global max", GlobalMaxPooling2D::<4, 5, 3>, Activation::Linear);
    reuse(
        "global avg",
        GlobalAveragePooling2D::<4, 5, 3>,
        Activation::Linear,
    );
    reuse("flatten", Flatten::<30>, Activation::Linear);
}

// ---------------------------------------------------------------------------------------------
// Depthwise and separable convolutions.
//
// Exactness as for `Conv2D`: a depthwise output is a sum of at most KH·KW dyadic products; a
// separable one multiplies those (multiples of 1/64, below 2⁴) by a dyadic pointwise kernel and
// sums over C·M channels, multiples of 1/512 below 2⁹: exact in f32 and f64, and linear in each
// coordinate (of `x`, of either kernel, of the bias), so central differences are exact.

/// Depthwise pre-activations, HWC with `C·M` channels, channel `c·M + m`: Keras's definition with
/// the kernel `(KH, KW, C, M)` row-major.
fn depthwise_reference(
    g: &Geo,
    m: usize,
    kernel: &[f32],
    bias: Option<&[f32]>,
    x: &[f32],
    batch: usize,
) -> Vec<f64> {
    let cm = g.c * m;
    let mut out = vec![0.0; batch * g.oh * g.ow * cm];
    for n in 0..batch {
        let xs = &x[n * g.inputs()..(n + 1) * g.inputs()];
        for oh in 0..g.oh {
            for ow in 0..g.ow {
                let at = ((n * g.oh + oh) * g.ow + ow) * cm;
                for c in 0..g.c {
                    for j in 0..m {
                        let mut s = bias.map_or(0.0, |b| b[c * m + j] as f64);
                        for (kh, kw, ih, iw) in g.cells(oh, ow) {
                            let k = kernel[((kh * g.kw + kw) * g.c + c) * m + j] as f64;
                            s += k * xs[(ih * g.w + iw) * g.c + c] as f64;
                        }
                        out[at + c * m + j] = s;
                    }
                }
            }
        }
    }
    out
}

/// A pointwise convolution of `mid` (`cm` channels) with Keras's `(1, 1, CM, F)` kernel.
fn pointwise_reference(mid: &[f64], cm: usize, f: usize, kernel: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
    mid.chunks(cm)
        .flat_map(|px| {
            (0..f).map(move |o| {
                let b = bias.map_or(0.0, |b| b[o] as f64);
                b + px
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| v * kernel[j * f + o] as f64)
                    .sum::<f64>()
            })
        })
        .collect()
}

/// A DepthwiseConv2D type from the input size, depth multiplier, kernel, strides, padding and
/// `use_bias`; and its geometry.
macro_rules! depthwise {
    ($h:literal, $w:literal, $c:literal, $m:literal, ($kh:literal, $kw:literal), ($sh:literal, $sw:literal), $same:literal, $bias:literal) => {
        (
            DepthwiseConv2D::<
                $h,
                $w,
                $c,
                $m,
                $kh,
                $kw,
                $sh,
                $sw,
                { out_size($h, $kh, $sh, $same) },
                { out_size($w, $kw, $sw, $same) },
                { pad_before($h, $kh, $sh, $same) },
                { pad_before($w, $kw, $sw, $same) },
                { $kh * $kw * $c * $m },
                { $c * $m },
                $bias,
            >::zeros(),
            Geo::new($h, $w, $c, ($kh, $kw), ($sh, $sw), $same),
            $m,
        )
    };
}

/// A SeparableConv2D type, as [`depthwise!`] with the filters after the depth multiplier.
macro_rules! separable {
    ($h:literal, $w:literal, $c:literal, $m:literal, $f:literal, ($kh:literal, $kw:literal), ($sh:literal, $sw:literal), $same:literal, $bias:literal) => {
        (
            SeparableConv2D::<
                $h,
                $w,
                $c,
                $m,
                $f,
                $kh,
                $kw,
                $sh,
                $sw,
                { out_size($h, $kh, $sh, $same) },
                { out_size($w, $kw, $sw, $same) },
                { pad_before($h, $kh, $sh, $same) },
                { pad_before($w, $kw, $sw, $same) },
                { $kh * $kw * $c * $m },
                { $c * $m },
                $bias,
            >::zeros(),
            Geo::new($h, $w, $c, ($kh, $kw), ($sh, $sw), $same),
            ($m, $f),
        )
    };
}

/// The reference pre-activations of a depthwise (`f` = None) or separable layer from its
/// parameters as visited (the depthwise kernel, [`pointwise_kernel`], [`bias`]).
fn separable_reference(
    g: &Geo,
    m: usize,
    f: Option<usize>,
    params: &[Vec<f32>],
    x: &[f32],
    batch: usize,
) -> Vec<f64> {
    match f {
        None => depthwise_reference(g, m, &params[0], params.get(1).map(|b| &b[..]), x, batch),
        Some(f) => {
            let mid = depthwise_reference(g, m, &params[0], None, x, batch);
            pointwise_reference(&mid, g.c * m, f, &params[1], params.get(2).map(|b| &b[..]))
        }
    }
}

/// Forward against the reference and exact gradients against finite differences, `linear`
/// (and `relu` for a depthwise layer with a bias, whose pre-activations are then odd multiples of
/// 1/128, as `conv_exact` argues).
fn depthwise_exact<L: Layer<In = f32>>(
    name: &str,
    mut layer: L,
    geo: Geo,
    m: usize,
    f: Option<usize>,
    batch: usize,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(name.len() as u64 + 100);
    dyadic_params(&mut layer, &mut rng);
    let names = param_names(&layer);
    let bias = names.contains(&"bias");
    let cm = geo.c * m;
    let out_channels = f.unwrap_or(cm);
    assert_eq!(L::INPUTS, geo.inputs());
    assert_eq!(L::OUTPUTS, geo.oh * geo.ow * out_channels);
    let kernels = geo.kh * geo.kw * cm + f.map_or(0, |f| cm * f);
    assert_eq!(L::PARAMS, kernels + if bias { out_channels } else { 0 });
    // Keras 3's names: a DepthwiseConv2D's kernel is `kernel`.
    let mut want_names = vec![if f.is_some() { "depthwise_kernel" } else { "kernel" }];
    if f.is_some() {
        want_names.push("pointwise_kernel");
    }
    if bias {
        want_names.push("bias");
    }
    assert_eq!(names, want_names);
    let x = dyadic(&mut rng, geo.inputs() * batch);
    let w = dyadic(&mut rng, L::OUTPUTS * batch);
    let z = separable_reference(&geo, m, f, &params(&layer), &x, batch);
    let y = forward(&layer, &x, batch, Activation::Linear);
    assert_close(&format!("{name} forward"), &y, &z, |_| EXACT);
    let y = forward(&layer, &x, batch, Activation::Relu);
    let relu: Vec<f64> = z.iter().map(|v| v.max(0.0)).collect();
    assert_close(&format!("{name} relu forward"), &y, &relu, |_| EXACT);
    assert_none(check_fd(
        &format!("{name} linear"),
        &mut layer,
        &x,
        batch,
        Activation::Linear,
        &w,
        EXACT_FD,
        Coords::All,
    ));
    if bias && f.is_none() {
        let fd = Fd {
            h: 1.0 / 256.0,
            relu: true,
            ..EXACT_FD
        };
        assert_none(check_fd(
            &format!("{name} relu"),
            &mut layer,
            &x,
            batch,
            Activation::Relu,
            &w,
            fd,
            Coords::All,
        ));
    }
}

#[test]
fn depthwise_valid_stride_1() {
    let (layer, geo, m) = depthwise!(6, 7, 3, 1, (3, 3), (1, 1), false, true);
    depthwise_exact("depthwise 3×3 valid", layer, geo, m, None, 2);
}

#[test]
fn depthwise_multiplier_strided_same_without_bias() {
    let (layer, geo, m) = depthwise!(7, 8, 2, 3, (2, 3), (2, 2), true, false);
    depthwise_exact("depthwise 2×3 same s2 ×3", layer, geo, m, None, 2);
    let (layer, geo, m) = depthwise!(5, 5, 2, 2, (3, 3), (1, 1), true, true);
    depthwise_exact("depthwise 3×3 same ×2", layer, geo, m, None, 3);
}

#[test]
fn separable_same_with_bias() {
    let (layer, geo, (m, f)) = separable!(6, 6, 2, 2, 3, (3, 3), (1, 1), true, true);
    depthwise_exact("separable 3×3 same ×2", layer, geo, m, Some(f), 2);
}

#[test]
fn separable_strided_valid_without_bias() {
    let (layer, geo, (m, f)) = separable!(7, 5, 3, 1, 4, (2, 2), (2, 2), false, false);
    depthwise_exact("separable 2×2 valid s2", layer, geo, m, Some(f), 2);
}

#[test]
fn depthwise_and_separable_smooth_activations() {
    fn smooth<L: Layer<In = f32>>(mut layer: L, geo: Geo, m: usize, f: Option<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        dyadic_params(&mut layer, &mut rng);
        layer.for_each_param_mut(&mut |_, p| p.iter_mut().for_each(|v| *v *= 0.5));
        let batch = 2;
        let x = dyadic(&mut rng, geo.inputs() * batch);
        let w: Vec<f32> = (0..L::OUTPUTS * batch)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let z = separable_reference(&geo, m, f, &params(&layer), &x, batch);
        let channels = f.unwrap_or(geo.c * m);
        let tol = |v: f64| 1e-6 * v.abs().max(1.0);
        for act in [Activation::Tanh, Activation::Softmax] {
            let mut buf = Buffers::default();
            layer.forward_batch(&x, batch, &mut buf, act, true);
            assert_close("pre-activation", &pre_activation(&layer, &buf), &z, |_| EXACT);
            let want: Vec<f64> = match act {
                Activation::Tanh => z.iter().map(|v| v.tanh()).collect(),
                _ => z
                    .chunks(channels)
                    .flat_map(|zc| {
                        let mx = zc.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        let s: f64 = zc.iter().map(|v| (v - mx).exp()).sum();
                        zc.iter().map(move |v| (v - mx).exp() / s)
                    })
                    .collect(),
            };
            assert_close(act.name(), &buf.y, &want, tol);
            let fd = Fd {
                h: 1.0 / 64.0,
                richardson: true,
                atol: SMOOTH_ATOL,
                rtol: SMOOTH_RTOL,
                relu: false,
            };
            assert_none(check_fd(
                act.name(),
                &mut layer,
                &x,
                batch,
                act,
                &w,
                fd,
                Coords::All,
            ));
        }
    }
    let (layer, geo, m) = depthwise!(5, 6, 2, 2, (3, 2), (2, 1), true, true);
    smooth(layer, geo, m, None);
    let (layer, geo, (m, f)) = separable!(5, 5, 2, 2, 3, (2, 2), (1, 1), true, true);
    smooth(layer, geo, m, Some(f));
}

#[test]
fn depthwise_and_separable_new_are_keras_glorot_uniform() {
    // Keras's fans of a (KH, KW, C, M) kernel: fan_in = KH·KW·C, fan_out = KH·KW·M.
    type D = DepthwiseConv2D<6, 6, 3, 2, 3, 2, 1, 1, 4, 5, 0, 0, 36, 6, true>;
    let layer = D::new(&mut ChaCha8Rng::seed_from_u64(3));
    let mut want = vec![0.0; 36];
    dl_runtime::init::glorot_uniform(&mut ChaCha8Rng::seed_from_u64(3), 18, 12, &mut want);
    assert_eq!(params(&layer)[0], want);
    assert!(params(&layer)[1].iter().all(|&b| b == 0.0));
    // The pointwise kernel (1, 1, C·M, F): fan_in = C·M, fan_out = F; drawn after the depthwise.
    type S = SeparableConv2D<6, 6, 3, 2, 5, 3, 2, 1, 1, 4, 5, 0, 0, 36, 6, true>;
    let layer = S::new(&mut ChaCha8Rng::seed_from_u64(3));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (mut dw, mut pw) = (vec![0.0; 36], vec![0.0; 30]);
    dl_runtime::init::glorot_uniform(&mut rng, 18, 12, &mut dw);
    dl_runtime::init::glorot_uniform(&mut rng, 6, 5, &mut pw);
    assert_eq!(params(&layer)[..2], [dw, pw]);
    assert!(params(&layer)[2].iter().all(|&b| b == 0.0));
}

#[test]
fn depthwise_and_separable_buffers_are_reused_across_batch_sizes() {
    reuse(
        "depthwise same s2 relu",
        depthwise!(9, 8, 3, 2, (3, 3), (2, 2), true, true).0,
        Activation::Relu,
    );
    reuse(
        "depthwise tanh no bias",
        depthwise!(6, 6, 2, 1, (3, 3), (1, 1), false, false).0,
        Activation::Tanh,
    );
    reuse(
        "separable same relu",
        separable!(6, 6, 2, 2, 3, (3, 3), (1, 1), true, true).0,
        Activation::Relu,
    );
    reuse(
        "separable tanh no bias",
        separable!(7, 6, 3, 1, 4, (2, 2), (2, 2), false, false).0,
        Activation::Tanh,
    );
}
