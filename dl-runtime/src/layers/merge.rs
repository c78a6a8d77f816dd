//! Keras's merge layers, which read two or more tensors: `Add`, `Subtract`, `Multiply`,
//! `Average`, `Maximum`, `Minimum` (element-wise, over inputs of one shape) and `Concatenate`
//! (along the last axis, the channels).
//!
//! `network!` calls [`Merge::forward_merge`] and [`Merge::backward_merge`] (or the
//! [`Concatenate`] pair) with the input tensors it wired; their [`Layer`] impls exist for the
//! parts every node shares (its buffers, its training bytes, no parameters) and, read with a
//! single input, are the identity. The backward pass writes one input's gradient at a time, so
//! the generated code can send it where that input's other consumers add theirs.

use super::{Buffers, Layer, Normalized, TrainingBytes, fit_len, output_and_gradient, with_flag};
use crate::activation::{Activation, relu_slope};
use crate::floats::Floats;
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

/// Where a merge's backward pass sends the gradient of one of its inputs: the input's place
/// among the merge's inputs, that tensor's gradient, and whether another reader's gradient is
/// already there to be added to (a tensor read several times gets the sum), or not yet.
#[derive(Debug)]
pub struct GradientTo<'a> {
    /// The input's place among the merge's inputs.
    pub which: usize,
    /// The gradient of the tensor that input reads.
    pub dx: &'a mut [f32],
    /// Add to `dx` rather than overwrite it.
    pub adding: bool,
}

