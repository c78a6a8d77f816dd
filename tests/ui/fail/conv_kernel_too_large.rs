dl::network! {
    struct Net {
        input: [6, 6, 1],
        Conv2D(8, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Conv2D(8, (3, 3), relu),
        Flatten,
        Dense(10, softmax),
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
