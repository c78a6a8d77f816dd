dl::network! {
    struct Net {
        input: [28, 28, 1],
        SeparableConv2D(0, (3, 3), relu),
        SeparableConv2D(8),
        SeparableConv2D(8, (3, 3), depth_multiplier = -1, use_bias = maybe),
        SeparableConv2D(8, (3, 3), data_format = channels_first),
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