/// `*d = v`, or `*d += v` when `ADD`: one stored gradient, whole, added after it is computed.
#[inline(always)]
fn put<const ADD: bool>(d: &mut f32, v: f32) {
    *d = if ADD { *d + v } else { v };
}

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

    /// [`forward_merge`](Self::forward_merge) of an `Add` of two inputs, one of them the output
    /// of a batch normalization that left it unstored: `normalized` applied to that
    /// normalization's input `x` as it is summed with the other input, `other`.
    pub fn forward_add_normalized(
        &self,
        normalized: Normalized<'_>,
        x: &[f32],
        other: &[f32],
        batch: usize,
        buf: &mut Buffers<()>,
        activation: Activation,
    ) {
        let len = N * batch;
        fit_len(&mut buf.y, len);
        fit_len(&mut buf.dy, len);
        let relu = applies_relu(MergeOp::Add, activation);
        normalized.add(&x[..len], &other[..len], relu, &mut buf.y);
    }

    /// Each input's gradient from `buf.dy`, through the relu
    /// [`forward_merge`](Self::forward_merge) applied with `activation`, into its place in
    /// `to`. A relu'd `Add` gives every input the same masked gradient: it is computed once and
    /// stored to all of them in one pass.
    pub fn backward_merge(
        &self,
        op: MergeOp,
        inputs: &[&[f32]],
        batch: usize,
        buf: &Buffers<()>,
        activation: Activation,
        to: &mut [GradientTo<'_>],
    ) {
        let len = N * batch;
        let (y, dy) = (&buf.y[..len], &buf.dy[..len]);
        if !applies_relu(op, activation) {
            for t in to.iter_mut() {
                with_flag!(t.adding, |ADD| merge_backward::<ADD>(
                    op,
                    inputs,
                    dy,
                    t.which,
                    &mut t.dx[..len]
                ));
            }
            return;
        }
        match to {
            [a, b] => relu_mask_two(y, dy, [&mut a.dx[..len], &mut b.dx[..len]], [a.adding, b.adding]),
            _ => {
                for t in to.iter_mut() {
                    relu_mask(y, dy, &mut t.dx[..len], t.adding);
                }
            }
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
    /// `dx = dy · relu'(z)` (or `dx +=` it, `adding`), the mask read from the relu's output `y`
    /// as a relu layer reads it.
    fn relu_mask(y: &[f32], dy: &[f32], dx: &mut [f32], adding: bool) {
        with_flag!(adding, |ADD| for ((dx, &dy), &y) in dx.iter_mut().zip(dy).zip(y) {
            put::<ADD>(dx, dy * relu_slope(y));
        })
    }
}

simd_fn! {
    /// [`relu_mask`] into two gradients at once, each written or added: `y` and `dy` are read
    /// once for both inputs of a residual block's `Add`.
    fn relu_mask_two(y: &[f32], dy: &[f32], dx: [&mut [f32]; 2], adding: [bool; 2]) {
        let [a, b] = dx;
        with_flag!(adding[0], |ADD_A| with_flag!(adding[1], |ADD_B| {
            for (((a, b), &dy), &y) in a.iter_mut().zip(b.iter_mut()).zip(dy).zip(y) {
                let g = dy * relu_slope(y);
                put::<ADD_A>(a, g);
                put::<ADD_B>(b, g);
            }
        }))
    }
}

fn merge_backward<const ADD: bool>(op: MergeOp, inputs: &[&[f32]], dy: &[f32], which: usize, dx: &mut [f32]) {
    let len = dy.len();
    match op {
        MergeOp::Add => dx.iter_mut().zip(dy).for_each(|(d, &g)| put::<ADD>(d, g)),
        MergeOp::Subtract if which == 0 => dx.iter_mut().zip(dy).for_each(|(d, &g)| put::<ADD>(d, g)),
        MergeOp::Subtract => dx.iter_mut().zip(dy).for_each(|(d, &g)| put::<ADD>(d, -g)),
        MergeOp::Average => {
            let n = inputs.len() as f32;
            dx.iter_mut().zip(dy).for_each(|(d, &g)| put::<ADD>(d, g / n));
        }
        MergeOp::Multiply => {
            // The product of `dy` and the other inputs, in input order, per element.
            for (i, (d, &g)) in dx.iter_mut().zip(dy).enumerate() {
                let v = inputs
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != which)
                    .fold(g, |v, (_, x)| v * x[..len][i]);
                put::<ADD>(d, v);
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
                put::<ADD>(d, if at == which { *g } else { 0.0 });
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

    /// The gradient of input `to.which` (the slice of `buf.dy` it filled) into `to.dx`.
    pub fn backward_concat(&self, channels: &[usize], batch: usize, buf: &Buffers<()>, to: GradientTo<'_>) {
        let total: usize = channels.iter().sum();
        let offset: usize = channels[..to.which].iter().sum();
        let c = channels[to.which];
        for r in 0..batch * (N / total) {
            let (d, g) = (
                &mut to.dx[r * c..r * c + c],
                &buf.dy[r * total + offset..r * total + offset + c],
            );
            with_flag!(to.adding, |ADD| d
                .iter_mut()
                .zip(g)
                .for_each(|(d, &g)| put::<ADD>(d, g)));
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
pub fn gradient_scratch(scratch: &mut Floats, len: usize) -> &mut [f32] {
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
            buf.dy = vec![10.0, 20.0, 30.0].into();
            let masked: Vec<f32> = want
                .iter()
                .zip(&buf.dy)
                .map(|(&y, &d)| if y > 0.0 { d } else { 0.0 })
                .collect();
            // Every input alone, written and added, then all inputs in one pass.
            for which in 0..inputs.len() {
                for adding in [false, true] {
                    let mut dx = [1.5; 3];
                    let to = GradientTo {
                        which,
                        dx: &mut dx,
                        adding,
                    };
                    Merge::<3>.backward_merge(MergeOp::Add, inputs, 1, &buf, Activation::Relu, &mut [to]);
                    let base = if adding { 1.5 } else { 0.0 };
                    assert_eq!(dx.map(|d| d - base)[..], masked[..]);
                }
            }
            let mut dxs = vec![[0.25f32; 3]; inputs.len()];
            let mut to: Vec<GradientTo<'_>> = dxs
                .iter_mut()
                .enumerate()
                .map(|(which, dx)| GradientTo {
                    which,
                    dx,
                    adding: which == 1,
                })
                .collect();
            Merge::<3>.backward_merge(MergeOp::Add, inputs, 1, &buf, Activation::Relu, &mut to);
            for (which, dx) in dxs.iter().enumerate() {
                let base = if which == 1 { 0.25 } else { 0.0 };
                let expect: Vec<f32> = masked.iter().map(|m| base + m).collect();
                assert_eq!(dx[..], expect[..], "input {which}");
            }
        }
    }

    #[test]
    fn ties_send_the_gradient_to_the_first_input() {
        let (a, b) = ([1.0f32, 2.0], [1.0f32, 3.0]);
        let mut buf = buffers();
        Merge::<2>.forward_merge(MergeOp::Maximum, &[&a, &b], 1, &mut buf, Activation::Linear);
        buf.dy = vec![10.0, 20.0].into();
        for (which, want) in [(0, [10.0, 0.0]), (1, [0.0, 20.0])] {
            let mut dx = [f32::NAN; 2];
            let to = GradientTo {
                which,
                dx: &mut dx,
                adding: false,
            };
            Merge::<2>.backward_merge(
                MergeOp::Maximum,
                &[&a, &b],
                1,
                &buf,
                Activation::Linear,
                &mut [to],
            );
            assert_eq!(dx, want);
        }
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
        let (mut da, mut db) = ([f32::NAN; 4], [0.5; 8]);
        let to = GradientTo {
            which: 0,
            dx: &mut da,
            adding: false,
        };
        Concatenate::<6>.backward_concat(&[1, 2], 2, &buf, to);
        let to = GradientTo {
            which: 1,
            dx: &mut db,
            adding: true,
        };
        Concatenate::<6>.backward_concat(&[1, 2], 2, &buf, to);
        assert_eq!((da, db), (a, b.map(|v| v + 0.5)));
    }

    /// Every element-wise merge, for every input, adds to a gradient already there exactly
    /// what it would write, bit for bit: the generated code adds a tensor's gradients this way
    /// when several layers read it.
    #[test]
    fn every_merge_adds_exactly_what_it_writes() {
        let inputs: [Vec<f32>; 3] = core::array::from_fn(|k| {
            (0..40)
                .map(|i| ((i * (k + 3) * 7) % 13) as f32 * 0.3 - 1.9)
                .collect()
        });
        let other: Vec<f32> = (0..40).map(|i| (i % 9) as f32 * 0.7 - 2.3).collect();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let ops = [
            MergeOp::Add,
            MergeOp::Subtract,
            MergeOp::Multiply,
            MergeOp::Average,
            MergeOp::Maximum,
            MergeOp::Minimum,
        ];
        for op in ops {
            let n = if op == MergeOp::Subtract { 2 } else { 3 };
            let ins: Vec<&[f32]> = inputs[..n].iter().map(Vec::as_slice).collect();
            let relus: &[Activation] = if op == MergeOp::Add {
                &[Activation::Linear, Activation::Relu]
            } else {
                &[Activation::Linear]
            };
            for &activation in relus {
                let mut buf = buffers();
                Merge::<20>.forward_merge(op, &ins, 2, &mut buf, activation);
                buf.dy = (0..40).map(|i| ((i * 5) % 11) as f32 * 0.45 - 2.0).collect();
                for which in 0..n {
                    let (mut written, mut added) = (vec![f32::NAN; 40], other.clone());
                    for (dx, adding) in [(&mut written, false), (&mut added, true)] {
                        let to = GradientTo { which, dx, adding };
                        Merge::<20>.backward_merge(op, &ins, 2, &buf, activation, &mut [to]);
                    }
                    let sum: Vec<f32> = other.iter().zip(&written).map(|(o, w)| o + w).collect();
                    assert_eq!(bits(&added), bits(&sum), "{op:?} {activation:?} input {which}");
                    assert!(
                        written.iter().any(|&w| w != 0.0),
                        "{op:?} input {which}: a gradient"
                    );
                }
            }
        }
    }
}
