//! MobileNetV1 α = 0.25 (MLPerf Tiny's visual-wake-words model) on the 10,000 real MNIST digits
//! of `mnist_cnn` (first 8,000 train, last 2,000 test).
//!
//! The model is `mobilenet_v1` of mlcommons/tiny (`benchmark/training/visual_wake_words/
//! vww_model.py`, declared as is in `tests/common/mlperf_tiny_nets.rs`): a Conv2D(8, 3×3) stem
//! and 13 depthwise-separable blocks (DepthwiseConv2D 3×3 → BatchNormalization → relu →
//! Conv2D(1×1) → BatchNormalization → relu) of 16, 32, 32, 64, 64, 128 (six times), 256 and
//! 256 filters, AveragePooling2D over the whole map, Flatten and Dense(softmax); every Conv2D
//! has the reference's `kernel_initializer = he_normal` and `kernel_regularizer = l2(1e-4)`.
//!
//! Adapted to 28×28×1 digits and 10 classes (the reference reads 96×96×3 images into 2
//! classes): the reference halves the map five times (the stem, and the blocks into 32, 64, 128
//! and 256 filters: 96 → 48 → 24 → 12 → 6 → 3), which would leave a 28×28 digit 1×1 after the
//! fourth. Here only the first three halve it (28 → 14 → 7 → 4, `same` padding rounding 7/2
//! up); the blocks into 128 and 256 filters keep a stride of 1, so the last eight blocks work
//! on a 4×4 map and AveragePooling2D pools 4×4. Every layer and width is the reference's.
//!
//! Adam (Keras's defaults) at 1e-3, then 1e-4 for the last epochs, sparse categorical
//! cross-entropy, batches of 32, and BatchNormalization momentum 0.9: ResNet-8's recipe on the
//! same digits (`mnist_resnet`, whose doc and BENCHMARKS.md say why). `benches/peers/
//! mnist_tiny_accuracy.py mobilenet` trains the same model the same way in Keras on the digits
//! this example exports:
//!
//! ```text
//! cargo run --release --example mnist_mobilenet -- 1 --export-digits target/mnist-digits
//! benches/peers/.venv/bin/python benches/peers/mnist_tiny_accuracy.py mobilenet target/mnist-digits
//! ```

#[path = "common/digit_classifier.rs"]
mod digit_classifier;
#[path = "common/mnist_digits.rs"]
mod mnist_digits;

use rand::SeedableRng;

const EPOCHS: usize = 10;
const LOW_EPOCHS: usize = 2;

dl::network! {
    /// MobileNetV1 α = 0.25 over 28×28×1 digits.
    pub struct MnistMobileNet {
        input: [28, 28, 1],
        // 28 → 14.
        Conv2D(8, kernel_size = 3, strides = 2, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(16, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        // 14 → 7.
        DepthwiseConv2D(kernel_size = 3, strides = 2, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(32, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(32, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        // 7 → 4.
        DepthwiseConv2D(kernel_size = 3, strides = 2, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(64, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(64, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        // the reference's third stride of 2, here 1.
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(128, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(128, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(128, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(128, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(128, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(128, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        // the reference's fourth stride of 2, here 1.
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(256, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        DepthwiseConv2D(kernel_size = 3, strides = 1, padding = same),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        Conv2D(256, kernel_size = 1, strides = 1, padding = same, kernel_initializer = he_normal, kernel_regularizer = l2(1e-4)),
        BatchNormalization(momentum = 0.9),
        Activation(relu),
        AveragePooling2D(pool_size = (4, 4)),
        Flatten,
        Dense(10, softmax),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (seed, digits) = mnist_digits::from_command_line()?;
    let mut net = MnistMobileNet::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    println!("{}", net.summary());
    digit_classifier::train_and_test(&mut net, &digits, seed, EPOCHS, LOW_EPOCHS)
}
