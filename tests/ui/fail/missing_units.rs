dl::network! {
    struct Net {
        input: [10],
        Dense(activation = relu),
        Dense(1, sigmoid),
    }
}

fn main() {}
