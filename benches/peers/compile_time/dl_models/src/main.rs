//! The Keras tutorial's three networks declared with `network!` (as in dl's examples), each built
//! and run forward once. `benches/peers/run.sh --compile-time` times `touch src/main.rs && cargo
//! build --release` of this crate: the cost, after an edit, of expanding, type-checking and
//! compiling the networks.

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

#[cfg(feature = "cnn")]
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

#[cfg(feature = "lstm")]
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

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mlp = Tutorial::new(&mut rng);
    let x = SVector::<f32, 10>::from_fn(|_, _| rng.random());
    println!("mlp: {}", mlp.forward(&x)[0]);
    #[cfg(feature = "cnn")]
    {
        let cnn = MnistCnn::new(&mut rng);
        let image = SVector::<f32, 784>::from_fn(|_, _| rng.random());
        println!("cnn: {}", cnn.forward(&image).sum());
    }
    #[cfg(feature = "lstm")]
    {
        let lstm = TextClassifier::new(&mut rng);
        let text = Tokens::new(std::array::from_fn(|_| rng.random_range(0..10000))).unwrap();
        println!("lstm: {}", lstm.forward(&text).sum());
    }
}
