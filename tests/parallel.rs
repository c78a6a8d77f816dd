//! Data-parallel steps (`Parallel`): the shards fix the result bit for bit whatever the number
//! of threads, and the sharded gradient is the whole batch's.

use dl::Sample;
use dl::prelude::*;
use dl::train::BatchStats;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct SmallCnn {
        input: [8, 8, 1],
        Conv2D(4, (3, 3), relu),
        MaxPooling2D((2, 2)),
        Conv2D(5, (2, 2), tanh),
        Flatten,
        Dense(6, relu),
        Dense(3, softmax),
    }
}

dl::network! {
    struct SmallLstm {
        input: tokens[7],
        Embedding(20, 4),
        LSTM(5),
        Dense(6, relu),
        Dense(3, softmax),
    }
}

dl::network! {
    struct WithDropout {
        input: [8, 8, 1],
        Flatten,
        Dense(16, tanh),
        Dropout(0.3),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Branches: a residual block with a projection shortcut, a Concatenate, Dropout in a branch.
    struct SmallResNet {
        input: [8, 8, 1],
        stem: Conv2D(4, (3, 3), relu, padding = same),
        Residual(
            [Conv2D(4, (3, 3), strides = (2, 2), padding = same), Activation(relu), Conv2D(4, (3, 3), padding = same)],
            shortcut = [Conv2D(4, (1, 1), strides = (2, 2))],
        ),
        block: Activation(relu),
        pooled: MaxPooling2D((2, 2))(stem),
        Concatenate(block, pooled),
        Flatten,
        Dropout(0.2),
        Dense(3, softmax),
    }
}

type Image = SVector<f32, 64>;
type Text = Tokens<7, 20>;

fn images(n: usize, rng: &mut impl Rng) -> (Vec<Image>, Vec<usize>) {
    let x: Vec<Image> = (0..n).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    let y = (0..n).map(|i| i % 3).collect();
    (x, y)
}

fn texts(n: usize, rng: &mut impl Rng) -> (Vec<Text>, Vec<usize>) {
    let x: Vec<Text> = (0..n)
        .map(|_| Tokens::new(std::array::from_fn(|_| rng.random_range(0..20))).unwrap())
        .collect();
    let y = x.iter().map(|t| t.ids()[0] as usize % 3).collect();
    (x, y)
}

fn weights<M: Model>(m: &M) -> Vec<f32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend_from_slice(v));
    w
}

/// The weights after `steps` Adam steps over consecutive batches of 12 under `parallel`.
fn trained<M, X>(seed: u64, x: &[X], y: &[usize], parallel: Parallel, steps: usize) -> Vec<f32>
where
    M: Model<Input = X> + Send + Sync + New,
    SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize> + Sync,
    X: Sample,
{
    let mut net = M::new_seeded(seed);
    let mut trainer =
        Trainer::<M, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None)
            .with_parallel(parallel)
            .unwrap();
    assert_eq!(trainer.parallel(), parallel);
    for s in 0..steps {
        let at = (s * 12) % (x.len() - 11);
        trainer
            .train_on_batch(&mut net, &x[at..at + 12], &y[at..at + 12])
            .unwrap();
    }
    weights(&net)
}

/// Seeded construction, to keep the helpers generic over the networks above.
trait New {
    fn new_seeded(seed: u64) -> Self;
}
macro_rules! impl_new {
    ($($t:ty),*) => {$(
        impl New for $t {
            fn new_seeded(seed: u64) -> Self {
                <$t>::new(&mut ChaCha8Rng::seed_from_u64(seed))
            }
        }
    )*};
}
impl_new!(SmallCnn, SmallLstm, WithDropout, SmallResNet);

/// Same shards on 1, 2, 3 threads and on the global pool: the same weights, bit for bit.
fn assert_thread_count_is_invisible<M, X>(x: &[X], y: &[usize])
where
    M: Model<Input = X> + Send + Sync + New,
    SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize> + Sync,
    X: Sample,
{
    for shards in [2, 3] {
        let one = trained::<M, X>(5, x, y, Parallel::new(shards).with_threads(1), 6);
        for threads in [2, 3, 0] {
            let many = trained::<M, X>(5, x, y, Parallel::new(shards).with_threads(threads), 6);
            let same = one.iter().zip(&many).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{shards} shards: 1 thread and {threads} threads differ");
        }
        // And the shards did train: the weights moved.
        assert_ne!(one, weights(&M::new_seeded(5)));
    }
}

#[test]
fn cnn_weights_do_not_depend_on_the_thread_count() {
    let (x, y) = images(40, &mut ChaCha8Rng::seed_from_u64(1));
    assert_thread_count_is_invisible::<SmallCnn, _>(&x, &y);
}

