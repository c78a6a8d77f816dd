//! `Dense` on one sample (or on each time step of a sequence).

use crate::activation::Activation;

/// `y = activation(x · kernel + bias)` with `kernel` `[I, O]` row-major; `x` holds rows of `I`
/// features and `y` as many rows of `O`.
///
/// The sizes are const arguments so that the accumulator is a fixed-size array the compiler
/// keeps in vector registers across the whole row of the kernel (for the tutorial's 64 units,
/// 16 SSE or 8 AVX registers) instead of reloading `y` for every input.
#[inline]
pub fn dense<const I: usize, const O: usize>(
    x: &[f32],
    kernel: &[f32],
    bias: &[f32; O],
    y: &mut [f32],
    activation: Activation,
) {
    let kernel = &kernel[..I * O];
    for (xs, ys) in x.chunks_exact(I).zip(y.chunks_exact_mut(O)) {
        let mut acc = *bias;
        // Row by row of the kernel: a contiguous multiply-add over the outputs.
        for (&xi, row) in xs.iter().zip(kernel.chunks_exact(O)) {
            for (a, &k) in acc.iter_mut().zip(row) {
                *a += xi * k;
            }
        }
        activation.apply(&mut acc);
        ys.copy_from_slice(&acc);
    }
}
