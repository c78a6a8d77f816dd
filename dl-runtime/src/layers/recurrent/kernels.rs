//! The training passes of the recurrent layers: the forward pass that keeps every step's gates
//! and states, and backpropagation through time (see the parent module for the layout).

use super::cells::{gru_step, gru_step_back, lstm_step, lstm_step_back, tanh_back, tanh_into};
use super::{Cell, Dims, Grads, RecurrentCache, Weights};
use crate::gemm::{Op, gemm, gemm_bias, transpose};
use crate::gemv::{gemv, gemv_rev};
use crate::layers::{Mask, fit_len};

/// Batch columns of the GEMMs over a chunk of steps (the input projections, the weight and
/// input gradients): a chunk of about this many columns is still in cache when it is consumed.
pub(super) const GRAD_CHUNK_COLUMNS: usize = 256;

/// The training forward pass: fills `y` and the cache the backward pass consumes. With a
/// `mask`, a padded step keeps the previous state (and cell state) of its sample.
pub(super) fn recurrent_forward(
    dims: &Dims,
    w: &Weights<'_>,
    x: &[f32],
    batch: usize,
    cache: &mut RecurrentCache,
    y: &mut [f32],
    mask: Option<Mask<'_>>,
) {
    let Dims {
        cell,
        steps,
        inputs: d,
        units: u,
        seq: _,
    } = *dims;
    let g = dims.g();
    let (b, tb) = (batch, steps * batch);
    assert_eq!(x.len(), steps * d * b, "recurrent input has the wrong length");
    assert_eq!(
        y.len(),
        dims.outputs() * b,
        "recurrent output has the wrong length"
    );
    if let Some(mask) = mask {
        assert_eq!(mask.len(), tb, "recurrent mask has the wrong length");
    }
    cache.batch = b;
    cache.consumed = false;
    cache.xs.fit_len(d * tb);
    cache.gates.fit_len(g * tb);
    cache.h.fit_len(u * (tb + b));
    if cell == Cell::Lstm {
        cache.c.fit_len(u * (tb + b));
        fit_len(&mut cache.tc, u * tb);
    }
    if cell == Cell::Gru {
        fit_len(&mut cache.rec, g * b);
        fit_len(&mut cache.rech, u * tb);
    }
    if b == 0 {
        return;
    }

    to_step_major(x, steps, b, d, &mut cache.xs);
    cache.h[..u * b].fill(0.0);
    if cell == Cell::Lstm {
        cache.c[..u * b].fill(0.0);
    }
    let (gb, ub) = (g * b, u * b);
    // The input projections `kernel · x + bias` of a chunk of steps at a time (one GEMM over
    // its batch columns), just before the steps consume them, so that they stay in cache.
    let chunk = (GRAD_CHUNK_COLUMNS / b).clamp(1, steps);
    for t in 0..steps {
        if t % chunk == 0 {
            let end = (t + chunk).min(steps);
            let gates = &mut cache.gates[t * gb..end * gb];
            let xs = &cache.xs[t * b * d..end * b * d];
            gemm_bias(g, (end - t) * b, d, w.kernel, xs, w.bias, false, gates);
        }
        let (prev, next) = cache.h.split_at_mut((t + 1) * ub);
        let (hp, hn) = (&prev[t * ub..], &mut next[..ub]);
        let gt = &mut cache.gates[t * gb..(t + 1) * gb];
        // The initial state is zero: no recurrent product at the first step.
        let first = t == 0;
        match cell {
            Cell::Lstm => {
                if !first {
                    recurrent_product(t, g, b, u, w.recurrent, hp, gt);
                }
                let (cprev, cnext) = cache.c.split_at_mut((t + 1) * ub);
                let (cp, cn) = (&cprev[t * ub..], &mut cnext[..ub]);
                let tc = &mut cache.tc[t * ub..(t + 1) * ub];
                lstm_step(u, gt, cp, cn, tc, hn);
                if let Some(mask) = mask {
                    carry(mask, steps, t, u, cp, cn);
                }
            }
            Cell::Gru => {
                let rec = &mut cache.rec[..gb];
                fill_columns(rec, w.recurrent_bias);
                if !first {
                    recurrent_product(t, g, b, u, w.recurrent, hp, rec);
                }
                let rech = &mut cache.rech[t * ub..(t + 1) * ub];
                gru_step(u, gt, rec, hp, hn, rech);
            }
            Cell::Simple => {
                if !first {
                    recurrent_product(t, g, b, u, w.recurrent, hp, gt);
                }
                tanh_into(gt, hn);
            }
        }
        if let Some(mask) = mask {
            carry(mask, steps, t, u, hp, hn);
        }
    }

    if dims.seq {
        // Step-major states (blocks 1..=T) to the sample-major output.
        from_step_major(&cache.h[ub..], steps, b, u, y);
    } else {
        y.copy_from_slice(&cache.h[steps * ub..]);
    }
}

