//! Trains the tutorial MLP and saves it, for `embedded_inference`, which compiles such a file
//! into a heap-free, `no_std`-ready network:
//!
//! ```sh
//! cargo run --release --example train_and_save      # writes target/tutorial_mlp.safetensors
//! cargo run --release --example embedded_inference  # compiles examples/models/tutorial_mlp.safetensors
//! ```
//!
//! The file goes to `$DL_MODEL_OUT` if set, else to `target/`: running an example never
//! rewrites a tracked file. `embedded_inference` compiles the committed
//! `examples/models/tutorial_mlp.safetensors`, which is this program's output; this program
//! says whether its file is still identical to it. To embed your own, copy the file there (or
//! point `#[weights(...)]` at it) and rebuild.

#[path = "common/tutorial_data.rs"]
mod tutorial_data;

use dl::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

dl::network! {
    /// The tutorial's binary classifier.
    pub struct Tutorial {
        input: [10],
        Dense(64, relu),
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

/// The file `embedded_inference` compiles in.
const EMBEDDED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/models/tutorial_mlp.safetensors"
);

fn main() -> Result<(), Error> {
    let out = std::env::var_os("DL_MODEL_OUT").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tutorial_mlp.safetensors"),
        std::path::PathBuf::from,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let (x, y) = tutorial_data::data(10_000, &mut rng);
    let x: Vec<SVector<f32, 10>> = x.into_iter().map(SVector::from).collect();
    let (train_x, test_x) = x.split_at(8_000);
    let (train_y, test_y) = y.split_at(8_000);

    let mut net = Tutorial::seeded(1);
    net.fit(
        train_x,
        train_y,
        Fit {
            loss: BinaryCrossEntropy::default(),
            optimizer: Adam::default(),
            epochs: 10,
            batch_size: 32,
            ..Fit::default()
        },
    )?;
    let result = net.evaluate(test_x, test_y, &BinaryCrossEntropy::default())?;
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));

    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    net.save(&out)?;
    println!(
        "saved {} parameters ({} bytes) to {}",
        Tutorial::PARAMS,
        Tutorial::PARAM_BYTES,
        out.display()
    );
    let same = std::fs::read(&out).ok() == std::fs::read(EMBEDDED).ok();
    println!(
        "{} the file embedded_inference compiles ({EMBEDDED})",
        if same { "identical to" } else { "differs from" }
    );
    Ok(())
}
