// The padding mask of `Embedding(mask_zero = true)` must be consumed (by a recurrent layer or
// `GlobalAveragePooling1D`) before a layer that cannot take it; `Dense` and `Dropout` pass it on.

dl::network! {
    struct MaskIntoFlatten {
        input: tokens[10],
        Embedding(100, 8, mask_zero = true),
        Dense(4, relu),
        Dropout(0.5),
        Flatten,
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct MaskIntoMaxPooling {
        input: tokens[10],
        padded: Embedding(100, 8, mask_zero = true),
        LSTM(4, return_sequences = true),
        GlobalMaxPooling1D,
        Dense(1, sigmoid),
    }
}

// Consumed first: no error.
dl::network! {
    struct Consumed {
        input: tokens[10],
        Embedding(100, 8, mask_zero = true),
        LSTM(4),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct NotBoolean {
        input: tokens[10],
        Embedding(100, 8, mask_zero = "yes"),
        GlobalAveragePooling1D,
        Dense(1, sigmoid),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(MaskIntoFlatten, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    use_network!(MaskIntoMaxPooling, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    use_network!(Consumed, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    use_network!(NotBoolean, dl::Tokens::<10, 100>::new([1; 10]).unwrap());
    Ok(())
}
