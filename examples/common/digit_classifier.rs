//! How the MLPerf Tiny classifiers on the MNIST digits train (ResNet-8, DS-CNN, MobileNetV1),
//! the same in each example and in the Keras script each is compared with: Adam at Keras's
//! default 1e-3, then `LOW_RATE` for the last epochs, sparse categorical cross-entropy, batches
//! of 32 shuffled with the seed. The drop lets the moving statistics of BatchNormalization,
//! which inference uses, settle (`mnist_resnet`'s doc and BENCHMARKS.md say why).

use dl::prelude::*;

use crate::mnist_digits::{self, Digits};

/// Adam's learning rate for the last epochs.
pub const LOW_RATE: f32 = 1e-4;

/// Trains `net` on the training digits for `epochs` epochs, the last `low_epochs` of them at
/// `LOW_RATE`, and prints its history, then its test loss and accuracy (last).
pub fn train_and_test<M>(
    net: &mut M,
    digits: &Digits,
    seed: u64,
    epochs: usize,
    low_epochs: usize,
) -> Result<(), Box<dyn std::error::Error>>
where
    M: Model<Input = SVector<f32, 784>, Head = dl::Units<10>> + Send + Sync,
{
    // Keras's `LearningRateScheduler(lambda epoch, lr: LOW_RATE if epoch >= … else lr)`: the
    // function sees the epoch's 0-based index, as in Keras.
    let low_rate = LearningRateScheduler::new(move |epoch, rate| {
        if epoch >= epochs - low_epochs {
            LOW_RATE
        } else {
            rate
        }
    });
    let loss = SparseCategoricalCrossEntropy::default();
    let start = std::time::Instant::now();
    let history = dl::train::fit(
        net,
        &digits.train_x,
        &digits.train_y,
        Fit {
            loss,
            optimizer: Adam::default(),
            epochs,
            batch_size: 32,
            seed,
            callbacks: vec![Box::new(low_rate)],
            ..Fit::default()
        },
    )?;
    mnist_digits::training_report::print(&history, start.elapsed(), epochs * digits.train_x.len());
    let result = dl::train::evaluate(net, &digits.test_x, &digits.test_y, &loss)?;
    println!("test loss: {:.4}", result.loss);
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));
    Ok(())
}
