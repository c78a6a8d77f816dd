//! Training and inference speed of MLPerf Tiny's DS-CNN (keyword spotting, 49×10×1 MFCCs, 12
//! classes) and MobileNetV1 α = 0.25 (visual wake words, 96×96×3, 2 classes), declared as the
//! reference Keras code builds them (`tests/common/mlperf_tiny_nets.rs`: l2(1e-4) kernel
//! regularizers, he_normal initializers, DS-CNN's dropout 0.2 and 0.4): one Adam step on 32
//! samples, a single-sample forward and batch-1024 inference. `benches/peers/run.sh --tiny`
//! times the same models in Keras and PyTorch beside these.

#[path = "../tests/common/mlperf_tiny_nets.rs"]
mod mlperf_tiny_nets;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// DS-CNN and MobileNetV1 only: ResNet-8 is `benches/resnet.rs`'s, the autoencoder has no
/// depthwise layer.
macro_rules! trainable_only {
    (ResNet8, $($rest:tt)*) => {};
    (AutoEncoder, $($rest:tt)*) => {};
    ($train:ident, $embedded:ident, $file:tt, { $($body:tt)* }) => {
        dl::network! { pub struct $train { $($body)* } }
    };
}
with_mlperf_tiny_nets!(trainable_only, 0.2, 0.4);

/// `<model>/{train_batch32, forward_1, predict_1024}` for a network of `classes` outputs.
macro_rules! bench_model {
    ($c:ident, $name:literal, $net:ident, $classes:literal) => {{
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut net = $net::new(&mut rng);
        let x: Vec<_> = (0..1024)
            .map(|_| SVector::from_fn(|_, _| rng.random::<f32>()))
            .collect();
        let y: Vec<usize> = (0..32).map(|i| i % $classes).collect();
        let mut trainer =
            Trainer::<$net, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
        let mut g = $c.benchmark_group($name);
        g.sample_size(10);
        g.throughput(Throughput::Elements(32));
        g.bench_function("train_batch32", |b| {
            b.iter(|| trainer.train_on_batch(&mut net, black_box(&x[..32]), &y).unwrap())
        });
        g.throughput(Throughput::Elements(1));
        g.bench_function("forward_1", |b| b.iter(|| net.forward(black_box(&x[0]))));
        g.throughput(Throughput::Elements(1024));
        g.bench_function("predict_1024", |b| b.iter(|| net.predict(black_box(&x))));
        g.finish();
    }};
}

fn tiny(c: &mut Criterion) {
    bench_model!(c, "ds_cnn", DsCnn, 12);
    bench_model!(c, "mobilenet_v1", MobileNetV1, 2);
}

criterion_group!(benches, tiny);
criterion_main!(benches);
