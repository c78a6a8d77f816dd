use std::path::PathBuf;
use std::time::Instant;

use super::callbacks::{BatchLog, Callback, LogKey, Runner};
use super::check_data;
use super::epoch_metrics::EpochMetrics;
use super::evaluate::{check_weights, measure};
use super::feed::{Feed, Slices, Stream};
use super::history::{EpochLog, History};
use super::parallel::Parallel;
use super::progress::Progress;
use super::trainer::BatchStats;
use super::trainer::Trainer;
use super::update::Refused;
use crate::data::stream::Source;
use crate::error::{Error, Result};
use crate::head::Head;
use crate::loss::Loss;
use crate::metrics::Metric;
use crate::model::Model;
use crate::optim::{Clip, Optimizer};
use crate::sample::Sample;

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
    /// Reshuffle the training samples before each epoch (default true). A stream
    /// ([`fit_stream`]) shuffles through its shuffle buffer, and is an `Err` without one.
    pub shuffle: bool,
    /// Seed of the shuffling, so that runs are reproducible. Epoch `e` (1-based) shuffles with
    /// its own ChaCha8 stream, number `e` under the key derived from `seed`, so its order does
    /// not depend on the epochs before it.
    pub seed: u64,
    /// Fraction of the samples, taken from the end before shuffling as Keras does, held out to
    /// validate after each epoch. A stream cannot be split: an `Err` with [`fit_stream`].
    pub validation_split: f32,
    /// Separate validation data (takes precedence over `validation_split`).
    pub validation_data: Option<(&'v [X], &'v [T])>,
    /// Validation data read from a [`Source`] after each epoch, in stored order, for a
    /// validation set too large for memory: `Some(&mut source)`. Instead of `validation_data`
    /// (giving both is an `Err`); takes precedence over `validation_split`.
    pub validation_stream: Option<&'v mut dyn Source<X, T>>,
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
    /// Keras's `metrics` beyond accuracy ([`Metric::precision`], [`Metric::auc`], …), computed
    /// over each epoch's batches as the weights change (training) and on the validation data
    /// after it, into [`EpochLog::metrics`] under their keys (`auc`, `val_auc`), for the
    /// history, the progress line and callbacks. Checked against the loss before the first
    /// step.
    pub metrics: Vec<Metric>,
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
            validation_stream: None,
            clip: None,
            verbose: true,
            checkpoint: None,
            parallel: Parallel::default(),
            callbacks: Vec::new(),
            sample_weight: None,
            class_weight: None,
            metrics: Vec::new(),
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
            validation_stream,
            clip,
            verbose,
            checkpoint,
            parallel,
            callbacks,
            sample_weight,
            class_weight,
            metrics,
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
            validation_stream,
            clip,
            verbose,
            checkpoint,
            parallel,
            callbacks,
            sample_weight,
            class_weight,
            metrics,
        };
        (loss, optimizer, rest)
    }
}

/// Trains `model` on the samples `source` yields, as [`fit`] trains on slices, for data that
/// does not fit in memory: each epoch reads the source from the start again, and memory stays
/// at a batch plus what the source keeps (its shuffle buffer), however many samples it yields.
///
/// A source read in the same order as slices trains to the same weights bit for bit. With
/// `shuffle: true` (the default) the source must shuffle, through a shuffle buffer
/// ([`Source::shuffle`]), whose order depends only on `seed` and the epoch, so a run resumed
/// from a checkpoint reads what an uninterrupted one did; `shuffle: false` reads it in stored
/// order. Resuming (`initial_epoch` > 0) needs the number of samples per epoch
/// ([`Source::epoch_len`]).
///
/// Validation comes from `validation_data` or `validation_stream`; `validation_split` cannot
/// split a stream (Keras refuses it for generators too) and `sample_weight` cannot be matched
/// to one, so both are an `Err`; `class_weight` weighs each sample by its label as it is read.
/// Callbacks, checkpoints and [`Parallel`] work as with slices.
///
/// Samples are checked as they are read: a read error, a label the loss cannot use or a
/// non-finite input stops training at once with an `Err` naming the source, the epoch and how
/// many samples it had read; the weights are those of the last good step.
///
/// ```
/// use dl::data::stream::{self, Source};
/// use dl::prelude::*;
///
/// dl::network! {
///     struct Net { input: [2], Dense(1, sigmoid) }
/// }
///
/// let mut net = Net::seeded(1);
/// // Opened afresh each epoch: a file reader would reopen its file here.
/// let mut source = stream::iter("xor-ish", || {
///     (0..1000).map(|i| {
///         let x = SVector::<f32, 2>::new((i % 7) as f32 / 7.0, (i % 3) as f32 / 3.0);
///         (x, f32::from(x[0] > x[1]))
///     })
/// })
/// .shuffle(256);
/// let history = dl::train::fit_stream(&mut net, &mut source, Fit {
///     loss: BinaryCrossEntropy::default(),
///     optimizer: Adam::default(),
///     epochs: 2,
///     verbose: false,
///     ..Fit::default()
/// })?;
/// assert_eq!(history.epochs.len(), 2);
/// # Ok::<(), dl::Error>(())
/// ```
pub fn fit_stream<M, L, O>(
    model: &mut M,
    source: &mut dyn Source<M::Input, L::Target>,
    cfg: Fit<'_, M::Input, L::Target, L, O>,
) -> Result<History>
where
    M: Model + Send + Sync,
    L: Loss<M::Head>,
    O: Optimizer,
{
    let (loss, optimizer, cfg) = cfg.split();
    let mut trainer = Trainer::<M, L, O>::new(loss, optimizer, None);
    run_stream(&mut trainer, model, source, cfg)
}

