use super::{
    BadHyperparameter, BadState, ElementRule, Elementwise, Optimizer, Rated, Schedule, ensure, non_negative,
    positive, rate, rated, rated_methods, restore,
};

/// `Adagrad` with Keras's defaults (lr 0.001, initial accumulator 0.1, ε 1e-7).
#[derive(Debug, Clone)]
pub struct Adagrad {
    /// Step size.
    pub learning_rate: f32,
    /// Starting value of every accumulator (at least 0).
    pub initial_accumulator_value: f32,
    /// Numerical-stability constant.
    pub epsilon: f32,
    iterations: u64,
    schedule: Option<Schedule>,
    accumulator: Vec<f32>,
    rule: AdagradRule,
    /// The iterations and the accumulator's length before the current step, for
    /// `cancel_step`.
    before: (u64, usize),
}

/// One Adagrad step's constants.
#[derive(Debug, Clone, Copy, Default)]
struct AdagradRule {
    learning_rate: f32,
    epsilon: f32,
}

impl ElementRule for AdagradRule {
    /// `state[0]` is the accumulator.
    #[inline]
    fn apply(&self, param: &mut [f32], grad: &[f32], [acc, _]: [&mut [f32]; 2]) {
        for ((p, a), &g) in param.iter_mut().zip(acc).zip(grad) {
            *a += g * g;
            *p -= self.learning_rate * g / (*a + self.epsilon).sqrt();
        }
    }
}

impl Adagrad {
    /// Adagrad with the given learning rate and Keras's other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Adagrad {
            learning_rate,
            initial_accumulator_value: 0.1,
            epsilon: 1e-7,
            iterations: 0,
            schedule: None,
            accumulator: Vec::new(),
            rule: AdagradRule::default(),
            before: (0, 0),
        }
    }

    /// Steps taken so far (Keras's `iterations`).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad::new(0.001)
    }
}

rated!(Adagrad, iterations);

impl Optimizer for Adagrad {
    rated_methods!();

    fn bounded_step(&self) -> bool {
        true
    }

    fn begin_step(&mut self) {
        self.follow_schedule();
        self.before = (self.iterations, self.accumulator.len());
        // Saturating: a restored counter can be anything.
        self.iterations = self.iterations.saturating_add(1);
    }

    fn cancel_step(&mut self) {
        (self.iterations, _) = self.before;
        self.accumulator.truncate(self.before.1);
        self.follow_schedule();
    }

    fn validate(&self) -> Result<(), BadHyperparameter> {
        rate("adagrad", self.learning_rate, self.schedule.as_ref())?;
        let init = self.initial_accumulator_value;
        if !(init.is_finite() && init >= 0.0) {
            return Err(BadHyperparameter(format!(
                "adagrad: `initial_accumulator_value` must be finite and at least 0; got {init}"
            )));
        }
        positive("adagrad", "epsilon", self.epsilon)
    }

    fn update(&mut self, offset: usize, param: &mut [f32], grad: &[f32]) {
        let n = param.len();
        if let Some(mut step) = self.elementwise(offset + n) {
            step.range(offset, n).apply(param, grad);
        }
    }

    fn elementwise(&mut self, params: usize) -> Option<Elementwise<'_>> {
        self.rule = AdagradRule {
            learning_rate: self.learning_rate,
            epsilon: self.epsilon,
        };
        ensure(&mut self.accumulator, params, self.initial_accumulator_value);
        Some(Elementwise::new(
            &self.rule,
            [&mut self.accumulator[..params], &mut []],
        ))
    }

    fn state(&self) -> Vec<(&'static str, &[f32])> {
        vec![("accumulator", &self.accumulator)]
    }

    fn name(&self) -> &'static str {
        "adagrad"
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![("iterations", self.iterations)]
    }

    fn load_state(&mut self, buffers: &[(&str, &[f32])], counters: &[(&str, u64)]) -> Result<(), BadState> {
        let (mut b, c) = restore(self.name(), buffers, counters, &["accumulator"], &["iterations"])?;
        non_negative(self.name(), "accumulator", &b[0])?;
        self.accumulator = b.remove(0);
        self.iterations = c[0];
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::tests::{close, run};

    #[test]
    fn matches_keras_update_rule() {
        let (mut p, mut a) = (1.0f64, 0.1f64);
        for _ in 0..3 {
            let g = 2.0 * p;
            a += g * g;
            p -= 0.1 * g / (a + 1e-7).sqrt();
        }
        close(
            &run(&mut Adagrad::new(0.1), &[1.0], 3, |p| {
                p.iter().map(|v| 2.0 * v).collect()
            }),
            &[p],
        );
    }
}
