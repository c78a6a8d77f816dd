//! `LSTM`, `GRU`, `SimpleRNN`, `Embedding` and the 1-D global poolings against naive
//! per-sample references written here, and their backward passes against central finite
//! differences of `L = Σ w·y`.
//!
//! Layout: a sequence sample is `T × D` floats, time-major (element `t·D + d`); a batch is its
//! samples back to back. Weights are Keras's arrays row-major: the `(D, G)` kernel is the
//! column-major `G × D` matrix, element `(g, d)` at `g + d·G`; the recurrent kernel likewise
//! `G × U`; GRU's `(2, G)` bias is the input bias then the recurrent bias.
//!
//! The references follow Keras's cell definitions step by step, in f64 with exact `exp` and
//! `tanh`. Each recurrent layer is checked three ways:
//!
//! - forward: outputs against the reference (`FWD_ATOL + FWD_RTOL·|y|`);
//! - gradients against central differences of the f64 reference's `L` (`h = 1e-5`, error
//!   ~1e-10), which are the exact gradients for f32 purposes (`REF_RTOL`, see there);
//! - gradients against central differences of the layer's own f32 forward pass, with
//!   Richardson extrapolation (`SMOOTH_*`, as in `conv_gradients.rs`), so that the backward pass
//!   is consistent with the forward pass the trainer actually runs.
//!
//! Small cases check every coordinate; large ones (more than 256 batch columns, so that the
//! backward pass accumulates the weight gradients over several chunks of steps) a sample.

use dl_runtime::Activation;
use dl_runtime::init;
use dl_runtime::layers::{
    Buffers, Embedding, GRU, GlobalAveragePooling1D, GlobalMaxPooling1D, LSTM, Layer, MaskedLayer, SimpleRNN,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Forward: f32 rounding of a few dozen products and of the activations (~1e-7 each), through
/// `T` steps of a contracting recurrence.
const FWD_ATOL: f64 = 2e-6;
const FWD_RTOL: f64 = 1e-5;

/// Against the exact gradient: `|analytic − exact| ≤ REF_RTOL·(|exact| + max |exact| of the
/// tensor)`. The analytic gradient sums ≲ 10³ f32 terms of magnitude ≲ the largest gradient, so
/// its rounding is ≲ 1e-5 of that; a wrong term (a dropped derivative, a swapped gate) is off by
/// far more.
const REF_RTOL: f64 = 1e-4;

/// Against the layer's own f32 forward pass: steps `h = 2⁻⁶` and `h/2`, Richardson-extrapolated
/// (truncation `O(h⁴)` ≈ 1e-8 × the fifth derivative); rounding of `L` (≲ 1e-6 over ≤ 10³
/// outputs of magnitude < 1 with |w| ≤ 1) divided by `2h` and amplified ×5/3 ≲ 1e-4.
const SMOOTH_ATOL: f64 = 1e-3;
const SMOOTH_RTOL: f64 = 1e-3;

// ---------------------------------------------------------------------------------------------
// References, in f64.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cell {
    Lstm,
    Gru,
    Simple,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    cell: Cell,
    t: usize,
    d: usize,
    u: usize,
    seq: bool,
}

impl Case {
    fn g(&self) -> usize {
        self.u
            * match self.cell {
                Cell::Lstm => 4,
                Cell::Gru => 3,
                Cell::Simple => 1,
            }
    }

    fn inputs(&self) -> usize {
        self.t * self.d
    }

