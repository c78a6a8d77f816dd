//! Keras's callbacks: code that `fit` calls at the start and end of training, of each epoch and
//! of each batch, which reads the logs and can stop training, change the learning rate or save
//! the network.
//!
//! Epochs are numbered from 1 as everywhere in `dl` (`EpochLog::epoch`); where Keras shows its
//! 0-based epoch index to user code (`LearningRateScheduler`'s function, `CSVLogger`'s
//! `epoch` column) these callbacks pass the same index Keras does, the epochs done before.

mod csv_logger;
mod early_stopping;
mod model_checkpoint;
mod monitor;
mod reduce_lr;
mod scheduler;

pub use csv_logger::CSVLogger;
pub use early_stopping::EarlyStopping;
pub use model_checkpoint::ModelCheckpoint;
pub use monitor::Mode;
pub use reduce_lr::ReduceLROnPlateau;
pub use scheduler::LearningRateScheduler;

use std::fmt;
use std::path::Path;

use super::history::EpochLog;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::Optimizer;

/// Code run by `fit` at Keras's hooks. Every hook does nothing by default; an `Err` from any
/// of them ends training with that error (after the current step, whose update stays).
///
/// ```
/// use dl_runtime::train::{BatchLog, Callback, Context, EpochLog};
///
/// /// Stops once the training loss is below a target.
/// struct StopBelow(f32);
///
/// impl Callback for StopBelow {
///     fn on_epoch_end(&mut self, log: &EpochLog, ctx: &mut Context<'_>) -> dl_runtime::Result<()> {
///         if log.loss < self.0 {
///             ctx.stop_training();
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Callback {
    /// Before the first epoch; `ctx.keys()` lists what the logs will hold, so a callback
    /// checks its options here.
    fn on_train_begin(&mut self, _ctx: &mut Context<'_>) -> Result<()> {
        Ok(())
    }

    /// Before each epoch (1-based).
    fn on_epoch_begin(&mut self, _epoch: usize, _ctx: &mut Context<'_>) -> Result<()> {
        Ok(())
    }

    /// Before each batch.
    fn on_batch_begin(&mut self, _batch: usize, _ctx: &mut Context<'_>) -> Result<()> {
        Ok(())
    }

    /// After each batch, with the epoch's running loss and accuracy. Also after a batch whose
    /// loss was not finite, whose update was refused (`log.refused`): stopping training then
    /// ([`TerminateOnNaN`] does) ends `fit` with `Ok` and the weights of the last good step
    /// rather than with the error.
    fn on_batch_end(&mut self, _log: &BatchLog, _ctx: &mut Context<'_>) -> Result<()> {
        Ok(())
    }

    /// After each epoch, with its log (validation included).
    fn on_epoch_end(&mut self, _log: &EpochLog, _ctx: &mut Context<'_>) -> Result<()> {
        Ok(())
    }

    /// After the last epoch, or once training stopped (not after an `Err`).
    fn on_train_end(&mut self, _ctx: &mut Context<'_>) -> Result<()> {
        Ok(())
    }

    /// The callback's name, for messages.
    fn name(&self) -> &str {
        "callback"
    }
}

impl<C: Callback + ?Sized> Callback for &mut C {
    fn on_train_begin(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        (**self).on_train_begin(ctx)
    }
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut Context<'_>) -> Result<()> {
        (**self).on_epoch_begin(epoch, ctx)
    }
    fn on_batch_begin(&mut self, batch: usize, ctx: &mut Context<'_>) -> Result<()> {
        (**self).on_batch_begin(batch, ctx)
    }
    fn on_batch_end(&mut self, log: &BatchLog, ctx: &mut Context<'_>) -> Result<()> {
        (**self).on_batch_end(log, ctx)
    }
    fn on_epoch_end(&mut self, log: &EpochLog, ctx: &mut Context<'_>) -> Result<()> {
        (**self).on_epoch_end(log, ctx)
    }
    fn on_train_end(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        (**self).on_train_end(ctx)
    }
    fn name(&self) -> &str {
        (**self).name()
    }
}

impl fmt::Debug for dyn Callback + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a batch leaves in the logs: the epoch's running means so far, as Keras's batch logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based batch within the epoch.
    pub batch: usize,
    /// Mean loss over the epoch's samples so far (NaN or infinite when `refused`).
    pub loss: f32,
    /// Accuracy over the epoch's samples so far, for classification losses.
    pub accuracy: Option<f32>,
    /// The batch's loss was not finite and its update was not applied; `fit` ends with an
    /// `Err` unless a callback stops training.
    pub refused: bool,
}

impl BatchLog {
    /// The log entry `key` (`loss`, `accuracy`), as Keras's `logs[key]`.
    pub fn get(&self, key: &str) -> Option<f32> {
        match key {
            "loss" => Some(self.loss),
            "accuracy" => self.accuracy,
            _ => None,
        }
    }
}

/// What a callback may read and change during training: the network's weights, the optimizer,
/// and whether training goes on.
pub struct Context<'a> {
    pub(crate) network: &'a mut dyn Network,
    pub(crate) optimizer: &'a mut dyn Optimizer,
    pub(crate) stop: &'a mut bool,
    pub(crate) keys: &'a [LogKey],
    pub(crate) epochs: usize,
}

/// A key of the epoch logs, and for a metric whether higher is better.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogKey {
    pub(crate) name: String,
    pub(crate) higher_is_better: Option<bool>,
}

impl LogKey {
    /// A key whose direction the monitor tells from its name (`loss`, `accuracy`) or cannot.
    pub(crate) fn plain(name: &str) -> Self {
        LogKey {
            name: name.to_string(),
            higher_is_better: None,
        }
    }
}

