use super::feed::{Feed, Gathered};
use super::parallel::{Batch, Parallel, Shards, Then, forward_backward};
use super::update::{Refused, Update, apply};
use crate::denormals::FlushDenormals;
use crate::error::Result;
use crate::layers::draw_key;
use crate::loss::Loss;
use crate::model::Model;
use crate::optim::{Clip, Optimizer};
use crate::sample::Sample;

/// Loss and accuracy counts of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchStats {
    /// Samples in the batch.
    pub samples: usize,
    /// Sum of the per-sample losses (each times its weight, for weighted samples), each
    /// including the weight regularizers' penalty (Keras's loss is the mean loss plus the
    /// penalty).
    pub loss_sum: f32,
    /// Correctly classified samples (0 for regression losses).
    pub correct: usize,
}

impl BatchStats {
    /// The stats with the regularizers' `penalty` added to each sample's loss.
    pub(crate) fn with_penalty(self, penalty: f32) -> Self {
        BatchStats {
            loss_sum: self.loss_sum + penalty * self.samples as f32,
            ..self
        }
    }

    /// Mean loss over the batch.
    pub fn loss(&self) -> f32 {
        self.loss_sum / self.samples as f32
    }
}

/// A network's training state apart from its weights: loss, optimizer, clipping, and the
/// buffers of a batch, reused from step to step so that a step allocates nothing after the
/// first batch. Keras's `compile` plus `train_on_batch`.
pub struct Trainer<M: Model, L: Loss<M::Head>, O: Optimizer> {
    /// The loss being minimised.
    pub loss: L,
    /// The update rule.
    pub optimizer: O,
    /// Gradient clipping, if any.
    pub clip: Option<Clip>,
    workspace: M::Workspace,
    grads: M,
    /// The batch being trained on.
    batch: Gathered<<M::Input as Sample>::Elem, L::Target>,
    /// The weights and optimizer state before the current update, to restore if it is not
    /// finite.
    backup: Vec<f32>,
    steps: usize,
    parallel: Parallel,
    /// Buffers of the other shards when [`Parallel`] cuts batches into more than one.
    shards: Option<Shards<M, L, O>>,
}

impl<M: Model, L: Loss<M::Head>, O: Optimizer> Trainer<M, L, O> {
    /// A trainer for networks of type `M`, stepping on one thread.
    pub fn new(loss: L, optimizer: O, clip: Option<Clip>) -> Self {
        super::debug_build::note::<M>();
        Trainer {
            loss,
            optimizer,
            clip,
            workspace: M::Workspace::default(),
            grads: M::zeros(),
            batch: Gathered::default(),
            backup: Vec::new(),
            steps: 0,
            parallel: Parallel::default(),
            shards: None,
        }
    }

    /// The same trainer, spreading each batch over shards as `parallel` says. Errors if
    /// `parallel.shards` is 0 or the thread pool cannot start. For example
    /// `Trainer::new(loss, Adam::default(), None).with_parallel(Parallel::new(2))?` cuts each
    /// batch in two halves run on rayon's global pool.
    pub fn with_parallel(mut self, parallel: Parallel) -> Result<Self>
    where
        // Shards share the network across threads, and send their gradients back.
        M: Send + Sync,
    {
        self.shards = Shards::new(parallel)?;
        self.parallel = parallel;
        Ok(self)
    }

    /// [`Trainer::with_parallel`] in place; keeps the shards' buffers when `parallel` is what
    /// the trainer already has.
    pub(crate) fn set_parallel(&mut self, parallel: Parallel) -> Result<()>
    where
        M: Send + Sync,
    {
        if parallel != self.parallel {
            self.shards = Shards::new(parallel)?;
            self.parallel = parallel;
        }
        Ok(())
    }

    /// How steps are spread over shards and threads, as set by [`Trainer::with_parallel`].
    pub fn parallel(&self) -> Parallel {
        self.parallel
    }

    /// The gradients of the last step, with the network's structure.
    pub fn gradients(&self) -> &M {
        match &self.shards {
            Some(shards) => shards.gradients(),
            None => &self.grads,
        }
    }

    /// Steps taken: the number of the next step, counting from 0. Dropout draws the masks of
    /// a step from its number (and each sample's place in the batch), whatever was drawn
    /// before; [`fit`](super::fit) sets it to `initial_epoch × batches per epoch` so that a
    /// resumed run draws what an uninterrupted one did.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Sets the number of the next step ([`Trainer::steps`]), to resume a custom training loop
    /// with the dropout masks it would have drawn had it not stopped.
    pub fn set_steps(&mut self, steps: usize) {
        self.steps = steps;
    }

