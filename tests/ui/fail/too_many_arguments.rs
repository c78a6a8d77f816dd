dl::network! {
    struct Net {
        input: [10],
        Dense(64, relu, 3),
        Dense(1, sigmoid),
    }
}

fn main() {}
