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

fn main() {
    // Code that uses the networks as users do reports nothing more than the mistakes above.
    let x = dl::SVector::<f32, 5>::zeros();
    let p = NotAList::new(&mut rand::rng()).forward(&x);
    let q = MergeInside::new(&mut rand::rng()).forward(&x);
    let r = Misspelt::new(&mut rand::rng()).forward(&x);
    let s = ShapesDisagree::new(&mut rand::rng()).forward(&x);
    println!("{} {} {} {}", p[0], q[0], r[0], s[0]);
}
