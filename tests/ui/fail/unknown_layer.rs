dl::network! {
    struct Net {
        input: [10],
        Dens(64, relu),
        Dense(1, sigmoid),
    }
}

fn main() {}
