//! Losses with Keras's definitions: a per-sample loss, averaged over the batch.
//!
//! Cross-entropies are fused with the sigmoid or softmax that precedes them when the network's
//! last activation allows it (as Keras 3 does), computing the loss from the logits: stable for
//! saturated outputs, and the gradient reaches the logits directly as `p − t`.

use crate::activation::{Activation, sigmoid};
use crate::head::{Head, OneUnit, Units, Values};

/// Keras's `epsilon()`, used to clip probabilities that do not come with their logits.
pub const EPSILON: f32 = 1e-7;

/// The output of a batch as a loss sees it: the last layer's pre-activations `z`, its outputs
/// `y`, both column-major `units × batch`.
#[derive(Debug, Clone, Copy)]
pub struct HeadOutput<'a> {
    /// The last layer's activation.
    pub activation: Activation,
    /// Pre-activations.
    pub z: &'a [f32],
    /// Outputs, `activation(z)`.
    pub y: &'a [f32],
    /// Output units per sample.
    pub units: usize,
}

impl HeadOutput<'_> {
    /// Samples in the batch.
    pub fn batch(&self) -> usize {
        self.y.len() / self.units
    }

    /// Sample `i` alone (its pre-activations too, where the batch has them).
    pub fn sample(&self, i: usize) -> HeadOutput<'_> {
        let range = i * self.units..(i + 1) * self.units;
        HeadOutput {
            activation: self.activation,
            z: self.z.get(range.clone()).unwrap_or(self.z),
            y: &self.y[range],
            units: self.units,
        }
    }
}

/// What a loss's gradient is taken with respect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradOf {
    /// `∂L/∂y`: the network still has to go through its last activation.
    Output,
    /// `∂L/∂z`: the loss was fused with the last activation.
    PreActivation,
}

/// A loss for networks whose output is `H`.
#[diagnostic::on_unimplemented(
    message = "the loss `{Self}` does not fit a network whose output is `{H}`",
    label = "this loss does not fit the network's output",
    note = "binary cross-entropy needs a 1-unit output (`OneUnit`); categorical and sparse categorical cross-entropy need 2 or more units (`Units<N>`)"
)]
pub trait Loss<H: Head>: Sync {
    /// One sample's label.
    type Target: Copy + Send + Sync + 'static;

    /// The Keras name, for messages and logs.
    fn name(&self) -> &'static str;

    /// Checks one label, naming the problem when it is unusable.
    fn check_target(&self, target: &Self::Target) -> Result<(), String>;

    /// The sum over the batch of the per-sample loss. When `grad` is given it receives the
    /// gradient of the *mean* loss, with respect to what the returned [`GradOf`] says.
    fn compute(
        &self,
        out: &HeadOutput<'_>,
        targets: &[Self::Target],
        grad: Option<&mut [f32]>,
    ) -> (f32, GradOf);

    /// For classification losses, the number of classes (enables accuracy and the confusion
    /// matrix).
    fn classes(&self) -> Option<usize> {
        None
    }

    /// The class a sample's output predicts.
    fn predicted_class(&self, y: &[f32]) -> usize {
        argmax(y)
    }

    /// The class a label names.
    fn target_class(&self, _target: &Self::Target) -> usize {
        0
    }

    /// Whether the network's outputs are logits (`from_logits`): metrics then see their
    /// sigmoid (one unit) or softmax.
    fn outputs_are_logits(&self) -> bool {
        false
    }

    /// Writes a label as values of the output's shape into `out` (`H::UNITS` long): a class
    /// index as a one-hot row, other labels as they are; what metrics compare outputs with.
    /// Returns false if the loss cannot (the default), and `fit` then refuses metrics.
    fn target_values(&self, _target: &Self::Target, _out: &mut [f32]) -> bool {
        false
    }
}

/// A loss `Self` whose labels are of type `T` on a network whose output is `H`: the bound the
/// generated `fit` and `evaluate` put on their loss, so that labels of the wrong type are one
/// error in dl's terms rather than a mismatch between nalgebra types.
///
/// It holds exactly when `Self: Loss<H, Target = T>`; implement [`Loss`], never this.
#[diagnostic::on_unimplemented(
    message = "the loss `{Self}` with labels of type `{T}` does not fit a network whose output is `{H}`",
    label = "this loss does not take these labels on this network",
    note = "labels by loss: sparse categorical cross-entropy takes `usize` class indices and 2 or more units (`Units<N>`); categorical cross-entropy one-hot `SVector<f32, N>` on N units; binary cross-entropy `f32` on one unit (`OneUnit`); regression losses (mean squared error, …) `f32` on one unit and `SVector<f32, N>` on N units"
)]
pub trait Labels<H: Head, T>: Loss<H> {
    /// The labels as the loss's own type, which they are: this only tells the compiler so.
    fn labels(y: &[T]) -> &[Self::Target];

