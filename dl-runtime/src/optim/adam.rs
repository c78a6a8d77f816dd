use super::{
    BadHyperparameter, BadState, ElementRule, Elementwise, Optimizer, Rated, Schedule, ensure, fraction,
    non_negative, positive, rate, rated, rated_methods, restore,
};

/// `Adam` with Keras's defaults and update rule (ε added after the bias-corrected step size,
/// Keras's "epsilon hat").
///
/// The decay rates are `f64`, like Keras's Python floats, because Keras uses them in two
/// precisions: the moments decay by `1 − β` computed in double precision and then rounded
/// (`1 − 0.999` becomes `0.001f32`), while the bias corrections raise `β` rounded to float32.
/// Taking `1 − β` of a float32 `β` instead gives `1 − 0.999f32 = 0.00099998713`, which makes the
/// early steps 6.7e-6 (relative) shorter than Keras's.
#[derive(Debug, Clone)]
pub struct Adam {
    /// Step size (default 0.001).
    pub learning_rate: f32,
    /// Decay of the first moment (default 0.9), in [0, 1).
    pub beta_1: f64,
    /// Decay of the second moment (default 0.999), in [0, 1).
    pub beta_2: f64,
    /// Numerical-stability constant (default 1e-7).
    pub epsilon: f32,
    step: i32,
    schedule: Option<Schedule>,
    alpha: f32,
    rule: AdamRule,
    m: Vec<f32>,
    v: Vec<f32>,
    /// The step and the moments' length before the current step, for `cancel_step`.
    before: (i32, usize),
}

/// One Adam step's constants.
#[derive(Debug, Clone, Copy, Default)]
struct AdamRule {
    /// Keras's `1 - beta_1` and `1 - beta_2`: in double precision, then rounded.
    d1: f32,
    d2: f32,
    /// The bias-corrected step size.
    alpha: f32,
    eps: f32,
}

impl ElementRule for AdamRule {
    #[inline]
    fn apply(&self, param: &mut [f32], grad: &[f32], [m, v]: [&mut [f32]; 2]) {
        adam_update(param, grad, m, v, self.d1, self.d2, self.alpha, self.eps);
    }
}

impl Adam {
    /// Adam with the given learning rate and Keras's other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Adam {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            step: 0,
            schedule: None,
            alpha: 0.0,
            rule: AdamRule::default(),
            m: Vec::new(),
            v: Vec::new(),
            before: (0, 0),
        }
    }

    /// Steps taken so far.
    pub fn iterations(&self) -> i32 {
        self.step
    }

    /// This step's constants, from the hyperparameters as they are now.
    fn rule(&self) -> AdamRule {
        AdamRule {
            d1: (1.0 - self.beta_1) as f32,
            d2: (1.0 - self.beta_2) as f32,
            alpha: self.alpha,
            eps: self.epsilon,
        }
    }

    /// The moments of the first `params` parameters, sized on the first step.
    fn moments(&mut self, params: usize) -> [&mut [f32]; 2] {
        ensure(&mut self.m, params, 0.0);
        ensure(&mut self.v, params, 0.0);
        [&mut self.m[..params], &mut self.v[..params]]
    }

    /// [`Optimizer::validate`], naming the optimizer `name` in errors.
    fn validate_as(&self, name: &str) -> Result<(), BadHyperparameter> {
        rate(name, self.learning_rate, self.schedule.as_ref())?;
        fraction(name, "beta_1", self.beta_1)?;
        fraction(name, "beta_2", self.beta_2)?;
        positive(name, "epsilon", self.epsilon)
    }

    /// [`Optimizer::load_state`], naming the optimizer `name` in errors.
    fn restore_as(
        &mut self,
        name: &str,
        buffers: &[(&str, &[f32])],
        counters: &[(&str, u64)],
    ) -> Result<(), BadState> {
        let (mut b, c) = restore(name, buffers, counters, &["m", "v"], &["iterations"])?;
        // The step counts in an i32, as Keras's bias correction raises β to it; one more step
        // must still fit.
        let step = i32::try_from(c[0])
            .ok()
            .filter(|&s| s < i32::MAX)
            .ok_or_else(|| {
                BadState(format!(
                    "iterations {} is out of range (at most {})",
                    c[0],
                    i32::MAX - 1
                ))
            })?;
        let (v, m) = (b.pop().unwrap_or_default(), b.pop().unwrap_or_default());
        non_negative(name, "v", &v)?;
        if m.len() != v.len() {
            return Err(BadState(format!(
                "state buffers `m` and `v` differ in length ({} and {})",
                m.len(),
                v.len()
            )));
        }
        (self.m, self.v, self.step) = (m, v, step);
        // `alpha` is recomputed from the step by the next `begin_step`.
        Ok(())
    }
}