impl Context<'_> {
    /// Ends training after the current batch or epoch, as setting Keras's
    /// `model.stop_training` does; `fit` then returns `Ok` with the epochs run.
    pub fn stop_training(&mut self) {
        *self.stop = true;
    }

    /// Whether a callback asked to stop.
    pub fn stopping(&self) -> bool {
        *self.stop
    }

    /// The keys every epoch's log holds (`loss`, `accuracy`, `val_loss`, the metrics' keys,
    /// …), known before the first epoch.
    pub fn keys(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.name.as_str()).collect()
    }

    /// For the key of one of `Fit::metrics` (training or validation), whether a larger value is
    /// better ([`Metric::higher_is_better`](crate::metrics::Metric::higher_is_better)); `None`
    /// for other keys.
    pub fn higher_is_better(&self, key: &str) -> Option<bool> {
        self.keys
            .iter()
            .find(|k| k.name == key)
            .and_then(|k| k.higher_is_better)
    }

    /// The epoch `fit` ends at (its `epochs`).
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// The optimizer, e.g. to read or set its learning rate.
    pub fn optimizer(&mut self) -> &mut dyn Optimizer {
        self.optimizer
    }

    /// Every weight (parameters, then moving statistics) in one flat vector, as Keras's
    /// `model.get_weights()`.
    pub fn get_weights(&self) -> Vec<f32> {
        self.network.get_weights()
    }

    /// Sets every weight from [`Context::get_weights`]'s form; an `Err` if the length differs.
    pub fn set_weights(&mut self, weights: &[f32]) -> Result<()> {
        self.network.set_weights(weights)
    }

    /// Saves the weights as [`save`](crate::weights::save) does.
    pub fn save_weights(&self, path: &Path) -> Result<()> {
        self.network.save(path)
    }

    /// Saves a checkpoint (weights, optimizer and `epoch`) as
    /// [`save_checkpoint`](crate::weights::save_checkpoint) does.
    pub fn save_checkpoint(&self, epoch: usize, path: &Path) -> Result<()> {
        self.network.save_checkpoint(&*self.optimizer, epoch, path)
    }
}

/// A network seen by callbacks, whose type they do not know.
pub(crate) trait Network {
    fn get_weights(&self) -> Vec<f32>;
    fn set_weights(&mut self, weights: &[f32]) -> Result<()>;
    fn save(&self, path: &Path) -> Result<()>;
    fn save_checkpoint(&self, optimizer: &dyn Optimizer, epoch: usize, path: &Path) -> Result<()>;
}

impl<M: Model> Network for M {
    fn get_weights(&self) -> Vec<f32> {
        let mut w = Vec::with_capacity(M::PARAMS + M::NON_TRAINABLE);
        self.for_each_param(|_, _, v| w.extend_from_slice(v));
        self.for_each_state(|_, _, v| w.extend_from_slice(v));
        w
    }

    fn set_weights(&mut self, weights: &[f32]) -> Result<()> {
        if weights.len() != M::PARAMS + M::NON_TRAINABLE {
            return Err(Error::BadCallback(format!(
                "set_weights: {} values for a network of {} weights",
                weights.len(),
                M::PARAMS + M::NON_TRAINABLE
            )));
        }
        let mut rest = weights;
        let mut take = |_: &'static str, _: &'static str, v: &mut [f32]| {
            let (head, tail) = rest.split_at(v.len());
            v.copy_from_slice(head);
            rest = tail;
        };
        self.for_each_param_mut(&mut take);
        self.for_each_state_mut(&mut take);
        Ok(())
    }

    fn save(&self, path: &Path) -> Result<()> {
        crate::weights::save(self, path)
    }

    fn save_checkpoint(&self, optimizer: &dyn Optimizer, epoch: usize, path: &Path) -> Result<()> {
        crate::weights::save_checkpoint(self, optimizer, epoch, path)
    }
}

/// Keras's `TerminateOnNaN`: stops training at a batch whose loss is not finite.
///
/// `fit` never applies such a batch: without this callback it ends with an `Err` naming the
/// epoch and batch; with it, it ends with `Ok`, the history of the epochs completed and the
/// weights of the last good step, as Keras's `fit` returns after `TerminateOnNaN`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminateOnNaN;

impl Callback for TerminateOnNaN {
    fn on_batch_end(&mut self, log: &BatchLog, ctx: &mut Context<'_>) -> Result<()> {
        if !log.loss.is_finite() {
            ctx.stop_training();
        }
        Ok(())
    }

    fn name(&self) -> &str {
        "TerminateOnNaN"
    }
}

/// The callbacks of one `fit`, called in order, and whether one asked to stop.
pub(crate) struct Runner<'c, 'v> {
    pub(crate) callbacks: &'c mut [Box<dyn Callback + 'v>],
    pub(crate) stop: bool,
    pub(crate) keys: Vec<LogKey>,
    pub(crate) epochs: usize,
}

impl Runner<'_, '_> {
    /// Calls `hook` on every callback with a context over `network` and `optimizer`.
    pub(crate) fn call(
        &mut self,
        network: &mut dyn Network,
        optimizer: &mut dyn Optimizer,
        mut hook: impl FnMut(&mut dyn Callback, &mut Context<'_>) -> Result<()>,
    ) -> Result<()> {
        for callback in self.callbacks.iter_mut() {
            let mut ctx = Context {
                network: &mut *network,
                optimizer: &mut *optimizer,
                stop: &mut self.stop,
                keys: &self.keys,
                epochs: self.epochs,
            };
            hook(callback.as_mut(), &mut ctx)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