    /// The training configuration with its validation labels as the loss's own type.
    fn fit_config<'v, X, O>(
        cfg: crate::train::Fit<'v, X, T, Self, O>,
    ) -> crate::train::Fit<'v, X, Self::Target, Self, O>
    where
        Self: Sized;
}

// `do_not_recommend`: when the labels do not fit, rustc reports this trait's message rather
// than the `Target = T` mismatch inside the impl.
#[diagnostic::do_not_recommend]
impl<H: Head, T, L: Loss<H, Target = T>> Labels<H, T> for L {
    fn labels(y: &[T]) -> &[T] {
        y
    }

    fn fit_config<'v, X, O>(cfg: crate::train::Fit<'v, X, T, L, O>) -> crate::train::Fit<'v, X, T, L, O> {
        cfg
    }
}

/// Index of the largest value (the first one on ties).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn log_sum_exp(z: &[f32]) -> f32 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + z.iter().map(|&v| (v - max).exp()).sum::<f32>().ln()
}

/// Cross-entropy of logits `z` against a target distribution `t` (not necessarily normalised):
/// returns the loss and writes `scale · ∂L/∂z` into `grad`.
fn softmax_cross_entropy(z: &[f32], t: impl Fn(usize) -> f32, scale: f32, grad: Option<&mut [f32]>) -> f32 {
    let lse = log_sum_exp(z);
    let mut total_t = 0.0;
    let mut loss = 0.0;
    for (i, &zi) in z.iter().enumerate() {
        let ti = t(i);
        total_t += ti;
        loss += ti * (lse - zi);
    }
    if let Some(g) = grad {
        for (i, (g, &zi)) in g.iter_mut().zip(z).enumerate() {
            *g = scale * ((zi - lse).exp() * total_t - t(i));
        }
    }
    loss
}

/// Cross-entropy of probabilities `y` (normalised to sum 1, clipped as Keras does) against `t`.
fn probability_cross_entropy(
    y: &[f32],
    t: impl Fn(usize) -> f32,
    scale: f32,
    grad: Option<&mut [f32]>,
) -> f32 {
    let sum: f32 = y.iter().sum();
    // Σ t over the components that are not clipped: a clipped one adds a constant to the loss,
    // so nothing to the gradient, not even through the normalisation.
    let mut total_t = 0.0;
    let mut loss = 0.0;
    for (i, &yi) in y.iter().enumerate() {
        let p = (yi / sum).clamp(EPSILON, 1.0 - EPSILON);
        let ti = t(i);
        if p == yi / sum {
            total_t += ti;
        }
        loss -= ti * p.ln();
    }
    if let Some(g) = grad {
        for (i, (g, &yi)) in g.iter_mut().zip(y).enumerate() {
            let p = yi / sum;
            let inside = (EPSILON..=1.0 - EPSILON).contains(&p);
            // ∂/∂y_i of −Σ t_j ln(y_j / s): the normalisation couples every output.
            let direct = if inside { -t(i) / yi } else { 0.0 };
            *g = scale * (direct + total_t / sum);
        }
    }
    loss
}

fn binary_from_logit(z: f32, t: f32) -> (f32, f32) {
    let loss = z.max(0.0) - z * t + (-z.abs()).exp().ln_1p();
    (loss, sigmoid(z) - t)
}

fn binary_from_probability(y: f32, t: f32) -> (f32, f32) {
    let p = y.clamp(EPSILON, 1.0 - EPSILON);
    let loss = -(t * p.ln() + (1.0 - t) * (1.0 - p).ln());
    let grad = if p == y {
        -t / p + (1.0 - t) / (1.0 - p)
    } else {
        0.0
    };
    (loss, grad)
}

/// `binary_crossentropy`: labels in [0, 1], a 1-unit output (a probability, or a logit with
/// `from_logits`).
#[derive(Debug, Clone, Copy, Default)]
pub struct BinaryCrossEntropy {
    /// The output is a logit rather than a probability.
    pub from_logits: bool,
}

impl Loss<OneUnit> for BinaryCrossEntropy {
    type Target = f32;

