//! Single-sample latency and training throughput of the tutorial MLP and the MNIST MLP.
//!
//! `train_batch32` is one Adam step on 32 samples (`Trainer::train_on_batch`, the same step `fit`
//! takes); `benches/peers/` times the same models in Keras and PyTorch.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct TutorialMlp {
        input: [10],
        Dense(64, relu),
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct MnistMlp {
        input: [784],
        Dense(128, relu),
        Dense(10, softmax),
    }
}

fn tutorial(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut net = TutorialMlp::new(&mut rng);
    let x: Vec<SVector<f32, 10>> = (0..1024)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y: Vec<f32> = (0..32).map(|i| (i % 2) as f32).collect();
    let mut g = c.benchmark_group("tutorial_mlp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("forward_1", |b| b.iter(|| net.forward(black_box(&x[0]))));
    g.throughput(Throughput::Elements(1024));
    g.bench_function("predict_1024", |b| b.iter(|| net.predict(black_box(&x))));
    let mut trainer = Trainer::<TutorialMlp, _, _>::new(BinaryCrossEntropy::default(), Adam::default(), None);
    g.throughput(Throughput::Elements(32));
    g.bench_function("train_batch32", |b| {
        b.iter(|| trainer.train_on_batch(&mut net, black_box(&x[..32]), &y).unwrap())
    });
    g.finish();
}

fn mnist(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut net = MnistMlp::new(&mut rng);
    let x: Vec<SVector<f32, 784>> = (0..1024)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(0.0..1.0)))
        .collect();
    let y: Vec<usize> = (0..32).map(|i| i % 10).collect();
    let mut g = c.benchmark_group("mnist_mlp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("forward_1", |b| b.iter(|| net.forward(black_box(&x[0]))));
    g.throughput(Throughput::Elements(1024));
    g.bench_function("predict_1024", |b| b.iter(|| net.predict(black_box(&x))));
    let mut trainer =
        Trainer::<MnistMlp, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    g.throughput(Throughput::Elements(32));
    g.bench_function("train_batch32", |b| {
        b.iter(|| trainer.train_on_batch(&mut net, black_box(&x[..32]), &y).unwrap())
    });
    g.finish();
}

criterion_group!(benches, tutorial, mnist);
criterion_main!(benches);
