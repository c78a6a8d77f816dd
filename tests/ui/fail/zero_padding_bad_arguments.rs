dl::network! {
    struct Net {
        input: [8, 8, 3],
        ZeroPadding2D(-1),
        ZeroPadding2D((1, 2, 3)),
        ZeroPadding2D(((1, 2), 3)),
        ZeroPadding2D(same),
        ZeroPadding2D(1.5),
        ZeroPadding2D(padding = 1, data_format = "channels_first"),
        Flatten,
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Flat {
        input: [8],
        ZeroPadding2D(1),
        Dense(1, sigmoid),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(Net, dl::prelude::SVector::<f32, 192>::zeros());
    use_network!(Flat, dl::prelude::SVector::<f32, 8>::zeros());
    Ok(())
}