/// The checks of `fit`'s own settings and of the trainer's hyperparameters.
fn check_settings<M: Model, L: Loss<M::Head>, O: Optimizer, X, T>(
    trainer: &Trainer<M, L, O>,
    cfg: &Fit<'_, X, T, (), ()>,
) -> Result<()> {
    if cfg.batch_size == 0 {
        return Err(Error::ZeroBatchSize);
    }
    if cfg.initial_epoch > cfg.epochs {
        return Err(Error::InitialEpochPastEpochs {
            initial_epoch: cfg.initial_epoch,
            epochs: cfg.epochs,
        });
    }
    super::check_hyperparameters(&trainer.optimizer, cfg.clip)
}

/// A feed of either kind.
type Boxed<'a, X, H, L> = Box<dyn Feed<X, H, L> + 'a>;

/// The validation data of `fit`: `validation_data`, `validation_stream`, or else the part
/// `validation_split` held out, with its weights.
fn validation<'a, 's: 'a, X: Sample, H: Head, L: Loss<H>>(
    loss: &L,
    data: Option<(&'a [X], &'a [L::Target])>,
    stream: Option<&'a mut (dyn Source<X, L::Target> + 's)>,
    held_out: Option<Slices<'a, X, L::Target>>,
) -> Result<Option<Boxed<'a, X, H, L>>> {
    Ok(match (data, stream) {
        (Some(_), Some(_)) => {
            return Err(Error::BadOption {
                option: "validation_stream",
                message: "give validation_data or validation_stream, not both".into(),
            });
        }
        (Some((vx, vy)), None) => {
            check_data("validation_data", vx, vy, loss)?;
            Some(Box::new(Slices::new(vx, vy, &[])))
        }
        (None, Some(source)) => Some(Box::new(Stream::new(source, None))),
        (None, None) => held_out.map(|s| Box::new(s) as Boxed<'_, X, H, L>),
    })
}

/// [`fit`] with the loss and optimizer of `trainer`, whose optimizer continues from the state
/// it is in and keeps the state it ends in.
pub(crate) fn run<M, L, O>(
    trainer: &mut Trainer<M, L, O>,
    model: &mut M,
    x: &[M::Input],
    y: &[L::Target],
    mut cfg: Fit<'_, M::Input, L::Target, (), ()>,
) -> Result<History>
where
    M: Model + Send + Sync,
    L: Loss<M::Head>,
    O: Optimizer,
{
    check_settings(trainer, &cfg)?;
    super::check_adapted(model)?;
    check_data("the training data", x, y, &trainer.loss)?;
    let weights = sample_weights(&trainer.loss, y, cfg.sample_weight, cfg.class_weight)?;
    let metrics = EpochMetrics::new::<M::Head, L>(&cfg.metrics, &trainer.loss, y.first())?;
    let split = cfg.validation_split;
    let given = cfg.validation_data.is_some() || cfg.validation_stream.is_some();
    let n = x.len();
    let at = if given || split == 0.0 {
        n
    } else {
        let at = ((n as f64) * (1.0 - split as f64)).ceil() as usize;
        if !(0.0..1.0).contains(&split) || at == 0 || at >= n {
            return Err(Error::BadValidationSplit { split, samples: n });
        }
        at
    };
    let (train_w, val_w) = match (weights.is_empty(), cfg.sample_weight) {
        (false, Some(_)) if at < n => {
            let (t, v) = weights.split_at(at);
            check_weights("sample_weight (the validation_split part)", v, v.len())?;
            (t, v)
        }
        _ => (&weights[..weights.len().min(at)], &[][..]),
    };
    if !train_w.is_empty() {
        let what = match cfg.class_weight {
            Some(_) => "class_weight (on the training part)",
            None => "sample_weight (the training part)",
        };
        check_weights(what, train_w, at)?;
    }
    let held_out = (at < n).then(|| Slices::new(&x[at..], &y[at..], val_w));
    let stream = cfg.validation_stream.take();
    let val = validation(&trainer.loss, cfg.validation_data, stream, held_out)?;
    let mut feed = Slices::new(&x[..at], &y[..at], train_w);
    epochs(trainer, model, &mut feed, val, metrics, cfg)
}