impl Default for Adam {
    fn default() -> Self {
        Adam::new(0.001)
    }
}

rated!(Adam, step);

impl Optimizer for Adam {
    rated_methods!();

    fn bounded_step(&self) -> bool {
        true
    }

    fn begin_step(&mut self) {
        self.follow_schedule();
        self.before = (self.step, self.m.len());
        // Saturating: past 2³¹ − 1 steps β^t is 0 to within f64's precision, so the bias
        // corrections below do not change any more.
        self.step = self.step.saturating_add(1);
        // Bias corrections in f64 (β₂ᵗ loses precision in f32 over long runs) of β rounded to
        // float32, as Keras casts β to the variables' dtype for them.
        let t = self.step;
        let b1 = 1.0 - f64::from(self.beta_1 as f32).powi(t);
        let b2 = 1.0 - f64::from(self.beta_2 as f32).powi(t);
        self.alpha = (self.learning_rate as f64 * b2.sqrt() / b1) as f32;
    }

    fn cancel_step(&mut self) {
        let (step, len) = self.before;
        self.step = step;
        self.m.truncate(len);
        self.v.truncate(len);
        self.follow_schedule();
    }

    fn validate(&self) -> Result<(), BadHyperparameter> {
        self.validate_as("adam")
    }

    #[inline]
    fn update(&mut self, offset: usize, param: &mut [f32], grad: &[f32]) {
        let n = param.len();
        let rule = self.rule();
        let [m, v] = self.moments(offset + n);
        rule.apply(param, grad, [&mut m[offset..], &mut v[offset..]]);
    }

    fn elementwise(&mut self, params: usize) -> Option<Elementwise<'_>> {
        self.rule = self.rule();
        let state = {
            ensure(&mut self.m, params, 0.0);
            ensure(&mut self.v, params, 0.0);
            [&mut self.m[..params], &mut self.v[..params]]
        };
        Some(Elementwise::new(&self.rule, state))
    }

    fn state(&self) -> Vec<(&'static str, &[f32])> {
        vec![("m", &self.m), ("v", &self.v)]
    }

    fn name(&self) -> &'static str {
        "adam"
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![("iterations", self.step as u64)]
    }

    fn load_state(&mut self, buffers: &[(&str, &[f32])], counters: &[(&str, u64)]) -> Result<(), BadState> {
        self.restore_as("adam", buffers, counters)
    }
}

