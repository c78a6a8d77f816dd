//! `LayerNormalization(axis = -1, epsilon = 1e-3, center = true, scale = true)`: Keras's layer
//! normalization over the last axis.
//!
//! Each sample's every row of `D` values (a vector, one step of a sequence, one pixel's channels)
//! is normalized by its own mean and biased variance, then scaled and shifted per feature:
//! `y = gamma · (x − μ) / √(σ² + ε) + beta`, in training and inference alike. Unlike batch
//! normalization nothing depends on the batch, and there is no state.
//!
//! Epsilon travels as the bits of an `f32` const parameter (floats cannot be const generics).
//! Row sums are accumulated in `f64`.

use nalgebra::SVector;
use rand::Rng;

use super::{Buffers, Layer, TrainingBytes, bytes_of, fit_len, output_and_gradient};
use crate::activation::Activation;
use crate::aligned::Param;

/// Layer normalization of `G` rows of `D` features per sample, epsilon
/// `f32::from_bits(EPSILON_BITS)`. Without `CENTER` (`center = False`) there is no `beta`, without
/// `SCALE` (`scale = False`) no `gamma`: neither is visited, saved or trained, and the one kept
/// stays at its neutral value (0 or 1). Ignores the activation it is given (`network!` passes
/// `Linear`).
pub struct LayerNormalization<
    const D: usize,
    const G: usize,
    const EPSILON_BITS: u32,
    const CENTER: bool = true,
    const SCALE: bool = true,
> {
    /// The scale, one per feature (trainable; 1 at first).
    pub gamma: Param<SVector<f32, D>>,
    /// The shift, one per feature (trainable; 0 at first).
    pub beta: Param<SVector<f32, D>>,
}

/// Training cache: what the backward pass reads.
#[derive(Debug, Default)]
pub struct LayerNormCache {
    /// The normalized rows `(x − μ) / √(σ² + ε)`, as `y` is laid out.
    pub normalized: Vec<f32>,
    /// `1 / √(σ² + ε)` of every row.
    pub inv_std: Vec<f32>,
    /// The backward pass's per-feature sums of `dy·x̂` and `dy`, kept so that a step allocates
    /// nothing.
    sums: Vec<(f64, f64)>,
}

impl<const D: usize, const G: usize, const EPSILON_BITS: u32, const CENTER: bool, const SCALE: bool>
    LayerNormalization<D, G, EPSILON_BITS, CENTER, SCALE>
{
    /// Added to the variance before its square root.
    pub const EPSILON: f32 = f32::from_bits(EPSILON_BITS);
    const CHECK: () = assert!(
        D > 0 && G > 0 && Self::EPSILON > 0.0 && Self::EPSILON.is_finite(),
        "layer normalization needs features and a finite epsilon > 0"
    );

    /// Keras's initial values: `gamma` 1, `beta` 0. Draws nothing from `rng`.
    pub fn new<R: Rng + ?Sized>(_rng: &mut R) -> Self {
        Self::zeros()
    }
}

impl<const D: usize, const G: usize, const EPSILON_BITS: u32, const CENTER: bool, const SCALE: bool> Clone
    for LayerNormalization<D, G, EPSILON_BITS, CENTER, SCALE>
{
    fn clone(&self) -> Self {
        let mut copy = Self::zeros();
        copy.gamma.copy_from(&*self.gamma);
        copy.beta.copy_from(&*self.beta);
        copy
    }
}

impl<const D: usize, const G: usize, const EPSILON_BITS: u32, const CENTER: bool, const SCALE: bool>
    core::fmt::Debug for LayerNormalization<D, G, EPSILON_BITS, CENTER, SCALE>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "LayerNormalization<{G} × {D}, epsilon {}, center {CENTER}, scale {SCALE}>",
            Self::EPSILON
        )
    }
}

