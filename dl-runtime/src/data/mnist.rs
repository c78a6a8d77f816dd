//! The MNIST digits in IDX files, as Keras's `mnist.load_data()` gives them, scaled to 0..1.

use std::path::Path;

use nalgebra::SVector;

use super::idx;
use crate::error::{Error, Result};

/// Pixels per image (28 × 28).
pub const PIXELS: usize = 28 * 28;

/// Images as flat 784-pixel vectors in 0..1, and their labels 0..=9.
pub type Digits = (Vec<SVector<f32, PIXELS>>, Vec<usize>);

/// Reads an images file and a labels file (IDX, optionally `.gz`), checking that they agree.
pub fn load(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Digits> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    let img = idx::read(images)?;
    let lab = idx::read(labels)?;
    let format = |path: &Path, message: String| Error::Format {
        path: path.display().to_string(),
        message,
    };
    // 28 × 28 exactly: [n, 784, 1] has the right pixel count but is not an image.
    if img.dims.len() != 3 || img.dims[1..] != [28, 28] {
        return Err(format(
            images,
            format!("expected images of 28×28, found dimensions {:?}", img.dims),
        ));
    }
    if lab.dims.len() != 1 {
        return Err(format(
            labels,
            format!("expected a 1-D label file, found dimensions {:?}", lab.dims),
        ));
    }
    if img.dims[0] != lab.dims[0] {
        return Err(format(
            labels,
            format!("{} labels for {} images", lab.dims[0], img.dims[0]),
        ));
    }
    if let Some(i) = lab.data.iter().position(|&l| l > 9) {
        return Err(format(
            labels,
            format!("label {} at index {i} is not a digit", lab.data[i]),
        ));
    }
    let x = img
        .data
        .chunks_exact(PIXELS)
        .map(|px| SVector::from_iterator(px.iter().map(|&p| p as f32 / 255.0)))
        .collect();
    let y = lab.data.iter().map(|&l| l as usize).collect();
    Ok((x, y))
}
