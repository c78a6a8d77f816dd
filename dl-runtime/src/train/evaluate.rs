use super::check_data;
use super::epoch_metrics::EpochMetrics;
use super::feed::{Feed, Gathered, Slices, Stream};
use crate::data::stream::Source;
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::metrics::{ConfusionMatrix, Metric};
use crate::model::Model;
use crate::sample::Sample;

/// Samples per forward pass in `evaluate` and `predict`: as many as keep the layer outputs of a
/// chunk within about 1 MiB, so each layer reads its input from L2 (2 MiB per core on the
/// machines this is tuned for) rather than L3 — for the tutorial CNN, whose first convolution
/// writes 86 KB per image, 8 images ran 1.3× faster than 32. A power of two from 8 (the column
/// width of the GEMM's register tiles) to 64, beyond which larger chunks measured no faster
/// (and slower once a layer's buffer outgrows the allocator's reuse of freed memory): 8 for
/// the tutorial CNN, 32 for the tutorial LSTM, 64 for the MLPs.
fn chunk<M: Model>() -> usize {
    const FLOATS: usize = 1 << 18;
    let fit = (FLOATS / M::ACTIVATIONS.max(1)).max(1);
    (1 << fit.ilog2()).clamp(8, 64)
}

/// What `evaluate` measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean loss.
    pub loss: f32,
    /// Accuracy, for classification losses.
    pub accuracy: Option<f32>,
    /// Confusion matrix, for classification losses.
    pub confusion: Option<ConfusionMatrix>,
    /// The metrics asked of [`evaluate_with`] under their log keys (`precision`, `auc`, …);
    /// empty for [`evaluate`].
    pub metrics: Vec<(String, f32)>,
}

impl Evaluation {
    /// The value of the metric `key` (`"auc"`, `"f1_score_0"`, …), if it was computed.
    pub fn metric(&self, key: &str) -> Option<f32> {
        self.metrics.iter().find(|(k, _)| k == key).map(|&(_, v)| v)
    }
}

/// Loss, accuracy and confusion matrix of `model` on `x`, `y` (inference mode).
pub fn evaluate<M: Model, L: Loss<M::Head>>(
    model: &M,
    x: &[M::Input],
    y: &[L::Target],
    loss: &L,
) -> Result<Evaluation> {
    weighted(model, x, y, loss, &[], None)
}

/// [`evaluate`] with Keras's `metrics` too, as `compile(metrics=[…])` then `evaluate` gives
/// them: each [`Metric`] over the whole data set (the metrics given are not changed; their
/// state before the call does not count). An `Err` names a metric that does not fit the loss.
///
/// ```
/// use dl::metrics::Metric;
/// use dl::prelude::*;
///
/// dl::network! {
///     struct Net {
///         input: [2],
///         Dense(1, sigmoid),
///     }
/// }
///
/// let net = Net::seeded(1);
/// let x = [SVector::from([0.5, -1.0]), SVector::from([-0.3, 2.0])];
/// let y = [1.0, 0.0];
/// let metrics = [Metric::auc(), Metric::precision()];
/// let e = dl::train::evaluate_with(&net, &x, &y, &BinaryCrossEntropy::default(), &metrics).unwrap();
/// assert!(e.metric("auc").is_some() && e.metric("precision").is_some());
/// ```
pub fn evaluate_with<M: Model, L: Loss<M::Head>>(
    model: &M,
    x: &[M::Input],
    y: &[L::Target],
    loss: &L,
    metrics: &[Metric],
) -> Result<Evaluation> {
    check_data("the evaluation data", x, y, loss)?;
    let mut metrics = EpochMetrics::new::<M::Head, L>(metrics, loss, y.first())?;
    weighted(model, x, y, loss, &[], Some(&mut metrics))
}

/// [`evaluate`] with one weight per sample, as Keras's `evaluate(x, y, sample_weight=…)`: the
/// loss is the sum of each sample's loss times its weight over the number of samples; the
/// accuracy and the confusion matrix count samples unweighted, as Keras's `metrics` do.
/// The weights must be as many as the samples, finite, at least 0 and not all 0, or the `Err`
/// names the first that is not.
pub fn evaluate_weighted<M: Model, L: Loss<M::Head>>(
    model: &M,
    x: &[M::Input],
    y: &[L::Target],
    loss: &L,
    sample_weight: &[f32],
) -> Result<Evaluation> {
    check_weights("sample_weight", sample_weight, x.len())?;
    weighted(model, x, y, loss, sample_weight, None)
}

