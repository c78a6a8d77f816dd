//! Palmer Penguins (CC0, `examples/data/penguins/`): the species of 342 penguins from four body
//! measurements, from the CSV file to test accuracy with nothing written by hand: the CSV
//! reader (rows with a missing measurement, `NA`, are skipped and reported), a stratified,
//! seeded train/test split, a `Normalization` layer adapted on the training part (saved with the
//! weights, so the network standardises its own input wherever it runs), `fit` and `evaluate`.
//!
//! `cargo run --release --example penguins [seed]` (seed 1 by default).

use dl::data::csv::{self, Column, Missing, Options, Table};
use dl::data::train_test_split;
use dl::prelude::*;

dl::network! {
    /// Species from bill length and depth, flipper length and body mass (millimetres and grams:
    /// scales a thousand times apart, which the first layer standardises).
    pub struct Penguins {
        input: [4],
        Normalization(),
        Dense(16, relu),
        Dense(3, softmax),
    }
}

fn main() -> Result<(), Error> {
    let seed = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/penguins/penguins.csv");
    let table: Table<4, usize> = csv::read(
        path,
        &Options {
            label: Column::Name("species"),
            features: Some(&[
                Column::Name("bill_length_mm"),
                Column::Name("bill_depth_mm"),
                Column::Name("flipper_length_mm"),
                Column::Name("body_mass_g"),
            ]),
            missing: Missing::SkipRow,
            ..Options::default()
        },
    )?;
    println!(
        "{} penguins, classes {:?}; {} rows with a missing measurement skipped (lines {:?})",
        table.x.len(),
        table.classes,
        table.skipped.len(),
        table.skipped
    );

    // A fifth for testing, each species in its overall share.
    let split = train_test_split(&table.x, &table.y, 0.2, seed, Some(&table.y))?;
    let mut net = Penguins::seeded(seed);
    net.adapt(&split.x_train)?;
    println!("{}", net.summary());

    let loss = SparseCategoricalCrossEntropy::default();
    let history = net.fit(
        &split.x_train,
        &split.y_train,
        Fit {
            loss,
            optimizer: Adam::new(0.01),
            epochs: 30,
            batch_size: 16,
            seed,
            verbose: false,
            ..Fit::default()
        },
    )?;
    println!("{history}");

    let result = net.evaluate(&split.x_test, &split.y_test, &loss)?;
    if let Some(confusion) = &result.confusion {
        println!(
            "confusion matrix (test; rows true, columns predicted: {:?}):\n{confusion}",
            table.classes
        );
    }
    println!("test loss: {:.4}", result.loss);
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));
    Ok(())
}
