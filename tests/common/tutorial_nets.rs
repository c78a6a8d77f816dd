//! The tutorial's three networks, declared once for the tests that check properties of exactly
//! these models (allocation, alignment). Included with `#[path]` so that test crates which do
//! not use them do not compile them.

dl::network! {
    /// Dense 64 relu → Dense 64 relu → Dense 1 sigmoid.
    pub struct Tutorial {
        input: [10],
        Dense(64, relu),
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    /// The tutorial's CNN for 28×28 digits.
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

dl::network! {
    /// The tutorial's text classifier.
    pub struct TextLstm {
        input: tokens[100],
        Embedding(10000, 64),
        LSTM(64),
        Dense(64, relu),
        Dense(10, softmax),
    }
}
