//! Where the batches of `fit` and the chunks of `evaluate` come from: slices held in memory, or
//! a [`Source`] read one sample at a time. The training and evaluation loops take either, so
//! that a stream is trained on exactly as slices in the same order are.

use rand::seq::SliceRandom;

use crate::data::stream::{BoxError, Order, Source};
use crate::error::{Error, Result};
use crate::head::Head;
use crate::loss::Loss;
use crate::sample::Sample;

/// A batch laid end to end: the samples' elements, their labels, and their weights (empty when
/// unweighted). Reused from batch to batch.
pub(crate) struct Gathered<E, T> {
    pub x: Vec<E>,
    pub y: Vec<T>,
    pub w: Vec<f32>,
}

impl<E, T> Default for Gathered<E, T> {
    fn default() -> Self {
        Gathered {
            x: Vec::new(),
            y: Vec::new(),
            w: Vec::new(),
        }
    }
}

impl<E: Copy, T: Copy> Gathered<E, T> {
    /// The samples of `x`, `y` at `indices`, with their weights if `weights` (one per sample
    /// of `x`) is not empty.
    pub fn gather<X: Sample<Elem = E>>(
        &mut self,
        x: &[X],
        y: &[T],
        weights: &[f32],
        indices: impl Iterator<Item = usize>,
    ) {
        self.clear();
        for i in indices {
            self.x.extend_from_slice(x[i].elems());
            self.y.push(y[i]);
            if !weights.is_empty() {
                self.w.push(weights[i]);
            }
        }
    }

    /// All of `x` and `y`, each sample checked for NaN and infinity as it is copied (still in
    /// cache: a second pass over a batch of MobileNetV1's 96×96×3 inputs read 3.5 MB again);
    /// `Err` names the first such sample, as [`check_data`](super::check_data) does.
    pub fn gather_checked<X: Sample<Elem = E>>(
        &mut self,
        what: &'static str,
        x: &[X],
        y: &[T],
    ) -> Result<()> {
        self.clear();
        for (index, (s, &t)) in x.iter().zip(y).enumerate() {
            self.x.extend_from_slice(s.elems());
            self.y.push(t);
            if let Some(value) = s.first_non_finite() {
                return Err(Error::NonFiniteInput { what, index, value });
            }
        }
        Ok(())
    }

    fn clear(&mut self) {
        self.x.clear();
        self.y.clear();
        self.w.clear();
    }
}

/// Samples of type `X` with labels for the loss `L`, batch by batch, epoch after epoch.
pub(crate) trait Feed<X: Sample, H: Head, L: Loss<H>> {
    /// Goes back to the first sample, for epoch `epoch` (`None` when evaluating), shuffled
    /// with `seed` when `shuffle`.
    fn start(&mut self, epoch: Option<usize>, shuffle: Option<u64>) -> Result<()>;

    /// Samples per epoch, when known (after `start` for a stream).
    fn samples(&self) -> Option<usize>;

    /// Gathers the next (up to) `n` samples into `into`; how many, 0 at the end of the epoch.
    fn fill(&mut self, n: usize, into: &mut Gathered<X::Elem, L::Target>, loss: &L) -> Result<usize>;
}

/// Slices whose data and weights were checked beforehand.
pub(crate) struct Slices<'a, X, T> {
    x: &'a [X],
    y: &'a [T],
    /// One per sample, or empty.
    w: &'a [f32],
    order: Vec<usize>,
    at: usize,
}

impl<'a, X, T> Slices<'a, X, T> {
    pub fn new(x: &'a [X], y: &'a [T], w: &'a [f32]) -> Self {
        Slices {
            x,
            y,
            w,
            order: (0..x.len()).collect(),
            at: 0,
        }
    }
}

impl<X: Sample, H: Head, L: Loss<H>> Feed<X, H, L> for Slices<'_, X, L::Target> {
    fn start(&mut self, epoch: Option<usize>, shuffle: Option<u64>) -> Result<()> {
        self.at = 0;
        self.order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
        if let (Some(seed), Some(epoch)) = (shuffle, epoch) {
            // A fresh permutation from a stream of its own, so that resuming at any epoch
            // shuffles exactly as an uninterrupted run does.
            self.order
                .shuffle(&mut crate::data::stream::epoch_rng(seed, epoch));
        }
        Ok(())
    }

    fn samples(&self) -> Option<usize> {
        Some(self.x.len())
    }

    fn fill(&mut self, n: usize, into: &mut Gathered<X::Elem, L::Target>, _: &L) -> Result<usize> {
        let end = (self.at + n).min(self.order.len());
        let indices = self.order[self.at..end].iter().copied();
        into.gather(self.x, self.y, self.w, indices);
        self.at = end;
        Ok(into.y.len())
    }
}

/// A [`Source`] whose samples are checked as they are read, weighted by class if
/// `class_weight` is given.
pub(crate) struct Stream<'a, X, T> {
    source: &'a mut dyn Source<X, T>,
    class_weight: Option<&'a [f32]>,
    epoch: Option<usize>,
    /// Samples of the epoch read so far.
    read: usize,
    /// What the source declared for this epoch.
    declared: Option<usize>,
}

impl<'a, X, T> Stream<'a, X, T> {
    pub fn new(source: &'a mut dyn Source<X, T>, class_weight: Option<&'a [f32]>) -> Self {
        Stream {
            source,
            class_weight,
            epoch: None,
            read: 0,
            declared: None,
        }
    }

    /// The error `cause` at the current place of the stream.
    fn error(&self, cause: impl Into<BoxError>) -> Error {
        Error::Stream {
            name: self.source.name(),
            epoch: self.epoch,
            read: self.read,
            cause: cause.into(),
        }
    }
}

impl<X: Sample, H: Head, L: Loss<H>> Feed<X, H, L> for Stream<'_, X, L::Target> {
    fn start(&mut self, epoch: Option<usize>, shuffle: Option<u64>) -> Result<()> {
        self.epoch = epoch;
        self.read = 0;
        let order = match (shuffle, epoch) {
            (Some(seed), Some(epoch)) => Order::Shuffled { seed, epoch },
            _ => Order::Stored,
        };
        self.source.start(order).map_err(|e| self.error(e))?;
        self.declared = self.source.epoch_len();
        Ok(())
    }

    fn samples(&self) -> Option<usize> {
        self.declared
    }

    fn fill(&mut self, n: usize, into: &mut Gathered<X::Elem, L::Target>, loss: &L) -> Result<usize> {
        into.clear();
        while into.y.len() < n {
            let Some(next) = self.source.next() else {
                match self.declared {
                    Some(d) if d != self.read => {
                        return Err(self.error(format!("the source declared {d} samples per epoch")));
                    }
                    _ => break,
                }
            };
            if let Some(d) = self.declared.filter(|&d| self.read == d) {
                return Err(self.error(format!(
                    "the source declared {d} samples per epoch, and yields more"
                )));
            }
            let (x, t) = next.map_err(|e| self.error(e))?;
            if let Err(message) = loss.check_target(&t) {
                return Err(self.error(format!("bad label: {message}")));
            }
            if let Some(value) = x.first_non_finite() {
                return Err(self.error(format!("the input holds a non-finite value ({value})")));
            }
            into.x.extend_from_slice(x.elems());
            into.y.push(t);
            if let Some(cw) = self.class_weight {
                let c = loss.target_class(&t);
                match cw.get(c) {
                    Some(&w) => into.w.push(w),
                    None => return Err(self.error(format!("class {c} has no class_weight"))),
                }
            }
            self.read += 1;
        }
        Ok(into.y.len())
    }
}
