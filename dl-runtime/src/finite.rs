//! Fast checks for NaN and infinity over large buffers.

/// Whether every value is finite. `v · 0` is NaN exactly when `v` is NaN or infinite; summing
/// those products in 16 independent lanes lets the loop vectorise (a plain float sum cannot be
/// reordered, and `all(is_finite)` stops early, so neither does).
#[inline]
pub fn all_finite(values: &[f32]) -> bool {
    let mut acc = [0.0f32; 16];
    let chunks = values.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..16 {
            acc[l] += c[l] * 0.0;
        }
    }
    let tail: f32 = rest.iter().map(|v| v * 0.0).sum();
    !(acc.iter().sum::<f32>() + tail).is_nan()
}

#[cfg(test)]
mod tests {
    use super::all_finite;

    #[test]
    fn finds_nan_and_infinity_anywhere() {
        let mut v = vec![1.0f32; 37];
        assert!(all_finite(&v));
        for i in [0, 15, 16, 31, 36] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                v[i] = bad;
                assert!(!all_finite(&v), "{bad} at {i}");
                v[i] = f32::MAX;
            }
        }
        assert!(all_finite(&v));
        assert!(all_finite(&[]));
    }
}
