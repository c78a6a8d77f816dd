//! `Dense` on one sample (or on each time step of a sequence).

use crate::activation::Activation;

/// `y = activation(x · kernel + bias)` with `kernel` `[inputs, units]` row-major; `x` holds
/// `steps` rows of `inputs` features and `y` the same number of rows of `units`.
pub fn dense(x: &[f32], kernel: &[f32], bias: &[f32], y: &mut [f32], activation: Activation) {
    let units = bias.len();
    let inputs = kernel.len() / units;
    for (xs, ys) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(units)) {
        ys.copy_from_slice(bias);
        // Row by row of the kernel: a contiguous multiply-add over the outputs, which the
        // compiler vectorises, instead of strided dot products.
        for (&xi, row) in xs.iter().zip(kernel.chunks_exact(units)) {
            for (yo, &k) in ys.iter_mut().zip(row) {
                *yo += xi * k;
            }
        }
        activation.apply(ys);
    }
}
