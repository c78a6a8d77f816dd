//! A metric as a Keras user lists it in `compile(metrics=[…])`: its kind, options and the
//! running state it accumulates between resets.

use super::state::State;
use crate::error::{Error, Result};

/// How [`Metric::f1_score`] combines the classes' scores (Keras's `average`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Average {
    /// One score per class, Keras's `average=None` and its default. The logs hold one entry
    /// per class, `f1_score_0`, `f1_score_1`, … (`val_f1_score_0`, … for validation).
    #[default]
    PerClass,
    /// One score from the true positives, false positives and false negatives of every class
    /// added together.
    Micro,
    /// The mean of the classes' scores.
    Macro,
    /// The classes' scores weighted by how many samples truly are of each.
    Weighted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    BinaryAccuracy,
    TopK { k: usize, sparse: bool },
    Precision,
    Recall,
    F1,
    Auc,
    MeanAbsoluteError,
    MeanSquaredError,
    RootMeanSquaredError,
}

/// What a loss's labels and the network's output are, to check metrics against before
/// training.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LabelInfo {
    /// The loss's Keras name.
    pub loss: &'static str,
    /// Output units per sample.
    pub units: usize,
    /// Classes, for a classification loss.
    pub classes: Option<usize>,
    /// The labels are class indices (`usize`).
    pub sparse: bool,
    /// The loss can give its labels as values of the output's shape.
    pub values: bool,
}

/// A Keras metric, computed by `fit` over each epoch (training and validation) and by
/// [`evaluate_with`](crate::train::evaluate_with), under Keras's name (or one of yours, with
/// [`Metric::with_name`]).
///
/// Each follows its Keras class: [`binary_accuracy`](Metric::binary_accuracy),
/// [`top_k_categorical_accuracy`](Metric::top_k_categorical_accuracy) and its sparse form,
/// [`precision`](Metric::precision), [`recall`](Metric::recall),
/// [`f1_score`](Metric::f1_score), [`auc`](Metric::auc),
/// [`mean_absolute_error`](Metric::mean_absolute_error),
/// [`mean_squared_error`](Metric::mean_squared_error) and
/// [`root_mean_squared_error`](Metric::root_mean_squared_error). `fit` checks each against the
/// loss before the first step: a metric that does not fit (top-k with more than the network's
/// classes, precision on a regression loss, two metrics of one name, …) is an `Err` naming it.
///
/// Metrics see what the network outputs; for a loss with `from_logits`, they see the
/// probabilities (the sigmoid or softmax of the logits) rather than the logits Keras's metrics
/// would get, so the same thresholds apply either way. They count samples unweighted, as
/// Keras's `metrics` do (`sample_weight` and `class_weight` weigh only the loss).
///
/// A metric also works on its own, as Keras's `update_state` and `result`:
///
/// ```
/// use dl::metrics::Metric;
/// let mut auc = Metric::auc();
/// // Four samples of a 1-unit output: labels, then predicted probabilities.
/// auc.update_state(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.4, 0.35, 0.8], 1).unwrap();
/// assert!((auc.result()[0] - 0.75).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct Metric {
    name: String,
    kind: Kind,
    threshold: Option<f32>,
    num_thresholds: Option<usize>,
    average: Option<Average>,
    state: State,
}

/// Keras's defaults.
const THRESHOLD: f32 = 0.5;
const NUM_THRESHOLDS: usize = 200;

impl Metric {
    fn of(kind: Kind, name: &str) -> Self {
        Metric {
            name: name.to_string(),
            kind,
            threshold: None,
            num_thresholds: None,
            average: None,
            state: State::default(),
        }
    }

    /// Keras's `BinaryAccuracy`: the share of output values on the right side of the threshold
    /// (0.5; [`Metric::with_threshold`]) — above it for a label of 1, not above for 0. A label
    /// other than 0 or 1 never matches.
    pub fn binary_accuracy() -> Self {
        Self::of(Kind::BinaryAccuracy, "binary_accuracy")
    }

