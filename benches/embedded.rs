//! Single-sample latency of a network embedded with `#[weights]` (the `no_std` kernels of
//! `dl-core`) beside the same network loaded into the trainable struct, on the weights
//! `examples/train_and_save.rs` writes; and of the four MLPerf Tiny reference models embedded
//! (`tests/common/mlperf_tiny_nets.rs`), each in its scratch, which
//! `benches/peers/embedded_tiny.sh` sets beside TensorFlow Lite Micro and LiteRT.

#[path = "../tests/common/mlperf_tiny_nets.rs"]
mod mlperf_tiny_nets;

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

macro_rules! embedded_only {
    ($train:ident, $embedded:ident, $file:tt, { $($body:tt)* }) => {
        dl::network! { #[weights($file)] pub struct $embedded { $($body)* } }
    };
}
with_mlperf_tiny_nets!(embedded_only, 0.2, 0.4);

/// `embedded_tiny/<model>`: one `forward_in` in scratch of its own (on the heap here, a `static`
/// on a device), on a seeded random input.
fn mlperf_tiny(c: &mut Criterion) {
    macro_rules! bench {
        ($g:ident, $name:literal, $net:ident, $scratch:ident, $len:literal) => {{
            let mut rng = ChaCha8Rng::seed_from_u64(2);
            let x: Box<[f32]> = (0..$len).map(|_| rng.random_range(-1.0..1.0)).collect();
            let x: &[f32; $len] = x.as_ref().try_into().unwrap();
            let mut scratch = Box::new($scratch::ZERO);
            static NET: $net = $net::EMBEDDED;
            // For `benches/peers/embedded_tiny.py`, which sets these beside TFLite Micro's arena
            // and the `.tflite` file.
            println!(
                "footprint {} param_bytes {} activation_bytes {}",
                $name,
                $net::PARAM_BYTES,
                $net::ACTIVATION_BYTES
            );
            $g.bench_function($name, |b| b.iter(|| NET.forward_in(black_box(x), &mut scratch)));
        }};
    }
    let mut g = c.benchmark_group("embedded_tiny");
    bench!(g, "ds_cnn", DsCnnEmbedded, DsCnnEmbeddedScratch, 490);
    bench!(
        g,
        "mobilenet_v1",
        MobileNetV1Embedded,
        MobileNetV1EmbeddedScratch,
        27648
    );
    bench!(g, "resnet8", ResNet8Embedded, ResNet8EmbeddedScratch, 3072);
    bench!(
        g,
        "autoencoder",
        AutoEncoderEmbedded,
        AutoEncoderEmbeddedScratch,
        640
    );
    g.finish();
}

criterion_group!(benches, tutorial_mlp, mlperf_tiny);
criterion_main!(benches);