/// Checks sample weights given as the option `what`, for `samples` samples.
pub(crate) fn check_weights(what: &'static str, weights: &[f32], samples: usize) -> Result<()> {
    let bad = |message: String| Err(Error::BadWeights { what, message });
    if weights.len() != samples {
        return bad(format!("{} weights for {samples} samples", weights.len()));
    }
    if let Some(i) = weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
        return bad(format!(
            "weight {i} is {}; weights must be finite and at least 0",
            weights[i]
        ));
    }
    if weights.iter().all(|&w| w == 0.0) {
        return bad("every weight is 0, which leaves nothing to learn or measure".into());
    }
    Ok(())
}

/// [`evaluate`], weighted by `weights` unless it is empty, feeding `metrics` if given.
fn weighted<M: Model, L: Loss<M::Head>>(
    model: &M,
    x: &[M::Input],
    y: &[L::Target],
    loss: &L,
    weights: &[f32],
    metrics: Option<&mut EpochMetrics>,
) -> Result<Evaluation> {
    check_data("the evaluation data", x, y, loss)?;
    measure(
        model,
        loss,
        &mut Slices::new(x, y, weights),
        "the evaluation data",
        metrics,
    )
}

/// [`evaluate`] on the samples a [`Source`] yields, read once from the start in stored order:
/// memory stays at a chunk of samples whatever the source's size. A read error, a bad label or
/// a non-finite input is an `Err` naming the source and the sample.
pub fn evaluate_stream<M: Model, L: Loss<M::Head>>(
    model: &M,
    source: &mut dyn Source<M::Input, L::Target>,
    loss: &L,
) -> Result<Evaluation> {
    measure(
        model,
        loss,
        &mut Stream::new(source, None),
        "the evaluation stream",
        None,
    )
}

/// Loss, accuracy and confusion matrix over one pass of `feed`, called `what` in errors, and
/// `metrics` (reset first) if given.
pub(crate) fn measure<M: Model, L: Loss<M::Head>>(
    model: &M,
    loss: &L,
    feed: &mut (impl Feed<M::Input, M::Head, L> + ?Sized),
    what: &'static str,
    mut metrics: Option<&mut EpochMetrics>,
) -> Result<Evaluation> {
    super::check_adapted(model)?;
    if let Some(m) = metrics.as_deref_mut() {
        m.reset();
    }
    feed.start(None, None)?;
    let mut ws = M::Workspace::default();
    let mut batch = Gathered::default();
    let (mut total, mut count) = (0.0f64, 0usize);
    let mut confusion = loss.classes().map(ConfusionMatrix::new);
    loop {
        let n = feed.fill(chunk::<M>(), &mut batch, loss)?;
        if n == 0 {
            break;
        }
        model.forward_batch(&batch.x, n, &mut ws, false);
        let (head, _) = M::head(&mut ws);
        if batch.w.is_empty() {
            total += loss.compute(&head, &batch.y, None).0 as f64;
        } else {
            for (i, (&w, t)) in batch.w.iter().zip(&batch.y).enumerate() {
                let l = loss.compute(&head.sample(i), core::slice::from_ref(t), None).0;
                total += f64::from(w) * f64::from(l);
            }
        }
        if let Some(m) = metrics.as_deref_mut() {
            m.update::<M::Head, L>(loss, head.y, &batch.y)?;
        }
        if let Some(cm) = &mut confusion {
            for (i, (out, t)) in head.y.chunks_exact(head.units).zip(&batch.y).enumerate() {
                // The built-in losses' classes are in range (their labels were checked); a
                // custom loss's might not be.
                cm.record(loss.target_class(t), loss.predicted_class(out))
                    .map_err(|e| Error::BadLabel {
                        what,
                        index: count + i,
                        message: e.to_string(),
                    })?;
            }
        }
        count += n;
    }
    if count == 0 {
        return Err(Error::EmptyData { what });
    }
    Ok(Evaluation {
        // As Keras's: the weight regularizers' penalty is part of the loss.
        loss: (total / count as f64) as f32 + model.regularize(None),
        accuracy: confusion.as_ref().map(ConfusionMatrix::accuracy),
        confusion,
        metrics: metrics.map(|m| m.entries("")).unwrap_or_default(),
    })
}

/// Outputs of `model` for every sample of `x`, computed in batches.
pub fn predict<M: Model>(model: &M, x: &[M::Input]) -> Vec<M::Output> {
    let mut ws = M::Workspace::default();
    let mut buf = Vec::new();
    let mut out = Vec::with_capacity(x.len());
    for xs in x.chunks(chunk::<M>()) {
        buf.clear();
        xs.iter().for_each(|s| buf.extend_from_slice(s.elems()));
        model.forward_batch(&buf, xs.len(), &mut ws, false);
        let (head, _) = M::head(&mut ws);
        out.extend(head.y.chunks_exact(head.units).map(M::Output::from_elems));
    }
    out
}
