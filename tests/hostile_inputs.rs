//! Hostile inputs to training and to the files it reads: hyperparameters, clipping bounds,
//! optimizer states, checkpoints, PyTorch files, IDX/MNIST files, metrics and token ids. Each
//! case is a clean `Err` naming the problem (never a panic) that leaves what the user had
//! (weights, optimizer state, files) as it was; and an `Ok` from training always comes with
//! finite weights.

use std::path::PathBuf;

use dl::prelude::*;
use dl::{ConfusionMatrix, weights};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct Reg {
        input: [3],
        Dense(4, tanh),
        Dense(1, linear),
    }
}

type X = SVector<f32, 3>;

fn net(seed: u64) -> Reg {
    Reg::new(&mut ChaCha8Rng::seed_from_u64(seed))
}

/// Every weight, as bits.
fn weight_bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}

fn finite_weights<M: Model>(m: &M) -> bool {
    let mut all = true;
    m.for_each_param(|_, _, v| all &= v.iter().all(|x| x.is_finite()));
    all
}

/// The optimizer's state buffers (as bits) and counters.
type Snapshot = (Vec<(&'static str, Vec<u32>)>, Vec<(&'static str, u64)>);

fn state_of<O: Optimizer>(o: &O) -> Snapshot {
    let buffers = o
        .state()
        .into_iter()
        .map(|(n, v)| (n, v.iter().map(|x| x.to_bits()).collect()))
        .collect();
    (buffers, o.counters())
}

fn finite_state<O: Optimizer>(o: &O) -> bool {
    o.state().iter().all(|(_, v)| v.iter().all(|x| x.is_finite()))
}

/// `n` samples with inputs of size `scale`, and targets of the same order.
fn data(n: usize, scale: f32, rng: &mut impl Rng) -> (Vec<X>, Vec<f32>) {
    let x: Vec<X> = (0..n)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0f32..1.0) * scale))
        .collect();
    let y = x.iter().map(|s| s.sum()).collect();
    (x, y)
}

fn fit_cfg<O: Default>(optimizer: O) -> Fit<'static, X, f32, MeanSquaredError, O> {
    Fit {
        loss: MeanSquaredError,
        optimizer,
        epochs: 2,
        batch_size: 4,
        verbose: false,
        ..Fit::default()
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("dl-hostile-{}-{name}", std::process::id()))
}

// ---------------------------------------------------------------------------------------------
// Every optimizer's step is checked.

/// Sets the learning rate, keeping the other hyperparameters valid with it.
trait SetLr: Optimizer + Default + Clone {
    fn set_lr(&mut self, lr: f32);
}

impl SetLr for Sgd {
    fn set_lr(&mut self, lr: f32) {
        self.learning_rate = lr;
    }
}
impl SetLr for Adam {
    fn set_lr(&mut self, lr: f32) {
        self.learning_rate = lr;
    }
}
impl SetLr for AdamW {
    fn set_lr(&mut self, lr: f32) {
        self.adam.learning_rate = lr;
        // Each step scales the weights by 1 - lr·wd, which must stay above 0.
        self.weight_decay = self.weight_decay.min(0.5 / lr);
    }
}
impl SetLr for RmsProp {
    fn set_lr(&mut self, lr: f32) {
        self.learning_rate = lr;
    }
}
impl SetLr for Adagrad {
    fn set_lr(&mut self, lr: f32) {
        self.learning_rate = lr;
    }
}

/// One `train_on_batch` that must keep the promise: `Ok` with finite weights and state, or an
/// `Err` about a non-finite loss or step with the weights and state bit for bit as before.
/// Returns the error, if any.
fn checked_step<O: Optimizer>(
    trainer: &mut Trainer<Reg, MeanSquaredError, O>,
    net: &mut Reg,
    x: &[X],
    y: &[f32],
    what: &str,
) -> Option<Error> {
    let (weights, state) = (weight_bits(net), state_of(&trainer.optimizer));
    match trainer.train_on_batch(net, x, y) {
        Ok(_) => {
            assert!(finite_weights(net), "{what}: Ok with non-finite weights");
            assert!(
                finite_state(&trainer.optimizer),
                "{what}: Ok with non-finite optimizer state"
            );
            None
        }
        Err(e) => {
            assert!(
                matches!(e, Error::NonFiniteLoss { .. } | Error::NonFiniteStep { .. }),
                "{what}: {e}"
            );
            assert!(e.to_string().contains("were kept"), "{what}: {e}");
            assert_eq!(
                weight_bits(net),
                weights,
                "{what}: weights changed by a refused step ({e})"
            );
            assert_eq!(
                state_of(&trainer.optimizer),
                state,
                "{what}: optimizer state changed by a refused step ({e})"
            );
            Some(e)
        }
    }
}

