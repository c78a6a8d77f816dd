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

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(TokensIntoDense, dl::Tokens::<100, 100>::new([1; 100]).unwrap());
    use_network!(EmbeddingLater, dl::prelude::SVector::<f32, 100>::zeros());
    Ok(())
}
