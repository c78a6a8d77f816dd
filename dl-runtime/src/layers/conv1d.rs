//! `Conv1D(filters, kernel_size, strides, padding, dilation_rate, activation, use_bias)` on
//! `[steps, channels]` sequences.
//!
//! Layout: a sample is `T·C` floats, step-major (`t·C + c`), the layout of an `Embedding`'s or a
//! recurrent layer's sequence output. The forward pass is im2col plus a matrix product, as in
//! `Conv2D`: column `n·OT + o` of the patch matrix (`K × OT·batch`, `K = KS·C`) holds the
//! receptive field of output step `o` of sample `n`, tap `j` at rows `j·C..(j + 1)·C`, read from
//! input step `o·S + j·D − PL` (zeros outside the sequence). Each tap is one contiguous run of
//! `C` floats whatever the dilation, so im2col and col2im move whole runs.

use nalgebra::{SMatrix, SVector};
use rand::Rng;

use super::{
    Buffers, Layer, TrainingBytes, add_column_sums, bytes_of, fit_len, keeps_pre_activation,
    output_and_gradient,
};
use crate::activation::Activation;
use crate::aligned::Param;
use crate::floats::Floats;
use crate::gemm::{Op, gemm, gemm_bias, transpose};
use crate::init;

/// A 1-D convolution from `T × C` to `OT × F` (steps × channels).
///
/// The sizes are const arguments computed by `network!`: kernel `KS` taps `D` steps apart
/// (`dilation_rate`), stride `S`, `PL` zero steps before the sequence (Keras's `same` split, half
/// the total with the odd step after; `D·(KS − 1)` for `causal`; zero for `valid`) and
/// `K = KS·C`. Inconsistent arguments fail to compile when the layer is used.
///
/// The kernel is stored as an `F × K` column-major matrix with element `(f, j·C + c)`, which is
/// byte for byte Keras's `(KS, C, F)` row-major `kernel`. Without `BIAS` (`use_bias = False`) no
/// `bias` tensor is visited, saved or trained, and the one kept stays zero.
pub struct Conv1D<
    const T: usize,
    const C: usize,
    const F: usize,
    const KS: usize,
    const S: usize,
    const D: usize,
    const OT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool = true,
> {
    /// The weights, `F × K` (`z = kernel · patch`).
    pub kernel: Param<SMatrix<f32, F, K>>,
    /// The bias, one per filter.
    pub bias: Param<SVector<f32, F>>,
}

/// Whether `out` steps with `pad` leading zeros are what Keras computes for `k` taps `d` apart
/// moved by `s` over `n` steps with `valid`, `same` or `causal` padding.
pub(crate) const fn sequence_window_fits(
    n: usize,
    k: usize,
    s: usize,
    d: usize,
    out: usize,
    pad: usize,
) -> bool {
    if n == 0 || k == 0 || s == 0 || d == 0 {
        return false;
    }
    let span = d * (k - 1) + 1;
    let valid = pad == 0 && n >= span && out == (n - span) / s + 1;
    let same_out = n.div_ceil(s);
    let same = out == same_out && pad == ((same_out - 1) * s + span).saturating_sub(n) / 2;
    let causal = pad == span - 1 && out == (n - 1) / s + 1;
    valid || same || causal
}

/// The geometry of a 1-D window, passed to the non-generic kernels below.
#[derive(Clone, Copy, Debug)]
struct Window1D {
    t: usize,
    c: usize,
    ks: usize,
    s: usize,
    d: usize,
    ot: usize,
    pl: usize,
}

impl Window1D {
    /// The input step under tap `j` of output step `o`, or `None` in the padding.
    #[inline(always)]
    fn step(&self, o: usize, j: usize) -> Option<usize> {
        (o * self.s + j * self.d)
            .checked_sub(self.pl)
            .filter(|&i| i < self.t)
    }
}

impl<
    const T: usize,
    const C: usize,
    const F: usize,
    const KS: usize,
    const S: usize,
    const D: usize,
    const OT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool,