/// Random steps of `optimizer` (after 0 to 3 good ones, on 1 or 2 shards, with or without
/// clipping), with learning rates and inputs up to what overflows: every step keeps the
/// promise of [`checked_step`], some are refused in the update itself, and a refused step
/// leaves a trainer that goes on.
fn every_step_is_checked<O: SetLr>(name: &str, optimizer: O) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut refused_updates = 0;
    for case in 0..24 {
        let shards = rng.random_range(1..=2);
        let clip = [None, Some(Clip::Norm(1e30)), Some(Clip::Value(1e20))][rng.random_range(0..3)];
        let mut trainer = Trainer::<Reg, _, _>::new(MeanSquaredError, optimizer.clone(), clip)
            .with_parallel(Parallel::new(shards).with_threads(1))
            .unwrap();
        let mut net = net(case);
        let what = format!("{name}, case {case}, {shards} shards, clip {clip:?}");
        for _ in 0..rng.random_range(0..=3) {
            let (x, y) = data(8, 1.0, &mut rng);
            assert!(
                trainer.train_on_batch(&mut net, &x, &y).is_ok(),
                "{what}: a good step"
            );
        }
        let lr = [f32::MAX, 1e38, 1e30, 1e10][rng.random_range(0..4)];
        let scale = [1e3, 1e6, 1e18, 1e30][rng.random_range(0..4)];
        trainer.optimizer.set_lr(lr);
        let (x, y) = data(8, scale, &mut rng);
        let what = format!("{what}, lr {lr:e}, inputs {scale:e}");
        if let Some(Error::NonFiniteStep { reason, .. }) = checked_step(&mut trainer, &mut net, &x, &y, &what)
        {
            assert!(
                reason.starts_with("the gradient of `")
                    || reason.starts_with(&format!("the {} update", trainer.optimizer.name())),
                "{what}: {reason}"
            );
            refused_updates += 1;
        }
        trainer.optimizer.set_lr(0.01);
        let (x, y) = data(8, 1.0, &mut rng);
        checked_step(
            &mut trainer,
            &mut net,
            &x,
            &y,
            &format!("{what}, then a good step"),
        );
    }
    assert!(refused_updates > 0, "{name}: no case reached the update's check");
}

#[test]
fn every_optimizer_refuses_a_non_finite_step_and_keeps_weights_and_state() {
    every_step_is_checked("sgd", Sgd::new(0.01));
    every_step_is_checked("sgd momentum", Sgd::new(0.01).with_momentum(0.9));
    every_step_is_checked(
        "sgd nesterov",
        Sgd::new(0.01).with_momentum(0.9).with_nesterov(true),
    );
    every_step_is_checked("adam", Adam::new(0.01));
    every_step_is_checked("adamw", AdamW::new(0.01, 0.004));
    every_step_is_checked("rmsprop", RmsProp::new(0.01));
    let mut rms = RmsProp::new(0.01);
    rms.momentum = 0.5;
    every_step_is_checked("rmsprop momentum", rms);
    every_step_is_checked("adagrad", Adagrad::new(0.01));
}

/// A learning rate of `f32::MAX` is valid but overflows any update on large gradients: the
/// step is refused naming the update (on its first step, the optimizer's state stays empty),
/// and `fit` does not return `Ok` when the bad step is its last.
fn an_overflowing_update_is_refused<O: SetLr>(mut optimizer: O) {
    let name = optimizer.name();
    optimizer.set_lr(f32::MAX);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (x, y) = data(4, 1e3, &mut rng);
    let mut net = net(1);
    let mut trainer = Trainer::<Reg, _, _>::new(MeanSquaredError, optimizer.clone(), None);
    let fresh = state_of(&trainer.optimizer);
    let e = checked_step(&mut trainer, &mut net, &x, &y, name).expect("refused");
    let Error::NonFiniteStep {
        epoch: 1,
        batch: 1,
        reason,
    } = &e
    else {
        panic!("{name}: {e}")
    };
    assert!(
        reason.starts_with(&format!("the {name} update would make ")),
        "{reason}"
    );
    assert_eq!(state_of(&trainer.optimizer), fresh);

    // One batch, one epoch: the bad step is the last.
    let before = weight_bits(&net);
    let cfg = Fit {
        epochs: 1,
        batch_size: 4,
        ..fit_cfg(optimizer)
    };
    let e = net.fit(&x, &y, cfg).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFiniteStep {
                epoch: 1,
                batch: 1,
                ..
            }
        ),
        "{name}: {e}"
    );
    assert_eq!(weight_bits(&net), before, "{name}");
}

