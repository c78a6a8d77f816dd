dl::network! {
    struct Net {
        input: [28, 28, 1],
        DepthwiseConv2D((3, 3), depth_multiplier = 0),
        DepthwiseConv2D((3, 0), strides = (0, 1), padding = full, use_bias = 1),
        DepthwiseConv2D(depth_multiplier = 2),
        DepthwiseConv2D((3, 3), dilation_rate = 2),
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