    fn outputs(&self) -> usize {
        if self.seq { self.t * self.u } else { self.u }
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// One sample's outputs: `params` are kernel (`G × D`), recurrent kernel (`G × U`) and bias
/// (`G`, or `2G` for GRU) in storage order; `x` is `T × D`; `ids`, with a padding mask, the
/// sample's `T` token ids (Keras: a step with id 0 leaves the states as they are and outputs
/// the state again).
fn reference(case: &Case, params: &[Vec<f64>], x: &[f64], ids: Option<&[u32]>) -> Vec<f64> {
    let Case { cell, t, d, u, seq } = *case;
    let g = case.g();
    let (kernel, rec, bias) = (&params[0], &params[1], &params[2]);
    let mut h = vec![0.0; u];
    let mut c = vec![0.0; u];
    let mut out = Vec::new();
    for step in 0..t {
        if ids.is_some_and(|ids| ids[step] == 0) {
            if seq {
                out.extend_from_slice(&h);
            }
            continue;
        }
        let xt = &x[step * d..(step + 1) * d];
        let zx: Vec<f64> = (0..g)
            .map(|r| bias[r] + (0..d).map(|k| kernel[r + k * g] * xt[k]).sum::<f64>())
            .collect();
        let mut zr: Vec<f64> = (0..g)
            .map(|r| (0..u).map(|k| rec[r + k * g] * h[k]).sum::<f64>())
            .collect();
        if cell == Cell::Gru {
            for (r, v) in zr.iter_mut().enumerate() {
                *v += bias[g + r];
            }
        }
        h = match cell {
            Cell::Lstm => (0..u)
                .map(|k| {
                    let i = sigmoid(zx[k] + zr[k]);
                    let f = sigmoid(zx[u + k] + zr[u + k]);
                    let cand = (zx[2 * u + k] + zr[2 * u + k]).tanh();
                    let o = sigmoid(zx[3 * u + k] + zr[3 * u + k]);
                    c[k] = f * c[k] + i * cand;
                    o * c[k].tanh()
                })
                .collect(),
            Cell::Gru => (0..u)
                .map(|k| {
                    let z = sigmoid(zx[k] + zr[k]);
                    let r = sigmoid(zx[u + k] + zr[u + k]);
                    let cand = (zx[2 * u + k] + r * zr[2 * u + k]).tanh();
                    z * h[k] + (1.0 - z) * cand
                })
                .collect(),
            Cell::Simple => (0..u).map(|k| (zx[k] + zr[k]).tanh()).collect(),
        };
        if seq {
            out.extend_from_slice(&h);
        }
    }
    if seq { out } else { h }
}

fn reference_batch(
    case: &Case,
    params: &[Vec<f64>],
    x: &[f64],
    batch: usize,
    mask: Option<&[u32]>,
) -> Vec<f64> {
    (0..batch)
        .flat_map(|s| {
            let ids = mask.map(|m| &m[s * case.t..(s + 1) * case.t]);
            reference(case, params, &x[s * case.inputs()..(s + 1) * case.inputs()], ids)
        })
        .collect()
}

fn dot(w: &[f32], y: &[f64]) -> f64 {
    w.iter().zip(y).map(|(&w, &y)| w as f64 * y).sum()
}

/// Exact gradients of `L = Σ w·y` by central differences of the f64 reference (`h = 1e-5`):
/// `(tensor, index, value)` for the parameter coordinates `at[tensor]`, then `(usize::MAX,
/// index, value)` for the input coordinates `inputs`.
#[allow(clippy::too_many_arguments)]
fn reference_grads(
    case: &Case,
    params: &[Vec<f32>],
    x: &[f32],
    batch: usize,
    w: &[f32],
    at: &[Vec<usize>],
    inputs: &[usize],
    mask: Option<&[u32]>,
) -> Vec<(usize, usize, f64)> {
    const H: f64 = 1e-5;
    let mut p: Vec<Vec<f64>> = params
        .iter()
        .map(|t| t.iter().map(|&v| v as f64).collect())
        .collect();
    let mut xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let mut out = Vec::new();
    for (t, coords) in at.iter().enumerate() {
        for &j in coords {
            let base = p[t][j];
            p[t][j] = base + H;
            let plus = dot(w, &reference_batch(case, &p, &xd, batch, mask));
            p[t][j] = base - H;
            let minus = dot(w, &reference_batch(case, &p, &xd, batch, mask));
            p[t][j] = base;
            out.push((t, j, (plus - minus) / (2.0 * H)));
        }
    }
    // An input only moves its own sample's outputs.
    let (n, m) = (case.inputs(), case.outputs());
    for &j in inputs {
        let s = j / n;
        let ws = &w[s * m..(s + 1) * m];
        let ids = mask.map(|m| &m[s * case.t..(s + 1) * case.t]);
        let base = xd[j];
        xd[j] = base + H;
        let plus = dot(ws, &reference(case, &p, &xd[s * n..(s + 1) * n], ids));
        xd[j] = base - H;
        let minus = dot(ws, &reference(case, &p, &xd[s * n..(s + 1) * n], ids));
        xd[j] = base;
        out.push((usize::MAX, j, (plus - minus) / (2.0 * H)));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Driving a layer through the `Layer` trait, as the generated network does.

fn params<L: Layer>(layer: &L) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    layer.for_each_param(&mut |_, p| out.push(p.to_vec()));
    out
}

fn param_names<L: Layer>(layer: &L) -> Vec<&'static str> {
    let mut out = Vec::new();
    layer.for_each_param(&mut |name, _| out.push(name));
    out
}

fn set_param<L: Layer>(layer: &mut L, tensor: usize, index: usize, value: f32) {
    let mut t = 0;
    layer.for_each_param_mut(&mut |_, p| {
        if t == tensor {
            p[index] = value;
        }
        t += 1;
    });
}

fn forward<L: Layer>(layer: &L, x: &[L::In], batch: usize) -> Vec<f32> {
    let mut buf = Buffers::<L::Extra>::default();
    layer.forward_batch(x, batch, &mut buf, Activation::Linear, true);
    assert_eq!(buf.y.len(), L::OUTPUTS * batch);
    buf.y.into()
}

/// The forward pass with an optional padding mask, in training or inference mode.
fn forward_with<L: MaskedLayer>(
    layer: &L,
    x: &[f32],
    batch: usize,
    mask: Option<&[u32]>,
    training: bool,
) -> Vec<f32> {
    let mut buf = Buffers::<L::Extra>::default();
    match mask {
        Some(m) => layer.forward_masked(x, batch, &mut buf, Activation::Linear, training, m),
        None => layer.forward_batch(x, batch, &mut buf, Activation::Linear, training),
    }
    assert_eq!(buf.y.len(), L::OUTPUTS * batch);
    buf.y.into()
}

/// Masked forward then backward with `∂L/∂y = w`: the parameter gradients (NaN-primed) and
/// `∂L/∂x`.
fn backward_masked<L: MaskedLayer>(
    layer: &L,
    x: &[f32],
    batch: usize,
    w: &[f32],
    mask: &[u32],
) -> (Vec<Vec<f32>>, Vec<f32>) {
    let mut buf = Buffers::<L::Extra>::default();
    layer.forward_masked(x, batch, &mut buf, Activation::Linear, true, mask);
    buf.dy.copy_from_slice(w);
    let mut grads = L::zeros();
    grads.for_each_param_mut(&mut |_, g| g.fill(f32::NAN));
    let mut dx = vec![f32::NAN; x.len()];
    layer.backward_masked(
        x,
        batch,
        &mut buf,
        Activation::Linear,
        &mut grads,
        Some(&mut dx),
        mask,
    );
    (params(&grads), dx)
}

/// Forward then backward with `∂L/∂y = w` in `buf`; returns the parameter gradients and
/// `∂L/∂x`. The gradient buffers start out as NaN, as stale values would, so anything the
/// backward pass fails to overwrite shows.
fn backward_in<L: Layer<In = f32>>(
    layer: &L,
    x: &[f32],
    batch: usize,
    w: &[f32],
    buf: &mut Buffers<L::Extra>,
) -> (Vec<f32>, Vec<Vec<f32>>, Vec<f32>) {
    layer.forward_batch(x, batch, buf, Activation::Linear, true);
    let y = buf.y.clone();
    buf.dy.copy_from_slice(w);
    let mut grads = L::zeros();
    grads.for_each_param_mut(&mut |_, g| g.fill(f32::NAN));
    let mut dx = vec![f32::NAN; x.len()];
    layer.backward_batch(x, batch, buf, Activation::Linear, &mut grads, Some(&mut dx));
    (y.into(), params(&grads), dx)
}

fn backward<L: Layer<In = f32>>(layer: &L, x: &[f32], batch: usize, w: &[f32]) -> (Vec<Vec<f32>>, Vec<f32>) {
    let (_, g, dx) = backward_in(layer, x, batch, w, &mut Buffers::default());
    (g, dx)
}

fn loss(w: &[f32], y: &[f32]) -> f64 {
    w.iter().zip(y).map(|(&w, &y)| w as f64 * y as f64).sum()
}

fn uniform(rng: &mut ChaCha8Rng, len: usize, limit: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-limit..=limit)).collect()
}

/// Which coordinates to check: all, or a random subset of this many per tensor.
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
        all.sort_unstable();
    }
    all
}

