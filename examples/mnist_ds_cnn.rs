//! DS-CNN (MLPerf Tiny's keyword-spotting model) on the 10,000 real MNIST digits of
//! `mnist_cnn` (first 8,000 train, last 2,000 test).
//!
//! The model is `ds_cnn` of mlcommons/tiny (`benchmark/training/keyword_spotting/keras_model.py`,
//! declared as is in `tests/common/mlperf_tiny_nets.rs`) with its input changed from 49×10×1
//! MFCCs to 28×28×1 digits and its output from 12 keywords to 10 digits: a Conv2D(64) with a
//! stride of 2 (28 → 14) → BatchNormalization → relu → Dropout(0.2), four depthwise-separable
//! blocks (DepthwiseConv2D 3×3 → BatchNormalization → relu → Conv2D(64, 1×1) →
//! BatchNormalization → relu), Dropout(0.4), AveragePooling2D over the whole 14×14 map, Flatten
//! and Dense(10, softmax). The convolutions keep the reference's `kernel_regularizer =
//! l2(1e-4)`. The reference's first kernel is 10×4 (time × frequency); a digit has no such
//! asymmetry, so it is 5×5 here.
//!
//! Adam (Keras's defaults) at 1e-3, then 1e-4 for the last epochs, sparse categorical
//! cross-entropy, batches of 32, and BatchNormalization momentum 0.9: ResNet-8's recipe on the
//! same digits (`mnist_resnet`, whose doc and BENCHMARKS.md say why), which lets the moving
//! statistics that inference uses settle. `benches/peers/mnist_tiny_accuracy.py ds_cnn` trains
//! the same model the same way in Keras on the digits this example exports:
//!
//! ```text
//! cargo run --release --example mnist_ds_cnn -- 1 --export-digits target/mnist-digits
//! benches/peers/.venv/bin/python benches/peers/mnist_tiny_accuracy.py ds_cnn target/mnist-digits
//! ```

#[path = "common/digit_classifier.rs"]
mod digit_classifier;
#[path = "common/mnist_digits.rs"]
mod mnist_digits;

use rand::SeedableRng;

const EPOCHS: usize = 6;
const LOW_EPOCHS: usize = 2;

dl::network! {
    /// DS-CNN over 28×28×1 digits.
    pub struct MnistDsCnn {
        input: [28, 28, 1],
        Conv2D(64, (5, 5), strides = (2, 2), padding = same, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Dropout(rate = 0.2),
        DepthwiseConv2D(depth_multiplier = 1, kernel_size = (3, 3), padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(64, (1, 1), padding = same, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(depth_multiplier = 1, kernel_size = (3, 3), padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(64, (1, 1), padding = same, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(depth_multiplier = 1, kernel_size = (3, 3), padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(64, (1, 1), padding = same, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(depth_multiplier = 1, kernel_size = (3, 3), padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(64, (1, 1), padding = same, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Dropout(rate = 0.4),
        AveragePooling2D(pool_size = (14, 14)),
        Flatten,
        Dense(10, softmax),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (seed, digits) = mnist_digits::from_command_line()?;
    let mut net = MnistDsCnn::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    println!("{}", net.summary());
    digit_classifier::train_and_test(&mut net, &digits, seed, EPOCHS, LOW_EPOCHS)
}
