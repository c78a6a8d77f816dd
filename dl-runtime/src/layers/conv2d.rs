//! `Conv2D(filters, kernel_size, strides, padding, activation)` on channels-last images.
//!
//! Layout: a sample is `H·W·C` floats in HWC order, element `(h·W + w)·C + c` (channel fastest,
//! then column, then row), and a batch is its samples back to back, as in every layer's
//! `features × batch` buffer. The forward pass is im2col plus a matrix product: column
//! `(n·OH + oh)·OW + ow` of the patch matrix (`K × OH·OW·batch`, `K = KH·KW·C`) holds the
//! receptive field of output pixel `(oh, ow)` of sample `n` in kernel order
//! `(kh·KW + kw)·C + c`, so `Z = kernel · patches` (`F × OH·OW·batch`) is exactly the HWC
//! output of the batch. Within a patch column each kernel row `kh` is one contiguous run of
//! `KW·C` input floats (shorter at a padded edge, the rest zero), so im2col and its adjoint,
//! col2im, move whole runs. The patch matrix is built and consumed a chunk of samples at a
//! time (rebuilt in the backward pass rather than kept), so it stays in cache. Where the CPU
//! has AVX-512, the products read the patches from the image in place instead (the forward
//! pass, the kernel gradient and the input gradient: `gathered`), and im2col is left to the
//! kernel gradient of layers whose kernel rows are shorter than a register and to other CPUs.

use nalgebra::{SMatrix, SVector};
use rand::Rng;

use super::{
    Buffers, ChunkObserver, Input, Layer, OutputGradient, TrainingBytes, add_column_sums, add_gradient,
    bytes_of, fit_len, keeps_pre_activation, output_and_gradient,
};
use crate::activation::Activation;
use crate::aligned::Param;
use crate::floats::Floats;
use crate::gemm::{Op, gathered_is_fast, gemm, gemm_bias, transpose};
use crate::init;

mod gathered;

use gathered::{
    StridedScratch, TransposedScratch, flip_kernel, gathered_forward, gathered_gradient_applies,
    input_gradient, kernel_gradient, prepare_strided, strided_applies, strided_input_gradient,
    transposed_applies,
};

/// A 2-D convolution from `H × W × C` to `OH × OW × F` (channels last).
///
/// The sizes are const arguments computed by `network!`: kernel `KH × KW`, strides `SH × SW`,
/// zero padding `PT` rows on top and `PL` columns on the left (Keras's split of `same` padding:
/// half the total, the odd cell at the bottom/right; zero for `valid`), and `K = KH·KW·C`.
/// Inconsistent arguments fail to compile when the layer is used.
///
/// The kernel is stored as an `F × K` column-major matrix with element
/// `(f, (kh·KW + kw)·C + c)`, which is byte for byte Keras's `(KH, KW, C, F)` row-major
/// `kernel`, so weight files map 1:1. Without `BIAS` (`use_bias = False`) no `bias` tensor is
/// visited, saved or trained, and the one kept stays zero.
pub struct Conv2D<
    const H: usize,
    const W: usize,
    const C: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool = true,
> {
    /// The weights, `F × K` (`z = kernel · patch`).
    pub kernel: Param<SMatrix<f32, F, K>>,
    /// The bias, one per filter.
    pub bias: Param<SVector<f32, F>>,
}

/// The geometry of a sliding window over an HWC image, passed to the non-generic kernels of
/// convolution and pooling so that their loops are compiled (and optimised) once, here.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub oh: usize,
    pub ow: usize,
    pub pt: usize,
    pub pl: usize,
}

/// Whether `out` outputs and `pad` leading padding cells are what Keras computes for a window
/// of `k` cells moved by `s` over `n` cells, with `valid` or `same` padding.
pub(crate) const fn window_fits(n: usize, k: usize, s: usize, out: usize, pad: usize) -> bool {
    if n == 0 || k == 0 || s == 0 {
        return false;
    }
    let valid = pad == 0 && n >= k && out == (n - k) / s + 1;
    let same_out = n.div_ceil(s);
    let same_total = ((same_out - 1) * s + k).saturating_sub(n);
    valid || (out == same_out && pad == same_total / 2)
}

/// The cells of a window that fall inside the image along one axis, for output `o`:
/// `(first input cell, first window cell, count)`. Padding lies before cell 0 and at or after
/// cell `n`.
#[inline(always)]
pub(crate) fn span(o: usize, s: usize, pad: usize, k: usize, n: usize) -> (usize, usize, usize) {
    // In padded coordinates the window is [o·s, o·s + k) and the image [pad, pad + n).
    let lo = o * s;
    let start = lo.max(pad);
    let end = (lo + k).min(pad + n);
    (start - pad, start - lo, end.saturating_sub(start))
}

impl Window {
    /// Floats in one input image.
    pub(crate) const fn in_len(&self) -> usize {
        self.h * self.w * self.c
    }

    /// Output positions per image (columns of the patch matrix).
    pub(crate) const fn cols(&self) -> usize {
        self.oh * self.ow
    }

    /// Floats in one output image of a channel-preserving window (pooling).
    pub(crate) const fn pooled_len(&self) -> usize {
        self.cols() * self.c
    }

    /// Whether im2col is the identity (a 1×1 kernel with unit strides and no padding).
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.sh == 1 && self.sw == 1 && self.pt == 0 && self.pl == 0
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool,
> Conv2D<H, W, C, F, KH, KW, SH, SW, OH, OW, PT, PL, K, BIAS>
{
    /// Post-monomorphisation check that the derived sizes agree with the others.
    const CHECK: () = {
        assert!(C > 0 && F > 0, "Conv2D: channels and filters must be positive");
        assert!(K == KH * KW * C, "Conv2D: K must be KH·KW·C");
        assert!(
            window_fits(H, KH, SH, OH, PT),
            "Conv2D: OH and PT are not Keras's output height and top padding for H, KH, SH"
        );
        assert!(
            window_fits(W, KW, SW, OW, PL),
            "Conv2D: OW and PL are not Keras's output width and left padding for W, KW, SW"
        );
    };

    const WINDOW: Window = Window {
        h: H,
        w: W,
        c: C,
        kh: KH,
        kw: KW,
        sh: SH,
        sw: SW,
        oh: OH,
        ow: OW,
        pt: PT,
        pl: PL,
    };

    /// Keras's defaults: glorot-uniform kernel (`fan_in = KH·KW·C`, `fan_out = KH·KW·F`), zero
    /// bias.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = <Self as Layer>::zeros();
        init::glorot_uniform(rng, KH * KW * C, KH * KW * F, layer.kernel.as_mut_slice());
        layer
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool,
> Clone for Conv2D<H, W, C, F, KH, KW, SH, SW, OH, OW, PT, PL, K, BIAS>
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
    const H: usize,
    const W: usize,
    const C: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool,
> core::fmt::Debug for Conv2D<H, W, C, F, KH, KW, SH, SW, OH, OW, PT, PL, K, BIAS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Conv2D<{H}×{W}×{C} → {OH}×{OW}×{F}, kernel {KH}×{KW}, strides {SH}×{SW}, padding {PT}/{PL}>"
        )
    }
}

