dl::network! {
    struct Net {
        input: [4, 4, 2],
        Reshape((5, 6)),
        Reshape((-1, -1)),
        Reshape((0, 32)),
        Reshape(32),
        Reshape((2, 2, 2, 4)),
        Reshape(),
        Flatten,
        Dense(10, softmax),
    }
}

dl::network! {
    /// 32 values cannot be steps of 5.
    struct Indivisible {
        input: [4, 4, 2],
        Reshape((-1, 5)),
        Flatten,
        Dense(10, softmax),
    }
}

dl::network! {
    /// Token ids need an Embedding first.
    struct Tokens {
        input: tokens[8],
        Reshape((2, 4)),
        Dense(10, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(Net, dl::prelude::SVector::<f32, 32>::zeros());
    use_network!(Indivisible, dl::prelude::SVector::<f32, 32>::zeros());
    use_network!(Tokens, dl::Tokens::<8, 8>::new([1; 8]).unwrap());
    Ok(())
}
