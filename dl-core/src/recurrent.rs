//! `LSTM`, `GRU` (`reset_after = True`) and `SimpleRNN` over one sequence, with Keras's gate
//! orders and defaults (tanh, recurrent sigmoid), from a zero initial state, alone or wrapped in
//! `Bidirectional`.

use crate::activation::{sigmoid, tanh};

/// The recurrent cells, with Keras's gate blocks in the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Gates `i, f, c, o`.
    Lstm,
    /// Gates `z, r, h`; bias `[2, 3U]` (input, recurrent).
    Gru,
    /// One block.
    Simple,
}

impl Cell {
    /// Gate blocks stacked in the kernels.
    pub const fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::Simple => 1,
        }
    }

    /// Floats of scratch one sequence needs with `units` units: the state and the gates.
    pub const fn scratch(self, units: usize) -> usize {
        match self {
            // h, c, gates
            Cell::Lstm => 6 * units,
            // h, input part, recurrent part
            Cell::Gru => 7 * units,
            // h, pre-activation
            Cell::Simple => 2 * units,
        }
    }
}

/// `out = bias + x · kernel` for one row `x` and a row-major `kernel` `[x.len(), out.len()]`; an
/// empty `bias` (a layer with `use_bias = False`) is zero.
#[inline]
fn project(x: &[f32], kernel: &[f32], bias: &[f32], out: &mut [f32]) {
    if bias.is_empty() {
        out.fill(0.0);
    } else {
        out.copy_from_slice(bias);
    }
    accumulate(x, kernel, out);
}

/// `out += x · kernel`.
#[inline]
fn accumulate(x: &[f32], kernel: &[f32], out: &mut [f32]) {
    let n = out.len();
    for (&v, row) in x.iter().zip(kernel.chunks_exact(n)) {
        for (o, &k) in out.iter_mut().zip(row) {
            *o += v * k;
        }
    }
}

/// Runs `cell` with `units` units over `x` (`T × D`, time-major). `y` is `T × units` when
/// `sequences` (Keras's `return_sequences`), else the last step's `units`. `scratch` holds
/// [`Cell::scratch`] floats.
///
/// With `mask` (the sample's token ids under an `Embedding(mask_zero = true)`), a step whose id
/// is 0 is padding: as in Keras, the state is carried over unchanged and so is the output. An
/// empty `bias` is a layer without one (`use_bias = False`).
#[allow(clippy::too_many_arguments)]
pub fn recurrent(
    cell: Cell,
    units: usize,
    sequences: bool,
    x: &[f32],
    kernel: &[f32],
    recurrent_kernel: &[f32],
    bias: &[f32],
    mask: Option<&[u32]>,
    y: &mut [f32],
    scratch: &mut [f32],
) {
    let weights = (kernel, recurrent_kernel, bias);
    run(cell, units, sequences, x, weights, mask, false, y, units, scratch);
}

/// Keras's `Bidirectional(cell)` (`merge_mode = "concat"`): `forward` and `backward` are the two
/// copies' `(kernel, recurrent_kernel, bias)`. The backward copy reads the steps in reverse;
/// `y` is `T × 2·units` when `sequences` (step `t` holds both copies' outputs at input step
/// `t`, forward first), else `2·units`. `scratch` holds [`Cell::scratch`] floats, used by one
/// copy after the other.
///
/// With `mask`, each copy skips the padded steps in its own reading order, and (as Keras forces
/// `zero_output_for_mask` under `Bidirectional`) a padded step outputs zeros when `sequences`.
#[allow(clippy::too_many_arguments)]
pub fn bidirectional(
    cell: Cell,
    units: usize,
    sequences: bool,
    x: &[f32],
    forward: (&[f32], &[f32], &[f32]),
    backward: (&[f32], &[f32], &[f32]),
    mask: Option<&[u32]>,
    y: &mut [f32],
    scratch: &mut [f32],
) {
    let u = units;
    run(cell, u, sequences, x, forward, mask, false, y, 2 * u, scratch);
    run(
        cell,
        u,
        sequences,
        x,
        backward,
        mask,
        true,
        &mut y[u..],
        2 * u,
        scratch,
    );
    if let (Some(ids), true) = (mask, sequences) {
        for (row, &id) in y.chunks_exact_mut(2 * u).zip(ids) {
            if id == 0 {
                row.fill(0.0);
            }
        }
    }
}

/// [`recurrent`] over the steps in order, or in reverse (`reverse`, Keras's `go_backwards`, with
/// each output written back at its input step), writing step `t`'s `units` outputs at
/// `y[t·stride..]`.
#[allow(clippy::too_many_arguments)]
fn run(
    cell: Cell,
    units: usize,
    sequences: bool,
    x: &[f32],
    (kernel, recurrent_kernel, bias): (&[f32], &[f32], &[f32]),
    mask: Option<&[u32]>,
    reverse: bool,
    y: &mut [f32],
    stride: usize,
    scratch: &mut [f32],
) {
    let u = units;
    let g = cell.gates() * u;
    let d = kernel.len() / g;
    let (h, rest) = scratch.split_at_mut(u);
    h.fill(0.0);
    if cell == Cell::Lstm {
        rest[..u].fill(0.0);
    }
    let steps = x.len() / d;
    for k in 0..steps {
        let t = if reverse { steps - 1 - k } else { k };
        let xt = &x[t * d..(t + 1) * d];
        if mask.is_some_and(|ids| ids[t] == 0) {
            if sequences {
                y[t * stride..t * stride + u].copy_from_slice(h);
            }
            continue;
        }
        match cell {
            Cell::Lstm => {
                let (c, rest) = rest.split_at_mut(u);
                let z = &mut rest[..g];
                project(xt, kernel, bias, z);
                accumulate(h, recurrent_kernel, z);
                for k in 0..u {
                    let i = sigmoid(z[k]);
                    let f = sigmoid(z[u + k]);
                    let cc = tanh(z[2 * u + k]);
                    let o = sigmoid(z[3 * u + k]);
                    c[k] = f * c[k] + i * cc;
                    h[k] = o * tanh(c[k]);
                }
            }
            Cell::Gru => {
                let (xp, rest) = rest.split_at_mut(g);
                let rp = &mut rest[..g];
                // Without a bias both halves are empty.
                let (input_bias, recurrent_bias) = bias.split_at(bias.len() / 2);
                project(xt, kernel, input_bias, xp);
                project(h, recurrent_kernel, recurrent_bias, rp);
                for k in 0..u {
                    let z = sigmoid(xp[k] + rp[k]);
                    let r = sigmoid(xp[u + k] + rp[u + k]);
                    let hh = tanh(xp[2 * u + k] + r * rp[2 * u + k]);
                    h[k] = z * h[k] + (1.0 - z) * hh;
                }
            }
            Cell::Simple => {
                let z = &mut rest[..u];
                project(xt, kernel, bias, z);
                accumulate(h, recurrent_kernel, z);
                for k in 0..u {
                    h[k] = tanh(z[k]);
                }
            }
        }
        if sequences {
            y[t * stride..t * stride + u].copy_from_slice(h);
        }
    }
    if !sequences {
        y[..u].copy_from_slice(h);
    }
}
