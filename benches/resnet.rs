//! ResNet-8 (MLPerf Tiny's image-classification model, `resnet_v1_eembc` of mlcommons/tiny with 16
//! filters) on 32×32×3 images: single-image latency, training throughput (one Adam step on 32
//! images) and batch-1024 inference; `benches/peers/` times the same model in Keras and PyTorch.
//!
//! A Conv2D(16, 3×3, same) → BatchNormalization → relu stem, then three residual stacks of 16, 32
//! and 64 filters, each two 3×3 convolutions with BatchNormalization added to the stack's input
//! and followed by relu; the second and third halve the size (32 → 16 → 8) with a stride of 2 and
//! add a strided 1×1 projection of their input. AveragePooling2D(8), Flatten, Dense(10, softmax).
//! 78,666 parameters. MLPerf's `kernel_regularizer=l2(1e-4)` and `he_normal` initialiser are left
//! out here and in the peers (dl has neither yet), so all three time the same model.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct ResNet8 {
        input: [32, 32, 3],
        Conv2D(16, (3, 3), padding = same),
        BatchNormalization,
        Activation(relu),
        Residual([
            Conv2D(16, (3, 3), padding = same), BatchNormalization, Activation(relu),
            Conv2D(16, (3, 3), padding = same), BatchNormalization,
        ]),
        Activation(relu),
        Residual(
            [Conv2D(32, (3, 3), strides = (2, 2), padding = same), BatchNormalization, Activation(relu),
             Conv2D(32, (3, 3), padding = same), BatchNormalization],
            shortcut = [Conv2D(32, (1, 1), strides = (2, 2), padding = same)],
        ),
        Activation(relu),
        Residual(
            [Conv2D(64, (3, 3), strides = (2, 2), padding = same), BatchNormalization, Activation(relu),
             Conv2D(64, (3, 3), padding = same), BatchNormalization],
            shortcut = [Conv2D(64, (1, 1), strides = (2, 2), padding = same)],
        ),
        Activation(relu),
        AveragePooling2D((8, 8)),
        Flatten,
        Dense(10, softmax),
    }
}

fn resnet(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut net = ResNet8::new(&mut rng);
    let x: Vec<SVector<f32, 3072>> = (0..1024).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    let y: Vec<usize> = (0..32).map(|i| i % 10).collect();
    let mut g = c.benchmark_group("resnet8");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1));
    g.bench_function("forward_1", |b| b.iter(|| net.forward(black_box(&x[0]))));
    g.throughput(Throughput::Elements(1024));
    g.bench_function("predict_1024", |b| b.iter(|| net.predict(black_box(&x))));
    let mut trainer =
        Trainer::<ResNet8, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    g.throughput(Throughput::Elements(32));
    g.bench_function("train_batch32", |b| {
        b.iter(|| trainer.train_on_batch(&mut net, black_box(&x[..32]), &y).unwrap())
    });
    g.finish();
}

criterion_group!(benches, resnet);
criterion_main!(benches);
