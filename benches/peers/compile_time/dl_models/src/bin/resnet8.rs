//! MLPerf Tiny's ResNet-8 (as in dl's `benches/resnet.rs`) declared with `network!`, built, run
//! forward once and trained one Adam step on a batch of 2. `benches/peers/run.sh --compile-time`
//! times `touch src/bin/resnet8.rs && cargo build --release --bin resnet8` and the same with
//! `cargo check`.

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    pub struct ResNet8 {
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

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut net = ResNet8::new(&mut rng);
    let x: Vec<SVector<f32, 3072>> = (0..2).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    println!("resnet8: {}", net.forward(&x[0]).sum());
    let mut trainer = Trainer::<ResNet8, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    let stats = trainer.train_on_batch(&mut net, &x, &[1, 2]).expect("a finite step");
    println!("resnet8 loss: {}", stats.loss());
}
