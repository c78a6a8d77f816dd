use super::monitor::{Mode, Monitor};
use super::{Callback, Context};
use crate::error::Result;
use crate::train::EpochLog;

/// Keras's `EarlyStopping`: stops training once `monitor` has not improved by more than
/// `min_delta` for `patience` epochs, optionally putting back the weights of the best epoch.
///
/// Keras's semantics, checked against Keras 3 by `tests/fixtures/make_callback_fixtures.py`:
/// epochs before `start_from_epoch` (counted as Keras's 0-based index, the epochs done
/// before) are ignored; an epoch that improves on the best resets the wait only if it also
/// beats `baseline`; training stops at the end of the epoch where the wait reaches `patience`
/// (never at the first epoch); with `restore_best_weights` the weights of the best epoch are
/// put back when training ends, whether it stopped early or not.
///
/// ```
/// # use dl_runtime::train::EarlyStopping;
/// let stop = EarlyStopping::new("val_loss").with_patience(3).with_restore_best_weights(true);
/// ```
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    baseline: Option<f64>,
    restore_best_weights: bool,
    start_from_epoch: usize,
    verbose: bool,
    wait: usize,
    stopped_epoch: Option<usize>,
    best: Option<f64>,
    best_weights: Option<Vec<f32>>,
    best_epoch: Option<usize>,
}

impl Default for EarlyStopping {
    /// Keras's defaults: `val_loss`, patience 0.
    fn default() -> Self {
        EarlyStopping::new("val_loss")
    }
}

impl EarlyStopping {
    /// Watches the log entry `monitor` (`val_loss`, `accuracy`, …) with Keras's defaults:
    /// `min_delta` 0, `patience` 0, mode from the name, no baseline, no restoring.
    pub fn new(monitor: &str) -> Self {
        EarlyStopping {
            monitor: Monitor::new(monitor, Mode::Auto, 0.0),
            patience: 0,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            verbose: false,
            wait: 0,
            stopped_epoch: None,
            best: None,
            best_weights: None,
            best_epoch: None,
        }
    }

    /// Epochs without improvement after which training stops.
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// The smallest change that counts as an improvement (its absolute value, as Keras).
    pub fn with_min_delta(mut self, min_delta: f64) -> Self {
        self.monitor.min_delta = min_delta;
        self
    }

    /// Whether lower or higher values are better.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.monitor.mode = mode;
        self
    }

    /// A value the monitor must beat for the wait to restart.
    pub fn with_baseline(mut self, baseline: f64) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Put back the weights of the best epoch when training ends.
    pub fn with_restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// Epochs (Keras's 0-based index) to let pass before watching.
    pub fn with_start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// Print a line when stopping and when restoring.
    pub fn with_verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// The (1-based) epoch at whose end training stopped, if it did.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The (1-based) epoch with the best monitored value, and that value.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best_epoch.zip(self.best)
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        self.monitor.begin("EarlyStopping", ctx)?;
        if let Some(b) = self.baseline.filter(|b| !b.is_finite()) {
            return Err(crate::Error::BadCallback(format!(
                "EarlyStopping: `baseline` must be finite; got {b}"
            )));
        }
        // Reusable across `fit` calls, as Keras's.
        (self.wait, self.stopped_epoch, self.best) = (0, None, None);
        (self.best_weights, self.best_epoch) = (None, None);
        Ok(())
    }

    fn on_epoch_end(&mut self, log: &EpochLog, ctx: &mut Context<'_>) -> Result<()> {
        let index = log.epoch - 1;
        let Some(current) = log.get(&self.monitor.key) else {
            return Ok(());
        };
        if index < self.start_from_epoch {
            return Ok(());
        }
        let current = f64::from(current);
        if self.restore_best_weights && self.best_weights.is_none() {
            self.best_weights = Some(ctx.get_weights());
            self.best_epoch = Some(log.epoch);
        }
        self.wait += 1;
        if self.monitor.improves(current, self.best) {
            self.best = Some(current);
            self.best_epoch = Some(log.epoch);
            if self.restore_best_weights {
                self.best_weights = Some(ctx.get_weights());
            }
            if self.baseline.is_none() || self.monitor.improves(current, self.baseline) {
                self.wait = 0;
            }
            return Ok(());
        }
        if self.wait >= self.patience && index > 0 {
            self.stopped_epoch = Some(log.epoch);
            ctx.stop_training();
        }
        Ok(())
    }

    fn on_train_end(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        if let (Some(epoch), true) = (self.stopped_epoch, self.verbose) {
            eprintln!("Epoch {epoch}: early stopping");
        }
        if let (true, Some(weights)) = (self.restore_best_weights, &self.best_weights) {
            if self.verbose {
                let best = self.best_epoch.unwrap_or_default();
                eprintln!("Restoring model weights from the end of the best epoch: {best}.");
            }
            ctx.set_weights(weights)?;
        }
        Ok(())
    }

    fn name(&self) -> &str {
        "EarlyStopping"
    }
}
