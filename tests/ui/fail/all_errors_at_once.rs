// Every mistake of a declaration is reported in one build, each on its own token.
dl::network! {
    struct Net {
        input: [10],
        Dense(0, relu),
        Dense(64, rleu),
        Dens(64),
        Dense(10, softmax, use_bais = false),
    }
}

fn main() {
    // The broken declaration still yields a type, so uses of it report nothing more.
    let mut rng = rand::rng();
    let _net = Net::new(&mut rng);
}
