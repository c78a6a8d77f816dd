dl::network! {
    struct Net {
        input: [10],
        Dense(units = 64, relu),
        Dense(1, sigmoid),
    }
}

fn main() {}