#[test]
fn an_overflowing_update_is_refused_by_every_optimizer() {
    an_overflowing_update_is_refused(Sgd::default());
    an_overflowing_update_is_refused(Sgd::default().with_momentum(0.5));
    an_overflowing_update_is_refused(Adam::default());
    an_overflowing_update_is_refused(AdamW::default());
    an_overflowing_update_is_refused(RmsProp::default());
    an_overflowing_update_is_refused(Adagrad::default());
}

#[test]
fn inputs_near_f32_max_never_leave_non_finite_weights() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (x, y) = data(16, 1e38, &mut rng);
    let mut net = net(2);
    let before = weight_bits(&net);
    match net.fit(&x, &y, fit_cfg(Adam::default())) {
        Ok(_) => assert!(finite_weights(&net)),
        Err(e) => {
            assert!(
                matches!(e, Error::NonFiniteLoss { .. } | Error::NonFiniteStep { .. }),
                "{e}"
            );
            assert!(finite_weights(&net), "{e}");
        }
    }
    // The first batch already overflows: nothing was applied.
    assert_eq!(weight_bits(&net), before);
}

/// A state that `load_state` accepts (finite, non-negative) but that overflows the next update:
/// the step is refused, and the loaded state is kept bit for bit.
#[test]
fn a_loaded_state_that_overflows_the_update_is_refused_and_kept() {
    let mut adam = Adam::new(0.1);
    let huge = vec![3e38f32; Reg::PARAMS];
    let zero = vec![0.0f32; Reg::PARAMS];
    adam.load_state(&[("m", &huge), ("v", &zero)], &[("iterations", 5)])
        .unwrap();
    let mut trainer = Trainer::<Reg, _, _>::new(MeanSquaredError, adam, None);
    let mut net = net(3);
    let (x, y) = data(4, 1.0, &mut ChaCha8Rng::seed_from_u64(1));
    let e = checked_step(&mut trainer, &mut net, &x, &y, "adam").expect("refused");
    assert!(e.to_string().contains("the adam update would make"), "{e}");
    assert_eq!(trainer.optimizer.iterations(), 5);
}

// ---------------------------------------------------------------------------------------------
// Hyperparameters and clipping bounds are validated when fit starts.

/// `fit` with `optimizer` and `clip` is a `BadHyperparameter` naming `name`, with the weights
/// unchanged; so is `train_on_batch`.
fn refused<O: Optimizer + Default + Clone>(optimizer: O, clip: Option<Clip>, name: &str) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (x, y) = data(8, 1.0, &mut rng);
    let mut net = net(4);
    let before = weight_bits(&net);
    let cfg = Fit {
        clip,
        ..fit_cfg(optimizer.clone())
    };
    let e = net.fit(&x, &y, cfg).unwrap_err();
    assert!(matches!(e, Error::BadHyperparameter(_)), "{e}");
    assert!(e.to_string().contains(name), "`{name}` not named in: {e}");
    assert_eq!(weight_bits(&net), before);
    let mut trainer = Trainer::<Reg, _, _>::new(MeanSquaredError, optimizer, clip);
    let fresh = state_of(&trainer.optimizer);
    let e = trainer.train_on_batch(&mut net, &x, &y).unwrap_err();
    assert!(e.to_string().contains(name), "`{name}` not named in: {e}");
    assert_eq!(weight_bits(&net), before);
    assert_eq!(state_of(&trainer.optimizer), fresh);
}

