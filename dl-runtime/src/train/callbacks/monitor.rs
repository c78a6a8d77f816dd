use super::Context;
use crate::error::{Error, Result};

/// Whether a monitored value should fall or rise, as Keras's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// From the name: losses fall, accuracies rise, a metric of `Fit::metrics` goes its own
    /// way (errors fall, the others rise); anything else needs `Min` or `Max`.
    #[default]
    Auto,
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

/// A monitored log value and the rule of improvement of Keras's `MonitorCallback`: better than
/// the best so far by more than `min_delta`, compared in double precision as Keras's Python
/// floats are.
#[derive(Debug, Clone)]
pub(crate) struct Monitor {
    pub(crate) key: String,
    pub(crate) mode: Mode,
    pub(crate) min_delta: f64,
    /// Resolved at the start of training.
    lower_is_better: bool,
}

impl Monitor {
    pub(crate) fn new(key: &str, mode: Mode, min_delta: f64) -> Self {
        Monitor {
            key: key.to_string(),
            mode,
            min_delta,
            lower_is_better: true,
        }
    }

    /// Checks the options against the keys the logs will hold, and resolves `Auto`.
    pub(crate) fn begin(&mut self, callback: &str, ctx: &Context<'_>) -> Result<()> {
        let keys = ctx.keys();
        let bad = |message: String| Err(Error::BadCallback(format!("{callback}: {message}")));
        if !keys.contains(&self.key.as_str()) {
            return bad(format!(
                "`monitor` is `{}`, which the logs do not hold (they hold {})",
                self.key,
                keys.join(", ")
            ));
        }
        if !self.min_delta.is_finite() {
            return bad(format!("`min_delta` must be finite; got {}", self.min_delta));
        }
        self.lower_is_better = match self.mode {
            Mode::Min => true,
            Mode::Max => false,
            Mode::Auto => match self.key.strip_prefix("val_").unwrap_or(&self.key) {
                "loss" => true,
                "accuracy" => false,
                _ => match ctx.higher_is_better(&self.key) {
                    Some(higher) => !higher,
                    None => {
                        return bad(format!(
                            "cannot tell whether `{}` should fall or rise; set `mode` to Mode::Min or Mode::Max",
                            self.key
                        ));
                    }
                },
            },
        };
        Ok(())
    }

    /// Whether `current` improves on `best` (anything does on `None`).
    pub(crate) fn improves(&self, current: f64, best: Option<f64>) -> bool {
        let Some(best) = best else { return true };
        let delta = self.min_delta.abs();
        if self.lower_is_better {
            current + delta < best
        } else {
            current - delta > best
        }
    }
}