/// Training cache of a convolution.
#[derive(Debug, Default)]
pub struct Conv2DCache {
    /// Pre-activations `kernel · patches + bias`, `F × OH·OW·batch`; left empty for `linear`
    /// and `relu`, whose backward passes need `y` only.
    pub z: Vec<f32>,
    /// The im2col patch matrix of one chunk of samples (`K × OH·OW·chunk`), also the scratch
    /// for `kernelᵀ · ∂L/∂z` in the backward pass.
    pub patches: Vec<f32>,
    /// `kernelᵀ` (`K × F`), transposed once per backward pass; aligned as the kernel is, being
    /// the left operand of the input gradient's product.
    pub(crate) kernel_t: Floats,
    /// Where each output pixel's receptive field starts in its sample (or in its padded copy),
    /// for the forward product that reads the image in place (see `gathered_forward`).
    pub offsets: Vec<usize>,
    /// One sample with a zero border, for windows that reach into the padding.
    pub padded: Vec<f32>,
    /// The input gradient's scratch where it is a convolution (unit strides).
    pub(crate) transposed: TransposedScratch,
    /// The input gradient's scratch where it is taken by sub-pixel classes (strides above 1).
    pub(crate) strided: StridedScratch,
    /// The kernel gradient transposed (`K × F`), where it is summed from the image in place
    /// (see `kernel_gradient`).
    pub kernel_gradient: Vec<f32>,
    /// The input gradient of a chunk folded by col2im, where it is added to `dx` rather than
    /// written (the other paths add as they store).
    pub added: Vec<f32>,
    /// A chunk of the input computed by the layer that left it unstored (see
    /// [`Conv2D::forward_batch_fused`]).
    pub input: Vec<f32>,
    /// A chunk of `∂L/∂z` handed over by the layer reading the output (see
    /// [`Conv2D::backward_batch_fused`]).
    pub pulled: Vec<f32>,
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool,
> Layer for Conv2D<H, W, C, F, KH, KW, SH, SW, OH, OW, PT, PL, K, BIAS>
{
    const PARAMS: usize = K * F + if BIAS { F } else { 0 };
    const INPUTS: usize = H * W * C;
    const OUTPUTS: usize = OH * OW * F;
    type In = f32;
    type Extra = Conv2DCache;
    // The im2col patches are built a chunk of samples at a time (at most `CHUNK_FLOATS`, or one
    // sample's): a buffer that stops growing with the batch, not counted.
    const TRAINING_BYTES: TrainingBytes = TrainingBytes {
        pre_activation: bytes_of::<f32>(Self::OUTPUTS),
        ..TrainingBytes::always(output_and_gradient::<Self>())
    };

    fn zeros() -> Self {
        const { Self::CHECK };
        Conv2D {
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
        buf: &mut Buffers<Conv2DCache>,
        activation: Activation,
        _training: bool,
    ) {
        self.forward_batch_fused(Input::Stored(x), batch, buf, activation, None);
    }

    fn pre_activation<'a>(extra: &'a Conv2DCache, y: &'a [f32]) -> &'a [f32] {
        // `z` is not kept for `linear` and `relu`, whose losses read `y` only.
        if extra.z.len() == y.len() { &extra.z } else { y }
    }

    #[inline]
    fn backward_batch(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<Conv2DCache>,
        activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        self.backward_batch_fused(
            Input::Stored(x),
            batch,
            buf,
            activation,
            grads,
            dx,
            false,
            None,
            None,
        );
    }

    /// Every input-gradient product adds as it stores (col2im's through the cache).
    fn backward_batch_adding(
        &self,
        x: &[f32],
        batch: usize,
        buf: &mut Buffers<Conv2DCache>,
        activation: Activation,
        grads: &mut Self,
        dx: &mut [f32],
        _scratch: &mut Floats,
    ) {
        self.backward_batch_fused(
            Input::Stored(x),
            batch,
            buf,
            activation,
            grads,
            Some(dx),
            true,
            None,
            None,
        );
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const OH: usize,
    const OW: usize,
    const PT: usize,
    const PL: usize,
    const K: usize,
    const BIAS: bool,
> Conv2D<H, W, C, F, KH, KW, SH, SW, OH, OW, PT, PL, K, BIAS>
{
    /// [`Layer::forward_batch`] with the layers around it fused in: the input computed a chunk
    /// at a time by the layer that left it unstored (`x`, a batch normalization's output), and
    /// each chunk of the output shown, as it is stored, to the layer reading it (`shown`, a batch
    /// normalization taking its sums; see [`ChunkObserver`]). A layer shown the output hands
    /// its gradient over in the backward pass (`upstream` of
    /// [`backward_batch_fused`](Self::backward_batch_fused)), so `buf.dy` is left empty.
    pub fn forward_batch_fused(
        &self,
        x: Input<'_>,
        batch: usize,
        buf: &mut Buffers<Conv2DCache>,
        activation: Activation,
        mut shown: Option<&mut dyn ChunkObserver>,
    ) {
        const { Self::CHECK };
        let out = Self::OUTPUTS * batch;
        fit_len(&mut buf.y, out);
        if shown.is_some() {
            buf.dy.clear();
        } else {
            fit_len(&mut buf.dy, out);
        }
        let (kernel, bias) = (self.kernel.as_slice(), self.bias.as_slice());
        let x = match x {
            Input::Stored(x) => {
                let (cache, y) = (&mut buf.extra, &mut buf.y[..]);
                return conv_forward(
                    &Self::WINDOW,
                    F,
                    kernel,
                    bias,
                    x,
                    batch,
                    cache,
                    y,
                    activation,
                    shown,
                );
            }
            Input::Computed(_) => x,
        };
        // A chunk of samples at a time, as the backward pass takes them: each chunk's input is
        // computed into the cache, then convolved as a stored batch of its own.
        assert!(
            !keeps_pre_activation(activation),
            "a computed input's convolution keeps no z"
        );
        let (in_len, out_len) = (Self::INPUTS, Self::OUTPUTS);
        let chunk = chunk_samples(K * OH * OW);
        let mut input = core::mem::take(&mut buf.extra.input);
        let mut s0 = 0;
        while s0 < batch {
            let n = chunk.min(batch - s0);
            let xc = x.chunk(s0 * in_len..(s0 + n) * in_len, &mut input);
            let out = s0 * out_len..(s0 + n) * out_len;
            let mut shifted = shown.as_deref_mut().map(|inner| Shifted { inner, by: out.start });
            let shown = shifted.as_mut().map(|s| s as &mut dyn ChunkObserver);
            conv_forward(
                &Self::WINDOW,
                F,
                kernel,
                bias,
                xc,
                n,
                &mut buf.extra,
                &mut buf.y[out],
                activation,
                shown,
            );
            s0 += n;
        }
        buf.extra.input = input;
    }

    /// [`Layer::backward_batch`] (or, `adding`, [`Layer::backward_batch_adding`]) with the
    /// layers around it fused in: the gradient of a linear convolution's output handed over a
    /// chunk of samples at a time by the layer reading it (`upstream`, a batch normalization's
    /// input gradient: never stored whole, each chunk in cache for the products that read it),
    /// and each chunk of the written input gradient shown to the layer that wrote the input
    /// (`shown`, a batch normalization taking its sums).
    #[allow(clippy::too_many_arguments)]
    pub fn backward_batch_fused(
        &self,
        x: Input<'_>,
        batch: usize,
        buf: &mut Buffers<Conv2DCache>,
        activation: Activation,
        grads: &mut Self,
        dx: Option<&mut [f32]>,
        adding: bool,
        upstream: Option<&dyn OutputGradient>,
        shown: Option<&mut dyn ChunkObserver>,
    ) {
        const { Self::CHECK };
        assert!(
            upstream.is_none() || activation == Activation::Linear,
            "a pulled gradient is of z"
        );
        if upstream.is_none() {
            fit_len(&mut buf.dy, Self::OUTPUTS * batch);
        }
        conv_backward(
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
            adding,
            upstream,
            shown,
        );
    }
}

/// A chunk's observer told where the chunk starts in the whole batch.
struct Shifted<'a> {
    inner: &'a mut dyn ChunkObserver,
    by: usize,
}

impl ChunkObserver for Shifted<'_> {
    fn chunk(&mut self, at: usize, values: &[f32]) {
        self.inner.chunk(self.by + at, values);
    }
}

/// Floats of patch matrix per chunk of samples. The kernels work through the batch a chunk of
/// samples at a time so that each chunk's patches, pre-activations and gradients stay in L2
/// (2 MiB on the machines this is tuned for) from the pass that writes them to the matrix
/// product that reads them; larger chunks measured slower, smaller ones no faster.
const CHUNK_FLOATS: usize = 1 << 15;

/// Samples per chunk: at least one.
fn chunk_samples(patch_floats_per_sample: usize) -> usize {
    (CHUNK_FLOATS / patch_floats_per_sample.max(1)).max(1)
}

#[allow(clippy::too_many_arguments)]
fn conv_forward(
    win: &Window,
    filters: usize,
    kernel: &[f32],
    bias: &[f32],
    x: &[f32],
    batch: usize,
    cache: &mut Conv2DCache,
    y: &mut [f32],
    activation: Activation,
    mut shown: Option<&mut dyn ChunkObserver>,
) {
    let k = win.kh * win.kw * win.c;
    let (cols, in_len) = (win.cols(), win.in_len());
    assert_eq!(x.len(), in_len * batch, "Conv2D input has the wrong length");
    let out_len = filters * cols * batch;
    let keep_z = keeps_pre_activation(activation);
    if keep_z {
        fit_len(&mut cache.z, out_len);
    } else {
        cache.z.clear();
    }
    let pointwise = win.pointwise();
    if !pointwise && gathered_is_fast() {
        gathered_forward(win, filters, kernel, bias, x, batch, cache, y, activation, shown);
        return;
    }
    let chunk = chunk_samples(k * cols);
    if !pointwise {
        fit_len(&mut cache.patches, k * cols * chunk.min(batch));
    }
    let mut s0 = 0;
    while s0 < batch {
        let n = chunk.min(batch - s0);
        let x_chunk = &x[s0 * in_len..(s0 + n) * in_len];
        let patches: &[f32] = if pointwise {
            x_chunk
        } else {
            let p = &mut cache.patches[..n * k * cols];
            im2col(win, x_chunk, n, p);
            p
        };
        let out = s0 * filters * cols..(s0 + n) * filters * cols;
        let yc = &mut y[out.clone()];
        if keep_z {
            let zc = &mut cache.z[out.clone()];
            gemm_bias(filters, n * cols, k, kernel, patches, bias, false, zc);
            activation.apply(zc, yc, filters);
        } else {
            // Bias and relu applied as the product is stored: the output is written once (relu6
            // clips it in place after).
            let relu = activation == Activation::Relu;
            gemm_bias(filters, n * cols, k, kernel, patches, bias, relu, yc);
            if activation == Activation::Relu6 {
                activation.apply_in_place(yc, filters);
            }
        }
        if let Some(shown) = shown.as_deref_mut() {
            shown.chunk(out.start, &y[out]);
        }
        s0 += n;
    }
}

#[allow(clippy::too_many_arguments)]
fn conv_backward(
    win: &Window,
    filters: usize,
    kernel: &[f32],
    x: Input<'_>,
    batch: usize,
    cache: &mut Conv2DCache,
    y: &[f32],
    dy: &mut [f32],
    activation: Activation,
    grad_kernel: &mut [f32],
    grad_bias: &mut [f32],
    mut dx: Option<&mut [f32]>,
    adding: bool,
    upstream: Option<&dyn OutputGradient>,
    mut shown: Option<&mut dyn ChunkObserver>,
) {
    let k = win.kh * win.kw * win.c;
    assert!(
        !(adding && shown.is_some()),
        "an input gradient added to is shown whole by no one"
    );
    let (cols, in_len) = (win.cols(), win.in_len());
    if let Input::Stored(x) = x {
        assert_eq!(x.len(), in_len * batch, "Conv2D input has the wrong length");
    }
    let out_len = filters * cols * batch;
    let kept_z = cache.z.len() == out_len;
    assert!(
        (upstream.is_some() || dy.len() == out_len)
            && y.len() == out_len
            && (kept_z || !keeps_pre_activation(activation)),
        "Conv2D::backward_batch needs the forward pass of the same batch"
    );
    let transposed = transposed_applies(win);
    let strided = strided_applies(win);
    if let Some(dx) = &dx {
        assert_eq!(
            dx.len(),
            in_len * batch,
            "Conv2D input gradient has the wrong length"
        );
        if transposed {
            flip_kernel(win, filters, kernel, &mut cache.transposed);
        } else if strided {
            prepare_strided(win, filters, kernel, &mut cache.strided);
        } else {
            cache.kernel_t.fit_len(k * filters);
            transpose(filters, k, kernel, &mut cache.kernel_t);
        }
    }
    let pointwise = win.pointwise();
    let chunk = chunk_samples(k * cols);
    let gathered_gradient = gathered_gradient_applies(win);
    // The patch matrix, for the products that read it: im2col's kernel gradient, and the
    // input gradient that col2im folds back.
    let patched_input_gradient = dx.is_some() && !transposed && !strided;
    if !pointwise && (!gathered_gradient || patched_input_gradient) {
        fit_len(&mut cache.patches, k * cols * chunk.min(batch));
    }
    grad_bias.fill(0.0);
    grad_kernel.fill(0.0);
    if gathered_gradient {
        fit_len(&mut cache.kernel_gradient, k * filters);
        cache.kernel_gradient.fill(0.0);
    }

    // A chunk of samples at a time: its patches are rebuilt (cheaper than keeping the whole
    // batch's, several times the size of the input, and reading them back from L3) and its
    // ∂L/∂z stays in cache from the activation's backward pass to the last product.
    // A gradient handed over by the layer reading the output goes through a chunk's scratch,
    // taken out of the cache for the loop (the products borrow the cache).
    let mut pulled = core::mem::take(&mut cache.pulled);
    let mut input = core::mem::take(&mut cache.input);
    if upstream.is_some() {
        fit_len(&mut pulled, filters * cols * chunk.min(batch));
    }
    let mut s0 = 0;
    while s0 < batch {
        let n = chunk.min(batch - s0);
        let out = s0 * filters * cols..(s0 + n) * filters * cols;
        let dzc: &[f32] = if let Some(upstream) = upstream {
            let dzc = &mut pulled[..out.len()];
            upstream.chunk(out.start, &y[out.clone()], dzc);
            dzc
        } else {
            let dzc = &mut dy[out.clone()];
            let z = if kept_z {
                &cache.z[out.clone()]
            } else {
                &y[out.clone()]
            };
            activation.backward(z, &y[out], dzc, filters);
            dzc
        };

        // ∂L/∂b = Σ_pixels ∂L/∂z.
        add_column_sums(dzc, grad_bias);

        // ∂L/∂kernel += ∂L/∂z · patchesᵀ.
        let inputs = s0 * in_len..(s0 + n) * in_len;
        let x_chunk = x.chunk(inputs.clone(), &mut input);
        if gathered_gradient {
            // One sample's sum at a time: where a chunk holds several samples (small patches),
            // the im2col product summed their pixels together first, so the rounding differs.
            kernel_gradient(win, filters, x_chunk, dzc, n, cache);
        } else {
            let patches: &[f32] = if pointwise {
                x_chunk
            } else {
                let p = &mut cache.patches[..n * k * cols];
                im2col(win, x_chunk, n, p);
                p
            };
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
        }

        // ∂L/∂x = col2im(kernelᵀ · ∂L/∂z), the patch gradients written over the patches, or
        // added to what `dx` holds: each product sums first and adds as it stores, as the
        // gradient written elsewhere and added in would.
        if let Some(dx) = dx.as_deref_mut() {
            let (kt, dxc) = (&cache.kernel_t[..], &mut dx[inputs.clone()]);
            if transposed {
                input_gradient(win, filters, dzc, n, &mut cache.transposed, dxc, adding);
            } else if strided {
                strided_input_gradient(win, filters, dzc, n, &mut cache.strided, dxc, adding);
            } else if pointwise {
                let beta = if adding { 1.0 } else { 0.0 };
                gemm(k, n * cols, filters, 1.0, kt, Op::N, dzc, Op::N, beta, dxc);
            } else {
                let dcols = &mut cache.patches[..n * k * cols];
                gemm(k, n * cols, filters, 1.0, kt, Op::N, dzc, Op::N, 0.0, dcols);
                if adding {
                    // col2im sums each pixel's patch gradients over the zeroed pixel.
                    let part = &mut cache.added;
                    fit_len(part, dxc.len());
                    col2im(win, dcols, n, part);
                    add_gradient(dxc, part);
                } else {
                    col2im(win, dcols, n, dxc);
                }
            }
            if let Some(shown) = shown.as_deref_mut() {
                shown.chunk(inputs.start, dxc);
            }
        }
        s0 += n;
    }
    cache.pulled = pulled;
    cache.input = input;
    if gathered_gradient {
        transpose(k, filters, &cache.kernel_gradient, grad_kernel);
    }
}

/// Writes the patch matrix (`K × OH·OW·batch`) of `batch` HWC samples.
fn im2col(win: &Window, x: &[f32], batch: usize, patches: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F.
            unsafe { im2col_avx512(win, x, batch, patches) };
            return;
        }
    }
    im2col_impl::<false>(win, x, batch, patches);
}

