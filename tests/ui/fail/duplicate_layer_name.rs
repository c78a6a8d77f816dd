dl::network! {
    struct Net {
        input: [10],
        hidden: Dense(64, relu),
        hidden: Dense(64, relu),
        Dense(1, sigmoid),
    }
}

fn main() {}