fn assert_none(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Central differences of the layer's own forward pass, Richardson-extrapolated, at the
/// coordinates picked; returns the mismatches.
#[allow(clippy::too_many_arguments)]
fn check_layer_fd<L: MaskedLayer>(
    name: &str,
    layer: &mut L,
    x: &[f32],
    batch: usize,
    w: &[f32],
    grads: &[Vec<f32>],
    dx: &[f32],
    coords: Coords,
    mask: Option<&[u32]>,
) -> Vec<String> {
    const H: f32 = 1.0 / 64.0;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut failures = Vec::new();
    let mut compare = |what: String, analytic: f32, eval: &mut dyn FnMut(f32) -> Vec<f32>, base: f32| {
        let mut diff = |h: f32| {
            let (plus, minus) = (base + h, base - h);
            let (yp, ym) = (eval(plus), eval(minus));
            (loss(w, &yp) - loss(w, &ym)) / (plus as f64 - minus as f64)
        };
        let numeric = (4.0 * diff(H / 2.0) - diff(H)) / 3.0;
        let a = analytic as f64;
        let tol = SMOOTH_ATOL + SMOOTH_RTOL * numeric.abs();
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
            let mut eval = |v: f32| {
                set_param(layer, t, j, v);
                let y = forward_with(layer, x, batch, mask, true);
                set_param(layer, t, j, base);
                y
            };
            compare(format!("∂L/∂{}[{j}]", names[t]), grads[t][j], &mut eval, base);
        }
    }
    let mut xp = x.to_vec();
    for j in pick(&mut rng, x.len(), coords) {
        let base = x[j];
        let mut eval = |v: f32| {
            xp[j] = v;
            let y = forward_with(layer, &xp, batch, mask, true);
            xp[j] = base;
            y
        };
        compare(format!("∂L/∂x[{j}]"), dx[j], &mut eval, base);
    }
    failures
}

/// Compares analytic gradients with the reference's, relative to the largest analytic gradient
/// of the same tensor.
fn check_against_reference(
    name: &str,
    names: &[&str],
    grads: &[Vec<f32>],
    dx: &[f32],
    exact: &[(usize, usize, f64)],
) -> Vec<String> {
    let largest = |v: &[f32]| v.iter().fold(0.0f64, |m, &g| m.max((g as f64).abs()));
    let scales: Vec<f64> = grads.iter().map(|g| largest(g)).collect();
    let dx_scale = largest(dx);
    let mut failures = Vec::new();
    for &(t, j, want) in exact {
        let (what, got, scale) = if t == usize::MAX {
            (format!("∂L/∂x[{j}]"), dx[j], dx_scale)
        } else {
            (format!("∂L/∂{}[{j}]", names[t]), grads[t][j], scales[t])
        };
        let tol = REF_RTOL * (want.abs() + scale);
        let close = (got as f64 - want).abs() <= tol; // false for NaN
        if !close {
            failures.push(format!(
                "{name}: {what}: backward {got:.9}, exact {want:.9}, tolerance {tol:.2e}"
            ));
        }
    }
    failures
}

/// The whole check of one recurrent layer: forward against the reference, gradients against the
/// reference and against the layer's own finite differences, and buffer reuse across batch
/// sizes.
fn check_recurrent<L: MaskedLayer>(name: &str, mut layer: L, case: Case, batch: usize, coords: Coords) {
    let mut rng = ChaCha8Rng::seed_from_u64(name.len() as u64 * 31 + batch as u64);
    let g = case.g();
    let bias_len = if case.cell == Cell::Gru { 2 * g } else { g };
    assert_eq!(L::INPUTS, case.inputs(), "{name}: INPUTS");
    assert_eq!(L::OUTPUTS, case.outputs(), "{name}: OUTPUTS");
    assert_eq!(L::PARAMS, g * case.d + g * case.u + bias_len, "{name}: PARAMS");
    assert_eq!(param_names(&layer), ["kernel", "recurrent_kernel", "bias"]);
    // Weights of Keras's initial scale or a little above, so gates are neither saturated nor
    // trivial.
    layer.for_each_param_mut(&mut |_, p| {
        for v in p.iter_mut() {
            *v = rng.random_range(-0.6f32..=0.6);
        }
    });
    let p = params(&layer);
    assert_eq!(
        p.iter().map(Vec::len).collect::<Vec<_>>(),
        [g * case.d, g * case.u, bias_len]
    );
    let x = uniform(&mut rng, case.inputs() * batch, 1.0);
    let w = uniform(&mut rng, case.outputs() * batch, 1.0);

    // Forward.
    let pd: Vec<Vec<f64>> = p.iter().map(|t| t.iter().map(|&v| v as f64).collect()).collect();
    let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let want = reference_batch(&case, &pd, &xd, batch, None);
    let y = forward(&layer, &x, batch);
    let bad: Vec<String> = y
        .iter()
        .zip(&want)
        .enumerate()
        .filter(|&(_, (&a, &b))| {
            let close = (a as f64 - b).abs() <= FWD_ATOL + FWD_RTOL * b.abs();
            !close
        })
        .take(10)
        .map(|(i, (a, b))| format!("[{i}]: got {a}, want {b}"))
        .collect();
    assert!(bad.is_empty(), "{name} forward:\n{}", bad.join("\n"));
    // Inference (which keeps no cache, and multiplies one sample's state by a matrix–vector
    // product) computes the same outputs, batched and for the first sample alone.
    assert_close(
        name,
        "inference",
        &forward_with(&layer, &x, batch, None, false),
        &y,
    );
    let one = forward_with(&layer, &x[..case.inputs()], 1, None, false);
    assert_close(name, "inference of one sample", &one, &y[..case.outputs()]);

    // Gradients.
    let (grads, dx) = backward(&layer, &x, batch, &w);
    let mut prng = ChaCha8Rng::seed_from_u64(5);
    let at: Vec<Vec<usize>> = p.iter().map(|t| pick(&mut prng, t.len(), coords)).collect();
    let inputs = pick(&mut prng, x.len(), coords);
    let exact = reference_grads(&case, &p, &x, batch, &w, &at, &inputs, None);
    let names = param_names(&layer);
    assert_none(check_against_reference(name, &names, &grads, &dx, &exact));
    assert_none(check_layer_fd(
        name, &mut layer, &x, batch, &w, &grads, &dx, coords, None,
    ));

    // Reused buffers: a smaller batch then the same one again give what fresh buffers give.
    let mut buf = Buffers::<L::Extra>::default();
    let small = batch.div_ceil(2);
    let (y1, g1, dx1) = backward_in(&layer, &x, batch, &w, &mut buf);
    let (ys, gs, dxs) = backward_in(
        &layer,
        &x[..small * case.inputs()],
        small,
        &w[..small * case.outputs()],
        &mut buf,
    );
    let (y2, g2, dx2) = backward_in(&layer, &x, batch, &w, &mut buf);
    assert_eq!(y1, y, "{name}: forward in used buffers");
    assert_eq!(
        (&y2, &g2, &dx2),
        (&y1, &g1, &dx1),
        "{name}: buffers reused after a smaller batch"
    );
    assert_eq!((&g1, &dx1), (&grads, &dx), "{name}: backward in used buffers");
    let (gf, dxf) = backward(
        &layer,
        &x[..small * case.inputs()],
        small,
        &w[..small * case.outputs()],
    );
    assert_eq!((gs, dxs), (gf, dxf), "{name}: smaller batch in used buffers");
    assert_eq!(ys, forward(&layer, &x[..small * case.inputs()], small));

    // Without `dx` the parameter gradients are the same.
    let mut buf = Buffers::<L::Extra>::default();
    layer.forward_batch(&x, batch, &mut buf, Activation::Linear, true);
    buf.dy.copy_from_slice(&w);
    let mut g3 = L::zeros();
    layer.backward_batch(&x, batch, &mut buf, Activation::Linear, &mut g3, None);
    assert_eq!(params(&g3), grads, "{name}: gradients without dx");
}

