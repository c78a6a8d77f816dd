use core::fmt;
use std::path::Path;

use crate::error::{Error, Result};

/// Loss and metrics of one epoch, as Keras's `History.history` holds them.
#[derive(Debug, Clone, PartialEq)]
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
    /// The values of `Fit::metrics` under their log keys: the training values over the epoch
    /// (`precision`, `auc`, …), then the validation values (`val_precision`, `val_auc`, …).
    pub metrics: Vec<(String, f32)>,
}

impl EpochLog {
    /// The log entry `key` as Keras's `logs[key]`: `loss`, `accuracy`, `val_loss`,
    /// `val_accuracy`, `learning_rate` or a metric's key (`auc`, `val_auc`, …); `None` for one
    /// this epoch has not.
    pub fn get(&self, key: &str) -> Option<f32> {
        match key {
            "loss" => Some(self.loss),
            "accuracy" => self.accuracy,
            "val_loss" => self.val_loss,
            "val_accuracy" => self.val_accuracy,
            "learning_rate" => self.learning_rate,
            _ => self.metrics.iter().find(|(k, _)| k == key).map(|&(_, v)| v),
        }
    }

    /// Every key this epoch holds, in Keras's order: `loss`, the training metrics, `val_loss`,
    /// the validation metrics, `learning_rate`.
    pub fn keys(&self) -> Vec<&str> {
        let (val, train): (Vec<_>, Vec<_>) = self
            .metrics
            .iter()
            .map(|(k, _)| k.as_str())
            .partition(|k| k.starts_with("val_"));
        let mut keys = vec!["loss"];
        keys.extend(self.accuracy.map(|_| "accuracy"));
        keys.extend(train);
        keys.extend(self.val_loss.map(|_| "val_loss"));
        keys.extend(self.val_accuracy.map(|_| "val_accuracy"));
        keys.extend(val);
        keys.extend(self.learning_rate.map(|_| "learning_rate"));
        keys
    }
}

impl fmt::Display for EpochLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.keys().into_iter().filter(|&k| k != "learning_rate");
        for (i, key) in shown.enumerate() {
            let sep = if i == 0 { "" } else { " - " };
            write!(f, "{sep}{key}: {:.4}", self.get(key).unwrap_or(f32::NAN))?;
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

    /// A metric per epoch by its log key, `history.metric("auc")` or
    /// `history.metric("val_auc")`, as Keras's `history.history["auc"]`; empty for a key the
    /// logs do not hold. The same as [`History::get`], which also reads the loss and accuracy.
    pub fn metric(&self, key: &str) -> Vec<f32> {
        self.get(key)
    }

    /// The keys the epochs hold, in Keras's order (see [`EpochLog::keys`]); those of the first
    /// epoch, which every epoch of one `fit` shares.
    pub fn keys(&self) -> Vec<&str> {
        self.epochs.first().map(EpochLog::keys).unwrap_or_default()
    }
}

impl History {
    /// The history as CSV, as pandas or a spreadsheet reads it: a header `epoch,` then the keys
    /// in Keras's order ([`History::keys`]) then `seconds`, and one row per epoch (1-based)
    /// with each value in the shortest decimal that reads back as the same `f32`; an empty
    /// field for a value an epoch lacks. An `Err` for a history without epochs.
    pub fn to_csv(&self) -> Result<String> {
        if self.epochs.is_empty() {
            return Err(Error::EmptyHistory { what: "write" });
        }
        let keys = self.keys();
        let mut csv = format!("epoch,{},seconds\n", keys.join(","));
        for e in &self.epochs {
            csv += &e.epoch.to_string();
            for k in &keys {
                csv.push(',');
                csv += &e.get(k).map(|v| v.to_string()).unwrap_or_default();
            }
            csv += &format!(",{}\n", e.seconds);
        }
        Ok(csv)
    }

    /// [`History::to_csv`] written to `path`.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file(path.as_ref(), self.to_csv()?.as_bytes())
    }
}

/// Writes `bytes` to `path`, naming the file in the error.
pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

impl fmt::Display for History {
    /// A table: one row per epoch, one column per log key, then the epoch's time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys();
        let width = |k: &str| k.len().max(8);
        write!(f, "{:>5}", "epoch")?;
        for k in &keys {
            write!(f, "  {k:>w$}", w = width(k))?;
        }
        writeln!(f, "  {:>8}", "time")?;
        for e in &self.epochs {
            write!(f, "{:>5}", e.epoch)?;
            for k in &keys {
                let v = e.get(k).map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
                write!(f, "  {v:>w$}", w = width(k))?;
            }
            writeln!(f, "  {:>8}", duration(e.seconds))?;
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
