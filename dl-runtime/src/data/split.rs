//! Seeded shuffling and train/test splits of samples and labels, as scikit-learn's `shuffle` and
//! `train_test_split` (with `stratify`) do.
//!
//! ```
//! use dl::data::{shuffle, train_test_split};
//!
//! let x: Vec<f32> = (0..10).map(|i| i as f32).collect();
//! let y: Vec<usize> = vec![0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
//! // A fifth for testing, each class in the share it has overall, the same for the same seed.
//! let split = train_test_split(&x, &y, 0.2, 7, Some(&y))?;
//! assert_eq!(split.y_test.iter().filter(|&&c| c == 1).count(), 1);
//! assert_eq!((split.x_train.len(), split.x_test.len()), (8, 2));
//!
//! let (mut x, mut y) = (x, y);
//! shuffle(&mut x, &mut y, 7)?;
//! assert!(x.iter().zip(&y).all(|(&x, &y)| (x >= 6.0) == (y == 1)), "pairs stay together");
//! # Ok::<(), dl::Error>(())
//! ```

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// The two parts of a [`train_test_split`], each in a shuffled order.
#[derive(Debug, Clone, PartialEq)]
pub struct Split<X, Y> {
    /// The training samples.
    pub x_train: Vec<X>,
    /// Their labels.
    pub y_train: Vec<Y>,
    /// The test samples.
    pub x_test: Vec<X>,
    /// Their labels.
    pub y_test: Vec<Y>,
}

/// Shuffles `x` and `y` together (pairs stay pairs), the same way for the same `seed`
/// (a Fisher–Yates shuffle driven by ChaCha8). An `Err` if their lengths differ.
pub fn shuffle<X, Y>(x: &mut [X], y: &mut [Y], seed: u64) -> Result<()> {
    check_lengths(x.len(), y.len())?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in (1..x.len()).rev() {
        let j = rng.random_range(0..=i);
        x.swap(i, j);
        y.swap(i, j);
    }
    Ok(())
}

