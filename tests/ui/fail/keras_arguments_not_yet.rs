// A Keras argument dl does not have yet is named as such: one error, on the argument.
dl::network! {
    struct Sequence {
        input: [12, 4],
        Conv1D(8, 3, bias_regularizer = l2(0.01)),
        LSTM(4, recurrent_dropout = 0.1),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Gated {
        input: [12, 4],
        GRU(4, reset_after = false, return_sequences = true),
        SimpleRNN(4, unit_forget_bias = true),
        Dense(1, sigmoid),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    use dl::prelude::SVector;
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(Sequence, SVector::<f32, 48>::zeros());
    use_network!(Gated, SVector::<f32, 48>::zeros());
    Ok(())
}