/// [`fit_stream`] with the loss and optimizer of `trainer`, as [`run`] is [`fit`].
pub(crate) fn run_stream<M, L, O>(
    trainer: &mut Trainer<M, L, O>,
    model: &mut M,
    source: &mut dyn Source<M::Input, L::Target>,
    mut cfg: Fit<'_, M::Input, L::Target, (), ()>,
) -> Result<History>
where
    M: Model + Send + Sync,
    L: Loss<M::Head>,
    O: Optimizer,
{
    check_settings(trainer, &cfg)?;
    super::check_adapted(model)?;
    if cfg.validation_split != 0.0 {
        return Err(Error::BadOption {
            option: "validation_split",
            message: "a stream cannot be split (Keras refuses it for generators too); give validation_data \
                      or validation_stream"
                .into(),
        });
    }
    if cfg.sample_weight.is_some() {
        return Err(Error::BadWeights {
            what: "sample_weight",
            message: "one weight per sample cannot be matched to a stream's samples; use class_weight".into(),
        });
    }
    if let Some(cw) = cfg.class_weight {
        check_class_weight(&trainer.loss, cw)?;
    }
    if cfg.shuffle && !source.shuffles() {
        return Err(Error::BadOption {
            option: "shuffle",
            message: format!(
                "`{}` has no shuffle buffer: read it through `.shuffle(buffer_size)`, or set shuffle: false \
                 to train in its stored order",
                source.name()
            ),
        });
    }
    // A stream's labels are checked against the metrics as they are read.
    let metrics = EpochMetrics::new::<M::Head, L>(&cfg.metrics, &trainer.loss, None)?;
    let stream = cfg.validation_stream.take();
    let val = validation(&trainer.loss, cfg.validation_data, stream, None)?;
    let name = source.name();
    let mut feed = Stream::new(source, cfg.class_weight);
    if cfg.initial_epoch > 0 && cfg.initial_epoch < cfg.epochs {
        // A resumed run numbers its steps from those the epochs before took.
        let first = cfg.initial_epoch + 1;
        Feed::<M::Input, M::Head, L>::start(&mut feed, Some(first), cfg.shuffle.then_some(cfg.seed))?;
        if Feed::<M::Input, M::Head, L>::samples(&feed).is_none() {
            return Err(Error::BadOption {
                option: "initial_epoch",
                message: format!(
                    "resuming numbers the steps of the epochs before, so it needs the samples per epoch, \
                     which `{name}` does not declare (Source::epoch_len)"
                ),
            });
        }
    }
    epochs(trainer, model, &mut feed, val, metrics, cfg)
}

