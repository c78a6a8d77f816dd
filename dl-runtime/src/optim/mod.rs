//! Optimizers over the parameters as flat buffers, with Keras's update rules and defaults.
//!
//! The training loop visits the network's parameter tensors in a fixed order and hands each one
//! to [`Optimizer::update`] with its flat offset among all parameters; an optimizer keeps its
//! state (moments, accumulators) in flat vectors indexed by that offset, sized on the first step.

mod adagrad;
mod adam;
mod clip;
mod elementwise;
mod errors;
mod rmsprop;
pub mod schedule;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use clip::Clip;
pub use elementwise::{ElementRule, Elementwise};
pub use errors::{BadHyperparameter, BadState};
pub use rmsprop::RmsProp;
pub use schedule::{
    CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, Schedule,
};
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
    /// RMSprop, Adagrad: the gradient is divided by its own running magnitude). A hint only: a
    /// data-parallel trainer then checks the gradient while it sums the shards' parts, to refuse
    /// a non-finite one before the update. Every step's result is checked whatever this says,
    /// since even a bounded step overflows its state on gradients near `f32::MAX`.
    fn bounded_step(&self) -> bool {
        false
    }

    /// Checks the hyperparameters (learning rate, decay rates, ε, …), naming the first that is
    /// out of its range: `fit` calls it before the first step and
    /// [`Trainer::train_on_batch`](crate::train::Trainer::train_on_batch) before each, so that
    /// a NaN learning rate or `beta_1 = 1` is an `Err` rather than NaN weights. The default
    /// accepts everything.
    fn validate(&self) -> Result<(), BadHyperparameter> {
        Ok(())
    }

    /// Undoes what the last [`Optimizer::begin_step`] changed, for a step the trainer refused
    /// (its result was not finite): the counters go back, and state buffers that this step
    /// sized (the first step) go back to empty. The trainer has already put the values of the
    /// state buffers back through [`Optimizer::elementwise`], so that afterwards
    /// [`Optimizer::state`] and [`Optimizer::counters`] are bit for bit what they were before the
    /// step. The default does nothing, which is right for an optimizer without counters.
    fn cancel_step(&mut self) {}

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
    fn load_state(&mut self, buffers: &[(&str, &[f32])], counters: &[(&str, u64)]) -> Result<(), BadState> {
        restore(self.name(), buffers, counters, &[], &[]).map(|_| ())
    }

    /// The learning rate of the next step: with a [`Schedule`], its value for the steps taken.
    /// `None` for an optimizer without one (the default).
    fn learning_rate(&self) -> Option<f32> {
        None
    }

    /// Sets the learning rate of the next steps, as Keras's `ReduceLROnPlateau` and
    /// `LearningRateScheduler` do. An `Err` if `learning_rate` is not finite and above 0, if
    /// the optimizer follows a schedule (Keras refuses that too: the schedule owns the rate),
    /// or if it has no learning rate (the default).
    fn set_learning_rate(&mut self, learning_rate: f32) -> Result<(), BadHyperparameter> {
        let _ = learning_rate;
        Err(BadHyperparameter(format!(
            "{} has no learning rate to set",
            self.name()
        )))
    }

    /// The learning-rate schedule the optimizer follows, if any.
    fn schedule(&self) -> Option<&Schedule> {
        None
    }

    /// Follows `schedule` from the next step on, or, with `None`, keeps the rate of the next
    /// step constant. An `Err` names a schedule parameter out of its range, or says that the
    /// optimizer takes no schedule (the default).
    fn set_schedule(&mut self, schedule: Option<Schedule>) -> Result<(), BadHyperparameter> {
        match schedule {
            None => Ok(()),
            Some(_) => Err(BadHyperparameter(format!(
                "{} takes no learning-rate schedule",
                self.name()
            ))),
        }
    }

    /// Forgets what training taught the optimizer: every state buffer empty and every counter
    /// 0, as when it was constructed (Adam's moments and step count start again). The
    /// hyperparameters stay as they are now. The default loads that empty state through
    /// [`Optimizer::load_state`], which is right for any optimizer whose state is empty before
    /// its first step (every built-in one); an `Err` says the optimizer refused it.
    fn reset(&mut self) -> Result<(), BadState> {
        let buffers: Vec<(&str, &[f32])> = self.state().iter().map(|&(name, _)| (name, &[][..])).collect();
        let counters: Vec<(&str, u64)> = self.counters().iter().map(|&(name, _)| (name, 0)).collect();
        self.load_state(&buffers, &counters)
    }
}

