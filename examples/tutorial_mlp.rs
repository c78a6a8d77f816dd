//! The Keras tutorial's first model: Dense 64 relu → Dense 64 relu → Dense 1 sigmoid, Adam,
//! binary cross-entropy, 10 epochs of batch 32.
//!
//! The data are generated: 10 standard-normal features, and a label that depends on five of them,
//! linearly and not (`1.5·x₀ − x₁ + 0.8·x₂·x₃ + sin(2·x₄) + 0.3·noise > 0`); the other five are
//! distractors. 8,000 samples train, 2,000 test. The noise flips labels near the boundary, so no
//! model reaches 1.0.

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    /// The tutorial's binary classifier.
    pub struct Tutorial {
        input: [10],
        Dense(64, relu),
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

fn normal(rng: &mut impl Rng) -> f32 {
    // Box–Muller.
    let u: f32 = rng.random_range(f32::EPSILON..1.0);
    let v: f32 = rng.random();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
}

fn data(n: usize, rng: &mut impl Rng) -> (Vec<SVector<f32, 10>>, Vec<f32>) {
    (0..n)
        .map(|_| {
            let x = SVector::<f32, 10>::from_fn(|_, _| normal(rng));
            let signal = 1.5 * x[0] - x[1] + 0.8 * x[2] * x[3] + (2.0 * x[4]).sin();
            let label = f32::from(u8::from(signal + 0.3 * normal(rng) > 0.0));
            (x, label)
        })
        .unzip()
}

fn main() -> Result<(), Error> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let (x, y) = data(10_000, &mut rng);
    let (train_x, test_x) = x.split_at(8_000);
    let (train_y, test_y) = y.split_at(8_000);

    let mut net = Tutorial::new(&mut rng);
    println!("{}", net.summary());

    let history = net.fit(
        train_x,
        train_y,
        Fit {
            loss: BinaryCrossEntropy::default(),
            optimizer: Adam::default(),
            epochs: 10,
            batch_size: 32,
            validation_split: 0.1,
            ..Fit::default()
        },
    )?;
    println!("{history}");

    let result = net.evaluate(test_x, test_y, &BinaryCrossEntropy::default())?;
    if let Some(confusion) = &result.confusion {
        println!("confusion matrix (test):\n{confusion}");
    }
    println!("test loss: {:.4}", result.loss);
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));
    Ok(())
}
