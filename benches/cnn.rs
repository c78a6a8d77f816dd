//! The tutorial CNN: single-image latency, training throughput (one Adam step on 32 images, plain
//! and in two data-parallel shards) and batch-1024 inference.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct MnistCnn {
        input: [28, 28, 1],
        Conv2D(32, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Conv2D(64, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Flatten,
        Dense(64, relu),
        Dense(10, softmax),
    }
}

fn cnn(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut net = MnistCnn::new(&mut rng);
    let x: Vec<SVector<f32, 784>> = (0..1024).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    let y: Vec<usize> = (0..32).map(|i| i % 10).collect();
    let mut g = c.benchmark_group("mnist_cnn");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1));
    g.bench_function("forward_1", |b| b.iter(|| net.forward(black_box(&x[0]))));
    g.throughput(Throughput::Elements(1024));
    g.bench_function("predict_1024", |b| b.iter(|| net.predict(black_box(&x))));
    let mut trainer =
        Trainer::<MnistCnn, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    g.throughput(Throughput::Elements(32));
    g.bench_function("train_batch32", |b| {
        b.iter(|| trainer.train_on_batch(&mut net, black_box(&x[..32]), &y).unwrap())
    });
    // Data-parallel steps: two shards of 16, on one thread (the overhead of sharding), on a
    // pool of two and on rayon's global pool, which `Parallel::new(2)` uses (threads0); the
    // speed-up is meaningful only when both cores are idle.
    for threads in [1, 2, 0] {
        let mut trainer =
            Trainer::<MnistCnn, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None)
                .with_parallel(Parallel::new(2).with_threads(threads))
                .unwrap();
        g.bench_function(format!("train_batch32_shards2_threads{threads}"), |b| {
            b.iter(|| trainer.train_on_batch(&mut net, black_box(&x[..32]), &y).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, cnn);
criterion_main!(benches);
