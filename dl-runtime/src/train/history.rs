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
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<f32>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
        writeln!(
            f,
            "{:>5}  {:>8}  {:>8}  {:>8}  {:>8}  {:>7}",
            "epoch", "loss", "accuracy", "val_loss", "val_acc", "time"
        )?;
        for e in &self.epochs {
            writeln!(
                f,
                "{:>5}  {:>8.4}  {:>8}  {:>8}  {:>8}  {:>6.2}s",
                e.epoch,
                e.loss,
                opt(e.accuracy),
                opt(e.val_loss),
                opt(e.val_accuracy),
                e.seconds
            )?;
        }
        Ok(())
    }
}
