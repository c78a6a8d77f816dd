//! Data read one sample at a time, for data sets larger than memory: a [`Source`] that
//! [`fit_stream`](crate::train::fit_stream) reads from the start again each epoch, [`iter`] and
//! [`try_iter`] over any iterator, and a shuffle buffer ([`Source::shuffle`]) with the semantics
//! of tf.data's `shuffle(buffer_size)`.
//!
//! Memory is what the source keeps (a file reader's buffer) plus the shuffle buffer's samples,
//! whatever the number of samples per epoch.
//!
//! ```
//! use dl::data::stream::{self, Source};
//! use dl::prelude::*;
//!
//! // Any iterator, opened afresh each epoch (here computed; in practice read from a file).
//! let samples = stream::iter("squares", || {
//!     (0..1000).map(|i| (SVector::<f32, 1>::new(i as f32 / 1000.0), (i % 2) as f32))
//! });
//! // Draw each sample at random from a buffer of 64, refilled from the stream.
//! let mut shuffled = samples.shuffle(64);
//! shuffled.start(stream::Order::Shuffled { seed: 1, epoch: 1 })?;
//! let mut seen = 0;
//! while let Some(sample) = shuffled.next() {
//!     sample?;
//!     seen += 1;
//! }
//! assert_eq!(seen, 1000);
//! # Ok::<(), stream::BoxError>(())
//! ```

use std::fmt;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The error a [`Source`] reports: any error type (an `std::io::Error`, dl's
/// [`Error`](crate::Error), a message as a `String`, …).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The order in which an epoch reads a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As stored: a shuffle buffer passes samples through unchanged.
    Stored,
    /// Shuffled by the shuffle buffer, if the source has one, in an order that depends only on
    /// `seed` and `epoch` (1-based), so that a resumed run reads what an uninterrupted one did.
    Shuffled {
        /// The seed (`Fit::seed`).
        seed: u64,
        /// The epoch about to be read.
        epoch: usize,
    },
}

/// Samples and labels read one at a time, from the first again for each epoch: a file that
/// does not fit in memory, a generator, a database cursor.
///
/// `fit_stream` calls [`start`](Source::start) before each epoch and then
/// [`next`](Source::next) until it returns `None`; an `Err` from either stops training, and
/// the error names the source and how far the epoch had read. Build one with [`iter`] or
/// [`try_iter`], or implement the trait for a reader of your own format (see
/// [`mnist::stream`](super::mnist::stream)).
pub trait Source<X, T> {
    /// Goes back to the first sample, for an epoch read in `order`. A file source reopens
    /// (or rewinds) its file here.
    fn start(&mut self, order: Order) -> Result<(), BoxError>;

    /// The next sample and its label; `None` at the end of the epoch.
    fn next(&mut self) -> Option<Result<(X, T), BoxError>>;

    /// What the source reads (a file's path), for error messages.
    fn name(&self) -> String;

    /// The samples an epoch yields, if known once started: it sizes the progress bar, and lets
    /// a resumed `fit` (`initial_epoch` > 0) number its steps as an uninterrupted run did.
    /// `fit` checks the count at the end of each epoch. `None` by default.
    fn epoch_len(&self) -> Option<usize> {
        None
    }

    /// Whether [`next`](Source::next) shuffles when started with [`Order::Shuffled`] (a shuffle
    /// buffer does). `fit_stream` refuses `shuffle: true` for a source that does not, rather
    /// than train on a stored order that may be sorted by class.
    fn shuffles(&self) -> bool {
        false
    }

    /// This source read through a shuffle buffer of `buffer_size` samples, as tf.data's
    /// `dataset.shuffle(buffer_size)`: the buffer is filled with the first `buffer_size`
    /// samples, each sample emitted is drawn uniformly from the buffer and its place refilled
    /// from the source. A buffer of 1 keeps the stored order; one at least as large as the
    /// epoch gives a uniform permutation of it; memory grows with the buffer, not the source.
    /// The order depends only on `fit`'s `seed` and the epoch. A `buffer_size` of 0 is an
    /// `Err` when the source is started.
    fn shuffle(self, buffer_size: usize) -> Shuffle<Self, X, T>
    where
        Self: Sized,
    {
        Shuffle {
            inner: self,
            capacity: buffer_size,
            buffer: Vec::new(),
            rng: None,
            exhausted: false,
        }
    }
}

impl<X, T> fmt::Debug for dyn Source<X, T> + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Source({})", self.name())
    }
}

impl<X, T, S: Source<X, T> + ?Sized> Source<X, T> for &mut S {
    fn start(&mut self, order: Order) -> Result<(), BoxError> {
        (**self).start(order)
    }
    fn next(&mut self) -> Option<Result<(X, T), BoxError>> {
        (**self).next()
    }
    fn name(&self) -> String {
        (**self).name()
    }
    fn epoch_len(&self) -> Option<usize> {
        (**self).epoch_len()
    }
    fn shuffles(&self) -> bool {
        (**self).shuffles()
    }
}