#[test]
fn lstm_weights_do_not_depend_on_the_thread_count() {
    let (x, y) = texts(40, &mut ChaCha8Rng::seed_from_u64(2));
    assert_thread_count_is_invisible::<SmallLstm, _>(&x, &y);
}

#[test]
fn dropout_weights_do_not_depend_on_the_thread_count() {
    let (x, y) = images(40, &mut ChaCha8Rng::seed_from_u64(3));
    assert_thread_count_is_invisible::<WithDropout, _>(&x, &y);
}

#[test]
fn branching_weights_do_not_depend_on_the_thread_count() {
    let (x, y) = images(40, &mut ChaCha8Rng::seed_from_u64(4));
    assert_thread_count_is_invisible::<SmallResNet, _>(&x, &y);
}

/// The loss, counts and gradient of one batch under `parallel`.
fn gradient<M, X>(net: &M, x: &[X], y: &[usize], parallel: Parallel) -> (BatchStats, Vec<f32>)
where
    M: Model<Input = X> + Send + Sync,
    SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize> + Sync,
    X: Sample,
{
    let mut trainer =
        Trainer::<M, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None)
            .with_parallel(parallel)
            .unwrap();
    let stats = trainer.compute_gradients(net, x, y).unwrap();
    (stats, weights(trainer.gradients()))
}

/// Sharded gradients equal the whole batch's, for even and uneven shards and for more shards
/// than samples.
fn assert_sharded_gradient_is_the_batch_gradient<M, X>(net: &M, x: &[X], y: &[usize])
where
    M: Model<Input = X> + Send + Sync,
    SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize> + Sync,
    X: Sample,
{
    for n in [x.len(), 2] {
        let (x, y) = (&x[..n], &y[..n]);
        let (whole, g) = gradient(net, x, y, Parallel::default());
        let scale = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        for shards in [2, 3, 4] {
            let (stats, gs) = gradient(net, x, y, Parallel::new(shards).with_threads(2));
            assert_eq!((stats.samples, stats.correct), (whole.samples, whole.correct));
            let tol = 1e-5 * whole.loss_sum.abs().max(1.0);
            assert!(
                (stats.loss_sum - whole.loss_sum).abs() <= tol,
                "{shards} shards: loss {} against {}",
                stats.loss_sum,
                whole.loss_sum
            );
            for (i, (a, b)) in gs.iter().zip(&g).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * scale,
                    "batch {n}, {shards} shards: gradient {i} is {a}, unsharded {b}"
                );
            }
        }
    }
}

#[test]
fn sharded_cnn_gradient_is_the_batch_gradient() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let net = SmallCnn::new(&mut rng);
    let (x, y) = images(11, &mut rng);
    assert_sharded_gradient_is_the_batch_gradient(&net, &x, &y);
}

#[test]
fn sharded_lstm_gradient_is_the_batch_gradient() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let net = SmallLstm::new(&mut rng);
    let (x, y) = texts(11, &mut rng);
    assert_sharded_gradient_is_the_batch_gradient(&net, &x, &y);
}

#[test]
fn fit_with_shards_matches_on_any_thread_count_and_keeps_its_history() {
    let (x, y) = images(50, &mut ChaCha8Rng::seed_from_u64(6));
    let run = |parallel: Parallel| {
        let mut net = SmallCnn::new_seeded(7);
        let history = net
            .fit(
                &x,
                &y,
                Fit {
                    loss: SparseCategoricalCrossEntropy::default(),
                    optimizer: Adam::default(),
                    epochs: 3,
                    batch_size: 8,
                    validation_split: 0.2,
                    verbose: false,
                    parallel,
                    ..Fit::default()
                },
            )
            .unwrap();
        (weights(&net), history)
    };
    let (w1, h1) = run(Parallel::new(2).with_threads(1));
    let (w2, h2) = run(Parallel::new(2).with_threads(2));
    assert_eq!(w1, w2);
    assert_eq!(h1.epochs.len(), 3);
    for (a, b) in h1.epochs.iter().zip(&h2.epochs) {
        assert_eq!((a.epoch, a.loss, a.accuracy), (b.epoch, b.loss, b.accuracy));
        assert_eq!((a.val_loss, a.val_accuracy), (b.val_loss, b.val_accuracy));
        assert!(a.val_loss.is_some() && a.accuracy.is_some());
    }
    // The same epochs as unsharded training, up to rounding.
    let (_, plain) = run(Parallel::default());
    let first = (plain.epochs[0].loss, h1.epochs[0].loss);
    assert!((first.0 - first.1).abs() < 1e-4, "first epoch loss {first:?}");
}