impl<const D: usize, const G: usize, const EPSILON_BITS: u32, const CENTER: bool, const SCALE: bool> Layer
    for LayerNormalization<D, G, EPSILON_BITS, CENTER, SCALE>
{
    const PARAMS: usize = if CENTER { D } else { 0 } + if SCALE { D } else { 0 };
    const INPUTS: usize = D * G;
    const OUTPUTS: usize = D * G;
    type In = f32;
    type Extra = LayerNormCache;
    const TRAINING_BYTES: TrainingBytes =
        TrainingBytes::always(output_and_gradient::<Self>() + bytes_of::<f32>(D * G + G));

    /// `gamma` 1 (the neutral scale, also without `SCALE`), `beta` 0.
    fn zeros() -> Self {
        const { Self::CHECK };
        let mut layer: Self = LayerNormalization {
            gamma: Param::zeroed(),
            beta: Param::zeroed(),
        };
        layer.gamma.fill(1.0);
        layer
    }

    fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
        if SCALE {
            f("gamma", self.gamma.as_slice());
        }
        if CENTER {
            f("beta", self.beta.as_slice());
        }
    }

    fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
        if SCALE {
            f("gamma", self.gamma.as_mut_slice());
        }
        if CENTER {
            f("beta", self.beta.as_mut_slice());
        }
    }

    fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        if SCALE {
            f(self.gamma.as_mut_slice(), other.gamma.as_slice());
        }
        if CENTER {
            f(self.beta.as_mut_slice(), other.beta.as_slice());
        }
    }

    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<LayerNormCache>,
        _activation: Activation,
        _training: bool,
    ) {
        const { Self::CHECK };
        let n = D * G * batch;
        assert_eq!(x.len(), n, "LayerNormalization input has the wrong length");
        fit_len(&mut buf.y, n);
        fit_len(&mut buf.dy, n);
        let cache = &mut buf.extra;
        fit_len(&mut cache.normalized, n);
        fit_len(&mut cache.inv_std, G * batch);
        normalize(
            (self.gamma.as_slice(), self.beta.as_slice()),
            Self::EPSILON,
            x,
            &mut buf.y,
            cache,
        );
    }

    fn pre_activation<'a>(_extra: &'a LayerNormCache, y: &'a [f32]) -> &'a [f32] {
        y
    }

    fn backward_batch(
        &self,
        _x: &[f32],
        batch: usize,
        buf: &mut Buffers<LayerNormCache>,
        _activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        const { Self::CHECK };
        let n = D * G * batch;
        let cache = &mut buf.extra;
        assert!(
            cache.normalized.len() == n && cache.inv_std.len() == G * batch && buf.dy.len() == n,
            "LayerNormalization::backward_batch needs the forward pass of the same batch"
        );
        if let Some(dx) = &dx {
            assert_eq!(
                dx.len(),
                n,
                "LayerNormalization input gradient has the wrong length"
            );
        }
        normalize_backward(
            self.gamma.as_slice(),
            cache,
            &buf.dy,
            (grads.gamma.as_mut_slice(), grads.beta.as_mut_slice()),
            dx,
        );
    }
}

/// `y = gamma · x̂ + beta` with `x̂` each `gamma.len()`-row of `x` normalized; `x̂` and each row's
/// `1 / √(σ² + ε)` kept in `cache`.
fn normalize(
    (gamma, beta): (&[f32], &[f32]),
    epsilon: f32,
    x: &[f32],
    y: &mut [f32],
    cache: &mut LayerNormCache,
) {
    let d = gamma.len();
    let rows = x
        .chunks_exact(d)
        .zip(y.chunks_exact_mut(d))
        .zip(cache.normalized.chunks_exact_mut(d))
        .zip(cache.inv_std.iter_mut());
    for (((xs, ys), hat), inv) in rows {
        let mean = xs.iter().map(|&v| f64::from(v)).sum::<f64>() / d as f64;
        let var = xs.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / d as f64;
        let r = 1.0 / (var + f64::from(epsilon)).sqrt();
        *inv = r as f32;
        for ((((h, o), &v), &g), &b) in hat.iter_mut().zip(ys).zip(xs).zip(gamma).zip(beta) {
            let normalized = (f64::from(v) - mean) * r;
            *h = normalized as f32;
            *o = (normalized * f64::from(g) + f64::from(b)) as f32;
        }
    }
}

/// The adjoint of [`normalize`]: `∂L/∂gamma = Σ dy·x̂`, `∂L/∂beta = Σ dy` (overwritten), and,
/// with `g = dy·gamma`, `∂L/∂x = r·(g − mean(g) − x̂·mean(g·x̂))` per row.
fn normalize_backward(
    gamma: &[f32],
    cache: &mut LayerNormCache,
    dy: &[f32],
    (grad_gamma, grad_beta): (&mut [f32], &mut [f32]),
    mut dx: Option<&mut [f32]>,
) {
    let d = gamma.len();
    let sums = &mut cache.sums;
    sums.clear();
    sums.resize(d, (0.0, 0.0));
    for (row, (dys, hat)) in dy
        .chunks_exact(d)
        .zip(cache.normalized.chunks_exact(d))
        .enumerate()
    {
        for ((s, &g), &h) in sums.iter_mut().zip(dys).zip(hat) {
            s.0 += f64::from(g) * f64::from(h);
            s.1 += f64::from(g);
        }
        let Some(dx) = dx.as_deref_mut() else { continue };
        let (mut mean_g, mut mean_gh) = (0.0f64, 0.0f64);
        for ((&g, &w), &h) in dys.iter().zip(gamma).zip(hat) {
            let gw = f64::from(g) * f64::from(w);
            mean_g += gw;
            mean_gh += gw * f64::from(h);
        }
        let (mean_g, mean_gh) = (mean_g / d as f64, mean_gh / d as f64);
        let r = f64::from(cache.inv_std[row]);
        let out = &mut dx[row * d..(row + 1) * d];
        for (((o, &g), &w), &h) in out.iter_mut().zip(dys).zip(gamma).zip(hat) {
            *o = (r * (f64::from(g) * f64::from(w) - mean_g - f64::from(h) * mean_gh)) as f32;
        }
    }
    for ((gg, gb), &(sg, sb)) in grad_gamma.iter_mut().zip(grad_beta.iter_mut()).zip(sums.iter()) {
        *gg = sg as f32;
        *gb = sb as f32;
    }
}
