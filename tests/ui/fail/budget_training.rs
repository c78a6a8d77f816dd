// A training budget is checked against the runtime layers' own figure when the generated code
// compiles: over it, the build fails at the budget.
dl::network! {
    #[budget(max_param_bytes = 1 MiB, max_training_bytes_per_sample = 64 KiB)]
    struct TrainsTooLarge {
        input: [28, 28, 1],
        Conv2D(32, (3, 3), tanh),
        MaxPooling2D((2, 2)),
        Flatten,
        Dense(10, softmax),
    }
}

// Within budget: compiles.
dl::network! {
    #[budget(max_training_bytes_per_sample = 2 KiB)]
    struct TrainsWithin { input: [10], Dense(64, relu), Dense(64, relu), Dense(1, sigmoid) }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(TrainsTooLarge, dl::prelude::SVector::<f32, 784>::zeros(), dl::prelude::SVector::<f32, 10>::zeros());
    use_network!(TrainsWithin, dl::prelude::SVector::<f32, 10>::zeros());
    Ok(())
}
