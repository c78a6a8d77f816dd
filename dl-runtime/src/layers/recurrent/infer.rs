//! The inference forward pass of the recurrent layers (`training == false`: `forward`,
//! `predict`, `evaluate`).
//!
//! Nothing is kept for a backward pass, so the working set is one step rather than the whole
//! sequence: the step's input projections, computed just before it from the inputs where they
//! lie (no step-major copy), and two `U × B` states (and cell states) used in turn — 64 KiB at
//! `predict`'s batch of 32 and the tutorial's sizes, against the training cache's ~6 MiB. With
//! one sample (`forward`), the projections of a chunk of steps are one product (the sample's
//! steps are contiguous), and the recurrent product is a matrix–vector product
//! ([`gemv`](crate::gemv::gemv)) rather than a GEMM with one column. The weights
//! ([`Param`](crate::aligned::Param)) and buffers start on cache lines.

use super::cells::{gru_step, lstm_step_infer, tanh_into};
use super::kernels::{GRAD_CHUNK_COLUMNS, carry, fill_columns, recurrent_product};
use super::{Cell, Dims, RecurrentCache, Weights};
use crate::gemm::gemm_bias_ldb;
use crate::layers::{Mask, fit_len};

/// Fills `y` as [`recurrent_forward`](super::kernels::recurrent_forward) does (up to rounding),
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
    // Every step streams both matrices through 64-byte loads, which touch one cache line each
    // only from a line's start; `Param` puts them there.
    debug_assert_eq!(w.kernel.as_ptr().align_offset(64), 0, "kernel off a cache line");
    debug_assert_eq!(
        w.recurrent.as_ptr().align_offset(64),
        0,
        "recurrent kernel off a cache line"
    );
    // One sample's input projections are taken a chunk of steps at a time (its steps are
    // contiguous: one product of many columns); a batch's a step at a time, each product reading
    // that step of every sample in place (`steps · d` floats apart) rather than a step-major copy.
    let chunk = if b == 1 { GRAD_CHUNK_COLUMNS.min(steps) } else { 1 };
    let (gb, ub) = (g * b, u * b);
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
            // The projections `kernel · x + bias` of steps t..end.
            t0 = t;
            let end = (t + chunk).min(steps);
            let (cols, ldb) = if b == 1 { (end - t, d) } else { (b, steps * d) };
            let gates = &mut cache.gates[..g * cols];
            gemm_bias_ldb(g, cols, d, w.kernel, &x[t * d..], ldb, w.bias, false, gates);
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
