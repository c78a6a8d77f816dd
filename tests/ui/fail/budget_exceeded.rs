// A budget the network does not fit fails the build, naming the largest tensor or activation.
dl::network! {
    #[budget(max_param_bytes = 16 KiB)]
    struct TooManyParams { input: [10], Dense(64, relu), Dense(64, relu), Dense(1, sigmoid) }
}

dl::network! {
    #[budget(max_param_bytes = 32 KiB, max_activation_bytes = 64 KiB)]
    struct TooManyActivations {
        input: [28, 28, 1],
        Conv2D(32, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Flatten,
        Dense(1, sigmoid),
    }
}

dl::network! {
    #[budget(max_params_bytes = 1 KiB, max_activation_bytes = 2 GB)]
    struct Misspelt { input: [2], Dense(1, sigmoid) }
}

dl::network! {
    #[budget(32 KiB)]
    struct NoName { input: [2], Dense(1, sigmoid) }
}

dl::network! {
    #[budget(max_param_bytes = 99999999999999999999 KiB)]
    struct TooLarge { input: [2], Dense(1, sigmoid) }
}

// Within budget: compiles.
dl::network! {
    #[budget(max_param_bytes = 20 KiB, max_activation_bytes = 1 KiB)]
    struct Fits { input: [10], Dense(64, relu), Dense(64, relu), Dense(1, sigmoid) }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(TooManyParams, dl::prelude::SVector::<f32, 10>::zeros());
    use_network!(TooManyActivations, dl::prelude::SVector::<f32, 784>::zeros());
    use_network!(Misspelt, dl::prelude::SVector::<f32, 2>::zeros());
    use_network!(NoName, dl::prelude::SVector::<f32, 2>::zeros());
    use_network!(TooLarge, dl::prelude::SVector::<f32, 2>::zeros());
    use_network!(Fits, dl::prelude::SVector::<f32, 10>::zeros());
    Ok(())
}
