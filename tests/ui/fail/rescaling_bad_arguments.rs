dl::network! {
    struct Net {
        input: [4],
        Rescaling(),
        Rescaling(scale = x),
        Rescaling(1e39),
        Rescaling(1.0, offset = 1.0 / 0.0),
        Dense(2, softmax),
    }
}

dl::network! {
    /// Token ids need an Embedding first.
    struct Tokens {
        input: tokens[8],
        Rescaling(0.5),
        Dense(2, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(Net, dl::prelude::SVector::<f32, 4>::zeros());
    use_network!(Tokens, dl::Tokens::<8, 8>::new([1; 8]).unwrap());
    Ok(())
}
