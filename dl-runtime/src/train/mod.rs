//! Keras-style training: [`fit`], [`evaluate`], [`predict`], [`fit_stream`] and
//! [`evaluate_stream`] for data read from a [`Source`](crate::data::stream::Source), a [`Compiled`] network that keeps
//! its optimizer across `fit` calls, and the [`Trainer`] that runs one batch at a time for
//! custom loops.

mod callbacks;
mod compiled;
mod debug_build;
mod epoch_metrics;
mod evaluate;
mod feed;
mod fit;
mod history;
mod parallel;
#[cfg(feature = "plot")]
mod plot;
mod progress;
mod split;
mod trainer;
mod update;

pub use callbacks::{
    BatchLog, CSVLogger, Callback, Context, EarlyStopping, LearningRateScheduler, Mode, ModelCheckpoint,
    ReduceLROnPlateau, TerminateOnNaN,
};
pub use compiled::{Compile, Compiled};
pub use evaluate::{Evaluation, evaluate, evaluate_stream, evaluate_weighted, evaluate_with, predict};
pub use fit::{Fit, fit, fit_stream};
pub use history::{EpochLog, History};
pub use parallel::Parallel;
pub use trainer::{BatchStats, Trainer};

use crate::error::{Error, Result};
use crate::head::Head;
use crate::loss::Loss;
use crate::optim::{Clip, Optimizer};
use crate::sample::Sample;
use update::Refused;

/// The error of a step refused at `epoch` and `batch` (1-based).
pub(crate) fn refused(r: Refused, epoch: usize, batch: usize) -> Error {
    match r {
        Refused::Loss(loss) => Error::NonFiniteLoss { epoch, batch, loss },
        Refused::Step(reason) => Error::NonFiniteStep { epoch, batch, reason },
    }
}

/// Checks the optimizer's hyperparameters and the clipping bound, naming the first bad one.
pub(crate) fn check_hyperparameters<O: Optimizer>(optimizer: &O, clip: Option<Clip>) -> Result<()> {
    optimizer.validate()?;
    if let Some(c) = clip {
        c.validate()?;
    }
    Ok(())
}

/// `Err` for a network with a layer that must be adapted from data and was not.
pub(crate) fn check_adapted<M: crate::model::Model>(model: &M) -> Result<()> {
    match model.unadapted() {
        Some(layer) => Err(Error::NotAdapted {
            network: M::NAME,
            layer,
        }),
        None => Ok(()),
    }
}

/// Checks that a data set is usable with a loss, naming the first problem found.
pub(crate) fn check_data<X: Sample, H: Head, L: Loss<H>>(
    what: &'static str,
    x: &[X],
    y: &[L::Target],
    loss: &L,
) -> Result<()> {
    check_labels(what, x, y, loss)?;
    for (index, s) in x.iter().enumerate() {
        if let Some(value) = s.first_non_finite() {
            return Err(Error::NonFiniteInput { what, index, value });
        }
    }
    Ok(())
}

/// [`check_data`] but for the inputs' values, which [`feed::Gathered::gather_checked`] checks
/// as it copies them.
pub(crate) fn check_labels<X: Sample, H: Head, L: Loss<H>>(
    what: &'static str,
    x: &[X],
    y: &[L::Target],
    loss: &L,
) -> Result<()> {
    if x.len() != y.len() {
        return Err(Error::LengthMismatch {
            x: x.len(),
            y: y.len(),
        });
    }
    if x.is_empty() {
        return Err(Error::EmptyData { what });
    }
    for (index, t) in y.iter().enumerate() {
        loss.check_target(t)
            .map_err(|message| Error::BadLabel { what, index, message })?;
    }
    Ok(())
}
