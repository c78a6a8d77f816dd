//! The weight files the embedded networks of `tests/embedded.rs` and `embedded-check` are built
//! from: random networks of `tests/common/embedded_nets.rs`, saved by the runtime.

#[path = "common/embedded_nets.rs"]
mod embedded_nets;

use rand::{Rng, SeedableRng};

macro_rules! trainable {
    ($train:ident, $embedded:ident, $file:tt, { $($body:tt)* }) => {
        dl::network! { pub struct $train { $($body)* } }
    };
}
with_embedded_nets!(trainable);

fn path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/common")
        .join(file)
}

/// Each committed file loads into the network it was made for.
#[test]
fn committed_files_load() {
    macro_rules! load {
        ($train:ident, $embedded:ident, $file:tt, { $($body:tt)* }) => {{
            let mut net = $train::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
            net.load(path($file)).unwrap();
        }};
    }
    with_embedded_nets!(load);
}

/// Rewrites the files: `cargo test --test embedded_fixtures -- --ignored`.
#[test]
#[ignore]
fn regenerate() {
    let mut seed = 0;
    macro_rules! save {
        ($train:ident, $embedded:ident, $file:tt, { $($body:tt)* }) => {{
            seed += 1;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut net = $train::new(&mut rng);
            // Keras starts biases at zero; give them values so that a misplaced bias shows.
            dl::Model::for_each_param_mut(&mut net, |_, tensor, v| {
                // `ends_with`: a `Bidirectional` copy's bias is `forward_lstm.bias`.
                if tensor.ends_with("bias") || tensor == "beta" || tensor == "gamma" {
                    v.iter_mut().for_each(|b| *b = rng.random_range(-0.2..0.2));
                }
            });
            // Moving statistics away from their initial 0 and 1, so that using them shows.
            dl::Model::for_each_state_mut(&mut net, |_, tensor, v| {
                let (low, high) = match tensor {
                    "moving_variance" | "variance" => (0.5, 2.0),
                    // A `Normalization`'s count of values adapted on.
                    "count" => (10.0, 100.0),
                    _ => (-0.5, 0.5),
                };
                v.iter_mut().for_each(|s| *s = rng.random_range(low..high));
            });
            net.save(path($file)).unwrap();
        }};
    }
    with_embedded_nets!(save);
}
