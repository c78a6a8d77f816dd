//! Parameter tensors of each layer kind, as fixed-size arrays in the weight file's (Keras's)
//! layout. Sizes are const arguments the macro computes (`IO = inputs × outputs`, …), since
//! stable Rust cannot multiply const generics in a type.
//!
//! The structs whose kernel the hot loops read as vectors (`Dense`, `Conv2D`, `Conv1D`,
//! `DepthwiseConv2D`, `SeparableConv2D`) are aligned to a 64-byte cache line with that kernel
//! first (`repr(C)`), as XNNPACK aligns its packed weights: a 16-float vector load then touches
//! one line instead of two, which took a gemv streaming from L2 from 27 to 42 GMAC/s (Dense 640
//! → 128 on AVX-512). Their size is padded to whole lines, which `PARAM_BYTES` counts.

/// `Dense`: `kernel` `[in, out]` row-major, `bias` `[out]`.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Dense<const IO: usize, const O: usize> {
    /// `[in, out]`, row-major.
    pub kernel: [f32; IO],
    /// `[out]`.
    pub bias: [f32; O],
}

/// `Conv2D`: `kernel` `[KH, KW, C, F]` (HWIO), `bias` `[F]`.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Conv2D<const K: usize, const F: usize> {
    /// `[KH, KW, C, F]`, row-major.
    pub kernel: [f32; K],
    /// `[F]`.
    pub bias: [f32; F],
}

/// `Conv1D`: `kernel` `[KS, C, F]`, `bias` `[F]` (the layout of a `Conv2D` with one kernel
/// column).
pub type Conv1D<const K: usize, const F: usize> = Conv2D<K, F>;

/// `LayerNormalization`: `gamma` and `beta` over the last axis, each of length 0 when absent
/// (`scale = false`, `center = false`).
#[derive(Clone, Debug)]
pub struct LayerNormalization<const G: usize, const B: usize> {
    /// Scale.
    pub gamma: [f32; G],
    /// Offset.
    pub beta: [f32; B],
}

/// `Embedding`: `embeddings` `[V, D]`.
#[derive(Clone, Debug)]
pub struct Embedding<const VD: usize> {
    /// `[V, D]`, row-major: row `v` is token `v`'s vector.
    pub embeddings: [f32; VD],
}

/// `LSTM`, `GRU` and `SimpleRNN`: `kernel` `[D, G·U]`, `recurrent_kernel` `[U, G·U]` and `bias`
/// (`[G·U]`; `[2, 3U]` for a GRU, whose recurrent bias is separate).
#[derive(Clone, Debug)]
pub struct Recurrent<const DG: usize, const UG: usize, const B: usize> {
    /// `[D, G·U]`, row-major.
    pub kernel: [f32; DG],
    /// `[U, G·U]`, row-major.
    pub recurrent_kernel: [f32; UG],
    /// `[G·U]` (LSTM, SimpleRNN) or `[2, 3U]` (GRU); empty without a bias (`use_bias =
    /// False`).
    pub bias: [f32; B],
}

/// `Bidirectional(LSTM | GRU | SimpleRNN)`: the forward copy's tensors (Keras's
/// `forward_lstm.kernel`, …), then the backward copy's.
#[derive(Clone, Debug)]
pub struct Bidirectional<const DG: usize, const UG: usize, const B: usize> {
    /// The copy that reads the steps in order.
    pub forward: Recurrent<DG, UG, B>,
    /// The copy that reads them in reverse.
    pub backward: Recurrent<DG, UG, B>,
}

/// `BatchNormalization`: four vectors over the last axis.
#[derive(Clone, Debug)]
pub struct BatchNormalization<const C: usize> {
    /// Scale.
    pub gamma: [f32; C],
    /// Offset.
    pub beta: [f32; C],
    /// Mean used at inference.
    pub moving_mean: [f32; C],
    /// Variance used at inference.
    pub moving_variance: [f32; C],
}

/// `Normalization`: the adapted statistics over the last axis, and how many values they came
/// from (`count`, Keras's scalar).
#[derive(Clone, Debug)]
pub struct Normalization<const C: usize> {
    /// Mean of each feature.
    pub mean: [f32; C],
    /// Biased variance of each feature.
    pub variance: [f32; C],
    /// Values per feature adapted on (0: never adapted).
    pub count: [f32; 1],
}

/// `DepthwiseConv2D`: `kernel` `[KH, KW, C, M]` (Keras 3's name), `bias` `[C·M]` (empty without
/// `use_bias`).
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct DepthwiseConv2D<const K: usize, const B: usize> {
    /// `[KH, KW, C, M]`, row-major.
    pub kernel: [f32; K],
    /// `[C·M]`, or `[]`.
    pub bias: [f32; B],
}

/// `SeparableConv2D`: `depthwise_kernel` `[KH, KW, C, M]`, `pointwise_kernel` `[1, 1, C·M, F]`,
/// `bias` `[F]` (empty without `use_bias`). The pointwise kernel, the larger product, is the
/// one that starts the cache line.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct SeparableConv2D<const K: usize, const P: usize, const B: usize> {
    /// `[1, 1, C·M, F]`, row-major.
    pub pointwise_kernel: [f32; P],
    /// `[KH, KW, C, M]`, row-major.
    pub depthwise_kernel: [f32; K],
    /// `[F]`, or `[]`.
    pub bias: [f32; B],
}
