//! Data-parallel training steps: each batch is cut into a fixed number of contiguous shards, each
//! shard runs forward, loss and backward into buffers of its own, and the shards' gradients are
//! added in shard order into the batch's gradient, a buffer of its own too. The element-wise
//! rest of the step (that sum, the finite check, the optimizer's update) is cut into pieces of
//! each large tensor, shared by the same threads.
//!
//! The result depends on the number of shards (it fixes what is computed and in what order) but
//! never on the number of threads that run them: with the same shards, one thread and eight give
//! the same weights bit for bit.

use super::split::pieces;
use super::trainer::BatchStats;
use super::update::{Refused, Update, apply};
use crate::denormals::FlushDenormals;
use crate::error::{Error, Result};
use crate::finite::all_finite;
use crate::layers::draw_key;
use crate::loss::Loss;
use crate::model::Model;
use crate::optim::Optimizer;
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
/// `Dropout` draws each sample's mask from that sample's place in the step's batch, not from its
/// shard, so the shards draw exactly the masks of the unsharded step. Networks with
/// `BatchNormalization` (per-batch statistics) are not sharded: [`Trainer::with_parallel`]
/// refuses more than one shard for them.
///
/// [`Trainer::with_parallel`]: super::Trainer::with_parallel
///
/// ```
/// use dl::train::Parallel;
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
    /// The most threads a training pool may have when the machine has fewer cores: more
    /// threads than cores cannot make a step faster, and starting thousands of them takes
    /// minutes (10 000 took 80 s).
    pub const MAX_THREADS: usize = 256;

    /// `shards` shards on rayon's global pool (`RAYON_NUM_THREADS`, or one thread per core).
    pub fn new(shards: usize) -> Self {
        Parallel { shards, threads: 0 }
    }

    /// The same shards, run by `threads` threads (1: the calling thread; 0: rayon's global
    /// pool). `fit` refuses more than [`Parallel::MAX_THREADS`] on a machine with fewer cores.
    pub fn with_threads(self, threads: usize) -> Self {
        Parallel { threads, ..self }
    }
}

/// Refuses a pool larger than both [`Parallel::MAX_THREADS`] and the machine's cores, before
/// any thread starts.
fn check_threads(threads: usize) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let limit = Parallel::MAX_THREADS.max(cores);
    if threads > limit {
        return Err(Error::ThreadPool {
            threads,
            message: format!(
                "Parallel::threads may be at most {limit} (this machine has {cores} cores; more threads than \
                 cores cannot make a step faster)"
            ),
        });
    }
    Ok(())
}

/// One shard's buffers, beyond the first shard's, which are the trainer's own. Aligned to two
/// cache lines (the adjacent-line prefetcher pairs them) so that the small tensors and the
/// counts that a shard's thread writes never share a line with the next shard's.
#[repr(align(128))]
struct Shard<M: Model> {
    workspace: M::Workspace,
    grads: M,
    out: BatchStats,
}

/// The batch a sharded step works on, gathered end to end, and shard 0's buffers (the
/// trainer's).
pub(crate) struct Batch<'a, M: Model, L: Loss<M::Head>> {
    /// The training step this batch is (it places the dropout masks).
    pub step: usize,
    pub loss: &'a L,
    pub x: &'a [<M::Input as Sample>::Elem],
    pub y: &'a [L::Target],
    /// One weight per sample, or empty for none.
    pub weights: &'a [f32],
    pub workspace: &'a mut M::Workspace,
    pub grads: &'a mut M,
}

/// What follows the batch's gradient.
pub(crate) enum Then<'a, M, O> {
    /// Nothing: the gradient is the result.
    Gradients(&'a M),
    /// An optimizer step on the network.
    Step(&'a mut M, Update<'a, O>),
}

/// [`sharded_step`] for one `M`, `L`, `O`.
type RunStep<M, L, O> =
    for<'a> fn(&mut Shards<M, L, O>, Batch<'a, M, L>, Then<'a, M, O>) -> Result<BatchStats, Refused>;

