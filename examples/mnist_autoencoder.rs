//! MLPerf Tiny's anomaly-detection autoencoder reconstructing the 10,000 real MNIST digits of
//! `mnist_cnn` (first 8,000 train, last 2,000 test), flattened to 784 pixels.
//!
//! The model is `get_model` of mlcommons/tiny (`benchmark/training/anomaly_detection/
//! keras_model.py`, declared as is in `tests/common/mlperf_tiny_nets.rs`) with 784 inputs and
//! outputs instead of 640: four Dense(128) → BatchNormalization → relu, a Dense(8) bottleneck
//! with the same, four more Dense(128) → BatchNormalization → relu, and a linear Dense(784).
//! The reference's training is kept too: Adam (Keras's defaults), mean squared error between the
//! input and its reconstruction; its 100 epochs of batch 512 on 640-feature frames become
//! `EPOCHS` epochs of batch 32 on 8,000 digits, so that the example runs in CI's time.
//!
//! It prints the test digits' reconstruction error last (`test mse: X`, lower is better).
//! `benches/peers/mnist_tiny_accuracy.py autoencoder` trains the same model the same way in
//! Keras on the digits this example exports:
//!
//! ```text
//! cargo run --release --example mnist_autoencoder -- 1 --export-digits target/mnist-digits
//! benches/peers/.venv/bin/python benches/peers/mnist_tiny_accuracy.py autoencoder target/mnist-digits
//! ```

#[path = "common/mnist_digits.rs"]
mod mnist_digits;

use dl::prelude::*;
use rand::SeedableRng;

const EPOCHS: usize = 10;

dl::network! {
    /// The anomaly-detection autoencoder over flattened 28×28 digits.
    pub struct MnistAutoEncoder {
        input: [784],
        Dense(128),
        BatchNormalization(),
        Activation(relu),
        Dense(128),
        BatchNormalization(),
        Activation(relu),
        Dense(128),
        BatchNormalization(),
        Activation(relu),
        Dense(128),
        BatchNormalization(),
        Activation(relu),
        Dense(8),
        BatchNormalization(),
        Activation(relu),
        Dense(128),
        BatchNormalization(),
        Activation(relu),
        Dense(128),
        BatchNormalization(),
        Activation(relu),
        Dense(128),
        BatchNormalization(),
        Activation(relu),
        Dense(128),
        BatchNormalization(),
        Activation(relu),
        Dense(784),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (seed, digits) = mnist_digits::from_command_line()?;
    let mut net = MnistAutoEncoder::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    println!("{}", net.summary());
    let start = std::time::Instant::now();
    // The targets are the inputs.
    let history = net.fit(
        &digits.train_x,
        &digits.train_x,
        Fit {
            loss: MeanSquaredError,
            optimizer: Adam::default(),
            epochs: EPOCHS,
            batch_size: 32,
            seed,
            ..Fit::default()
        },
    )?;
    mnist_digits::training_report::print(&history, start.elapsed(), EPOCHS * digits.train_x.len());
    let result = net.evaluate(&digits.test_x, &digits.test_x, &MeanSquaredError)?;
    println!("test mse: {:.5}", result.loss);
    Ok(())
}
