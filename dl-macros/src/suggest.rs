//! "Did you mean …?" for misspelt names.

/// Levenshtein distance, case-insensitive (so `dense` finds `Dense`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `candidates`, if it is close enough to be a plausible typo.
pub fn nearest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (distance(name, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1) + usize::from(name.len() > 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `unknown <what> `name`; did you mean `x`? expected one of: a, b, c`.
pub fn unknown(what: &str, name: &str, candidates: &[&str]) -> String {
    let mut msg = format!("unknown {what} `{name}`");
    if let Some(n) = nearest(name, candidates) {
        msg.push_str(&format!("; did you mean `{n}`?"));
    }
    msg.push_str(&format!(" expected one of: {}", candidates.join(", ")));
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(nearest("rleu", &["relu", "elu", "gelu", "tanh"]), Some("relu"));
        assert_eq!(nearest("Dens", &["Dense"]), Some("Dense"));
        assert_eq!(nearest("sigmod", &["relu", "sigmoid"]), Some("sigmoid"));
        assert_eq!(nearest("convolution", &["Dense"]), None);
    }
}
