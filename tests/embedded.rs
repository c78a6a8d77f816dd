//! Networks embedded at compile time (`#[weights]`) compute what the runtime computes with the
//! same weight file loaded, for every layer kind, and their footprint constants are the real
//! sizes.

#[path = "common/embedded_nets.rs"]
mod embedded_nets;

use rand::{Rng, SeedableRng};

macro_rules! twins {
    ($train:ident, $embedded:ident, $file:tt, { $($body:tt)* }) => {
        dl::network! { pub struct $train { $($body)* } }
        dl::network! { #[weights($file)] pub struct $embedded { $($body)* } }
    };
}
with_embedded_nets!(twins);

fn path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/common")
        .join(file)
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + x.abs().max(y.abs())))
}

trait Input: Sized {
    fn random(rng: &mut impl Rng) -> Self;
}

impl<const N: usize> Input for [f32; N] {
    fn random(rng: &mut impl Rng) -> Self {
        core::array::from_fn(|_| rng.random_range(-2.0..2.0))
    }
}

/// Outputs of both twins on 20 random inputs agree within 1e-5 relative.
macro_rules! agree {
    ($train:ident, $embedded:ident, $file:tt, features) => {{
        let mut train = $train::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(9));
        train.load(path($file)).unwrap();
        static NET: $embedded = $embedded::EMBEDDED;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..20 {
            let x = Input::random(&mut rng);
            let want = train.forward(&dl::prelude::SVector::from(x));
            let got = NET.forward(&x);
            assert!(
                close(want.as_slice(), &got),
                "{}: {want:?} vs {got:?}",
                stringify!($embedded)
            );
        }
    }};
    ($train:ident, $embedded:ident, $file:tt, tokens $vocabulary:literal) => {{
        let mut train = $train::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(9));
        train.load(path($file)).unwrap();
        static NET: $embedded = $embedded::EMBEDDED;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..20 {
            let ids = core::array::from_fn(|_| rng.random_range(0..$vocabulary));
            let want = train.forward(&dl::Tokens::new(ids).unwrap());
            let got = NET.forward(&ids).unwrap();
            assert!(
                close(want.as_slice(), &got),
                "{}: {want:?} vs {got:?}",
                stringify!($embedded)
            );
        }
    }};
}

#[test]
fn dense_networks_agree_with_the_runtime() {
    agree!(Mlp, MlpEmbedded, "../fixtures/embedded/mlp.safetensors", features);
    agree!(
        Activations,
        ActivationsEmbedded,
        "../fixtures/embedded/activations.safetensors",
        features
    );
}

#[test]
fn conv_networks_agree_with_the_runtime() {
    agree!(Cnn, CnnEmbedded, "../fixtures/embedded/cnn.safetensors", features);
    agree!(
        GlobalCnn,
        GlobalCnnEmbedded,
        "../fixtures/embedded/global_cnn.safetensors",
        features
    );
    agree!(
        AvgCnn,
        AvgCnnEmbedded,
        "../fixtures/embedded/avg_cnn.safetensors",
        features
    );
    agree!(
        Normalized,
        NormalizedEmbedded,
        "../fixtures/embedded/normalized.safetensors",
        features
    );
    // BatchNormalization without beta (folded into the Conv2D before it), without gamma, and
    // without either.
    agree!(
        NormCenterScale,
        NormCenterScaleEmbedded,
        "../fixtures/embedded/batch_norm_center_scale.safetensors",
        features
    );
}

#[test]
fn text_networks_agree_with_the_runtime() {
    agree!(Text, TextEmbedded, "../fixtures/embedded/text.safetensors", tokens 40);
    agree!(TextLast, TextLastEmbedded, "../fixtures/embedded/text_last.safetensors", tokens 30);
    agree!(Recurrent, RecurrentEmbedded, "../fixtures/embedded/recurrent.safetensors", tokens 20);
    agree!(GruLast, GruLastEmbedded, "../fixtures/embedded/gru_last.safetensors", tokens 25);
    agree!(BiText, BiTextEmbedded, "../fixtures/embedded/bidirectional.safetensors", tokens 25);
    // LSTM, GRU (in a Bidirectional) and SimpleRNN with `use_bias = false`.
    agree!(
        RecurrentNoBias,
        RecurrentNoBiasEmbedded,
        "../fixtures/embedded/recurrent_no_bias.safetensors",
        tokens 20
    );
}

