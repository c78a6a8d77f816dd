//! `TRAINING_BYTES_PER_SAMPLE` is what a training workspace really grows by per sample: the
//! live heap bytes of a fresh workspace after a training step (forward and backward) at batch
//! `2B`, less those at batch `B`, are `B` times the constant, for every layer kind and each
//! condition a layer's buffers depend on (activation, mask, input gradient, dropout rate).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use dl::loss::GradOf;
use dl::model::Model;
use dl::sample::Sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not see each other's buffers.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn add_live(bytes: isize) {
    let _ = LIVE.try_with(|c| c.set(c.get() + bytes));
}

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add_live(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add_live(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add_live(-(layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add_live(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

type Elem<M> = <<M as Model>::Input as Sample>::Elem;

/// Live bytes of a fresh workspace after one training step of `batch` samples of `x`.
fn workspace_bytes<M: Model>(net: &M, x: &[Elem<M>], batch: usize) -> usize {
    let x = &x[..batch * <M::Input as Sample>::LEN];
    let mut grads = M::zeros();
    let before = live();
    let mut ws = M::Workspace::default();
    net.forward_batch(x, batch, &mut ws, true);
    M::head(&mut ws).1.fill(0.25);
    net.backward_batch(x, batch, &mut ws, GradOf::Output, &mut grads);
    let bytes = live() - before;
    drop(ws);
    usize::try_from(bytes).expect("a workspace holds memory")
}

/// Checks the constant against the workspaces of batches `b` and `2b` of `x` (`2b` samples).
/// A step at `4b` runs first, so that buffers kept per thread (a GEMM's transposition scratch)
/// have reached their size and do not grow under the measurement.
fn check<M: Model>(net: &M, x: &[Elem<M>], b: usize) {
    assert_eq!(x.len(), 4 * b * <M::Input as Sample>::LEN);
    workspace_bytes(net, x, 4 * b);
    let (one, two) = (workspace_bytes(net, x, b), workspace_bytes(net, x, 2 * b));
    assert_eq!(
        (two - one) as f64 / b as f64,
        M::TRAINING_BYTES_PER_SAMPLE as f64,
        "{}: workspace {one} bytes at batch {b}, {two} at {}",
        M::NAME,
        2 * b
    );
    assert!(M::TRAINING_BYTES_PER_SAMPLE > 0, "{}", M::NAME);
    // What does not grow with the batch is the smaller part here.
    assert!(one >= b * M::TRAINING_BYTES_PER_SAMPLE, "{}", M::NAME);
}

fn features(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// `samples` sequences of `len` ids below `vocabulary`, some ending in padding (id 0).
fn tokens(samples: usize, len: usize, vocabulary: u32, seed: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ids = Vec::with_capacity(samples * len);
    for s in 0..samples {
        let padded = s % len;
        ids.extend((0..len).map(|t| {
            if t + padded >= len {
                0
            } else {
                rng.random_range(1..vocabulary)
            }
        }));
    }
    ids
}

macro_rules! check_features {
    ($net:ident, $b:expr) => {{
        let b: usize = $b;
        let net = $net::new(&mut ChaCha8Rng::seed_from_u64(1));
        let x = features(4 * b * <<$net as Model>::Input as Sample>::LEN, 2);
        check(&net, &x, b);
    }};
}

macro_rules! check_tokens {
    ($net:ident, $len:expr, $vocabulary:expr, $b:expr) => {{
        let b: usize = $b;
        let net = $net::new(&mut ChaCha8Rng::seed_from_u64(1));
        check(&net, &tokens(4 * b, $len, $vocabulary, 3), b);
    }};
}

// ---------------------------------------------------------------------------------------------
// Dense layers: a relu or linear layer keeps no pre-activation, the others do.

dl::network! {
    /// The Keras tutorial's classifier.
    struct Tutorial { input: [10], Dense(64, relu), Dense(64, relu), Dense(1, sigmoid) }
}

dl::network! {
    struct EveryActivation {
        input: [9],
        Dense(7, linear),
        Dense(6, tanh),
        Dense(5, leaky_relu),
        Dense(5, elu),
        Dense(4, gelu),
        Dense(4, softplus),
        Dense(4, swish),
        Dense(3, softmax),
    }
}

#[test]
fn dense_networks() {
    check_features!(Tutorial, 8);
    check_features!(EveryActivation, 8);
    // Hand-counted: y and dy of every layer, and z of the sigmoid head only.
    assert_eq!(Tutorial::TRAINING_BYTES_PER_SAMPLE, 4 * (2 * (64 + 64 + 1) + 1));
}

// ---------------------------------------------------------------------------------------------
// Convolutions (im2col and gathered paths, pointwise, padded), pooling of every kind, batch
// normalization, dropout, flatten.

dl::network! {
    /// The tutorial's MNIST CNN.
    struct MnistCnn {
        input: [28, 28, 1],
        Conv2D(32, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Conv2D(64, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Flatten,
        Dropout(0.5),
        Dense(10, softmax),
    }
}

dl::network! {
    struct ConvZoo {
        input: [9, 9, 3],
        Conv2D(4, (3, 3), tanh, padding = same),
        BatchNormalization(),
        MaxPooling2D((3, 3), strides = (2, 2), padding = same),
        Conv2D(5, (2, 2), elu, strides = (2, 2)),
        Dropout(0.25),
        AveragePooling2D((2, 2), strides = (1, 1), padding = same),
        Conv2D(6, (1, 1), relu),
        GlobalMaxPooling2D,
        Dense(5, tanh),
        BatchNormalization(momentum = 0.9, epsilon = 0.01),
        Dropout(0.0),
        Dense(3, softmax),
    }
}

dl::network! {
    struct GlobalAverage {
        input: [6, 7, 2],
        Conv2D(3, (2, 3), sigmoid),
        GlobalAveragePooling2D,
        Dense(4, linear),
    }
}

dl::network! {
    /// Branches: a tensor read by three layers (its gradients summed through the workspace's
    /// scratch, which counts per sample too), merges, a projection shortcut.
    struct Branching {
        input: [6, 6, 2],
        stem: Conv2D(3, (3, 3), tanh, padding = same),
        block: Residual([Conv2D(3, (3, 3), padding = same), Activation(elu)]),
        side: Conv2D(3, (1, 1))(stem),
        Concatenate(block, side, stem),
        GlobalAveragePooling2D,
        a: Dense(4, tanh),
        b: Dense(4, sigmoid)(global_average_pooling2d),
        Multiply(a, b),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Depthwise and separable convolutions: a separable one keeps its depthwise output and
    /// that output's gradient per sample.
    struct Separable {
        input: [9, 8, 3],
        DepthwiseConv2D((3, 3), strides = (2, 2), padding = same, depth_multiplier = 2, activation = relu),
        DepthwiseConv2D((2, 2), activation = tanh, use_bias = false),
        SeparableConv2D(5, (3, 3), padding = same, depth_multiplier = 2),
        SeparableConv2D(4, (2, 2), activation = sigmoid, use_bias = false),
        Flatten,
        Dense(3, softmax),
    }
}

dl::network! {
    /// The blocks of MobileNet and ResNet, whose normalizations share passes with the layers
    /// beside them (`dl-macros/src/fuse.rs`): a convolution shows its output to the
    /// normalization after it and takes its input gradient chunk by chunk, a depthwise
    /// convolution does both on each side, a convolution computes the normalized input it
    /// reads, and an `Add` normalizes the input it alone reads.
    struct FusedBlocks {
        input: [8, 8, 3],
        Conv2D(8, (3, 3), padding = same, use_bias = false),
        BatchNormalization(),
        Activation(relu),
        DepthwiseConv2D((3, 3), padding = same, use_bias = false),
        BatchNormalization(),
        Activation(relu),
        Conv2D(8, (1, 1), use_bias = false),
        normalized: BatchNormalization(),
        shortcut: Conv2D(8, (1, 1))(input),
        Add(normalized, shortcut),
        Activation(relu),
        DepthwiseConv2D((3, 3), strides = (2, 2), padding = same),
        BatchNormalization(),
        Activation(relu),
        GlobalAveragePooling2D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Conv1D (causal, dilated, without bias), the 1-D poolings and layer normalization, which
    /// keeps its normalized values and one inverse deviation per row.
    struct Conv1dNorm {
        input: [16, 3],
        Conv1D(6, 3, relu, padding = causal, dilation_rate = 2),
        LayerNormalization(),
        MaxPooling1D(2),
        Conv1D(5, 2, tanh, strides = 2, padding = same, use_bias = false),
        AveragePooling1D(2, padding = same),
        Flatten,
        Dense(4, sigmoid),
        LayerNormalization(center = false),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Reshape (which holds nothing of its own) and UpSampling2D.
    struct Decoder {
        input: [6],
        Dense(12, tanh),
        Reshape((2, 2, 3)),
        UpSampling2D(),
        Conv2D(4, (3, 3), relu, padding = same),
        UpSampling2D((1, 3)),
        Reshape((-1, 4)),
        Conv1D(3, 3, tanh, strides = 2),
        Flatten,
        Dense(3, softmax),
    }
}

#[test]
fn convolutional_networks() {
    // Batches past every convolution's im2col chunk, which stops growing there.
    check_features!(MnistCnn, 8);
    check_features!(ConvZoo, 512);
    check_features!(GlobalAverage, 512);
    check_features!(Branching, 64);
    check_features!(Separable, 64);
    check_features!(FusedBlocks, 64);
    check_features!(Conv1dNorm, 1024);
    check_features!(Decoder, 1024);
}

// ---------------------------------------------------------------------------------------------
// Recurrent layers, alone and bidirectional, with and without a mask, dense per time step and
// pooling over time.

dl::network! {
    /// The tutorial's text classifier.
    struct TextLstm {
        input: tokens[12],
        Embedding(2000, 8),
        LSTM(16),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Sequences {
        input: tokens[7],
        Embedding(3000, 5),
        GRU(6, return_sequences = true),
        Dense(5, tanh),
        LSTM(4, return_sequences = true),
        SimpleRNN(3, return_sequences = true),
        GlobalMaxPooling1D,
        Dense(3, softmax),
    }
}

dl::network! {
    struct Masked {
        input: tokens[7],
        Embedding(3000, 6, mask_zero = true),
        GRU(5, return_sequences = true),
        Dropout(0.2),
        Dense(4, relu),
        SimpleRNN(4, return_sequences = true),
        LSTM(5, return_sequences = true),
        GlobalAveragePooling1D,
        Dense(3, softmax),
    }
}

dl::network! {
    struct Bidirectionals {
        input: tokens[6],
        Embedding(3000, 5),
        Bidirectional(GRU(4, return_sequences = true)),
        Bidirectional(SimpleRNN(3, return_sequences = true)),
        Bidirectional(LSTM(4)),
        Dense(2, softmax),
    }
}

dl::network! {
    struct MaskedBidirectionals {
        input: tokens[6],
        Embedding(3000, 5, mask_zero = true),
        Bidirectional(LSTM(4, return_sequences = true)),
        Bidirectional(SimpleRNN(3, return_sequences = true)),
        Bidirectional(GRU(3, return_sequences = true)),
        GlobalAveragePooling1D,
        Dense(1, sigmoid),
    }
}

#[test]
fn recurrent_networks() {
    // Vocabularies above `4b` times the length: an embedding's list of touched rows is counted
    // for every token distinct, which a batch with more tokens than the vocabulary cannot be.
    check_tokens!(TextLstm, 12, 2000, 16);
    check_tokens!(Sequences, 7, 3000, 16);
    check_tokens!(Masked, 7, 3000, 16);
    check_tokens!(Bidirectionals, 6, 3000, 16);
    check_tokens!(MaskedBidirectionals, 6, 3000, 16);
}

/// The conditions are seen: the same layers hold more with a mask, and a pre-activation only
/// for activations other than relu and linear.
#[test]
fn conditions_change_the_figure() {
    dl::network! { struct Plain { input: tokens[6], Embedding(300, 5), LSTM(4), Dense(3, relu) } }
    dl::network! {
        struct WithMask { input: tokens[6], Embedding(300, 5, mask_zero = true), LSTM(4), Dense(3, tanh) }
    }
    // `saved` (two state gradients of 4 units) and the tanh layer's pre-activations.
    assert_eq!(
        WithMask::TRAINING_BYTES_PER_SAMPLE - Plain::TRAINING_BYTES_PER_SAMPLE,
        4 * (2 * 4 + 3)
    );
}

#[test]
fn summary_shows_the_figure() {
    let net = MnistCnn::new(&mut ChaCha8Rng::seed_from_u64(0));
    let text = net.summary().to_string();
    assert_eq!(
        net.summary().training_bytes_per_sample,
        MnistCnn::TRAINING_BYTES_PER_SAMPLE
    );
    assert!(text.contains("Training buffers per sample: "), "{text}");
}
