dl::network! {
    struct Net {
        input: [10],
        Dense(64, relu),
        Dropout(1.5),
        Dropout(rate = half),
        Dropout,
        Dense(1, sigmoid),
    }
}

fn main() {}
