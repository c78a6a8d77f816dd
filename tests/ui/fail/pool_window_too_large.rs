dl::network! {
    struct Net {
        input: [4, 4, 3],
        MaxPooling2D(pool_size = (5, 2)),
        Flatten,
        Dense(1, sigmoid),
    }
}

fn main() {}
