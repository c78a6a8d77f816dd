//! What layers next to each other hand each other a chunk of samples at a time instead of a
//! whole-batch tensor, so that the tensor is never written to memory or read back: the passes a
//! `BatchNormalization` shares with the convolutions and the `Add` beside it (`network!` decides
//! where, in `dl-macros/src/fuse.rs`).

use super::fit_len;

/// The gradient of a layer's output handed over a chunk of samples at a time by the layer
/// reading it, rather than stored whole: a batch normalization's input gradient, applied as the
/// convolution before it works through its backward pass, so that the tensor is never written
/// to memory and each chunk is still in cache for the products that read it.
pub trait OutputGradient {
    /// Writes into `dy` the gradient of the chunk of output `y` that starts `at` floats into
    /// the batch (whole samples).
    fn chunk(&self, at: usize, y: &[f32], dy: &mut [f32]);
}

/// Reads a tensor a chunk of whole samples at a time as the layer writing it stores each chunk,
/// while the chunk is in cache: a batch normalization taking the per-channel sums of its input
/// as the convolution before it writes it, and those of its output's gradient as the layer
/// reading it writes that, instead of reading either back whole.
pub trait ChunkObserver {
    /// Reads the chunk `values` that starts `at` floats into the batch.
    fn chunk(&mut self, at: usize, values: &[f32]);
}

/// A layer's input computed a chunk of whole samples at a time, as the layer reads it, by the
/// layer that left it unstored: a batch normalization's output, normalized (and relu'd) as the
/// convolution alone reading it takes each chunk, so that the batch is never written whole.
pub trait InputChunks {
    /// Writes the input's values from `at` floats into the batch into `out`.
    fn fill(&self, at: usize, out: &mut [f32]);
}

/// What a layer reads: a stored tensor, or one computed chunk by chunk (see [`InputChunks`]).
#[derive(Clone, Copy)]
pub enum Input<'a> {
    /// The tensor, stored whole.
    Stored(&'a [f32]),
    /// The tensor, computed a chunk at a time.
    Computed(&'a dyn InputChunks),
}

impl<'a> Input<'a> {
    /// The chunk `range` of the input: the stored slice, or the values computed into `scratch`.
    pub fn chunk<'s>(self, range: core::ops::Range<usize>, scratch: &'s mut Vec<f32>) -> &'s [f32]
    where
        'a: 's,
    {
        match self {
            Input::Stored(x) => &x[range],
            Input::Computed(c) => {
                fit_len(scratch, range.len());
                c.fill(range.start, scratch);
                scratch
            }
        }
    }
}