#[test]
fn activation_layers_agree_with_the_runtime() {
    // Softmax over each pixel's channels, elu on an image, gelu and a softmax head on features.
    agree!(
        ActivationLayers,
        ActivationLayersEmbedded,
        "../fixtures/embedded/activation_layers.safetensors",
        features
    );
}

#[test]
fn hard_activations_agree_with_the_runtime() {
    // relu6, hard_sigmoid and hard_silu after a convolution, as a layer and after Dense; zero
    // padding between convolutions; a ReLU layer with its three arguments.
    agree!(
        HardActivations,
        HardActivationsEmbedded,
        "../fixtures/embedded/hard_activations.safetensors",
        features
    );
}

#[test]
fn conv1d_networks_agree_with_the_runtime() {
    // Causal, same and valid Conv1D with dilation and strides, softmax over each step's
    // channels, no bias; the 1-D poolings; Conv1D on an Embedding's sequence.
    agree!(
        Conv1d,
        Conv1dEmbedded,
        "../fixtures/embedded/conv1d.safetensors",
        features
    );
    agree!(TextConv, TextConvEmbedded, "../fixtures/embedded/text_conv.safetensors", tokens 20);
}

#[test]
fn layer_normalization_agrees_with_the_runtime() {
    // Per pixel, per pixel without beta, per vector without gamma.
    agree!(
        LayerNorm,
        LayerNormEmbedded,
        "../fixtures/embedded/layer_norm.safetensors",
        features
    );
}

#[test]
fn reshape_and_upsampling_agree_with_the_runtime() {
    // A decoder's start: a vector reshaped into an image, upsampled twice, reshaped into a
    // sequence and back into a vector.
    agree!(
        Decoder,
        DecoderEmbedded,
        "../fixtures/embedded/decoder.safetensors",
        features
    );
}

#[test]
fn preprocessing_layers_agree_with_the_runtime() {
    // Rescaling, then Normalization of the input and of a hidden layer with the file's statistics.
    agree!(
        Preprocessed,
        PreprocessedEmbedded,
        "../fixtures/embedded/preprocessed.safetensors",
        features
    );
}

#[test]
fn branching_networks_agree_with_the_runtime() {
    agree!(
        ResidualIdentity,
        ResidualIdentityEmbedded,
        "../fixtures/embedded/residual_identity.safetensors",
        features
    );
    agree!(
        ResidualProjection,
        ResidualProjectionEmbedded,
        "../fixtures/embedded/residual_projection.safetensors",
        features
    );
    agree!(
        Branches,
        BranchesEmbedded,
        "../fixtures/embedded/branches.safetensors",
        features
    );
    agree!(
        LongSkip,
        LongSkipEmbedded,
        "../fixtures/embedded/long_skip.safetensors",
        features
    );
    agree!(
        FlatInput,
        FlatInputEmbedded,
        "../fixtures/embedded/flat_input.safetensors",
        features
    );
    agree!(
        TextBranches,
        TextBranchesEmbedded,
        "../fixtures/embedded/text_branches.safetensors",
        tokens 20
    );
    agree!(
        Separable,
        SeparableEmbedded,
        "../fixtures/embedded/separable.safetensors",
        features
    );
    agree!(
        SeparableBranches,
        SeparableBranchesEmbedded,
        "../fixtures/embedded/separable_branches.safetensors",
        features
    );
}

/// Padding (id 0) at the start, the end, in between, and everywhere: the embedded network
/// carries state over padded steps and averages over the others, as the runtime (and Keras) do.
macro_rules! agree_masked {
    ($train:ident, $embedded:ident, $file:tt, $vocabulary:literal) => {{
        let mut train = $train::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(9));
        train.load(path($file)).unwrap();
        static NET: $embedded = $embedded::EMBEDDED;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        for sample in 0..30 {
            let mut ids = core::array::from_fn(|_| rng.random_range(1..$vocabulary));
            match sample % 4 {
                0 => ids[..3].fill(0),
                1 => {
                    let n = ids.len();
                    ids[n - 4..].fill(0)
                }
                2 => ids.iter_mut().for_each(|id| {
                    if rng.random_bool(0.4) {
                        *id = 0
                    }
                }),
                _ if sample == 3 => ids.fill(0),
                _ => {}
            }
            let want = train.forward(&dl::Tokens::new(ids).unwrap());
            let got = NET.forward(&ids).unwrap();
            assert!(
                close(want.as_slice(), &got),
                "{} on {ids:?}: {want:?} vs {got:?}",
                stringify!($embedded)
            );
        }
    }};
}

