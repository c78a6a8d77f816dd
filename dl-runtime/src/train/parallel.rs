//! Data-parallel training steps: each batch is cut into a fixed number of contiguous shards, each
//! shard runs forward and backward into buffers of its own, and the shards' gradients are added
//! in shard order into the batch's gradient.
//!
//! The result depends on the number of shards (it fixes what is computed and in what order) but
//! never on the number of threads that run them: with the same shards, one thread and eight give
//! the same weights bit for bit.

use rayon::prelude::*;

use super::trainer::BatchStats;
use crate::denormals::FlushDenormals;
use crate::error::{Error, Result};
use crate::loss::{GradOf, Loss};
use crate::model::Model;
use crate::sample::Sample;

/// How a training step spreads each batch over cores: data parallelism, as Keras's
/// `MirroredStrategy` does across devices, with `shards` replicas on the CPU.
///
/// Each batch is cut into `shards` contiguous pieces (of `batch / shards` samples, the first
/// `batch % shards` one larger); each piece runs forward and backward on its own, and the
/// gradients are added in shard order, weighted by each shard's share of the batch, so that the
/// step follows the gradient of the batch's mean loss, as an unsharded step does (equal up to
/// float rounding). `shards` defines the arithmetic; `threads` only says how many cores carry it
/// out, so the same `shards` give the same weights bit for bit on any number of threads.
///
/// The default is one shard on the calling thread: the plain single-threaded step. Sharding pays
/// off when a step takes milliseconds (the tutorial CNN and LSTM at batch 32); for a tiny network
/// the cost of waking threads exceeds the work, so leave the default there.
///
/// Layers with per-batch randomness see each shard as a batch of its own: shard `i`'s `Dropout`
/// draws its masks from ChaCha stream `i` of the layer's seed, so shards never repeat each
/// other's masks and shard 0 draws what an unsharded step would for its samples. Networks with
/// `BatchNormalization` (per-batch statistics) are not sharded.
///
/// ```
/// use dl_runtime::train::Parallel;
/// // Two shards, run by two threads.
/// let p = Parallel::new(2).with_threads(2);
/// assert_eq!((p.shards, p.threads), (2, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallel {
    /// Contiguous pieces each batch is cut into (default 1; 0 is an error). Batches smaller than
    /// this leave the last shards empty.
    pub shards: usize,
    /// Threads that run the shards (default 1: the calling thread, in shard order). 0 means
    /// rayon's global pool, sized by `RAYON_NUM_THREADS` or else one thread per core. More
    /// threads than shards leave the extra threads idle.
    pub threads: usize,
}

impl Default for Parallel {
    fn default() -> Self {
        Parallel {
            shards: 1,
            threads: 1,
        }
    }
}

impl Parallel {
    /// `shards` shards on rayon's global pool (`RAYON_NUM_THREADS`, or one thread per core).
    pub fn new(shards: usize) -> Self {
        Parallel { shards, threads: 0 }
    }

    /// The same shards, run by `threads` threads (1: the calling thread; 0: rayon's global
    /// pool).
    pub fn with_threads(self, threads: usize) -> Self {
        Parallel { threads, ..self }
    }
}

/// One shard's buffers, beyond the first shard's, which are the trainer's own.
struct Shard<M: Model> {
    workspace: M::Workspace,
    grads: M,
}

/// A part of a sharded step that runs on the pool.
#[derive(Clone, Copy)]
enum Phase {
    Forward,
    Backward(GradOf),
    /// Adds the other shards' gradients into the first's.
    Reduce,
}

/// Runs a [`Phase`] on every shard: `(shards, model, batch, x, first workspace, first grads)`.
type RunPhase<M> = fn(
    &mut Shards<M>,
    &M,
    usize,
    &[<<M as Model>::Input as Sample>::Elem],
    &mut <M as Model>::Workspace,
    &mut M,
    Phase,
);

