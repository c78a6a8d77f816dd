// Ways of reading tensors that cannot work: each is one error on its token.
dl::network! {
    struct ReadsItself {
        input: [5],
        a: Dense(4, relu)(a),
        Dense(1),
    }
}

dl::network! {
    struct ReadsNothing {
        input: [5],
        Dense(4, relu)(),
        Dense(1),
    }
}

dl::network! {
    struct ResidualReadsTwo {
        input: [5],
        a: Dense(4),
        b: Dense(4)(input),
        Residual([Dense(4)])(a, b),
        Dense(1),
    }
}

dl::network! {
    struct EmptyResidual {
        input: [5],
        Dense(4),
        Residual([]),
        Dense(1),
    }
}

dl::network! {
    struct NotALayer {
        input: [5],
        Dense(4),
        Residual([Dense(4), 3]),
        Dense(1),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() -> Result<(), dl::Error> {
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    use_network!(ReadsItself, dl::prelude::SVector::<f32, 5>::zeros());
    use_network!(ReadsNothing, dl::prelude::SVector::<f32, 5>::zeros());
    use_network!(ResidualReadsTwo, dl::prelude::SVector::<f32, 5>::zeros());
    use_network!(EmptyResidual, dl::prelude::SVector::<f32, 5>::zeros());
    use_network!(NotALayer, dl::prelude::SVector::<f32, 5>::zeros());
    Ok(())
}
