use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::callbacks::{BatchLog, Callback, Runner};
use super::evaluate::check_weights;
use super::history::{EpochLog, History};
use super::parallel::Parallel;
use super::progress::Progress;
use super::trainer::BatchStats;
use super::trainer::Trainer;
use super::update::Refused;
use super::{check_data, evaluate, evaluate_weighted};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::model::Model;
use crate::optim::{Clip, Optimizer};

/// The arguments of Keras's `compile` and `fit` together. Build one with the loss and optimizer
/// and take the rest from `..Fit::default()`.
///
/// `X` is the network's input type and `T` the loss's label type; both are inferred.
#[derive(Debug)]
pub struct Fit<'v, X, T, L, O> {
    /// The loss to minimise.
    pub loss: L,
    /// The update rule.
    pub optimizer: O,
    /// The epoch to end at, counting from the start of the whole training (default 1): `fit`
    /// runs epochs `initial_epoch + 1 ..= epochs`, as Keras's `fit` does.
    pub epochs: usize,
    /// Epochs already done, when resuming (default 0; Keras's `initial_epoch`). Together with
    /// the weights and the optimizer restored by
    /// [`load_checkpoint`](crate::weights::load_checkpoint), training continues bit for bit as
    /// if it had not stopped, because the shuffle of epoch `e` depends only on `seed` and `e`.
    pub initial_epoch: usize,
    /// Samples per gradient step (default 32).
    pub batch_size: usize,
    /// Reshuffle the training samples before each epoch (default true).
    pub shuffle: bool,
    /// Seed of the shuffling, so that runs are reproducible. Epoch `e` (1-based) shuffles with
    /// its own ChaCha8 stream, number `e` under the key derived from `seed`, so its order does
    /// not depend on the epochs before it.
    pub seed: u64,
    /// Fraction of the samples, taken from the end before shuffling as Keras does, held out to
    /// validate after each epoch.
    pub validation_split: f32,
    /// Separate validation data (takes precedence over `validation_split`).
    pub validation_data: Option<(&'v [X], &'v [T])>,
    /// Gradient clipping.
    pub clip: Option<Clip>,
    /// Show a progress bar (only when stderr is a terminal) and a line per epoch.
    pub verbose: bool,
    /// Save a checkpoint (weights, optimizer state and epoch) to this file after every epoch,
    /// atomically, with [`save_checkpoint`](crate::weights::save_checkpoint); resume from it
    /// with [`load_checkpoint`](crate::weights::load_checkpoint) and `initial_epoch`.
    pub checkpoint: Option<PathBuf>,
    /// How each batch is spread over cores (default: one shard on the calling thread). See
    /// [`Parallel`]: the shards fix the result, the threads only the speed.
    pub parallel: Parallel,
    /// One weight per training sample (Keras's `sample_weight`): each sample's loss counts
    /// that many times, summed over the batch's size as Keras's default reduction does, and
    /// accuracy is the weighted share. With `validation_split` the held-out samples keep their
    /// weights for the validation loss. Finite, at least 0, not all 0. Accuracy stays unweighted,
    /// as Keras's `metrics` are (it weighs only `weighted_metrics`).
    pub sample_weight: Option<&'v [f32]>,
    /// One weight per class (Keras's `class_weight`, indexed by class): each training sample
    /// weighs what its class does. Training only, as in Keras; not together with
    /// `sample_weight`. Needs a classification loss.
    pub class_weight: Option<&'v [f32]>,
    /// Keras's callbacks ([`EarlyStopping`](super::EarlyStopping),
    /// [`ModelCheckpoint`](super::ModelCheckpoint), …, or your own [`Callback`]), called in
    /// order at each hook. Pass `Box::new(&mut callback)` to read a callback after `fit`.
    pub callbacks: Vec<Box<dyn Callback + 'v>>,
}