/// Backpropagation through time after [`recurrent_forward`] with the same `mask`: overwrites
/// `grads` and, when asked, writes `∂L/∂x`. At a padded step the gradients of the state (and
/// cell state) pass to the previous step unchanged and the step's gates, hence its input,
/// receive none.
#[allow(clippy::too_many_arguments)]
pub(super) fn recurrent_backward(
    dims: &Dims,
    w: &Weights<'_>,
    batch: usize,
    cache: &mut RecurrentCache,
    dy: &[f32],
    grads: Grads<'_>,
    dx: Option<&mut [f32]>,
    mask: Option<Mask<'_>>,
) {
    let Dims {
        cell,
        steps,
        inputs: d,
        units: u,
        seq,
    } = *dims;
    let g = dims.g();
    let (b, tb) = (batch, steps * batch);
    assert!(
        !cache.consumed && cache.batch == b && cache.gates.len() == g * tb && cache.h.len() == u * (tb + b),
        "recurrent backward_batch needs the forward pass of the same batch (one per backward pass)"
    );
    cache.consumed = true;
    assert_eq!(
        dy.len(),
        dims.outputs() * b,
        "recurrent output gradient has the wrong length"
    );
    if let Some(dx) = &dx {
        assert_eq!(
            dx.len(),
            steps * d * b,
            "recurrent input gradient has the wrong length"
        );
    }
    grads.kernel.fill(0.0);
    grads.recurrent.fill(0.0);
    grads.bias.fill(0.0);
    grads.recurrent_bias.fill(0.0);
    if b == 0 {
        return;
    }

    cache.rt.fit_len(u * g);
    transpose(g, u, w.recurrent, &mut cache.rt);
    if dx.is_some() {
        cache.kt.fit_len(d * g);
        transpose(g, d, w.kernel, &mut cache.kt);
    }
    let (gb, ub) = (g * b, u * b);
    fit_len(&mut cache.dh, ub);
    cache.dh.fill(0.0);
    if cell == Cell::Lstm {
        fit_len(&mut cache.dc, ub);
        cache.dc.fill(0.0);
    }
    if cell == Cell::Gru {
        fit_len(&mut cache.drec, g * tb);
    }
    if let Some(mask) = mask {
        assert_eq!(mask.len(), tb, "recurrent mask has the wrong length");
        fit_len(&mut cache.saved, 2 * ub);
    }

    let chunk = (GRAD_CHUNK_COLUMNS / b).clamp(1, steps);
    let mut end = steps;
    for t in (0..steps).rev() {
        // ∂L/∂h_t: from the output, plus (already in `dh`) from step t + 1.
        if seq {
            for (dh, dyc) in cache.dh.chunks_exact_mut(u).zip(dy.chunks_exact(steps * u)) {
                add(dh, &dyc[t * u..(t + 1) * u]);
            }
        } else if t == steps - 1 {
            add(&mut cache.dh, dy);
        }

        if let Some(mask) = mask {
            // The state gradients of padded samples, restored after the step's arithmetic.
            let (sh, sc) = cache.saved.split_at_mut(ub);
            save_padded(mask, steps, t, u, &cache.dh, sh);
            if cell == Cell::Lstm {
                save_padded(mask, steps, t, u, &cache.dc, sc);
            }
        }
        let gt = &mut cache.gates[t * gb..(t + 1) * gb];
        let hp = &cache.h[t * ub..(t + 1) * ub];
        match cell {
            Cell::Lstm => {
                let cp = &cache.c[t * ub..(t + 1) * ub];
                let tc = &cache.tc[t * ub..(t + 1) * ub];
                lstm_step_back(u, gt, cp, tc, &cache.dh, &mut cache.dc);
            }
            Cell::Gru => {
                let rech = &cache.rech[t * ub..(t + 1) * ub];
                let drec = &mut cache.drec[t * gb..(t + 1) * gb];
                gru_step_back(u, gt, rech, hp, &mut cache.dh, drec);
            }
            Cell::Simple => {
                let ht = &cache.h[(t + 1) * ub..(t + 2) * ub];
                tanh_back(ht, &cache.dh, gt);
            }
        }
        if let Some(mask) = mask {
            zero_padded(mask, steps, t, g, gt);
            if cell == Cell::Gru {
                zero_padded(mask, steps, t, g, &mut cache.drec[t * gb..(t + 1) * gb]);
            }
        }
        // `dz`: the gradient of the step's recurrent projection, for ∂L/∂h_{t−1}.
        let dz: &[f32] = if cell == Cell::Gru {
            &cache.drec[t * gb..(t + 1) * gb]
        } else {
            &cache.gates[t * gb..(t + 1) * gb]
        };
        if t > 0 {
            // ∂L/∂h_{t−1} = Rᵀ·dz (GRU: plus z·∂L/∂h_t, which the step left in `dh`).
            let beta = if cell == Cell::Gru { 1.0 } else { 0.0 };
            gemm(u, b, g, 1.0, &cache.rt, Op::N, dz, Op::N, beta, &mut cache.dh);
        }
        if let Some(mask) = mask {
            let (sh, sc) = cache.saved.split_at(ub);
            restore_padded(mask, steps, t, u, sh, &mut cache.dh);
            if cell == Cell::Lstm {
                restore_padded(mask, steps, t, u, sc, &mut cache.dc);
            }
        }

        if t == 0 || end - t == chunk {
            // The weight and input gradients of steps t..end, while they are in cache.
            let (cols, x0) = ((end - t) * b, t * b);
            let dzx = &cache.gates[x0 * g..end * gb];
            let dzr = if cell == Cell::Gru {
                &cache.drec[x0 * g..end * gb]
            } else {
                dzx
            };
            let hs = &cache.h[x0 * u..end * ub];
            gemm(g, u, cols, 1.0, dzr, Op::N, hs, Op::T, 1.0, grads.recurrent);
            let xs = &mut cache.xs[x0 * d..end * b * d];
            gemm(g, d, cols, 1.0, dzx, Op::N, xs, Op::T, 1.0, grads.kernel);
            add_columns(grads.bias, dzx);
            if cell == Cell::Gru {
                add_columns(grads.recurrent_bias, dzr);
            }
            if dx.is_some() {
                // The chunk's inputs are no longer needed: ∂L/∂x replaces them.
                gemm(d, cols, g, 1.0, &cache.kt, Op::N, dzx, Op::N, 0.0, xs);
            }
            end = t;
        }
    }
    if let Some(dx) = dx {
        from_step_major(&cache.xs, steps, b, d, dx);
    }
}

