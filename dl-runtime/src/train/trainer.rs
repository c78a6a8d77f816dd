use super::parallel::{Parallel, Shards};
use crate::denormals::FlushDenormals;
use crate::error::{Error, Result};
use crate::finite::all_finite;
use crate::loss::Loss;
use crate::model::Model;
use crate::optim::{Clip, Optimizer};
use crate::sample::Sample;

/// Loss and accuracy counts of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchStats {
    /// Samples in the batch.
    pub samples: usize,
    /// Sum of the per-sample losses.
    pub loss_sum: f32,
    /// Correctly classified samples (0 for regression losses).
    pub correct: usize,
}

impl BatchStats {
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
    x: Vec<<M::Input as Sample>::Elem>,
    y: Vec<L::Target>,
    /// The weights before the current update, to restore if it overflows.
    backup: Vec<f32>,
    steps: usize,
    parallel: Parallel,
    /// Buffers of the other shards when [`Parallel`] cuts batches into more than one.
    shards: Option<Shards<M>>,
}

impl<M: Model, L: Loss<M::Head>, O: Optimizer> Trainer<M, L, O> {
    /// A trainer for networks of type `M`, stepping on one thread.
    pub fn new(loss: L, optimizer: O, clip: Option<Clip>) -> Self {
        Trainer {
            loss,
            optimizer,
            clip,
            workspace: M::Workspace::default(),
            grads: M::zeros(),
            x: Vec::new(),
            y: Vec::new(),
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

    /// How steps are spread over shards and threads, as set by [`Trainer::with_parallel`].
    pub fn parallel(&self) -> Parallel {
        self.parallel
    }

    /// The gradients of the last step, with the network's structure.
    pub fn gradients(&self) -> &M {
        &self.grads
    }

    /// Trains on one batch: the whole of `x` and `y`. Checks the data first.
    pub fn train_on_batch(&mut self, model: &mut M, x: &[M::Input], y: &[L::Target]) -> Result<BatchStats> {
        super::check_data("the batch", x, y, &self.loss)?;
        let indices = 0..x.len();
        self.step(model, x, y, indices)
            .map_err(|loss| Error::NonFiniteLoss {
                epoch: 1,
                batch: self.steps + 1,
                loss,
            })
    }

    /// Computes the loss and gradients of a batch (in training mode) without updating the
    /// weights or the state (moving statistics).
    pub fn compute_gradients(&mut self, model: &M, x: &[M::Input], y: &[L::Target]) -> Result<BatchStats> {
        super::check_data("the batch", x, y, &self.loss)?;
        Ok(self.forward_backward(model, x, y, 0..x.len()))
    }

    fn forward_backward(
        &mut self,
        model: &M,
        x: &[M::Input],
        y: &[L::Target],
        indices: impl Iterator<Item = usize> + Clone,
    ) -> BatchStats {
        let _flush = FlushDenormals::new();
        self.x.clear();
        self.y.clear();
        for i in indices {
            self.x.extend_from_slice(x[i].elems());
            self.y.push(y[i]);
        }
        if let Some(shards) = &mut self.shards {
            return shards.forward_backward(
                model,
                &self.loss,
                &self.x,
                &self.y,
                &mut self.workspace,
                &mut self.grads,
            );
        }
        let batch = self.y.len();
        model.forward_batch(&self.x, batch, &mut self.workspace, true);
        let (head, grad) = M::head(&mut self.workspace);
        let (loss_sum, grad_of) = self.loss.compute(&head, &self.y, Some(grad));
        let mut correct = 0;
        if self.loss.classes().is_some() {
            for (out, t) in head.y.chunks_exact(head.units).zip(&self.y) {
                correct += usize::from(self.loss.predicted_class(out) == self.loss.target_class(t));
            }
        }
        model.backward_batch(&self.x, batch, &mut self.workspace, grad_of, &mut self.grads);
        BatchStats {
            samples: batch,
            loss_sum,
            correct,
        }
    }

    /// One step over the samples at `indices`; `Err` carries a non-finite loss, in which case the
    /// weights are left untouched.
    pub(crate) fn step(
        &mut self,
        model: &mut M,
        x: &[M::Input],
        y: &[L::Target],
        indices: impl Iterator<Item = usize> + Clone,
    ) -> Result<BatchStats, f32> {
        let _flush = FlushDenormals::new();
        let stats = self.forward_backward(model, x, y, indices);
        if !stats.loss_sum.is_finite() {
            return Err(stats.loss_sum);
        }
        if let Some(c) = self.clip {
            let mut squares = 0.0f64;
            if matches!(c, Clip::GlobalNorm(_)) {
                self.grads.for_each_param(|_, _, g| {
                    squares += g.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>()
                });
            }
            let global_norm = squares.sqrt() as f32;
            self.grads.for_each_param_mut(|_, _, g| c.apply(g, global_norm));
        }
        if self.optimizer.bounded_step() {
            // Finite gradients cannot overflow finite weights under such a step, so checking
            // the gradients before the update is enough.
            let mut finite = true;
            self.grads.for_each_param(|_, _, g| finite &= all_finite(g));
            if !finite {
                return Err(f32::NAN);
            }
            self.optimizer.begin_step();
            let mut offset = 0;
            let opt = &mut self.optimizer;
            model.zip_params_mut(&self.grads, |p, g| {
                opt.update(offset, p, g);
                offset += p.len();
            });
        } else {
            // Otherwise a NaN gradient, or finite gradients times a huge learning rate, can
            // spoil the weights: keep a copy, taken tensor by tensor just before each update
            // while it is in cache, and restore it if any weight comes out non-finite.
            self.backup.resize(M::PARAMS, 0.0);
            self.optimizer.begin_step();
            let mut offset = 0;
            let (opt, backup) = (&mut self.optimizer, &mut self.backup);
            let mut finite = true;
            model.zip_params_mut(&self.grads, |p, g| {
                backup[offset..offset + p.len()].copy_from_slice(p);
                opt.update(offset, p, g);
                finite &= all_finite(p);
                offset += p.len();
            });
            if !finite {
                let mut at = 0;
                model.for_each_param_mut(|_, _, v| {
                    v.copy_from_slice(&self.backup[at..at + v.len()]);
                    at += v.len();
                });
                return Err(f32::NAN);
            }
        }
        // Moving statistics follow only the steps that were taken: a rejected step (non-finite
        // loss or weights) leaves them with the weights, untouched.
        model.update_state(&self.workspace);
        self.steps += 1;
        Ok(stats)
    }
}
