//! Token-id inputs whose ids are known to be in range for the network's vocabulary.

use crate::sample::Sample;

/// A sequence of `L` token ids, each below `V`, the vocabulary size of the network's
/// `Embedding`. The bound is checked when the value is built, so a network that takes `Tokens`
/// can never read outside its embedding table, and a wrong length or vocabulary does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tokens<const L: usize, const V: usize>([u32; L]);

/// Why token ids do not make a [`Tokens`] value; converts into [`Error`](crate::Error) with `?`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// An id at or beyond the vocabulary size.
    #[error(
        "token id {id} at position {position} is out of range for a vocabulary of {vocabulary} ({})",
        match vocabulary.checked_sub(1) {
            Some(last) => format!("ids 0..={last}"),
            None => "no ids".to_string(),
        }
    )]
    OutOfRange {
        /// Position in the sequence.
        position: usize,
        /// The id found.
        id: u32,
        /// The vocabulary size (valid ids are `0..vocabulary`).
        vocabulary: usize,
    },
    /// A slice of another length than the sequence's.
    #[error("expected {expected} token ids, found {found}")]
    Length {
        /// The sequence length `L`.
        expected: usize,
        /// The ids given.
        found: usize,
    },
    /// A text vectorizer whose ids could exceed the network's vocabulary.
    #[error("the vectorizer has {ids} ids but the network's Embedding takes {vocabulary}")]
    VocabularyTooLarge {
        /// Ids the vectorizer can produce (padding and `[UNK]` included).
        ids: usize,
        /// The network's vocabulary size `V`.
        vocabulary: usize,
    },
}

impl<const L: usize, const V: usize> Tokens<L, V> {
    /// Checks every id against the vocabulary size `V`.
    ///
    /// ```
    /// use dl::Tokens;
    /// assert!(Tokens::<3, 10>::new([1, 9, 0]).is_ok());
    /// assert_eq!(
    ///     Tokens::<3, 10>::new([1, 10, 0]).unwrap_err().to_string(),
    ///     "token id 10 at position 1 is out of range for a vocabulary of 10 (ids 0..=9)"
    /// );
    /// ```
    ///
    /// With `V = 0` no id is in range (and `V - 1` would underflow in the message):
    ///
    /// ```
    /// use dl::Tokens;
    /// assert_eq!(
    ///     Tokens::<3, 0>::new([0, 0, 0]).unwrap_err().to_string(),
    ///     "token id 0 at position 0 is out of range for a vocabulary of 0 (no ids)"
    /// );
    /// ```
    ///
    /// The error converts into [`dl::Error`](crate::Error):
    ///
    /// ```
    /// fn first() -> dl::Result<dl::Tokens<2, 5>> {
    ///     Ok(dl::Tokens::new([4, 0])?)
    /// }
    /// assert_eq!(first().unwrap().ids(), &[4, 0]);
    /// ```
    pub fn new(ids: [u32; L]) -> Result<Self, TokenError> {
        match ids.iter().position(|&id| id as usize >= V) {
            Some(position) => Err(TokenError::OutOfRange {
                position,
                id: ids[position],
                vocabulary: V,
            }),
            None => Ok(Tokens(ids)),
        }
    }

    /// Builds from a slice of exactly `L` ids (checked like [`Tokens::new`]).
    pub fn from_slice(ids: &[u32]) -> Result<Self, TokenError> {
        let ids: [u32; L] = ids.try_into().map_err(|_| TokenError::Length {
            expected: L,
            found: ids.len(),
        })?;
        Self::new(ids)
    }

    /// The ids.
    pub fn ids(&self) -> &[u32; L] {
        &self.0
    }
}

impl<const L: usize, const V: usize> Sample for Tokens<L, V> {
    type Elem = u32;
    const LEN: usize = L;

    fn elems(&self) -> &[u32] {
        &self.0
    }

    fn from_elems(elems: &[u32]) -> Self {
        Self::from_slice(elems).expect("token ids produced by the network are in range")
    }
}

#[cfg(test)]
mod tests {
    use super::Tokens;

    #[test]
    fn an_empty_vocabulary_refuses_every_id_without_panicking() {
        assert!(
            Tokens::<3, 0>::new([0, 1, 2])
                .unwrap_err()
                .to_string()
                .ends_with("(no ids)")
        );
        assert!(Tokens::<0, 0>::new([]).is_ok());
        assert!(Tokens::<2, 0>::from_slice(&[7, 7]).is_err());
    }
}