/// A source read through a shuffle buffer: see [`Source::shuffle`].
#[derive(Debug)]
pub struct Shuffle<S, X, T> {
    inner: S,
    capacity: usize,
    buffer: Vec<(X, T)>,
    /// The epoch's draws; `None` when reading in stored order.
    rng: Option<ChaCha8Rng>,
    exhausted: bool,
}

impl<S: Source<X, T>, X, T> Source<X, T> for Shuffle<S, X, T> {
    fn start(&mut self, order: Order) -> Result<(), BoxError> {
        if self.capacity == 0 {
            return Err("the shuffle buffer_size is 0; it must be at least 1".into());
        }
        self.buffer.clear();
        self.exhausted = false;
        self.rng = match order {
            Order::Stored => None,
            Order::Shuffled { seed, epoch } => Some(epoch_rng(seed, epoch)),
        };
        self.inner.start(Order::Stored)
    }

    fn next(&mut self) -> Option<Result<(X, T), BoxError>> {
        let Some(rng) = &mut self.rng else {
            return self.inner.next();
        };
        while !self.exhausted && self.buffer.len() < self.capacity {
            match self.inner.next() {
                Some(Ok(sample)) => self.buffer.push(sample),
                Some(Err(e)) => return Some(Err(e)),
                None => self.exhausted = true,
            }
        }
        if self.buffer.is_empty() {
            return None;
        }
        let i = rng.random_range(0..self.buffer.len());
        Some(Ok(self.buffer.swap_remove(i)))
    }

    fn name(&self) -> String {
        self.inner.name()
    }

    fn epoch_len(&self) -> Option<usize> {
        self.inner.epoch_len()
    }

    fn shuffles(&self) -> bool {
        true
    }
}

/// The generator of epoch `epoch`'s order under `seed`: a ChaCha8 stream of its own per epoch,
/// so an epoch's order does not depend on the epochs before it. `fit`'s shuffle of slices
/// draws from the same stream.
pub(crate) fn epoch_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64);
    rng
}

/// A source over the iterator that `open` returns, called again at the start of each epoch.
///
/// ```
/// use dl::data::stream;
/// use dl::prelude::*;
///
/// let x: Vec<SVector<f32, 2>> = vec![SVector::from([0.0, 1.0]); 10];
/// let y = vec![1.0f32; 10];
/// let source = stream::iter("pairs", || x.iter().copied().zip(y.iter().copied()));
/// ```
pub fn iter<X, T, I, F>(name: impl Into<String>, mut open: F) -> impl Source<X, T>
where
    F: FnMut() -> I,
    I: IntoIterator<Item = (X, T)>,
{
    try_iter(name, move || {
        Ok::<_, std::convert::Infallible>(open().into_iter().map(Ok::<_, std::convert::Infallible>))
    })
}

/// A source over the fallible iterator that `open` returns, called again at the start of each
/// epoch: for a reader whose opening and whose items can fail (an `Err` from `open` or from
/// an item stops `fit` with an error naming the source and the sample).
///
/// ```
/// use std::io::{BufRead, BufReader};
/// use dl::data::stream::{self, BoxError};
/// use dl::prelude::*;
///
/// // One sample per line: "feature,label".
/// # let dir = std::env::temp_dir().join("dl-doc-try-iter");
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("data.csv");
/// # std::fs::write(&path, "0.5,1\n0.25,0\n")?;
/// let source = stream::try_iter(path.display().to_string(), move || -> Result<_, BoxError> {
///     let lines = BufReader::new(std::fs::File::open(&path)?).lines();
///     Ok(lines.map(|line| -> Result<_, BoxError> {
///         let line = line?;
///         let (x, y) = line.split_once(',').ok_or("no comma")?;
///         Ok((SVector::<f32, 1>::new(x.parse()?), y.parse::<f32>()?))
///     }))
/// });
/// # Ok::<(), BoxError>(())
/// ```
pub fn try_iter<X, T, I, F, E, E2>(name: impl Into<String>, open: F) -> impl Source<X, T>
where
    F: FnMut() -> Result<I, E>,
    I: IntoIterator<Item = Result<(X, T), E2>>,
    E: Into<BoxError>,
    E2: Into<BoxError>,
{
    FromIter {
        name: name.into(),
        open,
        iter: None,
    }
}

/// The source behind [`iter`] and [`try_iter`].
struct FromIter<F, I> {
    name: String,
    open: F,
    iter: Option<I>,
}

