//! Keras's `TextVectorization` for integer ids: standardise (lowercase, strip punctuation),
//! split on whitespace, map to a vocabulary of the most frequent training tokens with id 0 for
//! padding and id 1 for out-of-vocabulary tokens, then pad or truncate to a fixed length.
//!
//! # Vocabulary files
//!
//! [`TextVectorizer::save`] writes the tokens from id 2 on in id order, each followed by a
//! newline (`\n`), as Keras's `get_vocabulary()[2:]` joined by newlines, plus the final newline.
//! A token is non-empty, holds no whitespace (so that one line is one token) and has at most
//! [`MAX_TOKEN_BYTES`] bytes of UTF-8; no token appears twice. [`TextVectorizer::fit_tokens`]
//! refuses the tokens a file could not hold, so that every vocabulary it learns saves and loads
//! back. [`TextVectorizer::load`] reads files of at most [`MAX_VOCABULARY_BYTES`] and requires
//! the final newline: a file cut short in the middle of a token is refused rather than read as
//! a shorter vocabulary (a `\r\n` line end is accepted too), as are files of more than
//! [`MAX_VOCABULARY_TOKENS`] tokens. A file cut right after a newline still reads, as the
//! vocabulary of its first tokens: the format, Keras's, has no count. `dl` never leaves such a
//! file: saving replaces the file atomically, so a crash mid-save leaves the previous file.
//!
//! Files written by hand without the final newline, which earlier versions read, are refused:
//! add the newline.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use crate::error::{Error, Result};
use crate::tokens::{TokenError, Tokens};
use crate::weights::atomic;

/// The longest token a vocabulary holds, in bytes of UTF-8.
pub const MAX_TOKEN_BYTES: usize = 1024;

/// The largest vocabulary file [`TextVectorizer::load`] reads and [`TextVectorizer::save`]
/// writes (32 MiB, several times the largest vocabularies in use).
pub const MAX_VOCABULARY_BYTES: u64 = 32 << 20;

/// The most tokens a vocabulary file holds (2^20, ids 2 to 2^20 + 1). Each token costs about
/// 125 bytes of memory beyond its text, so a file of 32 MiB of tiny tokens would otherwise
/// take 860 MB to load.
pub const MAX_VOCABULARY_TOKENS: usize = 1 << 20;

const BYTES: &str = "<bytes>";

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
    ///
    /// Errs, naming the first one, if a token could not be saved in a vocabulary file: an empty
    /// token, one holding whitespace, or one longer than [`MAX_TOKEN_BYTES`] (whether or not it
    /// would be frequent enough to be kept).
    pub fn fit_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>, max_tokens: usize) -> Result<Self> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (i, t) in tokens.into_iter().enumerate() {
            match counts.entry(t) {
                Entry::Occupied(mut e) => *e.get_mut() += 1,
                Entry::Vacant(e) => {
                    check_token(t).map_err(|reason| Error::UnsavableToken {
                        index: i,
                        token: shown(t),
                        reason,
                    })?;
                    e.insert(1);
                }
            }
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
        Ok(Self::from_vocabulary(vocabulary))
    }

    /// Learns a vocabulary from raw texts, standardised and split on whitespace. Errs as
    /// [`fit_tokens`](Self::fit_tokens) does, here only for a word longer than
    /// [`MAX_TOKEN_BYTES`].
    pub fn fit<'a>(texts: impl IntoIterator<Item = &'a str>, max_tokens: usize) -> Result<Self> {
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
    pub fn vectorize<const L: usize, const V: usize>(&self, text: &str) -> Result<Tokens<L, V>, TokenError> {
        self.check_fits::<V>()?;
        let mut ids = [PAD; L];
        for (slot, t) in ids.iter_mut().zip(standardize(text).split_whitespace()) {
            *slot = self.id(t);
        }
        Tokens::new(ids)
    }

    /// Errs if ids of this vocabulary could exceed a network's vocabulary `V`.
    pub fn check_fits<const V: usize>(&self) -> Result<(), TokenError> {
        if self.vocabulary.len() > V {
            return Err(TokenError::VocabularyTooLarge {
                ids: self.vocabulary.len(),
                vocabulary: V,
            });
        }
        Ok(())
    }

    /// Saves the vocabulary, one token per line in id order (Keras's `get_vocabulary()`), each
    /// line ended by a newline, replacing `path` atomically: a crash or a full disk mid-save
    /// leaves the previous file. Errs if the file would be larger than [`MAX_VOCABULARY_BYTES`]
    /// or hold more than [`MAX_VOCABULARY_TOKENS`], which [`load`](Self::load) would refuse.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes();
        let tokens = self.vocabulary.len() - 2;
        if bytes.len() as u64 > MAX_VOCABULARY_BYTES || tokens > MAX_VOCABULARY_TOKENS {
            return Err(Error::Format {
                path: path.display().to_string(),
                message: format!(
                    "the vocabulary has {tokens} tokens in {} bytes, more than the {MAX_VOCABULARY_TOKENS} tokens \
                     or {MAX_VOCABULARY_BYTES} bytes of a vocabulary file; refusing to write a file that could not \
                     be loaded",
                    bytes.len()
                ),
            });
        }
        atomic::write_atomic(path, &bytes).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The vocabulary file that [`save`](Self::save) writes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for t in &self.vocabulary[2..] {
            bytes.extend_from_slice(t.as_bytes());
            bytes.push(b'\n');
        }
        bytes
    }

    /// Loads a vocabulary written by [`save`](Self::save): a regular file of at most
    /// [`MAX_VOCABULARY_BYTES`] and [`MAX_VOCABULARY_TOKENS`] whose every token is valid, unique
    /// and ended by a newline.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |source| Error::Io {
            path: name.clone(),
            source,
        };
        let file = crate::files::open_regular(path).map_err(io)?;
        let bytes = crate::files::read_capped(file, MAX_VOCABULARY_BYTES)
            .map_err(io)?
            .ok_or_else(|| Error::Format {
                path: name.clone(),
                message: too_long(),
            })?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            Error::Format { message, .. } => Error::Format { path: name, message },
            e => e,
        })
    }

    /// Reads the vocabulary file `bytes`, checking everything [`load`](Self::load) does; the
    /// entry point for fuzzing. Takes time and memory linear in the length of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        parse(bytes).map_err(|message| Error::Format {
            path: BYTES.to_string(),
            message,
        })
    }
}

