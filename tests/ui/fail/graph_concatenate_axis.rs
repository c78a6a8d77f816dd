// Concatenate joins along the last axis only.
dl::network! {
    struct Net {
        input: [6, 6, 1],
        a: Conv2D(2, (3, 3)),
        b: Conv2D(2, (3, 3))(input),
        Concatenate(a, b, axis = 1),
        Flatten,
        Dense(1),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(Net, dl::prelude::SVector::<f32, 36>::zeros());
    Ok(())
}
