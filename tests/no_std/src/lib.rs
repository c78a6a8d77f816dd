//! Every layer kind's inference, and branching networks (residual blocks, `Concatenate`, a long
//! skip), in a `#![no_std]` crate that depends on `dl` without its `std`
//! feature, so without an allocator: the networks of `tests/common/embedded_nets.rs` and the four
//! MLPerf Tiny reference models of `tests/common/mlperf_tiny_nets.rs`, embedded from their
//! committed weight files.
#![no_std]

#[path = "../../common/embedded_nets.rs"]
mod embedded_nets;
#[path = "../../common/mlperf_tiny_nets.rs"]
mod mlperf_tiny_nets;

macro_rules! embedded {
    ($train:ident, $embedded:ident, $file:tt, { $($body:tt)* }) => {
        dl::network! { #[weights($file)] pub struct $embedded { $($body)* } }
    };
}
with_embedded_nets!(embedded);
with_mlperf_tiny_nets!(embedded, 0.2, 0.4);

/// The tutorial MLP.
pub static MLP: MlpEmbedded = MlpEmbedded::EMBEDDED;
/// Dense layers with every activation, and Dropout.
pub static ACTIVATIONS: ActivationsEmbedded = ActivationsEmbedded::EMBEDDED;
/// Conv2D (same padding, strides), MaxPooling2D, AveragePooling2D, Flatten.
pub static CNN: CnnEmbedded = CnnEmbedded::EMBEDDED;
/// GlobalMaxPooling2D.
pub static GLOBAL_CNN: GlobalCnnEmbedded = GlobalCnnEmbedded::EMBEDDED;
/// GlobalAveragePooling2D.
pub static AVG_CNN: AvgCnnEmbedded = AvgCnnEmbedded::EMBEDDED;
/// BatchNormalization after a convolution and after a Dense layer.
pub static NORMALIZED: NormalizedEmbedded = NormalizedEmbedded::EMBEDDED;
/// Embedding, LSTM, GRU, SimpleRNN with sequences, GlobalMaxPooling1D.
pub static TEXT: TextEmbedded = TextEmbedded::EMBEDDED;
/// Dense per time step, GlobalAveragePooling1D.
pub static TEXT_LAST: TextLastEmbedded = TextLastEmbedded::EMBEDDED;
/// LSTM without sequences after a SimpleRNN.
pub static RECURRENT: RecurrentEmbedded = RecurrentEmbedded::EMBEDDED;
/// `mask_zero`: padding carried through LSTM, SimpleRNN and GRU, a masked average.
pub static MASKED: MaskedEmbedded = MaskedEmbedded::EMBEDDED;
/// `mask_zero` into a GRU without sequences.
pub static MASKED_LAST: MaskedLastEmbedded = MaskedLastEmbedded::EMBEDDED;
/// GRU without sequences.
pub static GRU_LAST: GruLastEmbedded = GruLastEmbedded::EMBEDDED;
/// `Bidirectional` LSTM with sequences, then GRU without.
pub static BI_TEXT: BiTextEmbedded = BiTextEmbedded::EMBEDDED;
/// `mask_zero` through `Bidirectional` SimpleRNN and LSTM with sequences, a masked average.
pub static BI_MASKED: BiMaskedEmbedded = BiMaskedEmbedded::EMBEDDED;
/// `Activation` layers: softmax over each pixel's channels, elu, gelu, a softmax head.
pub static ACTIVATION_LAYERS: ActivationLayersEmbedded = ActivationLayersEmbedded::EMBEDDED;
/// A residual block with an identity shortcut, BatchNormalization and `Activation` layers.
pub static RESIDUAL_IDENTITY: ResidualIdentityEmbedded = ResidualIdentityEmbedded::EMBEDDED;
/// ResNet's downsampling block: a strided main path and a strided 1×1 projection shortcut.
pub static RESIDUAL_PROJECTION: ResidualProjectionEmbedded = ResidualProjectionEmbedded::EMBEDDED;
/// `Concatenate` of two convolutions' channels, and of two Dense branches of one `Flatten`.
pub static BRANCHES: BranchesEmbedded = BranchesEmbedded::EMBEDDED;
/// A long skip, and every element-wise merge.
pub static LONG_SKIP: LongSkipEmbedded = LongSkipEmbedded::EMBEDDED;
/// An LSTM and a GRU reading one embedding, their sequences joined.
pub static TEXT_BRANCHES: TextBranchesEmbedded = TextBranchesEmbedded::EMBEDDED;
/// Two branches reading the input through one `Flatten`.
pub static FLAT_INPUT: FlatInputEmbedded = FlatInputEmbedded::EMBEDDED;
/// DepthwiseConv2D (depth multiplier, strides, same padding, no bias, softmax per pixel) and
/// SeparableConv2D.
pub static SEPARABLE: SeparableEmbedded = SeparableEmbedded::EMBEDDED;
/// A separable and a depthwise convolution reading one input, their channels joined.
pub static SEPARABLE_BRANCHES: SeparableBranchesEmbedded = SeparableBranchesEmbedded::EMBEDDED;
/// Conv1D (causal, same, valid; dilation, strides, no bias, softmax per step), MaxPooling1D,
/// AveragePooling1D, GlobalMaxPooling1D.
pub static CONV1D: Conv1dEmbedded = Conv1dEmbedded::EMBEDDED;
/// Conv1D over an Embedding's sequence.
pub static TEXT_CONV: TextConvEmbedded = TextConvEmbedded::EMBEDDED;
/// LayerNormalization with and without gamma and beta.
pub static LAYER_NORM: LayerNormEmbedded = LayerNormEmbedded::EMBEDDED;
/// Reshape (to an image, a sequence and a vector) and UpSampling2D.
pub static DECODER: DecoderEmbedded = DecoderEmbedded::EMBEDDED;
/// Rescaling, and Normalization of the input and of a hidden layer.
pub static PREPROCESSED: PreprocessedEmbedded = PreprocessedEmbedded::EMBEDDED;

/// Runs every network once and returns the sum of all outputs (each a probability vector or
/// probability), or `None` if a token id is rejected.
pub fn run_all() -> Option<f32> {
    let mut total = 0.0;
    total += MLP.forward(&[0.5; 10]).iter().sum::<f32>();
    total += ACTIVATIONS.forward(&[0.5; 6]).iter().sum::<f32>();
    total += CNN.forward(&[0.5; 220]).iter().sum::<f32>();
    total += GLOBAL_CNN.forward(&[0.5; 243]).iter().sum::<f32>();
    total += AVG_CNN.forward(&[0.5; 64]).iter().sum::<f32>();
    total += NORMALIZED.forward(&[0.5; 98]).iter().sum::<f32>();
    total += TEXT.forward(&[3; 12]).ok()?.iter().sum::<f32>();
    total += TEXT_LAST.forward(&[3; 9]).ok()?.iter().sum::<f32>();
    total += RECURRENT.forward(&[3; 7]).ok()?.iter().sum::<f32>();
    total += GRU_LAST.forward(&[3; 6]).ok()?.iter().sum::<f32>();
    total += MASKED
        .forward(&[0, 0, 4, 5, 0, 6, 7, 8, 0, 0])
        .ok()?
        .iter()
        .sum::<f32>();
    total += MASKED_LAST
        .forward(&[1, 2, 3, 0, 0, 0, 0, 0])
        .ok()?
        .iter()
        .sum::<f32>();
    total += BI_TEXT.forward(&[3; 9]).ok()?.iter().sum::<f32>();
    total += BI_MASKED
        .forward(&[0, 4, 5, 0, 6, 7, 8, 0, 0, 0])
        .ok()?
        .iter()
        .sum::<f32>();
    total += ACTIVATION_LAYERS.forward(&[0.5; 50]).iter().sum::<f32>();
    // The residual networks in scratch of their own (as a `static mut` or a buffer on a device
    // would be), the others on the stack.
    let mut scratch = ResidualProjectionEmbeddedScratch::ZERO;
    total += RESIDUAL_PROJECTION
        .forward_in(&[0.5; 192], &mut scratch)
        .iter()
        .sum::<f32>();
    total += RESIDUAL_IDENTITY.forward(&[0.5; 72]).iter().sum::<f32>();
    total += BRANCHES.forward(&[0.5; 72]).iter().sum::<f32>();
    total += LONG_SKIP.forward(&[0.5; 5]).iter().sum::<f32>();
    total += TEXT_BRANCHES.forward(&[3; 7]).ok()?.iter().sum::<f32>();
    total += FLAT_INPUT.forward(&[0.5; 12]).iter().sum::<f32>();
    total += SEPARABLE.forward(&[0.5; 270]).iter().sum::<f32>();
    total += SEPARABLE_BRANCHES.forward(&[0.5; 72]).iter().sum::<f32>();
    total += CONV1D.forward(&[0.5; 36]).iter().sum::<f32>();
    total += TEXT_CONV.forward(&[3; 9]).ok()?.iter().sum::<f32>();
    total += LAYER_NORM.forward(&[0.5; 50]).iter().sum::<f32>();
    total += DECODER.forward(&[0.5; 6]).iter().sum::<f32>();
    total += PREPROCESSED.forward(&[0.5; 4]).iter().sum::<f32>();
    Some(total)
}

/// MLPerf Tiny's keyword spotter (DS-CNN).
pub static DS_CNN: DsCnnEmbedded = DsCnnEmbedded::EMBEDDED;
/// MLPerf Tiny's visual wake words model (MobileNetV1, α = 0.25).
pub static MOBILENET_V1: MobileNetV1Embedded = MobileNetV1Embedded::EMBEDDED;
/// MLPerf Tiny's image classifier (ResNet-8).
pub static RESNET8: ResNet8Embedded = ResNet8Embedded::EMBEDDED;
/// MLPerf Tiny's anomaly detector (the dense autoencoder).
pub static AUTOENCODER: AutoEncoderEmbedded = AutoEncoderEmbedded::EMBEDDED;

/// Runs the four MLPerf Tiny models once, each in scratch of its own: the sum of the three
/// classifiers' probabilities (3 when all is well) and whether every reconstruction of the
/// autoencoder is finite.
pub fn run_mlperf_tiny() -> (f32, bool) {
    let mut total = 0.0;
    let mut scratch = DsCnnEmbeddedScratch::ZERO;
    total += DS_CNN.forward_in(&[0.5; 490], &mut scratch).iter().sum::<f32>();
    let mut scratch = MobileNetV1EmbeddedScratch::ZERO;
    total += MOBILENET_V1
        .forward_in(&[0.5; 27648], &mut scratch)
        .iter()
        .sum::<f32>();
    let mut scratch = ResNet8EmbeddedScratch::ZERO;
    total += RESNET8.forward_in(&[0.5; 3072], &mut scratch).iter().sum::<f32>();
    let mut scratch = AutoEncoderEmbeddedScratch::ZERO;
    let reconstruction = AUTOENCODER.forward_in(&[0.5; 640], &mut scratch);
    (total, reconstruction.iter().all(|v| v.is_finite()))
}

/// The entry, panic handler and console of a program with neither `std` nor an allocator, whose
/// `main` returns `$main()`: the C library provides the process entry and `write`, nothing of
/// Rust's `std`. For the examples, built with `-C panic=abort`.
#[macro_export]
macro_rules! bare_program {
    ($main:expr) => {
        #[link(name = "c")]
        unsafe extern "C" {
            fn write(fd: i32, buf: *const u8, count: usize) -> isize;
        }

        /// Writes `s` to standard output.
        #[allow(dead_code)]
        fn say(s: &str) {
            // SAFETY: `s` is a valid buffer of `s.len()` bytes for the duration of the call.
            unsafe { write(1, s.as_ptr(), s.len()) };
        }

        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo) -> ! {
            say("panic\n");
            loop {}
        }

        /// The precompiled `core` is built for unwinding and names this symbol; with
        /// `panic=abort` nothing calls it.
        #[unsafe(no_mangle)]
        extern "C" fn rust_eh_personality() {}

        #[unsafe(no_mangle)]
        extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
            let run: fn() -> i32 = $main;
            run()
        }
    };
}
