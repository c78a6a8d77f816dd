//! The end of a training step: clip the batch's gradient, check it, and apply the optimizer, on
//! one thread or with large tensors shared between the threads of the current pool.

use super::split::pieces;
use crate::finite::all_finite;
use crate::model::Model;
use crate::optim::{Clip, Optimizer};

/// What a step needs besides the network and its gradient.
pub(crate) struct Update<'a, O> {
    pub optimizer: &'a mut O,
    pub clip: Option<Clip>,
    /// The weights before an unbounded update (SGD), to restore if it overflows.
    pub backup: &'a mut Vec<f32>,
}

/// Clips `grads`, checks it and updates `model` with it. `threads` > 1 spreads the element-wise
/// passes over large tensors across the current rayon pool (the same values as on one thread).
/// `finite` is the gradient's finiteness when already known (checked while it was summed).
///
/// `Err(NaN)` refuses the step (a non-finite gradient, or weights that came out non-finite) and
/// leaves the weights as they were.
pub(crate) fn apply<M: Model, O: Optimizer>(
    model: &mut M,
    grads: &mut M,
    update: Update<'_, O>,
    threads: usize,
    finite: Option<bool>,
) -> Result<(), f32> {
    let Update {
        optimizer,
        clip,
        backup,
    } = update;
    let mut finite = finite;
    if let Some(c) = clip {
        let mut squares = 0.0f64;
        if matches!(c, Clip::GlobalNorm(_)) {
            grads
                .for_each_param(|_, _, g| squares += g.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>());
        }
        let global_norm = squares.sqrt() as f32;
        grads.for_each_param_mut(|_, _, g| c.apply(g, global_norm));
        // Clamping turns infinities finite: check what the optimizer will see.
        finite = None;
    }
    if optimizer.bounded_step() {
        // Finite gradients cannot overflow finite weights under such a step, so checking the
        // gradients before the update is enough.
        let finite = finite.unwrap_or_else(|| {
            let mut all = true;
            grads.for_each_param(|_, _, g| all &= pieces(g, g.len(), threads, &all_finite));
            all
        });
        if !finite {
            return Err(f32::NAN);
        }
        optimizer.begin_step();
        match optimizer.elementwise(M::PARAMS) {
            Some(mut step) => {
                let mut offset = 0;
                model.zip_params_mut(grads, |p, g| {
                    let n = p.len();
                    let job = (p, g, step.range(offset, n));
                    pieces(job, n, threads, &|(p, g, s)| {
                        s.apply(p, g);
                        true
                    });
                    offset += n;
                });
            }
            None => {
                let mut offset = 0;
                model.zip_params_mut(grads, |p, g| {
                    optimizer.update(offset, p, g);
                    offset += p.len();
                });
            }
        }
        return Ok(());
    }
    // Otherwise a NaN gradient, or finite gradients times a huge learning rate, can spoil the
    // weights: keep a copy, taken piece by piece just before each update while it is in cache,
    // and restore it if any weight comes out non-finite.
    backup.resize(M::PARAMS, 0.0);
    optimizer.begin_step();
    let mut finite = true;
    let mut offset = 0;
    match optimizer.elementwise(M::PARAMS) {
        Some(mut step) => model.zip_params_mut(grads, |p, g| {
            let n = p.len();
            let job = (p, g, step.range(offset, n), &mut backup[offset..offset + n]);
            finite &= pieces(job, n, threads, &|(p, g, s, b)| {
                b.copy_from_slice(p);
                s.apply(p, g);
                all_finite(p)
            });
            offset += n;
        }),
        None => model.zip_params_mut(grads, |p, g| {
            backup[offset..offset + p.len()].copy_from_slice(p);
            optimizer.update(offset, p, g);
            finite &= all_finite(p);
            offset += p.len();
        }),
    }
    if !finite {
        let mut at = 0;
        model.for_each_param_mut(|_, _, v| {
            v.copy_from_slice(&backup[at..at + v.len()]);
            at += v.len();
        });
        return Err(f32::NAN);
    }
    Ok(())
}
