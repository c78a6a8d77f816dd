//! dfdx 0.13 (CPU, one thread) timings of the two MLPs of benches/mlp.rs, for benches/peers.
//!
//! Same protocol as torch_bench.py: training = a plain loop of batch-32 Adam steps (forward on
//! logits with a tape, `binary_cross_entropy_with_logits_loss` / `cross_entropy_with_logits_loss`
//! on one-hot targets, since dfdx has no sparse cross-entropy, `backward`, `Adam::update`,
//! `zero_grads`) cycling through 8,192 random samples, first with denormals as they are, then
//! after `dfdx::flush_denormals_to_zero()`; forward = one sample through the model plus
//! sigmoid/softmax, no tape; predict_1024 = 1024 samples in one call and in chunks of 256 and 64.
//! Each number is the median of 11 timed repeats of about 0.2 s after 0.3 s of warm-up.
//!
//! Run by `benches/peers/run.sh --dfdx` (pinned with taskset, RAYON_NUM_THREADS=1: dfdx's gemm
//! calls run on rayon's pool): `dfdx-peer --out results/dfdx.json`.

use std::hint::black_box;
use std::time::Instant;

use dfdx::optim::Adam;
use dfdx::prelude::*;
use serde_json::{Map, Value, json};

const BATCH: usize = 32;
const PREDICT: usize = 1024;
const DATASET: usize = 8192;
const REPEATS: usize = 11;
const BLOCK_S: f64 = 0.2;
const WARMUP_S: f64 = 0.3;

/// Median seconds per call of `f` over REPEATS blocks of about BLOCK_S seconds, and the samples.
fn time_calls(mut f: impl FnMut()) -> (f64, Vec<f64>, usize) {
    let t0 = Instant::now();
    let mut calls = 0usize;
    while t0.elapsed().as_secs_f64() < WARMUP_S || calls < 3 {
        f();
        calls += 1;
    }
    let per = t0.elapsed().as_secs_f64() / calls as f64;
    let n = ((BLOCK_S / per) as usize).max(1);
    let mut samples: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_secs_f64() / n as f64
        })
        .collect();
    let out = samples.clone();
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (samples[samples.len() / 2], out, n)
}

fn record(per_call_s: f64, samples: Vec<f64>, n: usize, per_call_samples: usize) -> Value {
    json!({
        "samples_per_s": per_call_samples as f64 / per_call_s,
        "us": per_call_s * 1e6,
        "call_us": samples.iter().map(|s| s * 1e6).collect::<Vec<_>>(),
        "calls_per_repeat": n,
    })
}

fn best(variants: &Map<String, Value>, key: &str, max: bool) -> (String, f64) {
    let mut it = variants.iter().map(|(k, v)| (k.clone(), v[key].as_f64().unwrap()));
    let first = it.next().unwrap();
    it.fold(first, |a, b| if (b.1 > a.1) == max { b } else { a })
}

/// Times one MLP. `$act` is the output activation applied for inference (`sigmoid` or
/// `softmax`), `$loss` the logits loss, `$x` draws one input tensor of a given shape, `$y`
/// makes the batch-32 targets from a batch index.
macro_rules! bench_mlp {
    ($name:literal, $dev:expr, $body:ty, $in:literal, $out:literal, $x:expr, $y:expr, $loss:ident, $act:expr) => {{
        let dev: &Cpu = $dev;
        let mut train = Map::new();
        for flush in [false, true] {
            if flush {
                dfdx::flush_denormals_to_zero();
            } else {
                dfdx::keep_denormals();
            }
            let mut model = dev.build_module::<$body, f32>();
            let mut grads = Some(model.alloc_grads());
            let mut opt = Adam::new(&model, Default::default());
            let xs: Vec<Tensor<Rank2<BATCH, $in>, f32, Cpu>> =
                (0..DATASET / BATCH).map(|_| $x(dev, (Const::<BATCH>, Const::<$in>))).collect();
            let ys: Vec<Tensor<Rank2<BATCH, $out>, f32, Cpu>> = (0..DATASET / BATCH).map(|i| $y(dev, i)).collect();
            let mut i = 0;
            let mut last = 0.0f32;
            let (med, samples, n) = time_calls(|| {
                let logits = model.forward_mut(xs[i].clone().traced(grads.take().unwrap()));
                let loss = $loss(logits, ys[i].clone());
                last = loss.array();
                let mut g = loss.backward();
                opt.update(&mut model, &g).unwrap();
                model.zero_grads(&mut g);
                grads = Some(g);
                i = (i + 1) % xs.len();
            });
            assert!(last.is_finite());
            let label = if flush {
                "plain loop, Adam, flush_denormals_to_zero()"
            } else {
                "plain loop, Adam, keep_denormals()"
            };
            train.insert(label.into(), record(med, samples, n, BATCH));
        }
        // Inference with denormals flushed (as left by the last training variant).
        let model = dev.build_module::<$body, f32>();
        let x1: Tensor<Rank1<$in>, f32, Cpu> = $x(dev, (Const::<$in>,));
        let (med, samples, n) = time_calls(|| {
            black_box($act(model.forward(black_box(x1.clone())), 0));
        });
        let mut forward = Map::new();
        forward.insert("model.forward(x) (no tape)".into(), record(med, samples, n, 1));
        let xb: Tensor<Rank2<PREDICT, $in>, f32, Cpu> = $x(dev, (Const::<PREDICT>, Const::<$in>));
        let mut predict = Map::new();
        let (med, samples, n) = time_calls(|| {
            black_box($act(model.forward(black_box(xb.clone())), 1));
        });
        predict.insert("model.forward(x) (no tape), one call".into(), record(med, samples, n, PREDICT));
        macro_rules! chunked {
            ($c:literal) => {{
                let parts: Vec<Tensor<Rank2<$c, $in>, f32, Cpu>> =
                    (0..PREDICT / $c).map(|_| $x(dev, (Const::<$c>, Const::<$in>))).collect();
                let (med, samples, n) = time_calls(|| {
                    let outs: Vec<_> = parts.iter().map(|p| $act(model.forward(p.clone()), 1)).collect();
                    black_box(outs);
                });
                predict.insert(
                    format!("model.forward(x) (no tape), chunks of {}", $c),
                    record(med, samples, n, PREDICT),
                );
            }};
        }
        chunked!(256);
        chunked!(64);
        for (k, v) in train.iter().chain(&forward).chain(&predict) {
            let (sps, us) = (v["samples_per_s"].as_f64().unwrap(), v["us"].as_f64().unwrap());
            eprintln!("  {} {k}: {sps:.0} samples/s, {us:.2} µs per call", $name);
        }
        let (train_path, train_sps) = best(&train, "samples_per_s", true);
        let (fwd_path, fwd_us) = best(&forward, "us", false);
        let (pred_path, pred_sps) = best(&predict, "samples_per_s", true);
        json!({
            "train_samples_per_s": train_sps,
            "train_path": train_path,
            "forward_us": fwd_us,
            "forward_path": fwd_path,
            "predict_samples_per_s": pred_sps,
            "predict_path": pred_path,
            "train_variants": train,
            "forward_variants": forward,
            "predict_variants": predict,
        })
    }};
}

