//! The Keras tutorial's text classifier on the Brown corpus: the genre of 100-token windows.
//!
//! Embedding(10000, 64) → LSTM(64) → Dense(64, relu) → Dense(10, softmax); Adam, sparse
//! categorical cross-entropy, 10 epochs of batch 32. The task and its windows are
//! `common/brown_windows.rs`'s.

#[path = "common/brown_windows.rs"]
mod brown_windows;

use rand::SeedableRng;

dl::network! {
    /// The tutorial's text classifier.
    pub struct TextClassifier {
        input: tokens[100],
        Embedding(10000, 64),
        LSTM(64),
        Dense(64, relu),
        Dense(10, softmax),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `brown_lstm [seed] [--export-windows DIR]`: the second form also writes the windows, so
    // `benches/peers/brown_accuracy.py` can train Keras and PyTorch on exactly these windows.
    let (seed, data) = brown_windows::from_command_line()?;
    let mut net = TextClassifier::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    println!("{}", net.summary());
    brown_windows::train_and_test(&mut net, &data, seed)
}