> Conv1D<T, C, F, KS, S, D, OT, PL, K, BIAS>
{
    /// Post-monomorphisation check that the derived sizes agree with the others.
    const CHECK: () = {
        assert!(C > 0 && F > 0, "Conv1D: channels and filters must be positive");
        assert!(K == KS * C, "Conv1D: K must be KS·C");
        assert!(
            sequence_window_fits(T, KS, S, D, OT, PL),
            "Conv1D: OT and PL are not Keras's output length and leading padding for T, KS, S, D"
        );
    };

    const WINDOW: Window1D = Window1D {
        t: T,
        c: C,
        ks: KS,
        s: S,
        d: D,
        ot: OT,
        pl: PL,
    };

    /// Keras's defaults: glorot-uniform kernel (`fan_in = KS·C`, `fan_out = KS·F`), zero bias.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = <Self as Layer>::zeros();
        init::glorot_uniform(rng, KS * C, KS * F, layer.kernel.as_mut_slice());
        layer
    }
}

impl<
    const T: usize,
    const C: usize,
    const F: usize,
    const KS: usize,
    const S: usize,
    const D: usize,
    const OT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool,
> Clone for Conv1D<T, C, F, KS, S, D, OT, PL, K, BIAS>
{
    fn clone(&self) -> Self {
        // Field-wise `Box::clone` would build the matrix on the stack first.
        let mut copy = <Self as Layer>::zeros();
        copy.kernel.copy_from(&*self.kernel);
        copy.bias.copy_from(&*self.bias);
        copy
    }
}

impl<
    const T: usize,
    const C: usize,
    const F: usize,
    const KS: usize,
    const S: usize,
    const D: usize,
    const OT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool,
> core::fmt::Debug for Conv1D<T, C, F, KS, S, D, OT, PL, K, BIAS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Conv1D<{T}×{C} → {OT}×{F}, kernel {KS}, stride {S}, dilation {D}, padding {PL}>"
        )
    }
}

/// Training cache of a 1-D convolution.
#[derive(Debug, Default)]
pub struct Conv1DCache {
    /// Pre-activations `kernel · patches + bias`, `F × OT·batch`; left empty for activations
    /// whose backward passes need `y` only.
    pub z: Vec<f32>,
    /// The im2col patch matrix of one chunk of samples (`K × OT·chunk`), also the scratch for
    /// `kernelᵀ · ∂L/∂z` in the backward pass.
    pub patches: Vec<f32>,
    /// `kernelᵀ` (`K × F`), transposed once per backward pass.
    kernel_t: Floats,
}

impl<
    const T: usize,
    const C: usize,
    const F: usize,
    const KS: usize,
    const S: usize,
    const D: usize,
    const OT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool,
> Layer for Conv1D<T, C, F, KS, S, D, OT, PL, K, BIAS>
{
    const PARAMS: usize = K * F + if BIAS { F } else { 0 };
    const INPUTS: usize = T * C;
    const OUTPUTS: usize = OT * F;
    type In = f32;
    type Extra = Conv1DCache;
    // The patches are built a chunk of samples at a time: a buffer that stops growing with the
    // batch, not counted.
    const TRAINING_BYTES: TrainingBytes = TrainingBytes {
        pre_activation: bytes_of::<f32>(Self::OUTPUTS),
        ..TrainingBytes::always(output_and_gradient::<Self>())
    };

    fn zeros() -> Self {
        const { Self::CHECK };
        Conv1D {
            kernel: Param::zeroed(),
            bias: Param::zeroed(),
        }
    }

    fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
        f("kernel", self.kernel.as_slice());
        if BIAS {
            f("bias", self.bias.as_slice());
        }
    }

    fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
        f("kernel", self.kernel.as_mut_slice());
        if BIAS {
            f("bias", self.bias.as_mut_slice());
        }
    }

    fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        f(self.kernel.as_mut_slice(), other.kernel.as_slice());
        if BIAS {
            f(self.bias.as_mut_slice(), other.bias.as_slice());
        }
    }

    #[inline]
    fn forward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<Conv1DCache>,
        activation: Activation,
        _training: bool,
    ) {
        const { Self::CHECK };
        let out = Self::OUTPUTS * batch;
        fit_len(&mut buf.y, out);
        fit_len(&mut buf.dy, out);
        conv1d_forward(
            &Self::WINDOW,
            F,
            self.kernel.as_slice(),
            self.bias.as_slice(),
            x,
            batch,
            &mut buf.extra,
            &mut buf.y,
            activation,
        );
    }

    fn pre_activation<'a>(extra: &'a Conv1DCache, y: &'a [f32]) -> &'a [f32] {
        if extra.z.len() == y.len() { &extra.z } else { y }
    }

    #[inline]
    fn backward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<Conv1DCache>,
        activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        const { Self::CHECK };
        fit_len(&mut buf.dy, Self::OUTPUTS * batch);
        conv1d_backward(
            &Self::WINDOW,
            F,
            self.kernel.as_slice(),
            x,
            batch,
            &mut buf.extra,
            &buf.y,
            &mut buf.dy,
            activation,
            grads.kernel.as_mut_slice(),
            grads.bias.as_mut_slice(),
            dx,
        );
    }
}