type TutorialBody = (Linear<10, 64>, ReLU, Linear<64, 64>, ReLU, Linear<64, 1>);
type MnistBody = (Linear<784, 128>, ReLU, Linear<128, 10>);

fn main() {
    let mut out_path = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out_path = args.next(),
            _ => panic!("usage: dfdx-peer --out FILE"),
        }
    }
    let out_path = out_path.expect("usage: dfdx-peer --out FILE");
    let started = Instant::now();
    let dev = Cpu::seed_from_u64(0);
    let mut models = Map::new();

    let t = Instant::now();
    let mut m = bench_mlp!(
        "tutorial_mlp",
        &dev,
        TutorialBody,
        10,
        1,
        normal,
        |d: &Cpu, i: usize| d.tensor_from_vec(
            (0..BATCH).map(|j| ((i + j) % 2) as f32).collect(),
            (Const::<BATCH>, Const::<1>)
        ),
        binary_cross_entropy_with_logits_loss,
        sigmoid_out
    );
    m["seconds"] = json!(t.elapsed().as_secs_f64());
    models.insert("tutorial_mlp".into(), m);

    let t = Instant::now();
    let mut m = bench_mlp!(
        "mnist_mlp",
        &dev,
        MnistBody,
        784,
        10,
        uniform,
        |d: &Cpu, i: usize| {
            let mut v = vec![0.0f32; BATCH * 10];
            for j in 0..BATCH {
                v[j * 10 + (i * 7 + j) % 10] = 1.0;
            }
            d.tensor_from_vec(v, (Const::<BATCH>, Const::<10>))
        },
        cross_entropy_with_logits_loss,
        softmax_last
    );
    m["seconds"] = json!(t.elapsed().as_secs_f64());
    models.insert("mnist_mlp".into(), m);

    let result = json!({
        "framework": "dfdx",
        "label": "dfdx 0.13.0",
        "versions": {"dfdx": "0.13.0"},
        "threads": {
            "rayon_threads": rayon::current_num_threads(),
            "RAYON_NUM_THREADS": std::env::var("RAYON_NUM_THREADS").ok(),
        },
        "batch": BATCH,
        "predict_batch": PREDICT,
        "seconds": started.elapsed().as_secs_f64(),
        "models": models,
    });
    std::fs::write(&out_path, serde_json::to_string_pretty(&result).unwrap()).unwrap();
    eprintln!("wrote {out_path} ({:.0} s)", started.elapsed().as_secs_f64());
}

fn normal<S: Shape>(d: &Cpu, s: S) -> Tensor<S, f32, Cpu> {
    d.sample_normal_like(&s)
}

fn uniform<S: Shape>(d: &Cpu, s: S) -> Tensor<S, f32, Cpu> {
    d.sample_uniform_like(&s)
}

fn sigmoid_out<S: Shape>(y: Tensor<S, f32, Cpu>, _axis: usize) -> Tensor<S, f32, Cpu> {
    y.sigmoid()
}

/// Softmax over the last axis (the classes) of a rank-1 or rank-2 output.
fn softmax_last<S: Shape>(y: Tensor<S, f32, Cpu>, _axis: usize) -> Tensor<S, f32, Cpu> {
    y.softmax::<S::LastAxis>()
}
