//! Token-id inputs whose ids are known to be in range for the network's vocabulary.

use crate::sample::Sample;

/// A sequence of `L` token ids, each below `V`, the vocabulary size of the network's
/// `Embedding`. The bound is checked when the value is built, so a network that takes `Tokens`
/// can never read outside its embedding table, and a wrong length or vocabulary does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tokens<const L: usize, const V: usize>([u32; L]);

impl<const L: usize, const V: usize> Tokens<L, V> {
    /// Checks every id against the vocabulary size `V`.
    ///
    /// ```
    /// use dl_runtime::tokens::Tokens;
    /// assert!(Tokens::<3, 10>::new([1, 9, 0]).is_ok());
    /// assert_eq!(
    ///     Tokens::<3, 10>::new([1, 10, 0]).unwrap_err(),
    ///     "token id 10 at position 1 is out of range for a vocabulary of 10 (ids 0..=9)"
    /// );
    /// ```
    ///
    /// With `V = 0` no id is in range (and `V - 1` would underflow in the message):
    ///
    /// ```
    /// use dl_runtime::tokens::Tokens;
    /// assert_eq!(
    ///     Tokens::<3, 0>::new([0, 0, 0]).unwrap_err(),
    ///     "token id 0 at position 0 is out of range for a vocabulary of 0 (no ids)"
    /// );
    /// ```
    pub fn new(ids: [u32; L]) -> Result<Self, String> {
        match ids.iter().position(|&id| id as usize >= V) {
            Some(p) => Err(format!(
                "token id {} at position {p} is out of range for a vocabulary of {V} ({})",
                ids[p],
                match V.checked_sub(1) {
                    Some(last) => format!("ids 0..={last}"),
                    None => "no ids".to_string(),
                }
            )),
            None => Ok(Tokens(ids)),
        }
    }

    /// Builds from a slice of exactly `L` ids (checked like [`Tokens::new`]).
    pub fn from_slice(ids: &[u32]) -> Result<Self, String> {
        let ids: [u32; L] = ids
            .try_into()
            .map_err(|_| format!("expected {L} token ids, found {}", ids.len()))?;
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
        assert!(Tokens::<3, 0>::new([0, 1, 2]).unwrap_err().ends_with("(no ids)"));
        assert!(Tokens::<0, 0>::new([]).is_ok());
        assert!(Tokens::<2, 0>::from_slice(&[7, 7]).is_err());
    }
}
