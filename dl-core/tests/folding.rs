//! A batch normalization folded into the kernel and bias of the layer before it (at compile
//! time in an embedded network) gives what the layer and the normalization give in turn.

use dl_core::Activation;
use dl_core::dense::dense;
use dl_core::norm::{batch_norm, fold_bias, fold_kernel};
use dl_core::params::BatchNormalization;

const BN: BatchNormalization<3> = BatchNormalization {
    gamma: [0.8, 1.3, -0.4],
    beta: [0.1, -0.2, 0.05],
    moving_mean: [0.3, -1.1, 0.0],
    moving_variance: [0.5, 2.0, 0.01],
};
const KERNEL: [f32; 6] = [0.5, -1.0, 2.0, 0.25, 0.75, -0.5];
const BIAS: [f32; 3] = [0.1, 0.0, -0.3];
// Folded during constant evaluation, as the generated code does.
const FOLDED_KERNEL: [f32; 6] = fold_kernel(KERNEL, &BN, 1e-3);
const FOLDED_BIAS: [f32; 3] = fold_bias(BIAS, &BN, 1e-3);

#[test]
fn a_folded_batch_norm_is_the_layer_then_the_norm() {
    let x = [0.7f32, -1.3];
    let (mut plain, mut normed, mut folded) = ([0.0; 3], [0.0; 3], [0.0; 3]);
    dense::<2, 3>(&x, &KERNEL, &BIAS, &mut plain, Activation::Linear);
    batch_norm(&BN, 1e-3, &plain, &mut normed);
    dense::<2, 3>(&x, &FOLDED_KERNEL, &FOLDED_BIAS, &mut folded, Activation::Linear);
    for (f, n) in folded.iter().zip(&normed) {
        assert!((f - n).abs() <= 1e-6 * (1.0 + n.abs()), "{f} against {n}");
    }
}
