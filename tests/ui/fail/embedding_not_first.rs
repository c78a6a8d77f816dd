dl::network! {
    struct TokensIntoDense {
        input: tokens[100],
        Dense(64, relu),
        Dense(10, softmax),
    }
}

dl::network! {
    struct EmbeddingLater {
        input: [100],
        Dense(64, relu),
        Embedding(10000, 64),
        GlobalAveragePooling1D,
        Dense(10, softmax),
    }
}

fn main() {}
