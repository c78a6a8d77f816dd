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

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(Net, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    use_network!(BadKernel, dl::prelude::SVector::<f32, 64>::zeros());
    Ok(())
}