fn too_long() -> String {
    format!(
        "the file is longer than the {MAX_VOCABULARY_BYTES} bytes a vocabulary file may have (not a vocabulary?)"
    )
}

/// Why `token` cannot be a line of a vocabulary file, if it cannot.
fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("an empty token cannot be saved (an empty line is not a token)".into());
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "{} bytes long, more than the {MAX_TOKEN_BYTES} of a token",
            token.len()
        ));
    }
    if let Some(c) = token.chars().find(|c| c.is_whitespace()) {
        return Err(format!(
            "holds whitespace {c:?}, which would split it across lines of a vocabulary file"
        ));
    }
    Ok(())
}

/// A token for an error message: quoted, escaped, and cut to 40 characters.
fn shown(token: &str) -> String {
    const SHOWN: usize = 40;
    match token.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}…", &token[..cut]),
        None => format!("{token:?}"),
    }
}

fn parse(bytes: &[u8]) -> Result<TextVectorizer, String> {
    if bytes.len() as u64 > MAX_VOCABULARY_BYTES {
        return Err(too_long());
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        format!("line {line}: not UTF-8 ({e})")
    })?;
    let Some(body) = text.strip_suffix('\n') else {
        if text.is_empty() {
            return Ok(TextVectorizer::from_vocabulary(vec![
                String::new(),
                OOV_TOKEN.to_string(),
            ]));
        }
        let last = text.rsplit('\n').next().unwrap_or_default();
        return Err(format!(
            "the file ends in the middle of line {} ({}) without a newline: cut short? Every token of a saved \
             vocabulary ends with a newline",
            text.matches('\n').count() + 1,
            shown(last)
        ));
    };
    let mut vocabulary = vec![String::new(), OOV_TOKEN.to_string()];
    let mut index = HashMap::new();
    for (n, line) in body.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bad = |why: String| {
            format!(
                "line {}: {} is not a token of a saved vocabulary: {why}",
                n + 1,
                shown(line)
            )
        };
        check_token(line).map_err(bad)?;
        if n == MAX_VOCABULARY_TOKENS {
            return Err(format!(
                "line {}: more than the {MAX_VOCABULARY_TOKENS} tokens a vocabulary file may have",
                n + 1
            ));
        }
        // Below 2^20 + 2.
        let id = vocabulary.len() as u32;
        match index.entry(line.to_string()) {
            Entry::Occupied(e) => return Err(bad(format!("it repeats line {}", *e.get() - 1))),
            Entry::Vacant(e) => {
                e.insert(id);
            }
        }
        vocabulary.push(line.to_string());
    }
    Ok(TextVectorizer { vocabulary, index })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_like_vocabulary_padding_and_oov() {
        let v = TextVectorizer::fit(["The cat sat.", "the dog sat!", "A cat"], 5).unwrap();
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
            v.vectorize::<4, 3>("cat").unwrap_err().to_string(),
            "the vectorizer has 5 ids but the network's Embedding takes 3"
        );
    }

    #[test]
    fn saves_and_loads() {
        let v = TextVectorizer::fit(["b a b c c c"], 10).unwrap();
        let path = std::env::temp_dir().join(format!("dl-vocab-{}.txt", std::process::id()));
        v.save(&path).unwrap();
        assert_eq!(TextVectorizer::load(&path).unwrap(), v);
        std::fs::write(&path, "a\na\n").unwrap();
        assert!(
            TextVectorizer::load(&path)
                .unwrap_err()
                .to_string()
                .ends_with("line 2: \"a\" is not a token of a saved vocabulary: it repeats line 1")
        );
        std::fs::remove_file(&path).unwrap();
    }
}