/// The state of a sharded step: the pool and the buffers of shards 1 and up.
pub(crate) struct Shards<M: Model> {
    parallel: Parallel,
    /// `Some` when `threads >= 2`; `threads == 0` uses the global pool, `1` no pool at all.
    pool: Option<rayon::ThreadPool>,
    extra: Vec<Shard<M>>,
    /// [`run_phase`] for this `M`, taken where `M: Send + Sync` is known, so that the trainer,
    /// and generic code using it, need not require it.
    run_phase: RunPhase<M>,
}

/// Gradient tensors at least this long are added in chunks spread over the pool (the LSTM's
/// 640 k embedding gradient); smaller ones are not worth waking a thread for.
const PAR_ADD_LEN: usize = 1 << 15;

impl<M: Model> Shards<M> {
    /// The buffers and pool for `parallel`; `None` for a single shard, which takes the plain
    /// step.
    pub(crate) fn new(parallel: Parallel) -> Result<Option<Self>>
    where
        M: Send + Sync,
    {
        if parallel.shards == 0 {
            return Err(Error::ZeroShards);
        }
        if parallel.shards == 1 {
            return Ok(None);
        }
        if M::NON_TRAINABLE > 0 {
            // The moving statistics would follow the first shard's batch only; synchronising
            // them across shards is not implemented.
            return Err(Error::ShardedBatchStatistics { network: M::NAME });
        }
        let pool = if parallel.threads >= 2 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(parallel.threads)
                .thread_name(|i| format!("dl-train-{i}"))
                .build()
                .map_err(|e| Error::ThreadPool {
                    threads: parallel.threads,
                    message: e.to_string(),
                })?;
            Some(pool)
        } else {
            None
        };
        let extra = (1..parallel.shards)
            .map(|i| {
                let mut workspace = M::Workspace::default();
                // Shard 0 (the trainer's workspace) draws dropout masks from stream 0, as
                // unsharded training does; the others from their own, not repeating it.
                M::set_stream(&mut workspace, i as u64);
                Shard {
                    workspace,
                    grads: M::zeros(),
                }
            })
            .collect();
        Ok(Some(Shards {
            parallel,
            pool,
            extra,
            run_phase: run_phase::<M>,
        }))
    }

    /// Forward and backward of the batch `x`, `y` (gathered end to end), shard by shard; shard 0
    /// uses `workspace` and `grads`, which receive the batch's gradient.
    ///
    /// The forward and backward passes run on the pool; the loss runs in between on the calling
    /// thread, shard after shard (it is cheap, and the loss need not be `Sync`).
    pub(crate) fn forward_backward<L: Loss<M::Head>>(
        &mut self,
        model: &M,
        loss: &L,
        x: &[<M::Input as Sample>::Elem],
        y: &[L::Target],
        workspace: &mut M::Workspace,
        grads: &mut M,
    ) -> BatchStats {
        let batch = y.len();
        let run = self.run_phase;
        run(self, model, batch, x, workspace, grads, Phase::Forward);

        // A per-layer state update after the training forward (BatchNormalization's moving
        // statistics) belongs here: each shard computed its own batch statistics, as replicas
        // do under PyTorch's DDP without SyncBatchNorm, and the update should take shard 0's
        // (from `workspace`; DDP broadcasts rank 0's buffers) so that it stays independent of
        // the thread count.

        let shards = self.parallel.shards;
        let mut total = BatchStats::default();
        let mut grad_of = GradOf::Output;
        for i in 0..shards {
            let (start, end) = (bound(batch, shards, i), bound(batch, shards, i + 1));
            if start == end {
                continue;
            }
            let ws = match i {
                0 => &mut *workspace,
                _ => &mut self.extra[i - 1].workspace,
            };
            let (head, grad) = M::head(ws);
            let targets = &y[start..end];
            let (loss_sum, of) = loss.compute(&head, targets, Some(&mut *grad));
            // The loss gives the gradient of this shard's mean; its share of the batch's mean
            // is `(end - start) / batch` of that.
            let weight = (end - start) as f32 / batch as f32;
            grad.iter_mut().for_each(|g| *g *= weight);
            if loss.classes().is_some() {
                for (out, t) in head.y.chunks_exact(head.units).zip(targets) {
                    total.correct += usize::from(loss.predicted_class(out) == loss.target_class(t));
                }
            }
            total.samples += end - start;
            total.loss_sum += loss_sum;
            grad_of = of;
        }

        run(self, model, batch, x, workspace, grads, Phase::Backward(grad_of));
        run(self, model, batch, x, workspace, grads, Phase::Reduce);
        total
    }
}

