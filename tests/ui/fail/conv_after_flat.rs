dl::network! {
    struct Net {
        input: [784],
        hidden: Dense(64, relu),
        Conv2D(8, (3, 3), relu),
        MaxPooling2D,
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(Net, dl::prelude::SVector::<f32, 784>::zeros());
    Ok(())
}
