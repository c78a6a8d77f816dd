//! Keras's merge layers, which read two or more tensors: `Add`, `Subtract`, `Multiply`,
//! `Average`, `Maximum`, `Minimum` (element-wise, over inputs of one shape) and `Concatenate`
//! (along the last axis, the channels).
//!
//! `network!` calls [`Merge::forward_merge`] and [`Merge::backward_merge`] (or the
//! [`Concatenate`] pair) with the input tensors it wired; their [`Layer`] impls exist for the
//! parts every node shares (its buffers, its training bytes, no parameters) and, read with a
//! single input, are the identity. The backward pass writes one input's gradient at a time, so
//! the generated code can send it where that input's other consumers add theirs.

use super::{Buffers, Layer, TrainingBytes, fit_len, output_and_gradient};
use crate::activation::{Activation, relu_slope};
use crate::simd::simd_fn;

/// The element-wise operation of a [`Merge`], with Keras's semantics: sums and products in input
/// order, `Average` the sum divided by the number of inputs, and the gradient of `Maximum` and
/// `Minimum` sent to the first input holding the extreme, as TensorFlow's `maximum` gives ties
/// to its first argument. It is `dl_core`'s, whose kernel computes the forward of one sample,
/// and here of a whole batch at once.
pub use dl_core::merge::Merge as MergeOp;

/// An element-wise merge of tensors of `N` features per sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Merge<const N: usize>;

/// A concatenation along the last axis giving `N` features per sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Concatenate<const N: usize>;

impl<const N: usize> Merge<N> {
    /// `buf.y = activation(op(inputs…))`, each input `N × batch`, and sizes `buf.dy`.
    /// `activation` is `linear`, or `relu` after an `Add`: `network!` passes the relu of an
    /// `Activation('relu')` that is the sum's only reader (as ResNet's blocks end), applied as
    /// the sum is stored, and masks its gradient in [`backward_merge`](Self::backward_merge).
    pub fn forward_merge(
        &self,
        op: MergeOp,
        inputs: &[&[f32]],
        batch: usize,
        buf: &mut Buffers<()>,
        activation: Activation,
    ) {
        let len = N * batch;
        fit_len(&mut buf.y, len);
        fit_len(&mut buf.dy, len);
        match (applies_relu(op, activation), inputs) {
            (true, [a, b]) => add_relu(&a[..len], &b[..len], &mut buf.y),
            (relu, _) => {
                dl_core::merge::merge(op, inputs, &mut buf.y);
                if relu {
                    Activation::Relu.apply_in_place(&mut buf.y, N);
                }
            }
        }
    }

    /// `∂L/∂inputs[which]` from `buf.dy` into `dx` (overwritten), through the relu
    /// [`forward_merge`](Self::forward_merge) applied with `activation`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_merge(
        &self,
        op: MergeOp,
        inputs: &[&[f32]],
        batch: usize,
        buf: &Buffers<()>,
        which: usize,
        dx: &mut [f32],
        activation: Activation,
    ) {
        let len = N * batch;
        if applies_relu(op, activation) {
            // The sum's gradient is the relu's, masked: every input of an `Add` receives it.
            relu_mask(&buf.y[..len], &buf.dy[..len], &mut dx[..len]);
        } else {
            merge_backward(op, inputs, &buf.dy[..len], which, &mut dx[..len]);
        }
    }
}

/// Whether a merge applies a relu: `network!` passes one to `Add` only.
fn applies_relu(op: MergeOp, activation: Activation) -> bool {
    match (op, activation) {
        (_, Activation::Linear) => false,
        (MergeOp::Add, Activation::Relu) => true,
        (op, other) => panic!(
            "a merge applies `linear`, or `relu` after `Add`; not `{}` after {op:?}",
            other.name()
        ),
    }
}

simd_fn! {
    /// `y = max(a + b, 0)`: the bits of the sum, then a relu layer.
    fn add_relu(a: &[f32], b: &[f32], y: &mut [f32]) {
        for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
            *y = (a + b).max(0.0);
        }
    }
}

simd_fn! {
    /// `dx = dy · relu'(z)`, the mask read from the relu's output `y` as a relu layer reads it.
    fn relu_mask(y: &[f32], dy: &[f32], dx: &mut [f32]) {
        for ((dx, &dy), &y) in dx.iter_mut().zip(dy).zip(y) {
            *dx = dy * relu_slope(y);
        }
    }
}

