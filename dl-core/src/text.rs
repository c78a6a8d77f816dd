//! Token ids into vectors: `Embedding`.

/// An id at or beyond the vocabulary, found where a sample is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenOutOfRange {
    /// Position in the sequence.
    pub position: usize,
    /// The id found.
    pub id: u32,
    /// The vocabulary size (valid ids are `0..vocabulary`).
    pub vocabulary: usize,
}

impl core::fmt::Display for TokenOutOfRange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "token id {} at position {} is outside the vocabulary of {} (valid ids are 0..{})",
            self.id, self.position, self.vocabulary, self.vocabulary
        )
    }
}

/// Row `ids[t]` of `table` (`[V, D]`) into row `t` of `y`; every id is checked first, so on
/// error `y` is untouched.
pub fn embedding(table: &[f32], dim: usize, ids: &[u32], y: &mut [f32]) -> Result<(), TokenOutOfRange> {
    let vocabulary = table.len() / dim;
    if let Some((position, &id)) = ids.iter().enumerate().find(|&(_, &id)| id as usize >= vocabulary) {
        return Err(TokenOutOfRange {
            position,
            id,
            vocabulary,
        });
    }
    for (&id, row) in ids.iter().zip(y.chunks_exact_mut(dim)) {
        row.copy_from_slice(&table[id as usize * dim..][..dim]);
    }
    Ok(())
}