    fn name(&self) -> &'static str {
        "binary_crossentropy"
    }

    fn check_target(&self, t: &f32) -> Result<(), String> {
        if (0.0..=1.0).contains(t) {
            Ok(())
        } else {
            Err(format!(
                "label {t} is outside [0, 1], which binary cross-entropy needs"
            ))
        }
    }

    fn compute(&self, out: &HeadOutput<'_>, targets: &[f32], grad: Option<&mut [f32]>) -> (f32, GradOf) {
        let scale = 1.0 / targets.len() as f32;
        type PerSample = fn(f32, f32) -> (f32, f32);
        let (values, of, f): (&[f32], GradOf, PerSample) = if self.from_logits {
            (out.y, GradOf::Output, binary_from_logit)
        } else if out.activation == Activation::Sigmoid {
            (out.z, GradOf::PreActivation, binary_from_logit)
        } else {
            (out.y, GradOf::Output, binary_from_probability)
        };
        let mut total = 0.0;
        match grad {
            Some(g) => {
                for ((g, &v), &t) in g.iter_mut().zip(values).zip(targets) {
                    let (l, d) = f(v, t);
                    total += l;
                    *g = d * scale;
                }
            }
            None => {
                for (&v, &t) in values.iter().zip(targets) {
                    total += f(v, t).0;
                }
            }
        }
        (total, of)
    }

    fn classes(&self) -> Option<usize> {
        Some(2)
    }

    fn predicted_class(&self, y: &[f32]) -> usize {
        let threshold = if self.from_logits { 0.0 } else { 0.5 };
        usize::from(y[0] > threshold)
    }

    fn target_class(&self, t: &f32) -> usize {
        usize::from(*t > 0.5)
    }

    fn outputs_are_logits(&self) -> bool {
        self.from_logits
    }

    fn target_values(&self, t: &f32, out: &mut [f32]) -> bool {
        out[0] = *t;
        true
    }
}

/// Runs a per-sample cross-entropy over a batch, choosing logits or probabilities as Keras does.
fn cross_entropy_batch<T>(
    from_logits: bool,
    out: &HeadOutput<'_>,
    targets: &[T],
    grad: Option<&mut [f32]>,
    target_at: impl Fn(&T, usize) -> f32,
) -> (f32, GradOf) {
    let n = out.units;
    let scale = 1.0 / targets.len() as f32;
    let (values, of, logits) = if from_logits {
        (out.y, GradOf::Output, true)
    } else if out.activation == Activation::Softmax {
        (out.z, GradOf::PreActivation, true)
    } else {
        (out.y, GradOf::Output, false)
    };
    let per_sample = |v: &[f32], t: &T, g: Option<&mut [f32]>| {
        if logits {
            softmax_cross_entropy(v, |i| target_at(t, i), scale, g)
        } else {
            probability_cross_entropy(v, |i| target_at(t, i), scale, g)
        }
    };
    let mut total = 0.0;
    match grad {
        Some(g) => {
            for ((v, g), t) in values.chunks_exact(n).zip(g.chunks_exact_mut(n)).zip(targets) {
                total += per_sample(v, t, Some(g));
            }
        }
        None => {
            for (v, t) in values.chunks_exact(n).zip(targets) {
                total += per_sample(v, t, None);
            }
        }
    }
    (total, of)
}

/// `categorical_crossentropy`: one-hot (or soft) labels over `N ≥ 2` classes.
#[derive(Debug, Clone, Copy, Default)]
pub struct CategoricalCrossEntropy {
    /// The outputs are logits rather than probabilities.
    pub from_logits: bool,
}

impl<const N: usize> Loss<Units<N>> for CategoricalCrossEntropy {
    type Target = nalgebra::SVector<f32, N>;

    fn name(&self) -> &'static str {
        "categorical_crossentropy"
    }

    fn check_target(&self, t: &Self::Target) -> Result<(), String> {
        match t.iter().position(|v| !(0.0..=1.0).contains(v)) {
            Some(i) => Err(format!(
                "label component {i} is {}, outside [0, 1], which categorical cross-entropy needs",
                t[i]
            )),
            None => Ok(()),
        }
    }

    fn compute(
        &self,
        out: &HeadOutput<'_>,
        targets: &[Self::Target],
        grad: Option<&mut [f32]>,
    ) -> (f32, GradOf) {
        cross_entropy_batch(self.from_logits, out, targets, grad, |t, i| t[i])
    }

    fn classes(&self) -> Option<usize> {
        Some(N)
    }

    fn target_class(&self, t: &Self::Target) -> usize {
        argmax(t.as_slice())
    }

    fn outputs_are_logits(&self) -> bool {
        self.from_logits
    }

    fn target_values(&self, t: &Self::Target, out: &mut [f32]) -> bool {
        out.copy_from_slice(t.as_slice());
        true
    }
}

