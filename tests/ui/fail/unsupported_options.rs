dl::network! {
    struct Net {
        input: tokens[10],
        Embedding(100, mask_zero = 1),
        GlobalAveragePooling1D,
        Dense(4, relu, use_bias = false),
        Dense(1, sigmoid, use_bias = maybe),
    }
}

dl::network! {
    struct BadKernel {
        input: [8, 8, 1],
        Conv2D(4, kernel_size = (3, 3, 3)),
        Flatten,
        Dense(1, sigmoid),
    }
}

fn main() {}
