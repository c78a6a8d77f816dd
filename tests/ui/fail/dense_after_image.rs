dl::network! {
    struct Net {
        input: [28, 28, 1],
        Conv2D(32, (3, 3), relu),
        pool: MaxPooling2D((2, 2)),
        Dense(10, softmax),
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
