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

/// Keras's `Orthogonal()` (gain 1) for a kernel of Keras shape `(rows, cols)`, written row-major
/// into `out` — which is the column-major `cols × rows` matrix the layers store.
///
/// As Keras: a `max(rows, cols) × min(rows, cols)` matrix of standard normal draws (Box–Muller,
/// in storage order), its QR factorisation with the signs fixed so that `diag(R) > 0` (which is
/// what classical Gram–Schmidt yields directly; done here twice, in f64, for full
/// orthogonality), and `Q` transposed when `rows < cols`. So the stored matrix has orthonormal
/// columns when `rows ≤ cols` (a recurrent kernel `(U, G·U)` is stored as `G·U × U` with
/// `QᵀQ = I`), and orthonormal rows otherwise.
///
/// The draws differ from TensorFlow's, so the values are not Keras's, but the distribution is
/// (Haar-distributed `Q`).
///
/// # Panics
/// If `out` does not hold `rows · cols` floats.
pub fn orthogonal<R: Rng + ?Sized>(rng: &mut R, rows: usize, cols: usize, out: &mut [f32]) {
    assert_eq!(out.len(), rows * cols, "orthogonal: output has the wrong length");
    let (tall, narrow) = (rows.max(cols), rows.min(cols));
    if narrow == 0 {
        return;
    }
    // `q`: column-major `tall × narrow`, standard normal.
    let mut q = vec![0.0f64; tall * narrow];
    let mut spare = None;
    for v in q.iter_mut() {
        *v = match spare.take() {
            Some(z) => z,
            None => {
                let (z0, z1) = box_muller(rng);
                spare = Some(z1);
                z0
            }
        };
    }
    // Gram–Schmidt, each projection done twice ("twice is enough"), columns normalised to a
    // positive `R` diagonal.
    for j in 0..narrow {
        let (done, rest) = q.split_at_mut(j * tall);
        let col = &mut rest[..tall];
        for _ in 0..2 {
            for prev in done.chunks_exact(tall) {
                let dot: f64 = prev.iter().zip(col.iter()).map(|(a, b)| a * b).sum();
                for (c, p) in col.iter_mut().zip(prev) {
                    *c -= dot * p;
                }
            }
        }
        let norm = col.iter().map(|v| v * v).sum::<f64>().sqrt();
        // A zero column has probability zero for normal draws; keep the output finite anyway.
        let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        col.iter_mut().for_each(|v| *v *= inv);
    }
    if rows < cols {
        // Keras returns Qᵀ (rows × cols); row-major that is Q column-major.
        for (o, &v) in out.iter_mut().zip(&q) {
            *o = v as f32;
        }
    } else {
        // Keras returns Q (rows × cols) itself, row-major.
        for r in 0..rows {
            for c in 0..cols {
                out[r * cols + c] = q[r + c * tall] as f32;
            }
        }
    }
}

/// Two independent standard normal draws.
fn box_muller<R: Rng + ?Sized>(rng: &mut R) -> (f64, f64) {
    // 1 − U lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (core::f64::consts::TAU * u2).sin_cos();
    (r * c, r * s)
}

/// A Keras initializer by name (`kernel_initializer = he_normal`), for the tensors a
/// declaration gives one. Fans are Keras's (`compute_fans`): for a kernel of shape
/// `(…receptive field, in, out)`, `fan_in = receptive · in` and `fan_out = receptive · out`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Initializer {
    /// `glorot_uniform`, Keras's default for kernels.
    GlorotUniform,
    /// `glorot_normal`: truncated normal, variance `2 / (fan_in + fan_out)`.
    GlorotNormal,
    /// `he_normal`: truncated normal, variance `2 / fan_in`.
    HeNormal,
    /// `he_uniform`: U(−l, l), `l = sqrt(6 / fan_in)`.
    HeUniform,
    /// `lecun_normal`: truncated normal, variance `1 / fan_in`.
    LecunNormal,
    /// `lecun_uniform`: U(−l, l), `l = sqrt(3 / fan_in)`.
    LecunUniform,
    /// `random_normal`: N(0, 0.05²).
    RandomNormal,
    /// `random_uniform`: U(−0.05, 0.05).
    RandomUniform,
    /// `truncated_normal`: N(0, 0.05²) redrawn beyond two standard deviations.
    TruncatedNormal,
    /// `zeros`.
    Zeros,
    /// `ones`.
    Ones,
    /// `orthogonal` (gain 1), Keras's default for recurrent kernels: see [`orthogonal`]. Its
    /// shape is not its fans; fill it with [`Initializer::fill_shaped`].
    Orthogonal,
}

