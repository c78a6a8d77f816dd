dl::network! {
    struct Net {
        input: tokens[20],
        Embedding(0, 8),
        LSTM(0),
        GRU(units = 0, return_sequences = yes),
        SimpleRNN(),
        Dense(2, softmax),
    }
}

fn main() {}
