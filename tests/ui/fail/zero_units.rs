dl::network! {
    struct Net {
        input: [10],
        Dense(0, relu),
        Dense(1, sigmoid),
    }
}

fn main() {}