/// The backward pass consumes the cache, so a second one without a forward pass in between is
/// refused rather than computed from overwritten values.
#[test]
#[should_panic(expected = "needs the forward pass")]
fn recurrent_backward_twice_is_refused() {
    let layer = LSTM::<3, 2, 2, false, 8>::zeros();
    let mut buf = Buffers::default();
    let x = [0.5; 6];
    layer.forward_batch(&x, 1, &mut buf, Activation::Linear, true);
    let mut grads = LSTM::<3, 2, 2, false, 8>::zeros();
    layer.backward_batch(&x, 1, &mut buf, Activation::Linear, &mut grads, None);
    layer.backward_batch(&x, 1, &mut buf, Activation::Linear, &mut grads, None);
}

/// `got` within the forward tolerance of `want`.
fn assert_close(name: &str, what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name} {what}: length");
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let close = (a as f64 - b as f64).abs() <= FWD_ATOL + FWD_RTOL * (b as f64).abs();
        assert!(close, "{name} {what} [{i}]: {a} vs {b}");
    }
}

/// Token ids for a masked batch of `batch ≥ 3` samples of `t ≥ 4` steps: sample 0 padded at
/// the start, in the middle and at the end; sample 1 all padding; sample 2 none; the others
/// padded at random (~40 %).
fn padded_ids(rng: &mut ChaCha8Rng, t: usize, batch: usize) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..t * batch)
        .map(|_| {
            if rng.random_bool(0.4) {
                0
            } else {
                rng.random_range(1..50)
            }
        })
        .collect();
    for (k, id) in ids[..t].iter_mut().enumerate() {
        *id = if k == 0 || k == t / 2 || k == t - 1 { 0 } else { 7 };
    }
    ids[t..2 * t].fill(0);
    ids[2 * t..3 * t].fill(3);
    ids
}

/// A recurrent layer with Keras's padding mask: outputs against the reference that skips the
/// padded steps (in training and inference, batched and one sample alone), no NaN for the
/// all-padding sample, gradients against the reference's and the layer's own finite
/// differences, and exactly zero input gradient at padded steps.
fn check_recurrent_masked<L: MaskedLayer>(
    name: &str,
    mut layer: L,
    case: Case,
    batch: usize,
    coords: Coords,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(name.len() as u64 * 17 + batch as u64);
    layer.for_each_param_mut(&mut |_, p| {
        for v in p.iter_mut() {
            *v = rng.random_range(-0.6f32..=0.6);
        }
    });
    let p = params(&layer);
    let x = uniform(&mut rng, case.inputs() * batch, 1.0);
    let w = uniform(&mut rng, case.outputs() * batch, 1.0);
    let ids = padded_ids(&mut rng, case.t, batch);
    let mask = Some(&ids[..]);

    let pd: Vec<Vec<f64>> = p.iter().map(|t| t.iter().map(|&v| v as f64).collect()).collect();
    let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let want: Vec<f32> = reference_batch(&case, &pd, &xd, batch, mask)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let y = forward_with(&layer, &x, batch, mask, true);
    assert_close(name, "masked forward", &y, &want);
    let (m, n) = (case.outputs(), case.inputs());
    assert!(
        y[m..2 * m].iter().all(|&v| v == 0.0),
        "{name}: an all-padding sample outputs zeros"
    );
    assert_close(
        name,
        "masked inference",
        &forward_with(&layer, &x, batch, mask, false),
        &want,
    );
    for s in 0..3 {
        let one = forward_with(
            &layer,
            &x[s * n..(s + 1) * n],
            1,
            Some(&ids[s * case.t..(s + 1) * case.t]),
            false,
        );
        assert_close(
            name,
            "masked inference of one sample",
            &one,
            &want[s * m..(s + 1) * m],
        );
    }

    let (grads, dx) = backward_masked(&layer, &x, batch, &w, &ids);
    for (j, &g) in dx.iter().enumerate() {
        let (s, step) = (j / n, j % n / case.d);
        if ids[s * case.t + step] == 0 {
            assert_eq!(g, 0.0, "{name}: ∂L/∂x[{j}] at a padded step");
        }
    }
    let mut prng = ChaCha8Rng::seed_from_u64(5);
    let at: Vec<Vec<usize>> = p.iter().map(|t| pick(&mut prng, t.len(), coords)).collect();
    let inputs = pick(&mut prng, x.len(), coords);
    let exact = reference_grads(&case, &p, &x, batch, &w, &at, &inputs, mask);
    let names = param_names(&layer);
    assert_none(check_against_reference(name, &names, &grads, &dx, &exact));
    assert_none(check_layer_fd(
        name, &mut layer, &x, batch, &w, &grads, &dx, coords, mask,
    ));
}

macro_rules! masked_case {
    ($fn:ident, $cell:ident, $ty:ty, $t:literal, $d:literal, $u:literal, $seq:literal, $batch:literal, $coords:expr) => {
        #[test]
        fn $fn() {
            let case = Case {
                cell: Cell::$cell,
                t: $t,
                d: $d,
                u: $u,
                seq: $seq,
            };
            check_recurrent_masked(stringify!($fn), <$ty>::zeros(), case, $batch, $coords);
        }
    };
}

masked_case!(lstm_masked_last_step, Lstm, LSTM<6, 5, 6, false, 24>, 6, 5, 6, false, 4, Coords::All);
masked_case!(lstm_masked_sequences, Lstm, LSTM<6, 5, 6, true, 24>, 6, 5, 6, true, 4, Coords::All);
masked_case!(gru_masked_last_step, Gru, GRU<6, 5, 6, false, 18>, 6, 5, 6, false, 4, Coords::All);
masked_case!(gru_masked_sequences, Gru, GRU<6, 5, 6, true, 18>, 6, 5, 6, true, 4, Coords::All);
masked_case!(simple_rnn_masked_last_step, Simple, SimpleRNN<6, 5, 6, false>, 6, 5, 6, false, 4, Coords::All);
masked_case!(simple_rnn_masked_sequences, Simple, SimpleRNN<6, 5, 6, true>, 6, 5, 6, true, 4, Coords::All);
// 30·20 = 600 batch columns: masking across chunks of steps.
masked_case!(lstm_masked_chunked, Lstm, LSTM<30, 4, 17, true, 68>, 30, 4, 17, true, 20, Coords::Sample(40));
masked_case!(gru_masked_chunked, Gru, GRU<30, 4, 17, false, 51>, 30, 4, 17, false, 20, Coords::Sample(40));

