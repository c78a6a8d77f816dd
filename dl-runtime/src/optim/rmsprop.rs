use super::{
    BadHyperparameter, BadState, ElementRule, Elementwise, Optimizer, Rated, Schedule, ensure, fraction,
    non_negative, positive, rate, rated, rated_methods, restore,
};

/// `RMSprop` with Keras's defaults (lr 0.001, ρ 0.9, ε 1e-7 inside the square root, no
/// momentum).
#[derive(Debug, Clone)]
pub struct RmsProp {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the mean square, in [0, 1).
    pub rho: f32,
    /// Momentum (0 disables it), in [0, 1).
    pub momentum: f32,
    /// Numerical-stability constant.
    pub epsilon: f32,
    iterations: u64,
    schedule: Option<Schedule>,
    mean_square: Vec<f32>,
    velocity: Vec<f32>,
    rule: RmsRule,
    /// The iterations and the lengths of the mean square and velocity before the current
    /// step, for `cancel_step`.
    before: (u64, usize, usize),
}

/// One RMSprop step's constants.
#[derive(Debug, Clone, Copy, Default)]
struct RmsRule {
    learning_rate: f32,
    rho: f32,
    epsilon: f32,
    momentum: f32,
}

impl ElementRule for RmsRule {
    /// `state` is the mean square and the velocity (empty without momentum).
    #[inline]
    fn apply(&self, param: &mut [f32], grad: &[f32], [ms, vel]: [&mut [f32]; 2]) {
        let (lr, rho, eps, mom) = (self.learning_rate, self.rho, self.epsilon, self.momentum);
        if mom == 0.0 {
            for ((p, s), &g) in param.iter_mut().zip(ms).zip(grad) {
                *s = rho * *s + (1.0 - rho) * g * g;
                *p -= lr * g / (*s + eps).sqrt();
            }
        } else {
            for (((p, s), v), &g) in param.iter_mut().zip(ms).zip(vel).zip(grad) {
                *s = rho * *s + (1.0 - rho) * g * g;
                *v = mom * *v + lr * g / (*s + eps).sqrt();
                *p -= *v;
            }
        }
    }
}

impl RmsProp {
    /// RMSprop with the given learning rate and Keras's other defaults.
    pub fn new(learning_rate: f32) -> Self {
        RmsProp {
            learning_rate,
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
            iterations: 0,
            schedule: None,
            mean_square: Vec::new(),
            velocity: Vec::new(),
            rule: RmsRule::default(),
            before: (0, 0, 0),
        }
    }

    /// Steps taken so far (Keras's `iterations`).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp::new(0.001)
    }
}

rated!(RmsProp, iterations);

impl Optimizer for RmsProp {
    rated_methods!();

    fn bounded_step(&self) -> bool {
        true
    }

    fn begin_step(&mut self) {
        self.follow_schedule();
        self.before = (self.iterations, self.mean_square.len(), self.velocity.len());
        // Saturating: a restored counter can be anything.
        self.iterations = self.iterations.saturating_add(1);
    }

    fn cancel_step(&mut self) {
        let (iterations, mean_square, velocity) = self.before;
        self.iterations = iterations;
        self.mean_square.truncate(mean_square);
        self.velocity.truncate(velocity);
        self.follow_schedule();
    }

    fn validate(&self) -> Result<(), BadHyperparameter> {
        rate("rmsprop", self.learning_rate, self.schedule.as_ref())?;
        fraction("rmsprop", "rho", self.rho.into())?;
        fraction("rmsprop", "momentum", self.momentum.into())?;
        positive("rmsprop", "epsilon", self.epsilon)
    }

    fn update(&mut self, offset: usize, param: &mut [f32], grad: &[f32]) {
        let n = param.len();
        if let Some(mut step) = self.elementwise(offset + n) {
            step.range(offset, n).apply(param, grad);
        }
    }

    fn elementwise(&mut self, params: usize) -> Option<Elementwise<'_>> {
        self.rule = RmsRule {
            learning_rate: self.learning_rate,
            rho: self.rho,
            epsilon: self.epsilon,
            momentum: self.momentum,
        };
        ensure(&mut self.mean_square, params, 0.0);
        let velocity: &mut [f32] = if self.momentum == 0.0 {
            &mut []
        } else {
            ensure(&mut self.velocity, params, 0.0);
            &mut self.velocity[..params]
        };
        Some(Elementwise::new(
            &self.rule,
            [&mut self.mean_square[..params], velocity],
        ))
    }

    fn state(&self) -> Vec<(&'static str, &[f32])> {
        vec![("mean_square", &self.mean_square), ("velocity", &self.velocity)]
    }

    fn name(&self) -> &'static str {
        "rmsprop"
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![("iterations", self.iterations)]
    }

    fn load_state(&mut self, buffers: &[(&str, &[f32])], counters: &[(&str, u64)]) -> Result<(), BadState> {
        let names = ["mean_square", "velocity"];
        let (mut b, c) = restore(self.name(), buffers, counters, &names, &["iterations"])?;
        non_negative(self.name(), "mean_square", &b[0])?;
        self.velocity = b.pop().unwrap_or_default();
        self.mean_square = b.pop().unwrap_or_default();
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
        let (mut p, mut s) = (2.0f64, 0.0f64);
        for _ in 0..3 {
            let g = 2.0 * p;
            s = 0.9 * s + 0.1 * g * g;
            p -= 0.01 * g / (s + 1e-7).sqrt();
        }
        close(
            &run(&mut RmsProp::new(0.01), &[2.0], 3, |p| {
                p.iter().map(|v| 2.0 * v).collect()
            }),
            &[p],
        );
    }
}