#[test]
fn the_trainer_reports_its_setting() {
    let plain =
        Trainer::<SmallCnn, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    assert_eq!(
        plain.parallel(),
        Parallel {
            shards: 1,
            threads: 1
        }
    );
    let one_shard = Parallel::new(1).with_threads(4);
    assert_eq!(plain.with_parallel(one_shard).unwrap().parallel(), one_shard);
}

#[test]
fn zero_shards_is_an_error_naming_the_setting() {
    let trainer =
        Trainer::<SmallCnn, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None)
            .with_parallel(Parallel::new(0).with_threads(2));
    let err = trainer.err().expect("0 shards was accepted");
    assert_eq!(err.to_string(), "Parallel::shards must be at least 1");

    let (x, y) = images(4, &mut ChaCha8Rng::seed_from_u64(8));
    let mut net = SmallCnn::new_seeded(9);
    let before = weights(&net);
    let cfg = Fit {
        loss: SparseCategoricalCrossEntropy::default(),
        optimizer: Adam::default(),
        verbose: false,
        parallel: Parallel::new(0),
        ..Fit::default()
    };
    let err = net.fit(&x, &y, cfg).unwrap_err();
    assert!(matches!(err, Error::ZeroShards), "{err}");
    assert_eq!(weights(&net), before);
}

dl::network! {
    struct Regressor {
        input: [3],
        Dense(8, linear),
        Dense(1, linear),
    }
}

#[test]
fn a_non_finite_sharded_step_stops_fit_and_keeps_the_weights_finite() {
    let x: Vec<SVector<f32, 3>> = (0..64)
        .map(|i| SVector::from([i as f32, 2.0 * i as f32, 1.0]))
        .collect();
    let y: Vec<f32> = (0..64).map(|i| 1e3 * i as f32).collect();
    let run = |threads| {
        let mut net = Regressor::new(&mut ChaCha8Rng::seed_from_u64(1));
        let cfg = Fit {
            loss: MeanSquaredError,
            optimizer: Sgd::new(10.0),
            epochs: 50,
            batch_size: 8,
            verbose: false,
            parallel: Parallel::new(2).with_threads(threads),
            ..Fit::default()
        };
        let err = net.fit(&x, &y, cfg).unwrap_err();
        let Error::NonFiniteLoss { epoch, batch, .. } = err else {
            panic!("unexpected error {err}")
        };
        assert!(
            weights(&net).iter().all(|w| w.is_finite()),
            "weights were corrupted"
        );
        (epoch, batch, weights(&net))
    };
    assert_eq!(run(1), run(2));
}

dl::network! {
    struct NormalizedCnn {
        input: [8, 8, 1],
        Conv2D(4, (3, 3), relu),
        BatchNormalization(),
        Flatten,
        Dense(3, softmax),
    }
}

/// Shards would each normalize with their own batch statistics, and the moving statistics would
/// follow one shard: refused, naming the network and the way out; one shard still trains.
#[test]
fn sharding_a_network_with_batch_normalization_is_an_error() {
    let sharded =
        Trainer::<NormalizedCnn, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None)
            .with_parallel(Parallel::new(2));
    assert_eq!(
        sharded
            .err()
            .expect("sharded batch normalization was accepted")
            .to_string(),
        "network `NormalizedCnn` has BatchNormalization, whose batch statistics would differ per shard; \
         train it with Parallel::new(1) (one shard)"
    );
    let single =
        Trainer::<NormalizedCnn, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None)
            .with_parallel(Parallel::new(1));
    assert!(single.is_ok());
}

dl::network! {
    struct DropoutProbe {
        input: [16],
        Dropout(0.5),
        Dense(2, softmax),
    }
}

