dl::network! {
    struct Net {
        input: [10],
        Dense(64, rleu),
        Dense(1, sigmoid),
    }
}

fn main() {}
