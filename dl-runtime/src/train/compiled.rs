use std::ops::{Deref, DerefMut};
use std::path::Path;

use super::evaluate::{Evaluation, evaluate};
use super::fit::{Fit, run, run_stream};
use super::history::History;
use super::trainer::Trainer;
use crate::data::stream::Source;
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::model::Model;
use crate::optim::Optimizer;

/// A network with its loss and optimizer, as after Keras's `compile`: the optimizer lives with
/// the network, so a second [`fit`](Compiled::fit) continues from the state the first left
/// (Adam's moments and step count), and [`reset_optimizer`](Compiled::reset_optimizer) starts
/// it afresh. Dereferences to the network, so `forward`, `predict`, `save` and `summary` are
/// called on it directly.
///
/// ```
/// # use dl_runtime::prelude::*;
/// # use dl_runtime::train::Compiled;
/// # fn demo<M: Model<Head = dl_runtime::Units<3>> + Send + Sync>(
/// #     net: M, x: &[M::Input], y: &[usize],
/// # ) -> dl_runtime::Result<()> {
/// let mut model = net.compile(SparseCategoricalCrossEntropy::default(), Adam::default());
/// model.fit(x, y, Fit { epochs: 5, ..Fit::default() })?;
/// // Epochs 6 to 10, with the moments and step count where epoch 5 left them.
/// model.fit(x, y, Fit { initial_epoch: 5, epochs: 10, ..Fit::default() })?;
/// assert_eq!(model.optimizer().iterations() as usize, 10 * x.len().div_ceil(32));
/// # Ok(()) }
/// ```
pub struct Compiled<M: Model, L: Loss<M::Head>, O: Optimizer> {
    net: M,
    trainer: Trainer<M, L, O>,
}

/// Keras's `model.compile(optimizer, loss)` as a method of every network.
pub trait Compile: Model {
    /// This network with its loss and optimizer: see [`Compiled`].
    fn compile<L: Loss<Self::Head>, O: Optimizer>(self, loss: L, optimizer: O) -> Compiled<Self, L, O> {
        Compiled::new(self, loss, optimizer)
    }
}

impl<M: Model> Compile for M {}

impl<M: Model, L: Loss<M::Head>, O: Optimizer> Compiled<M, L, O> {
    /// `net` with `loss` and `optimizer`, whose state (fresh or restored) the first `fit`
    /// starts from.
    pub fn new(net: M, loss: L, optimizer: O) -> Self {
        Compiled {
            net,
            trainer: Trainer::new(loss, optimizer, None),
        }
    }

    /// Trains as [`fit`](super::fit) does with the compiled loss and optimizer; `cfg` has no
    /// loss or optimizer of its own (write `Fit { epochs: 5, ..Fit::default() }`). The optimizer
    /// continues from its state and keeps the state it ends in, also when training stops with
    /// an `Err` (then it is the state of the last good step).
    pub fn fit(
        &mut self,
        x: &[M::Input],
        y: &[L::Target],
        cfg: Fit<'_, M::Input, L::Target, (), ()>,
    ) -> Result<History>
    where
        M: Send + Sync,
    {
        run(&mut self.trainer, &mut self.net, x, y, cfg)
    }

    /// Trains on the samples `source` yields as [`fit_stream`](super::fit_stream) does, with
    /// the compiled loss and optimizer, which continues as with [`fit`](Compiled::fit).
    pub fn fit_stream(
        &mut self,
        source: &mut dyn Source<M::Input, L::Target>,
        cfg: Fit<'_, M::Input, L::Target, (), ()>,
    ) -> Result<History>
    where
        M: Send + Sync,
    {
        run_stream(&mut self.trainer, &mut self.net, source, cfg)
    }

    /// Loss, accuracy and confusion matrix on the samples `source` yields, with the compiled
    /// loss, as [`evaluate_stream`](super::evaluate_stream).
    pub fn evaluate_stream(&self, source: &mut dyn Source<M::Input, L::Target>) -> Result<Evaluation> {
        super::evaluate_stream(&self.net, source, &self.trainer.loss)
    }

    /// Loss, accuracy and confusion matrix on `x`, `y` with the compiled loss.
    pub fn evaluate(&self, x: &[M::Input], y: &[L::Target]) -> Result<Evaluation> {
        evaluate(&self.net, x, y, &self.trainer.loss)
    }

    /// [`evaluate`](Compiled::evaluate) with Keras's metrics too, as
    /// [`evaluate_with`](super::evaluate_with).
    pub fn evaluate_with(
        &self,
        x: &[M::Input],
        y: &[L::Target],
        metrics: &[crate::metrics::Metric],
    ) -> Result<Evaluation> {
        super::evaluate_with(&self.net, x, y, &self.trainer.loss, metrics)
    }

    /// [`evaluate`](Compiled::evaluate) with one weight per sample, as
    /// [`evaluate_weighted`](super::evaluate_weighted).
    pub fn evaluate_weighted(
        &self,
        x: &[M::Input],
        y: &[L::Target],
        sample_weight: &[f32],
    ) -> Result<Evaluation> {
        super::evaluate_weighted(&self.net, x, y, &self.trainer.loss, sample_weight)
    }

    /// The optimizer, with the state training left it in.
    pub fn optimizer(&self) -> &O {
        &self.trainer.optimizer
    }

    /// The optimizer, to change a hyperparameter between `fit` calls.
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.trainer.optimizer
    }

    /// The compiled loss.
    pub fn loss(&self) -> &L {
        &self.trainer.loss
    }

    /// Starts the optimizer afresh ([`Optimizer::reset`]): the next `fit` trains as the first
    /// did, from the current weights.
    pub fn reset_optimizer(&mut self) -> Result<()> {
        self.trainer.optimizer.reset().map_err(Error::from)
    }

    /// The trainer behind `fit`, for a custom loop (`train_on_batch`) that shares the
    /// optimizer's state with `fit`.
    pub fn trainer(&mut self) -> (&mut M, &mut Trainer<M, L, O>) {
        (&mut self.net, &mut self.trainer)
    }

    /// Saves the weights, the optimizer's state and `epoch` as
    /// [`save_checkpoint`](crate::weights::save_checkpoint) does.
    pub fn save_checkpoint(&self, epoch: usize, path: impl AsRef<Path>) -> Result<()> {
        crate::weights::save_checkpoint(&self.net, &self.trainer.optimizer, epoch, path)
    }

    /// Restores the weights and the optimizer's state from a checkpoint and returns its epoch,
    /// for `fit`'s `initial_epoch`, as [`load_checkpoint`](crate::weights::load_checkpoint) does.
    pub fn load_checkpoint(&mut self, path: impl AsRef<Path>) -> Result<usize> {
        crate::weights::load_checkpoint(&mut self.net, &mut self.trainer.optimizer, path)
    }

    /// The network, leaving the loss and optimizer behind.
    pub fn into_net(self) -> M {
        self.net
    }
}

impl<M: Model, L: Loss<M::Head>, O: Optimizer> Deref for Compiled<M, L, O> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.net
    }
}

impl<M: Model, L: Loss<M::Head>, O: Optimizer> DerefMut for Compiled<M, L, O> {
    fn deref_mut(&mut self) -> &mut M {
        &mut self.net
    }
}
