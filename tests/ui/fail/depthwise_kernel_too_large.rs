dl::network! {
    struct Net {
        input: [4, 4, 2],
        DepthwiseConv2D((5, 5)),
        Flatten,
        Dense(10, softmax),
    }
}

dl::network! {
    struct Flat {
        input: [16],
        SeparableConv2D(4, (3, 3)),
        Dense(10, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(Net, dl::prelude::SVector::<f32, 32>::zeros());
    use_network!(Flat, dl::prelude::SVector::<f32, 16>::zeros());
    Ok(())
}
