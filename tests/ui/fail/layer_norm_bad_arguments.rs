dl::network! {
    struct Net {
        input: [6, 6, 2],
        Conv2D(4, (3, 3)),
        LayerNormalization(axis = 1),
        LayerNormalization(epsilon = 0),
        LayerNormalization(center = 1, scale = maybe),
        LayerNormalization(x),
        LayerNormalization(-1, momentum = 0.9),
        Flatten,
        Dense(10, softmax),
    }
}

dl::network! {
    /// Token ids need an Embedding first.
    struct Tokens {
        input: tokens[8],
        LayerNormalization(),
        Dense(10, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(Net, dl::prelude::SVector::<f32, 72>::zeros());
    use_network!(Tokens, dl::Tokens::<8, 8>::new([1; 8]).unwrap());
    Ok(())
}
