// A `return_sequences` LSTM followed by Dense applies the Dense per time step, so the network
// would end in a sequence: losses need one vector per sample.
dl::network! {
    struct Net {
        input: tokens[100],
        Embedding(10000, 64),
        LSTM(64, return_sequences = true),
        Dense(10, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(Net, dl::Tokens::<100, 10000>::new([1; 100]).unwrap());
    Ok(())
}
