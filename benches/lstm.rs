//! The tutorial's text classifier: single-sequence latency, training throughput (one Adam step on
//! 32 sequences, plain and in two data-parallel shards) and batch-1024 inference.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct TextLstm {
        input: tokens[100],
        Embedding(10000, 64),
        LSTM(64),
        Dense(64, relu),
        Dense(10, softmax),
    }
}

fn lstm(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut net = TextLstm::new(&mut rng);
    let x: Vec<Tokens<100, 10000>> = (0..1024)
        .map(|_| Tokens::new(std::array::from_fn(|_| rng.random_range(0..10000))).unwrap())
        .collect();
    let y: Vec<usize> = (0..32).map(|i| i % 10).collect();
    let mut g = c.benchmark_group("text_lstm");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1));
    g.bench_function("forward_1", |b| b.iter(|| net.forward(black_box(&x[0]))));
    g.throughput(Throughput::Elements(1024));
    g.bench_function("predict_1024", |b| b.iter(|| net.predict(black_box(&x))));
    let mut trainer =
        Trainer::<TextLstm, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    g.throughput(Throughput::Elements(32));
    g.bench_function("train_batch32", |b| {
        b.iter(|| trainer.train_on_batch(&mut net, black_box(&x[..32]), &y).unwrap())
    });
    // Data-parallel steps: two shards of 16, on one thread (the overhead of sharding), on a
    // pool of two and on rayon's global pool, which `Parallel::new(2)` uses (threads0); the
    // speed-up is meaningful only when both cores are idle.
    for threads in [1, 2, 0] {
        let mut trainer =
            Trainer::<TextLstm, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None)
                .with_parallel(Parallel::new(2).with_threads(threads))
                .unwrap();
        g.bench_function(format!("train_batch32_shards2_threads{threads}"), |b| {
            b.iter(|| trainer.train_on_batch(&mut net, black_box(&x[..32]), &y).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, lstm);
criterion_main!(benches);
