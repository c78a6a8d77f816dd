//! `Conv1D` on one `[steps, channels]` sequence, as a direct convolution with dilation.

use crate::activation::Activation;

/// Where a 1-D kernel goes over a `t × c` sequence: its taps, stride and dilation, the zero steps
/// before the sequence the macro computed (`same` or `causal`; the rest of `same`'s padding is
/// after it) and the output length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window1D {
    /// Input steps.
    pub t: usize,
    /// Input channels.
    pub c: usize,
    /// Kernel taps.
    pub ks: usize,
    /// Stride.
    pub s: usize,
    /// Steps between taps (`dilation_rate`).
    pub d: usize,
    /// Zero steps before the sequence.
    pub pl: usize,
    /// Output steps.
    pub ot: usize,
}

/// `y = activation(conv1d(x, kernel) + bias)`: `x` is `t × c`, `kernel` `[ks, c, f]`, `y`
/// `ot × f`; `bias` is `f` floats, or empty without `use_bias`.
pub fn conv1d(
    win: &Window1D,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    y: &mut [f32],
    activation: Activation,
) {
    let f = kernel.len() / (win.ks * win.c);
    for (o, out) in y.chunks_exact_mut(f).take(win.ot).enumerate() {
        if bias.is_empty() {
            out.fill(0.0);
        } else {
            out.copy_from_slice(&bias[..f]);
        }
        for j in 0..win.ks {
            let Some(i) = (o * win.s + j * win.d).checked_sub(win.pl).filter(|&i| i < win.t) else {
                continue;
            };
            let step = &x[i * win.c..][..win.c];
            let taps = &kernel[j * win.c * f..][..win.c * f];
            for (&v, row) in step.iter().zip(taps.chunks_exact(f)) {
                for (o, &k) in out.iter_mut().zip(row) {
                    *o += v * k;
                }
            }
        }
        activation.apply_elementwise(out);
    }
}