fn merge_backward(op: MergeOp, inputs: &[&[f32]], dy: &[f32], which: usize, dx: &mut [f32]) {
    let len = dy.len();
    match op {
        MergeOp::Add => dx.copy_from_slice(dy),
        MergeOp::Subtract if which == 0 => dx.copy_from_slice(dy),
        MergeOp::Subtract => dx.iter_mut().zip(dy).for_each(|(d, g)| *d = -g),
        MergeOp::Average => {
            let n = inputs.len() as f32;
            dx.iter_mut().zip(dy).for_each(|(d, g)| *d = g / n);
        }
        MergeOp::Multiply => {
            dx.copy_from_slice(dy);
            for (_, x) in inputs.iter().enumerate().filter(|&(k, _)| k != which) {
                dx.iter_mut().zip(&x[..len]).for_each(|(d, x)| *d *= x);
            }
        }
        MergeOp::Maximum | MergeOp::Minimum => {
            let wins = |x: f32, best: f32| {
                if op == MergeOp::Maximum {
                    x > best
                } else {
                    x < best
                }
            };
            for (i, (d, g)) in dx.iter_mut().zip(dy).enumerate() {
                let mut best = inputs[0][i];
                let mut at = 0;
                for (k, x) in inputs.iter().enumerate().skip(1) {
                    if wins(x[i], best) {
                        best = x[i];
                        at = k;
                    }
                }
                *d = if at == which { *g } else { 0.0 };
            }
        }
    }
}

impl<const N: usize> Concatenate<N> {
    /// `buf.y` = the inputs joined along their last axis: input `i` holds `channels[i]` values
    /// at each of the `N / Σ channels` positions (pixels, time steps, or one for flat features).
    pub fn forward_concat(&self, inputs: &[&[f32]], channels: &[usize], batch: usize, buf: &mut Buffers<()>) {
        fit_len(&mut buf.y, N * batch);
        fit_len(&mut buf.dy, N * batch);
        // A batch is `batch · N / Σ channels` positions laid end to end, as one sample's are.
        dl_core::merge::concatenate(inputs, channels, &mut buf.y);
    }

    /// `∂L/∂inputs[which]` (the slice of `buf.dy` it filled) into `dx` (overwritten).
    pub fn backward_concat(
        &self,
        channels: &[usize],
        batch: usize,
        buf: &Buffers<()>,
        which: usize,
        dx: &mut [f32],
    ) {
        let total: usize = channels.iter().sum();
        let offset: usize = channels[..which].iter().sum();
        let c = channels[which];
        for r in 0..batch * (N / total) {
            dx[r * c..r * c + c].copy_from_slice(&buf.dy[r * total + offset..r * total + offset + c]);
        }
    }
}

