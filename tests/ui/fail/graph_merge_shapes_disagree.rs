// Add needs inputs of one shape; the error names both inputs and both shapes.
dl::network! {
    struct Net {
        input: [5],
        wide: Dense(16, relu),
        narrow: Dense(8, relu),
        Add(wide, narrow),
        Dense(1),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(Net, dl::prelude::SVector::<f32, 5>::zeros());
    Ok(())
}
