//! The MNIST digits in IDX files, as Keras's `mnist.load_data()` gives them, scaled to 0..1.

use std::io::Read;
use std::path::{Path, PathBuf};

use nalgebra::SVector;

use super::idx;
use super::stream::{BoxError, Order, Source};
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
    check_dims(images, &img.dims, labels, &lab.dims)?;
    if let Some(i) = lab.data.iter().position(|&l| l > 9) {
        return Err(not_a_digit(labels, lab.data[i], i));
    }
    let x = img.data.chunks_exact(PIXELS).map(scale).collect();
    let y = lab.data.iter().map(|&l| l as usize).collect();
    Ok((x, y))
}

/// Checks that the IDX dimensions of an images file and a labels file hold 28×28 images and
/// one label each; the number of digits.
fn check_dims(images: &Path, img: &[usize], labels: &Path, lab: &[usize]) -> Result<usize> {
    let format = |path: &Path, message: String| Error::Format {
        path: path.display().to_string(),
        message,
    };
    // 28 × 28 exactly: [n, 784, 1] has the right pixel count but is not an image.
    if img.len() != 3 || img[1..] != [28, 28] {
        return Err(format(
            images,
            format!("expected images of 28×28, found dimensions {img:?}"),
        ));
    }
    if lab.len() != 1 {
        return Err(format(
            labels,
            format!("expected a 1-D label file, found dimensions {lab:?}"),
        ));
    }
    if img[0] != lab[0] {
        return Err(format(labels, format!("{} labels for {} images", lab[0], img[0])));
    }
    Ok(img[0])
}

fn not_a_digit(labels: &Path, label: u8, index: usize) -> Error {
    Error::Format {
        path: labels.display().to_string(),
        message: format!("label {label} at index {index} is not a digit"),
    }
}

/// An image's pixels scaled to 0..1.
fn scale(pixels: &[u8]) -> SVector<f32, PIXELS> {
    SVector::from_iterator(pixels.iter().map(|&p| p as f32 / 255.0))
}

/// The digits of an images file and a labels file (IDX, optionally `.gz`) read one at a time,
/// for [`fit_stream`](crate::train::fit_stream): memory stays at the readers' buffers however
/// large the files are. The headers are checked here; each epoch reopens both files, and a file
/// that ends early, or a label that is not a digit, is an `Err` naming the file and the sample.
pub fn stream(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<DigitStream> {
    let (images, labels) = (images.as_ref().to_path_buf(), labels.as_ref().to_path_buf());
    let (_, img, _) = idx::open(&images)?;
    let (_, lab, _) = idx::open(&labels)?;
    let count = check_dims(&images, &img, &labels, &lab)?;
    Ok(DigitStream {
        images,
        labels,
        count,
        readers: None,
        at: 0,
        pixels: vec![0; PIXELS],
    })
}

/// MNIST files read one digit at a time: see [`stream`].
pub struct DigitStream {
    images: PathBuf,
    labels: PathBuf,
    count: usize,
    readers: Option<(Box<dyn Read + Send>, Box<dyn Read + Send>)>,
    /// Digits read this epoch.
    at: usize,
    pixels: Vec<u8>,
}

impl std::fmt::Debug for DigitStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigitStream")
            .field("images", &self.images)
            .field("labels", &self.labels)
            .field("count", &self.count)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl Source<SVector<f32, PIXELS>, usize> for DigitStream {
    fn start(&mut self, _: Order) -> Result<(), BoxError> {
        self.readers = None;
        let (img_reader, img, _) = idx::open(&self.images)?;
        let (lab_reader, lab, _) = idx::open(&self.labels)?;
        // The files may have changed since `stream` looked.
        if check_dims(&self.images, &img, &self.labels, &lab)? != self.count {
            return Err(format!(
                "{} now holds {} digits, {} when the stream was made",
                self.images.display(),
                img[0],
                self.count
            )
            .into());
        }
        self.readers = Some((img_reader, lab_reader));
        self.at = 0;
        Ok(())
    }

    fn next(&mut self) -> Option<Result<(SVector<f32, PIXELS>, usize), BoxError>> {
        let (img, lab) = self.readers.as_mut()?;
        if self.at == self.count {
            return None;
        }
        let mut label = [0u8];
        let read = |r: &mut Box<dyn Read + Send>, buf: &mut [u8], path: &Path| {
            r.read_exact(buf).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })
        };
        let digit = read(img, &mut self.pixels, &self.images)
            .and_then(|()| read(lab, &mut label, &self.labels))
            .and_then(|()| match label[0] {
                l @ 0..=9 => Ok((scale(&self.pixels), l as usize)),
                l => Err(not_a_digit(&self.labels, l, self.at)),
            });
        self.at += 1;
        if digit.is_err() {
            // Nothing more from this epoch: its readers are at an unknown place.
            self.readers = None;
        }
        Some(digit.map_err(Into::into))
    }

    fn name(&self) -> String {
        self.images.display().to_string()
    }

    fn epoch_len(&self) -> Option<usize> {
        Some(self.count)
    }
}
