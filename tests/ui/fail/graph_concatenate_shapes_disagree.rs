// Concatenate joins channels: the other dimensions must agree.
dl::network! {
    struct Net {
        input: [6, 6, 1],
        big: Conv2D(2, (3, 3)),
        small: Conv2D(3, (3, 3))(big),
        Concatenate(big, small),
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