    /// Trains on one batch: the whole of `x` and `y`. Checks the data, the optimizer's
    /// hyperparameters and the clipping bound first. A step whose loss, gradient or result is
    /// not finite is an `Err`, and leaves the weights and the optimizer's state as they were.
    pub fn train_on_batch(&mut self, model: &mut M, x: &[M::Input], y: &[L::Target]) -> Result<BatchStats> {
        super::check_labels("the batch", x, y, &self.loss)?;
        // Every call: the optimizer and the clipping are public fields, changeable in between.
        super::check_hyperparameters(&self.optimizer, self.clip)?;
        self.batch.gather_checked("the batch", x, y)?;
        self.step(model)
            .map_err(|r| super::refused(r, 1, self.steps.wrapping_add(1)))
    }

    /// Computes the loss and gradients of a batch (in training mode) without updating the
    /// weights or the state (moving statistics).
    pub fn compute_gradients(&mut self, model: &M, x: &[M::Input], y: &[L::Target]) -> Result<BatchStats> {
        super::check_labels("the batch", x, y, &self.loss)?;
        let _flush = FlushDenormals::new();
        self.batch.gather_checked("the batch", x, y)?;
        if let Some(shards) = &mut self.shards {
            let batch = Batch {
                step: self.steps,
                loss: &self.loss,
                x: &self.batch.x,
                y: &self.batch.y,
                weights: &self.batch.w,
                workspace: &mut self.workspace,
                grads: &mut self.grads,
            };
            let stats = shards.run(batch, Then::Gradients(model));
            return Ok(stats.expect("computing gradients refuses nothing"));
        }
        Ok(self.forward_backward(model))
    }

    /// Forward and backward of the gathered batch on the calling thread: one shard that is
    /// the whole batch.
    fn forward_backward(&mut self, model: &M) -> BatchStats {
        let batch = self.batch.y.len();
        M::set_stream(&mut self.workspace, draw_key(self.steps, 0));
        let stats = forward_backward(
            model,
            &self.loss,
            &self.batch.x,
            &self.batch.y,
            &self.batch.w,
            batch,
            &mut self.workspace,
            &mut self.grads,
        );
        // Keras's loss is the mean loss plus the weight regularizers' penalty.
        stats.with_penalty(model.regularize(Some(&mut self.grads)))
    }

    /// Visits the outputs of the last step's forward pass (training mode, before its update;
    /// backward passes leave them) with their labels, shard by shard in batch order.
    pub(crate) fn outputs(&mut self, mut f: impl FnMut(&L, &[f32], &[L::Target])) {
        let (loss, targets) = (&self.loss, &self.batch.y);
        let mut at = 0;
        let mut visit = |ws: &mut M::Workspace, n: usize| {
            if n > 0 {
                let (head, _) = M::head(ws);
                f(loss, head.y, &targets[at..at + n]);
                at += n;
            }
        };
        match &mut self.shards {
            Some(shards) => shards.each_workspace(&mut self.workspace, visit),
            None => visit(&mut self.workspace, targets.len()),
        }
    }

    /// Gathers the next batch of at most `n` samples from `feed`: how many (0 at the end of
    /// the epoch).
    pub(crate) fn fill<F>(&mut self, feed: &mut F, n: usize) -> Result<usize>
    where
        F: Feed<M::Input, M::Head, L> + ?Sized,
    {
        feed.fill(n, &mut self.batch, &self.loss)
    }

    /// One step over the gathered batch; on `Err` (a non-finite loss, gradient or result) the
    /// weights, the optimizer's state and the moving statistics are left untouched.
    pub(crate) fn step(&mut self, model: &mut M) -> Result<BatchStats, Refused> {
        let _flush = FlushDenormals::new();
        let stats = if let Some(shards) = &mut self.shards {
            let update = Update {
                optimizer: &mut self.optimizer,
                clip: self.clip,
                backup: &mut self.backup,
            };
            let batch = Batch {
                step: self.steps,
                loss: &self.loss,
                x: &self.batch.x,
                y: &self.batch.y,
                weights: &self.batch.w,
                workspace: &mut self.workspace,
                grads: &mut self.grads,
            };
            shards.run(batch, Then::Step(model, update))?
        } else {
            let stats = self.forward_backward(model);
            if !stats.loss_sum.is_finite() {
                return Err(Refused::Loss(stats.loss_sum));
            }
            let update = Update {
                optimizer: &mut self.optimizer,
                clip: self.clip,
                backup: &mut self.backup,
            };
            apply(model, &mut self.grads, update, 1, None)?;
            stats
        };
        // Moving statistics follow only the steps that were taken: a rejected step (non-finite
        // loss or weights) leaves them with the weights, untouched.
        model.update_state(&self.workspace);
        self.steps = self.steps.wrapping_add(1);
        Ok(stats)
    }
}