#[test]
fn masked_networks_agree_with_the_runtime() {
    agree_masked!(
        Masked,
        MaskedEmbedded,
        "../fixtures/embedded/masked.safetensors",
        30
    );
    agree_masked!(
        MaskedLast,
        MaskedLastEmbedded,
        "../fixtures/embedded/masked_last.safetensors",
        20
    );
    agree_masked!(
        BiMasked,
        BiMaskedEmbedded,
        "../fixtures/embedded/bidirectional_masked.safetensors",
        30
    );
}

#[test]
fn token_ids_outside_the_vocabulary_are_an_error_with_the_position() {
    let mut ids = [1u32; 12];
    ids[7] = 40;
    let err = TextEmbedded::EMBEDDED.forward(&ids).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token id 40 at position 7 is outside the vocabulary of 40 (valid ids are 0..40)"
    );
}

#[test]
fn footprint_constants_are_the_real_sizes() {
    assert_eq!(MlpEmbedded::PARAM_BYTES, core::mem::size_of::<MlpEmbedded>());
    // Each Dense struct is padded to whole 64-byte lines: 704 and 4,160 floats fill theirs,
    // `Dense(1)`'s 65 floats take 80.
    assert_eq!(MlpEmbedded::PARAM_BYTES, 4 * (Mlp::PARAMS + 15));
    assert_eq!(
        MlpEmbedded::ACTIVATION_BYTES,
        core::mem::size_of::<MlpEmbeddedScratch>()
    );
    // One arena by liveness: the two 64-unit outputs are alive at once at the second layer;
    // the 1-unit output takes the first one's place.
    assert_eq!(MlpEmbedded::ACTIVATION_BYTES, 4 * (64 + 64));
    assert_eq!(CnnEmbedded::PARAM_BYTES, core::mem::size_of::<CnnEmbedded>());
    assert_eq!(
        CnnEmbedded::ACTIVATION_BYTES,
        core::mem::size_of::<CnnEmbeddedScratch>()
    );
    assert_eq!(TextEmbedded::PARAM_BYTES, core::mem::size_of::<TextEmbedded>());
    assert_eq!(
        TextEmbedded::ACTIVATION_BYTES,
        core::mem::size_of::<TextEmbeddedScratch>()
    );
    assert_eq!(
        BiMaskedEmbedded::PARAM_BYTES,
        core::mem::size_of::<BiMaskedEmbedded>()
    );
    // `Dense(3)`'s 27 floats take a whole line (32), and the struct, aligned by it, ends on
    // one: 4 more after the other layers' 556.
    assert_eq!(BiMaskedEmbedded::PARAM_BYTES, 4 * (BiMasked::PARAMS + 5 + 4));
    assert_eq!(
        BiMaskedEmbedded::ACTIVATION_BYTES,
        core::mem::size_of::<BiMaskedEmbeddedScratch>()
    );
    // The trainable twin reports the same figures for the same declaration.
    assert_eq!(Cnn::PARAM_BYTES, CnnEmbedded::PARAM_BYTES);
    assert_eq!(Text::ACTIVATION_BYTES, TextEmbedded::ACTIVATION_BYTES);
}

