use super::monitor::{Mode, Monitor};
use super::{Callback, Context};
use crate::error::{Error, Result};
use crate::train::EpochLog;

/// Keras's `ReduceLROnPlateau`: multiplies the learning rate by `factor` once `monitor` has not
/// improved by more than `min_delta` for `patience` epochs, then waits `cooldown` epochs before
/// counting again, never going below `min_lr`.
///
/// Keras's counting, checked against Keras 3 by `tests/fixtures/make_callback_fixtures.py`:
/// during the cooldown each epoch counts the cooldown down and clears the wait; an improving
/// epoch clears the wait; any other epoch outside the cooldown adds one to the wait, and
/// reaching `patience` reduces the rate (if it is above `min_lr`) and starts the cooldown. The
/// new rate is `max(rate · factor, min_lr)` in double precision, rounded to `f32`, as Keras.
/// The optimizer must have a settable learning rate, not a [`Schedule`](crate::optim::Schedule)
/// (Keras refuses that too).
///
/// ```
/// # use dl_runtime::train::ReduceLROnPlateau;
/// let reduce = ReduceLROnPlateau::new("val_loss").with_factor(0.5).with_patience(2);
/// ```
#[derive(Debug, Clone)]
pub struct ReduceLROnPlateau {
    monitor: Monitor,
    factor: f64,
    patience: usize,
    cooldown: usize,
    min_lr: f64,
    verbose: bool,
    wait: usize,
    cooldown_counter: usize,
    best: Option<f64>,
}

impl Default for ReduceLROnPlateau {
    /// Keras's defaults: `val_loss`.
    fn default() -> Self {
        ReduceLROnPlateau::new("val_loss")
    }
}

impl ReduceLROnPlateau {
    /// Watches the log entry `monitor` with Keras's defaults: `factor` 0.1, `patience` 10,
    /// `min_delta` 1e-4, `cooldown` 0, `min_lr` 0, mode from the name.
    pub fn new(monitor: &str) -> Self {
        ReduceLROnPlateau {
            monitor: Monitor::new(monitor, Mode::Auto, 1e-4),
            factor: 0.1,
            patience: 10,
            cooldown: 0,
            min_lr: 0.0,
            verbose: false,
            wait: 0,
            cooldown_counter: 0,
            best: None,
        }
    }

    /// The factor the rate is multiplied by, in (0, 1).
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement before a reduction.
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// The smallest change that counts as an improvement.
    pub fn with_min_delta(mut self, min_delta: f64) -> Self {
        self.monitor.min_delta = min_delta;
        self
    }

    /// Whether lower or higher values are better.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.monitor.mode = mode;
        self
    }

    /// Epochs after a reduction during which nothing is counted.
    pub fn with_cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The lowest rate, finite and at least 0.
    pub fn with_min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    /// Print a line at each reduction.
    pub fn with_verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }
}

impl Callback for ReduceLROnPlateau {
    fn on_train_begin(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        let bad = |message: String| Err(Error::BadCallback(format!("ReduceLROnPlateau: {message}")));
        self.monitor.begin("ReduceLROnPlateau", ctx)?;
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return bad(format!("`factor` must be in (0, 1); got {}", self.factor));
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0) {
            return bad(format!(
                "`min_lr` must be finite and at least 0; got {}",
                self.min_lr
            ));
        }
        settable_rate("ReduceLROnPlateau", ctx)?;
        (self.best, self.cooldown_counter, self.wait) = (None, 0, 0);
        Ok(())
    }

    fn on_epoch_end(&mut self, log: &EpochLog, ctx: &mut Context<'_>) -> Result<()> {
        let Some(current) = log.get(&self.monitor.key) else {
            return Ok(());
        };
        let current = f64::from(current);
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        if self.monitor.improves(current, self.best) {
            self.best = Some(current);
            self.wait = 0;
        } else if self.cooldown_counter == 0 {
            self.wait += 1;
            if self.wait >= self.patience {
                let old = f64::from(ctx.optimizer().learning_rate().unwrap_or_default());
                if old > f64::from(self.min_lr as f32) {
                    let new = (old * self.factor).max(self.min_lr) as f32;
                    set_rate("ReduceLROnPlateau", ctx, new)?;
                    if self.verbose {
                        eprintln!(
                            "Epoch {}: ReduceLROnPlateau reducing learning rate to {new}.",
                            log.epoch
                        );
                    }
                    (self.cooldown_counter, self.wait) = (self.cooldown, 0);
                }
            }
        }
        Ok(())
    }

    fn name(&self) -> &str {
        "ReduceLROnPlateau"
    }
}

/// Refuses an optimizer whose learning rate `callback` could not set.
pub(super) fn settable_rate(callback: &str, ctx: &mut Context<'_>) -> Result<()> {
    let optimizer = ctx.optimizer();
    let reason = match (optimizer.learning_rate(), optimizer.schedule()) {
        (None, _) => format!("the optimizer ({}) has no learning rate to set", optimizer.name()),
        (_, Some(s)) => format!(
            "the optimizer's learning rate follows a {} schedule, which owns it (remove one of the two)",
            s.name()
        ),
        _ => return Ok(()),
    };
    Err(Error::BadCallback(format!("{callback}: {reason}")))
}

/// Sets the learning rate, naming `callback` if the optimizer refuses it.
pub(super) fn set_rate(callback: &str, ctx: &mut Context<'_>, rate: f32) -> Result<()> {
    ctx.optimizer()
        .set_learning_rate(rate)
        .map_err(|e| Error::BadCallback(format!("{callback}: {e}")))
}