/// The state of a sharded step: the pool and the buffers of shards 1 and up.
pub(crate) struct Shards<M: Model, L: Loss<M::Head>, O> {
    parallel: Parallel,
    /// `Some` when `threads >= 2`; `threads == 0` uses the global pool, `1` no pool at all.
    pool: Option<rayon::ThreadPool>,
    /// Shard 0's loss and counts.
    first: BatchStats,
    extra: Vec<Shard<M>>,
    /// The batch's gradient: the shards' gradients added. Not shard 0's buffer: a backward pass
    /// may rely on its gradient buffer holding only what it wrote (an `Embedding` zeroes just
    /// the rows it wrote last time), so no other shard's values may be added there.
    sum: M,
    /// [`sharded_step`] for this `M`, taken where `M: Send + Sync` is known, so that the
    /// trainer, and generic code using it, need not require it.
    run: RunStep<M, L, O>,
}

impl<M: Model, L: Loss<M::Head>, O: Optimizer> Shards<M, L, O> {
    /// The buffers and pool for `parallel`; `None` for a single shard, which takes the plain
    /// step.
    pub(crate) fn new(parallel: Parallel) -> Result<Option<Self>>
    where
        M: Send + Sync,
    {
        if parallel.shards == 0 {
            return Err(Error::ZeroShards);
        }
        check_threads(parallel.threads)?;
        if parallel.shards == 1 {
            return Ok(None);
        }
        if M::BATCH_STATISTICS {
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
            .map(|_| Shard {
                workspace: M::Workspace::default(),
                grads: M::zeros(),
                out: BatchStats::default(),
            })
            .collect();
        Ok(Some(Shards {
            parallel,
            pool,
            first: BatchStats::default(),
            extra,
            sum: M::zeros(),
            run: sharded_step::<M, L, O>,
        }))
    }

    /// The gradient of the last batch: the sum of its shards'.
    pub(crate) fn gradients(&self) -> &M {
        &self.sum
    }

    /// Visits the workspace of every shard that held samples in the last batch, in batch
    /// order, with its number of samples; shard 0's workspace is the trainer's, `first`.
    pub(crate) fn each_workspace(
        &mut self,
        first: &mut M::Workspace,
        mut f: impl FnMut(&mut M::Workspace, usize),
    ) {
        f(first, self.first.samples);
        for s in &mut self.extra {
            f(&mut s.workspace, s.out.samples);
        }
    }

    /// Forward, loss and backward of `batch` shard by shard, the shards' gradients added into
    /// [`Shards::gradients`], then `then`. `Err` carries a non-finite loss, or a step refused by
    /// [`apply`]; the weights and the optimizer's state are then untouched.
    pub(crate) fn run(
        &mut self,
        batch: Batch<'_, M, L>,
        then: Then<'_, M, O>,
    ) -> Result<BatchStats, Refused> {
        (self.run)(self, batch, then)
    }
}

/// The whole sharded step in one visit to the pool: waking its threads costs tens of
/// microseconds on a virtual machine, so the step goes there once, not once per phase.
fn sharded_step<M, L, O>(
    shards: &mut Shards<M, L, O>,
    batch: Batch<'_, M, L>,
    then: Then<'_, M, O>,
) -> Result<BatchStats, Refused>
where
    M: Model + Send + Sync,
    L: Loss<M::Head>,
    O: Optimizer,
{
    let Shards {
        parallel,
        pool,
        first,
        extra,
        sum,
        ..
    } = shards;
    let count = parallel.shards;
    let threaded = parallel.threads != 1;
    let Batch {
        step,
        loss,
        x,
        y,
        weights,
        workspace,
        grads,
    } = batch;
    let body = move || {
        // MXCSR is per thread: every thread that computes flushes denormals as the caller does,
        // or results would depend on where a piece ran.
        let _flush = FlushDenormals::new();
        let model: &M = match &then {
            Then::Gradients(m) => m,
            Then::Step(m, _) => m,
        };
        let n = y.len();
        let per_sample = x.len() / n;
        let shard = |i: usize, ws: &mut M::Workspace, g: &mut M, out: &mut BatchStats| {
            let _flush = FlushDenormals::new();
            let (start, end) = (bound(n, count, i), bound(n, count, i + 1));
            *out = BatchStats::default();
            if start < end {
                M::set_stream(ws, draw_key(step, start));
                let xs = &x[start * per_sample..end * per_sample];
                let w = weights.get(start..end).unwrap_or_default();
                *out = forward_backward(model, loss, xs, &y[start..end], w, n, ws, g);
            }
        };
        if threaded {
            let (ws0, g0, out0) = (&mut *workspace, &mut *grads, &mut *first);
            // The thread that runs the step takes its own index's shard first and leaves the
            // other to be stolen: each shard then tends to stay on one core, its buffers in
            // that core's cache.
            let mine = rayon::current_thread_index().unwrap_or(0) % count;
            let shard = &shard;
            if mine == 0 {
                rayon::join(|| shard(0, ws0, g0, out0), || each_shard(extra, 1, shard));
            } else {
                rayon::join(|| each_shard(extra, 1, shard), || shard(0, ws0, g0, out0));
            }
        } else {
            shard(0, workspace, grads, first);
            for (i, s) in extra.iter_mut().enumerate() {
                shard(i + 1, &mut s.workspace, &mut s.grads, &mut s.out);
            }
        }

        let mut total = BatchStats::default();
        for out in std::iter::once(&*first).chain(extra.iter().map(|s| &s.out)) {
            total.samples += out.samples;
            total.loss_sum += out.loss_sum;
            total.correct += out.correct;
        }
        let stepping = matches!(then, Then::Step(..));
        if stepping && !total.loss_sum.is_finite() {
            return Err(Refused::Loss(total.loss_sum));
        }

        // The shards' gradients, added in shard order, element by element: the same sums
        // whatever thread adds which piece. Tensor by tensor, shard 0's and shard 1's are added
        // into `sum` in one pass, then each further shard's. Shards left empty by a small batch
        // hold an older gradient and are skipped. For a bounded step without clipping, the last
        // sum also checks the gradient, saving a pass over it.
        let threads = if threaded { rayon::current_num_threads() } else { 1 };
        let check = match &then {
            Then::Step(_, u) => u.clip.is_none() && u.optimizer.bounded_step(),
            Then::Gradients(_) => false,
        };
        let used = extra.iter().take_while(|s| s.out.samples > 0).count();
        let mut finite = true;
        let mut tensor = 0;
        sum.zip_params_mut(grads, |s, g0| {
            let len = s.len();
            let Some((second, rest)) = extra[..used].split_first() else {
                s.copy_from_slice(g0);
                return;
            };
            let g1 = nth_param(&second.grads, tensor);
            let last = check && rest.is_empty();
            let job = (&mut *s, g0, g1);
            finite &= pieces(job, len, threads, &|(s, a, b): (&mut [f32], &[f32], &[f32])| {
                s.iter_mut()
                    .zip(a.iter().zip(b))
                    .for_each(|(s, (a, b))| *s = a + b);
                !last || all_finite(s)
            });
            for (i, other) in rest.iter().enumerate() {
                let last = check && i + 1 == rest.len();
                let o = nth_param(&other.grads, tensor);
                finite &= pieces((&mut *s, o), len, threads, &|(s, o): (&mut [f32], &[f32])| {
                    s.iter_mut().zip(o).for_each(|(s, o)| *s += o);
                    !last || all_finite(s)
                });
            }
            tensor += 1;
        });
        // Keras's loss is the mean loss plus the weight regularizers' penalty, whose gradient
        // joins the batch's once, after the shards'.
        let model: &M = match &then {
            Then::Gradients(m) => m,
            Then::Step(m, _) => m,
        };
        let penalty = model.regularize(Some(&mut *sum));
        let total = total.with_penalty(penalty);
        if stepping && !total.loss_sum.is_finite() {
            return Err(Refused::Loss(total.loss_sum));
        }
        match then {
            Then::Gradients(_) => Ok(total),
            Then::Step(model, update) => {
                let known = (check && used > 0 && penalty == 0.0).then_some(finite);
                apply(model, sum, update, threads, known).map(|()| total)
            }
        }
    };
    match pool.as_ref() {
        Some(pool) => pool.install(body),
        // The global pool has no `install`; a join does the same, moving the whole step onto
        // the pool at once rather than entering it again at every join inside.
        None if threaded => rayon::join(body, || ()).0,
        None => body(),
    }
}

/// Parameter tensor number `index` of `m`, in the order of [`Model::for_each_param`]. A walk
/// over the tensors per call, but a network has tens of them, and it saves a pass over the
/// values (the sum reads every shard's tensor beside shard 0's in one pass, allocating nothing).
fn nth_param<M: Model>(m: &M, index: usize) -> &[f32] {
    let mut found: &[f32] = &[];
    let mut i = 0;
    m.for_each_param(|_, _, t| {
        if i == index {
            found = t;
        }
        i += 1;
    });
    found
}

/// Runs `shard` on each of `shards`, numbered from `first`, splitting the list between threads.
fn each_shard<M: Model + Send>(
    shards: &mut [Shard<M>],
    first: usize,
    shard: &(impl Fn(usize, &mut M::Workspace, &mut M, &mut BatchStats) + Sync),
) {
    match shards {
        [] => {}
        [s] => shard(first, &mut s.workspace, &mut s.grads, &mut s.out),
        _ => {
            let mid = shards.len() / 2;
            let (a, b) = shards.split_at_mut(mid);
            rayon::join(
                || each_shard(a, first, shard),
                || each_shard(b, first + mid, shard),
            );
        }
    }
}

/// Forward, loss and backward of one shard of `xs`, `ys`, out of a batch of `batch` samples:
/// the gradient is of this shard's share of the batch's mean loss. With `weights` (one per
/// sample; empty for none), Keras's weighted loss: the sum of each sample's loss times its
/// weight, over the batch's size.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_backward<M: Model, L: Loss<M::Head>>(
    model: &M,
    loss: &L,
    xs: &[<M::Input as Sample>::Elem],
    ys: &[L::Target],
    weights: &[f32],
    batch: usize,
    ws: &mut M::Workspace,
    grads: &mut M,
) -> BatchStats {
    let n = ys.len();
    model.forward_batch(xs, n, ws, true);
    let (head, grad) = M::head(ws);
    let (mut loss_sum, grad_of) = loss.compute(&head, ys, Some(&mut *grad));
    // The loss gives the gradient of this shard's mean; its share of the batch's mean is
    // `n / batch` of that.
    if n != batch {
        let weight = n as f32 / batch as f32;
        grad.iter_mut().for_each(|g| *g *= weight);
    }
    if !weights.is_empty() {
        loss_sum = 0.0;
        for (i, (&w, t)) in weights.iter().zip(ys).enumerate() {
            grad[i * head.units..(i + 1) * head.units]
                .iter_mut()
                .for_each(|g| *g *= w);
            loss_sum += w * loss.compute(&head.sample(i), core::slice::from_ref(t), None).0;
        }
    }
    let mut correct = 0;
    if loss.classes().is_some() {
        for (out, t) in head.y.chunks_exact(head.units).zip(ys) {
            correct += usize::from(loss.predicted_class(out) == loss.target_class(t));
        }
    }
    model.backward_batch(xs, n, ws, grad_of, grads);
    BatchStats {
        samples: n,
        loss_sum,
        correct,
    }
}

/// Start of shard `i` of `shards` over `batch` samples: the first `batch % shards` shards hold
/// one sample more than the others.
fn bound(batch: usize, shards: usize, i: usize) -> usize {
    i * (batch / shards) + i.min(batch % shards)
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
