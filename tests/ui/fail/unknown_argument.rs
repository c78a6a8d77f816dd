dl::network! {
    struct Net {
        input: [10],
        Dense(64, activaton = relu),
        Dense(1, sigmoid),
    }
}

fn main() {}
