//! A stack of 3 layers (2 Dense(8, relu) and a Dense(1, sigmoid) output; input 4)
//! declared with `network!`, built, run forward once and trained one Adam step on a batch of 2:
//! one point of the depth series of `benches/peers/run.sh --compile-time`, which times
//! `touch src/bin/deep3.rs && cargo build --release --bin deep3` and the same with `cargo
//! check`. deep3/50/100/200.rs differ only in the number of layers.

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    pub struct Deep3 {
        input: [4],
        Dense(8, relu),
        Dense(8, relu),
        Dense(1, sigmoid),
    }
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut net = Deep3::new(&mut rng);
    let x: Vec<SVector<f32, 4>> = (0..2).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    println!("deep3: {}", net.forward(&x[0])[0]);
    let mut trainer = Trainer::<Deep3, _, _>::new(BinaryCrossEntropy::default(), Adam::default(), None);
    let stats = trainer.train_on_batch(&mut net, &x, &[0.0, 1.0]).expect("a finite step");
    println!("deep3 loss: {}", stats.loss());
}