impl<X, T, L: Default, O: Default> Default for Fit<'_, X, T, L, O> {
    fn default() -> Self {
        Fit {
            loss: L::default(),
            optimizer: O::default(),
            epochs: 1,
            initial_epoch: 0,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            validation_split: 0.0,
            validation_data: None,
            clip: None,
            verbose: true,
            checkpoint: None,
            parallel: Parallel::default(),
            callbacks: Vec::new(),
            sample_weight: None,
            class_weight: None,
        }
    }
}

/// Trains `model` on `x`, `y` as Keras's `fit` does and returns the per-epoch history.
///
/// Every check happens before the first step: an `Err` names the problem and leaves the weights
/// untouched. The data, `batch_size`, `validation_split`, `initial_epoch`, the optimizer's
/// hyperparameters ([`Optimizer::validate`]) and the clipping bound ([`Clip::validate`]) are
/// checked. A `parallel` setting with no shards, or whose threads cannot start, is an `Err`
/// before the first step too.
///
/// Every step is checked: if the loss turns NaN or infinite, or the gradient, or the weights or
/// optimizer state the update would give, training stops without applying that batch, the
/// weights and the optimizer's state stay those of the last good step, and the error names the
/// epoch and batch. So `Ok` always comes with finite weights. If saving a checkpoint fails,
/// training stops after that epoch with the error.
///
/// Runs epochs `initial_epoch + 1 ..= epochs` (none if `initial_epoch == epochs`; an `Err` if
/// it is past `epochs`); the history has one entry per epoch run.
///
/// The optimizer is `cfg.optimizer`, so its state ends with this call; to keep it across calls,
/// as Keras's `fit` does after `compile`, train a [`Compiled`](super::Compiled) model.
pub fn fit<M, L, O>(
    model: &mut M,
    x: &[M::Input],
    y: &[L::Target],
    cfg: Fit<'_, M::Input, L::Target, L, O>,
) -> Result<History>
where
    M: Model + Send + Sync,
    L: Loss<M::Head>,
    O: Optimizer,
{
    let (loss, optimizer, cfg) = cfg.split();
    let mut trainer = Trainer::<M, L, O>::new(loss, optimizer, None);
    run(&mut trainer, model, x, y, cfg)
}

impl<'v, X, T, L, O> Fit<'v, X, T, L, O> {
    /// The loss, the optimizer, and the rest of the arguments.
    pub(crate) fn split(self) -> (L, O, Fit<'v, X, T, (), ()>) {
        let Fit {
            loss,
            optimizer,
            epochs,
            initial_epoch,
            batch_size,
            shuffle,
            seed,
            validation_split,
            validation_data,
            clip,
            verbose,
            checkpoint,
            parallel,
            callbacks,
            sample_weight,
            class_weight,
        } = self;
        let rest = Fit {
            loss: (),
            optimizer: (),
            epochs,
            initial_epoch,
            batch_size,
            shuffle,
            seed,
            validation_split,
            validation_data,
            clip,
            verbose,
            checkpoint,
            parallel,
            callbacks,
            sample_weight,
            class_weight,
        };
        (loss, optimizer, rest)
    }
}