/// Floats of patch matrix per chunk of samples, so that a chunk's patches stay in L2 from the
/// pass that writes them to the product that reads them (the figure `Conv2D` measured).
const CHUNK_FLOATS: usize = 1 << 15;

fn chunk_samples(patch_floats_per_sample: usize) -> usize {
    (CHUNK_FLOATS / patch_floats_per_sample.max(1)).max(1)
}

#[allow(clippy::too_many_arguments)]
fn conv1d_forward(
    win: &Window1D,
    filters: usize,
    kernel: &[f32],
    bias: &[f32],
    x: &[f32],
    batch: usize,
    cache: &mut Conv1DCache,
    y: &mut [f32],
    activation: Activation,
) {
    let (k, cols, in_len) = (win.ks * win.c, win.ot, win.t * win.c);
    assert_eq!(x.len(), in_len * batch, "Conv1D input has the wrong length");
    let keep_z = keeps_pre_activation(activation);
    if keep_z {
        fit_len(&mut cache.z, filters * cols * batch);
    } else {
        cache.z.clear();
    }
    let chunk = chunk_samples(k * cols);
    fit_len(&mut cache.patches, k * cols * chunk.min(batch));
    let mut s0 = 0;
    while s0 < batch {
        let n = chunk.min(batch - s0);
        let patches = &mut cache.patches[..n * k * cols];
        im2col(win, &x[s0 * in_len..(s0 + n) * in_len], patches);
        let out = s0 * filters * cols..(s0 + n) * filters * cols;
        let yc = &mut y[out.clone()];
        if keep_z {
            let zc = &mut cache.z[out];
            gemm_bias(filters, n * cols, k, kernel, patches, bias, false, zc);
            activation.apply(zc, yc, filters);
        } else {
            let relu = activation == Activation::Relu;
            gemm_bias(filters, n * cols, k, kernel, patches, bias, relu, yc);
            if activation == Activation::Relu6 {
                activation.apply_in_place(yc, filters);
            }
        }
        s0 += n;
    }
}