/// The standard deviation of a standard normal truncated to [−2, 2], by which Keras's
/// `VarianceScaling` divides so that the truncated draws have the variance asked for.
const TRUNCATED_STDDEV: f64 = 0.879_625_661_034_239_8;

impl Initializer {
    /// Fills `out`, a tensor of Keras shape `shape` (row-major, as the layers store it), with
    /// Keras's fans (`compute_fans`): for `(…receptive field, in, out)`, `fan_in = receptive ·
    /// in` and `fan_out = receptive · out`. `orthogonal` reads the shape as Keras does, as the
    /// matrix `(product of all but the last, last)`.
    ///
    /// # Panics
    /// If `out` does not hold the shape's product of floats.
    pub fn fill_shaped<R: Rng + ?Sized>(self, rng: &mut R, shape: &[usize], out: &mut [f32]) {
        assert_eq!(
            out.len(),
            shape.iter().product::<usize>(),
            "initializer: output has the wrong length"
        );
        let (fan_in, fan_out) = match shape {
            [] => (1, 1),
            [n] => (*n, *n),
            [receptive @ .., i, o] => {
                let r: usize = receptive.iter().product();
                (r * i, r * o)
            }
        };
        match (self, shape.split_last()) {
            (Initializer::Orthogonal, Some((&cols, rows))) => {
                orthogonal(rng, rows.iter().product(), cols, out)
            }
            _ => self.fill(rng, fan_in, fan_out, out),
        }
    }

    /// Fills `out` (a tensor whose Keras fans are `fan_in`, `fan_out`) in storage order, so the
    /// same generator state gives bit-identical weights. `orthogonal` takes the fans as the
    /// matrix's rows and columns, which they are for a 2-D tensor only.
    pub fn fill<R: Rng + ?Sized>(self, rng: &mut R, fan_in: usize, fan_out: usize, out: &mut [f32]) {
        let rows = fan_in.max(1);
        let (fan_in, fan_avg) = (rows as f64, ((fan_in + fan_out) as f64 / 2.0).max(1.0));
        match self {
            Initializer::GlorotUniform => uniform(rng, (3.0 / fan_avg).sqrt() as f32, out),
            Initializer::GlorotNormal => {
                truncated_normal(rng, (1.0 / fan_avg).sqrt() / TRUNCATED_STDDEV, out)
            }
            Initializer::HeNormal => truncated_normal(rng, (2.0 / fan_in).sqrt() / TRUNCATED_STDDEV, out),
            Initializer::HeUniform => uniform(rng, (6.0 / fan_in).sqrt() as f32, out),
            Initializer::LecunNormal => truncated_normal(rng, (1.0 / fan_in).sqrt() / TRUNCATED_STDDEV, out),
            Initializer::LecunUniform => uniform(rng, (3.0 / fan_in).sqrt() as f32, out),
            Initializer::RandomNormal => {
                for v in out.iter_mut() {
                    *v = (0.05 * box_muller(rng).0) as f32;
                }
            }
            Initializer::RandomUniform => uniform(rng, 0.05, out),
            Initializer::TruncatedNormal => truncated_normal(rng, 0.05, out),
            Initializer::Zeros => out.fill(0.0),
            Initializer::Ones => out.fill(1.0),
            Initializer::Orthogonal => orthogonal(rng, rows, out.len() / rows, out),
        }
    }
}

/// N(0, stddev²) truncated to two standard deviations, redrawing what falls outside (as
/// TensorFlow's `truncated_normal`).
fn truncated_normal<R: Rng + ?Sized>(rng: &mut R, stddev: f64, out: &mut [f32]) {
    for v in out.iter_mut() {
        let z = loop {
            let (z, _) = box_muller(rng);
            if z.abs() <= 2.0 {
                break z;
            }
        };
        *v = (stddev * z) as f32;
    }
}