#[test]
fn every_optimizer_hyperparameter_out_of_range_is_refused_when_fit_starts() {
    for lr in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.01] {
        refused(Sgd::new(lr), None, "`learning_rate`");
        refused(Adam::new(lr), None, "`learning_rate`");
        refused(AdamW::new(lr, 0.0), None, "`learning_rate`");
        refused(RmsProp::new(lr), None, "`learning_rate`");
        refused(Adagrad::new(lr), None, "`learning_rate`");
    }
    refused(Sgd::new(0.1).with_momentum(1.0), None, "sgd: `momentum`");
    refused(Sgd::new(0.1).with_momentum(f32::NAN), None, "sgd: `momentum`");
    for beta in [1.0, 1.5, -0.1, f64::NAN, 0.999_999_999] {
        let mut adam = Adam::default();
        adam.beta_1 = beta;
        refused(adam.clone(), None, "adam: `beta_1`");
        adam.beta_1 = 0.9;
        adam.beta_2 = beta;
        refused(adam, None, "adam: `beta_2`");
    }
    for eps in [0.0, -1e-7, f32::NAN, f32::INFINITY] {
        let mut adam = Adam::default();
        adam.epsilon = eps;
        refused(adam, None, "adam: `epsilon`");
        let mut rms = RmsProp::default();
        rms.epsilon = eps;
        refused(rms, None, "rmsprop: `epsilon`");
        let mut ada = Adagrad::default();
        ada.epsilon = eps;
        refused(ada, None, "adagrad: `epsilon`");
    }
    let mut adamw = AdamW::default();
    adamw.adam.beta_1 = 1.0;
    refused(adamw, None, "adamw: `beta_1`");
    for wd in [f32::NAN, -0.1, 1e4] {
        refused(AdamW::new(0.001, wd), None, "adamw: `weight_decay`");
    }
    for rho in [1.0, -0.5, f32::NAN] {
        let mut rms = RmsProp::default();
        rms.rho = rho;
        refused(rms, None, "rmsprop: `rho`");
    }
    let mut rms = RmsProp::default();
    rms.momentum = 1.0;
    refused(rms, None, "rmsprop: `momentum`");
    let mut ada = Adagrad::default();
    ada.initial_accumulator_value = -0.1;
    refused(ada, None, "adagrad: `initial_accumulator_value`");
}

