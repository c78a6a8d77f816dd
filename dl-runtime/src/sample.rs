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
        self.iter().copied().find(|v| !v.is_finite())
    }
}
