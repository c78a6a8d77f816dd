dl::network! {
    struct NotRecurrent {
        input: tokens[10],
        Embedding(100, 8),
        Bidirectional(Dense(4)),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct NotACall {
        input: tokens[10],
        Embedding(100, 8),
        Bidirectional(LSTM),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Missing {
        input: tokens[10],
        Embedding(100, 8),
        Bidirectional(),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct BadInner {
        input: tokens[10],
        Embedding(100, 8),
        Bidirectional(GRU(0, return_sequence = true)),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct MergeMode {
        input: tokens[10],
        Embedding(100, 8),
        Bidirectional(LSTM(4), merge_mode = "sum"),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct NotASequence {
        input: [10],
        Bidirectional(SimpleRNN(4)),
        Dense(1, sigmoid),
    }
}

fn main() {}
