//! The running counts of a metric and Keras's formulas over them.
//!
//! Counts are kept in `f64` (Keras keeps `float32` variables): integer counts stay exact past
//! 2^24 samples, and the sums of errors lose nothing over a long epoch.

/// Keras's `backend.epsilon()`, which `F1Score` adds to its denominators.
const EPSILON: f64 = 1e-7;

/// What a metric has seen since its last reset.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct State {
    /// Mean metrics (accuracies, errors): the sum of the values and how many there were.
    total: f64,
    count: f64,
    /// Confusion counts: one entry for precision and recall, one per class for F1, one per
    /// threshold bucket for AUC (where `positives` and `negatives` are the labels per bucket).
    positives: Vec<f64>,
    negatives: Vec<f64>,
    missed: Vec<f64>,
    support: Vec<f64>,
    /// Output units seen by the first update (0 before it).
    pub(crate) units: usize,
}

impl State {
    /// Adds one value to a mean.
    pub(crate) fn add(&mut self, value: f64) {
        self.total += value;
        self.count += 1.0;
    }

    /// The mean of the values added (0 before any, as Keras's `divide_no_nan`).
    pub(crate) fn mean(&self) -> f64 {
        if self.count == 0.0 {
            0.0
        } else {
            self.total / self.count
        }
    }

    /// Sizes the confusion counts for `n` entries, once.
    fn counts(&mut self, n: usize) {
        if self.positives.len() != n {
            for v in [
                &mut self.positives,
                &mut self.negatives,
                &mut self.missed,
                &mut self.support,
            ] {
                v.clear();
                v.resize(n, 0.0);
            }
        }
    }

    /// Precision and recall at `threshold`: every element is a binary decision, predicted
    /// positive above the threshold (strictly), truly positive when its label is not 0.
    pub(crate) fn confusion(&mut self, y_true: &[f32], y_pred: &[f32], threshold: f32) {
        self.counts(1);
        for (&t, &p) in y_true.iter().zip(y_pred) {
            match (t != 0.0, p > threshold) {
                (true, true) => self.positives[0] += 1.0,
                (false, true) => self.negatives[0] += 1.0,
                (true, false) => self.missed[0] += 1.0,
                (false, false) => {}
            }
        }
    }

    /// `tp / (tp + fp)`, 0 when nothing was predicted positive.
    pub(crate) fn precision(&self) -> f64 {
        ratio(self.positives[0], self.positives[0] + self.negatives[0])
    }

    /// `tp / (tp + fn)`, 0 when nothing was positive.
    pub(crate) fn recall(&self) -> f64 {
        ratio(self.positives[0], self.positives[0] + self.missed[0])
    }

    /// F1Score's per-class counts over rows of `units`: predicted positive above `threshold`,
    /// or without one, where the row's largest value is (ties all count, a row of zeros none).
    /// Labels count by value, not cast to bool, as Keras multiplies them.
    pub(crate) fn per_class(&mut self, y_true: &[f32], y_pred: &[f32], units: usize, threshold: Option<f32>) {
        self.counts(units);
        for (t, p) in y_true.chunks_exact(units).zip(y_pred.chunks_exact(units)) {
            let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            for (c, (&t, &p)) in t.iter().zip(p).enumerate() {
                let predicted = match threshold {
                    Some(th) => p > th,
                    None => p >= max && p.abs() > 1e-9,
                };
                let (pred, t) = (f64::from(u8::from(predicted)), f64::from(t));
                self.positives[c] += pred * t;
                self.negatives[c] += pred * (1.0 - t);
                self.missed[c] += (1.0 - pred) * t;
                self.support[c] += t;
            }
        }
    }

    /// Keras's F1Score (beta = 1) from the per-class counts: one score per class, or combined.
    pub(crate) fn f1(&self, average: super::Average) -> Vec<f64> {
        use super::Average;
        let score = |tp: f64, fp: f64, fn_: f64| {
            let precision = tp / (tp + fp + EPSILON);
            let recall = tp / (tp + fn_ + EPSILON);
            2.0 * (precision * recall) / (precision + recall + EPSILON)
        };
        let classes = self.positives.len();
        let each: Vec<f64> = (0..classes)
            .map(|c| score(self.positives[c], self.negatives[c], self.missed[c]))
            .collect();
        match average {
            Average::PerClass => each,
            _ if classes == 0 => vec![0.0],
            Average::Micro => {
                let sum = |v: &[f64]| v.iter().sum::<f64>();
                vec![score(
                    sum(&self.positives),
                    sum(&self.negatives),
                    sum(&self.missed),
                )]
            }
            Average::Macro => vec![each.iter().sum::<f64>() / classes as f64],
            Average::Weighted => {
                let total: f64 = self.support.iter().sum();
                vec![
                    each.iter()
                        .zip(&self.support)
                        .map(|(f, s)| f * s / (total + EPSILON))
                        .sum(),
                ]
            }
        }
    }

    /// AUC's counts at `buckets` evenly spaced thresholds, as Keras's optimised update does it:
    /// a prediction clipped to [0, 1] lands in bucket `ceil(p · (buckets − 1)) − 1` (at least
    /// 0), so that it counts as positive at every threshold up to that bucket's, the thresholds
    /// being `−ε, 1/(n−1), …, (n−2)/(n−1), 1 + ε`. Computed in `f32` as Keras does, so that a
    /// prediction on a threshold lands where Keras puts it.
    pub(crate) fn buckets(&mut self, y_true: &[f32], y_pred: &[f32], buckets: usize) {
        self.counts(buckets);
        let scale = (buckets - 1) as f32;
        for (&t, &p) in y_true.iter().zip(y_pred) {
            let b = ((p.clamp(0.0, 1.0) * scale).ceil() - 1.0).max(0.0) as usize;
            let b = b.min(buckets - 1);
            if t != 0.0 {
                self.positives[b] += 1.0;
            } else {
                self.negatives[b] += 1.0;
            }
        }
    }

    /// The area under the ROC curve through the buckets' thresholds, by the trapezoidal rule
    /// (Keras's `summation_method="interpolation"`).
    pub(crate) fn auc(&self) -> f64 {
        let p: f64 = self.positives.iter().sum();
        let n: f64 = self.negatives.iter().sum();
        // Counts above each threshold: the buckets from it up.
        let mut points = Vec::with_capacity(self.positives.len());
        let (mut tp, mut fp) = (0.0, 0.0);
        for (pos, neg) in self.positives.iter().zip(&self.negatives).rev() {
            tp += pos;
            fp += neg;
            points.push((ratio(fp, n), ratio(tp, p)));
        }
        // `points` runs from the last threshold to the first: the false-positive rate rises.
        points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum()
    }
}

/// `a / b`, 0 when `b` is 0 (Keras's `divide_no_nan`).
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}