/// [`im2col_impl`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn im2col_avx512(win: &Window, x: &[f32], batch: usize, patches: &mut [f32]) {
    im2col_impl::<true>(win, x, batch, patches);
}

/// The output columns `[lo, hi)` whose window lies inside the image along one axis.
fn interior(n: usize, k: usize, s: usize, out: usize, pad: usize) -> (usize, usize) {
    let lo = pad.div_ceil(s).min(out);
    // The window of `o` ends inside when `o·s + k ≤ pad + n`.
    let hi = (pad + n).checked_sub(k).map_or(0, |v| v / s + 1).min(out);
    (lo, hi.max(lo))
}

/// im2col's loop; `AVX512` selects the vector copies, which may only be inlined into a function
/// compiled with AVX-512F.
#[inline(always)]
fn im2col_impl<const AVX512: bool>(win: &Window, x: &[f32], batch: usize, patches: &mut [f32]) {
    let Window {
        h,
        w,
        c,
        kh,
        kw,
        sh,
        sw,
        oh,
        ow,
        pt,
        pl,
    } = *win;
    let (run, row) = (kw * c, w * c);
    let k = kh * run;
    let in_len = win.in_len();
    assert!(
        x.len() >= in_len * batch && patches.len() >= k * win.cols() * batch,
        "im2col buffers too short"
    );
    let (c_lo, c_hi) = interior(w, kw, sw, ow, pl);
    let mut cols = patches.chunks_exact_mut(k * ow);
    for xs in x.chunks_exact(in_len).take(batch) {
        for o_r in 0..oh {
            let (ih, kh0, nkh) = span(o_r, sh, pt, kh, h);
            let out_row = cols.next().expect("patch buffer sized for the batch");
            // The columns whose window is inside the image: KH runs of KW·C floats each.
            let (lo, hi) = if nkh == kh { (c_lo, c_hi) } else { (0, 0) };
            let mut src = ih * row + (lo * sw).saturating_sub(pl) * c;
            for col in out_row[lo * k..hi * k].chunks_exact_mut(k) {
                for (r, dst) in col.chunks_exact_mut(run).enumerate() {
                    let s = src + r * row;
                    copy_run::<AVX512>(dst, &xs[s..s + run]);
                }
                src += sw * c;
            }
            // The others overlap the padding, whose cells stay zero.
            for o_c in (0..lo).chain(hi..ow) {
                let (iw, kw0, nkw) = span(o_c, sw, pl, kw, w);
                let col = &mut out_row[o_c * k..(o_c + 1) * k];
                col.fill(0.0);
                let len = nkw * c;
                for r in 0..nkh {
                    let (s, d) = ((ih + r) * row + iw * c, (kh0 + r) * run + kw0 * c);
                    copy_run::<AVX512>(&mut col[d..d + len], &xs[s..s + len]);
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: overwrites `dx` with the sum, over the patches that contain each
/// input cell, of that cell's gradient in `dcols`. Padding cells are dropped.
fn col2im(win: &Window, dcols: &[f32], batch: usize, dx: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F.
            unsafe { col2im_avx512(win, dcols, batch, dx) };
            return;
        }
    }
    col2im_impl::<false>(win, dcols, batch, dx);
}

/// [`col2im_impl`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn col2im_avx512(win: &Window, dcols: &[f32], batch: usize, dx: &mut [f32]) {
    col2im_impl::<true>(win, dcols, batch, dx);
}

/// col2im's loop; `AVX512` as in [`im2col_impl`].
#[inline(always)]
fn col2im_impl<const AVX512: bool>(win: &Window, dcols: &[f32], batch: usize, dx: &mut [f32]) {
    let Window {
        h,
        w,
        c,
        kh,
        kw,
        sh,
        sw,
        oh,
        ow,
        pt,
        pl,
    } = *win;
    let (run, row) = (kw * c, w * c);
    let k = kh * run;
    let in_len = win.in_len();
    assert!(
        dx.len() >= in_len * batch && dcols.len() >= k * win.cols() * batch,
        "col2im buffers too short"
    );
    let mut cols = dcols.chunks_exact(k);
    for dxs in dx.chunks_exact_mut(in_len).take(batch) {
        dxs.fill(0.0);
        for o_r in 0..oh {
            let (ih, kh0, nkh) = span(o_r, sh, pt, kh, h);
            for o_c in 0..ow {
                let (iw, kw0, nkw) = span(o_c, sw, pl, kw, w);
                let col = cols.next().expect("patch buffer sized for the batch");
                let len = nkw * c;
                for r in 0..nkh {
                    let (s, d) = ((ih + r) * row + iw * c, (kh0 + r) * run + kw0 * c);
                    add_run::<AVX512>(&mut dxs[s..s + len], &col[d..d + len]);
                }
            }
        }
    }
}

/// `dst = src` for a run of floats: 16 lanes at a time (the tail masked) with `AVX512`, else
/// `copy_from_slice`. Runs are short (`KW·C` floats), so a `memcpy` call per run would cost
/// more than the copy.
#[inline(always)]
fn copy_run<const AVX512: bool>(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "run lengths differ");
    #[cfg(target_arch = "x86_64")]
    {
        if AVX512 {
            // SAFETY: `AVX512` is only set in functions compiled with AVX-512F; both runs hold
            // `dst.len()` floats (asserted).
            unsafe { simd::copy(dst.as_mut_ptr(), src.as_ptr(), dst.len()) };
            return;
        }
    }
    dst.copy_from_slice(src);
}

/// `dst += src` for a run of floats; `AVX512` as in [`copy_run`].
#[inline(always)]
fn add_run<const AVX512: bool>(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "run lengths differ");
    #[cfg(target_arch = "x86_64")]
    {
        if AVX512 {
            // SAFETY: as in `copy_run`.
            unsafe { simd::add(dst.as_mut_ptr(), src.as_ptr(), dst.len()) };
            return;
        }
    }
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use core::arch::x86_64::*;

    #[inline(always)]
    fn tail(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }

    /// Copies `n` floats from `src` to `dst`.
    ///
    /// # Safety
    /// AVX-512F must be available; `src` must be readable and `dst` writable for `n` floats.
    #[inline(always)]
    pub(super) unsafe fn copy(dst: *mut f32, src: *const f32, n: usize) {
        // SAFETY: every access is below `n` floats (the tail masked), per the contract.
        unsafe {
            let mut i = 0;
            while i + 16 <= n {
                _mm512_storeu_ps(dst.add(i), _mm512_loadu_ps(src.add(i)));
                i += 16;
            }
            if i < n {
                let m = tail(n - i);
                _mm512_mask_storeu_ps(dst.add(i), m, _mm512_maskz_loadu_ps(m, src.add(i)));
            }
        }
    }

    /// Adds `n` floats of `src` to `dst`.
    ///
    /// # Safety
    /// As [`copy`].
    #[inline(always)]
    pub(super) unsafe fn add(dst: *mut f32, src: *const f32, n: usize) {
        // SAFETY: as in `copy`.
        unsafe {
            let mut i = 0;
            while i + 16 <= n {
                let v = _mm512_add_ps(_mm512_loadu_ps(dst.add(i)), _mm512_loadu_ps(src.add(i)));
                _mm512_storeu_ps(dst.add(i), v);
                i += 16;
            }
            if i < n {
                let m = tail(n - i);
                let v = _mm512_add_ps(
                    _mm512_maskz_loadu_ps(m, dst.add(i)),
                    _mm512_maskz_loadu_ps(m, src.add(i)),
                );
                _mm512_mask_storeu_ps(dst.add(i), m, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Geometries covering interior and padded columns, strides, wide kernels and channel
    /// counts around the 16-lane width.
    fn windows() -> Vec<Window> {
        let mut out = Vec::new();
        for (h, w, c) in [(7, 6, 1), (5, 9, 3), (6, 5, 17), (4, 4, 32), (8, 6, 16)] {
            for (kh, kw, sh, sw) in [
                (3, 3, 1, 1),
                (3, 3, 2, 2),
                (2, 3, 2, 1),
                (4, 2, 1, 2),
                (1, 1, 2, 2),
                (5, 5, 1, 1),
            ] {
                for same in [false, true] {
                    let fit = |n: usize, k: usize, s: usize| {
                        if same {
                            let o = n.div_ceil(s);
                            Some((o, ((o - 1) * s + k).saturating_sub(n) / 2))
                        } else {
                            (n >= k).then(|| ((n - k) / s + 1, 0))
                        }
                    };
                    if let (Some((oh, pt)), Some((ow, pl))) = (fit(h, kh, sh), fit(w, kw, sw)) {
                        out.push(Window {
                            h,
                            w,
                            c,
                            kh,
                            kw,
                            sh,
                            sw,
                            oh,
                            ow,
                            pt,
                            pl,
                        });
                    }
                }
            }
        }
        out
    }

    /// The portable loops (which machines with AVX-512 never run otherwise) match the
    /// dispatched ones bit for bit.
    #[test]
    fn portable_im2col_and_col2im_match_dispatched() {
        for win in windows() {
            let batch = 3;
            let k = win.kh * win.kw * win.c;
            let (inputs, patches) = (win.h * win.w * win.c * batch, k * win.oh * win.ow * batch);
            let x: Vec<f32> = (0..inputs).map(|i| (i % 97) as f32 - 48.0).collect();
            let (mut a, mut b) = (vec![f32::NAN; patches], vec![f32::NAN; patches]);
            im2col(&win, &x, batch, &mut a);
            im2col_impl::<false>(&win, &x, batch, &mut b);
            assert_eq!(a, b, "im2col {win:?}");
            let d: Vec<f32> = (0..patches).map(|i| (i % 89) as f32 - 44.0).collect();
            let (mut a, mut b) = (vec![f32::NAN; inputs], vec![f32::NAN; inputs]);
            col2im(&win, &d, batch, &mut a);
            col2im_impl::<false>(&win, &d, batch, &mut b);
            assert_eq!(a, b, "col2im {win:?}");
        }
    }

    /// The forward pass that gathers patch columns in place (from the image, or from its
    /// zero-bordered copy where windows reach into the padding) matches im2col and the product
    /// with a materialised patch matrix, for every geometry, `valid` and `same`.
    #[test]
    fn gathered_forward_matches_im2col() {
        let mut checked = 0;
        for win in windows() {
            for filters in [5, 33] {
                let batch = 2;
                let k = win.kh * win.kw * win.c;
                let cols = win.oh * win.ow;
                let x: Vec<f32> = (0..win.h * win.w * win.c * batch)
                    .map(|i| ((i * 37) % 29) as f32 * 0.125 - 1.75)
                    .collect();
                let kernel: Vec<f32> = (0..filters * k)
                    .map(|i| ((i * 11) % 7) as f32 * 0.25 - 0.75)
                    .collect();
                let bias: Vec<f32> = (0..filters).map(|f| f as f32 * 0.5 - 1.0).collect();
                let mut patches = vec![0.0; k * cols * batch];
                im2col(&win, &x, batch, &mut patches);
                for activation in [Activation::Relu, Activation::Tanh] {
                    let mut z = vec![0.0; filters * cols * batch];
                    gemm_bias(filters, cols * batch, k, &kernel, &patches, &bias, false, &mut z);
                    let mut expect = vec![0.0; z.len()];
                    activation.apply(&z, &mut expect, filters);
                    let mut cache = Conv2DCache::default();
                    let mut y = vec![f32::NAN; z.len()];
                    fit_len(&mut cache.z, z.len());
                    gathered_forward(
                        &win, filters, &kernel, &bias, &x, batch, &mut cache, &mut y, activation, None,
                    );
                    for (a, e) in y.iter().zip(&expect) {
                        assert!(
                            (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                            "{win:?} {filters} {activation:?}"
                        );
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 50, "only {checked} geometries checked");
    }

    /// A kernel, a batch of 2 samples' `∂L/∂z`, and the input gradient col2im folds from
    /// `kernelᵀ · ∂L/∂z`: what the convolution-shaped input gradients must match.
    fn col2im_input_gradient(win: &Window, filters: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let batch = 2;
        let (k, cols, in_len) = (win.kh * win.kw * win.c, win.cols(), win.in_len());
        let kernel: Vec<f32> = (0..filters * k)
            .map(|i| ((i * 11) % 7) as f32 * 0.25 - 0.75)
            .collect();
        let dz: Vec<f32> = (0..filters * cols * batch)
            .map(|i| ((i * 37) % 29) as f32 * 0.125 - 1.75)
            .collect();
        let mut kt = vec![0.0; k * filters];
        transpose(filters, k, &kernel, &mut kt);
        let mut dcols = vec![0.0; k * cols * batch];
        gemm(
            k,
            cols * batch,
            filters,
            1.0,
            &kt,
            Op::N,
            &dz,
            Op::N,
            0.0,
            &mut dcols,
        );
        let mut expect = vec![f32::NAN; in_len * batch];
        col2im(win, &dcols, batch, &mut expect);
        (kernel, dz, expect)
    }

    /// The input gradient as a convolution of the bordered `∂L/∂z` with the flipped kernel
    /// matches col2im of `kernelᵀ · ∂L/∂z`, for every unit-stride geometry it is used for.
    #[test]
    fn transposed_input_gradient_matches_col2im() {
        let mut checked = 0;
        for win in windows().into_iter().filter(transposed_applies) {
            for filters in [5, 33] {
                let (kernel, dz, expect) = col2im_input_gradient(&win, filters);
                let mut scratch = TransposedScratch::default();
                flip_kernel(&win, filters, &kernel, &mut scratch);
                let mut got = vec![f32::NAN; expect.len()];
                input_gradient(&win, filters, &dz, 2, &mut scratch, &mut got, false);
                for (a, e) in got.iter().zip(&expect) {
                    assert!((a - e).abs() <= 1e-4 * (1.0 + e.abs()), "{win:?} {filters}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} geometries checked");
    }

    /// The input gradient by sub-pixel classes matches col2im of `kernelᵀ · ∂L/∂z` for every
    /// strided geometry (valid and same, kernels smaller and larger than the stride).
    #[test]
    fn strided_input_gradient_matches_col2im() {
        let mut checked = 0;
        for win in windows().into_iter().filter(strided_applies) {
            for filters in [5, 16, 33] {
                let (kernel, dz, expect) = col2im_input_gradient(&win, filters);
                let mut scratch = StridedScratch::default();
                // Twice through one scratch: the second pass reuses the first's columns.
                for _ in 0..2 {
                    prepare_strided(&win, filters, &kernel, &mut scratch);
                    let mut got = vec![f32::NAN; expect.len()];
                    strided_input_gradient(&win, filters, &dz, 2, &mut scratch, &mut got, false);
                    for (a, e) in got.iter().zip(&expect) {
                        assert!(
                            (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                            "{win:?} {filters}: {a} {e}"
                        );
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} geometries checked");
    }

    /// A linear convolution's forward pass over a batch, for its backward pass to be run in
    /// several ways and compared bit for bit.
    struct Backward {
        win: Window,
        filters: usize,
        batch: usize,
        x: Vec<f32>,
        kernel: Vec<f32>,
    }

    impl Backward {
        fn new(win: Window, filters: usize, batch: usize) -> Self {
            let k = win.kh * win.kw * win.c;
            let x = (0..win.in_len() * batch)
                .map(|i| ((i * 37) % 29) as f32 * 0.125 - 1.75)
                .collect();
            let kernel = (0..filters * k)
                .map(|i| ((i * 11) % 7) as f32 * 0.25 - 0.75)
                .collect();
            Backward {
                win,
                filters,
                batch,
                x,
                kernel,
            }
        }

        /// A gradient of the output.
        fn dy(&self) -> Vec<f32> {
            (0..self.filters * self.win.cols() * self.batch)
                .map(|i| ((i * 13) % 23) as f32 * 0.25 - 2.5)
                .collect()
        }

        /// The bits of the kernel's, the bias's and the input's gradients, `∂L/∂z` given by
        /// `dz` from the output (or by `upstream`, chunk by chunk) and `∂L/∂x` written or added
        /// into `dx`.
        fn run(
            &self,
            dz: impl FnOnce(&[f32]) -> Vec<f32>,
            upstream: Option<&dyn OutputGradient>,
            mut dx: Vec<f32>,
            adding: bool,
        ) -> [Vec<u32>; 3] {
            let (win, filters, batch) = (&self.win, self.filters, self.batch);
            let mut cache = Conv2DCache::default();
            let mut y = vec![0.0; filters * win.cols() * batch];
            let bias = vec![0.5; filters];
            conv_forward(
                win,
                filters,
                &self.kernel,
                &bias,
                &self.x,
                batch,
                &mut cache,
                &mut y,
                Activation::Linear,
                None,
            );
            let (mut gk, mut gb) = (vec![f32::NAN; self.kernel.len()], vec![f32::NAN; filters]);
            let mut dz = dz(&y);
            conv_backward(
                win,
                filters,
                &self.kernel,
                Input::Stored(&self.x),
                batch,
                &mut cache,
                &y,
                &mut dz,
                Activation::Linear,
                &mut gk,
                &mut gb,
                Some(&mut dx),
                adding,
                upstream,
                None,
            );
            [gk, gb, dx].map(|v| v.iter().map(|f| f.to_bits()).collect())
        }
    }

    /// A backward pass adding `∂L/∂x` to a tensor's other gradient gives, bit for bit, the
    /// gradient it writes plus that other gradient, and the same parameter gradients: for every
    /// geometry, so for every input-gradient path (im2col and col2im, pointwise, the unit-stride
    /// convolution, the sub-pixel classes), with channel counts the classes spread by a constant
    /// and by a run-time count.
    #[test]
    fn adding_the_input_gradient_matches_writing_it_then_adding() {
        let mut paths = [0; 4];
        let pointwise = Window {
            h: 5,
            w: 4,
            c: 16,
            kh: 1,
            kw: 1,
            sh: 1,
            sw: 1,
            oh: 5,
            ow: 4,
            pt: 0,
            pl: 0,
        };
        for win in windows().into_iter().chain([pointwise]) {
            for filters in [5, 16] {
                let case = Backward::new(win, filters, 3);
                let other: Vec<f32> = (0..case.x.len()).map(|i| (i % 5) as f32 * 0.375 - 0.7).collect();
                let [gk, gb, written] = case.run(|_| case.dy(), None, vec![f32::NAN; other.len()], false);
                let [ak, ab, added] = case.run(|_| case.dy(), None, other.clone(), true);
                let sum: Vec<u32> = other
                    .iter()
                    .zip(&written)
                    .map(|(o, &w)| (o + f32::from_bits(w)).to_bits())
                    .collect();
                assert_eq!(added, sum, "{win:?} {filters}");
                assert_eq!((ak, ab), (gk, gb), "{win:?} {filters}");
                let path = if transposed_applies(&win) {
                    0
                } else if strided_applies(&win) {
                    1
                } else if win.pointwise() {
                    2
                } else {
                    3
                };
                paths[path] += 1;
            }
        }
        // Without AVX-512, col2im takes the unit-stride and the strided gradients.
        let taken = if gathered_is_fast() {
            &paths[..3]
        } else {
            &paths[2..]
        };
        assert!(taken.iter().all(|&n| n > 0), "every path checked: {paths:?}");
    }

    /// A gradient handed over a chunk at a time gives the bits of the same gradient stored
    /// whole, for every geometry (chunks of one sample and of several), written and added.
    #[test]
    fn a_gradient_handed_over_by_chunks_matches_the_gradient_stored_whole() {
        /// `dz = g · y + 0.5`: depends on the chunk's place and on the output it is given.
        struct Scaled(Vec<f32>);
        impl OutputGradient for Scaled {
            fn chunk(&self, at: usize, y: &[f32], dz: &mut [f32]) {
                for ((d, &g), &y) in dz.iter_mut().zip(&self.0[at..at + y.len()]).zip(y) {
                    *d = g * y + 0.5;
                }
            }
        }
        let mut chunked = false;
        for win in windows() {
            let case = Backward::new(win, 16, 5);
            chunked |= chunk_samples(win.kh * win.kw * win.c * win.cols()) > 1;
            let upstream = Scaled(case.dy());
            let whole = |y: &[f32]| {
                let mut dz = vec![0.0; y.len()];
                upstream.chunk(0, y, &mut dz);
                dz
            };
            for adding in [false, true] {
                let dx = vec![0.25; case.x.len()];
                let pulled = case.run(|y| vec![f32::NAN; y.len()], Some(&upstream), dx.clone(), adding);
                assert_eq!(
                    pulled,
                    case.run(whole, None, dx, adding),
                    "{win:?} adding {adding}"
                );
            }
        }
        assert!(chunked, "a chunk of several samples checked");
    }

    /// What the forward pass shows chunk by chunk is its output, and what the backward pass
    /// shows is the input gradient it writes: every float once, in order, for every geometry.
    #[test]
    fn the_chunks_shown_are_the_tensors_stored() {
        /// The chunks, laid end to end where they say they start.
        #[derive(Default)]
        struct Record(Vec<f32>);
        impl ChunkObserver for Record {
            fn chunk(&mut self, at: usize, values: &[f32]) {
                assert_eq!(at, self.0.len(), "chunks in order, none skipped");
                self.0.extend_from_slice(values);
            }
        }
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for win in windows() {
            let case = Backward::new(win, 16, 5);
            let (filters, batch) = (case.filters, case.batch);
            let mut cache = Conv2DCache::default();
            let mut y = vec![0.0; filters * win.cols() * batch];
            let mut forward = Record::default();
            let bias = vec![0.5; filters];
            conv_forward(
                &win,
                filters,
                &case.kernel,
                &bias,
                &case.x,
                batch,
                &mut cache,
                &mut y,
                Activation::Linear,
                Some(&mut forward),
            );
            assert_eq!(bits(&forward.0), bits(&y), "{win:?} forward");
            let (mut gk, mut gb) = (vec![0.0; case.kernel.len()], vec![0.0; filters]);
            let mut dx = vec![f32::NAN; case.x.len()];
            let mut backward = Record::default();
            conv_backward(
                &win,
                filters,
                &case.kernel,
                Input::Stored(&case.x),
                batch,
                &mut cache,
                &y,
                &mut case.dy(),
                Activation::Linear,
                &mut gk,
                &mut gb,
                Some(&mut dx),
                false,
                None,
                Some(&mut backward),
            );
            assert_eq!(bits(&backward.0), bits(&dx), "{win:?} backward");
        }
    }

    /// A convolution reading an input computed chunk by chunk gives the bits of the same input
    /// stored: its output, parameter gradients and input gradient, over chunks of several
    /// samples and a last partial one.
    #[test]
    fn a_computed_input_gives_the_stored_input_s_bits() {
        /// `x = 2·base − 1`, computed where asked.
        struct Affine<'a>(&'a [f32]);
        impl crate::layers::InputChunks for Affine<'_> {
            fn fill(&self, at: usize, out: &mut [f32]) {
                for (o, &b) in out.iter_mut().zip(&self.0[at..]) {
                    *o = 2.0 * b - 1.0;
                }
            }
        }
        type Conv = Conv2D<6, 5, 16, 8, 3, 3, 1, 1, 6, 5, 1, 1, 144, true>;
        let batch = 10;
        assert!(
            (2..batch).contains(&chunk_samples(144 * 30)),
            "chunks of several samples"
        );
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(3);
        let conv = Conv::new(&mut rng);
        let base: Vec<f32> = (0..Conv::INPUTS * batch)
            .map(|i| ((i * 37) % 29) as f32 * 0.07)
            .collect();
        let stored: Vec<f32> = base.iter().map(|&b| 2.0 * b - 1.0).collect();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let run = |x: Input<'_>| {
            let mut buf = Buffers::<Conv2DCache>::default();
            conv.forward_batch_fused(x, batch, &mut buf, Activation::Relu, None);
            let y = bits(&buf.y);
            buf.dy = (0..buf.y.len())
                .map(|i| ((i * 13) % 23) as f32 * 0.25 - 2.5)
                .collect();
            let mut grads = Conv::zeros();
            let mut dx = vec![f32::NAN; stored.len()];
            conv.backward_batch_fused(
                x,
                batch,
                &mut buf,
                Activation::Relu,
                &mut grads,
                Some(&mut dx),
                false,
                None,
                None,
            );
            [
                y,
                bits(grads.kernel.as_slice()),
                bits(grads.bias.as_slice()),
                bits(&dx),
            ]
        };
        assert_eq!(run(Input::Computed(&Affine(&base))), run(Input::Stored(&stored)));
    }

    #[test]
    fn interior_columns() {
        // valid: every window inside.
        assert_eq!(interior(28, 3, 1, 26, 0), (0, 26));
        // same 3×3: the first and last overlap the padding.
        assert_eq!(interior(5, 3, 1, 5, 1), (1, 4));
        // same 4, stride 2 on 7 (pad 1 before, 2 after): windows at 0, 2, 4, 6 in padded
        // coordinates [1, 8) inside for 2 and 4.
        assert_eq!(interior(7, 4, 2, 4, 1), (1, 3));
        // A window wider than the image: none inside (an empty range).
        assert_eq!(interior(3, 5, 1, 3, 2), (2, 2));
    }
}
