use super::{Optimizer, ensure};

/// `RMSprop` with Keras's defaults (lr 0.001, ρ 0.9, ε 1e-7 inside the square root, no
/// momentum).
#[derive(Debug, Clone)]
pub struct RmsProp {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the mean square.
    pub rho: f32,
    /// Momentum (0 disables it).
    pub momentum: f32,
    /// Numerical-stability constant.
    pub epsilon: f32,
    mean_square: Vec<f32>,
    velocity: Vec<f32>,
}

impl RmsProp {
    /// RMSprop with the given learning rate and Keras's other defaults.
    pub fn new(learning_rate: f32) -> Self {
        RmsProp {
            learning_rate,
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
            mean_square: Vec::new(),
            velocity: Vec::new(),
        }
    }
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp::new(0.001)
    }
}

impl Optimizer for RmsProp {
    fn bounded_step(&self) -> bool {
        true
    }

    fn update(&mut self, offset: usize, param: &mut [f32], grad: &[f32]) {
        let n = param.len();
        ensure(&mut self.mean_square, offset + n, 0.0);
        let ms = &mut self.mean_square[offset..offset + n];
        let (lr, rho, eps, mom) = (self.learning_rate, self.rho, self.epsilon, self.momentum);
        if mom == 0.0 {
            for ((p, s), &g) in param.iter_mut().zip(ms).zip(grad) {
                *s = rho * *s + (1.0 - rho) * g * g;
                *p -= lr * g / (*s + eps).sqrt();
            }
        } else {
            ensure(&mut self.velocity, offset + n, 0.0);
            let vel = &mut self.velocity[offset..offset + n];
            for (((p, s), v), &g) in param.iter_mut().zip(ms).zip(vel).zip(grad) {
                *s = rho * *s + (1.0 - rho) * g * g;
                *v = mom * *v + lr * g / (*s + eps).sqrt();
                *p -= *v;
            }
        }
    }

    fn state(&self) -> Vec<(&'static str, &[f32])> {
        vec![("mean_square", &self.mean_square), ("velocity", &self.velocity)]
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
