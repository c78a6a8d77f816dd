//! What one sample of input or output is, as a flat run of elements.

use nalgebra::SVector;

/// A fixed-size sample: a feature vector today, token ids or images as layers arrive.
pub trait Sample: Copy + Send + Sync + 'static {
    /// Element type (`f32` features, `u32` token ids).
    type Elem: Copy + Default + Send + Sync + 'static;
    /// Elements per sample.
    const LEN: usize;
    /// The elements, in the order the first layer reads them.
    fn elems(&self) -> &[Self::Elem];
    /// Builds a sample from exactly `LEN` elements.
    fn from_elems(elems: &[Self::Elem]) -> Self;
    /// The first NaN or infinite value, for inputs that can hold one.
    fn first_non_finite(&self) -> Option<f32> {
        None
    }
}

impl<const N: usize> Sample for SVector<f32, N> {
    type Elem = f32;
    const LEN: usize = N;

    #[inline]
    fn elems(&self) -> &[f32] {
        self.as_slice()
    }

    #[inline]
    fn from_elems(elems: &[f32]) -> Self {
        SVector::from_column_slice(elems)
    }

    fn first_non_finite(&self) -> Option<f32> {
        // Every input of every training step is checked: the vectorised test first, the search
        // only where it finds something.
        if crate::finite::all_finite(self.as_slice()) {
            return None;
        }
        self.iter().copied().find(|v| !v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first NaN or infinity of an input, wherever it is (in the vectorised test's
    /// 16-lane blocks and in the tail), and none in an input of finite extremes.
    #[test]
    fn the_first_non_finite_value_is_found_anywhere() {
        let mut x = SVector::<f32, 37>::from_element(f32::MAX);
        x[3] = f32::MIN_POSITIVE;
        assert_eq!(x.first_non_finite(), None);
        for i in [0, 15, 16, 31, 36] {
            for bad in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
                let mut y = x;
                y[i] = bad;
                y[36] = if i == 36 { bad } else { f32::NEG_INFINITY };
                let first = y.first_non_finite().expect("found");
                assert_eq!(first.to_bits(), bad.to_bits(), "{bad} at {i}");
            }
        }
    }
}
