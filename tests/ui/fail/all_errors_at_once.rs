// Every mistake of a declaration is reported in one build, each on its own token.
dl::network! {
    struct Net {
        input: [10],
        Dense(0, relu),
        Dense(64, rleu),
        Dens(64),
        Dense(10, softmax, use_bais = false),
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