/// [`fit`] with the loss and optimizer of `trainer`, whose optimizer continues from the state
/// it is in and keeps the state it ends in.
pub(crate) fn run<M, L, O>(
    trainer: &mut Trainer<M, L, O>,
    model: &mut M,
    x: &[M::Input],
    y: &[L::Target],
    cfg: Fit<'_, M::Input, L::Target, (), ()>,
) -> Result<History>
where
    M: Model + Send + Sync,
    L: Loss<M::Head>,
    O: Optimizer,
{
    if cfg.batch_size == 0 {
        return Err(Error::ZeroBatchSize);
    }
    if cfg.initial_epoch > cfg.epochs {
        return Err(Error::InitialEpochPastEpochs {
            initial_epoch: cfg.initial_epoch,
            epochs: cfg.epochs,
        });
    }
    super::check_hyperparameters(&trainer.optimizer, cfg.clip)?;
    super::check_adapted(model)?;
    check_data("the training data", x, y, &trainer.loss)?;
    let weights = sample_weights(&trainer.loss, y, cfg.sample_weight, cfg.class_weight)?;
    let split = cfg.validation_split;
    let (train_x, train_y, val) = match cfg.validation_data {
        Some((vx, vy)) => {
            check_data("validation_data", vx, vy, &trainer.loss)?;
            (x, y, Some((vx, vy)))
        }
        None if split == 0.0 => (x, y, None),
        None => {
            let n = x.len();
            let at = ((n as f64) * (1.0 - split as f64)).ceil() as usize;
            if !(0.0..1.0).contains(&split) || at == 0 || at >= n {
                return Err(Error::BadValidationSplit { split, samples: n });
            }
            (&x[..at], &y[..at], Some((&x[at..], &y[at..])))
        }
    };
    let (train_w, val_w) = match (weights.is_empty(), val, cfg.sample_weight) {
        (false, Some(_), Some(_)) if cfg.validation_data.is_none() => {
            let (t, v) = weights.split_at(train_x.len());
            check_weights("sample_weight (the validation_split part)", v, v.len())?;
            (t, v)
        }
        _ => (&weights[..weights.len().min(train_x.len())], &[][..]),
    };
    if !train_w.is_empty() {
        let what = match cfg.class_weight {
            Some(_) => "class_weight (on the training part)",
            None => "sample_weight (the training part)",
        };
        check_weights(what, train_w, train_x.len())?;
    }
    trainer.set_parallel(cfg.parallel)?;
    trainer.clip = cfg.clip;
    let mut order: Vec<usize> = (0..train_x.len()).collect();
    let batches = train_x.len().div_ceil(cfg.batch_size);
    // The steps an uninterrupted run would have taken before `initial_epoch`: dropout masks
    // follow the step number, so a resumed run draws what it would have drawn. (Wrapping: the
    // masks only need a number that agrees with the uninterrupted run's.)
    trainer.set_steps(cfg.initial_epoch.wrapping_mul(batches));
    let classifies = trainer.loss.classes().is_some();
    let mut history = History::default();
    let mut keys = vec!["loss"];
    keys.extend(classifies.then_some("accuracy"));
    if val.is_some() {
        keys.push("val_loss");
        keys.extend(classifies.then_some("val_accuracy"));
    }
    keys.extend(trainer.optimizer.learning_rate().map(|_| "learning_rate"));
    let mut callbacks = cfg.callbacks;
    let mut runner = Runner {
        callbacks: &mut callbacks,
        stop: false,
        keys,
        epochs: cfg.epochs,
    };
    runner.call(model, &mut trainer.optimizer, |c, ctx| c.on_train_begin(ctx))?;

    // `initial_epoch + 1 ..= epochs` without computing `initial_epoch + 1`, which overflows
    // when both are `usize::MAX`.
    for epoch in (cfg.initial_epoch..cfg.epochs).map(|e| e + 1) {
        let start = Instant::now();
        runner.call(model, &mut trainer.optimizer, |c, ctx| {
            c.on_epoch_begin(epoch, ctx)
        })?;
        if cfg.shuffle {
            // A fresh permutation from a stream of its own, so that resuming at any epoch
            // shuffles exactly as an uninterrupted run does.
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
            rng.set_stream(epoch as u64);
            order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
            order.shuffle(&mut rng);
        }
        let mut progress = Progress::new(epoch, cfg.epochs, batches, cfg.verbose);
        let (mut seen, mut loss_sum, mut correct) = (0usize, 0.0f64, 0usize);
        for (b, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let batch = b + 1;
            runner.call(model, &mut trainer.optimizer, |c, ctx| {
                c.on_batch_begin(batch, ctx)
            })?;
            let step = trainer.step(model, train_x, train_y, train_w, chunk.iter().copied());
            let (stats, refused) = match step {
                Ok(stats) => (stats, None),
                Err(r) => {
                    let loss = match &r {
                        Refused::Loss(loss) => *loss,
                        Refused::Step(_) => f32::NAN,
                    };
                    let stats = BatchStats {
                        samples: chunk.len(),
                        loss_sum: loss,
                        ..BatchStats::default()
                    };
                    (stats, Some(r))
                }
            };
            seen += stats.samples;
            loss_sum += stats.loss_sum as f64;
            correct += stats.correct;
            let accuracy = classifies.then(|| correct as f32 / seen as f32);
            let log = BatchLog {
                epoch,
                batch,
                loss: (loss_sum / seen as f64) as f32,
                accuracy,
                refused: refused.is_some(),
            };
            progress.batch_done(batch, log.loss, accuracy);
            runner.call(model, &mut trainer.optimizer, |c, ctx| c.on_batch_end(&log, ctx))?;
            if let Some(r) = refused.filter(|_| !runner.stop) {
                progress.abandon();
                return Err(super::refused(r, epoch, batch));
            }
            if runner.stop {
                break;
            }
        }
        let mut log = EpochLog {
            epoch,
            loss: (loss_sum / seen as f64) as f32,
            accuracy: classifies.then(|| correct as f32 / seen as f32),
            val_loss: None,
            val_accuracy: None,
            learning_rate: trainer.optimizer.learning_rate(),
            seconds: 0.0,
        };
        if let Some((vx, vy)) = val {
            let e = match val_w.is_empty() {
                true => evaluate(model, vx, vy, &trainer.loss)?,
                false => evaluate_weighted(model, vx, vy, &trainer.loss, val_w)?,
            };
            log.val_loss = Some(e.loss);
            log.val_accuracy = e.accuracy;
        }
        log.seconds = start.elapsed().as_secs_f64();
        progress.finish(&log);
        if let Some(path) = &cfg.checkpoint {
            crate::weights::save_checkpoint(model, &trainer.optimizer, epoch, path)?;
        }
        runner.call(model, &mut trainer.optimizer, |c, ctx| c.on_epoch_end(&log, ctx))?;
        history.epochs.push(log);
        if runner.stop {
            break;
        }
    }
    runner.call(model, &mut trainer.optimizer, |c, ctx| c.on_train_end(ctx))?;
    Ok(history)
}