/// Dispatches to a build of the update for the widest vector unit present: the square root and
/// division dominate, and the baseline x86-64 target has only 4-wide SSE.
#[allow(clippy::too_many_arguments)]
#[inline]
fn adam_update(
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    d1: f32,
    d2: f32,
    alpha: f32,
    eps: f32,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F.
            unsafe { adam_avx512(param, grad, m, v, d1, d2, alpha, eps) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            unsafe { adam_avx2(param, grad, m, v, d1, d2, alpha, eps) };
            return;
        }
    }
    adam_body(param, grad, m, v, d1, d2, alpha, eps);
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
fn adam_avx512(
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    d1: f32,
    d2: f32,
    alpha: f32,
    eps: f32,
) {
    adam_body(param, grad, m, v, d1, d2, alpha, eps);
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
fn adam_avx2(
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    d1: f32,
    d2: f32,
    alpha: f32,
    eps: f32,
) {
    adam_body(param, grad, m, v, d1, d2, alpha, eps);
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn adam_body(
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    d1: f32,
    d2: f32,
    alpha: f32,
    eps: f32,
) {
    let n = param.len();
    let (grad, m, v) = (&grad[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        let g = grad[i];
        m[i] += (g - m[i]) * d1;
        v[i] += (g * g - v[i]) * d2;
        param[i] -= alpha * m[i] / (v[i].sqrt() + eps);
    }
}

/// `AdamW`: Adam with decoupled weight decay (Keras default decay 0.004), applied to every
/// parameter before the Adam step, as Keras does.
#[derive(Debug, Clone)]
pub struct AdamW {
    /// The underlying Adam.
    pub adam: Adam,
    /// Decoupled weight decay, at least 0 and below `1 / learning_rate`.
    pub weight_decay: f32,
    rule: AdamWRule,
}

/// One AdamW step's constants: the decay factor, then Adam's.
#[derive(Debug, Clone, Copy, Default)]
struct AdamWRule {
    decay: f32,
    adam: AdamRule,
}

impl ElementRule for AdamWRule {
    #[inline]
    fn apply(&self, param: &mut [f32], grad: &[f32], state: [&mut [f32]; 2]) {
        param.iter_mut().for_each(|p| *p *= self.decay);
        self.adam.apply(param, grad, state);
    }
}

impl AdamW {
    /// AdamW with the given learning rate and weight decay.
    pub fn new(learning_rate: f32, weight_decay: f32) -> Self {
        AdamW {
            adam: Adam::new(learning_rate),
            weight_decay,
            rule: AdamWRule::default(),
        }
    }

    /// The same optimizer following `schedule` (Keras's `AdamW(learning_rate=schedule)`);
    /// [`Optimizer::validate`] checks it. The weight decay follows the schedule too: each step
    /// multiplies the weights by `1 − rate · weight_decay`.
    pub fn with_schedule(mut self, schedule: impl Into<Schedule>) -> Self {
        self.adam = self.adam.with_schedule(schedule);
        self
    }
}

impl AdamW {
    fn rule(&self) -> AdamWRule {
        AdamWRule {
            decay: 1.0 - self.adam.learning_rate * self.weight_decay,
            adam: self.adam.rule(),
        }
    }
}

impl Default for AdamW {
    fn default() -> Self {
        AdamW::new(0.001, 0.004)
    }
}

impl Rated for AdamW {
    fn rate(&mut self) -> (&mut f32, &mut Option<Schedule>) {
        self.adam.rate()
    }

    fn rate_ref(&self) -> (f32, Option<&Schedule>) {
        self.adam.rate_ref()
    }

    fn steps_taken(&self) -> u64 {
        self.adam.steps_taken()
    }
}

impl Optimizer for AdamW {
    rated_methods!();

    fn bounded_step(&self) -> bool {
        true
    }

    fn begin_step(&mut self) {
        self.adam.begin_step();
    }

    fn cancel_step(&mut self) {
        self.adam.cancel_step();
    }

    fn validate(&self) -> Result<(), BadHyperparameter> {
        self.adam.validate_as("adamw")?;
        let lr = match &self.adam.schedule {
            Some(s) => s.peak(),
            None => self.adam.learning_rate,
        };
        let wd = self.weight_decay;
        // Each step multiplies every weight by 1 − lr·wd, which must stay in (0, 1].
        if !(wd.is_finite() && wd >= 0.0 && lr * wd < 1.0) {
            return Err(BadHyperparameter(format!(
                "adamw: `weight_decay` must be finite, at least 0 and below 1 / learning_rate ({}); got {wd}",
                1.0 / lr
            )));
        }
        Ok(())
    }

    fn update(&mut self, offset: usize, param: &mut [f32], grad: &[f32]) {
        let n = param.len();
        let rule = self.rule();
        let [m, v] = self.adam.moments(offset + n);
        rule.apply(param, grad, [&mut m[offset..], &mut v[offset..]]);
    }

    fn elementwise(&mut self, params: usize) -> Option<Elementwise<'_>> {
        self.rule = self.rule();
        let state = {
            let adam = &mut self.adam;
            ensure(&mut adam.m, params, 0.0);
            ensure(&mut adam.v, params, 0.0);
            [&mut adam.m[..params], &mut adam.v[..params]]
        };
        Some(Elementwise::new(&self.rule, state))
    }

    fn state(&self) -> Vec<(&'static str, &[f32])> {
        self.adam.state()
    }

    fn name(&self) -> &'static str {
        "adamw"
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        self.adam.counters()
    }

    fn load_state(&mut self, buffers: &[(&str, &[f32])], counters: &[(&str, u64)]) -> Result<(), BadState> {
        self.adam.restore_as("adamw", buffers, counters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::tests::{close, run};

    fn keras_adam(p0: f64, steps: usize, lr: f64, wd: f64) -> f64 {
        let (mut p, mut m, mut v) = (p0, 0.0, 0.0);
        for t in 1..=steps as i32 {
            p -= p * lr * wd;
            let g = 2.0 * p;
            m += (g - m) * 0.1;
            v += (g * g - v) * 0.001;
            // Keras raises β cast to float32 in the bias corrections, and decays the moments by
            // 1 − β in double precision (above).
            let (b1, b2) = (f64::from(0.9f32), f64::from(0.999f32));
            let alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
            p -= alpha * m / (v.sqrt() + 1e-7);
        }
        p
    }

    #[test]
    fn matches_keras_update_rule() {
        let g = |p: &[f32]| p.iter().map(|v| 2.0 * v).collect();
        close(
            &run(&mut Adam::new(0.1), &[1.5], 5, g),
            &[keras_adam(1.5, 5, 0.1, 0.0)],
        );
        close(
            &run(&mut AdamW::new(0.1, 0.01), &[1.5], 5, g),
            &[keras_adam(1.5, 5, 0.1, 0.01)],
        );
    }

    #[test]
    fn first_step_moves_each_weight_by_the_learning_rate() {
        // With bias correction, step 1 is lr · g/|g| (up to ε) regardless of scale.
        let p = run(&mut Adam::default(), &[3.0, -2.0], 1, |p| {
            p.iter().map(|v| 100.0 * v).collect()
        });
        close(&p, &[2.999, -1.999]);
    }
}
