//! Type-level description of a network's output, so that a loss that does not fit the output is a
//! compile error rather than a runtime surprise.

use nalgebra::SVector;

/// The shape of a network's output as the losses see it. The macro picks [`OneUnit`] for a
/// 1-unit output and [`Units<N>`] otherwise.
pub trait Head: 'static {
    /// Output units per sample.
    const UNITS: usize;
    /// A real-valued target of this shape: `f32` for one unit, `SVector<f32, N>` for `N`.
    type Values: Values;
}

/// A network with a single output unit (binary classification, scalar regression).
#[derive(Debug, Clone, Copy, Default)]
pub struct OneUnit;

/// A network with `N ≥ 2` output units (multi-class classification, vector regression).
#[derive(Debug, Clone, Copy, Default)]
pub struct Units<const N: usize>;

impl Head for OneUnit {
    const UNITS: usize = 1;
    type Values = f32;
}

impl<const N: usize> Head for Units<N> {
    const UNITS: usize = N;
    type Values = SVector<f32, N>;
}

/// A target that is a fixed number of reals.
pub trait Values: Copy + Send + Sync + 'static {
    /// The values in order.
    fn values(&self) -> &[f32];
}

impl Values for f32 {
    fn values(&self) -> &[f32] {
        core::slice::from_ref(self)
    }
}

impl<const N: usize> Values for SVector<f32, N> {
    fn values(&self) -> &[f32] {
        self.as_slice()
    }
}
