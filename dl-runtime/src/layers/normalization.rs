//! `Normalization()`: Keras's preprocessing layer that standardises each feature (the last
//! axis) with a mean and variance adapted from training data:
//! `y = (x − mean) / max(√variance, 1e-7)` (Keras 3's `call`, with its `backend.epsilon()`).
//!
//! The mean and variance are state, as Keras keeps them (non-trainable weights): the optimizer
//! never sees them and training never moves them; [`Normalization::adapt`] sets them from data
//! (the network's generated `adapt` runs it on every `Normalization` layer), weight files
//! save them, and `#[weights]` embeds them, so a deployed model standardises its own input.
//! `count` is the number of values per feature `adapt` saw: 0 until then, which `fit` and
//! `evaluate` refuse (Keras would silently apply mean 0 and variance 1). Keras 3 keeps such a
//! `count` weight too (for old saved models), and counts it among the non-trainable parameters.

use nalgebra::SVector;

use super::{Buffers, Layer, TrainingBytes, fit_len, output_and_gradient};
use crate::activation::Activation;
use crate::aligned::Param;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::sample::Sample;

/// Standardisation of `N` positions × `C` features per sample (`N` is 1 for a vector, the
/// steps of a sequence, `H·W` of an image).
pub struct Normalization<const C: usize, const N: usize> {
    /// The mean of each feature (state; 0 until adapted).
    pub mean: Param<SVector<f32, C>>,
    /// The biased variance of each feature (state; 1 until adapted).
    pub variance: Param<SVector<f32, C>>,
    /// The values per feature the statistics were adapted on (state; 0 until adapted).
    pub count: Param<SVector<f32, 1>>,
}

/// Running moments of features, merged chunk by chunk in `f64` (Chan et al.'s pairwise update:
/// accurate however the data is cut).
#[derive(Debug, Clone, Default)]
pub struct Moments {
    count: u64,
    mean: Vec<f64>,
    /// The sum of squared deviations from the mean.
    m2: Vec<f64>,
    /// Scratch of one chunk's mean.
    chunk: Vec<f64>,
}