/// Shards draw the masks of the unsharded step, sample by sample: the sharded gradient of
/// `[a, a]` is the unsharded one, and the two samples' masks differ (it is not the gradient of
/// `[a]`, which it would be if each shard replayed the first sample's mask).
#[test]
fn shards_draw_the_dropout_masks_of_the_unsharded_step() {
    let net = DropoutProbe::new(&mut ChaCha8Rng::seed_from_u64(4));
    let a = SVector::<f32, 16>::from_fn(|i, _| 1.0 + i as f32 * 0.1);
    let (_, one) = gradient(&net, &[a], &[0], Parallel::new(1));
    let (_, whole) = gradient(&net, &[a, a], &[0, 0], Parallel::new(1));
    for shards in [2, 3] {
        let (_, sharded) = gradient(&net, &[a, a], &[0, 0], Parallel::new(shards).with_threads(1));
        for (s, w) in sharded.iter().zip(&whole) {
            assert!(
                (s - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{shards} shards: {s} against {w}"
            );
        }
    }
    assert_ne!(one, whole, "both samples drew the same mask");
}

dl::network! {
    struct WideLstm {
        input: tokens[6],
        Embedding(3600, 40),
        LSTM(4),
        Dense(3, softmax),
    }
}

dl::network! {
    struct WideMlp {
        input: [400],
        Dense(360, tanh),
        Dense(3, softmax),
    }
}

type Wide = Tokens<6, 3600>;

/// The weights after `steps` steps of `optimizer` (clipped by `clip`) over batches of 12.
fn trained_by<M, X, O>(x: &[X], y: &[usize], optimizer: O, clip: Option<Clip>, parallel: Parallel) -> Vec<f32>
where
    M: Model<Input = X> + Send + Sync + New,
    SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize> + Sync,
    X: Sample,
    O: Optimizer,
{
    let mut net = M::new_seeded(11);
    let mut trainer = Trainer::<M, _, _>::new(SparseCategoricalCrossEntropy::default(), optimizer, clip)
        .with_parallel(parallel)
        .unwrap();
    for s in 0..4 {
        let at = (s * 12) % (x.len() - 11);
        trainer
            .train_on_batch(&mut net, &x[at..at + 12], &y[at..at + 12])
            .unwrap();
    }
    weights(&net)
}

impl_new!(WideLstm, WideMlp);

/// Tensors large enough (144 000 weights) to be summed, checked and updated in pieces
/// spread over the threads: every optimizer, with and without clipping, gives the same weights
/// bit for bit on 1, 2 and 3 threads, as the same 2 or 3 shards do on one.
#[test]
fn updates_split_between_threads_do_not_depend_on_the_thread_count() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let texts: Vec<Wide> = (0..40)
        .map(|_| Tokens::new(std::array::from_fn(|_| rng.random_range(0..3600))).unwrap())
        .collect();
    let labels: Vec<usize> = texts.iter().map(|t| t.ids()[0] as usize % 3).collect();
    let (images, image_labels): (Vec<SVector<f32, 400>>, Vec<usize>) = {
        let x: Vec<_> = (0..40)
            .map(|_| SVector::from_fn(|_, _| rng.random::<f32>()))
            .collect();
        let y = (0..40).map(|i| i % 3).collect();
        (x, y)
    };
    fn same_on_any_threads<M, X, O>(x: &[X], y: &[usize], optimizer: impl Fn() -> O, clip: Option<Clip>)
    where
        M: Model<Input = X> + Send + Sync + New,
        SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize> + Sync,
        X: Sample,
        O: Optimizer,
    {
        let start = weights(&M::new_seeded(11));
        for shards in [2, 3] {
            let one = trained_by::<M, X, O>(x, y, optimizer(), clip, Parallel::new(shards).with_threads(1));
            assert_ne!(one, start, "{} did not train", M::NAME);
            for threads in [2, 3] {
                let many = trained_by::<M, X, O>(
                    x,
                    y,
                    optimizer(),
                    clip,
                    Parallel::new(shards).with_threads(threads),
                );
                let same = one.iter().zip(&many).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{}, {shards} shards: 1 and {threads} threads differ",
                    M::NAME
                );
            }
        }
    }
    let (t, l) = (&texts[..], &labels[..]);
    same_on_any_threads::<WideLstm, _, _>(t, l, Adam::default, None);
    same_on_any_threads::<WideLstm, _, _>(t, l, || AdamW::new(0.01, 0.1), None);
    same_on_any_threads::<WideLstm, _, _>(t, l, || Sgd::new(0.5).with_momentum(0.9), None);
    same_on_any_threads::<WideLstm, _, _>(t, l, Adagrad::default, Some(Clip::GlobalNorm(0.01)));
    let (x, y) = (&images[..], &image_labels[..]);
    same_on_any_threads::<WideMlp, _, _>(x, y, || Sgd::new(0.1), None);
    same_on_any_threads::<WideMlp, _, _>(
        x,
        y,
        || Sgd::new(0.1).with_nesterov(true).with_momentum(0.5),
        None,
    );
    let rms = || {
        let mut o = RmsProp::default();
        o.momentum = 0.5;
        o
    };
    same_on_any_threads::<WideMlp, _, _>(x, y, rms, Some(Clip::Value(0.01)));
    same_on_any_threads::<WideMlp, _, _>(x, y, Adam::default, Some(Clip::Norm(0.1)));
}
