use core::fmt;

/// Loss and metrics of one epoch, as Keras's `History.history` holds them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch (as the weights changed during it, like Keras).
    pub loss: f32,
    /// Training accuracy, for classification losses.
    pub accuracy: Option<f32>,
    /// Validation loss at the end of the epoch.
    pub val_loss: Option<f32>,
    /// Validation accuracy at the end of the epoch.
    pub val_accuracy: Option<f32>,
    /// The optimizer's learning rate at the end of the epoch, before callbacks changed it (the
    /// rate of the next step, for an optimizer with a schedule).
    pub learning_rate: Option<f32>,
    /// Wall-clock time of the epoch.
    pub seconds: f64,
}

impl EpochLog {
    /// The log entry `key` as Keras's `logs[key]`: `loss`, `accuracy`, `val_loss`,
    /// `val_accuracy` or `learning_rate`; `None` for one this epoch has not.
    pub fn get(&self, key: &str) -> Option<f32> {
        match key {
            "loss" => Some(self.loss),
            "accuracy" => self.accuracy,
            "val_loss" => self.val_loss,
            "val_accuracy" => self.val_accuracy,
            "learning_rate" => self.learning_rate,
            _ => None,
        }
    }
}

impl fmt::Display for EpochLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loss: {:.4}", self.loss)?;
        if let Some(a) = self.accuracy {
            write!(f, " - accuracy: {a:.4}")?;
        }
        if let Some(l) = self.val_loss {
            write!(f, " - val_loss: {l:.4}")?;
        }
        if let Some(a) = self.val_accuracy {
            write!(f, " - val_accuracy: {a:.4}")?;
        }
        Ok(())
    }
}

/// What `fit` returns: one [`EpochLog`] per epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// The epochs in order.
    pub epochs: Vec<EpochLog>,
}

impl History {
    /// The last epoch, if any ran.
    pub fn last(&self) -> Option<&EpochLog> {
        self.epochs.last()
    }

    /// Training loss per epoch.
    pub fn loss(&self) -> Vec<f32> {
        self.epochs.iter().map(|e| e.loss).collect()
    }

    /// Validation loss per epoch (empty without validation).
    pub fn val_loss(&self) -> Vec<f32> {
        self.epochs.iter().filter_map(|e| e.val_loss).collect()
    }

    /// Training accuracy per epoch (empty for regression losses).
    pub fn accuracy(&self) -> Vec<f32> {
        self.epochs.iter().filter_map(|e| e.accuracy).collect()
    }

    /// Validation accuracy per epoch (empty without validation or for regression losses).
    pub fn val_accuracy(&self) -> Vec<f32> {
        self.epochs.iter().filter_map(|e| e.val_accuracy).collect()
    }

    /// The learning rate at the end of each epoch (empty for an optimizer without one).
    pub fn learning_rate(&self) -> Vec<f32> {
        self.epochs.iter().filter_map(|e| e.learning_rate).collect()
    }

    /// The log entry `key` per epoch, as Keras's `history.history[key]` (see [`EpochLog::get`]).
    pub fn get(&self, key: &str) -> Vec<f32> {
        self.epochs.iter().filter_map(|e| e.get(key)).collect()
    }
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<f32>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
        writeln!(
            f,
            "{:>5}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}",
            "epoch", "loss", "accuracy", "val_loss", "val_acc", "time"
        )?;
        for e in &self.epochs {
            writeln!(
                f,
                "{:>5}  {:>8.4}  {:>8}  {:>8}  {:>8}  {:>8}",
                e.epoch,
                e.loss,
                opt(e.accuracy),
                opt(e.val_loss),
                opt(e.val_accuracy),
                duration(e.seconds)
            )?;
        }
        Ok(())
    }
}

/// A duration as Keras prints one: milliseconds below a second (`4ms`, `0.35ms`), seconds
/// with two decimals above.
pub(crate) fn duration(seconds: f64) -> String {
    let ms = seconds * 1e3;
    match ms {
        ms if ms >= 1e3 => format!("{seconds:.2}s"),
        ms if ms >= 10.0 => format!("{ms:.0}ms"),
        ms if ms >= 1.0 => format!("{ms:.1}ms"),
        ms => format!("{ms:.2}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_epochs_show_milliseconds() {
        let shown: Vec<String> = [2.5, 0.999, 0.0456, 0.00234, 0.00004].map(duration).into();
        assert_eq!(shown, ["2.50s", "999ms", "46ms", "2.3ms", "0.04ms"]);
    }
}
