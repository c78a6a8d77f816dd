dl::network! {
    struct Net {
        input: [10],
        Dense(64, relu, true, 3),
        Dense(1, sigmoid),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(Net, dl::prelude::SVector::<f32, 10>::zeros());
    Ok(())
}
