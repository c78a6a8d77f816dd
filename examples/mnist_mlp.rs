//! A 784-128-10 softmax network on 10,000 real MNIST digits (first 8,000 train, last 2,000
//! test), 10 epochs of batch 32 with Adam.

use dl::prelude::*;
use rand::SeedableRng;

dl::network! {
    /// A multi-layer perceptron over flattened 28×28 digits.
    pub struct MnistMlp {
        input: [784],
        hidden: Dense(128, relu),
        out: Dense(10, softmax),
    }
}

fn main() -> Result<(), Error> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/mnist");
    let (x, y) = dl::data::mnist::load(
        format!("{dir}/mnist-10k-images-idx3-ubyte.gz"),
        format!("{dir}/mnist-10k-labels-idx1-ubyte.gz"),
    )?;
    let (train_x, test_x) = x.split_at(8_000);
    let (train_y, test_y) = y.split_at(8_000);

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut net = MnistMlp::new(&mut rng);
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
            ..Fit::default()
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    println!("{history}");
    println!(
        "training: {seconds:.2} s ({:.0} samples/s)",
        10.0 * 8_000.0 / seconds
    );

    let result = net.evaluate(test_x, test_y, &SparseCategoricalCrossEntropy::default())?;
    if let Some(confusion) = &result.confusion {
        println!("confusion matrix (test):\n{confusion}");
    }
    println!("test loss: {:.4}", result.loss);
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));
    Ok(())
}
