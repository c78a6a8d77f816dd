//! The inference forward pass of the recurrent layers (`training == false`: `forward`,
//! `predict`, `evaluate`).
//!
//! Nothing is kept for a backward pass, so the working set is a chunk of steps rather than the
//! whole sequence: the step-major inputs and input projections of `C ≈ 256 / B` steps, and two
//! `U × B` states (and cell states) used in turn. At `predict`'s batch of 32 and the tutorial's
//! sizes this is ~350 KiB instead of the training cache's ~6 MiB, which no longer fits in L2.
//! With one sample (`forward`), the recurrent product is a matrix–vector product
//! ([`gemv`](crate::gemv::gemv)) rather than a GEMM with one column.

use super::cells::{gru_step, lstm_step_infer, tanh_into};
use super::kernels::{GRAD_CHUNK_COLUMNS, carry, fill_columns, recurrent_product};
use super::{Cell, Dims, RecurrentCache, Weights};
use crate::gemm::{Op, gemm};
use crate::layers::{Mask, fit_len};

/// Fills `y` as [`recurrent_forward`](super::kernels::recurrent_forward) does (same results),
/// leaving the cache unusable for a backward pass.
pub(super) fn recurrent_infer(
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
        seq,
    } = *dims;
    let g = dims.g();
    let b = batch;
    assert_eq!(x.len(), steps * d * b, "recurrent input has the wrong length");
    assert_eq!(
        y.len(),
        dims.outputs() * b,
        "recurrent output has the wrong length"
    );
    if let Some(mask) = mask {
        assert_eq!(mask.len(), steps * b, "recurrent mask has the wrong length");
    }
    // A backward pass must not run on what this leaves behind.
    cache.consumed = true;
    if b == 0 {
        return;
    }
    // Every step streams both matrices through 64-byte loads: from a cache-line boundary
    // each load touches one line instead of two.
    let w = &Weights {
        kernel: cache.kernel_copy.aligned(w.kernel),
        recurrent: cache.recurrent_copy.aligned(w.recurrent),
        ..*w
    };
    let chunk = (GRAD_CHUNK_COLUMNS / b).clamp(1, steps);
    let (gb, ub) = (g * b, u * b);
    cache.xs.fit_len(d * chunk * b);
    cache.gates.fit_len(g * chunk * b);
    cache.h.fit_len(2 * ub);
    cache.h.fill(0.0);
    if cell == Cell::Lstm {
        cache.c.fit_len(2 * ub);
        cache.c.fill(0.0);
    }
    if cell == Cell::Gru {
        fit_len(&mut cache.rec, gb);
        fit_len(&mut cache.rech, ub);
    }

    let mut t0 = 0;
    for t in 0..steps {
        if t % chunk == 0 {
            // The chunk's inputs, step-major, and their projections `kernel · x + bias`.
            t0 = t;
            let end = (t + chunk).min(steps);
            let cols = (end - t) * b;
            // One sample's steps are already step-major.
            let xs = if b == 1 {
                &x[t * d..end * d]
            } else {
                gather_steps(x, steps, b, d, t, end, &mut cache.xs[..d * cols]);
                &cache.xs[..d * cols]
            };
            let gates = &mut cache.gates[..g * cols];
            fill_columns(gates, w.bias);
            gemm(g, cols, d, 1.0, w.kernel, Op::N, xs, Op::N, 1.0, gates);
        }
        // States alternate between the two halves of `h` (and `c`): step t reads half t % 2.
        let (h0, h1) = cache.h.split_at_mut(ub);
        let (hp, hn) = if t % 2 == 0 { (&*h0, h1) } else { (&*h1, h0) };
        let gt = &mut cache.gates[(t - t0) * gb..(t - t0 + 1) * gb];
        let first = t == 0;
        match cell {
            Cell::Lstm => {
                if !first {
                    recurrent_product(t, g, b, u, w.recurrent, hp, gt);
                }
                let (c0, c1) = cache.c.split_at_mut(ub);
                let (cp, cn) = if t % 2 == 0 { (&*c0, c1) } else { (&*c1, c0) };
                lstm_step_infer(u, gt, cp, cn, hn);
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
                gru_step(u, gt, rec, hp, hn, &mut cache.rech);
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
        if seq {
            for (s, h) in hn.chunks_exact(u).enumerate() {
                let at = (s * steps + t) * u;
                y[at..at + u].copy_from_slice(h);
            }
        }
    }
    if !seq {
        let last = if steps % 2 == 0 {
            &cache.h[..ub]
        } else {
            &cache.h[ub..]
        };
        y.copy_from_slice(last);
    }
}

/// Steps `t0..t1` of every sample of sample-major `x` (`n` floats per step), step-major into
/// `xs` (column `(t − t0)·batch + s`).
fn gather_steps(x: &[f32], steps: usize, batch: usize, n: usize, t0: usize, t1: usize, xs: &mut [f32]) {
    for (s, sample) in x.chunks_exact(steps * n).enumerate().take(batch) {
        for t in t0..t1 {
            let at = ((t - t0) * batch + s) * n;
            xs[at..at + n].copy_from_slice(&sample[t * n..(t + 1) * n]);
        }
    }
}
