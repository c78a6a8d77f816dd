//! `Embedding(input_dim, output_dim)`: each token id becomes its row of a learned table.
//!
//! Layout: a sample is `L` token ids; its output is the sequence `L × D`, time-major (element
//! `t·D + d`), the layout the recurrent layers and the 1-D poolings read.

use nalgebra::SMatrix;
use rand::Rng;

use super::{Buffers, Layer, TrainingBytes, bytes_of, fit_len, output_and_gradient};
use crate::activation::Activation;
use crate::aligned::Param;
use crate::init;

/// Keras's `Embedding(V, D)` on sequences of `L` token ids (`input_length = L`).
///
/// The table is stored as a `D × V` column-major matrix whose column `v` is token `v`'s vector,
/// which is byte for byte Keras's `(V, D)` row-major `embeddings`, so weight files map 1:1.
///
/// With `mask_zero = true` the layer computes the same: `network!` passes the batch's token ids
/// as the padding mask to the mask-aware layers downstream ([`MaskedLayer`](super::MaskedLayer)).
/// Those give padded steps no gradient, so the padding id's row receives none, as in Keras.
///
/// Ids are checked against `V` when the input is built ([`Tokens`](crate::tokens::Tokens)), so
/// they are always in range here; the kernels still never index outside the table: an id `≥ V`
/// reads as a zero vector and receives no gradient.
///
/// The gradient is sparse: only the rows of the tokens in the batch are non-zero. The backward
/// pass writes those rows and remembers them in its cache; the next backward pass zeroes just
/// them (instead of all `V·D` floats) before writing its own. This relies on the gradient table
/// being the same from step to step (the trainer keeps one per workspace) and on nothing else
/// writing non-zero values into it (a data-parallel step therefore adds its shards' gradients
/// into a buffer of its own, not into a shard's); when a different table is passed, it is
/// zeroed in full once.
pub struct Embedding<const V: usize, const D: usize, const L: usize> {
    /// The table, `D × V` (column `v` is token `v`'s vector).
    pub embeddings: Param<SMatrix<f32, D, V>>,
}

impl<const V: usize, const D: usize, const L: usize> Embedding<V, D, L> {
    /// Post-monomorphisation check of the sizes.
    const CHECK: () = assert!(
        V > 0 && D > 0 && L > 0,
        "Embedding: vocabulary, dimension and length must be positive"
    );

    /// Keras's default: every entry uniform in [−0.05, 0.05].
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = <Self as Layer>::zeros();
        init::uniform(rng, 0.05, layer.embeddings.as_mut_slice());
        layer
    }

    /// Token `id`'s vector, or `None` outside the vocabulary.
    pub fn vector(&self, id: u32) -> Option<&[f32]> {
        let v = usize::try_from(id).ok().filter(|&v| v < V)?;
        Some(&self.embeddings.as_slice()[v * D..(v + 1) * D])
    }
}

impl<const V: usize, const D: usize, const L: usize> Clone for Embedding<V, D, L> {
    fn clone(&self) -> Self {
        // Field-wise `Box::clone` would build the matrix on the stack first.
        let mut copy = <Self as Layer>::zeros();
        copy.embeddings.copy_from(&*self.embeddings);
        copy
    }
}

impl<const V: usize, const D: usize, const L: usize> core::fmt::Debug for Embedding<V, D, L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Embedding<{V} tokens → {D}, length {L}>")
    }
}

/// Training cache of an embedding: which rows of the gradient table the last backward pass
/// made non-zero.
#[derive(Debug, Default)]
pub struct EmbeddingCache {
    /// The token ids whose gradient rows are (possibly) non-zero, each once.
    touched: Vec<u32>,
    /// `marked[v]` ⇔ `v` is in `touched`; `V` entries once the backward pass has run.
    marked: Vec<bool>,
    /// The address of the gradient table `touched` refers to (0: none yet).
    table: usize,
}

impl<const V: usize, const D: usize, const L: usize> Layer for Embedding<V, D, L> {
    const PARAMS: usize = V * D;
    const INPUTS: usize = L;
    const OUTPUTS: usize = L * D;
    type In = u32;
    type Extra = EmbeddingCache;
    // `touched` has room for every id of the batch (see `scatter`), `L` per sample until it
    // reaches the vocabulary: counted in full, the worst case. `marked` is per vocabulary entry.
    const TRAINING_BYTES: TrainingBytes =
        TrainingBytes::always(output_and_gradient::<Self>() + bytes_of::<u32>(L));

