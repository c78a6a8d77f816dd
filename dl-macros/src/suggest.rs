//! "Did you mean …?" for misspelt names.

/// Edit distance counting an adjacent transposition as one edit (`rleu` → `relu`),
/// case-insensitive (so `dense` finds `Dense`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[n][m]
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

/// `<problem>; did you mean `x`? expected one of: a, b, c`.
pub fn with_candidates(problem: String, name: &str, candidates: &[&str]) -> String {
    let mut msg = problem;
    match nearest(name, candidates) {
        Some(n) => msg.push_str(&format!("; did you mean `{n}`? expected one of: ")),
        None => msg.push_str("; expected one of: "),
    }
    msg.push_str(&candidates.join(", "));
    msg
}

/// `unknown <what> `name`; did you mean `x`? expected one of: a, b, c`.
pub fn unknown(what: &str, name: &str, candidates: &[&str]) -> String {
    with_candidates(format!("unknown {what} `{name}`"), name, candidates)
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
        assert_eq!(nearest("use_bais", &["units", "activation"]), None);
    }
}