/// The learning rate of a built-in optimizer: a constant, or a schedule's value.
pub(crate) trait Rated {
    /// The rate of the current (or last) step and the schedule.
    fn rate(&mut self) -> (&mut f32, &mut Option<Schedule>);
    /// The rate and schedule, to read.
    fn rate_ref(&self) -> (f32, Option<&Schedule>);
    /// Steps taken (Keras's `iterations`), which a schedule reads.
    fn steps_taken(&self) -> u64;

    /// Sets the rate of the step about to be taken from the schedule, if any.
    fn follow_schedule(&mut self) {
        let steps = self.steps_taken();
        if let (rate, Some(schedule)) = self.rate() {
            *rate = schedule.at(steps);
        }
    }
}

/// [`Rated`] for a built-in optimizer `$ty` with fields `learning_rate`, `schedule` and the
/// step counter `$steps`, and its `with_schedule`.
macro_rules! rated {
    ($ty:ident, $steps:ident) => {
        impl Rated for $ty {
            fn rate(&mut self) -> (&mut f32, &mut Option<Schedule>) {
                (&mut self.learning_rate, &mut self.schedule)
            }

            fn rate_ref(&self) -> (f32, Option<&Schedule>) {
                (self.learning_rate, self.schedule.as_ref())
            }

            fn steps_taken(&self) -> u64 {
                // Counters are never negative.
                self.$steps as u64
            }
        }

        impl $ty {
            /// The same optimizer following `schedule`, as Keras's optimizers take a schedule
            /// for `learning_rate`; [`Optimizer::validate`] checks it.
            pub fn with_schedule(mut self, schedule: impl Into<Schedule>) -> Self {
                self.schedule = Some(schedule.into());
                self.follow_schedule();
                self
            }
        }
    };
}
pub(crate) use rated;

/// The learning-rate methods of [`Optimizer`] for a [`Rated`] optimizer.
macro_rules! rated_methods {
    () => {
        fn learning_rate(&self) -> Option<f32> {
            Some(match self.rate_ref() {
                (_, Some(schedule)) => schedule.at(self.steps_taken()),
                (rate, None) => rate,
            })
        }

        fn set_learning_rate(&mut self, learning_rate: f32) -> Result<(), $crate::optim::BadHyperparameter> {
            let name = self.name();
            match self.rate() {
                (_, Some(schedule)) => Err($crate::optim::BadHyperparameter(format!(
                    "{name}: the learning rate follows a {} schedule and cannot be set",
                    schedule.name()
                ))),
                (rate, None) => {
                    $crate::optim::positive(name, "learning_rate", learning_rate)?;
                    *rate = learning_rate;
                    Ok(())
                }
            }
        }

        fn schedule(&self) -> Option<&$crate::optim::Schedule> {
            self.rate_ref().1
        }

        fn set_schedule(
            &mut self,
            schedule: Option<$crate::optim::Schedule>,
        ) -> Result<(), $crate::optim::BadHyperparameter> {
            let name = self.name();
            if let Some(s) = &schedule {
                s.validate()
                    .map_err(|e| $crate::optim::BadHyperparameter(format!("{name}: {e}")))?;
            }
            let next = self.learning_rate().unwrap_or_default();
            let (rate, slot) = self.rate();
            // Without a schedule, the rate stays the one the next step would have used.
            *rate = next;
            *slot = schedule;
            self.follow_schedule();
            Ok(())
        }
    };
}
pub(crate) use rated_methods;

/// Checks a learning rate, or the schedule that gives it.
pub(crate) fn rate(
    optimizer: &str,
    learning_rate: f32,
    schedule: Option<&Schedule>,
) -> Result<(), BadHyperparameter> {
    match schedule {
        Some(s) => s
            .validate()
            .map_err(|e| BadHyperparameter(format!("{optimizer}: {e}"))),
        None => positive(optimizer, "learning_rate", learning_rate),
    }
}