#[test]
fn a_clipping_bound_that_is_not_finite_and_positive_is_refused_without_panicking() {
    for bound in [-1.0, 0.0, f32::NAN, f32::INFINITY] {
        refused(Adam::default(), Some(Clip::Value(bound)), "Clip::Value");
        // A negative norm would reverse the gradient, and training would climb.
        refused(Adam::default(), Some(Clip::Norm(bound)), "Clip::Norm");
        refused(Sgd::default(), Some(Clip::GlobalNorm(bound)), "Clip::GlobalNorm");
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints: every field validated when the file loads.

/// Rewrites the JSON header of a safetensors file with `edit`, keeping the data as it is.
fn edit_header(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    edit(&mut header);
    let mut text = serde_json::to_string(&header).unwrap();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

/// Overwrites value `index` of tensor `name` with `value`.
fn set_value(bytes: &mut [u8], name: &str, index: usize, value: f32) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let start = header[name]["data_offsets"][0].as_u64().unwrap() as usize;
    let at = 8 + n + start + 4 * index;
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// A checkpoint of `Reg` after two Adam steps.
fn trained_checkpoint() -> Vec<u8> {
    let mut net = net(6);
    let mut trainer = Trainer::<Reg, _, _>::new(MeanSquaredError, Adam::new(0.01), None);
    let (x, y) = data(8, 1.0, &mut ChaCha8Rng::seed_from_u64(6));
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    weights::checkpoint_to_bytes(&net, &trainer.optimizer, 2).unwrap()
}

/// Loading `bytes` from a file into a network and an Adam that already trained is an `Err`
/// naming `field`, and leaves the network, the optimizer and the file as they were.
fn checkpoint_refused(bytes: &[u8], tag: &str, field: &str) {
    let path = temp(&format!("{tag}.safetensors"));
    std::fs::write(&path, bytes).unwrap();
    let mut net = net(7);
    let mut trainer = Trainer::<Reg, _, _>::new(MeanSquaredError, Adam::new(0.01), None);
    let (x, y) = data(8, 1.0, &mut ChaCha8Rng::seed_from_u64(7));
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let (weights, state) = (weight_bits(&net), state_of(&trainer.optimizer));
    let e = weights::load_checkpoint(&mut net, &mut trainer.optimizer, &path).unwrap_err();
    assert!(
        e.to_string().contains(field),
        "{tag}: `{field}` not named in: {e}"
    );
    assert_eq!(weight_bits(&net), weights, "{tag}");
    assert_eq!(state_of(&trainer.optimizer), state, "{tag}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "{tag}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_checkpoint_whose_second_moment_is_negative_is_refused() {
    let mut bytes = trained_checkpoint();
    set_value(&mut bytes, "optimizer.v", 3, -1.0);
    checkpoint_refused(
        &bytes,
        "negative-v",
        "state buffer `v` of adam: value at index 3 is -1",
    );
}

#[test]
fn a_checkpoint_whose_step_counter_cannot_step_again_is_refused() {
    let bytes = edit_header(&trained_checkpoint(), |h| {
        h["__metadata__"]["dl.optimizer.iterations"] = i32::MAX.to_string().into();
    });
    checkpoint_refused(&bytes, "iterations", "iterations 2147483647 is out of range");
    let bytes = edit_header(&trained_checkpoint(), |h| {
        h["__metadata__"]["dl.optimizer.iterations"] = "-1".into();
    });
    checkpoint_refused(&bytes, "iterations-negative", "`dl.optimizer.iterations` is `-1`");
}

#[test]
fn a_checkpoint_of_non_finite_optimizer_state_is_refused() {
    let mut bytes = trained_checkpoint();
    set_value(&mut bytes, "optimizer.m", 0, f32::NAN);
    checkpoint_refused(&bytes, "nan-m", "optimizer.m");
}

#[test]
fn a_checkpoint_at_epoch_usize_max_resumes_without_overflowing() {
    let net0 = net(8);
    let bytes = weights::checkpoint_to_bytes(&net0, &Adam::default(), usize::MAX).unwrap();
    let mut net = net(9);
    let mut adam = Adam::default();
    let epoch = weights::checkpoint_from_bytes(&mut net, &mut adam, &bytes).unwrap();
    assert_eq!(epoch, usize::MAX);
    let (x, y) = data(8, 1.0, &mut ChaCha8Rng::seed_from_u64(8));
    let before = weight_bits(&net);
    let cfg = Fit {
        initial_epoch: epoch,
        epochs: 10,
        ..fit_cfg(adam.clone())
    };
    let e = net.fit(&x, &y, cfg).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "initial_epoch {} is past epochs 10: fit runs epochs initial_epoch + 1 ..= epochs (epochs counts \
             from the start of the whole training, as in Keras)",
            usize::MAX
        )
    );
    // Done already: nothing to run, and no overflow computing the first epoch.
    let cfg = Fit {
        initial_epoch: epoch,
        epochs: usize::MAX,
        ..fit_cfg(adam)
    };
    assert!(net.fit(&x, &y, cfg).unwrap().epochs.is_empty());
    assert_eq!(weight_bits(&net), before);
}

#[test]
fn a_pytorch_file_of_an_unknown_dl_format_version_is_refused() {
    let modules = ["fc1", "fc2"];
    let source = net(10);
    let bytes = weights::to_pytorch_bytes(&source, &modules).unwrap();
    let mut net = net(11);
    let before = weight_bits(&net);
    // Without a version, as PyTorch writes them, and with the current one: accepted.
    weights::from_pytorch_bytes(&mut net.clone(), &bytes, &modules).unwrap();
    let current = edit_header(&bytes, |h| h["__metadata__"]["dl.format_version"] = "1".into());
    weights::from_pytorch_bytes(&mut net.clone(), &current, &modules).unwrap();
    let later = edit_header(&bytes, |h| h["__metadata__"]["dl.format_version"] = "99".into());
    let path = temp("pytorch-v99.safetensors");
    std::fs::write(&path, &later).unwrap();
    let e = weights::load_pytorch(&mut net, &path, &modules).unwrap_err();
    assert!(
        e.to_string().contains("unsupported `dl.format_version` `99`"),
        "{e}"
    );
    assert_eq!(weight_bits(&net), before);
    assert_eq!(std::fs::read(&path).unwrap(), later);
    std::fs::remove_file(&path).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Data files, metrics and token ids.

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

#[test]
fn mnist_images_that_are_not_28_by_28_are_refused() {
    let labels = temp("mnist-labels.idx");
    std::fs::write(&labels, idx(&[2], &[3, 7])).unwrap();
    for (tag, dims) in [
        ("784x1", [2, 784, 1]),
        ("1x784", [2, 1, 784]),
        ("56x14", [2, 56, 14]),
    ] {
        let images = temp(&format!("mnist-{tag}.idx"));
        let bytes = idx(&dims, &vec![9; 2 * 784]);
        std::fs::write(&images, &bytes).unwrap();
        let Err(e) = dl::data::mnist::load(&images, &labels) else {
            panic!("images of dimensions {dims:?} were accepted")
        };
        assert!(
            e.to_string()
                .contains(&format!("expected images of 28×28, found dimensions {dims:?}")),
            "{e}"
        );
        assert_eq!(std::fs::read(&images).unwrap(), bytes);
        std::fs::remove_file(&images).unwrap();
    }
    let images = temp("mnist-28x28.idx");
    std::fs::write(&images, idx(&[2, 28, 28], &[9; 2 * 784])).unwrap();
    let (x, y) = dl::data::mnist::load(&images, &labels).unwrap();
    assert_eq!((x.len(), y), (2, vec![3, 7]));
    std::fs::remove_file(&images).unwrap();
    std::fs::remove_file(&labels).unwrap();
}

#[test]
fn a_confusion_matrix_refuses_classes_out_of_range() {
    let mut cm = ConfusionMatrix::new(3);
    cm.record(0, 1).unwrap();
    let before = cm.clone();
    assert_eq!(
        cm.record(5, 0).unwrap_err().to_string(),
        "true class 5 is out of range for a confusion matrix of 3 classes (0..=2)"
    );
    // Its flat index is that of (2, 2).
    assert_eq!(
        cm.record(1, 5).unwrap_err().to_string(),
        "predicted class 5 is out of range for a confusion matrix of 3 classes (0..=2)"
    );
    assert_eq!(cm, before);
    assert_eq!(cm.get(2, 2), 0);
}

#[test]
fn tokens_over_an_empty_vocabulary_are_refused_without_panicking() {
    assert_eq!(
        Tokens::<3, 0>::new([0, 1, 2]).unwrap_err().to_string(),
        "token id 0 at position 0 is out of range for a vocabulary of 0 (no ids)"
    );
}

/// The errors of the public fallible functions that are not `dl::Error` convert into it with
/// `?`, keeping their message.
#[test]
fn every_error_converts_into_dl_error_with_its_message() {
    use dl::data::text::TextVectorizer;
    fn message(r: dl::Result<()>) -> String {
        r.unwrap_err().to_string()
    }
    let tokens = || -> dl::Result<()> {
        Tokens::<2, 3>::from_slice(&[1])?;
        Ok(())
    };
    assert_eq!(message(tokens()), "expected 2 token ids, found 1");
    let vectorized = || -> dl::Result<()> {
        TextVectorizer::fit(["a b c d"], 10)?.vectorize::<4, 3>("a")?;
        Ok(())
    };
    assert_eq!(
        message(vectorized()),
        "the vectorizer has 6 ids but the network's Embedding takes 3"
    );
    let recorded = || -> dl::Result<()> { Ok(ConfusionMatrix::new(2).record(0, 2)?) };
    assert_eq!(
        message(recorded()),
        "predicted class 2 is out of range for a confusion matrix of 2 classes (0..=1)"
    );
    let validated = || -> dl::Result<()> { Ok(Adam::new(f32::NAN).validate()?) };
    assert!(matches!(validated(), Err(dl::Error::BadHyperparameter(_))));
    let clipped = || -> dl::Result<()> { Ok(dl::Clip::Norm(0.0).validate()?) };
    assert!(message(clipped()).starts_with("Clip::Norm(0)"));
    let restored = || -> dl::Result<()> { Ok(Adam::default().load_state(&[], &[])?) };
    assert_eq!(
        message(restored()),
        "optimizer state: missing state buffer `m` of adam"
    );
    let parsed = || -> dl::Result<()> {
        dl::data::idx::parse(&[0, 0])?;
        Ok(())
    };
    assert!(message(parsed()).starts_with("<bytes>: file is shorter"));
}
