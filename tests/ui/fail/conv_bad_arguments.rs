dl::network! {
    struct Net {
        input: [28, 28, 1],
        Conv2D(0, (3, 3), relu),
        Conv2D(8, (3, 0), strides = (0, 1), padding = full),
        Conv2D(8),
        MaxPooling2D((2, 2), strides = 0),
        Flatten,
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