/// The weight of every sample of `y` from `fit`'s `sample_weight` or `class_weight` (empty for
/// neither), checked.
fn sample_weights<H: crate::head::Head, L: Loss<H>>(
    loss: &L,
    y: &[L::Target],
    sample_weight: Option<&[f32]>,
    class_weight: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let bad = |what, message: String| Err(Error::BadWeights { what, message });
    match (sample_weight, class_weight) {
        (None, None) => Ok(Vec::new()),
        (Some(_), Some(_)) => bad(
            "class_weight",
            "cannot be given together with sample_weight (Keras refuses it too); fold the class weights \
             into sample_weight"
                .into(),
        ),
        (Some(w), None) => {
            check_weights("sample_weight", w, y.len())?;
            Ok(w.to_vec())
        }
        (None, Some(cw)) => {
            let Some(classes) = loss.classes() else {
                return bad(
                    "class_weight",
                    format!("the loss {} does not classify", loss.name()),
                );
            };
            if cw.len() != classes {
                return bad(
                    "class_weight",
                    format!("{} weights for {classes} classes", cw.len()),
                );
            }
            if let Some(c) = cw.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
                return bad(
                    "class_weight",
                    format!(
                        "class {c} weighs {}; weights must be finite and at least 0",
                        cw[c]
                    ),
                );
            }
            let w: Vec<f32> = y.iter().map(|t| cw[loss.target_class(t)]).collect();
            check_weights("class_weight", &w, y.len())?;
            Ok(w)
        }
    }
}
