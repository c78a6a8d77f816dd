//! The end of a training step: clip the batch's gradient, apply the optimizer, and check the
//! result, on one thread or with large tensors shared between the threads of the current pool.

use super::split::pieces;
use crate::finite::all_finite;
use crate::model::Model;
use crate::optim::{Clip, Optimizer};

/// What a step needs besides the network and its gradient.
pub(crate) struct Update<'a, O> {
    pub optimizer: &'a mut O,
    pub clip: Option<Clip>,
    /// The weights and optimizer state before the update, to restore if it is not finite.
    pub backup: &'a mut Vec<f32>,
}

/// Why a step was refused. The weights, the optimizer's state and the network's moving
/// statistics are then as they were before the step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refused {
    /// The batch's loss, NaN or infinite.
    Loss(f32),
    /// The gradient, or the weights or optimizer state after the update, were not finite: what
    /// and where, in words.
    Step(String),
}

/// Clips `grads` and updates `model` and the optimizer with it, checking that every weight and
/// every value of the optimizer's state comes out finite. `threads` > 1 spreads the
/// element-wise passes over large tensors across the current rayon pool (the same values as on
/// one thread). `finite` is the gradient's finiteness when already known (checked while it was
/// summed).
///
/// `Err` refuses the step and leaves the weights and the optimizer's state (buffers and
/// counters) bit for bit as they were: a NaN learning rate, a decay rate of 1, a restored state
/// that was hostile or gradients near `f32::MAX` spoil even an update whose size is bounded.
pub(crate) fn apply<M: Model, O: Optimizer>(
    model: &mut M,
    grads: &mut M,
    update: Update<'_, O>,
    threads: usize,
    finite: Option<bool>,
) -> Result<(), Refused> {
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
        // Clamping turns infinities finite: what was known no longer holds.
        finite = None;
    }
    if finite == Some(false) {
        return Err(Refused::Step(diagnose(model, grads, optimizer)));
    }
    let n = M::PARAMS;
    optimizer.begin_step();
    if let Some(mut step) = optimizer.elementwise(n) {
        // A copy of the weights and of the state buffers the rule uses, taken chunk by chunk
        // just before each is updated, while it is in cache.
        let used = step.used();
        backup.resize(n * (1 + used.iter().filter(|&&u| u).count()), 0.0);
        let (bp, rest) = backup.split_at_mut(n);
        let (b0, b1) = rest.split_at_mut(if used[0] { n } else { 0 });
        let mut finite = true;
        let mut offset = 0;
        model.zip_params_mut(grads, |p, g| {
            let len = p.len();
            let b = [
                &mut bp[offset..offset + len],
                piece(b0, offset, len),
                piece(b1, offset, len),
            ];
            let job = (p, g, step.range(offset, len), b);
            finite &= pieces(job, len, threads, &|(p, g, s, b)| s.apply_checked(p, g, b));
            offset += len;
        });
        if finite {
            return Ok(());
        }
        let reason = diagnose(model, grads, optimizer);
        let mut step = optimizer
            .elementwise(n)
            .expect("it was element-wise a moment ago");
        let mut offset = 0;
        model.for_each_param_mut(|_, _, p| {
            let len = p.len();
            let b = [
                &bp[offset..offset + len],
                &*piece(b0, offset, len),
                &*piece(b1, offset, len),
            ];
            step.range(offset, len).restore(p, b);
            offset += len;
        });
        optimizer.cancel_step();
        return Err(Refused::Step(reason));
    }

    // An optimizer updating tensor by tensor: its state can only be saved whole, through
    // `state`, and put back through `load_state`.
    let saved: Vec<(&'static str, Vec<f32>)> = optimizer
        .state()
        .into_iter()
        .map(|(name, values)| (name, values.to_vec()))
        .collect();
    backup.resize(n, 0.0);
    let mut finite = true;
    let mut offset = 0;
    model.zip_params_mut(grads, |p, g| {
        backup[offset..offset + p.len()].copy_from_slice(p);
        optimizer.update(offset, p, g);
        finite &= all_finite(p);
        offset += p.len();
    });
    finite &= optimizer.state().iter().all(|(_, v)| all_finite(v));
    if finite {
        return Ok(());
    }
    let mut reason = diagnose(model, grads, optimizer);
    let mut at = 0;
    model.for_each_param_mut(|_, _, v| {
        v.copy_from_slice(&backup[at..at + v.len()]);
        at += v.len();
    });
    optimizer.cancel_step();
    let buffers: Vec<(&str, &[f32])> = saved.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    let counters = optimizer.counters();
    if let Err(e) = optimizer.load_state(&buffers, &counters) {
        reason.push_str(&format!(
            "; the optimizer's state could not be put back ({e}) and may be spoiled"
        ));
    }
    Err(Refused::Step(reason))
}

/// The `len` values from `offset` on, or nothing from an unused (empty) buffer.
fn piece(s: &mut [f32], offset: usize, len: usize) -> &mut [f32] {
    if s.is_empty() {
        s
    } else {
        &mut s[offset..offset + len]
    }
}

/// Names the first non-finite value that made a step fail, before anything is put back: in the
/// gradient (its cause), else in the weights, else in the optimizer's state.
fn diagnose<M: Model, O: Optimizer>(model: &M, grads: &M, optimizer: &O) -> String {
    if let Some((tensor, i, v)) = first_non_finite(grads) {
        return format!("the gradient of `{tensor}` is {v} at index {i}");
    }
    let name = optimizer.name();
    if let Some((tensor, i, v)) = first_non_finite(model) {
        return format!("the {name} update would make weight `{tensor}` {v} at index {i}");
    }
    for (buffer, values) in optimizer.state() {
        let Some(j) = values.iter().position(|v| !v.is_finite()) else {
            continue;
        };
        // The state is indexed by the parameters' flat offset: find the tensor of `j`.
        let (mut start, mut tensor) = (0, String::new());
        let mut found = None;
        model.for_each_param(|layer, t, p| {
            if found.is_none() && j < start + p.len() {
                (tensor, found) = (format!("{layer}.{t}"), Some(j - start));
            }
            start += p.len();
        });
        return match found {
            Some(i) => format!(
                "the {name} update would make its state `{buffer}` {} at index {i} of `{tensor}`",
                values[j]
            ),
            None => format!(
                "the {name} update would make its state `{buffer}` {} at index {j}",
                values[j]
            ),
        };
    }
    format!("the {name} update was not finite")
}

/// The first NaN or infinite parameter of `m`: its tensor, index and value.
fn first_non_finite<M: Model>(m: &M) -> Option<(String, usize, f32)> {
    let mut found = None;
    m.for_each_param(|layer, tensor, v| {
        if found.is_none()
            && let Some(i) = v.iter().position(|x| !x.is_finite())
        {
            found = Some((format!("{layer}.{tensor}"), i, v[i]));
        }
    });
    found
}
