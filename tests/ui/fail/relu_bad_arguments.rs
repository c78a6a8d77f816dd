dl::network! {
    struct Net {
        input: [8],
        ReLU(max_value = -1.0),
        ReLU(negative_slope = -0.1, threshold = -2),
        ReLU(max_value = "six", threshold = small),
        ReLU(6.0, 0.1, 0.5, 1.0),
        ReLU(alpha = 0.3),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Text {
        input: tokens[10],
        ReLU(),
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
    use_network!(Net, dl::prelude::SVector::<f32, 8>::zeros());
    use_network!(Text, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    Ok(())
}
