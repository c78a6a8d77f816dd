dl::network! {
    struct Net {
        input: [4, 4, 2],
        UpSampling2D(interpolation = bilinear),
        UpSampling2D((2, 0)),
        UpSampling2D(2, interpolation = "linear"),
        UpSampling2D(2, data_format = channels_first),
        Flatten,
        Dense(10, softmax),
    }
}

dl::network! {
    /// UpSampling2D needs an image.
    struct Flat {
        input: [16],
        UpSampling2D(),
        Dense(10, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(Net, dl::prelude::SVector::<f32, 32>::zeros());
    use_network!(Flat, dl::prelude::SVector::<f32, 16>::zeros());
    Ok(())
}
