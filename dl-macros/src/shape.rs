//! Per-sample shapes and the arithmetic of convolution and pooling windows, as plain numbers.

use std::fmt;

/// The shape of one sample between layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `features`.
    Flat(usize),
    /// Channels-last image: height, width, channels.
    Image(usize, usize, usize),
    /// Token ids: sequence length.
    Tokens(usize),
    /// Time steps × features, time-major.
    Sequence(usize, usize),
}

impl Shape {
    pub fn len(self) -> usize {
        match self {
            Shape::Flat(n) => n,
            Shape::Image(h, w, c) => h * w * c,
            Shape::Tokens(l) => l,
            Shape::Sequence(t, d) => t * d,
        }
    }

    /// Features a per-step layer (Dense) sees: the last dimension.
    pub fn features(self) -> usize {
        match self {
            Shape::Sequence(_, d) => d,
            other => other.len(),
        }
    }

    pub fn dims(self) -> Vec<usize> {
        match self {
            Shape::Flat(n) => vec![n],
            Shape::Image(h, w, c) => vec![h, w, c],
            Shape::Tokens(l) => vec![l],
            Shape::Sequence(t, d) => vec![t, d],
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Flat(n) => write!(f, "{n} features"),
            Shape::Image(h, w, c) => write!(f, "a {h}×{w}×{c} image"),
            Shape::Tokens(l) => write!(f, "{l} token ids"),
            Shape::Sequence(t, d) => write!(f, "a sequence of {t} steps × {d} features"),
        }
    }
}

/// Keras's `padding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Valid,
    Same,
}

/// Output length and leading padding of a window of `k` with stride `s` over `n` cells, or
/// `None` when a `valid` window does not fit.
pub fn window(n: usize, k: usize, s: usize, padding: Padding) -> Option<(usize, usize)> {
    match padding {
        Padding::Valid => (n >= k).then(|| ((n - k) / s + 1, 0)),
        Padding::Same => {
            let out = n.div_ceil(s);
            // Keras (TensorFlow) pads the total evenly, the odd cell at the bottom/right.
            let total = ((out - 1) * s + k).saturating_sub(n);
            Some((out, total / 2))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_window_arithmetic() {
        assert_eq!(window(28, 3, 1, Padding::Valid), Some((26, 0)));
        assert_eq!(window(26, 2, 2, Padding::Valid), Some((13, 0)));
        assert_eq!(window(13, 2, 2, Padding::Valid), Some((6, 0)));
        assert_eq!(window(3, 5, 1, Padding::Valid), None);
        assert_eq!(window(28, 3, 1, Padding::Same), Some((28, 1)));
        assert_eq!(window(28, 3, 2, Padding::Same), Some((14, 0)));
        assert_eq!(window(5, 4, 1, Padding::Same), Some((5, 1)));
        assert_eq!(window(7, 2, 2, Padding::Same), Some((4, 0)));
    }
}
