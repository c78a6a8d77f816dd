use super::check_data;
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::metrics::ConfusionMatrix;
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
}

/// Loss, accuracy and confusion matrix of `model` on `x`, `y` (inference mode).
pub fn evaluate<M: Model, L: Loss<M::Head>>(
    model: &M,
    x: &[M::Input],
    y: &[L::Target],
    loss: &L,
) -> Result<Evaluation> {
    weighted(model, x, y, loss, &[])
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
    weighted(model, x, y, loss, sample_weight)
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

/// [`evaluate`], weighted by `weights` unless it is empty.
fn weighted<M: Model, L: Loss<M::Head>>(
    model: &M,
    x: &[M::Input],
    y: &[L::Target],
    loss: &L,
    weights: &[f32],
) -> Result<Evaluation> {
    check_data("the evaluation data", x, y, loss)?;
    super::check_adapted(model)?;
    let mut ws = M::Workspace::default();
    let mut buf = Vec::new();
    let mut total = 0.0f64;
    let mut confusion = loss.classes().map(ConfusionMatrix::new);
    for (c, (xs, ys)) in x.chunks(chunk::<M>()).zip(y.chunks(chunk::<M>())).enumerate() {
        buf.clear();
        xs.iter().for_each(|s| buf.extend_from_slice(s.elems()));
        model.forward_batch(&buf, xs.len(), &mut ws, false);
        let (head, _) = M::head(&mut ws);
        let ws_of = weights
            .get(c * chunk::<M>()..c * chunk::<M>() + xs.len())
            .unwrap_or_default();
        if ws_of.is_empty() {
            total += loss.compute(&head, ys, None).0 as f64;
        } else {
            for (i, (&w, t)) in ws_of.iter().zip(ys).enumerate() {
                let l = loss.compute(&head.sample(i), core::slice::from_ref(t), None).0;
                total += f64::from(w) * f64::from(l);
            }
        }
        if let Some(cm) = &mut confusion {
            for (i, (out, t)) in head.y.chunks_exact(head.units).zip(ys).enumerate() {
                // The built-in losses' classes are in range (`check_data` checked the labels);
                // a custom loss's might not be.
                cm.record(loss.target_class(t), loss.predicted_class(out))
                    .map_err(|e| Error::BadLabel {
                        what: "the evaluation data",
                        index: c * chunk::<M>() + i,
                        message: e.to_string(),
                    })?;
            }
        }
    }
    Ok(Evaluation {
        // As Keras's: the weight regularizers' penalty is part of the loss.
        loss: (total / x.len() as f64) as f32 + model.regularize(None),
        accuracy: confusion.as_ref().map(ConfusionMatrix::accuracy),
        confusion,
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