/// `sparse_categorical_crossentropy`: integer labels `0..N` over `N ≥ 2` classes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SparseCategoricalCrossEntropy {
    /// The outputs are logits rather than probabilities.
    pub from_logits: bool,
}

impl<const N: usize> Loss<Units<N>> for SparseCategoricalCrossEntropy {
    type Target = usize;

    fn name(&self) -> &'static str {
        "sparse_categorical_crossentropy"
    }

    fn check_target(&self, t: &usize) -> Result<(), String> {
        if *t < N {
            Ok(())
        } else {
            Err(format!(
                "label {t} is out of range for sparse categorical cross-entropy over {N} classes (expected 0..={})",
                N - 1
            ))
        }
    }

    fn compute(&self, out: &HeadOutput<'_>, targets: &[usize], grad: Option<&mut [f32]>) -> (f32, GradOf) {
        cross_entropy_batch(self.from_logits, out, targets, grad, |&t, i| {
            if t == i { 1.0 } else { 0.0 }
        })
    }

    fn classes(&self) -> Option<usize> {
        Some(N)
    }

    fn target_class(&self, t: &usize) -> usize {
        *t
    }

    fn outputs_are_logits(&self) -> bool {
        self.from_logits
    }

    fn target_values(&self, t: &usize, out: &mut [f32]) -> bool {
        out.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = f32::from(u8::from(i == *t)));
        true
    }
}

/// Element-wise regression losses: per-element value and derivative with respect to the output.
fn regression_batch<V: Values>(
    out: &HeadOutput<'_>,
    targets: &[V],
    grad: Option<&mut [f32]>,
    f: impl Fn(f32) -> (f32, f32),
) -> (f32, GradOf) {
    let n = out.units;
    // Mean over the units of a sample, then over the batch.
    let scale = 1.0 / (n * targets.len()) as f32;
    let mut total = 0.0;
    let mut grad = grad;
    for (s, t) in targets.iter().enumerate() {
        let y = &out.y[s * n..(s + 1) * n];
        let mut sample = 0.0;
        for (i, (&y, &t)) in y.iter().zip(t.values()).enumerate() {
            let (l, d) = f(y - t);
            sample += l;
            if let Some(g) = grad.as_deref_mut() {
                g[s * n + i] = d * scale;
            }
        }
        total += sample / n as f32;
    }
    (total, GradOf::Output)
}

fn check_finite<V: Values>(t: &V) -> Result<(), String> {
    match t.values().iter().find(|v| !v.is_finite()) {
        Some(v) => Err(format!("target value {v} is not finite")),
        None => Ok(()),
    }
}

macro_rules! regression_loss {
    ($(#[$doc:meta])* $name:ident, $keras:literal, |$this:ident, $e:ident| $body:expr) => {
        $(#[$doc])*
        impl<H: Head> Loss<H> for $name {
            type Target = H::Values;

            fn name(&self) -> &'static str {
                $keras
            }

            fn check_target(&self, t: &H::Values) -> Result<(), String> {
                check_finite(t)
            }

            fn compute(&self, out: &HeadOutput<'_>, targets: &[H::Values], grad: Option<&mut [f32]>) -> (f32, GradOf) {
                let $this = self;
                regression_batch(out, targets, grad, |$e| $body)
            }

            fn target_values(&self, t: &H::Values, out: &mut [f32]) -> bool {
                out.copy_from_slice(t.values());
                true
            }
        }
    };
}

/// `mean_squared_error`: mean of `(y − t)²`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeanSquaredError;
regression_loss!(MeanSquaredError, "mean_squared_error", |_this, e| (
    e * e,
    2.0 * e
));

/// `mean_absolute_error`: mean of `|y − t|`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeanAbsoluteError;
regression_loss!(MeanAbsoluteError, "mean_absolute_error", |_this, e| (
    e.abs(),
    if e > 0.0 {
        1.0
    } else if e < 0.0 {
        -1.0
    } else {
        0.0
    }
));

/// `huber`: quadratic within `delta` of the target, linear beyond (Keras default `delta = 1`).
#[derive(Debug, Clone, Copy)]
pub struct Huber {
    /// Where the loss turns from quadratic to linear.
    pub delta: f32,
}

impl Default for Huber {
    fn default() -> Self {
        Huber { delta: 1.0 }
    }
}

regression_loss!(Huber, "huber", |this, e| {
    let d = this.delta;
    if e.abs() <= d {
        (0.5 * e * e, e)
    } else {
        (d * (e.abs() - 0.5 * d), d * e.signum())
    }
});
