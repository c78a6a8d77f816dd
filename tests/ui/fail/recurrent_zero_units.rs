dl::network! {
    struct Net {
        input: tokens[20],
        Embedding(0, 8),
        LSTM(0),
        GRU(units = 0, return_sequences = yes),
        SimpleRNN(),
        Dense(2, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(Net, dl::Tokens::<20, 0>::new([1; 20]).unwrap());
    Ok(())
}
