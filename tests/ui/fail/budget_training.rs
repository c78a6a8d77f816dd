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

fn main() {
    // Exactly the tutorial MLP's figure: y and dy of each layer, and the sigmoid's z.
    const _: () = assert!(TrainsWithin::TRAINING_BYTES_PER_SAMPLE == 4 * (2 * 129 + 1));
}