/// Runs `phase` on every shard, on the pool the setting asks for.
fn run_phase<M: Model + Send + Sync>(
    shards: &mut Shards<M>,
    model: &M,
    batch: usize,
    x: &[<M::Input as Sample>::Elem],
    workspace: &mut M::Workspace,
    grads: &mut M,
    phase: Phase,
) {
    let Shards {
        parallel,
        pool,
        extra,
        ..
    } = shards;
    let count = parallel.shards;
    let per_sample = x.len() / batch;
    let threaded = parallel.threads != 1;
    if let Phase::Reduce = phase {
        let add = |g: &mut [f32], other: &[f32]| add_into(g, other, threaded);
        // In shard order, element by element: the same sums whatever thread adds which chunk.
        let non_empty = (1..count).filter(|&i| bound(batch, count, i) < bound(batch, count, i + 1));
        for i in non_empty {
            let other = &extra[i - 1].grads;
            match pool.as_ref() {
                Some(pool) => pool.install(|| grads.zip_params_mut(other, add)),
                None => grads.zip_params_mut(other, add),
            }
        }
        return;
    }
    let shard = |i: usize, ws: &mut M::Workspace, g: &mut M| {
        let (start, end) = (bound(batch, count, i), bound(batch, count, i + 1));
        if start == end {
            return;
        }
        // MXCSR is per thread: each worker flushes denormals as the calling thread does, or
        // results would depend on where a shard ran.
        let _flush = FlushDenormals::new();
        let xs = &x[start * per_sample..end * per_sample];
        match phase {
            Phase::Forward => model.forward_batch(xs, end - start, ws, true),
            Phase::Backward(grad_of) => model.backward_batch(xs, end - start, ws, grad_of, g),
            Phase::Reduce => unreachable!("handled above"),
        }
    };
    if !threaded {
        shard(0, workspace, grads);
        for (i, s) in extra.iter_mut().enumerate() {
            shard(i + 1, &mut s.workspace, &mut s.grads);
        }
        return;
    }
    let mut run_all = || {
        rayon::join(
            || shard(0, workspace, grads),
            || {
                extra
                    .par_iter_mut()
                    .enumerate()
                    .for_each(|(i, s)| shard(i + 1, &mut s.workspace, &mut s.grads))
            },
        );
    };
    match pool.as_ref() {
        Some(pool) => pool.install(run_all),
        None => run_all(),
    }
}

/// Start of shard `i` of `shards` over `batch` samples: the first `batch % shards` shards hold
/// one sample more than the others.
fn bound(batch: usize, shards: usize, i: usize) -> usize {
    i * (batch / shards) + i.min(batch % shards)
}

/// `g += other`, element by element, so that splitting it over threads cannot change a bit.
fn add_into(g: &mut [f32], other: &[f32], threaded: bool) {
    if threaded && g.len() >= PAR_ADD_LEN {
        g.par_chunks_mut(PAR_ADD_LEN / 2)
            .zip(other.par_chunks(PAR_ADD_LEN / 2))
            .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, b)| *a += b));
    } else {
        g.iter_mut().zip(other).for_each(|(a, b)| *a += b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_batch_in_order_and_differ_by_at_most_one() {
        for batch in 1..40 {
            for shards in 1..9 {
                let bounds: Vec<usize> = (0..=shards).map(|i| bound(batch, shards, i)).collect();
                assert_eq!((bounds[0], bounds[shards]), (0, batch));
                let sizes: Vec<usize> = bounds.windows(2).map(|w| w[1] - w[0]).collect();
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "batch {batch} shards {shards}: {sizes:?}");
                assert!(
                    sizes.windows(2).all(|w| w[0] >= w[1]),
                    "larger shards first: {sizes:?}"
                );
            }
        }
        assert_eq!(
            (0..=3).map(|i| bound(32, 3, i)).collect::<Vec<_>>(),
            [0, 11, 22, 32]
        );
    }
}
