// A merge needs two or more tensors (Subtract exactly two); other layers read one.
dl::network! {
    struct Net {
        input: [5],
        a: Dense(4, relu),
        b: Dense(4, relu)(a),
        c: Add(b),
        d: Subtract(a, b, c),
        Dense(1)(c, d),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(Net, dl::prelude::SVector::<f32, 5>::zeros());
    Ok(())
}
