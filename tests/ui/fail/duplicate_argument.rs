dl::network! {
    struct Net {
        input: [10],
        Dense(64, relu, activation = tanh),
        Dense(1, units = 2),
    }
}

fn main() {}
