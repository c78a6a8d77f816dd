dl::network! {
    struct Net {
        input: [28, 28, 1],
        Conv2D(32, (3, 3), relu),
        pool: MaxPooling2D((2, 2)),
        Dense(10, softmax),
    }
}

fn main() {}