macro_rules! recurrent_case {
    ($fn:ident, LSTM, $t:literal, $d:literal, $u:literal, $seq:literal, $batch:literal, $coords:expr) => {
        #[test]
        fn $fn() {
            let case = Case {
                cell: Cell::Lstm,
                t: $t,
                d: $d,
                u: $u,
                seq: $seq,
            };
            check_recurrent(
                stringify!($fn),
                LSTM::<$t, $d, $u, $seq, { 4 * $u }>::zeros(),
                case,
                $batch,
                $coords,
            );
        }
    };
    ($fn:ident, GRU, $t:literal, $d:literal, $u:literal, $seq:literal, $batch:literal, $coords:expr) => {
        #[test]
        fn $fn() {
            let case = Case {
                cell: Cell::Gru,
                t: $t,
                d: $d,
                u: $u,
                seq: $seq,
            };
            check_recurrent(
                stringify!($fn),
                GRU::<$t, $d, $u, $seq, { 3 * $u }>::zeros(),
                case,
                $batch,
                $coords,
            );
        }
    };
    ($fn:ident, SimpleRNN, $t:literal, $d:literal, $u:literal, $seq:literal, $batch:literal, $coords:expr) => {
        #[test]
        fn $fn() {
            let case = Case {
                cell: Cell::Simple,
                t: $t,
                d: $d,
                u: $u,
                seq: $seq,
            };
            check_recurrent(
                stringify!($fn),
                SimpleRNN::<$t, $d, $u, $seq>::zeros(),
                case,
                $batch,
                $coords,
            );
        }
    };
}

// Small: every coordinate. Sizes off the 16-float vector width.
recurrent_case!(lstm_last_step, LSTM, 4, 5, 6, false, 3, Coords::All);
recurrent_case!(lstm_sequences, LSTM, 4, 5, 6, true, 3, Coords::All);
recurrent_case!(gru_last_step, GRU, 4, 5, 6, false, 3, Coords::All);
recurrent_case!(gru_sequences, GRU, 4, 5, 6, true, 3, Coords::All);
recurrent_case!(simple_rnn_last_step, SimpleRNN, 4, 5, 6, false, 3, Coords::All);
recurrent_case!(simple_rnn_sequences, SimpleRNN, 4, 5, 6, true, 3, Coords::All);
// One sample, one step.
recurrent_case!(lstm_single_step, LSTM, 1, 3, 2, false, 1, Coords::All);
recurrent_case!(gru_single_step, GRU, 1, 3, 2, true, 1, Coords::All);
// Large: 30·20 = 600 batch columns, so the gradients are accumulated over chunks of steps (the
// last one partial); units across a 16-float boundary.
recurrent_case!(
    lstm_chunked_last_step,
    LSTM,
    30,
    4,
    17,
    false,
    20,
    Coords::Sample(40)
);
recurrent_case!(
    lstm_chunked_sequences,
    LSTM,
    30,
    4,
    17,
    true,
    20,
    Coords::Sample(40)
);
recurrent_case!(
    gru_chunked_last_step,
    GRU,
    30,
    4,
    17,
    false,
    20,
    Coords::Sample(40)
);
recurrent_case!(
    gru_chunked_sequences,
    GRU,
    30,
    4,
    17,
    true,
    20,
    Coords::Sample(40)
);
recurrent_case!(
    simple_rnn_chunked,
    SimpleRNN,
    30,
    4,
    17,
    true,
    20,
    Coords::Sample(40)
);

// ---------------------------------------------------------------------------------------------
// Embedding.

/// Gathers rows; the gradient is `Σ dy` per used row and zero elsewhere, also after a second
/// batch with other tokens, and the backward pass rewrites only the rows it used or cleared.
#[test]
fn embedding_gathers_and_scatters_only_used_rows() {
    const V: usize = 11;
    const D: usize = 5;
    const L: usize = 4;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut layer = Embedding::<V, D, L>::zeros();
    layer.for_each_param_mut(&mut |_, p| p.copy_from_slice(&uniform(&mut rng, V * D, 1.0)));
    assert_eq!(param_names(&layer), ["embeddings"]);
    assert_eq!(
        (
            Embedding::<V, D, L>::PARAMS,
            Embedding::<V, D, L>::INPUTS,
            Embedding::<V, D, L>::OUTPUTS
        ),
        (V * D, L, L * D)
    );
    let table = params(&layer).remove(0);

    let mut buf = Buffers::default();
    let mut grads = Embedding::<V, D, L>::zeros();
    let mut step = |ids: &[u32], buf: &mut Buffers<_>, grads: &mut Embedding<V, D, L>| {
        let batch = ids.len() / L;
        layer.forward_batch(ids, batch, buf, Activation::Linear, true);
        for (i, &id) in ids.iter().enumerate() {
            let v = id as usize;
            assert_eq!(
                &buf.y[i * D..(i + 1) * D],
                &table[v * D..(v + 1) * D],
                "row of token {id}"
            );
        }
        let w = uniform(&mut rng, ids.len() * D, 1.0);
        buf.dy.copy_from_slice(&w);
        layer.backward_batch(ids, batch, buf, Activation::Linear, grads, None);
        let mut want = vec![0.0f64; V * D];
        for (i, &id) in ids.iter().enumerate() {
            for k in 0..D {
                want[id as usize * D + k] += w[i * D + k] as f64;
            }
        }
        want
    };
    let check = |grads: &Embedding<V, D, L>, want: &[f64], what: &str| {
        for (i, (&g, &e)) in grads.embeddings.as_slice().iter().zip(want).enumerate() {
            assert!(
                (g as f64 - e).abs() <= 1e-6,
                "{what}: gradient [{i}] = {g}, want {e}"
            );
            assert_eq!(g == 0.0, e == 0.0, "{what}: [{i}] zero pattern");
        }
    };

    // Batch 1: tokens 0..5 with repeats (3 twice in one sample, 1 in two samples).
    let first = [3, 1, 3, 0, 1, 4, 2, 4];
    let want = step(&first, &mut buf, &mut grads);
    check(&grads, &want, "first batch");
    // Batch 2: other tokens (6..11) only; the first batch's rows must be zero again.
    let second = [6, 10, 9, 6, 7, 8, 10, 10, 5, 9, 6, 7];
    let want = step(&second, &mut buf, &mut grads);
    check(&grads, &want, "second batch");
    // Batch 3: overlapping the second.
    let third = [10, 0, 0, 3];
    let want = step(&third, &mut buf, &mut grads);
    check(&grads, &want, "third batch");

    // Only the rows used or cleared are written: a value planted in a row that neither the
    // last batch nor this one uses survives (the documented contract: nothing else writes into
    // the gradient table).
    grads.embeddings.as_mut_slice()[8 * D] = 42.0;
    step(&[1, 1, 2, 2], &mut buf, &mut grads);
    assert_eq!(
        grads.embeddings.as_slice()[8 * D],
        42.0,
        "an unused row was rewritten"
    );
    // A different gradient table is cleared in full first.
    let mut other = Embedding::<V, D, L>::zeros();
    other.embeddings.as_mut_slice().fill(f32::NAN);
    let want = step(&[4, 4, 2, 9], &mut buf, &mut other);
    check(&other, &want, "a new gradient table");
}

