//! A Conv1D text classifier on the Brown corpus: the genre of 100-token windows, the task and
//! windows of `brown_lstm` (`common/brown_windows.rs`).
//!
//! The model is the convolutional classifier of Keras's "Text classification from scratch"
//! example (keras.io/examples/nlp/text_classification_from_scratch) at the size of
//! `brown_lstm`'s (64 where that example has 128) and with a softmax over the 10 genres where it
//! has one sigmoid: Embedding(10000, 64) → Dropout(0.5) → two Conv1D(64, 7, strides = 3, relu)
//! (100 → 32 → 9 steps) → GlobalMaxPooling1D → Dense(64, relu) → Dropout(0.5) →
//! Dense(10, softmax). Adam, sparse categorical cross-entropy, 10 epochs of batch 32, as
//! `brown_lstm`. `benches/peers/brown_conv1d_accuracy.py` trains the same model the same way in
//! Keras on the windows this example exports:
//!
//! ```text
//! cargo run --release --example brown_conv1d -- 1 --export-windows target/brown-windows
//! benches/peers/.venv/bin/python benches/peers/brown_conv1d_accuracy.py target/brown-windows
//! ```

#[path = "common/brown_windows.rs"]
mod brown_windows;

use rand::SeedableRng;

dl::network! {
    /// A convolutional genre classifier over 100-token windows.
    pub struct ConvTextClassifier {
        input: tokens[100],
        Embedding(10000, 64),
        Dropout(0.5),
        Conv1D(64, 7, padding = valid, activation = relu, strides = 3),
        Conv1D(64, 7, padding = valid, activation = relu, strides = 3),
        GlobalMaxPooling1D,
        Dense(64, relu),
        Dropout(0.5),
        Dense(10, softmax),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (seed, data) = brown_windows::from_command_line()?;
    let mut net = ConvTextClassifier::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    println!("{}", net.summary());
    brown_windows::train_and_test(&mut net, &data, seed)
}
