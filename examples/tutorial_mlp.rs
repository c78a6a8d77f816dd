//! The Keras tutorial's first model: Dense 64 relu → Dense 64 relu → Dense 1 sigmoid, Adam,
//! binary cross-entropy, 10 epochs of batch 32.
//!
//! The data are generated (see `common/tutorial_data.rs`): 8,000 samples train, 2,000 test.
//!
//! Besides accuracy it tracks Keras's precision, recall and AUC, and draws the training curves
//! into `tutorial_mlp_history.png` and `.svg` (and the numbers into `.csv`) in the folder
//! `DL_PLOT_DIR`, by default `target/plots` (run from the repository's root).

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

fn main() -> Result<(), Error> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let (x, y) = tutorial_data::data(10_000, &mut rng);
    let x: Vec<SVector<f32, 10>> = x.into_iter().map(SVector::from).collect();
    let (train_x, test_x) = x.split_at(8_000);
    let (train_y, test_y) = y.split_at(8_000);

    let mut net = Tutorial::seeded(1);
    println!("{}", net.summary());

    let history = net.fit(
        train_x,
        train_y,
        Fit {
            loss: BinaryCrossEntropy::default(),
            optimizer: Adam::default(),
            epochs: 10,
            batch_size: 32,
            validation_split: 0.1,
            metrics: vec![Metric::precision(), Metric::recall(), Metric::auc()],
            ..Fit::default()
        },
    )?;
    println!("{history}");
    write_curves(&history)?;

    let result = net.evaluate(test_x, test_y, &BinaryCrossEntropy::default())?;
    if let Some(confusion) = &result.confusion {
        println!("confusion matrix (test):\n{confusion}");
    }
    println!("test loss: {:.4}", result.loss);
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));
    Ok(())
}

/// The history as pictures and CSV, outside the repository's tracked files.
fn write_curves(history: &History) -> Result<(), Error> {
    let dir = std::path::PathBuf::from(std::env::var_os("DL_PLOT_DIR").unwrap_or("target/plots".into()));
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let path = dir.join("tutorial_mlp_history");
    history.write_png(path.with_extension("png"))?;
    history.write_svg(path.with_extension("svg"))?;
    history.write_csv(path.with_extension("csv"))?;
    println!("training curves: {}.{{png,svg,csv}}", path.display());
    Ok(())
}