/// `L = Σ w·y` is linear in the table, so central differences with a dyadic step and dyadic
/// data are exact.
#[test]
fn embedding_gradient_matches_finite_differences() {
    const V: usize = 7;
    const D: usize = 3;
    const L: usize = 5;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut layer = Embedding::<V, D, L>::zeros();
    layer.for_each_param_mut(&mut |_, p| {
        p.iter_mut()
            .for_each(|v| *v = rng.random_range(-8i32..=8) as f32 / 8.0)
    });
    let batch = 3;
    let ids: Vec<u32> = (0..L * batch)
        .map(|_| rng.random_range(0..V as u32 - 2))
        .collect();
    let w: Vec<f32> = (0..L * D * batch)
        .map(|_| rng.random_range(-8i32..=8) as f32 / 8.0)
        .collect();
    let mut buf = Buffers::default();
    layer.forward_batch(&ids, batch, &mut buf, Activation::Linear, true);
    buf.dy.copy_from_slice(&w);
    let mut grads = Embedding::<V, D, L>::zeros();
    grads.embeddings.as_mut_slice().fill(f32::NAN);
    layer.backward_batch(&ids, batch, &mut buf, Activation::Linear, &mut grads, None);
    let g = params(&grads).remove(0);
    for (j, &analytic) in g.iter().enumerate() {
        let base = layer.embeddings.as_slice()[j];
        let h = 0.125;
        set_param(&mut layer, 0, j, base + h);
        let plus = loss(&w, &forward(&layer, &ids, batch));
        set_param(&mut layer, 0, j, base - h);
        let minus = loss(&w, &forward(&layer, &ids, batch));
        set_param(&mut layer, 0, j, base);
        let numeric = (plus - minus) / (2.0 * h as f64);
        assert_eq!(analytic as f64, numeric, "∂L/∂embeddings[{j}]");
    }
    // Tokens V−2 and V−1 are unused: their rows are zero.
    assert!(g[(V - 2) * D..].iter().all(|&v| v == 0.0));
}

