//! Optimizers over the parameters as flat buffers, with Keras's update rules and defaults.
//!
//! The training loop visits the network's parameter tensors in a fixed order and hands each one
//! to [`Optimizer::update`] with its flat offset among all parameters; an optimizer keeps its
//! state (moments, accumulators) in flat vectors indexed by that offset, sized on the first step.

mod adagrad;
mod adam;
mod clip;
mod elementwise;
mod rmsprop;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use clip::Clip;
pub use elementwise::{ElementRule, Elementwise};
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

/// A gradient-descent update rule.
///
/// `Send`, and losses `Sync`, because a data-parallel step runs them on its thread pool.
pub trait Optimizer: Send {
    /// Called once per step, before any tensor is updated (advances step counters).
    fn begin_step(&mut self) {}

    /// Updates one tensor; `offset` is its position among all parameters, stable across steps.
    fn update(&mut self, offset: usize, param: &mut [f32], grad: &[f32]);

    /// This step's update of the first `params` parameters as an element-wise rule with its
    /// state, for optimizers whose update of a parameter reads nothing but that parameter, its
    /// gradient and its own state (every built-in one); called after
    /// [`Optimizer::begin_step`]. A data-parallel trainer then cuts large tensors into pieces
    /// updated on several threads, with the same result, bit for bit, as
    /// [`Optimizer::update`]. `None` (the default): the trainer calls `update` tensor by tensor.
    fn elementwise(&mut self, _params: usize) -> Option<Elementwise<'_>> {
        None
    }

    /// Whether a step moves each weight by a bounded amount whatever the gradient's size (Adam,
    /// RMSprop, Adagrad: the gradient is divided by its own running magnitude). Then finite
    /// gradients cannot overflow finite weights, and the trainer can skip its safety copy.
    fn bounded_step(&self) -> bool {
        false
    }

    /// The optimizer's state as named flat buffers, for checkpoints. Each buffer is indexed by
    /// parameter offset, and is empty until the first step that uses it.
    fn state(&self) -> Vec<(&'static str, &[f32])> {
        Vec::new()
    }

    /// The optimizer's kind as Keras names it (`"adam"`), recorded in checkpoints so that a
    /// checkpoint is only restored into the same kind of optimizer.
    fn name(&self) -> &'static str {
        "custom"
    }

    /// The optimizer's counters (Keras's `iterations`: steps taken), for checkpoints.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// Restores the full state that [`Optimizer::state`] and [`Optimizer::counters`] exported,
    /// so that training resumed from a checkpoint continues exactly as if it had not stopped.
    ///
    /// Every buffer and counter the optimizer has must be given, and nothing else; on `Err` the
    /// optimizer is unchanged. The hyperparameters (learning rate, decay rates, …) are not part
    /// of the state: they stay as constructed. The default accepts only an empty state, which is
    /// right for an optimizer without state.
    fn load_state(&mut self, buffers: &[(&str, &[f32])], counters: &[(&str, u64)]) -> Result<(), String> {
        restore(self.name(), buffers, counters, &[], &[]).map(|_| ())
    }
}

/// The buffers and counters of a saved state, in the order of the names asked for.
pub(crate) type Restored = (Vec<Vec<f32>>, Vec<u64>);

