use super::{Optimizer, ensure};

/// `Adagrad` with Keras's defaults (lr 0.001, initial accumulator 0.1, ε 1e-7).
#[derive(Debug, Clone)]
pub struct Adagrad {
    /// Step size.
    pub learning_rate: f32,
    /// Starting value of every accumulator.
    pub initial_accumulator_value: f32,
    /// Numerical-stability constant.
    pub epsilon: f32,
    accumulator: Vec<f32>,
}

impl Adagrad {
    /// Adagrad with the given learning rate and Keras's other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Adagrad {
            learning_rate,
            initial_accumulator_value: 0.1,
            epsilon: 1e-7,
            accumulator: Vec::new(),
        }
    }
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad::new(0.001)
    }
}

impl Optimizer for Adagrad {
    fn bounded_step(&self) -> bool {
        true
    }

    fn update(&mut self, offset: usize, param: &mut [f32], grad: &[f32]) {
        let n = param.len();
        ensure(&mut self.accumulator, offset + n, self.initial_accumulator_value);
        let acc = &mut self.accumulator[offset..offset + n];
        for ((p, a), &g) in param.iter_mut().zip(acc).zip(grad) {
            *a += g * g;
            *p -= self.learning_rate * g / (*a + self.epsilon).sqrt();
        }
    }

    fn state(&self) -> Vec<(&'static str, &[f32])> {
        vec![("accumulator", &self.accumulator)]
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
