dl::network! {
    struct Net {
        input: [4, 4, 3],
        MaxPooling2D(pool_size = (5, 2)),
        Flatten,
        Dense(1, sigmoid),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(Net, dl::prelude::SVector::<f32, 48>::zeros());
    Ok(())
}
