//! The tutorial MLP's data, shared by the examples that train, save and embed it.
//!
//! 10 standard-normal features, and a label that depends on five of them, linearly and not
//! (`1.5·x₀ − x₁ + 0.8·x₂·x₃ + sin(2·x₄) + 0.3·noise > 0`); the other five are distractors.
//! The noise flips labels near the boundary, so no model reaches 1.0.

use rand::Rng;

fn normal(rng: &mut impl Rng) -> f32 {
    // Box–Muller.
    let u: f32 = rng.random_range(f32::EPSILON..1.0);
    let v: f32 = rng.random();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
}

/// `n` samples as feature arrays and 0/1 labels.
pub fn data(n: usize, rng: &mut impl Rng) -> (Vec<[f32; 10]>, Vec<f32>) {
    (0..n)
        .map(|_| {
            let x: [f32; 10] = std::array::from_fn(|_| normal(rng));
            let signal = 1.5 * x[0] - x[1] + 0.8 * x[2] * x[3] + (2.0 * x[4]).sin();
            let label = f32::from(u8::from(signal + 0.3 * normal(rng) > 0.0));
            (x, label)
        })
        .unzip()
}
