//! Trains on a file many times larger than the memory the process uses: the 8,000 training
//! digits of `examples/data`, each shifted by up to two pixels in 12 ways, written to an
//! uncompressed IDX file under `target/` (75 MB), then streamed from disk through a shuffle
//! buffer of 2,048 digits for 2 epochs with `fit_stream`, and tested on the last 2,000 digits,
//! streamed too. Prints the file's size beside the peak resident memory while training.
//!
//! `cargo run --release --example stream_mnist [seed]`

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use dl::data::mnist::{self, PIXELS};
use dl::data::stream::Source;
use dl::prelude::*;

dl::network! {
    /// The MNIST MLP of `mnist_mlp`.
    pub struct MnistMlp {
        input: [784],
        hidden: Dense(128, relu),
        out: Dense(10, softmax),
    }
}

/// Digits trained on; the rest of the 10,000 are the test set.
const TRAIN: usize = 8_000;
/// Each training digit is written once per shift (columns, rows).
const SHIFTS: [(isize, isize); 12] = [
    (0, 0),
    (1, 0),
    (-1, 0),
    (0, 1),
    (0, -1),
    (2, 0),
    (-2, 0),
    (0, 2),
    (0, -2),
    (1, 1),
    (-1, -1),
    (1, -1),
];
/// Digits held by the shuffle buffer (3 KB each as 784 floats).
const BUFFER: usize = 2_048;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/stream_mnist");
    std::fs::create_dir_all(&dir)?;
    let files = write_files(&dir)?;
    let size = std::fs::metadata(&files.train_images)?.len();
    println!(
        "training file: {} ({:.1} MB, {} digits)",
        files.train_images.display(),
        size as f64 / 1e6,
        TRAIN * SHIFTS.len()
    );

    // From here on only what training holds counts: the digits written above are gone.
    reset_peak_memory();
    let mut net = MnistMlp::seeded(seed);
    let mut train = mnist::stream(&files.train_images, &files.train_labels)?.shuffle(BUFFER);
    let start = std::time::Instant::now();
    let history = net.fit_stream(
        &mut train,
        Fit {
            loss: SparseCategoricalCrossEntropy::default(),
            optimizer: Adam::default(),
            epochs: 2,
            batch_size: 32,
            seed,
            ..Fit::default()
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    println!("{history}");
    println!(
        "training: {seconds:.1} s ({:.0} samples/s)",
        (2 * TRAIN * SHIFTS.len()) as f64 / seconds
    );
    match peak_memory() {
        Some(peak) => println!(
            "peak resident memory while training: {:.1} MB, for a {:.1} MB file",
            peak as f64 / 1e6,
            size as f64 / 1e6
        ),
        None => println!("peak resident memory: not available on this system"),
    }

    let mut test = mnist::stream(&files.test_images, &files.test_labels)?;
    let result = net.evaluate_stream(&mut test, &SparseCategoricalCrossEntropy::default())?;
    std::fs::remove_dir_all(&dir)?;
    println!("test loss: {:.4}", result.loss);
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));
    Ok(())
}

/// The streamed files.
struct Files {
    train_images: PathBuf,
    train_labels: PathBuf,
    test_images: PathBuf,
    test_labels: PathBuf,
}

/// Writes the shifted training digits and the test digits as IDX files in `dir`, one digit at
/// a time.
fn write_files(dir: &Path) -> Result<Files, Box<dyn std::error::Error>> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/mnist");
    let images = dl::data::idx::read(format!("{data}/mnist-10k-images-idx3-ubyte.gz"))?.data;
    let labels = dl::data::idx::read(format!("{data}/mnist-10k-labels-idx1-ubyte.gz"))?.data;
    let files = Files {
        train_images: dir.join("train-images-idx3-ubyte"),
        train_labels: dir.join("train-labels-idx1-ubyte"),
        test_images: dir.join("test-images-idx3-ubyte"),
        test_labels: dir.join("test-labels-idx1-ubyte"),
    };
    let n = TRAIN * SHIFTS.len();
    let mut img = idx_writer(&files.train_images, n, &[28, 28])?;
    let mut lab = idx_writer(&files.train_labels, n, &[])?;
    let mut shifted = [0u8; PIXELS];
    for &(dx, dy) in &SHIFTS {
        for (digit, &label) in images.chunks_exact(PIXELS).zip(&labels).take(TRAIN) {
            shift(digit, dx, dy, &mut shifted);
            img.write_all(&shifted)?;
            lab.write_all(&[label])?;
        }
    }
    img.flush()?;
    lab.flush()?;
    let test = labels.len() - TRAIN;
    let mut img = idx_writer(&files.test_images, test, &[28, 28])?;
    img.write_all(&images[TRAIN * PIXELS..])?;
    img.flush()?;
    let mut lab = idx_writer(&files.test_labels, test, &[])?;
    lab.write_all(&labels[TRAIN..])?;
    lab.flush()?;
    Ok(files)
}

/// A file with the IDX header of `count` unsigned-byte items of dimensions `dims`.
fn idx_writer(path: &Path, count: usize, dims: &[u32]) -> std::io::Result<BufWriter<File>> {
    let mut w = BufWriter::new(File::create(path)?);
    w.write_all(&[0, 0, 0x08, 1 + dims.len() as u8])?;
    w.write_all(&(count as u32).to_be_bytes())?;
    for d in dims {
        w.write_all(&d.to_be_bytes())?;
    }
    Ok(w)
}

/// `digit` moved `dx` columns right and `dy` rows down, filling with background.
fn shift(digit: &[u8], dx: isize, dy: isize, out: &mut [u8; PIXELS]) {
    for r in 0..28 {
        for c in 0..28 {
            let (sr, sc) = (r as isize - dy, c as isize - dx);
            out[r * 28 + c] = match (0..28).contains(&sr) && (0..28).contains(&sc) {
                true => digit[sr as usize * 28 + sc as usize],
                false => 0,
            };
        }
    }
}

/// Restarts the kernel's count of the peak resident memory (Linux: `clear_refs`).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident memory in bytes since the last reset (`VmHWM`, Linux only).
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
