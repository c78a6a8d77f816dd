dl::network! {
    /// A dilated kernel longer than its sequence.
    struct Dilated {
        input: [6, 2],
        Conv1D(4, 3, dilation_rate = 3),
        GlobalMaxPooling1D,
        Dense(10, softmax),
    }
}

dl::network! {
    /// A pool window longer than its sequence.
    struct Pooled {
        input: [6, 2],
        Conv1D(4, 3),
        MaxPooling1D(5),
        GlobalMaxPooling1D,
        Dense(10, softmax),
    }
}

dl::network! {
    /// Conv1D on an image: one error, none for the layers after it.
    struct Images {
        input: [8, 8, 1],
        Conv1D(4, 3),
        Flatten,
        AveragePooling1D(2),
        Dense(10, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(Dilated, dl::prelude::SVector::<f32, 12>::zeros());
    use_network!(Pooled, dl::prelude::SVector::<f32, 12>::zeros());
    use_network!(Images, dl::prelude::SVector::<f32, 64>::zeros());
    Ok(())
}