impl<X, T, I, F, E, E2> Source<X, T> for FromIter<F, I::IntoIter>
where
    F: FnMut() -> Result<I, E>,
    I: IntoIterator<Item = Result<(X, T), E2>>,
    E: Into<BoxError>,
    E2: Into<BoxError>,
{
    fn start(&mut self, _: Order) -> Result<(), BoxError> {
        self.iter = None;
        self.iter = Some((self.open)().map_err(Into::into)?.into_iter());
        Ok(())
    }

    fn next(&mut self) -> Option<Result<(X, T), BoxError>> {
        Some(self.iter.as_mut()?.next()?.map_err(Into::into))
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn epoch_len(&self) -> Option<usize> {
        match self.iter.as_ref()?.size_hint() {
            (lo, Some(hi)) if lo == hi => Some(lo),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order one epoch of `0..n` comes out of a buffer of `k`.
    fn epoch(n: usize, k: usize, seed: u64, epoch: usize) -> Vec<usize> {
        let mut s = iter("numbers", || (0..n).map(|i| (i, ()))).shuffle(k);
        s.start(Order::Shuffled { seed, epoch }).unwrap();
        std::iter::from_fn(|| s.next()).map(|r| r.unwrap().0).collect()
    }

    #[test]
    fn every_sample_comes_out_exactly_once_per_epoch() {
        for n in [0, 1, 2, 7, 100] {
            for k in [1, 2, 3, 50, 100, 1000] {
                for e in 1..4 {
                    let mut out = epoch(n, k, 5, e);
                    out.sort_unstable();
                    assert_eq!(out, (0..n).collect::<Vec<_>>(), "n {n} buffer {k} epoch {e}");
                }
            }
        }
    }

    #[test]
    fn a_buffer_of_one_keeps_the_stored_order() {
        assert_eq!(epoch(50, 1, 9, 3), (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn a_sample_moves_at_most_the_buffer_size_earlier() {
        // tf.data's bound: the sample emitted at position p was read by then, so it was
        // among the first p + k samples.
        for k in [2, 5, 16] {
            for (p, &i) in epoch(200, k, 1, 1).iter().enumerate() {
                assert!(i < p + k, "buffer {k}: sample {i} at position {p}");
            }
        }
    }

    #[test]
    fn a_buffer_as_large_as_the_epoch_draws_a_uniform_permutation() {
        // Over 2,000 seeds each of 5 samples comes first about 400 times: a buffer smaller
        // than the epoch could never put the last sample first.
        let (n, seeds) = (5, 2000);
        let mut first = [0usize; 5];
        for seed in 0..seeds {
            first[epoch(n, n, seed, 1)[0]] += 1;
        }
        for (i, &c) in first.iter().enumerate() {
            assert!((330..470).contains(&c), "sample {i} first {c} times of {seeds}");
        }
        assert_eq!(epoch(5, 4, 0, 1).len(), 5);
        assert!((0..200).all(|seed| epoch(5, 4, seed, 1)[0] != 4));
    }

    #[test]
    fn the_order_depends_only_on_the_seed_and_the_epoch() {
        assert_eq!(epoch(100, 10, 3, 2), epoch(100, 10, 3, 2));
        assert_ne!(epoch(100, 10, 3, 2), epoch(100, 10, 3, 3));
        assert_ne!(epoch(100, 10, 3, 2), epoch(100, 10, 4, 2));
        let mut s = iter("numbers", || (0..100).map(|i| (i, ()))).shuffle(10);
        // Reading epoch 1 first changes nothing in epoch 2.
        s.start(Order::Shuffled { seed: 3, epoch: 1 }).unwrap();
        while s.next().is_some() {}
        s.start(Order::Shuffled { seed: 3, epoch: 2 }).unwrap();
        let again: Vec<usize> = std::iter::from_fn(|| s.next()).map(|r| r.unwrap().0).collect();
        assert_eq!(again, epoch(100, 10, 3, 2));
    }

    #[test]
    fn stored_order_passes_through_and_a_zero_buffer_is_refused() {
        let mut s = iter("numbers", || (0..20).map(|i| (i, ()))).shuffle(8);
        s.start(Order::Stored).unwrap();
        let out: Vec<usize> = std::iter::from_fn(|| s.next()).map(|r| r.unwrap().0).collect();
        assert_eq!(out, (0..20).collect::<Vec<_>>());
        let mut zero = iter("numbers", || (0..20).map(|i| (i, ()))).shuffle(0);
        let e = zero.start(Order::Stored).unwrap_err().to_string();
        assert!(e.contains("buffer_size is 0"), "{e}");
    }

    #[test]
    fn an_error_inside_the_buffer_comes_out() {
        let mut s = try_iter("flaky", || {
            Ok::<_, BoxError>((0..10).map(|i| match i {
                6 => Err::<(usize, ()), BoxError>("disk on fire".into()),
                i => Ok((i, ())),
            }))
        })
        .shuffle(4);
        s.start(Order::Shuffled { seed: 0, epoch: 1 }).unwrap();
        let out: Vec<_> = std::iter::from_fn(|| s.next()).collect();
        let errors: Vec<String> = out
            .iter()
            .filter_map(|r| r.as_ref().err().map(ToString::to_string))
            .collect();
        assert_eq!(errors, ["disk on fire"]);
    }
}