/// Ids outside the vocabulary (which `Tokens` rules out) read as zero vectors and get no
/// gradient, without a panic.
#[test]
fn embedding_ignores_out_of_range_ids() {
    let mut layer = Embedding::<4, 2, 3>::zeros();
    layer.embeddings.as_mut_slice().fill(1.0);
    let ids = [1, 4, u32::MAX];
    let mut buf = Buffers::default();
    layer.forward_batch(&ids, 1, &mut buf, Activation::Linear, true);
    assert_eq!(buf.y, [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    buf.dy.fill(1.0);
    let mut grads = Embedding::<4, 2, 3>::zeros();
    layer.backward_batch(&ids, 1, &mut buf, Activation::Linear, &mut grads, None);
    assert_eq!(
        grads.embeddings.as_slice(),
        [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(layer.vector(1), Some(&[1.0f32, 1.0][..]));
    assert_eq!(layer.vector(4), None);
}

#[test]
fn embedding_init_is_keras_uniform() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let layer = Embedding::<1000, 16, 4>::new(&mut rng);
    let e = layer.embeddings.as_slice();
    assert!(e.iter().all(|v| v.abs() <= 0.05));
    assert!(e.iter().any(|&v| v > 0.045) && e.iter().any(|&v| v < -0.045));
}

// ---------------------------------------------------------------------------------------------
// Initialisers.

/// `‖MᵀM − I‖_max` for a column-major `rows × cols` matrix.
fn gram_error(m: &[f32], rows: usize, cols: usize) -> f64 {
    let mut worst = 0.0f64;
    for a in 0..cols {
        for b in 0..cols {
            let dot: f64 = (0..rows)
                .map(|r| m[r + a * rows] as f64 * m[r + b * rows] as f64)
                .sum();
            worst = worst.max((dot - if a == b { 1.0 } else { 0.0 }).abs());
        }
    }
    worst
}

#[test]
fn orthogonal_init_is_orthogonal() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // Keras shape (rows, cols), written row-major = column-major cols × rows.
    for (rows, cols) in [(64, 256), (7, 21), (16, 16), (9, 4), (1, 5)] {
        let mut out = vec![f32::NAN; rows * cols];
        init::orthogonal(&mut rng, rows, cols, &mut out);
        let err = if rows <= cols {
            // Orthonormal rows of the Keras matrix: columns of the stored cols × rows one.
            gram_error(&out, cols, rows)
        } else {
            // Orthonormal columns of the Keras matrix (row-major rows × cols).
            let mut t = vec![0.0; rows * cols];
            for r in 0..rows {
                for c in 0..cols {
                    t[r + c * rows] = out[r * cols + c];
                }
            }
            gram_error(&t, rows, cols)
        };
        assert!(err < 1e-6, "({rows}, {cols}): ‖QᵀQ − I‖ = {err:e}");
    }
    // Different draws for different calls, and not all of one sign.
    let (mut a, mut b) = (vec![0.0; 12], vec![0.0; 12]);
    init::orthogonal(&mut rng, 3, 4, &mut a);
    init::orthogonal(&mut rng, 3, 4, &mut b);
    assert_ne!(a, b);
    assert!(a.iter().any(|&v| v > 0.0) && a.iter().any(|&v| v < 0.0));
}

#[test]
fn recurrent_layers_use_keras_initialisers() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let lstm = LSTM::<3, 10, 8, false, 32>::new(&mut rng);
    // Stored G × U with orthonormal columns (Keras's (U, 4U) with orthonormal rows).
    assert!(gram_error(lstm.recurrent_kernel.as_slice(), 32, 8) < 1e-6);
    let limit = (6.0f32 / (10 + 32) as f32).sqrt();
    assert!(lstm.kernel.as_slice().iter().all(|v| v.abs() <= limit));
    let bias = lstm.bias.as_slice();
    assert!(bias[..8].iter().all(|&v| v == 0.0));
    assert!(bias[8..16].iter().all(|&v| v == 1.0), "unit_forget_bias");
    assert!(bias[16..].iter().all(|&v| v == 0.0));

    let gru = GRU::<3, 10, 8, true, 24>::new(&mut rng);
    assert!(gram_error(gru.recurrent_kernel.as_slice(), 24, 8) < 1e-6);
    let limit = (6.0f32 / (10 + 24) as f32).sqrt();
    assert!(gru.kernel.as_slice().iter().all(|v| v.abs() <= limit));
    assert!(gru.bias.as_slice().iter().all(|&v| v == 0.0));
    assert_eq!(gru.bias.as_slice().len(), 48);

    let rnn = SimpleRNN::<3, 10, 8, true>::new(&mut rng);
    assert!(gram_error(rnn.recurrent_kernel.as_slice(), 8, 8) < 1e-6);
    assert!(rnn.bias.as_slice().iter().all(|&v| v == 0.0));

    // Clones are deep and equal.
    let copy = lstm.clone();
    assert_eq!(params(&copy), params(&lstm));
    assert!(format!("{copy:?}").starts_with("LSTM<"));
}

// ---------------------------------------------------------------------------------------------
// Pooling over time.

#[test]
fn pooling_over_time() {
    const T: usize = 5;
    const D: usize = 3;
    let batch = 2;
    // Distinct values per feature so the maximum is unique.
    let x: Vec<f32> = (0..T * D * batch)
        .map(|i| ((i * 7) % 31) as f32 / 8.0 - 2.0)
        .collect();
    let w: Vec<f32> = (0..D * batch).map(|i| i as f32 / 4.0 - 0.5).collect();
    let mut want_avg = vec![0.0f64; D * batch];
    let mut want_max = vec![f64::NEG_INFINITY; D * batch];
    let mut want_davg = vec![0.0f64; x.len()];
    let mut want_dmax = vec![0.0f64; x.len()];
    for s in 0..batch {
        for d in 0..D {
            let mut best = (f64::NEG_INFINITY, 0);
            for t in 0..T {
                let i = s * T * D + t * D + d;
                want_avg[s * D + d] += x[i] as f64 / T as f64;
                want_davg[i] = w[s * D + d] as f64 / T as f64;
                if (x[i] as f64) > best.0 {
                    best = (x[i] as f64, i);
                }
            }
            want_max[s * D + d] = best.0;
            want_dmax[best.1] = w[s * D + d] as f64;
        }
    }

    let avg = GlobalAveragePooling1D::<T, D>::zeros();
    let y = forward(&avg, &x, batch);
    assert!(
        y.iter()
            .zip(&want_avg)
            .all(|(&a, &b)| (a as f64 - b).abs() < 1e-6)
    );
    let (g, dx) = backward(&avg, &x, batch, &w);
    assert!(g.is_empty());
    assert!(
        dx.iter()
            .zip(&want_davg)
            .all(|(&a, &b)| (a as f64 - b).abs() < 1e-7)
    );

    let max = GlobalMaxPooling1D::<T, D>::zeros();
    let y = forward(&max, &x, batch);
    assert_eq!(y.iter().map(|&v| v as f64).collect::<Vec<_>>(), want_max);
    let (_, dx) = backward(&max, &x, batch, &w);
    assert_eq!(dx.iter().map(|&v| v as f64).collect::<Vec<_>>(), want_dmax);
    assert_eq!(
        (
            GlobalMaxPooling1D::<T, D>::INPUTS,
            GlobalMaxPooling1D::<T, D>::OUTPUTS
        ),
        (T * D, D)
    );

    // Ties go to the first step.
    let tie = [1.0, 1.0, 1.0];
    let mut buf = Buffers::default();
    GlobalMaxPooling1D::<3, 1>.forward_batch(&tie, 1, &mut buf, Activation::Linear, true);
    buf.dy.fill(1.0);
    let mut dx = [f32::NAN; 3];
    let mut grads = GlobalMaxPooling1D::<3, 1>;
    GlobalMaxPooling1D::<3, 1>.backward_batch(
        &tie,
        1,
        &mut buf,
        Activation::Linear,
        &mut grads,
        Some(&mut dx),
    );
    assert_eq!(dx, [1.0, 0.0, 0.0]);
}

/// `GlobalAveragePooling1D` with the padding mask: the mean over unpadded steps, and its
/// gradient (the pooling is linear, so central differences with dyadic data are exact); an
/// all-padding sample outputs zeros and passes no gradient (Keras: 0/0 = NaN).
#[test]
fn masked_average_pooling_over_time() {
    const T: usize = 4;
    const D: usize = 3;
    let batch = 3;
    let x: Vec<f32> = (0..T * D * batch)
        .map(|i| ((i * 5) % 17) as f32 / 8.0 - 1.0)
        .collect();
    let w: Vec<f32> = (0..D * batch).map(|i| i as f32 / 4.0 - 1.0).collect();
    let ids: [u32; T * 3] = [0, 4, 0, 2, 0, 0, 0, 0, 1, 1, 1, 1];
    let avg = GlobalAveragePooling1D::<T, D>::zeros();
    let run = |x: &[f32]| forward_with(&avg, x, batch, Some(&ids), true);
    let y = run(&x);
    for s in 0..batch {
        let kept: Vec<usize> = (0..T).filter(|&t| ids[s * T + t] != 0).collect();
        for d in 0..D {
            let sum: f64 = kept.iter().map(|&t| x[s * T * D + t * D + d] as f64).sum();
            let want = if kept.is_empty() {
                0.0
            } else {
                sum / kept.len() as f64
            };
            assert!(
                (y[s * D + d] as f64 - want).abs() < 1e-6,
                "sample {s} feature {d}"
            );
        }
    }
    assert!(y[D..2 * D].iter().all(|&v| v == 0.0));

    let mut buf = Buffers::default();
    avg.forward_masked(&x, batch, &mut buf, Activation::Linear, true, &ids);
    buf.dy.copy_from_slice(&w);
    let mut dx = vec![f32::NAN; x.len()];
    avg.backward_masked(
        &x,
        batch,
        &mut buf,
        Activation::Linear,
        &mut GlobalAveragePooling1D,
        Some(&mut dx),
        &ids,
    );
    let mut xp = x.clone();
    for j in 0..x.len() {
        let h = 0.25;
        xp[j] = x[j] + h;
        let plus = loss(&w, &run(&xp));
        xp[j] = x[j] - h;
        let minus = loss(&w, &run(&xp));
        xp[j] = x[j];
        assert_eq!(dx[j] as f64, (plus - minus) / (2.0 * h as f64), "∂L/∂x[{j}]");
    }
    assert!(dx[T * D..2 * T * D].iter().all(|&v| v == 0.0));
}

// ---------------------------------------------------------------------------------------------
// Keras reference: `Embedding → LSTM | GRU | SimpleRNN → Dense` against Keras 3's own results
// (`tests/fixtures/keras_recurrent/`, see `make_fixtures.py` there): outputs and the gradient of
// `L = Σ w·y` for every weight, computed by Keras in float64 from float32 weights and data.

/// `|got − want| ≤ KERAS_TOLERANCE · max(|want|, KERAS_FLOOR · largest |want| of the tensor)`,
/// the measure of `tests/reference_keras.rs`; each fixture was only kept if Keras's own float32
/// run meets half of it.
const KERAS_TOLERANCE: f64 = 1e-5;
const KERAS_FLOOR: f64 = 0.1;

type KerasEmbedding = Embedding<20, 6, 7>;
type KerasDense = dl_runtime::layers::Dense<5, 3>;

fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/fixtures/keras_recurrent/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("a list of numbers")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// The fixture's tensors of `layer`, by name.
fn tensors_of(list: &serde_json::Value, layer: &str) -> Vec<(String, Vec<f64>)> {
    list.as_array()
        .expect("a list of tensors")
        .iter()
        .filter(|t| t["layer"] == layer)
        .map(|t| {
            (
                t["tensor"].as_str().expect("a name").to_string(),
                floats(&t["values"]),
            )
        })
        .collect()
}

/// Loads `layer`'s weights from the fixture, checking names and sizes.
fn load<L: Layer>(layer: &mut L, fx: &serde_json::Value, name: &str) {
    let tensors = tensors_of(&fx["params"], name);
    let mut i = 0;
    layer.for_each_param_mut(&mut |tensor, p| {
        let (want, values) = &tensors[i];
        assert_eq!(tensor, want, "{name}: tensor order");
        assert_eq!(p.len(), values.len(), "{name}.{tensor}: size");
        for (p, &v) in p.iter_mut().zip(values) {
            *p = v as f32;
        }
        i += 1;
    });
    assert_eq!(i, tensors.len(), "{name}: tensor count");
}

/// The mismatches of `got`; also prints the largest error in units of the tolerance (see it with
/// `--nocapture`).
fn keras_close(what: &str, got: &[f32], want: &[f64]) -> Vec<String> {
    assert_eq!(got.len(), want.len(), "{what}: sizes");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = got.iter().zip(want).fold(0.0f64, |m, (&g, &w)| {
        m.max((g as f64 - w).abs() / (KERAS_TOLERANCE * w.abs().max(KERAS_FLOOR * scale)))
    });
    eprintln!("{what}: largest error {worst:.3} of the tolerance");
    got.iter()
        .zip(want)
        .enumerate()
        .filter_map(|(i, (&g, &w))| {
            let tol = KERAS_TOLERANCE * w.abs().max(KERAS_FLOOR * scale);
            let close = (g as f64 - w).abs() <= tol; // false for NaN
            (!close).then(|| format!("{what}[{i}]: got {g}, Keras {w}, tolerance {tol:.1e}"))
        })
        .collect()
}

fn keras_case<R: Layer<In = f32>>(name: &str, rnn_name: &str, mut rnn: R) {
    let fx = fixture(name);
    let (batch, steps) = (fx["batch"].as_u64().unwrap() as usize, 7);
    let seq = fx["return_sequences"].as_bool().unwrap();
    assert_eq!(R::OUTPUTS, if seq { steps * 5 } else { 5 }, "{name}: layer type");
    let mut emb = KerasEmbedding::zeros();
    let mut dense = KerasDense::zeros();
    load(&mut emb, &fx, "embedding");
    load(&mut rnn, &fx, rnn_name);
    load(&mut dense, &fx, "dense");
    let tokens: Vec<u32> = fx["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let w: Vec<f32> = floats(&fx["w"]).iter().map(|&v| v as f32).collect();
    // A Dense layer after a sequence applies to every step: `batch · T` columns.
    let dense_batch = if seq { batch * steps } else { batch };

    let (mut be, mut br, mut bd) = (Buffers::default(), Buffers::default(), Buffers::default());
    let act = Activation::Linear;
    emb.forward_batch(&tokens, batch, &mut be, act, true);
    rnn.forward_batch(&be.y, batch, &mut br, act, true);
    dense.forward_batch(&br.y, dense_batch, &mut bd, act, true);
    let mut failures = keras_close(&format!("{name}: outputs"), &bd.y, &floats(&fx["outputs"]));

    bd.dy.copy_from_slice(&w);
    let (mut ge, mut gr, mut gd) = (KerasEmbedding::zeros(), R::zeros(), KerasDense::zeros());
    dense.backward_batch(&br.y, dense_batch, &mut bd, act, &mut gd, Some(&mut br.dy));
    rnn.backward_batch(&be.y, batch, &mut br, act, &mut gr, Some(&mut be.dy));
    emb.backward_batch(&tokens, batch, &mut be, act, &mut ge, None);
    for (layer, grads) in [
        ("embedding", params(&ge)),
        (rnn_name, params(&gr)),
        ("dense", params(&gd)),
    ] {
        let want = tensors_of(&fx["gradients"], layer);
        assert_eq!(want.len(), grads.len(), "{name}: {layer} tensor count");
        for ((tensor, want), got) in want.iter().zip(&grads) {
            failures.extend(keras_close(&format!("{name}: ∂L/∂{layer}.{tensor}"), got, want));
            // Rows of unused tokens (and any other exact zero) are exactly zero.
            for (i, (&g, &k)) in got.iter().zip(want).enumerate() {
                if k == 0.0 {
                    assert_eq!(g, 0.0, "{name}: ∂L/∂{layer}.{tensor}[{i}] should be 0");
                }
            }
        }
    }
    assert_none(failures);
}

#[test]
fn keras_lstm() {
    keras_case("lstm", "lstm", LSTM::<7, 6, 5, false, 20>::zeros());
}

#[test]
fn keras_lstm_sequences() {
    keras_case("lstm_sequences", "lstm", LSTM::<7, 6, 5, true, 20>::zeros());
}

#[test]
fn keras_gru() {
    keras_case("gru", "gru", GRU::<7, 6, 5, false, 15>::zeros());
}

#[test]
fn keras_gru_sequences() {
    keras_case("gru_sequences", "gru", GRU::<7, 6, 5, true, 15>::zeros());
}

#[test]
fn keras_simple_rnn() {
    keras_case("simple_rnn", "simple_rnn", SimpleRNN::<7, 6, 5, true>::zeros());
}