/// A branching network's scratch is one arena laid out by liveness: its size is
/// `ACTIVATION_BYTES`, which is the peak of the tensors alive at once (worked out by hand here;
/// padded to a whole number of 64-byte lines), not a buffer per layer.
#[test]
fn branching_footprints_are_the_peak_of_live_tensors_and_the_real_sizes() {
    macro_rules! check {
        ($train:ident, $embedded:ident, $scratch:ident, $peak_floats:expr) => {
            assert_eq!(
                $embedded::ACTIVATION_BYTES,
                core::mem::size_of::<$scratch>(),
                stringify!($embedded)
            );
            // The scratch struct starts on a 64-byte line and ends on one.
            assert_eq!(
                $embedded::ACTIVATION_BYTES,
                (4 * $peak_floats as usize).next_multiple_of(64),
                stringify!($embedded)
            );
            // Folded layers (a BatchNormalization or Activation after a convolution) write
            // nothing in the embedded network, so its arena can only be smaller.
            assert!($train::ACTIVATION_BYTES >= $embedded::ACTIVATION_BYTES);
            assert_eq!($embedded::PARAM_BYTES, core::mem::size_of::<$embedded>());
            // The parameters, and the padding of each aligned struct to its cache line.
            assert!($embedded::PARAM_BYTES >= 4 * $embedded::PARAMS);
            assert!($embedded::PARAM_BYTES < 4 * $embedded::PARAMS + 64 * 16);
        };
    }
    // At `Add`: `start`, `branch` and the sum, 6×6×4 each.
    check!(
        ResidualIdentity,
        ResidualIdentityEmbedded,
        ResidualIdentityEmbeddedScratch,
        3 * 144
    );
    // Every BatchNormalization and Activation after a convolution is folded into it, so `stem`
    // is the first convolution's output (8×8×4), alive with two 4×4×6 tensors at the second
    // and third convolutions and at the shortcut; Flatten and Dropout take nothing. The
    // trainable forward keeps the first BatchNormalization's input and output, 8×8×4 each.
    check!(
        ResidualProjection,
        ResidualProjectionEmbedded,
        ResidualProjectionEmbeddedScratch,
        256 + 2 * 96
    );
    assert_eq!(ResidualProjection::ACTIVATION_BYTES, 4 * 2 * 256);
    // At the first Concatenate: `left` (4×4×2), `right` (4×4×3) and their join.
    check!(Branches, BranchesEmbedded, BranchesEmbeddedScratch, 2 * (32 + 48));
    // At `Maximum`: `early`, `sum`, `difference`, `product`, `mean` and its output, 6 each; and
    // at the last Concatenate: `early`, `high`, `low` and their join of 18.
    check!(LongSkip, LongSkipEmbedded, LongSkipEmbeddedScratch, 6 * 6);
    // Both branches read the input through `Flatten`, which takes nothing: `a`, `b`, the sum.
    check!(FlatInput, FlatInputEmbedded, FlatInputEmbeddedScratch, 3 * 4);
    // At the Concatenate: `left` (6×6×3), `right` (6×6×4) and their join; the separable
    // convolution's depthwise scratch (6×6×2) lives only during its own step, with `left`.
    check!(
        SeparableBranches,
        SeparableBranchesEmbedded,
        SeparableBranchesEmbeddedScratch,
        2 * (108 + 144)
    );
    // At the GRU: the embedding (7×4), the LSTM's sequence (7×3), the GRU's (7×5) and its
    // state and gates (7 × 5).
    check!(
        TextBranches,
        TextBranchesEmbedded,
        TextBranchesEmbeddedScratch,
        28 + 21 + 35 + 35
    );
}

/// Reused scratch holds the previous sample's tensors, in places other tensors now take: a
/// forward in it computes what a forward in fresh scratch does.
#[test]
fn a_branching_network_s_reused_scratch_gives_what_fresh_scratch_does() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut scratch = ResidualProjectionEmbeddedScratch::ZERO;
    let mut long = LongSkipEmbeddedScratch::ZERO;
    for _ in 0..5 {
        let x: [f32; 192] = Input::random(&mut rng);
        let a = ResidualProjectionEmbedded::EMBEDDED.forward_in(&x, &mut scratch);
        assert_eq!(a, ResidualProjectionEmbedded::EMBEDDED.forward(&x));
        let x: [f32; 5] = Input::random(&mut rng);
        let a = LongSkipEmbedded::EMBEDDED.forward_in(&x, &mut long);
        assert_eq!(a, LongSkipEmbedded::EMBEDDED.forward(&x));
    }
}

#[test]
fn scratch_can_live_in_a_static_and_forward_in_reuses_it() {
    let mut scratch = CnnEmbeddedScratch::ZERO;
    let x = [0.5f32; 220];
    let a = CnnEmbedded::EMBEDDED.forward_in(&x, &mut scratch);
    let b = CnnEmbedded::EMBEDDED.forward(&x);
    assert_eq!(a, b);
}

/// Every embedded network's `PARAM_BYTES` is the size of what it holds, whatever its layers
/// (also where a layer stores a tensor its trainable twin lacks, such as a
/// `BatchNormalization(center = false)`'s beta of zeros, which the embedded kernel reads).
#[test]
fn every_embedded_network_holds_param_bytes() {
    macro_rules! holds {
        ($train:ident, $embedded:ident, $file:tt, { $($body:tt)* }) => {
            assert_eq!(
                $embedded::PARAM_BYTES,
                core::mem::size_of::<$embedded>(),
                stringify!($embedded)
            );
            assert_eq!(
                $train::PARAM_BYTES,
                $embedded::PARAM_BYTES,
                stringify!($train)
            );
        };
    }
    with_embedded_nets!(holds);
}
