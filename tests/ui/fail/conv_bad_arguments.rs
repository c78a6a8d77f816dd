dl::network! {
    struct Net {
        input: [28, 28, 1],
        Conv2D(0, (3, 3), relu),
        Conv2D(8, (3, 0), strides = (0, 1), padding = full),
        Conv2D(8),
        MaxPooling2D((2, 2), strides = 0),
        Flatten,
        Dense(10, softmax),
    }
}

fn main() {}