/// The buffers and counters of a saved state, in the order of the names asked for.
pub(crate) type Restored = (Vec<Vec<f32>>, Vec<u64>);

/// Checks that `buffers` and `counters` hold exactly the names `buffer_names` and
/// `counter_names` (each once), with every value finite, and returns their values in that order;
/// the caller then assigns them, so a failed check changes nothing.
pub(crate) fn restore(
    optimizer: &str,
    buffers: &[(&str, &[f32])],
    counters: &[(&str, u64)],
    buffer_names: &[&str],
    counter_names: &[&str],
) -> Result<Restored, BadState> {
    fn pick<T: Clone>(
        optimizer: &str,
        what: &str,
        given: &[(&str, T)],
        names: &[&str],
    ) -> Result<Vec<T>, BadState> {
        for (i, (name, _)) in given.iter().enumerate() {
            if !names.contains(name) {
                return Err(BadState(format!(
                    "{optimizer} has no {what} `{name}` (its {what}s: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )));
            }
            if given[..i].iter().any(|(n, _)| n == name) {
                return Err(BadState(format!("{what} `{name}` is given twice")));
            }
        }
        names
            .iter()
            .map(|name| {
                given
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| BadState(format!("missing {what} `{name}` of {optimizer}")))
            })
            .collect()
    }
    let buffers = pick(optimizer, "state buffer", buffers, buffer_names)?;
    let counters = pick(optimizer, "counter", counters, counter_names)?;
    for (name, values) in buffer_names.iter().zip(&buffers) {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(BadState(format!(
                "state buffer `{name}` of {optimizer}: value at index {i} is {}",
                values[i]
            )));
        }
    }
    Ok((buffers.into_iter().map(<[f32]>::to_vec).collect(), counters))
}

/// Refuses a negative value in `values`, the state buffer `name` of `optimizer`, which holds
/// a running sum or mean of squared gradients: its square root is taken at every step, and a
/// negative one would turn every weight it touches into NaN.
pub(crate) fn non_negative(optimizer: &str, name: &str, values: &[f32]) -> Result<(), BadState> {
    match values.iter().position(|&v| v < 0.0) {
        Some(i) => Err(BadState(format!(
            "state buffer `{name}` of {optimizer}: value at index {i} is {}, but it holds squared \
             gradients and cannot be negative",
            values[i]
        ))),
        None => Ok(()),
    }
}

/// A learning rate, ε or other hyperparameter that must be finite and above 0.
pub(crate) fn positive(optimizer: &str, name: &str, value: f32) -> Result<(), BadHyperparameter> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(BadHyperparameter(format!(
            "{optimizer}: `{name}` must be finite and above 0; got {value}"
        )))
    }
}

