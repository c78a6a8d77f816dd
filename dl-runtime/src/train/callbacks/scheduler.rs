use super::reduce_lr::{set_rate, settable_rate};
use super::{Callback, Context};
use crate::error::{Error, Result};

/// Keras's `LearningRateScheduler`: before each epoch, sets the learning rate to
/// `schedule(epoch, rate)`, where `epoch` is Keras's 0-based index (the epochs done before
/// this one) and `rate` the current rate.
///
/// A rate that is not finite and above 0 is an `Err` naming the epoch. The optimizer must
/// have a settable learning rate, not a [`Schedule`](crate::optim::Schedule).
///
/// ```
/// # use dl_runtime::train::LearningRateScheduler;
/// // Keras's example: constant for 10 epochs, then decaying.
/// let scheduler = LearningRateScheduler::new(|epoch, lr| if epoch < 10 { lr } else { lr * (-0.1f32).exp() });
/// ```
pub struct LearningRateScheduler<F> {
    schedule: F,
    verbose: bool,
}

impl<F: FnMut(usize, f32) -> f32> LearningRateScheduler<F> {
    /// Sets the rate from `schedule(epoch index, current rate)` before each epoch.
    pub fn new(schedule: F) -> Self {
        LearningRateScheduler {
            schedule,
            verbose: false,
        }
    }

    /// Print the rate at the start of each epoch.
    pub fn with_verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }
}

impl<F: FnMut(usize, f32) -> f32> Callback for LearningRateScheduler<F> {
    fn on_train_begin(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        settable_rate("LearningRateScheduler", ctx)
    }

    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut Context<'_>) -> Result<()> {
        let current = ctx.optimizer().learning_rate().unwrap_or_default();
        let rate = (self.schedule)(epoch - 1, current);
        if !(rate.is_finite() && rate > 0.0) {
            return Err(Error::BadCallback(format!(
                "LearningRateScheduler: the schedule gave {rate} for epoch index {}; a learning rate must be \
                 finite and above 0",
                epoch - 1
            )));
        }
        set_rate("LearningRateScheduler", ctx, rate)?;
        if self.verbose {
            eprintln!("Epoch {epoch}: LearningRateScheduler setting learning rate to {rate}.");
        }
        Ok(())
    }

    fn name(&self) -> &str {
        "LearningRateScheduler"
    }
}
