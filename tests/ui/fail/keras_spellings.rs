// Keras spellings that are easy to carry over: each is one error saying what dl expects.
dl::network! {
    /// A Python tuple for the input shape.
    struct TupleInput {
        input: (28, 28, 1),
        Flatten,
        Dense(10, softmax),
    }
}

dl::network! {
    /// Python's single quotes: rustc's own error, nothing more from the macro.
    struct SingleQuotes {
        input: [10],
        Dense(4, activation = 'relu'),
        Dense(1, sigmoid),
    }
}

dl::network! {
    /// A Keras layer dl does not have yet is named as such, not "did you mean `Conv2D`" (or `Conv1D`).
    struct NotYet {
        input: [100],
        Conv3D(8, 3),
        Dense(1, sigmoid),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(TupleInput, dl::prelude::SVector::<f32, 784>::zeros());
    use_network!(SingleQuotes, dl::prelude::SVector::<f32, 10>::zeros());
    use_network!(NotYet, dl::prelude::SVector::<f32, 100>::zeros());
    Ok(())
}
