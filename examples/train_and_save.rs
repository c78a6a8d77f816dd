//! Trains the tutorial MLP and saves it for `embedded_inference`, which compiles the file into
//! a heap-free, `no_std`-ready network:
//!
//! ```sh
//! cargo run --release --example train_and_save      # writes examples/models/tutorial_mlp.safetensors
//! cargo run --release --example embedded_inference  # rebuilt with the new weights
//! ```

#[path = "common/tutorial_data.rs"]
mod tutorial_data;

use dl::prelude::*;
use rand::SeedableRng;
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

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/models/tutorial_mlp.safetensors"
);

fn main() -> Result<(), Error> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let (x, y) = tutorial_data::data(10_000, &mut rng);
    let x: Vec<SVector<f32, 10>> = x.into_iter().map(SVector::from).collect();
    let (train_x, test_x) = x.split_at(8_000);
    let (train_y, test_y) = y.split_at(8_000);

    let mut net = Tutorial::new(&mut rng);
    net.fit(
        train_x,
        train_y,
        Fit {
            loss: BinaryCrossEntropy::default(),
            optimizer: Adam::default(),
            epochs: 10,
            batch_size: 32,
            ..Fit::default()
        },
    )?;
    let result = net.evaluate(test_x, test_y, &BinaryCrossEntropy::default())?;
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));

    net.save(MODEL)?;
    println!(
        "saved {} parameters ({} bytes) to {MODEL}",
        Tutorial::PARAMS,
        Tutorial::PARAM_BYTES
    );
    Ok(())
}