/// Checks that `buffers` and `counters` hold exactly the names `buffer_names` and
/// `counter_names` (each once) and returns their values in that order; the caller then assigns
/// them, so a failed check changes nothing.
pub(crate) fn restore(
    optimizer: &str,
    buffers: &[(&str, &[f32])],
    counters: &[(&str, u64)],
    buffer_names: &[&str],
    counter_names: &[&str],
) -> Result<Restored, String> {
    fn pick<T: Clone>(
        optimizer: &str,
        what: &str,
        given: &[(&str, T)],
        names: &[&str],
    ) -> Result<Vec<T>, String> {
        for (i, (name, _)) in given.iter().enumerate() {
            if !names.contains(name) {
                return Err(format!(
                    "{optimizer} has no {what} `{name}` (its {what}s: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ));
            }
            if given[..i].iter().any(|(n, _)| n == name) {
                return Err(format!("{what} `{name}` is given twice"));
            }
        }
        names
            .iter()
            .map(|name| {
                given
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("missing {what} `{name}` of {optimizer}"))
            })
            .collect()
    }
    let buffers = pick(optimizer, "state buffer", buffers, buffer_names)?;
    let counters = pick(optimizer, "counter", counters, counter_names)?;
    Ok((buffers.into_iter().map(<[f32]>::to_vec).collect(), counters))
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

    /// Runs `a` for 3 steps, restores its state into `b` (built like a fresh `a`), and checks
    /// that 2 more steps of each give bit-identical parameters.
    fn resumes_exactly<O: Optimizer>(mut a: O, mut b: O) {
        let g = |p: &[f32]| p.iter().map(|v| 2.0 * v - 0.3).collect::<Vec<f32>>();
        let mut p = vec![1.5f32, -0.7, 0.2];
        let step = |o: &mut O, p: &mut Vec<f32>| {
            let grad = g(p);
            o.begin_step();
            o.update(0, &mut p[..2], &grad[..2]);
            o.update(2, &mut p[2..], &grad[2..]);
        };
        for _ in 0..3 {
            step(&mut a, &mut p);
        }
        let buffers: Vec<(&str, Vec<f32>)> = a.state().into_iter().map(|(n, v)| (n, v.to_vec())).collect();
        let views: Vec<(&str, &[f32])> = buffers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let counters = a.counters();
        assert_eq!(counters, [("iterations", 3)], "{}", a.name());
        b.load_state(&views, &counters).unwrap();
        let mut q = p.clone();
        for _ in 0..2 {
            step(&mut a, &mut p);
            step(&mut b, &mut q);
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p), bits(&q), "{}", a.name());
    }

    #[test]
    fn every_optimizer_resumes_from_its_state_bit_for_bit() {
        use super::{Adagrad, Adam, AdamW, RmsProp, Sgd};
        resumes_exactly(Sgd::new(0.1), Sgd::new(0.1));
        let momentum = || Sgd::new(0.1).with_momentum(0.9).with_nesterov(true);
        resumes_exactly(momentum(), momentum());
        resumes_exactly(Adam::new(0.1), Adam::new(0.1));
        resumes_exactly(AdamW::new(0.1, 0.01), AdamW::new(0.1, 0.01));
        resumes_exactly(RmsProp::new(0.1), RmsProp::new(0.1));
        let mut rms = RmsProp::new(0.1);
        rms.momentum = 0.5;
        resumes_exactly(rms.clone(), rms);
        resumes_exactly(Adagrad::new(0.1), Adagrad::new(0.1));
    }

    /// Three steps over two tensors: `update` tensor by tensor in `a`, and in `b` the step's
    /// `elementwise` view cut at odd points inside the tensors, pieces applied last first. The
    /// parameters and the state agree bit for bit.
    fn cutting_changes_nothing<O: Optimizer>(mut a: O, mut b: O) {
        let n = 37;
        let mut p: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut q = p.clone();
        for step in 0..3 {
            let g: Vec<f32> = (0..n).map(|i| ((i + step) as f32 * 0.91).cos()).collect();
            a.begin_step();
            a.update(0, &mut p[..20], &g[..20]);
            a.update(20, &mut p[20..], &g[20..]);
            b.begin_step();
            let mut view = b.elementwise(n).expect("built-in optimizers are element-wise");
            for (start, len) in [(0, 20), (20, n - 20)] {
                let cut = 7 + step;
                let (first, second) = view.range(start, len).split_at(cut);
                let (p0, p1) = q[start..start + len].split_at_mut(cut);
                let (g0, g1) = g[start..start + len].split_at(cut);
                second.apply(p1, g1);
                first.apply(p0, g0);
            }
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p), bits(&q), "{}", a.name());
        for ((name, x), (_, y)) in a.state().into_iter().zip(b.state()) {
            assert_eq!(bits(x), bits(y), "{} {name}", a.name());
        }
    }

    #[test]
    fn every_optimizer_updates_the_same_through_a_cut_elementwise_view() {
        use super::{Adagrad, Adam, AdamW, RmsProp, Sgd};
        cutting_changes_nothing(Sgd::new(0.1), Sgd::new(0.1));
        let momentum = || Sgd::new(0.1).with_momentum(0.9).with_nesterov(true);
        cutting_changes_nothing(momentum(), momentum());
        cutting_changes_nothing(Adam::new(0.1), Adam::new(0.1));
        cutting_changes_nothing(AdamW::new(0.1, 0.01), AdamW::new(0.1, 0.01));
        let mut rms = RmsProp::new(0.1);
        rms.momentum = 0.5;
        cutting_changes_nothing(rms.clone(), rms);
        cutting_changes_nothing(Adagrad::new(0.1), Adagrad::new(0.1));
    }

    #[test]
    fn load_state_names_what_does_not_fit_and_changes_nothing() {
        use super::{Adam, Sgd};
        let mut adam = Adam::new(0.1);
        let m = [1.0f32, 2.0];
        let e = |r: Result<(), String>| r.unwrap_err();
        assert_eq!(
            e(adam.load_state(&[("m", &m), ("v", &m), ("velocity", &m)], &[("iterations", 1)])),
            "adam has no state buffer `velocity` (its state buffers: m, v)"
        );
        assert_eq!(
            e(adam.load_state(&[("m", &m)], &[("iterations", 1)])),
            "missing state buffer `v` of adam"
        );
        assert_eq!(
            e(adam.load_state(&[("m", &m), ("m", &m)], &[("iterations", 1)])),
            "state buffer `m` is given twice"
        );
        assert_eq!(
            e(adam.load_state(&[("m", &m), ("v", &m)], &[])),
            "missing counter `iterations` of adam"
        );
        assert_eq!(
            e(adam.load_state(&[("m", &m), ("v", &m[..1])], &[("iterations", 1)])),
            "state buffers `m` and `v` differ in length (2 and 1)"
        );
        assert_eq!(
            e(adam.load_state(&[("m", &m), ("v", &m)], &[("iterations", 1 << 40)])),
            "iterations 1099511627776 is out of range"
        );
        assert_eq!(adam.iterations(), 0);
        assert!(adam.state().iter().all(|(_, v)| v.is_empty()));
        let mut sgd = Sgd::new(0.1);
        assert_eq!(
            e(sgd.load_state(&[("velocity", &[])], &[("iterations", 1), ("steps", 2)])),
            "sgd has no counter `steps` (its counters: iterations)"
        );
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
