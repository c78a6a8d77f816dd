//! Optimizers over the parameters as flat buffers, with Keras's update rules and defaults.
//!
//! The training loop visits the network's parameter tensors in a fixed order and hands each one
//! to [`Optimizer::update`] with its flat offset among all parameters; an optimizer keeps its
//! state (moments, accumulators) in flat vectors indexed by that offset, sized on the first step.

mod adagrad;
mod adam;
mod clip;
mod rmsprop;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use clip::Clip;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

/// A gradient-descent update rule.
pub trait Optimizer {
    /// Called once per step, before any tensor is updated (advances step counters).
    fn begin_step(&mut self) {}

    /// Updates one tensor; `offset` is its position among all parameters, stable across steps.
    fn update(&mut self, offset: usize, param: &mut [f32], grad: &[f32]);

    /// Whether a step moves each weight by a bounded amount whatever the gradient's size (Adam,
    /// RMSprop, Adagrad: the gradient is divided by its own running magnitude). Then finite
    /// gradients cannot overflow finite weights, and the trainer can skip its safety copy.
    fn bounded_step(&self) -> bool {
        false
    }

    /// The optimizer's state as named flat buffers, for checkpoints.
    fn state(&self) -> Vec<(&'static str, &[f32])> {
        Vec::new()
    }
}

/// Makes `state` at least `len` long; only grows it on the first step.
#[inline]
pub(crate) fn ensure(state: &mut Vec<f32>, len: usize, init: f32) {
    if state.len() < len {
        state.resize(len, init);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Optimizer;

    /// Runs `steps` updates of a 1-tensor problem with gradient `g(p)` and returns the params.
    pub fn run(
        opt: &mut impl Optimizer,
        p0: &[f32],
        steps: usize,
        g: impl Fn(&[f32]) -> Vec<f32>,
    ) -> Vec<f32> {
        let mut p = p0.to_vec();
        for _ in 0..steps {
            let grad = g(&p);
            opt.begin_step();
            opt.update(0, &mut p, &grad);
        }
        p
    }

    pub fn close(a: &[f32], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!(
                ((*x as f64) - y).abs() <= 1e-6 * (1.0 + y.abs()),
                "{a:?} vs {b:?}"
            );
        }
    }
}
