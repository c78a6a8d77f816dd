//! The Keras tutorial's CNN on 10,000 real MNIST digits (first 8,000 train, last 2,000 test):
//! Conv2D(32, 3×3, relu) → MaxPooling2D(2×2) → Conv2D(64, 3×3, relu) → MaxPooling2D(2×2) →
//! Flatten → Dense(64, relu) → Dense(10, softmax); Adam, sparse categorical cross-entropy,
//! 10 epochs of batch 32.

use dl::prelude::*;
use rand::SeedableRng;

dl::network! {
    /// The tutorial's digit classifier, over 28×28×1 images.
    pub struct MnistCnn {
        input: [28, 28, 1],
        Conv2D(32, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Conv2D(64, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Flatten,
        Dense(64, relu),
        Dense(10, softmax),
    }
}

fn main() -> Result<(), Error> {
    let seed = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/mnist");
    let (x, y) = dl::data::mnist::load(
        format!("{dir}/mnist-10k-images-idx3-ubyte.gz"),
        format!("{dir}/mnist-10k-labels-idx1-ubyte.gz"),
    )?;
    let (train_x, test_x) = x.split_at(8_000);
    let (train_y, test_y) = y.split_at(8_000);

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut net = MnistCnn::new(&mut rng);
    println!("{}", net.summary());

    let start = std::time::Instant::now();
    let history = net.fit(
        train_x,
        train_y,
        Fit {
            loss: SparseCategoricalCrossEntropy::default(),
            optimizer: Adam::default(),
            epochs: 10,
            batch_size: 32,
            seed,
            ..Fit::default()
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    println!("{history}");
    println!(
        "training: {seconds:.1} s ({:.0} samples/s)",
        10.0 * 8_000.0 / seconds
    );

    let result = net.evaluate(test_x, test_y, &SparseCategoricalCrossEntropy::default())?;
    println!("test loss: {:.4}", result.loss);
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));
    Ok(())
}