/// The [`Layer`] items a merge shares with every node: no parameters, its output and gradient
/// buffers; read with one input it is the identity.
macro_rules! merge_layer {
    ($ty:ident) => {
        impl<const N: usize> Layer for $ty<N> {
            const PARAMS: usize = 0;
            const INPUTS: usize = N;
            const OUTPUTS: usize = N;
            type In = f32;
            type Extra = ();
            const TRAINING_BYTES: TrainingBytes = TrainingBytes::always(output_and_gradient::<Self>());

            fn zeros() -> Self {
                $ty
            }

            fn for_each_param<'a>(&'a self, _f: &mut impl FnMut(&'static str, &'a [f32])) {}

            fn for_each_param_mut(&mut self, _f: &mut impl FnMut(&'static str, &mut [f32])) {}

            fn zip_params_mut(&mut self, _other: &Self, _f: &mut impl FnMut(&mut [f32], &[f32])) {}

            fn forward_batch(&self, x: &[f32], batch: usize, buf: &mut Buffers<()>, _: Activation, _: bool) {
                fit_len(&mut buf.y, N * batch);
                fit_len(&mut buf.dy, N * batch);
                buf.y.copy_from_slice(&x[..N * batch]);
            }

            fn pre_activation<'a>(_extra: &'a (), y: &'a [f32]) -> &'a [f32] {
                y
            }

            fn backward_batch(
                &self,
                _x: &[f32],
                batch: usize,
                buf: &mut Buffers<()>,
                _: Activation,
                _grads: &mut Self,
                dx: Option<&mut [f32]>,
            ) {
                if let Some(dx) = dx {
                    dx[..N * batch].copy_from_slice(&buf.dy[..N * batch]);
                }
            }
        }
    };
}

merge_layer!(Merge);
merge_layer!(Concatenate);

/// The buffer a node's second and later consumers write their part of its gradient into before
/// it is added to the node's `dy` (the first consumer writes `dy` itself): `len` values, grown
/// once and then reused.
#[doc(hidden)]
pub fn gradient_scratch(scratch: &mut Vec<f32>, len: usize) -> &mut [f32] {
    fit_len(scratch, len);
    &mut scratch[..len]
}

/// `dy += part`: a fan-out's gradients are summed.
#[doc(hidden)]
pub fn add_gradient(dy: &mut [f32], part: &[f32]) {
    dy.iter_mut().zip(part).for_each(|(d, p)| *d += p);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffers() -> Buffers<()> {
        Buffers::default()
    }

    #[test]
    fn element_wise_forward_follows_keras() {
        let (a, b, c) = ([1.0, -2.0, 3.0], [0.5, -2.0, 4.0], [2.0, 1.0, -1.0]);
        let cases: [(MergeOp, [f32; 3]); 6] = [
            (MergeOp::Add, [3.5, -3.0, 6.0]),
            (MergeOp::Multiply, [1.0, 4.0, -12.0]),
            (MergeOp::Average, [3.5 / 3.0, -1.0, 2.0]),
            (MergeOp::Maximum, [2.0, 1.0, 4.0]),
            (MergeOp::Minimum, [0.5, -2.0, -1.0]),
            (MergeOp::Subtract, [0.5, 0.0, -1.0]),
        ];
        for (op, want) in cases {
            let inputs: &[&[f32]] = if op == MergeOp::Subtract {
                &[&a, &b]
            } else {
                &[&a, &b, &c]
            };
            let mut buf = buffers();
            Merge::<3>.forward_merge(op, inputs, 1, &mut buf, Activation::Linear);
            assert_eq!(buf.y, want, "{op:?}");
        }
    }

    /// An `Add` applying a relu, of two inputs (one fused pass) and of three: the sum's relu,
    /// and the relu's gradient, masked by the output, to every input.
    #[test]
    fn an_add_applying_a_relu_masks_every_input_s_gradient() {
        let (a, b, c) = ([1.0f32, -2.0, 0.5], [0.5f32, 1.0, -3.0], [-2.0f32, 0.5, 3.0]);
        for (inputs, want) in [
            (&[&a[..], &b[..]][..], [1.5, 0.0, 0.0]),
            (&[&a[..], &b[..], &c[..]][..], [0.0, 0.0, 0.5]),
        ] {
            let mut buf = buffers();
            Merge::<3>.forward_merge(MergeOp::Add, inputs, 1, &mut buf, Activation::Relu);
            assert_eq!(buf.y, want);
            buf.dy = vec![10.0, 20.0, 30.0];
            for which in 0..inputs.len() {
                let mut dx = [f32::NAN; 3];
                Merge::<3>.backward_merge(MergeOp::Add, inputs, 1, &buf, which, &mut dx, Activation::Relu);
                let masked: Vec<f32> = want
                    .iter()
                    .zip(&buf.dy)
                    .map(|(&y, &d)| if y > 0.0 { d } else { 0.0 })
                    .collect();
                assert_eq!(dx[..], masked[..]);
            }
        }
    }

    #[test]
    fn ties_send_the_gradient_to_the_first_input() {
        let (a, b) = ([1.0f32, 2.0], [1.0f32, 3.0]);
        let mut buf = buffers();
        Merge::<2>.forward_merge(MergeOp::Maximum, &[&a, &b], 1, &mut buf, Activation::Linear);
        buf.dy = vec![10.0, 20.0];
        let mut dx = [0.0; 2];
        Merge::<2>.backward_merge(
            MergeOp::Maximum,
            &[&a, &b],
            1,
            &buf,
            0,
            &mut dx,
            Activation::Linear,
        );
        assert_eq!(dx, [10.0, 0.0]);
        Merge::<2>.backward_merge(
            MergeOp::Maximum,
            &[&a, &b],
            1,
            &buf,
            1,
            &mut dx,
            Activation::Linear,
        );
        assert_eq!(dx, [0.0, 20.0]);
    }

    #[test]
    fn concatenate_joins_channels_per_position_and_splits_the_gradient() {
        // Two samples of 2 positions: a has 1 channel, b has 2.
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [10.0, 11.0, 20.0, 21.0, 30.0, 31.0, 40.0, 41.0];
        let mut buf = buffers();
        Concatenate::<6>.forward_concat(&[&a, &b], &[1, 2], 2, &mut buf);
        assert_eq!(
            buf.y,
            [1.0, 10.0, 11.0, 2.0, 20.0, 21.0, 3.0, 30.0, 31.0, 4.0, 40.0, 41.0]
        );
        buf.dy = buf.y.clone();
        let (mut da, mut db) = ([0.0; 4], [0.0; 8]);
        Concatenate::<6>.backward_concat(&[1, 2], 2, &buf, 0, &mut da);
        Concatenate::<6>.backward_concat(&[1, 2], 2, &buf, 1, &mut db);
        assert_eq!((da, db), (a, b));
    }
}