/// Splits `x` and `y` into a training and a test part, as scikit-learn's `train_test_split`:
/// `ceil(test_fraction · n)` samples for testing, chosen at random (the same for the same
/// `seed`), both parts in a shuffled order.
///
/// With `stratify` (one class index per sample, usually `Some(&y)`), each class has the share
/// in the test part that it has overall, up to rounding: class `c` of `n_c` samples gets
/// `n_c · n_test / n` test samples, rounded down or up so that the counts add up (the classes
/// with the largest remainders round up, ties broken by the seed). A class of one sample may
/// so end up only in one part.
///
/// An `Err` names the argument when `test_fraction` is not in (0, 1) or leaves one part
/// empty, when `x`, `y` and `stratify` differ in length, or when there are no samples.
pub fn train_test_split<X: Clone, Y: Clone>(
    x: &[X],
    y: &[Y],
    test_fraction: f32,
    seed: u64,
    stratify: Option<&[usize]>,
) -> Result<Split<X, Y>> {
    check_lengths(x.len(), y.len())?;
    let n = x.len();
    if n == 0 {
        return Err(Error::EmptyData {
            what: "the data to split",
        });
    }
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::BadArgument {
            argument: "test_fraction",
            message: format!("must be in (0, 1), the share of samples for testing; got {test_fraction}"),
        });
    }
    // The decimal the caller wrote, in f64 (as Python holds it), so that 0.2 · 10 is 2 and not
    // the 2.0000000298 of the f32 0.2; less a hair, so that 0.1 · 30 is 3 and not 4.
    let fraction: f64 = test_fraction
        .to_string()
        .parse()
        .unwrap_or(f64::from(test_fraction));
    let n_test = (fraction * n as f64 - 1e-9).ceil().max(0.0) as usize;
    if n_test == 0 || n_test == n {
        return Err(Error::BadArgument {
            argument: "test_fraction",
            message: format!(
                "{test_fraction} of {n} samples leaves {} for training and {n_test} for testing; \
                 both parts need at least one",
                n - n_test
            ),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let in_test: Vec<bool> = match stratify {
        None => {
            let mut t = vec![false; n];
            order[..n_test].iter().for_each(|&i| t[i] = true);
            t
        }
        Some(classes) => {
            if classes.len() != n {
                return Err(Error::BadArgument {
                    argument: "stratify",
                    message: format!("has {} class indices for {n} samples", classes.len()),
                });
            }
            let mut quota = quotas(classes, n_test, &mut rng);
            let mut t = vec![false; n];
            for &i in &order {
                let q = quota.get_mut(&classes[i]).expect("every class has a quota");
                if *q > 0 {
                    *q -= 1;
                    t[i] = true;
                }
            }
            t
        }
    };
    let mut split = Split {
        x_train: Vec::with_capacity(n - n_test),
        y_train: Vec::with_capacity(n - n_test),
        x_test: Vec::with_capacity(n_test),
        y_test: Vec::with_capacity(n_test),
    };
    for &i in &order {
        let (xs, ys) = if in_test[i] {
            (&mut split.x_test, &mut split.y_test)
        } else {
            (&mut split.x_train, &mut split.y_train)
        };
        xs.push(x[i].clone());
        ys.push(y[i].clone());
    }
    Ok(split)
}

/// Test samples per class: `n_c · n_test / n` rounded down, then one more for the classes with
/// the largest remainders until they add up to `n_test` (largest remainder, ties in a seeded
/// order).
fn quotas(classes: &[usize], n_test: usize, rng: &mut ChaCha8Rng) -> BTreeMap<usize, usize> {
    let n = classes.len() as u128;
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    classes.iter().for_each(|&c| *counts.entry(c).or_default() += 1);
    let mut quota: BTreeMap<usize, usize> = BTreeMap::new();
    let mut remainders = Vec::with_capacity(counts.len());
    for (&c, &count) in &counts {
        let share = count as u128 * n_test as u128;
        quota.insert(c, (share / n) as usize);
        remainders.push((share % n, c));
    }
    let short = n_test - quota.values().sum::<usize>();
    for i in (1..remainders.len()).rev() {
        remainders.swap(i, rng.random_range(0..=i));
    }
    remainders.sort_by_key(|r| std::cmp::Reverse(r.0));
    for &(_, c) in &remainders[..short] {
        *quota.get_mut(&c).expect("a class") += 1;
    }
    quota
}

fn check_lengths(x: usize, y: usize) -> Result<()> {
    if x == y {
        Ok(())
    } else {
        Err(Error::LengthMismatch { x, y })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffling_keeps_pairs_and_depends_only_on_the_seed() {
        let x0: Vec<u32> = (0..50).collect();
        let y0: Vec<u32> = x0.iter().map(|v| v * 10).collect();
        let shuffled = |seed| {
            let (mut x, mut y) = (x0.clone(), y0.clone());
            shuffle(&mut x, &mut y, seed).unwrap();
            (x, y)
        };
        let (x, y) = shuffled(3);
        assert!(x.iter().zip(&y).all(|(a, b)| a * 10 == *b));
        let mut sorted = x.clone();
        sorted.sort();
        assert_eq!(sorted, x0, "a permutation");
        assert_ne!(x, x0, "moved");
        assert_eq!(shuffled(3), (x.clone(), y), "same seed, same order");
        assert_ne!(shuffled(4).0, x, "another seed, another order");
        let e = shuffle(&mut [1, 2], &mut [1], 0).unwrap_err();
        assert!(matches!(e, Error::LengthMismatch { x: 2, y: 1 }), "{e}");
    }

    #[test]
    fn a_plain_split_takes_the_ceiling_of_the_fraction_and_loses_nothing() {
        let x: Vec<u32> = (0..10).collect();
        let s = train_test_split(&x, &x, 0.25, 1, None).unwrap();
        assert_eq!((s.x_train.len(), s.x_test.len()), (7, 3));
        assert_eq!(s.x_train, s.y_train);
        assert_eq!(s.x_test, s.y_test);
        let mut all: Vec<u32> = s.x_train.iter().chain(&s.x_test).copied().collect();
        all.sort();
        assert_eq!(all, x);
        assert_eq!(train_test_split(&x, &x, 0.2, 1, None).unwrap().x_test.len(), 2);
        assert_eq!(train_test_split(&x, &x, 0.25, 1, None).unwrap(), s);
        assert_ne!(train_test_split(&x, &x, 0.25, 2, None).unwrap(), s);
    }

    #[test]
    fn bad_arguments_are_errors_naming_them() {
        let x = [1.0f32; 4];
        for bad in [0.0, 1.0, -0.5, 1.5, f32::NAN, f32::INFINITY] {
            let e = train_test_split(&x, &x, bad, 0, None).unwrap_err().to_string();
            assert!(e.starts_with("test_fraction: must be in (0, 1)"), "{bad}: {e}");
        }
        let e = train_test_split(&x, &x, 1e-12, 0, None).unwrap_err().to_string();
        assert!(
            e.contains("test_fraction: 0.000000000001 of 4 samples leaves 4 for training and 0"),
            "{e}"
        );
        let e = train_test_split(&x, &x, 0.9, 0, None).unwrap_err().to_string();
        assert!(e.contains("leaves 0 for training and 4 for testing"), "{e}");
        let e = train_test_split(&x, &x, 0.5, 0, Some(&[0, 1]))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("stratify: has 2 class indices for 4 samples"),
            "{e}"
        );
        let e = train_test_split(&x, &x[..3], 0.5, 0, None).unwrap_err();
        assert!(matches!(e, Error::LengthMismatch { x: 4, y: 3 }), "{e}");
        let e = train_test_split::<f32, f32>(&[], &[], 0.5, 0, None).unwrap_err();
        assert!(matches!(e, Error::EmptyData { .. }), "{e}");
    }

    /// Over many seeds, class counts and fractions: each class's test count is its overall share
    /// of the test part up to rounding (off by less than one), the parts hold every sample once,
    /// and the same seed gives the same split.
    #[test]
    fn a_stratified_split_keeps_every_class_share_up_to_rounding() {
        let mut draw = ChaCha8Rng::seed_from_u64(99);
        for seed in 0..300u64 {
            let classes = draw.random_range(1..=6);
            let y: Vec<usize> = (0..classes)
                .flat_map(|c| std::iter::repeat_n(c * 7, draw.random_range(1..=40)))
                .collect();
            let n = y.len();
            let percent = [10, 20, 25, 30, 50, 80][draw.random_range(0..6)];
            let fraction = percent as f32 / 100.0;
            let x: Vec<usize> = (0..n).collect();
            let Ok(s) = train_test_split(&x, &y, fraction, seed, Some(&y)) else {
                continue; // one part would be empty: checked above
            };
            let n_test = s.x_test.len();
            assert_eq!(n_test, (percent * n).div_ceil(100), "{percent}% of {n}");
            for c in 0..classes {
                let overall = y.iter().filter(|&&l| l == c * 7).count();
                let test = s.y_test.iter().filter(|&&l| l == c * 7).count();
                let share = overall as f64 * n_test as f64 / n as f64;
                assert!(
                    (test as f64 - share).abs() < 1.0,
                    "seed {seed}: class {c} has {test} of {n_test} test samples, its share is {share}"
                );
            }
            let mut all: Vec<usize> = s.x_train.iter().chain(&s.x_test).copied().collect();
            all.sort();
            assert_eq!(all, x);
            assert!(s.x_test.iter().zip(&s.y_test).all(|(&i, &l)| y[i] == l));
            assert_eq!(train_test_split(&x, &y, fraction, seed, Some(&y)).unwrap(), s);
        }
    }
}
