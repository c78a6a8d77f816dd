//! Keras's `TextVectorization` for integer ids: standardise (lowercase, strip punctuation),
//! split on whitespace, map to a vocabulary of the most frequent training tokens with id 0 for
//! padding and id 1 for out-of-vocabulary tokens, then pad or truncate to a fixed length.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::tokens::Tokens;

/// The padding id.
pub const PAD: u32 = 0;
/// The out-of-vocabulary id.
pub const OOV: u32 = 1;
const OOV_TOKEN: &str = "[UNK]";

/// A vocabulary learned from training text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextVectorizer {
    /// Tokens by id; `vocabulary[0]` is the padding token `""`, `vocabulary[1]` is `[UNK]`.
    vocabulary: Vec<String>,
    index: HashMap<String, u32>,
}

/// Keras's default standardisation: lowercase, and drop ASCII punctuation.
pub fn standardize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_ascii_punctuation())
        .flat_map(char::to_lowercase)
        .collect()
}

impl TextVectorizer {
    /// Learns a vocabulary of at most `max_tokens` ids (padding and `[UNK]` included, as in
    /// Keras) from already split tokens: the most frequent first, ties in alphabetical order so
    /// the result does not depend on hash order.
    pub fn fit_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>, max_tokens: usize) -> Self {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for t in tokens {
            *counts.entry(t).or_default() += 1;
        }
        let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut vocabulary = vec![String::new(), OOV_TOKEN.to_string()];
        vocabulary.extend(
            by_count
                .into_iter()
                .take(max_tokens.saturating_sub(2))
                .map(|(t, _)| t.to_string()),
        );
        Self::from_vocabulary(vocabulary)
    }

    /// Learns a vocabulary from raw texts, standardised and split on whitespace.
    pub fn fit<'a>(texts: impl IntoIterator<Item = &'a str>, max_tokens: usize) -> Self {
        let standardized: Vec<String> = texts.into_iter().map(standardize).collect();
        Self::fit_tokens(standardized.iter().flat_map(|t| t.split_whitespace()), max_tokens)
    }

    fn from_vocabulary(vocabulary: Vec<String>) -> Self {
        let index = vocabulary
            .iter()
            .enumerate()
            .skip(2)
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        TextVectorizer { vocabulary, index }
    }

    /// Ids in use, padding and `[UNK]` included.
    pub fn vocabulary_size(&self) -> usize {
        self.vocabulary.len()
    }

    /// The token of an id.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.vocabulary.get(id as usize).map(String::as_str)
    }

    /// The id of one (already standardised) token.
    pub fn id(&self, token: &str) -> u32 {
        self.index.get(token).copied().unwrap_or(OOV)
    }

    /// Ids of already split tokens.
    pub fn encode_tokens<'a>(&self, tokens: impl IntoIterator<Item = &'a str>) -> Vec<u32> {
        tokens.into_iter().map(|t| self.id(t)).collect()
    }

    /// A raw text as exactly `L` ids: standardised, split, truncated or padded with [`PAD`] at
    /// the end (Keras's `output_sequence_length`). Errs if this vocabulary does not fit a
    /// network whose vocabulary is `V`.
    pub fn vectorize<const L: usize, const V: usize>(&self, text: &str) -> Result<Tokens<L, V>, String> {
        self.check_fits::<V>()?;
        let mut ids = [PAD; L];
        for (slot, t) in ids.iter_mut().zip(standardize(text).split_whitespace()) {
            *slot = self.id(t);
        }
        Tokens::new(ids)
    }

    /// Errs if ids of this vocabulary could exceed a network's vocabulary `V`.
    pub fn check_fits<const V: usize>(&self) -> Result<(), String> {
        if self.vocabulary.len() > V {
            return Err(format!(
                "the vectorizer has {} ids but the network's Embedding takes {V}",
                self.vocabulary.len()
            ));
        }
        Ok(())
    }

    /// Saves the vocabulary, one token per line in id order (Keras's `get_vocabulary()`).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        for t in &self.vocabulary[2..] {
            writeln!(f, "{t}").map_err(io)?;
        }
        f.flush().map_err(io)
    }

    /// Loads a vocabulary written by [`TextVectorizer::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut vocabulary = vec![String::new(), OOV_TOKEN.to_string()];
        for (n, line) in text.lines().enumerate() {
            if line.is_empty()
                || line.contains(char::is_whitespace)
                || vocabulary[2..].iter().any(|t| t == line)
            {
                return Err(Error::Format {
                    path: path.display().to_string(),
                    message: format!("line {}: `{line}` is not a token of a saved vocabulary", n + 1),
                });
            }
            vocabulary.push(line.to_string());
        }
        Ok(Self::from_vocabulary(vocabulary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_like_vocabulary_padding_and_oov() {
        let v = TextVectorizer::fit(["The cat sat.", "the dog sat!", "A cat"], 5);
        // Frequencies: the 2, cat 2, sat 2, a 1, dog 1 → 3 words fit beside padding and [UNK].
        assert_eq!(v.vocabulary_size(), 5);
        assert_eq!(
            (v.token(0), v.token(1), v.token(2), v.token(3), v.token(4)),
            (Some(""), Some("[UNK]"), Some("cat"), Some("sat"), Some("the"))
        );
        let t = v.vectorize::<6, 5>("The DOG sat on the cat").unwrap();
        assert_eq!(t.ids(), &[4, OOV, 3, OOV, 4, 2]);
        let t = v.vectorize::<4, 5>("cat").unwrap();
        assert_eq!(t.ids(), &[2, PAD, PAD, PAD]);
        assert_eq!(
            v.vectorize::<4, 3>("cat").unwrap_err(),
            "the vectorizer has 5 ids but the network's Embedding takes 3"
        );
    }

    #[test]
    fn saves_and_loads() {
        let v = TextVectorizer::fit(["b a b c c c"], 10);
        let path = std::env::temp_dir().join(format!("dl-vocab-{}.txt", std::process::id()));
        v.save(&path).unwrap();
        assert_eq!(TextVectorizer::load(&path).unwrap(), v);
        std::fs::write(&path, "a\na\n").unwrap();
        assert!(
            TextVectorizer::load(&path)
                .unwrap_err()
                .to_string()
                .contains("line 2: `a` is not a token")
        );
        std::fs::remove_file(&path).unwrap();
    }
}
