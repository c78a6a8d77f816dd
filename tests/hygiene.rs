//! The generated code names everything by absolute path through `$crate`, so a caller that
//! shadows `Box`, `Option`, `Vec`, `Result`, `core`, `std` or `nalgebra` still compiles.

#![allow(dead_code, non_camel_case_types)]

mod shadowed {
    struct Box;
    struct Option;
    struct Vec;
    struct Result;
    struct Clone;
    mod core {}
    mod std {}
    mod nalgebra {}
    mod rand {}

    dl::network! {
        pub struct Shadowed {
            input: [3],
            Dense(4, relu),
            Dense(2, softmax),
        }
    }
}

#[test]
fn compiles_and_runs_when_the_caller_shadows_prelude_names() {
    use rand::SeedableRng;
    let net = shadowed::Shadowed::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    let y = net.forward(&nalgebra_free_input());
    assert!((y.sum() - 1.0).abs() < 1e-6);
}

fn nalgebra_free_input() -> dl::prelude::SVector<f32, 3> {
    dl::prelude::SVector::from([0.5, -1.0, 2.0])
}
