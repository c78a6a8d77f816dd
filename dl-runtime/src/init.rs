//! Keras's default initialisers.

use rand::Rng;

/// `glorot_uniform`: U(−l, l) with `l = sqrt(6 / (fan_in + fan_out))`.
pub fn glorot_uniform<R: Rng + ?Sized>(rng: &mut R, fan_in: usize, fan_out: usize, out: &mut [f32]) {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    uniform(rng, limit, out);
}

/// U(−limit, limit), drawn in storage order so the same seed gives bit-identical weights.
pub fn uniform<R: Rng + ?Sized>(rng: &mut R, limit: f32, out: &mut [f32]) {
    for v in out {
        *v = rng.random_range(-limit..=limit);
    }
}