/// `out += R·h` for the `b` columns of step `t`: a matrix–vector product for one sample, which
/// reads `R` backwards on odd steps so that the part read last stays in L1 (see `gemv`).
#[inline]
pub(super) fn recurrent_product(
    t: usize,
    g: usize,
    b: usize,
    u: usize,
    r: &[f32],
    h: &[f32],
    out: &mut [f32],
) {
    if b == 1 {
        if t % 2 == 1 {
            gemv_rev(g, u, r, h, out);
        } else {
            gemv(g, u, r, h, out);
        }
    } else {
        gemm(g, b, u, 1.0, r, Op::N, h, Op::N, 1.0, out);
    }
}

/// Whether step `t` of sample `s` is padding.
#[inline]
fn padded(mask: Mask<'_>, steps: usize, t: usize, s: usize) -> bool {
    mask[s * steps + t] == 0
}

/// For each sample padded at step `t`: its `n`-float column of `next` = that of `prev` (the
/// state carried over the padded step).
pub(super) fn carry(mask: Mask<'_>, steps: usize, t: usize, n: usize, prev: &[f32], next: &mut [f32]) {
    for (s, (p, c)) in prev.chunks_exact(n).zip(next.chunks_exact_mut(n)).enumerate() {
        if padded(mask, steps, t, s) {
            c.copy_from_slice(p);
        }
    }
}

