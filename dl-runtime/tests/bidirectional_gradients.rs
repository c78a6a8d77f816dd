//! `Bidirectional(LSTM | GRU | SimpleRNN)`: the forward pass against its definition in terms of
//! the wrapped layer (the forward copy on the batch, the backward copy on every sample reversed
//! in time, its sequence reversed back, padded steps zero with `return_sequences`), and the
//! backward pass against central finite differences of the layer's own f32 forward pass
//! (Richardson-extrapolated, as in `recurrent_gradients.rs`), with and without
//! `return_sequences` and the padding mask. The wrapped layers' own passes are checked against
//! Keras's cell equations in `recurrent_gradients.rs`.

use dl_runtime::Activation;
use dl_runtime::layers::{Bidirectional, Buffers, GRU, LSTM, Layer, MaskedLayer, Recurrent, SimpleRNN};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// See `recurrent_gradients.rs`: steps `h = 2⁻⁶` and `h/2`; rounding of `L` over ≤ 10³ outputs
/// divided by `2h` stays well below these.
const SMOOTH_ATOL: f64 = 1e-3;
const SMOOTH_RTOL: f64 = 1e-3;

fn forward_with<L: MaskedLayer>(
    layer: &L,
    x: &[f32],
    batch: usize,
    mask: Option<&[u32]>,
    training: bool,
) -> Vec<f32> {
    let mut buf = Buffers::<L::Extra>::default();
    run(layer, x, batch, mask, training, &mut buf);
    buf.y.to_vec()
}

fn run<L: MaskedLayer>(
    layer: &L,
    x: &[f32],
    batch: usize,
    mask: Option<&[u32]>,
    training: bool,
    buf: &mut Buffers<L::Extra>,
) {
    match mask {
        Some(m) => layer.forward_masked(x, batch, buf, Activation::Linear, training, m),
        None => layer.forward_batch(x, batch, buf, Activation::Linear, training),
    }
    assert_eq!(buf.y.len(), L::OUTPUTS * batch);
}

/// Forward, then backward with `∂L/∂y = w`: NaN-primed parameter gradients and `∂L/∂x`.
fn backward<L: MaskedLayer>(
    layer: &L,
    x: &[f32],
    batch: usize,
    w: &[f32],
    mask: Option<&[u32]>,
    buf: &mut Buffers<L::Extra>,
) -> (Vec<Vec<f32>>, Vec<f32>) {
    run(layer, x, batch, mask, true, buf);
    buf.dy.copy_from_slice(w);
    let mut grads = L::zeros();
    grads.for_each_param_mut(&mut |_, g| g.fill(f32::NAN));
    let mut dx = vec![f32::NAN; x.len()];
    let a = Activation::Linear;
    match mask {
        Some(m) => layer.backward_masked(x, batch, buf, a, &mut grads, Some(&mut dx), m),
        None => layer.backward_batch(x, batch, buf, a, &mut grads, Some(&mut dx)),
    }
    (params(&grads), dx)
}

fn params<L: Layer>(layer: &L) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    layer.for_each_param(&mut |_, p| out.push(p.to_vec()));
    out
}

fn names<L: Layer>(layer: &L) -> Vec<&'static str> {
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

fn loss(w: &[f32], y: &[f32]) -> f64 {
    w.iter().zip(y).map(|(&w, &y)| w as f64 * y as f64).sum()
}

fn uniform(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..=1.0)).collect()
}

/// Reverses the `t` steps of `width` values of every sample.
fn reversed<T: Copy>(v: &[T], t: usize, width: usize) -> Vec<T> {
    v.chunks_exact(t * width)
        .flat_map(|s| s.chunks_exact(width).rev().flatten().copied())
        .collect()
}

/// Sample 0 padded at the start, middle and end, sample 1 all padding, sample 2 none, the rest
/// at random.
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

/// The definition: both copies run on their own, the backward one on the reversed batch.
fn expected<L: Recurrent>(
    layer: &Bidirectional<L>,
    x: &[f32],
    batch: usize,
    mask: Option<&[u32]>,
) -> Vec<f32> {
    let (t, u) = (L::STEPS, L::UNITS);
    let f = forward_with(&layer.forward, x, batch, mask, true);
    let rmask = mask.map(|m| reversed(m, t, 1));
    let b = forward_with(
        &layer.backward,
        &reversed(x, t, L::FEATURES),
        batch,
        rmask.as_deref(),
        true,
    );
    if !L::SEQUENCES {
        return f
            .chunks_exact(u)
            .zip(b.chunks_exact(u))
            .flat_map(|(f, b)| f.iter().chain(b).copied())
            .collect();
    }
    let b = reversed(&b, t, u);
    let mut y = Vec::new();
    for (k, (f, b)) in f.chunks_exact(u).zip(b.chunks_exact(u)).enumerate() {
        if mask.is_some_and(|m| m[k] == 0) {
            y.extend(std::iter::repeat_n(0.0, 2 * u));
        } else {
            y.extend(f.iter().chain(b));
        }
    }
    y
}

