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

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(NotRecurrent, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    use_network!(NotACall, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    use_network!(Missing, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    use_network!(BadInner, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    use_network!(MergeMode, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    use_network!(NotASequence, dl::prelude::SVector::<f32, 10>::zeros());
    Ok(())
}
