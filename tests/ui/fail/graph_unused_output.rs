// A branch nothing reads is a mistake, not a silently dropped layer.
dl::network! {
    struct Net {
        input: [5],
        stem: Dense(4, relu),
        forgotten: Dense(4, relu)(stem),
        Dense(4, relu)(stem),
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
