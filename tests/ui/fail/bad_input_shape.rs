dl::network! {
    struct TwoDims {
        input: [28, 28],
        Dense(10, softmax),
    }
}

dl::network! {
    struct Empty {
        input: [0],
        Dense(10, softmax),
    }
}

fn main() {}
