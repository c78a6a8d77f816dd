// Argument values out of range name their layer and what is allowed.
dl::network! {
    struct Negative {
        input: [10],
        Dense(-3, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Fraction {
        input: [10],
        Dense(2.5, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Rates {
        input: [10],
        Dense(8, rleu),
        Dropout(1.5),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Padding {
        input: [8, 8, 1],
        Conv2D(4, (3, 3), padding = sme),
        Flatten,
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct SyntaxError {
        input: [10],
        Dense(4, relu) Dense(1, sigmoid),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(Negative, dl::prelude::SVector::<f32, 10>::zeros());
    use_network!(Fraction, dl::prelude::SVector::<f32, 10>::zeros());
    use_network!(Rates, dl::prelude::SVector::<f32, 10>::zeros());
    use_network!(Padding, dl::prelude::SVector::<f32, 64>::zeros());
    use_network!(SyntaxError, dl::prelude::SVector::<f32, 10>::zeros());
    Ok(())
}