#[allow(clippy::too_many_arguments)]
fn conv1d_backward(
    win: &Window1D,
    filters: usize,
    kernel: &[f32],
    x: &[f32],
    batch: usize,
    cache: &mut Conv1DCache,
    y: &[f32],
    dy: &mut [f32],
    activation: Activation,
    grad_kernel: &mut [f32],
    grad_bias: &mut [f32],
    mut dx: Option<&mut [f32]>,
) {
    let (k, cols, in_len) = (win.ks * win.c, win.ot, win.t * win.c);
    assert_eq!(x.len(), in_len * batch, "Conv1D input has the wrong length");
    let out_len = filters * cols * batch;
    let kept_z = cache.z.len() == out_len;
    assert!(
        dy.len() == out_len && y.len() == out_len && (kept_z || !keeps_pre_activation(activation)),
        "Conv1D::backward_batch needs the forward pass of the same batch"
    );
    if let Some(dx) = &dx {
        assert_eq!(
            dx.len(),
            in_len * batch,
            "Conv1D input gradient has the wrong length"
        );
        cache.kernel_t.fit_len(k * filters);
        transpose(filters, k, kernel, &mut cache.kernel_t);
    }
    let chunk = chunk_samples(k * cols);
    fit_len(&mut cache.patches, k * cols * chunk.min(batch));
    grad_bias.fill(0.0);
    grad_kernel.fill(0.0);
    let mut s0 = 0;
    while s0 < batch {
        let n = chunk.min(batch - s0);
        let out = s0 * filters * cols..(s0 + n) * filters * cols;
        let dzc = &mut dy[out.clone()];
        let z = if kept_z {
            &cache.z[out.clone()]
        } else {
            &y[out.clone()]
        };
        activation.backward(z, &y[out], dzc, filters);
        let dzc = &*dzc;
        add_column_sums(dzc, grad_bias);
        let inputs = s0 * in_len..(s0 + n) * in_len;
        let patches = &mut cache.patches[..n * k * cols];
        im2col(win, &x[inputs.clone()], patches);
        gemm(
            filters,
            k,
            n * cols,
            1.0,
            dzc,
            Op::N,
            patches,
            Op::T,
            1.0,
            grad_kernel,
        );
        if let Some(dx) = dx.as_deref_mut() {
            gemm(
                k,
                n * cols,
                filters,
                1.0,
                &cache.kernel_t,
                Op::N,
                dzc,
                Op::N,
                0.0,
                patches,
            );
            col2im(win, patches, &mut dx[inputs]);
        }
        s0 += n;
    }
}

/// Writes the patch matrix (`K × OT` per sample) of the samples in `x`.
fn im2col(win: &Window1D, x: &[f32], patches: &mut [f32]) {
    let (c, k) = (win.c, win.ks * win.c);
    for (xs, sample) in x
        .chunks_exact(win.t * c)
        .zip(patches.chunks_exact_mut(k * win.ot))
    {
        for (o, col) in sample.chunks_exact_mut(k).enumerate() {
            for (j, tap) in col.chunks_exact_mut(c).enumerate() {
                match win.step(o, j) {
                    Some(i) => tap.copy_from_slice(&xs[i * c..(i + 1) * c]),
                    None => tap.fill(0.0),
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: overwrites `dx` with the sum of each input step's gradients over
/// the taps that read it; padding drops out.
fn col2im(win: &Window1D, dcols: &[f32], dx: &mut [f32]) {
    let (c, k) = (win.c, win.ks * win.c);
    dx.fill(0.0);
    for (dxs, sample) in dx.chunks_exact_mut(win.t * c).zip(dcols.chunks_exact(k * win.ot)) {
        for (o, col) in sample.chunks_exact(k).enumerate() {
            for (j, tap) in col.chunks_exact(c).enumerate() {
                if let Some(i) = win.step(o, j) {
                    dxs[i * c..(i + 1) * c]
                        .iter_mut()
                        .zip(tap)
                        .for_each(|(d, &g)| *d += g);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sequence_window_fits;

    #[test]
    fn keras_sequence_windows() {
        // valid: (10 − 5) / 1 + 1 with 3 taps 2 apart.
        assert!(sequence_window_fits(10, 3, 1, 2, 6, 0));
        // same: 10 steps, 3 taps 2 apart, 4 zeros in all, 2 before.
        assert!(sequence_window_fits(10, 3, 1, 2, 10, 2));
        // causal: all 4 zeros before.
        assert!(sequence_window_fits(10, 3, 1, 2, 10, 4));
        // same with stride 2 over 7: 4 outputs, (3·2 + 3 − 7) = 2 zeros, 1 before.
        assert!(sequence_window_fits(7, 3, 2, 1, 4, 1));
        assert!(!sequence_window_fits(10, 3, 1, 2, 10, 3));
        assert!(!sequence_window_fits(4, 3, 1, 2, 1, 0));
    }
}
