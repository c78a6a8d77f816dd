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

    fn params(net: &Renamed) -> Vec<u32> {
        use neural::Model;
        let mut bits = Vec::new();
        net.for_each_param(|_, _, v| bits.extend(v.iter().map(|x| x.to_bits())));
        bits
    }

    /// `seeded` needs no rand in the caller, and is `new` with a ChaCha8 generator.
    #[test]
    fn seeded_is_new_with_a_chacha8_generator_of_that_seed() {
        let by_rng = Renamed::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        assert_eq!(params(&Renamed::seeded(3)), params(&by_rng));
        assert_ne!(params(&Renamed::seeded(4)), params(&by_rng));
    }

    /// The re-exported rand is the one `new` takes, whatever rand the caller depends on.
    #[test]
    fn new_takes_a_generator_of_the_re_exported_rand() {
        use neural::rand::SeedableRng as _;
        let a = Renamed::new(&mut neural::rand::rngs::StdRng::seed_from_u64(5));
        let b = Renamed::new(&mut neural::rand::rngs::StdRng::seed_from_u64(5));
        assert_eq!(params(&a), params(&b));
    }

    /// The test profile compiles this crate at opt-level 0 (with debug assertions), the release
    /// profile at 3 (without): the generated flag follows the crate's own opt-level.
    #[test]
    fn a_debug_build_is_marked_unoptimised() {
        use neural::Model;
        assert_eq!(<Renamed as Model>::UNOPTIMISED, cfg!(debug_assertions));
    }

    /// Run by `the_debug_build_note_is_printed_once` in a child process, whose stderr it reads.
    #[test]
    #[ignore = "run by the_debug_build_note_is_printed_once"]
    fn trains_with_two_trainers() {
        use neural::prelude::*;
        let x = [SVector::from([1.0, -1.0]), SVector::from([-1.0, 1.0])];
        let y = [1.0, 0.0];
        for _ in 0..2 {
            let mut t = Trainer::<Renamed, _, _>::new(BinaryCrossEntropy::default(), Sgd::default(), None);
            t.train_on_batch(&mut Renamed::seeded(1), &x, &y).unwrap();
        }
    }

    #[test]
    fn the_debug_build_note_is_printed_once() {
        let notes = |silence: bool| {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap());
            child.args([
                "--ignored",
                "--exact",
                "tests::trains_with_two_trainers",
                "--nocapture",
            ]);
            child.env_remove("DL_NO_DEBUG_NOTE");
            if silence {
                child.env("DL_NO_DEBUG_NOTE", "1");
            }
            let out = child.output().unwrap();
            assert!(out.status.success());
            String::from_utf8(out.stderr)
                .unwrap()
                .matches("dl: training a network compiled without optimisation")
                .count()
        };
        assert_eq!(notes(false), usize::from(cfg!(debug_assertions)));
        assert_eq!(notes(true), 0);
    }
}
