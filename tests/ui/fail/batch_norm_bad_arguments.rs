dl::network! {
    struct Net {
        input: [8, 8, 3],
        BatchNormalization(momentum = 1.0),
        BatchNormalization(momentum = -0.5, epsilon = 0),
        BatchNormalization(epsilon = -0.001),
        BatchNormalization(momentum = "high", epsilon = small),
        BatchNormalization(axis = 3, center = 0, scale = no),
        BatchNormalization(0.99),
        Flatten,
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Axis {
        input: [8, 8, 3],
        BatchNormalization(1),
        Flatten,
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Text {
        input: tokens[10],
        BatchNormalization,
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
    use_network!(Net, dl::prelude::SVector::<f32, 192>::zeros());
    use_network!(Axis, dl::prelude::SVector::<f32, 192>::zeros());
    use_network!(Text, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    Ok(())
}
