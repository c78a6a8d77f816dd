dl::network! {
    struct FourDims {
        input: [2, 28, 28, 1],
        Dense(10, softmax),
    }
}

dl::network! {
    struct Empty {
        input: [0],
        Dense(10, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(FourDims, dl::prelude::SVector::<f32, 1568>::zeros());
    use_network!(Empty, dl::prelude::SVector::<f32, 1>::zeros());
    Ok(())
}
