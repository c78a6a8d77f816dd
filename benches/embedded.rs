//! Single-sample latency of a network embedded with `#[weights]` (the `no_std` kernels of
//! `dl-core`) beside the same network loaded into the trainable struct, on the weights
//! `examples/train_and_save.rs` writes.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct Trainable { input: [10], Dense(64, relu), Dense(64, relu), Dense(1, sigmoid) }
}

dl::network! {
    #[weights("../examples/models/tutorial_mlp.safetensors")]
    struct Embedded { input: [10], Dense(64, relu), Dense(64, relu), Dense(1, sigmoid) }
}

static NET: Embedded = Embedded::EMBEDDED;

fn tutorial_mlp(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut trainable = Trainable::new(&mut rng);
    trainable
        .load(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/models/tutorial_mlp.safetensors"
        ))
        .expect("the example's weight file");
    let x: [f32; 10] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
    let xv = SVector::from(x);
    let mut g = c.benchmark_group("embedded_tutorial_mlp");
    g.bench_function("embedded_forward_1", |b| b.iter(|| NET.forward(black_box(&x))));
    g.bench_function("trainable_forward_1", |b| {
        b.iter(|| trainable.forward(black_box(&xv)))
    });
    g.finish();
}

criterion_group!(benches, tutorial_mlp);
criterion_main!(benches);
