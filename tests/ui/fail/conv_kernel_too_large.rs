dl::network! {
    struct Net {
        input: [6, 6, 1],
        Conv2D(8, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Conv2D(8, (3, 3), relu),
        Flatten,
        Dense(10, softmax),
    }
}

fn main() {}
