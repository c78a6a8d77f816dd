dl::network! {
    struct Net {
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

fn main() {}
