//! Properties that must hold for every layer kind, checked over a zoo of small networks that
//! together use each kind (a test below checks that none is missing):
//!
//! - sharded training (`Parallel`) equals unsharded training up to float rounding, for several
//!   shard counts including more shards than samples, over several epochs (so that state left
//!   behind by one step, such as an `Embedding`'s gradient rows, would show in the next);
//! - training resumed from a checkpoint equals uninterrupted training bit for bit, including the
//!   dropout masks.
//!
//! `BatchNormalization` networks are not sharded: more than one shard is refused before any step,
//! and one shard is the plain step.

use std::path::PathBuf;

use dl::Sample;
use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct Pools {
        input: [9, 9, 2],
        Conv2D(3, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Conv2D(4, (2, 2), tanh),
        AveragePooling2D((2, 2)),
        Flatten,
        Dense(3, softmax),
    }
}

dl::network! {
    struct GlobalMax {
        input: [6, 6, 1],
        Conv2D(4, (3, 3), sigmoid),
        GlobalMaxPooling2D,
        Dropout(0.25),
        Dense(3, softmax),
    }
}

dl::network! {
    struct GlobalAverage {
        input: [6, 6, 1],
        Conv2D(4, (3, 3), elu, padding = same),
        GlobalAveragePooling2D,
        Dense(3, softmax),
    }
}

dl::network! {
    struct DropoutMlp {
        input: [10],
        Dense(12, tanh),
        Dropout(0.3),
        Dense(8, relu),
        Dropout(0.5, seed = 9),
        Dense(3, softmax),
    }
}

dl::network! {
    struct EmbeddingLstm {
        input: tokens[5],
        Embedding(30, 4),
        LSTM(5),
        Dense(3, softmax),
    }
}

dl::network! {
    struct MaskedGru {
        input: tokens[5],
        Embedding(30, 4, mask_zero = true),
        GRU(4, return_sequences = true),
        GlobalAveragePooling1D,
        Dense(3, softmax),
    }
}

dl::network! {
    struct RnnMaxPool {
        input: tokens[5],
        Embedding(30, 3),
        SimpleRNN(4, return_sequences = true),
        GlobalMaxPooling1D,
        Dense(3, softmax),
    }
}

dl::network! {
    struct MaskedBidirectional {
        input: tokens[5],
        Embedding(30, 4, mask_zero = true),
        Bidirectional(GRU(3, return_sequences = true)),
        Bidirectional(LSTM(3)),
        Dropout(0.2),
        Dense(3, softmax),
    }
}

dl::network! {
    struct BidirectionalRnn {
        input: tokens[5],
        Embedding(30, 3),
        Bidirectional(SimpleRNN(3)),
        Dense(3, softmax),
    }
}

dl::network! {
    struct Normalized {
        input: [6, 6, 1],
        Conv2D(3, (3, 3), hard_swish, use_bias = false),
        BatchNormalization(momentum = 0.5),
        ReLU(max_value = 1.0, negative_slope = 0.1, threshold = 0.2),
        ZeroPadding2D(((0, 1), (1, 0))),
        Flatten,
        Dropout(0.2),
        Dense(3, softmax),
    }
}

dl::network! {
    /// A network that branches: every merge, an `Activation` layer, a tensor read by several
    /// layers, a residual with a projection shortcut, and Dropout inside a branch.
    struct Branching {
        input: [6, 6, 1],
        stem: Conv2D(3, (3, 3), tanh, padding = same),
        Conv2D(3, (3, 3), strides = (2, 2), padding = same),
        main: Activation(elu),
        shortcut: Conv2D(3, (1, 1), strides = (2, 2))(stem),
        sum: Add(main, shortcut),
        wide: Concatenate(sum, main),
        GlobalAveragePooling2D,
        pooled: Dropout(0.25),
        a: Dense(4, tanh),
        b: Dense(4, sigmoid)(pooled),
        difference: Subtract(a, b),
        product: Multiply(a, b),
        high: Maximum(difference, product, a),
        low: Minimum(difference, product),
        Average(high, low, b),
        Dense(3, softmax),
    }
}

