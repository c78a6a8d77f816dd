//! The 10,000 real MNIST digits in `examples/data/mnist`, split as every MNIST example splits
//! them (first 8,000 train, last 2,000 test), and the command line the examples that are
//! compared with Keras share: `NAME [seed] [--export-digits DIR]`. The second form also writes
//! the exact training and test arrays as raw little-endian files (`train_x.f32`, `train_y.u32`,
//! `test_x.f32`, `test_y.u32`), which the Keras scripts in `benches/peers/` train on, so a
//! comparison does not mix model quality with data handling.

#[path = "command_line.rs"]
mod command_line;
#[path = "training_report.rs"]
pub mod training_report;

use dl::prelude::*;

/// Training digits; the rest are the test digits.
pub const TRAIN: usize = 8_000;

/// The digits, as flat 784-pixel vectors in 0..1, and their labels.
pub struct Digits {
    pub train_x: Vec<SVector<f32, 784>>,
    pub train_y: Vec<usize>,
    pub test_x: Vec<SVector<f32, 784>>,
    pub test_y: Vec<usize>,
}

/// The seed (default 1) and the digits, written to the `--export-digits` directory if given.
pub fn from_command_line() -> Result<(u64, Digits), Box<dyn std::error::Error>> {
    let (seed, export) = command_line::seed_and_export("--export-digits")?;
    let digits = load()?;
    if let Some(dir) = export {
        digits.export(std::path::Path::new(&dir))?;
        println!(
            "wrote {} training and {} test digits to {dir}",
            digits.train_x.len(),
            digits.test_x.len()
        );
    }
    Ok((seed, digits))
}

fn load() -> Result<Digits, Error> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/mnist");
    let (mut train_x, mut train_y) = dl::data::mnist::load(
        format!("{dir}/mnist-10k-images-idx3-ubyte.gz"),
        format!("{dir}/mnist-10k-labels-idx1-ubyte.gz"),
    )?;
    let test_x = train_x.split_off(TRAIN);
    let test_y = train_y.split_off(TRAIN);
    Ok(Digits {
        train_x,
        train_y,
        test_x,
        test_y,
    })
}

impl Digits {
    fn export(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let sets = [
            ("train", &self.train_x, &self.train_y),
            ("test", &self.test_x, &self.test_y),
        ];
        for (name, x, y) in sets {
            let pixels = x.iter().flat_map(|image| image.iter().copied());
            write_le(&dir.join(format!("{name}_x.f32")), pixels, f32::to_le_bytes)?;
            let labels = y.iter().map(|&label| label as u32);
            write_le(&dir.join(format!("{name}_y.u32")), labels, u32::to_le_bytes)?;
        }
        Ok(())
    }
}

fn write_le<T: Copy>(
    path: &std::path::Path,
    values: impl Iterator<Item = T>,
    bytes: impl Fn(T) -> [u8; 4],
) -> std::io::Result<()> {
    let data: Vec<u8> = values.flat_map(bytes).collect();
    std::fs::write(path, data)
}