    /// Keras's `TopKCategoricalAccuracy(k)`, for one-hot labels: the share of samples whose
    /// true class is among the `k` largest outputs. As TensorFlow's `in_top_k`, outputs tied
    /// with the k-th largest all count as in the top k.
    pub fn top_k_categorical_accuracy(k: usize) -> Self {
        Self::of(Kind::TopK { k, sparse: false }, "top_k_categorical_accuracy")
    }

    /// Keras's `SparseTopKCategoricalAccuracy(k)`: [`Metric::top_k_categorical_accuracy`] for
    /// labels that are class indices (`usize`).
    pub fn sparse_top_k_categorical_accuracy(k: usize) -> Self {
        Self::of(
            Kind::TopK { k, sparse: true },
            "sparse_top_k_categorical_accuracy",
        )
    }

    /// Keras's `Precision`: true positives over predicted positives, where each output value
    /// is one binary decision, positive above the threshold (0.5; [`Metric::with_threshold`]),
    /// truly positive when its label is not 0. On a softmax output every (sample, class) pair
    /// counts, as in Keras. 0 while nothing was predicted positive.
    pub fn precision() -> Self {
        Self::of(Kind::Precision, "precision")
    }

    /// Keras's `Recall`: true positives over actual positives, decided as
    /// [`Metric::precision`] decides them.
    pub fn recall() -> Self {
        Self::of(Kind::Recall, "recall")
    }

    /// Keras's `F1Score`: per class, the harmonic mean of precision and recall over the epoch.
    /// Without a threshold (Keras's default) a sample predicts the class of its largest output
    /// (ties predict each); with [`Metric::with_threshold`], every class above it. Per class by
    /// default ([`Average::PerClass`]); [`Metric::with_average`] combines them. On a 1-unit
    /// output without a threshold every sample predicts the positive class, as in Keras: give a
    /// threshold for binary classification.
    pub fn f1_score() -> Self {
        Self::of(Kind::F1, "f1_score")
    }

    /// Keras's `AUC` (ROC curve, `summation_method="interpolation"`): the area under the curve
    /// through 200 evenly spaced thresholds ([`Metric::with_num_thresholds`]), by the
    /// trapezoidal rule, with Keras's bucketing of predictions. This is Keras's value, not
    /// the exact area: a curve through 200 points can differ from the exact ROC AUC by up to
    /// about 1/200 when predictions crowd between two thresholds. On a multi-unit output every
    /// (sample, class) pair is one decision, as Keras's `multi_label=False` does.
    pub fn auc() -> Self {
        Self::of(Kind::Auc, "auc")
    }

    /// Keras's `MeanAbsoluteError` metric: the mean of `|label − output|` over every value.
    pub fn mean_absolute_error() -> Self {
        Self::of(Kind::MeanAbsoluteError, "mean_absolute_error")
    }

    /// Keras's `MeanSquaredError` metric: the mean of `(label − output)²` over every value.
    pub fn mean_squared_error() -> Self {
        Self::of(Kind::MeanSquaredError, "mean_squared_error")
    }

    /// Keras's `RootMeanSquaredError`: the square root of the epoch's mean squared error (not
    /// the mean of the batches' roots).
    pub fn root_mean_squared_error() -> Self {
        Self::of(Kind::RootMeanSquaredError, "root_mean_squared_error")
    }

    /// The decision threshold of [`Metric::binary_accuracy`], [`Metric::precision`],
    /// [`Metric::recall`] and [`Metric::f1_score`] (Keras's `threshold`/`thresholds`). Must be
    /// finite, and within [0, 1] for precision, recall and F1; other metrics take none.
    pub fn with_threshold(mut self, threshold: f32) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// The number of thresholds of [`Metric::auc`] (Keras's `num_thresholds`, at least 2).
    pub fn with_num_thresholds(mut self, num_thresholds: usize) -> Self {
        self.num_thresholds = Some(num_thresholds);
        self
    }

    /// How [`Metric::f1_score`] combines the classes (Keras's `average`).
    pub fn with_average(mut self, average: Average) -> Self {
        self.average = Some(average);
        self
    }