dl::network! {
    /// MobileNet's and DS-CNN's building blocks: depthwise (with a depth multiplier, strides and
    /// `same` padding, and without a bias) and separable convolutions.
    struct Separable {
        input: [7, 7, 2],
        DepthwiseConv2D((3, 3), strides = (2, 2), padding = same, depth_multiplier = 2, activation = relu),
        DepthwiseConv2D((2, 2), activation = tanh, use_bias = false),
        SeparableConv2D(3, (2, 2), padding = same, depth_multiplier = 2, activation = elu),
        SeparableConv2D(3, (1, 1), use_bias = false),
        GlobalAveragePooling2D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Conv1D (causal with dilation, same without bias) and the 1-D poolings on a sequence.
    struct Sequences {
        input: [8, 3],
        Conv1D(4, 3, relu, padding = causal, dilation_rate = 2),
        MaxPooling1D(2),
        Conv1D(4, 2, tanh, padding = same, use_bias = false),
        AveragePooling1D(2),
        GlobalMaxPooling1D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Layer normalization of a sequence's steps (without beta) and of a vector (without gamma).
    struct Normalizations {
        input: [6, 2],
        Conv1D(4, 2, tanh, padding = same),
        LayerNormalization(center = false),
        Flatten,
        Dense(5, relu),
        LayerNormalization(scale = false, epsilon = 0.01),
        Dense(3, softmax),
    }
}

dl::network! {
    /// A decoder's start: Reshape of a vector into an image, UpSampling2D, Reshape into a
    /// sequence.
    struct Decoder {
        input: [6],
        Dense(8, tanh),
        Reshape((2, 2, 2)),
        UpSampling2D(),
        Conv2D(3, (2, 2), relu),
        UpSampling2D((1, 2)),
        Reshape((-1, 3)),
        GlobalAveragePooling1D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Keras's preprocessing layers: Rescaling, and Normalization of the input and of a hidden
    /// layer.
    struct Preprocessed {
        input: [5],
        Rescaling(0.5, offset = 1.0),
        Normalization(),
        Dense(6, tanh),
        Normalization(),
        Dense(3, softmax),
    }
}

/// Every layer kind `network!` accepts (its error message for an unknown layer lists them).
const ALL_KINDS: &[&str] = &[
    "Dense",
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "Conv1D",
    "MaxPooling1D",
    "AveragePooling1D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalMaxPooling2D",
    "GlobalAveragePooling2D",
    "Flatten",
    "ZeroPadding2D",
    "Dropout",
    "BatchNormalization",
    "Embedding",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "Bidirectional",
    "GlobalMaxPooling1D",
    "GlobalAveragePooling1D",
    "Activation",
    "ReLU",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "LayerNormalization",
    "Normalization",
    "Rescaling",
];

/// A random sample of an input type.
trait Random: Sample + Sized {
    fn random(rng: &mut ChaCha8Rng) -> Self;
}

impl<const N: usize> Random for SVector<f32, N> {
    fn random(rng: &mut ChaCha8Rng) -> Self {
        SVector::from_fn(|_, _| rng.random_range(-1.0..1.0))
    }
}

impl<const L: usize, const V: usize> Random for Tokens<L, V> {
    /// A random length, then padding (id 0), as `mask_zero` expects; unmasked networks see id 0
    /// as an ordinary token. Ids are spread over the vocabulary so that batches touch different
    /// embedding rows.
    fn random(rng: &mut ChaCha8Rng) -> Self {
        let len = rng.random_range(1..=L);
        Tokens::new(std::array::from_fn(|t| {
            if t < len { rng.random_range(1..V as u32) } else { 0 }
        }))
        .unwrap()
    }
}

/// A network of the zoo, built from a seed.
trait Zoo: Model<Input: Random> + Send + Sync {
    fn seeded(seed: u64) -> Self;
}
macro_rules! zoo {
    ($($t:ty),*) => {$(
        impl Zoo for $t {
            fn seeded(seed: u64) -> Self {
                <$t>::new(&mut ChaCha8Rng::seed_from_u64(seed))
            }
        }
    )*};
}
zoo!(
    Pools,
    GlobalMax,
    GlobalAverage,
    DropoutMlp,
    EmbeddingLstm,
    MaskedGru,
    RnnMaxPool,
    MaskedBidirectional,
    BidirectionalRnn,
    Normalized,
    Branching,
    Separable,
    Sequences,
    Normalizations,
    Decoder
);

/// Adapted on other data than it trains on, so that its statistics are not the batches'.
impl Zoo for Preprocessed {
    fn seeded(seed: u64) -> Self {
        let mut net = Preprocessed::new(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 100);
        let x: Vec<SVector<f32, 5>> = (0..30).map(|_| Random::random(&mut rng)).collect();
        net.adapt(&x).unwrap();
        net
    }
}

/// Runs `check::<M>()` for every network of the zoo, then fails naming every network that
/// failed (each failure's message is printed as it happens).
macro_rules! for_every_network {
    ($check:ident) => {{
        let mut failed: Vec<&str> = Vec::new();
        let mut run = |name: &'static str, check: fn()| {
            if std::panic::catch_unwind(check).is_err() {
                failed.push(name);
            }
        };
        run(Pools::NAME, $check::<Pools>);
        run(GlobalMax::NAME, $check::<GlobalMax>);
        run(GlobalAverage::NAME, $check::<GlobalAverage>);
        run(DropoutMlp::NAME, $check::<DropoutMlp>);
        run(EmbeddingLstm::NAME, $check::<EmbeddingLstm>);
        run(MaskedGru::NAME, $check::<MaskedGru>);
        run(RnnMaxPool::NAME, $check::<RnnMaxPool>);
        run(MaskedBidirectional::NAME, $check::<MaskedBidirectional>);
        run(BidirectionalRnn::NAME, $check::<BidirectionalRnn>);
        run(Normalized::NAME, $check::<Normalized>);
        run(Branching::NAME, $check::<Branching>);
        run(Separable::NAME, $check::<Separable>);
        run(Sequences::NAME, $check::<Sequences>);
        run(Normalizations::NAME, $check::<Normalizations>);
        run(Decoder::NAME, $check::<Decoder>);
        run(Preprocessed::NAME, $check::<Preprocessed>);
        assert!(failed.is_empty(), "failed for {failed:?}");
    }};
}

/// The zoo covers every layer kind.
#[test]
fn the_networks_below_use_every_layer_kind() {
    fn kinds<M: Model>() -> Vec<&'static str> {
        M::LAYERS.iter().map(|l| l.kind).collect()
    }
    let used: Vec<&str> = [
        kinds::<Pools>(),
        kinds::<GlobalMax>(),
        kinds::<GlobalAverage>(),
        kinds::<DropoutMlp>(),
        kinds::<EmbeddingLstm>(),
        kinds::<MaskedGru>(),
        kinds::<RnnMaxPool>(),
        kinds::<MaskedBidirectional>(),
        kinds::<BidirectionalRnn>(),
        kinds::<Normalized>(),
        kinds::<Branching>(),
        kinds::<Separable>(),
        kinds::<Sequences>(),
        kinds::<Normalizations>(),
        kinds::<Decoder>(),
        kinds::<Preprocessed>(),
    ]
    .concat();
    for kind in ALL_KINDS {
        assert!(
            used.iter().any(|u| u.starts_with(kind)),
            "no network uses {kind}: {used:?}"
        );
    }
}

/// Data set `seed`: 14 samples, so that batches of 4 leave a short last batch of 2.
fn data<M: Zoo>(seed: u64) -> (Vec<M::Input>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<M::Input> = (0..14).map(|_| M::Input::random(&mut rng)).collect();
    let y = (0..14).map(|_| rng.random_range(0..3)).collect();
    (x, y)
}

/// The training configuration of both properties: 4 epochs of shuffled batches of 4.
fn fit_cfg<'v, X>(
    epochs: usize,
    initial_epoch: usize,
    parallel: Parallel,
    checkpoint: Option<PathBuf>,
) -> Fit<'v, X, usize, SparseCategoricalCrossEntropy, Sgd> {
    Fit {
        loss: SparseCategoricalCrossEntropy::default(),
        optimizer: Sgd::new(0.1).with_momentum(0.5),
        epochs,
        initial_epoch,
        batch_size: 4,
        seed: 17,
        verbose: false,
        checkpoint,
        parallel,
        ..Fit::default()
    }
}

