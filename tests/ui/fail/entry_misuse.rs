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

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(LayerNamedInput, dl::prelude::SVector::<f32, 10>::zeros());
    use_network!(ShapeInTheMiddle, dl::prelude::SVector::<f32, 10>::zeros());
    use_network!(UnnamedInput, dl::prelude::SVector::<f32, 10>::zeros());
    use_network!(TokensWithTwoDims, dl::prelude::SVector::<f32, 10>::zeros());
    Ok(())
}
