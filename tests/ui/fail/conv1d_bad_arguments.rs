dl::network! {
    struct Net {
        input: [20, 4],
        Conv1D(8, (3, 3)),
        Conv1D(8, 3, padding = full, dilation_rate = 0),
        Conv1D(8, 3, strides = 2, dilation_rate = 2),
        Conv1D(kernel_size = 3),
        Conv1D(8),
        MaxPooling1D(2, padding = causal),
        AveragePooling1D(pool_size = 0),
        GlobalAveragePooling1D,
        Dense(10, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistakes above.
    use_network!(Net, dl::prelude::SVector::<f32, 80>::zeros());
    Ok(())
}