/// Every trainable and non-trainable value.
fn values<M: Model>(m: &M) -> Vec<f32> {
    let mut v = Vec::new();
    m.for_each_param(|_, _, t| v.extend_from_slice(t));
    m.for_each_state(|_, _, t| v.extend_from_slice(t));
    v
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Trains `M` (seeded `seed`) on data set `seed` for 4 epochs under `parallel`: the values and
/// the per-epoch losses.
fn train<M: Zoo>(seed: u64, parallel: Parallel) -> Result<(Vec<f32>, Vec<f32>), Error>
where
    SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize>,
{
    let (x, y) = data::<M>(seed);
    let mut net = M::seeded(seed);
    let before = values(&net);
    match dl::train::fit(&mut net, &x, &y, fit_cfg(4, 0, parallel, None)) {
        Ok(history) => Ok((values(&net), history.epochs.iter().map(|e| e.loss).collect())),
        Err(e) => {
            assert_eq!(
                bits(&values(&net)),
                bits(&before),
                "a refused fit changed {}",
                M::NAME
            );
            Err(e)
        }
    }
}

/// The shard counts: one (the plain step), several, and more than the 4 samples of a batch
/// (every batch then leaves shards empty).
const SHARDS: [usize; 6] = [1, 2, 3, 4, 5, 7];

/// Sharded training equals unsharded training up to float rounding, for every network of the
/// zoo, every shard count and several data sets, over 4 epochs (16 steps): one shard bit for
/// bit, more shards within a rounding tolerance far below what a step changes. A network with
/// batch statistics refuses more than one shard, leaving the weights as they were.
fn sharding_changes_only_rounding<M: Zoo>()
where
    SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize>,
{
    for seed in [1, 2, 3] {
        let (plain, plain_losses) = train::<M>(seed, Parallel::default()).unwrap();
        let start = values(&M::seeded(seed));
        // The largest change training made: the scale the tolerance is relative to.
        let moved = plain
            .iter()
            .zip(&start)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(moved > 1e-2, "{} barely trained ({moved})", M::NAME);
        for shards in SHARDS {
            // Threads change nothing (tests/parallel.rs); a pool still runs shards
            // concurrently here for odd shard counts.
            let parallel = Parallel::new(shards).with_threads(1 + shards % 2);
            let sharded = train::<M>(seed, parallel);
            if M::BATCH_STATISTICS && shards > 1 {
                let err = sharded.expect_err("a network with batch statistics was sharded");
                assert!(matches!(err, Error::ShardedBatchStatistics { .. }), "{err}");
                continue;
            }
            let (w, losses) = sharded.unwrap();
            if shards == 1 {
                assert_eq!(
                    bits(&w),
                    bits(&plain),
                    "{}: one shard is not the plain step",
                    M::NAME
                );
                continue;
            }
            let worst = w
                .iter()
                .zip(&plain)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst <= 1e-4 * moved,
                "{}, data set {seed}, {shards} shards: a weight differs from unsharded training by \
                 {worst} (training moved weights by up to {moved})",
                M::NAME
            );
            for (epoch, (a, b)) in losses.iter().zip(&plain_losses).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                    "{}, data set {seed}, {shards} shards: epoch {} loss {a}, unsharded {b}",
                    M::NAME,
                    epoch + 1
                );
            }
        }
    }
}