/// A decay rate or momentum, which must be in [0, 1): at 1 or more the running averages never
/// forget (Adam's bias correction divides by `1 - β^t = 0`), or grow without bound.
pub(crate) fn fraction(optimizer: &str, name: &str, value: f64) -> Result<(), BadHyperparameter> {
    // Some steps use the rate rounded to f32, where 0.999999999 becomes 1.
    if (0.0..1.0).contains(&value) && (value as f32) < 1.0 {
        Ok(())
    } else {
        Err(BadHyperparameter(format!(
            "{optimizer}: `{name}` must be in [0, 1) (also once rounded to f32); got {value}"
        )))
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

    /// Three steps of `a`, then `reset`: its next step is the first step of a fresh `b`, bit
    /// for bit, and its counters are 0 again.
    fn reset_starts_afresh<O: Optimizer>(mut a: O, mut b: O) {
        let g = |p: &[f32]| p.iter().map(|v| 2.0 * v - 0.3).collect::<Vec<f32>>();
        run(&mut a, &[1.5, -0.7], 3, g);
        a.reset().unwrap();
        assert!(a.counters().iter().all(|&(_, n)| n == 0), "{}", a.name());
        assert!(a.state().iter().all(|(_, v)| v.is_empty()), "{}", a.name());
        let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(run(&mut a, &[0.4, 0.9], 2, g)),
            bits(run(&mut b, &[0.4, 0.9], 2, g)),
            "{}",
            a.name()
        );
    }

    #[test]
    fn reset_starts_every_optimizer_afresh() {
        use super::{Adagrad, Adam, AdamW, RmsProp, Sgd};
        let momentum = || Sgd::new(0.1).with_momentum(0.9).with_nesterov(true);
        reset_starts_afresh(momentum(), momentum());
        reset_starts_afresh(Adam::new(0.1), Adam::new(0.1));
        reset_starts_afresh(AdamW::new(0.1, 0.01), AdamW::new(0.1, 0.01));
        let mut rms = RmsProp::new(0.1);
        rms.momentum = 0.5;
        reset_starts_afresh(rms.clone(), rms);
        reset_starts_afresh(Adagrad::new(0.1), Adagrad::new(0.1));
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
        let e = |r: Result<(), super::BadState>| r.unwrap_err().to_string();
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
            "iterations 1099511627776 is out of range (at most 2147483646)"
        );
        assert_eq!(adam.iterations(), 0);
        assert!(adam.state().iter().all(|(_, v)| v.is_empty()));
        let mut sgd = Sgd::new(0.1);
        assert_eq!(
            e(sgd.load_state(&[("velocity", &[])], &[("iterations", 1), ("steps", 2)])),
            "sgd has no counter `steps` (its counters: iterations)"
        );
    }

    #[test]
    fn every_hyperparameter_out_of_range_is_named() {
        use super::{Adagrad, Adam, AdamW, RmsProp, Sgd};
        let e = |o: &dyn Optimizer| o.validate().unwrap_err().to_string();
        for o in [
            &Sgd::default() as &dyn Optimizer,
            &Sgd::new(0.1).with_momentum(0.9).with_nesterov(true),
            &Adam::default(),
            &AdamW::default(),
            &RmsProp::default(),
            &Adagrad::default(),
        ] {
            assert_eq!(o.validate(), Ok(()), "{}", o.name());
        }
        for lr in [f32::NAN, f32::INFINITY, 0.0, -0.1] {
            let expected =
                |name: &str| format!("{name}: `learning_rate` must be finite and above 0; got {lr}");
            assert_eq!(e(&Sgd::new(lr)), expected("sgd"));
            assert_eq!(e(&Adam::new(lr)), expected("adam"));
            assert_eq!(e(&AdamW::new(lr, 0.0)), expected("adamw"));
            assert_eq!(e(&RmsProp::new(lr)), expected("rmsprop"));
            assert_eq!(e(&Adagrad::new(lr)), expected("adagrad"));
        }
        assert_eq!(
            e(&Sgd::new(0.1).with_momentum(1.0)),
            "sgd: `momentum` must be in [0, 1) (also once rounded to f32); got 1"
        );
        assert!(e(&Sgd::new(0.1).with_momentum(-0.5)).contains("`momentum`"));
        for (beta, name) in [
            (1.0, "beta_1"),
            (f64::NAN, "beta_1"),
            (-0.1, "beta_1"),
            (1.0 - 1e-9, "beta_1"),
        ] {
            let mut adam = Adam::default();
            adam.beta_1 = beta;
            assert!(
                e(&adam).starts_with(&format!("adam: `{name}` must be in [0, 1)")),
                "{beta}"
            );
        }
        let mut adam = Adam::default();
        adam.beta_2 = 1.0;
        assert!(e(&adam).starts_with("adam: `beta_2`"));
        adam = Adam::default();
        adam.epsilon = 0.0;
        assert_eq!(e(&adam), "adam: `epsilon` must be finite and above 0; got 0");
        let mut adamw = AdamW::new(0.1, 0.0);
        adamw.adam.beta_1 = 1.0;
        assert!(e(&adamw).starts_with("adamw: `beta_1`"));
        for wd in [-0.1, f32::NAN, 10.0] {
            assert!(
                e(&AdamW::new(0.1, wd)).starts_with("adamw: `weight_decay`"),
                "{wd}"
            );
        }
        let mut rms = RmsProp::default();
        rms.rho = 1.0;
        assert!(e(&rms).starts_with("rmsprop: `rho`"));
        rms = RmsProp::default();
        rms.momentum = f32::INFINITY;
        assert!(e(&rms).starts_with("rmsprop: `momentum`"));
        rms = RmsProp::default();
        rms.epsilon = f32::NAN;
        assert!(e(&rms).starts_with("rmsprop: `epsilon`"));
        let mut ada = Adagrad::default();
        ada.initial_accumulator_value = -1.0;
        assert!(e(&ada).starts_with("adagrad: `initial_accumulator_value`"));
        ada = Adagrad::default();
        ada.epsilon = -1e-7;
        assert!(e(&ada).starts_with("adagrad: `epsilon`"));
    }

    /// A refused state: negative squares, non-finite values, a step counter with no next step.
    #[test]
    fn load_state_refuses_state_no_step_could_have_made() {
        use super::{Adagrad, Adam, AdamW, RmsProp};
        let neg = [0.5f32, -1.0];
        let ok = [0.5f32, 1.0];
        let it = [("iterations", 3u64)];
        let e = |o: &mut dyn Optimizer, b: &[(&str, &[f32])], c: &[(&str, u64)]| {
            o.load_state(b, c).unwrap_err().to_string()
        };
        let squares = "but it holds squared gradients and cannot be negative";
        assert_eq!(
            e(&mut Adam::default(), &[("m", &ok), ("v", &neg)], &it),
            format!("state buffer `v` of adam: value at index 1 is -1, {squares}")
        );
        assert!(
            e(&mut AdamW::default(), &[("m", &ok), ("v", &neg)], &it)
                .starts_with("state buffer `v` of adamw")
        );
        assert!(
            e(
                &mut RmsProp::default(),
                &[("mean_square", &neg), ("velocity", &[])],
                &it
            )
            .starts_with("state buffer `mean_square` of rmsprop: value at index 1 is -1")
        );
        assert!(
            e(&mut Adagrad::default(), &[("accumulator", &neg)], &it)
                .starts_with("state buffer `accumulator` of adagrad: value at index 1 is -1")
        );
        assert_eq!(
            e(&mut Adam::default(), &[("m", &[f32::NAN, 0.0]), ("v", &ok)], &it),
            "state buffer `m` of adam: value at index 0 is NaN"
        );
        let max = [("iterations", i32::MAX as u64)];
        assert_eq!(
            e(&mut Adam::default(), &[("m", &ok), ("v", &ok)], &max),
            "iterations 2147483647 is out of range (at most 2147483646)"
        );
        let mut adam = Adam::default();
        adam.load_state(&[("m", &ok), ("v", &ok)], &[("iterations", i32::MAX as u64 - 1)])
            .unwrap();
        adam.begin_step();
        assert_eq!(adam.iterations(), i32::MAX);
        // Saturates rather than overflowing (which panics in debug builds).
        adam.begin_step();
        assert_eq!(adam.iterations(), i32::MAX);
    }

    /// `begin_step`, sizing the state through `elementwise`, then `cancel_step`: the state and
    /// counters are bit for bit as before, on the first step (empty buffers) and later ones.
    #[test]
    fn cancel_step_undoes_begin_step_for_every_optimizer() {
        use super::{Adagrad, Adam, AdamW, RmsProp, Sgd};
        fn check<O: Optimizer>(mut o: O) {
            let snapshot = |o: &O| {
                let state: Vec<(&str, Vec<u32>)> = o
                    .state()
                    .into_iter()
                    .map(|(n, v)| (n, v.iter().map(|x| x.to_bits()).collect()))
                    .collect();
                (state, o.counters())
            };
            let mut p = [0.5f32, -0.25, 2.0];
            for _ in 0..3 {
                let before = snapshot(&o);
                o.begin_step();
                let _sized = o.elementwise(p.len()).is_some();
                o.cancel_step();
                assert_eq!(snapshot(&o), before, "{}", o.name());
                o.begin_step();
                o.update(0, &mut p, &[0.1, -0.2, 0.3]);
            }
        }
        check(Sgd::new(0.1));
        check(Sgd::new(0.1).with_momentum(0.9));
        check(Adam::new(0.1));
        check(AdamW::new(0.1, 0.01));
        let mut rms = RmsProp::new(0.1);
        check(rms.clone());
        rms.momentum = 0.5;
        check(rms);
        check(Adagrad::new(0.1));
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