impl Moments {
    /// Adds rows of `c` features laid end to end (`rows.len()` a multiple of `c`).
    pub fn add(&mut self, rows: &[f32], c: usize) {
        let n = (rows.len() / c) as u64;
        if n == 0 {
            return;
        }
        if self.mean.len() != c {
            *self = Moments {
                count: 0,
                mean: vec![0.0; c],
                m2: vec![0.0; c],
                chunk: vec![0.0; c],
            };
        }
        self.chunk.fill(0.0);
        for row in rows.chunks_exact(c) {
            for (s, &v) in self.chunk.iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        self.chunk.iter_mut().for_each(|s| *s /= n as f64);
        let total = self.count + n;
        let (wa, wb) = (self.count as f64, n as f64);
        for ch in 0..c {
            let mb = self.chunk[ch];
            let m2b: f64 = rows
                .chunks_exact(c)
                .map(|row| {
                    let d = f64::from(row[ch]) - mb;
                    d * d
                })
                .sum();
            let delta = mb - self.mean[ch];
            self.m2[ch] += m2b + delta * delta * wa * wb / total as f64;
            self.mean[ch] += delta * wb / total as f64;
        }
        self.count = total;
    }

    /// Values per feature added.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// The moments of the network's own input samples `x`, rows of `c` features: what a
/// `Normalization` that reads the input adapts on. `Err` for no samples or a non-finite value.
#[doc(hidden)]
pub fn input_moments<S: Sample<Elem = f32>>(x: &[S], c: usize) -> Result<Moments> {
    check(x)?;
    let mut m = Moments::default();
    x.iter().for_each(|s| m.add(s.elems(), c));
    Ok(m)
}

/// The moments of what reaches a layer inside `model` when it runs on `x` in inference (`add`
/// reads them from the workspace after each chunk), for a `Normalization` after other layers.
#[doc(hidden)]
pub fn layer_moments<M: Model>(
    model: &M,
    x: &[M::Input],
    mut add: impl FnMut(&M::Workspace, &mut Moments),
) -> Result<Moments> {
    check(x)?;
    let mut m = Moments::default();
    let mut ws = M::Workspace::default();
    let mut buf = Vec::new();
    for chunk in x.chunks(256) {
        buf.clear();
        chunk.iter().for_each(|s| buf.extend_from_slice(s.elems()));
        model.forward_batch(&buf, chunk.len(), &mut ws, false);
        add(&ws, &mut m);
    }
    Ok(m)
}

fn check<S: Sample>(x: &[S]) -> Result<()> {
    const WHAT: &str = "the samples to adapt on";
    if x.is_empty() {
        return Err(Error::EmptyData { what: WHAT });
    }
    match x
        .iter()
        .enumerate()
        .find_map(|(i, s)| s.first_non_finite().map(|v| (i, v)))
    {
        Some((index, value)) => Err(Error::NonFiniteInput {
            what: WHAT,
            index,
            value,
        }),
        None => Ok(()),
    }
}

impl<const C: usize, const N: usize> Normalization<C, N> {
    /// Sets the mean and the biased variance (as `numpy.var`, which Keras's `adapt` uses) from
    /// `moments`, or says why not (nothing added, statistics beyond `f32`); the layer is unchanged
    /// then.
    pub fn adapt(&mut self, moments: &Moments) -> Result<(), String> {
        if moments.count == 0 || moments.mean.len() != C {
            return Err(format!("no data of {C} features to adapt on"));
        }
        let count = moments.count as f64;
        let mean: Vec<f32> = moments.mean.iter().map(|&m| m as f32).collect();
        let variance: Vec<f32> = moments.m2.iter().map(|&m2| (m2 / count) as f32).collect();
        if let Some(i) = (0..C).find(|&i| !mean[i].is_finite() || !variance[i].is_finite()) {
            return Err(format!(
                "feature {i}'s variance ({}) is beyond f32; rescale the data first",
                moments.m2[i] / count
            ));
        }
        self.mean.copy_from_slice(&mean);
        self.variance.copy_from_slice(&variance);
        self.count[0] = count as f32;
        Ok(())
    }

    /// Whether [`Normalization::adapt`] (or a loaded weight file) gave the layer statistics.
    pub fn is_adapted(&self) -> bool {
        self.count[0] > 0.0
    }
}

impl<const C: usize, const N: usize> Clone for Normalization<C, N> {
    fn clone(&self) -> Self {
        Normalization {
            mean: self.mean.clone(),
            variance: self.variance.clone(),
            count: self.count.clone(),
        }
    }
}

impl<const C: usize, const N: usize> core::fmt::Debug for Normalization<C, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Normalization<{C}, {N}>(count {})", self.count[0])
    }
}

impl<const C: usize, const N: usize> Layer for Normalization<C, N> {
    const PARAMS: usize = 0;
    const INPUTS: usize = N * C;
    const OUTPUTS: usize = N * C;
    type In = f32;
    type Extra = ();
    const TRAINING_BYTES: TrainingBytes = TrainingBytes::always(output_and_gradient::<Self>());

    /// Keras's initial state: mean 0, variance 1, count 0 (not adapted).
    fn zeros() -> Self {
        let mut layer: Self = Normalization {
            mean: Param::zeroed(),
            variance: Param::zeroed(),
            count: Param::zeroed(),
        };
        layer.variance.fill(1.0);
        layer
    }

