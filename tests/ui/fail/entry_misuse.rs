dl::network! {
    struct LayerNamedInput {
        input: [10],
        input: Dense(4, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct ShapeInTheMiddle {
        input: [10],
        Dense(4, relu),
        [4],
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct UnnamedInput {
        [10],
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct TokensWithTwoDims {
        input: tokens[10, 2],
        Embedding(100, 8),
        GlobalAveragePooling1D,
        Dense(1, sigmoid),
    }
}

fn main() {}