#[test]
fn sharded_training_equals_unsharded_training_for_every_layer_kind() {
    for_every_network!(sharding_changes_only_rounding);
}

/// A scratch directory of this process.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dl-layer-kinds-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 4 epochs in one go equal, bit for bit, `k` epochs with a checkpoint, then a fresh network and
/// optimizer restored from it trained from `initial_epoch = k` to 4, for every `k` and for one
/// and for three shards (the data set's 14 samples make 4 steps per epoch, the last short).
fn resuming_is_bit_identical<M: Zoo>()
where
    SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize>,
{
    let dir = scratch(M::NAME);
    let path = dir.join("run.safetensors");
    let (x, y) = data::<M>(5);
    for shards in [1, 3] {
        if M::BATCH_STATISTICS && shards > 1 {
            continue;
        }
        let parallel = Parallel::new(shards).with_threads(1);
        let mut straight = M::seeded(5);
        dl::train::fit(&mut straight, &x, &y, fit_cfg(4, 0, parallel, None)).unwrap();
        for k in 1..4 {
            let mut first = M::seeded(5);
            dl::train::fit(&mut first, &x, &y, fit_cfg(k, 0, parallel, Some(path.clone()))).unwrap();
            let mut resumed = M::zeros();
            let mut optimizer = Sgd::new(0.1).with_momentum(0.5);
            let epoch = dl::weights::load_checkpoint(&mut resumed, &mut optimizer, &path).unwrap();
            assert_eq!(epoch, k);
            let cfg = Fit {
                optimizer,
                ..fit_cfg(4, epoch, parallel, None)
            };
            dl::train::fit(&mut resumed, &x, &y, cfg).unwrap();
            assert_eq!(
                bits(&values(&resumed)),
                bits(&values(&straight)),
                "{}, {shards} shards: resumed after epoch {k}, the weights differ from an \
                 uninterrupted run",
                M::NAME
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn training_resumed_from_a_checkpoint_is_bit_identical_for_every_layer_kind() {
    for_every_network!(resuming_is_bit_identical);
}

/// A custom loop resumed with a new `Trainer` continues bit for bit once told the steps already
/// taken (`set_steps`), which place the dropout masks; left at 0 it would replay the first
/// steps' masks. Plain SGD keeps no optimizer state to restore.
#[test]
fn a_custom_loop_resumes_bit_for_bit_with_set_steps() {
    let (x, y) = data::<DropoutMlp>(8);
    let trainer =
        || Trainer::<DropoutMlp, _, _>::new(SparseCategoricalCrossEntropy::default(), Sgd::new(0.1), None);
    let steps = |t: &mut Trainer<DropoutMlp, _, _>, net: &mut DropoutMlp, range: std::ops::Range<usize>| {
        for s in range {
            let at = (s * 4) % 12;
            t.train_on_batch(net, &x[at..at + 4], &y[at..at + 4]).unwrap();
        }
    };
    let mut straight = DropoutMlp::seeded(8);
    let mut t = trainer();
    steps(&mut t, &mut straight, 0..6);
    assert_eq!(t.steps(), 6);

    let mut resumed = DropoutMlp::seeded(8);
    steps(&mut trainer(), &mut resumed, 0..3);
    let mut replayed = resumed.clone();
    let mut t = trainer();
    t.set_steps(3);
    steps(&mut t, &mut resumed, 3..6);
    assert_eq!(bits(&values(&resumed)), bits(&values(&straight)));

    steps(&mut trainer(), &mut replayed, 3..6);
    assert_ne!(
        bits(&values(&replayed)),
        bits(&values(&straight)),
        "the masks do not follow the step"
    );
}

// Keras's `reset_after = True` (GRU) and `unit_forget_bias = True` (LSTM) are what dl's cells
// do; writing them out changes nothing.
dl::network! {
    struct SwitchesWritten {
        input: tokens[5],
        Embedding(30, 4),
        GRU(4, return_sequences = true, reset_after = true),
        LSTM(3, unit_forget_bias = true),
        Dense(2, softmax),
    }
}

dl::network! {
    struct SwitchesLeftOut {
        input: tokens[5],
        Embedding(30, 4),
        GRU(4, return_sequences = true),
        LSTM(3),
        Dense(2, softmax),
    }
}

#[test]
fn keras_default_switches_written_out_change_nothing() {
    fn params<M: Model>(net: &M) -> Vec<(String, Vec<u32>)> {
        let mut out = Vec::new();
        net.for_each_param(|l, t, v| out.push((format!("{l}.{t}"), v.iter().map(|x| x.to_bits()).collect())));
        out
    }
    assert_eq!(
        params(&SwitchesWritten::seeded(4)),
        params(&SwitchesLeftOut::seeded(4))
    );
}