    fn for_each_param<'a>(&'a self, _f: &mut impl FnMut(&'static str, &'a [f32])) {}

    fn for_each_param_mut(&mut self, _f: &mut impl FnMut(&'static str, &mut [f32])) {}

    fn zip_params_mut(&mut self, _other: &Self, _f: &mut impl FnMut(&mut [f32], &[f32])) {}

    fn for_each_state<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
        f("mean", self.mean.as_slice());
        f("variance", self.variance.as_slice());
        f("count", self.count.as_slice());
    }

    fn for_each_state_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
        f("mean", self.mean.as_mut_slice());
        f("variance", self.variance.as_mut_slice());
        f("count", self.count.as_mut_slice());
    }

    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _training: bool,
    ) {
        let len = N * C * batch;
        fit_len(&mut buf.y, len);
        fit_len(&mut buf.dy, len);
        // The embedded kernel, on the whole batch: one definition of Keras's formula for both.
        dl_core::norm::normalization(
            &self.mean.data.0[0],
            &self.variance.data.0[0],
            &x[..len],
            &mut buf.y,
        );
    }

    fn pre_activation<'a>(_extra: &'a (), y: &'a [f32]) -> &'a [f32] {
        y
    }

    /// `∂L/∂x = ∂L/∂y / max(√variance, ε)`; nothing to train.
    fn backward_batch(
        &self,
        _x: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        _activation: Activation,
        _grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        let Some(dx) = dx else { return };
        let len = N * C * batch;
        let std: [f32; C] = core::array::from_fn(|c| dl_core::norm::normalization_std(self.variance[c]));
        for (ds, dys) in dx[..len].chunks_exact_mut(C).zip(buf.dy[..len].chunks_exact(C)) {
            for ((d, &dy), &s) in ds.iter_mut().zip(dys).zip(std.iter()) {
                *d = dy / s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moments merged over chunks of any size equal the two-pass moments of all the data.
    #[test]
    fn moments_do_not_depend_on_the_chunks() {
        let c = 3;
        let rows: Vec<f32> = (0..3 * 101)
            .map(|i| 1000.0 + ((i * 7919) % 113) as f32 * 0.37)
            .collect();
        let n = rows.len() / c;
        for chunk in [1, 2, 7, 50, 101] {
            let mut m = Moments::default();
            rows.chunks(chunk * c).for_each(|r| m.add(r, c));
            assert_eq!(m.count(), n as u64);
            for ch in 0..c {
                let col: Vec<f64> = rows.iter().skip(ch).step_by(c).map(|&v| f64::from(v)).collect();
                let mean = col.iter().sum::<f64>() / n as f64;
                let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
                assert!((m.mean[ch] - mean).abs() < 1e-9, "chunk {chunk}");
                assert!((m.m2[ch] / n as f64 - var).abs() < 1e-9 * var, "chunk {chunk}");
            }
        }
    }

    #[test]
    fn adapting_sets_the_statistics_and_a_constant_feature_divides_by_epsilon() {
        let mut layer = Normalization::<2, 1>::zeros();
        assert!(!layer.is_adapted());
        let mut m = Moments::default();
        m.add(&[1.0, 5.0, 3.0, 5.0], 2);
        layer.adapt(&m).unwrap();
        assert!(layer.is_adapted());
        assert_eq!(layer.mean.as_slice(), [2.0, 5.0]);
        assert_eq!(layer.variance.as_slice(), [1.0, 0.0]);
        assert_eq!(layer.count[0], 2.0);
        let mut buf = Buffers::default();
        layer.forward_batch(&[3.0, 5.0 + 1e-6], 1, &mut buf, Activation::Linear, false);
        assert_eq!(buf.y[0], 1.0);
        assert_eq!(
            buf.y[1],
            (5.0f32 + 1e-6 - 5.0) / dl_core::norm::NORMALIZATION_EPSILON
        );
        // Nothing to adapt on, or statistics beyond f32: refused, the layer unchanged.
        let before = layer.clone();
        assert!(layer.adapt(&Moments::default()).is_err());
        let mut huge = Moments::default();
        huge.add(&[-3e38, 0.0, 3e38, 0.0], 2);
        let e = layer.adapt(&huge).unwrap_err();
        assert!(e.contains("feature 0's variance"), "{e}");
        assert_eq!(layer.mean.as_slice(), before.mean.as_slice());
        assert_eq!(layer.count[0], 2.0);
    }
}