    fn zeros() -> Self {
        const { Self::CHECK };
        Embedding {
            embeddings: Param::zeroed(),
        }
    }

    fn for_each_param<'a>(&'a self, f: &mut impl FnMut(&'static str, &'a [f32])) {
        f("embeddings", self.embeddings.as_slice());
    }

    fn for_each_param_mut(&mut self, f: &mut impl FnMut(&'static str, &mut [f32])) {
        f("embeddings", self.embeddings.as_mut_slice());
    }

    fn zip_params_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        f(self.embeddings.as_mut_slice(), other.embeddings.as_slice());
    }

    #[inline]
    fn forward_batch(
        &self,
        x: &[u32],
        batch: usize,
        buf: &mut Buffers<EmbeddingCache>,
        _activation: Activation,
        _training: bool,
    ) {
        const { Self::CHECK };
        let out = L * D * batch;
        fit_len(&mut buf.y, out);
        fit_len(&mut buf.dy, out);
        assert_eq!(x.len(), L * batch, "Embedding input has the wrong length");
        gather(self.embeddings.as_slice(), D, x, &mut buf.y);
    }

    fn pre_activation<'a>(_extra: &'a EmbeddingCache, y: &'a [f32]) -> &'a [f32] {
        y
    }

    /// Writes the gradient rows of the batch's tokens (see [`Embedding`] for how the other rows
    /// are kept zero). `dx` is left alone: token ids have no gradient.
    #[inline]
    fn backward_batch(
        &self,
        x: &[u32],
        batch: usize,
        buf: &mut Buffers<EmbeddingCache>,
        _activation: Activation,
        grads: &mut Self,
        _dx: Option<&mut [f32]>,
    ) {
        assert_eq!(x.len(), L * batch, "Embedding input has the wrong length");
        scatter(
            D,
            x,
            &buf.dy[..L * D * batch],
            grads.embeddings.as_mut_slice(),
            &mut buf.extra,
        );
    }
}

/// `y` column `i` = `table` column `x[i]` (`d` floats), zero for ids outside the table.
fn gather(table: &[f32], d: usize, x: &[u32], y: &mut [f32]) {
    for (&id, out) in x.iter().zip(y.chunks_exact_mut(d)) {
        match row(table, d, id) {
            Some(v) => out.copy_from_slice(v),
            None => out.fill(0.0),
        }
    }
}

/// The `d` floats of row `id`, if it is in the table.
#[inline]
fn row(table: &[f32], d: usize, id: u32) -> Option<&[f32]> {
    let start = usize::try_from(id).ok()?.checked_mul(d)?;
    table.get(start..start.checked_add(d)?)
}

/// Overwrites `grad` (the `d × V` gradient table) with `Σ` of `dy`'s columns into the rows of
/// their ids, touching only the rows of this batch and of the previous call.
fn scatter(d: usize, x: &[u32], dy: &[f32], grad: &mut [f32], cache: &mut EmbeddingCache) {
    let vocabulary = grad.len() / d;
    let table = grad.as_ptr() as usize;
    if cache.table == table {
        for &id in &cache.touched {
            let v = id as usize;
            grad[v * d..(v + 1) * d].fill(0.0);
            cache.marked[v] = false;
        }
    } else {
        // Not the table of the last call (or the first call): nothing is known about it.
        grad.fill(0.0);
        cache.marked.clear();
        cache.table = table;
    }
    cache.touched.clear();
    // Room for every distinct id the batch can hold, so that a later batch with more distinct
    // ids than the first does not allocate.
    cache.touched.reserve(x.len().min(vocabulary));
    cache.marked.resize(vocabulary, false);
    for (&id, g) in x.iter().zip(dy.chunks_exact(d)) {
        let v = id as usize;
        if v >= vocabulary {
            continue;
        }
        let dst = &mut grad[v * d..(v + 1) * d];
        if !cache.marked[v] {
            cache.marked[v] = true;
            cache.touched.push(id);
        }
        for (a, &b) in dst.iter_mut().zip(g) {
            *a += b;
        }
    }
}