/// The epochs of `fit` over the batches of `feed`, validated on `val` after each: the loop
/// that slices and streams share.
fn epochs<M, L, O>(
    trainer: &mut Trainer<M, L, O>,
    model: &mut M,
    feed: &mut dyn Feed<M::Input, M::Head, L>,
    mut val: Option<Boxed<'_, M::Input, M::Head, L>>,
    mut metrics: EpochMetrics,
    cfg: Fit<'_, M::Input, L::Target, (), ()>,
) -> Result<History>
where
    M: Model + Send + Sync,
    L: Loss<M::Head>,
    O: Optimizer,
{
    trainer.set_parallel(cfg.parallel)?;
    trainer.clip = cfg.clip;
    let shuffle = cfg.shuffle.then_some(cfg.seed);
    // The steps an uninterrupted run would have taken before `initial_epoch`: dropout masks
    // follow the step number, so a resumed run draws what it would have drawn. (Wrapping: the
    // masks only need a number that agrees with the uninterrupted run's.) A stream's count is
    // known here when resuming (`run_stream` started it).
    let batches = feed.samples().unwrap_or(0).div_ceil(cfg.batch_size);
    trainer.set_steps(cfg.initial_epoch.wrapping_mul(batches));
    let classifies = trainer.loss.classes().is_some();
    let mut history = History::default();
    let mut val_metrics = metrics.clone();
    let mut keys = log_keys(classifies, &metrics, "");
    if val.is_some() {
        keys.extend(log_keys(classifies, &metrics, "val_"));
    }
    keys.extend(
        trainer
            .optimizer
            .learning_rate()
            .map(|_| LogKey::plain("learning_rate")),
    );
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
        feed.start(Some(epoch), shuffle)?;
        let batches = feed.samples().map(|n| n.div_ceil(cfg.batch_size));
        let mut progress = Progress::new(epoch, cfg.epochs, batches, cfg.verbose);
        metrics.reset();
        let (mut seen, mut loss_sum, mut correct) = (0usize, 0.0f64, 0usize);
        let mut batch = 0;
        loop {
            let samples = trainer
                .fill(feed, cfg.batch_size)
                .inspect_err(|_| progress.abandon())?;
            if samples == 0 {
                break;
            }
            batch += 1;
            runner.call(model, &mut trainer.optimizer, |c, ctx| {
                c.on_batch_begin(batch, ctx)
            })?;
            let (stats, refused) = match trainer.step(model) {
                Ok(stats) => {
                    metrics
                        .update_from_step(trainer)
                        .inspect_err(|_| progress.abandon())?;
                    (stats, None)
                }
                Err(r) => {
                    let loss = match &r {
                        Refused::Loss(loss) => *loss,
                        Refused::Step(_) => f32::NAN,
                    };
                    let stats = BatchStats {
                        samples,
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
            progress.batch_done(batch, log.loss, accuracy, &metrics);
            runner.call(model, &mut trainer.optimizer, |c, ctx| c.on_batch_end(&log, ctx))?;
            if let Some(r) = refused.filter(|_| !runner.stop) {
                progress.abandon();
                return Err(super::refused(r, epoch, batch));
            }
            if runner.stop {
                break;
            }
        }
        if seen == 0 {
            // Only a stream can be empty: slices were checked.
            return Err(Error::EmptyData {
                what: "the training stream",
            });
        }
        let mut log = EpochLog {
            epoch,
            loss: (loss_sum / seen as f64) as f32,
            accuracy: classifies.then(|| correct as f32 / seen as f32),
            val_loss: None,
            val_accuracy: None,
            learning_rate: trainer.optimizer.learning_rate(),
            seconds: 0.0,
            metrics: metrics.entries(""),
        };
        if let Some(v) = val.as_deref_mut() {
            let e = measure(
                model,
                &trainer.loss,
                v,
                "the validation data",
                Some(&mut val_metrics),
            )?;
            log.val_loss = Some(e.loss);
            log.val_accuracy = e.accuracy;
            log.metrics.extend(val_metrics.entries("val_"));
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

/// The log keys of the loss, accuracy and metrics, each with `prefix`, in Keras's order.
fn log_keys(classifies: bool, metrics: &EpochMetrics, prefix: &str) -> Vec<LogKey> {
    let mut keys = vec![LogKey::plain(&format!("{prefix}loss"))];
    keys.extend(classifies.then(|| LogKey::plain(&format!("{prefix}accuracy"))));
    keys.extend(metrics.keys(prefix).into_iter().map(|(name, up)| LogKey {
        name,
        higher_is_better: Some(up),
    }));
    keys
}

/// The weight of every sample of `y` from `fit`'s `sample_weight` or `class_weight` (empty for
/// neither), checked.
fn sample_weights<H: Head, L: Loss<H>>(
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
            check_class_weight(loss, cw)?;
            let w: Vec<f32> = y.iter().map(|t| cw[loss.target_class(t)]).collect();
            check_weights("class_weight", &w, y.len())?;
            Ok(w)
        }
    }
}

/// Checks `fit`'s `class_weight` against the loss: one finite weight, at least 0, per class.
fn check_class_weight<H: Head, L: Loss<H>>(loss: &L, cw: &[f32]) -> Result<()> {
    let bad = |message: String| {
        Err(Error::BadWeights {
            what: "class_weight",
            message,
        })
    };
    let Some(classes) = loss.classes() else {
        return bad(format!("the loss {} does not classify", loss.name()));
    };
    if cw.len() != classes {
        return bad(format!("{} weights for {classes} classes", cw.len()));
    }
    if let Some(c) = cw.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
        return bad(format!(
            "class {c} weighs {}; weights must be finite and at least 0",
            cw[c]
        ));
    }
    Ok(())
}
