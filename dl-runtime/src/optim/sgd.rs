use super::{
    BadHyperparameter, BadState, ElementRule, Elementwise, Optimizer, Rated, Schedule, ensure, fraction,
    rate, rated, rated_methods, restore,
};

/// `SGD`: plain, with momentum, or Nesterov momentum (Keras's formulation).
#[derive(Debug, Clone)]
pub struct Sgd {
    /// Step size (Keras default 0.01).
    pub learning_rate: f32,
    /// Momentum (0 disables it), in [0, 1).
    pub momentum: f32,
    /// Use Nesterov momentum.
    pub nesterov: bool,
    iterations: u64,
    schedule: Option<Schedule>,
    velocity: Vec<f32>,
    rule: SgdRule,
    /// The iterations and the velocity's length before the current step, for `cancel_step`.
    before: (u64, usize),
}

/// One SGD step's constants.
#[derive(Debug, Clone, Copy, Default)]
struct SgdRule {
    learning_rate: f32,
    momentum: f32,
    nesterov: bool,
}

impl ElementRule for SgdRule {
    /// `state[0]` is the velocity, empty without momentum.
    #[inline]
    fn apply(&self, param: &mut [f32], grad: &[f32], [velocity, _]: [&mut [f32]; 2]) {
        let (lr, m) = (self.learning_rate, self.momentum);
        if m == 0.0 {
            for (p, &g) in param.iter_mut().zip(grad) {
                *p -= lr * g;
            }
            return;
        }
        for ((p, v), &g) in param.iter_mut().zip(velocity).zip(grad) {
            *v = m * *v - lr * g;
            *p += if self.nesterov { m * *v - lr * g } else { *v };
        }
    }
}

impl Sgd {
    /// SGD with the given learning rate and no momentum.
    pub fn new(learning_rate: f32) -> Self {
        Sgd {
            learning_rate,
            momentum: 0.0,
            nesterov: false,
            iterations: 0,
            schedule: None,
            velocity: Vec::new(),
            rule: SgdRule::default(),
            before: (0, 0),
        }
    }

    /// Adds (heavy-ball) momentum.
    pub fn with_momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// Switches to Nesterov momentum.
    pub fn with_nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Steps taken so far (Keras's `iterations`).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd::new(0.01)
    }
}

rated!(Sgd, iterations);

impl Optimizer for Sgd {
    rated_methods!();

    fn begin_step(&mut self) {
        self.follow_schedule();
        self.before = (self.iterations, self.velocity.len());
        // Saturating: a restored counter can be anything.
        self.iterations = self.iterations.saturating_add(1);
    }

    fn cancel_step(&mut self) {
        (self.iterations, _) = self.before;
        self.velocity.truncate(self.before.1);
        self.follow_schedule();
    }

    fn validate(&self) -> Result<(), BadHyperparameter> {
        rate("sgd", self.learning_rate, self.schedule.as_ref())?;
        fraction("sgd", "momentum", self.momentum.into())
    }

    fn update(&mut self, offset: usize, param: &mut [f32], grad: &[f32]) {
        let n = param.len();
        if let Some(mut step) = self.elementwise(offset + n) {
            step.range(offset, n).apply(param, grad);
        }
    }

    fn elementwise(&mut self, params: usize) -> Option<Elementwise<'_>> {
        self.rule = SgdRule {
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            nesterov: self.nesterov,
        };
        let velocity: &mut [f32] = if self.momentum == 0.0 {
            &mut []
        } else {
            ensure(&mut self.velocity, params, 0.0);
            &mut self.velocity[..params]
        };
        Some(Elementwise::new(&self.rule, [velocity, &mut []]))
    }

    fn state(&self) -> Vec<(&'static str, &[f32])> {
        vec![("velocity", &self.velocity)]
    }

    fn name(&self) -> &'static str {
        "sgd"
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![("iterations", self.iterations)]
    }

    fn load_state(&mut self, buffers: &[(&str, &[f32])], counters: &[(&str, u64)]) -> Result<(), BadState> {
        let (mut b, c) = restore(self.name(), buffers, counters, &["velocity"], &["iterations"])?;
        self.velocity = b.remove(0);
        self.iterations = c[0];
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::tests::{close, run};

    #[test]
    fn follows_keras_momentum_and_nesterov() {
        // Gradient of p²: 2p. Hand-derived from Keras's update rules.
        let g = |p: &[f32]| p.iter().map(|v| 2.0 * v).collect();
        close(&run(&mut Sgd::new(0.1), &[1.0], 2, g), &[0.64]);
        // momentum 0.9: v1 = -0.2, p1 = 0.8; v2 = -0.18 - 0.16 = -0.34, p2 = 0.46.
        close(&run(&mut Sgd::new(0.1).with_momentum(0.9), &[1.0], 2, g), &[0.46]);
        // nesterov: v1 = -0.2, p1 = 1 + 0.9·(-0.2) - 0.2 = 0.62;
        // v2 = 0.9·(-0.2) - 0.124 = -0.304, p2 = 0.62 + 0.9·(-0.304) - 0.124 = 0.2224.
        close(
            &run(
                &mut Sgd::new(0.1).with_momentum(0.9).with_nesterov(true),
                &[1.0],
                2,
                g,
            ),
            &[0.2224],
        );
    }
}
