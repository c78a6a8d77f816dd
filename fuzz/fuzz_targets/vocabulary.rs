//! Feeds arbitrary bytes to the vocabulary reader, and arbitrary tokens to `fit_tokens`. The
//! reader must never panic; a vocabulary it accepts must write back to the same vocabulary; and
//! `fit_tokens` must accept exactly the tokens a vocabulary file can hold, so that what it
//! learns always saves and loads back.

#![no_main]

use dl::data::text::{MAX_TOKEN_BYTES, TextVectorizer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match TextVectorizer::from_bytes(data) {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(v) => {
            let again = v.to_bytes();
            assert_eq!(
                TextVectorizer::from_bytes(&again).expect("what dl writes, dl reads"),
                v
            );
            // Without `\r`, the file is exactly what `save` writes.
            if !data.contains(&b'\r') {
                assert_eq!(again, data);
            }
        }
    }

    // The same bytes as tokens separated by `|`.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let tokens: Vec<&str> = text.split('|').collect();
    let holdable = |t: &str| !t.is_empty() && t.len() <= MAX_TOKEN_BYTES && !t.contains(char::is_whitespace);
    match TextVectorizer::fit_tokens(tokens.iter().copied(), 1000) {
        Err(e) => assert!(
            tokens.iter().any(|t| !holdable(t)),
            "refused holdable tokens: {e}"
        ),
        Ok(v) => {
            assert!(tokens.iter().all(|t| holdable(t)));
            let bytes = v.to_bytes();
            assert_eq!(
                TextVectorizer::from_bytes(&bytes).expect("what fit learns, a file holds"),
                v
            );
        }
    }
});