/// Central differences of `L = Σ w·y` at every parameter and input; returns the mismatches.
#[allow(clippy::too_many_arguments)]
fn finite_differences<L: MaskedLayer>(
    layer: &mut L,
    x: &[f32],
    batch: usize,
    w: &[f32],
    mask: Option<&[u32]>,
    grads: &[Vec<f32>],
    dx: &[f32],
) -> Vec<String> {
    const H: f32 = 1.0 / 64.0;
    let mut failures = Vec::new();
    let mut compare = |what: String, analytic: f32, eval: &mut dyn FnMut(f32) -> Vec<f32>, base: f32| {
        let mut diff = |h: f32| {
            let (plus, minus) = (base + h, base - h);
            (loss(w, &eval(plus)) - loss(w, &eval(minus))) / (plus as f64 - minus as f64)
        };
        let numeric = (4.0 * diff(H / 2.0) - diff(H)) / 3.0;
        let tol = SMOOTH_ATOL + SMOOTH_RTOL * numeric.abs();
        let close = (analytic as f64 - numeric).abs() <= tol; // false for NaN
        if !close {
            failures.push(format!(
                "{what}: backward {analytic:.9}, finite difference {numeric:.9}"
            ));
        }
    };
    let names = names(layer);
    for (t, tensor) in params(layer).iter().enumerate() {
        for (j, &base) in tensor.iter().enumerate() {
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
    for (j, &base) in x.iter().enumerate() {
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

fn check<L: Recurrent>(name: &str, masked: bool, batch: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(name.len() as u64);
    let mut layer = Bidirectional::<L>::zeros();
    layer.for_each_param_mut(&mut |_, p| p.iter_mut().for_each(|v| *v = rng.random_range(-0.6f32..=0.6)));
    let (t, n) = (L::STEPS, L::INPUTS);
    let x = uniform(&mut rng, n * batch);
    let w = uniform(&mut rng, Bidirectional::<L>::OUTPUTS * batch);
    let ids = masked.then(|| padded_ids(&mut rng, t, batch));
    let mask = ids.as_deref();

    let want = expected(&layer, &x, batch, mask);
    assert_eq!(
        forward_with(&layer, &x, batch, mask, true),
        want,
        "{name}: training forward"
    );
    let infer = forward_with(&layer, &x, batch, mask, false);
    for (i, (a, b)) in infer.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-6 + 1e-5 * b.abs(),
            "{name}: inference [{i}]: {a} vs {b}"
        );
    }

    // Buffers that served a larger batch first, as in training.
    let mut buf = Buffers::default();
    let big = uniform(&mut rng, n * (batch + 3));
    let wb = uniform(&mut rng, Bidirectional::<L>::OUTPUTS * (batch + 3));
    let big_ids = masked.then(|| padded_ids(&mut rng, t, batch + 3));
    backward(&layer, &big, batch + 3, &wb, big_ids.as_deref(), &mut buf);
    let (grads, dx) = backward(&layer, &x, batch, &w, mask, &mut buf);
    if let Some(ids) = mask {
        for (j, &g) in dx.iter().enumerate() {
            if ids[j / L::FEATURES] == 0 {
                assert_eq!(g, 0.0, "{name}: ∂L/∂x[{j}] at a padded step");
            }
        }
    }
    let failures = finite_differences(&mut layer, &x, batch, &w, mask, &grads, &dx);
    assert!(
        failures.is_empty(),
        "{name}: {} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn bidirectional_lstm_last_step() {
    check::<LSTM<5, 3, 4, false, 16>>("lstm", false, 3);
}

#[test]
fn bidirectional_lstm_sequences() {
    check::<LSTM<5, 3, 4, true, 16>>("lstm_sequences", false, 3);
}

#[test]
fn bidirectional_gru_sequences() {
    check::<GRU<5, 3, 4, true, 12>>("gru_sequences", false, 3);
}

#[test]
fn bidirectional_simple_rnn_last_step() {
    check::<SimpleRNN<5, 3, 4, false>>("simple_rnn", false, 3);
}

#[test]
fn bidirectional_lstm_masked_last_step() {
    check::<LSTM<6, 3, 4, false, 16>>("lstm_masked", true, 4);
}

#[test]
fn bidirectional_lstm_masked_sequences() {
    check::<LSTM<6, 3, 4, true, 16>>("lstm_masked_sequences", true, 4);
}

#[test]
fn bidirectional_gru_masked_sequences() {
    check::<GRU<6, 3, 4, true, 12>>("gru_masked_sequences", true, 4);
}

#[test]
fn bidirectional_names_sizes_and_init() {
    type B = Bidirectional<GRU<5, 3, 4, true, 12>>;
    assert_eq!(B::PARAMS, 2 * (12 * 3 + 12 * 4 + 24));
    assert_eq!((B::INPUTS, B::OUTPUTS), (15, 5 * 8));
    assert_eq!(
        names(&B::zeros()),
        [
            "forward_gru.kernel",
            "forward_gru.recurrent_kernel",
            "forward_gru.bias",
            "backward_gru.kernel",
            "backward_gru.recurrent_kernel",
            "backward_gru.bias",
        ]
    );
    assert_eq!(
        names(&Bidirectional::<SimpleRNN<2, 1, 1, false>>::zeros())[3],
        "backward_simple_rnn.kernel"
    );
    // Two independent draws, forward first, as Keras builds them.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let layer = Bidirectional::<LSTM<2, 3, 4, false, 16>>::new(&mut rng);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let first = LSTM::<2, 3, 4, false, 16>::new(&mut rng);
    let second = LSTM::<2, 3, 4, false, 16>::new(&mut rng);
    assert_eq!(params(&layer.forward), params(&first));
    assert_eq!(params(&layer.backward), params(&second));
}
