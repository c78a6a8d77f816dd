// Mistakes in a `Residual` block: each is one error on its own token.
dl::network! {
    struct NotAList {
        input: [5],
        Dense(4),
        Residual(Dense(4)),
        Dense(1),
    }
}

dl::network! {
    struct MergeInside {
        input: [5],
        a: Dense(4),
        Residual([Dense(4), Add(a, a)]),
        Dense(1),
    }
}

dl::network! {
    struct Misspelt {
        input: [5],
        Dense(4),
        Residual([Dense(4), BatchNormalisation], shortcut = [Dense(4)]),
        Dense(1),
    }
}

dl::network! {
    struct ShapesDisagree {
        input: [5],
        Dense(4),
        Residual([Dense(8)]),
        Dense(1),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    use_network!(NotAList, dl::prelude::SVector::<f32, 5>::zeros());
    use_network!(MergeInside, dl::prelude::SVector::<f32, 5>::zeros());
    use_network!(Misspelt, dl::prelude::SVector::<f32, 5>::zeros());
    use_network!(ShapesDisagree, dl::prelude::SVector::<f32, 5>::zeros());
    Ok(())
}
