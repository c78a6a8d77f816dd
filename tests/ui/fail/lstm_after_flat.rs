dl::network! {
    struct Net {
        input: [100],
        hidden: Dense(64, relu),
        LSTM(32),
        Dense(10, softmax),
    }
}

fn main() {}
