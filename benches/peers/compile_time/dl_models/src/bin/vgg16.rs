//! VGG-16 (Keras's `VGG16(input_shape = (32, 32, 3), classes = 10)`: 13 Conv2D, 5 MaxPooling2D,
//! 3 Dense) declared with `network!`, built, run forward once and trained one Adam step on a
//! batch of 2. `benches/peers/run.sh --compile-time` times `touch src/bin/vgg16.rs && cargo build
//! --release --bin vgg16` and the same with `cargo check`.

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    pub struct Vgg16 {
        input: [32, 32, 3],
        Conv2D(64, (3, 3), relu, padding = same),
        Conv2D(64, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Conv2D(128, (3, 3), relu, padding = same),
        Conv2D(128, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Conv2D(256, (3, 3), relu, padding = same),
        Conv2D(256, (3, 3), relu, padding = same),
        Conv2D(256, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Conv2D(512, (3, 3), relu, padding = same),
        Conv2D(512, (3, 3), relu, padding = same),
        Conv2D(512, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Conv2D(512, (3, 3), relu, padding = same),
        Conv2D(512, (3, 3), relu, padding = same),
        Conv2D(512, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Flatten,
        Dense(4096, relu),
        Dense(4096, relu),
        Dense(10, softmax),
    }
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut net = Vgg16::new(&mut rng);
    let x: Vec<SVector<f32, 3072>> = (0..2).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    println!("vgg16: {}", net.forward(&x[0]).sum());
    let mut trainer = Trainer::<Vgg16, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    let stats = trainer.train_on_batch(&mut net, &x, &[1, 2]).expect("a finite step");
    println!("vgg16 loss: {}", stats.loss());
}
