//! `network!` reached through a renamed dependency (`neural = { package = "dl-nn" }`): the macro
//! receives `$crate` from its shim, so nothing in the expansion spells `dl`.

neural::network! {
    /// A network declared through the renamed crate.
    pub struct Renamed {
        input: [2],
        Dense(3, tanh),
        Dense(1, sigmoid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn builds_and_runs_through_a_renamed_dependency() {
        let net = Renamed::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        let y = net.forward(&neural::prelude::SVector::from([1.0, -1.0]));
        assert!(y[0] > 0.0 && y[0] < 1.0);
        assert_eq!(Renamed::PARAMS, 2 * 3 + 3 + 3 + 1);
    }
}
