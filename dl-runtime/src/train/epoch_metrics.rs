//! The metrics of one `fit` or `evaluate`: checked against the loss, fed each batch's outputs
//! and labels, and read into the logs.

use core::any::TypeId;

use crate::activation::sigmoid;
use crate::error::{Error, Result};
use crate::head::Head;
use crate::loss::Loss;
use crate::metrics::{LabelInfo, Metric};
use crate::model::Model;
use crate::optim::Optimizer;

use super::Trainer;

/// Log keys that `fit` writes itself, which a metric may not take.
const RESERVED: [&str; 4] = ["loss", "accuracy", "learning_rate", "epoch"];

/// The user's metrics with the buffers that turn a batch into what they compare.
#[derive(Clone)]
pub(crate) struct EpochMetrics {
    metrics: Vec<Metric>,
    units: usize,
    y_true: Vec<f32>,
    y_pred: Vec<f32>,
}

impl EpochMetrics {
    /// Checks `metrics` against `loss` (whose labels look like `label`, when one is at hand
    /// before the data is read; a stream's are checked as they come) and against each other.
    pub(crate) fn new<H: Head, L: Loss<H>>(
        metrics: &[Metric],
        loss: &L,
        label: Option<&L::Target>,
    ) -> Result<Self> {
        let mut probe = vec![0.0; H::UNITS];
        let labels = LabelInfo {
            loss: loss.name(),
            units: H::UNITS,
            classes: loss.classes(),
            sparse: TypeId::of::<L::Target>() == TypeId::of::<usize>(),
            values: label.is_none_or(|l| loss.target_values(l, &mut probe)),
        };
        let mut keys: Vec<String> = Vec::new();
        for m in metrics {
            m.check_labels(&labels)?;
            for key in m.keys(H::UNITS) {
                let taken = if RESERVED.contains(&key.as_str()) || key.starts_with("val_") {
                    Some("a key `fit` writes itself (loss, accuracy, learning_rate, epoch, val_…)")
                } else if keys.contains(&key) {
                    Some("taken by another metric; give one a name with Metric::with_name")
                } else {
                    None
                };
                if let Some(why) = taken {
                    return Err(Error::BadMetric {
                        metric: m.name().to_string(),
                        message: format!("the log key `{key}` is {why}"),
                    });
                }
                keys.push(key);
            }
        }
        let mut metrics = metrics.to_vec();
        metrics.iter_mut().for_each(Metric::reset_state);
        Ok(EpochMetrics {
            metrics,
            units: H::UNITS,
            y_true: Vec::new(),
            y_pred: Vec::new(),
        })
    }

    /// Forgets the batches seen, for a new epoch.
    pub(crate) fn reset(&mut self) {
        self.metrics.iter_mut().for_each(Metric::reset_state);
    }

    /// Adds a batch: the network's `outputs` (samples end to end) and their labels.
    pub(crate) fn update<H: Head, L: Loss<H>>(
        &mut self,
        loss: &L,
        outputs: &[f32],
        targets: &[L::Target],
    ) -> Result<()> {
        if self.metrics.is_empty() {
            return Ok(());
        }
        let u = self.units;
        self.y_true.resize(targets.len() * u, 0.0);
        for (t, row) in targets.iter().zip(self.y_true.chunks_exact_mut(u)) {
            if !loss.target_values(t, row) {
                // Only a stream's first batch can get here: `new` checked a label otherwise.
                return Err(Error::BadMetric {
                    metric: self.metrics[0].name().to_string(),
                    message: format!(
                        "the loss {} does not give its labels as values (implement Loss::target_values)",
                        loss.name()
                    ),
                });
            }
        }
        self.y_pred.clear();
        self.y_pred.extend_from_slice(&outputs[..targets.len() * u]);
        if loss.outputs_are_logits() {
            probabilities(&mut self.y_pred, u);
        }
        for m in &mut self.metrics {
            m.update_state(&self.y_true, &self.y_pred, u)?;
        }
        Ok(())
    }

    /// Adds the last step of `trainer`: its outputs, as the weights were before its update.
    pub(crate) fn update_from_step<M: Model, L: Loss<M::Head>, O: Optimizer>(
        &mut self,
        trainer: &mut Trainer<M, L, O>,
    ) -> Result<()> {
        if self.metrics.is_empty() {
            return Ok(());
        }
        let mut result = Ok(());
        trainer.outputs(|loss, outputs, targets| {
            if result.is_ok() {
                result = self.update::<M::Head, L>(loss, outputs, targets);
            }
        });
        result
    }

    /// The log keys, each with `prefix` (`""` or `"val_"`), and whether higher is better.
    pub(crate) fn keys(&self, prefix: &str) -> Vec<(String, bool)> {
        let keys = self.metrics.iter().flat_map(|m| {
            let up = m.higher_is_better();
            m.keys(self.units)
                .into_iter()
                .map(move |k| (format!("{prefix}{k}"), up))
        });
        keys.collect()
    }

    /// The values over the batches seen, as log entries keyed with `prefix`.
    pub(crate) fn entries(&self, prefix: &str) -> Vec<(String, f32)> {
        let entries = self.metrics.iter().flat_map(|m| {
            let keys = m.keys(self.units).into_iter();
            keys.zip(m.result()).map(|(k, v)| (format!("{prefix}{k}"), v))
        });
        entries.collect()
    }
}

/// Logits to probabilities in place: the sigmoid of a single unit, the softmax of several.
fn probabilities(y: &mut [f32], units: usize) {
    if units == 1 {
        y.iter_mut().for_each(|v| *v = sigmoid(*v));
        return;
    }
    for row in y.chunks_exact_mut(units) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.iter_mut().for_each(|v| *v = (*v - max).exp());
        let sum: f32 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= sum);
    }
}