/// Zeroes the `n`-float columns of the samples padded at step `t`.
fn zero_padded(mask: Mask<'_>, steps: usize, t: usize, n: usize, z: &mut [f32]) {
    for (s, c) in z.chunks_exact_mut(n).enumerate() {
        if padded(mask, steps, t, s) {
            c.fill(0.0);
        }
    }
}

/// Copies the `n`-float columns of the samples padded at step `t` from `src` to `saved` (same
/// positions).
fn save_padded(mask: Mask<'_>, steps: usize, t: usize, n: usize, src: &[f32], saved: &mut [f32]) {
    carry(mask, steps, t, n, src, saved);
}

/// The inverse of [`save_padded`].
fn restore_padded(mask: Mask<'_>, steps: usize, t: usize, n: usize, saved: &[f32], dst: &mut [f32]) {
    carry(mask, steps, t, n, saved, dst);
}

/// Copies sample-major `x` (`n` floats per step, `steps` steps per sample, `batch` samples) to
/// step-major `xs` (column `t·batch + s`).
pub(super) fn to_step_major(x: &[f32], steps: usize, batch: usize, n: usize, xs: &mut [f32]) {
    for (s, sample) in x.chunks_exact(steps * n).enumerate().take(batch) {
        for (t, col) in sample.chunks_exact(n).enumerate() {
            let at = (t * batch + s) * n;
            xs[at..at + n].copy_from_slice(col);
        }
    }
}

/// The inverse of [`to_step_major`].
pub(super) fn from_step_major(xs: &[f32], steps: usize, batch: usize, n: usize, x: &mut [f32]) {
    for (s, sample) in x.chunks_exact_mut(steps * n).enumerate().take(batch) {
        for (t, col) in sample.chunks_exact_mut(n).enumerate() {
            let at = (t * batch + s) * n;
            col.copy_from_slice(&xs[at..at + n]);
        }
    }
}

/// Writes `bias` into every `bias.len()`-float column of `z`, with a few doubling copies rather
/// than one `memcpy` call per column.
pub(super) fn fill_columns(z: &mut [f32], bias: &[f32]) {
    let f = bias.len();
    if z.len() < f || f == 0 {
        return;
    }
    z[..f].copy_from_slice(bias);
    let mut done = f;
    while done < z.len() {
        let n = done.min(z.len() - done);
        let (head, tail) = z.split_at_mut(done);
        tail[..n].copy_from_slice(&head[..n]);
        done += n;
    }
}

/// `sum += Σ_columns z` for the `sum.len()`-float columns of `z`.
fn add_columns(sum: &mut [f32], z: &[f32]) {
    for col in z.chunks_exact(sum.len()) {
        add(sum, col);
    }
}

/// `dst += src`.
#[inline]
fn add(dst: &mut [f32], src: &[f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_major_round_trips() {
        let (steps, batch, n) = (3, 4, 5);
        let x: Vec<f32> = (0..steps * batch * n).map(|v| v as f32).collect();
        let mut xs = vec![0.0; x.len()];
        to_step_major(&x, steps, batch, n, &mut xs);
        // Sample 2, step 1, feature 3 lies at column 1·4 + 2.
        assert_eq!(xs[(4 + 2) * n + 3], x[(2 * steps + 1) * n + 3]);
        let mut back = vec![0.0; x.len()];
        from_step_major(&xs, steps, batch, n, &mut back);
        assert_eq!(back, x);
    }
}