    /// The name in the logs and the history, instead of Keras's default (Keras's `name`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The metric's name: Keras's default or the one given with [`Metric::with_name`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a larger value is better (Keras's metric `direction`), which lets
    /// `EarlyStopping` and its kin monitor the metric with `Mode::Auto`. False for the errors.
    pub fn higher_is_better(&self) -> bool {
        !matches!(
            self.kind,
            Kind::MeanAbsoluteError | Kind::MeanSquaredError | Kind::RootMeanSquaredError
        )
    }

    /// The log keys of this metric for an output of `units`: its name, or for a per-class F1
    /// score, one name per class.
    pub(crate) fn keys(&self, units: usize) -> Vec<String> {
        match (self.kind, self.average.unwrap_or_default()) {
            (Kind::F1, Average::PerClass) => (0..units).map(|c| format!("{}_{c}", self.name)).collect(),
            _ => vec![self.name.clone()],
        }
    }

    /// Forgets what the metric has seen (Keras's `reset_state`); `fit` does it at the start of
    /// every epoch.
    pub fn reset_state(&mut self) {
        self.state = State::default();
    }

    /// Adds a batch (Keras's `update_state`): `y_true` and `y_pred` hold samples end to end,
    /// `units` values each (labels as values: one-hot rows for classes, 0 or 1 for a 1-unit
    /// output). Refuses, changing nothing, lengths that differ or are not whole samples, a
    /// value that is not finite, a change of `units` after the first update, and
    /// [`Metric::top_k_categorical_accuracy`] with `k` above `units`.
    pub fn update_state(&mut self, y_true: &[f32], y_pred: &[f32], units: usize) -> Result<()> {
        self.check_options()?;
        if units == 0 || y_true.len() != y_pred.len() || !y_true.len().is_multiple_of(units) {
            return self.bad(format!(
                "{} labels and {} predictions are not whole samples of {units} values each",
                y_true.len(),
                y_pred.len()
            ));
        }
        if self.state.units != 0 && self.state.units != units {
            return self.bad(format!(
                "samples of {units} values after samples of {}; reset the metric between outputs of different sizes",
                self.state.units
            ));
        }
        if let Kind::TopK { k, .. } = self.kind
            && k > units
        {
            return self.bad(format!("k is {k} but the samples have {units} values"));
        }
        for (what, values) in [("label", y_true), ("prediction", y_pred)] {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return self.bad(format!("{what} {i} is {}", values[i]));
            }
        }
        self.state.units = units;
        let threshold = self.threshold.unwrap_or(THRESHOLD);
        let pairs = y_true.iter().zip(y_pred).map(|(&t, &p)| (t, p));
        match self.kind {
            Kind::BinaryAccuracy => pairs.for_each(|(t, p)| {
                self.state
                    .add(f64::from(u8::from(t == f32::from(u8::from(p > threshold)))))
            }),
            Kind::MeanAbsoluteError => pairs.for_each(|(t, p)| self.state.add(f64::from((t - p).abs()))),
            Kind::MeanSquaredError | Kind::RootMeanSquaredError => {
                pairs.for_each(|(t, p)| self.state.add(f64::from(t - p).powi(2)))
            }
            Kind::TopK { k, .. } => {
                for (t, p) in y_true.chunks_exact(units).zip(y_pred.chunks_exact(units)) {
                    let truth = p[crate::loss::argmax(t)];
                    let above = p.iter().filter(|&&v| v > truth).count();
                    self.state.add(f64::from(u8::from(above < k)));
                }
            }
            Kind::Precision | Kind::Recall => self.state.confusion(y_true, y_pred, threshold),
            Kind::F1 => self.state.per_class(y_true, y_pred, units, self.threshold),
            Kind::Auc => self
                .state
                .buckets(y_true, y_pred, self.num_thresholds.unwrap_or(NUM_THRESHOLDS)),
        }
        Ok(())
    }

    /// The value over everything seen since the last reset (Keras's `result`): one number, or
    /// for [`Metric::f1_score`] per class one per class (none before the first update).
    pub fn result(&self) -> Vec<f32> {
        let s = &self.state;
        let one = |v: f64| vec![v as f32];
        match self.kind {
            Kind::BinaryAccuracy | Kind::TopK { .. } | Kind::MeanAbsoluteError | Kind::MeanSquaredError => {
                one(s.mean())
            }
            Kind::RootMeanSquaredError => one(s.mean().sqrt()),
            Kind::Precision if s.units == 0 => one(0.0),
            Kind::Recall if s.units == 0 => one(0.0),
            Kind::Precision => one(s.precision()),
            Kind::Recall => one(s.recall()),
            Kind::F1 => s
                .f1(self.average.unwrap_or_default())
                .into_iter()
                .map(|v| v as f32)
                .collect(),
            Kind::Auc if s.units == 0 => one(0.0),
            Kind::Auc => one(s.auc()),
        }
    }

    fn bad<T>(&self, message: String) -> Result<T> {
        Err(Error::BadMetric {
            metric: self.name.clone(),
            message,
        })
    }

    /// Checks that the options given fit the kind of metric.
    fn check_options(&self) -> Result<()> {
        let unit_range = matches!(self.kind, Kind::Precision | Kind::Recall | Kind::F1);
        match self.threshold {
            Some(_) if !(unit_range || self.kind == Kind::BinaryAccuracy) => {
                return self.bad("takes no threshold".into());
            }
            Some(t) if !t.is_finite() => return self.bad(format!("threshold is {t}; it must be finite")),
            Some(t) if unit_range && !(0.0..=1.0).contains(&t) => {
                return self.bad(format!(
                    "threshold is {t}; it must be in [0, 1], as Keras requires"
                ));
            }
            _ => {}
        }
        match self.num_thresholds {
            Some(_) if self.kind != Kind::Auc => {
                return self.bad("takes no num_thresholds (only auc does)".into());
            }
            Some(n) if n < 2 => return self.bad(format!("num_thresholds is {n}; it must be at least 2")),
            _ => {}
        }
        if self.average.is_some() && self.kind != Kind::F1 {
            return self.bad("takes no average (only f1_score does)".into());
        }
        if let Kind::TopK { k: 0, .. } = self.kind {
            return self.bad("k is 0; it must be at least 1".into());
        }
        if self.name.is_empty() {
            return self.bad("the name is empty".into());
        }
        Ok(())
    }

    /// Checks the metric against the loss's labels and the network's output, before training.
    pub(crate) fn check_labels(&self, labels: &LabelInfo) -> Result<()> {
        self.check_options()?;
        if !labels.values {
            return self.bad(format!(
                "the loss {} does not give its labels as values (implement Loss::target_values)",
                labels.loss
            ));
        }
        let classifies = || match labels.classes {
            Some(_) => Ok(()),
            None => self.bad(format!(
                "needs a classification loss, and {} is not one",
                labels.loss
            )),
        };
        match self.kind {
            Kind::TopK { k, sparse } => {
                classifies()?;
                if labels.units < 2 {
                    return self.bad("needs an output of 2 or more classes".into());
                }
                if k > labels.units {
                    return self.bad(format!("k is {k} but the network has {} classes", labels.units));
                }
                match (sparse, labels.sparse) {
                    (true, false) => self.bad(format!(
                        "needs class-index labels, and {} takes one-hot labels; use top_k_categorical_accuracy",
                        labels.loss
                    )),
                    (false, true) => self.bad(format!(
                        "needs one-hot labels, and {} takes class indices; use sparse_top_k_categorical_accuracy",
                        labels.loss
                    )),
                    _ => Ok(()),
                }
            }
            Kind::Precision | Kind::Recall | Kind::F1 | Kind::Auc => classifies(),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_counts_ties_at_the_boundary_as_tensorflow_does() {
        let mut m = Metric::top_k_categorical_accuracy(1);
        // The true class ties with the largest output: in the top 1.
        m.update_state(&[0.0, 1.0, 0.0], &[0.4, 0.4, 0.2], 3).unwrap();
        // One output above it: not.
        m.update_state(&[0.0, 0.0, 1.0], &[0.5, 0.3, 0.2], 3).unwrap();
        assert_eq!(m.result(), [0.5]);
    }

    #[test]
    fn auc_is_keras_s_curve_through_its_thresholds_not_the_exact_area() {
        // Both predictions fall between the same two of the 200 thresholds: the exact ROC AUC
        // is 1 (the positive scores higher), Keras's curve cannot tell them apart.
        let (labels, scores) = ([0.0, 1.0], [0.501, 0.502]);
        let mut coarse = Metric::auc();
        coarse.update_state(&labels, &scores, 1).unwrap();
        assert_eq!(coarse.result(), [0.5]);
        // With thresholds between them, the curve finds the exact area.
        let mut fine = Metric::auc().with_num_thresholds(2001);
        fine.update_state(&labels, &scores, 1).unwrap();
        assert_eq!(fine.result(), [1.0]);
    }

    #[test]
    fn bad_batches_are_refused_and_change_nothing() {
        let mut m = Metric::mean_squared_error();
        m.update_state(&[1.0, 2.0], &[1.5, 2.0], 2).unwrap();
        let before = m.result();
        let e = |m: &mut Metric, t: &[f32], p: &[f32], u| m.update_state(t, p, u).unwrap_err().to_string();
        assert_eq!(
            e(&mut m, &[1.0], &[1.0, 2.0], 1),
            "metric `mean_squared_error`: 1 labels and 2 predictions are not whole samples of 1 values each"
        );
        assert_eq!(
            e(&mut m, &[1.0], &[1.0], 1),
            "metric `mean_squared_error`: samples of 1 values after samples of 2; reset the metric between outputs \
             of different sizes"
        );
        assert_eq!(
            e(&mut m, &[1.0, 0.0], &[f32::NAN, 0.0], 2),
            "metric `mean_squared_error`: prediction 0 is NaN"
        );
        assert_eq!(m.result(), before);
        m.reset_state();
        assert_eq!(m.result(), [0.0]);
    }

    #[test]
    fn options_that_do_not_fit_the_kind_are_named() {
        let e = |mut m: Metric| m.update_state(&[1.0], &[1.0], 1).unwrap_err().to_string();
        assert_eq!(
            e(Metric::auc().with_threshold(0.3)),
            "metric `auc`: takes no threshold"
        );
        assert_eq!(
            e(Metric::precision().with_threshold(1.5)),
            "metric `precision`: threshold is 1.5; it must be in [0, 1], as Keras requires"
        );
        assert_eq!(
            e(Metric::binary_accuracy().with_threshold(f32::NAN)),
            "metric `binary_accuracy`: threshold is NaN; it must be finite"
        );
        assert_eq!(
            e(Metric::auc().with_num_thresholds(1)),
            "metric `auc`: num_thresholds is 1; it must be at least 2"
        );
        assert_eq!(
            e(Metric::recall().with_num_thresholds(10)),
            "metric `recall`: takes no num_thresholds (only auc does)"
        );
        assert_eq!(
            e(Metric::precision().with_average(Average::Macro)),
            "metric `precision`: takes no average (only f1_score does)"
        );
        assert_eq!(
            e(Metric::top_k_categorical_accuracy(0)),
            "metric `top_k_categorical_accuracy`: k is 0; it must be at least 1"
        );
        assert_eq!(
            e(Metric::top_k_categorical_accuracy(2)),
            "metric `top_k_categorical_accuracy`: k is 2 but the samples have 1 values"
        );
        assert_eq!(e(Metric::auc().with_name("")), "metric ``: the name is empty");
    }

    #[test]
    fn before_any_batch_every_metric_is_zero_and_per_class_f1_is_empty() {
        for m in [
            Metric::precision(),
            Metric::recall(),
            Metric::auc(),
            Metric::root_mean_squared_error(),
        ] {
            assert_eq!(m.result(), [0.0], "{}", m.name());
        }
        assert!(Metric::f1_score().result().is_empty());
        assert_eq!(Metric::f1_score().with_average(Average::Macro).result(), [0.0]);
    }
}
