//! The element-wise arithmetic of the recurrent cells: one step's gates, states and their
//! adjoints, compiled for AVX-512 with FMA when the CPU has them, with `exp`, `sigmoid` and
//! `tanh` written so that they vectorise (`f32::exp` and `f32::tanh` are libm calls per
//! element) and accurate to a few ulps.

use crate::simd::simd_fn;

// The element-wise kernels walk the batch's columns and hand each column's gate blocks to an
// `#[inline(always)]` function as separate slices: the blocks are parts of one buffer, and only
// as distinct arguments (which LLVM keeps as no-alias scopes when inlining) do the loops that
// write several of them vectorise.

simd_fn! {
    /// One LSTM step on a `4U × B` block of pre-activations (gates `i, f, c, o`), which it
    /// overwrites with the activated gates; writes the cell states, their `tanh` and the states.
    pub(super) fn lstm_step(u: usize, gates: &mut [f32], c_prev: &[f32], c: &mut [f32], tc: &mut [f32], h: &mut [f32]) {
        let cols = gates
            .chunks_exact_mut(4 * u)
            .zip(c_prev.chunks_exact(u))
            .zip(c.chunks_exact_mut(u))
            .zip(tc.chunks_exact_mut(u))
            .zip(h.chunks_exact_mut(u));
        for ((((gc, cp), cc), tcc), hc) in cols {
            let (gi, rest) = gc.split_at_mut(u);
            let (gf, rest) = rest.split_at_mut(u);
            let (gg, go) = rest.split_at_mut(u);
            lstm_column::<FMA>(gi, gf, gg, go, cp, cc, tcc, hc);
        }
    }
}

simd_fn! {
    /// [`lstm_step`] for inference: the same cell and hidden states, without keeping the
    /// activated gates or `tanh(c_t)` for a backward pass.
    pub(super) fn lstm_step_infer(u: usize, gates: &[f32], c_prev: &[f32], c: &mut [f32], h: &mut [f32]) {
        let cols = gates
            .chunks_exact(4 * u)
            .zip(c_prev.chunks_exact(u))
            .zip(c.chunks_exact_mut(u))
            .zip(h.chunks_exact_mut(u));
        for (((gc, cp), cc), hc) in cols {
            let (gi, rest) = gc.split_at(u);
            let (gf, rest) = rest.split_at(u);
            let (gg, go) = rest.split_at(u);
            lstm_column_infer::<FMA>(gi, gf, gg, go, cp, cc, hc);
        }
    }
}

/// The arithmetic of [`lstm_column`], writing only the states.
#[inline(always)]
fn lstm_column_infer<const FMA: bool>(
    gi: &[f32],
    gf: &[f32],
    gg: &[f32],
    go: &[f32],
    cp: &[f32],
    c: &mut [f32],
    h: &mut [f32],
) {
    let u = gi.len();
    let (gf, gg, go, cp, c, h) = (&gf[..u], &gg[..u], &go[..u], &cp[..u], &mut c[..u], &mut h[..u]);
    // A 16-lane division issues once every ~16 cycles, about a sixth of this loop's time with
    // the five of `lstm_column` (one per σ and tanh); the products `σ(a)·tanh(b)` are instead
    // taken as one quotient each, `tanh(b) / (1 + e^{−a})` (with `tanh b = −m / (2 + m)` as in
    // [`tanh`]), which leaves three. The denominators stay below 2·e⁸⁷ (`exp` clamps its
    // argument), far from overflow; the results differ from `lstm_column`'s by a rounding or two.
    for k in 0..u {
        let ei = 1.0 + exp::<FMA>(-gi[k]);
        let ef = 1.0 + exp::<FMA>(-gf[k]);
        let eo = 1.0 + exp::<FMA>(-go[k]);
        let mg = expm1::<FMA>(-2.0 * gg[k].abs());
        let cn = cp[k] / ef + (-mg).copysign(gg[k]) / (ei * (2.0 + mg));
        c[k] = cn;
        let mc = expm1::<FMA>(-2.0 * cn.abs());
        h[k] = (-mc).copysign(cn) / (eo * (2.0 + mc));
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lstm_column<const FMA: bool>(
    gi: &mut [f32],
    gf: &mut [f32],
    gg: &mut [f32],
    go: &mut [f32],
    cp: &[f32],
    c: &mut [f32],
    tc: &mut [f32],
    h: &mut [f32],
) {
    let u = gi.len();
    let (gf, gg, go) = (&mut gf[..u], &mut gg[..u], &mut go[..u]);
    let (cp, c, tc, h) = (&cp[..u], &mut c[..u], &mut tc[..u], &mut h[..u]);
    for k in 0..u {
        let i = sigmoid::<FMA>(gi[k]);
        let f = sigmoid::<FMA>(gf[k]);
        let cand = tanh::<FMA>(gg[k]);
        let o = sigmoid::<FMA>(go[k]);
        let cn = fmadd::<FMA>(f, cp[k], i * cand);
        let t = tanh::<FMA>(cn);
        gi[k] = i;
        gf[k] = f;
        gg[k] = cand;
        go[k] = o;
        c[k] = cn;
        tc[k] = t;
        h[k] = o * t;
    }
}

simd_fn! {
    /// The adjoint of [`lstm_step`]: turns the activated gates into the gradients of their
    /// pre-activations, given `∂L/∂h_t` (`dh`) and `∂L/∂c_t` from step `t + 1` (`dc`), which it
    /// replaces with `∂L/∂c_{t−1}`'s part through `c_t`.
    pub(super) fn lstm_step_back(u: usize, gates: &mut [f32], c_prev: &[f32], tc: &[f32], dh: &[f32], dc: &mut [f32]) {
        let cols = gates
            .chunks_exact_mut(4 * u)
            .zip(c_prev.chunks_exact(u))
            .zip(tc.chunks_exact(u))
            .zip(dh.chunks_exact(u))
            .zip(dc.chunks_exact_mut(u));
        for ((((gc, cp), tcc), dhc), dcc) in cols {
            let (gi, rest) = gc.split_at_mut(u);
            let (gf, rest) = rest.split_at_mut(u);
            let (gg, go) = rest.split_at_mut(u);
            lstm_column_back(gi, gf, gg, go, cp, tcc, dhc, dcc);
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lstm_column_back(
    gi: &mut [f32],
    gf: &mut [f32],
    gg: &mut [f32],
    go: &mut [f32],
    cp: &[f32],
    tc: &[f32],
    dh: &[f32],
    dc: &mut [f32],
) {
    let u = gi.len();
    let (gf, gg, go) = (&mut gf[..u], &mut gg[..u], &mut go[..u]);
    let (cp, tc, dh, dc) = (&cp[..u], &tc[..u], &dh[..u], &mut dc[..u]);
    for k in 0..u {
        let (i, f, cand, o) = (gi[k], gf[k], gg[k], go[k]);
        let (t, d) = (tc[k], dh[k]);
        let dct = dc[k] + d * o * (1.0 - t * t);
        dc[k] = dct * f;
        gi[k] = dct * cand * i * (1.0 - i);
        gf[k] = dct * cp[k] * f * (1.0 - f);
        gg[k] = dct * i * (1.0 - cand * cand);
        go[k] = d * t * o * (1.0 - o);
    }
}

simd_fn! {
    /// One GRU step: `gates` holds the input projections `x_z, x_r, x_h` (input bias included)
    /// and becomes `z, r, ĥ`; `rec` holds the recurrent projections (recurrent bias included),
    /// whose candidate block is kept in `rech`; `h` receives the new states.
    pub(super) fn gru_step(u: usize, gates: &mut [f32], rec: &[f32], h_prev: &[f32], h: &mut [f32], rech: &mut [f32]) {
        let cols = gates
            .chunks_exact_mut(3 * u)
            .zip(rec.chunks_exact(3 * u))
            .zip(h_prev.chunks_exact(u))
            .zip(h.chunks_exact_mut(u))
            .zip(rech.chunks_exact_mut(u));
        for ((((gc, rc), hp), hc), rhc) in cols {
            let (gz, rest) = gc.split_at_mut(u);
            let (gr, gh) = rest.split_at_mut(u);
            gru_column::<FMA>(gz, gr, gh, rc, hp, hc, rhc);
        }
    }
}

#[inline(always)]
fn gru_column<const FMA: bool>(
    gz: &mut [f32],
    gr: &mut [f32],
    gh: &mut [f32],
    rec: &[f32],
    hp: &[f32],
    h: &mut [f32],
    rech: &mut [f32],
) {
    let u = gz.len();
    let (gr, gh) = (&mut gr[..u], &mut gh[..u]);
    let (rz, rr, rh) = (&rec[..u], &rec[u..2 * u], &rec[2 * u..3 * u]);
    let (hp, h, rech) = (&hp[..u], &mut h[..u], &mut rech[..u]);
    for k in 0..u {
        let z = sigmoid::<FMA>(gz[k] + rz[k]);
        let r = sigmoid::<FMA>(gr[k] + rr[k]);
        let cand = tanh::<FMA>(fmadd::<FMA>(r, rh[k], gh[k]));
        gz[k] = z;
        gr[k] = r;
        gh[k] = cand;
        rech[k] = rh[k];
        h[k] = z * hp[k] + (1.0 - z) * cand;
    }
}

simd_fn! {
    /// The adjoint of [`gru_step`]: `gates` (`z, r, ĥ`) becomes the gradient of the input
    /// projections, `drec` receives that of the recurrent projections, and `dh` (`∂L/∂h_t`)
    /// becomes the direct part of `∂L/∂h_{t−1}`, `z·∂L/∂h_t`.
    pub(super) fn gru_step_back(u: usize, gates: &mut [f32], rech: &[f32], h_prev: &[f32], dh: &mut [f32], drec: &mut [f32]) {
        let cols = gates
            .chunks_exact_mut(3 * u)
            .zip(rech.chunks_exact(u))
            .zip(h_prev.chunks_exact(u))
            .zip(dh.chunks_exact_mut(u))
            .zip(drec.chunks_exact_mut(3 * u));
        for ((((gc, rhc), hp), dhc), drc) in cols {
            let (gz, rest) = gc.split_at_mut(u);
            let (gr, gh) = rest.split_at_mut(u);
            let (dz, rest) = drc.split_at_mut(u);
            let (dr, dhh) = rest.split_at_mut(u);
            gru_column_back(gz, gr, gh, rhc, hp, dhc, dz, dr, dhh);
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gru_column_back(
    gz: &mut [f32],
    gr: &mut [f32],
    gh: &mut [f32],
    rech: &[f32],
    hp: &[f32],
    dh: &mut [f32],
    dz: &mut [f32],
    dr: &mut [f32],
    dhh: &mut [f32],
) {
    let u = gz.len();
    let (gr, gh) = (&mut gr[..u], &mut gh[..u]);
    let (rech, hp, dh) = (&rech[..u], &hp[..u], &mut dh[..u]);
    let (dz, dr, dhh) = (&mut dz[..u], &mut dr[..u], &mut dhh[..u]);
    for k in 0..u {
        let (z, r, cand, d) = (gz[k], gr[k], gh[k], dh[k]);
        let dzz = d * (hp[k] - cand) * z * (1.0 - z);
        let dzh = d * (1.0 - z) * (1.0 - cand * cand);
        let dzr = dzh * rech[k] * r * (1.0 - r);
        gz[k] = dzz;
        gr[k] = dzr;
        gh[k] = dzh;
        dz[k] = dzz;
        dr[k] = dzr;
        dhh[k] = dzh * r;
        dh[k] = d * z;
    }
}

simd_fn! {
    /// `h = tanh(z)`.
    pub(super) fn tanh_into(z: &[f32], h: &mut [f32]) {
        let n = h.len();
        let z = &z[..n];
        for k in 0..n {
            h[k] = tanh::<FMA>(z[k]);
        }
    }
}

simd_fn! {
    /// `dz = dh · (1 − h²)`.
    pub(super) fn tanh_back(h: &[f32], dh: &[f32], dz: &mut [f32]) {
        let n = dz.len();
        let (h, dh) = (&h[..n], &dh[..n]);
        for k in 0..n {
            dz[k] = dh[k] * (1.0 - h[k] * h[k]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Vectorisable `exp`, `sigmoid` and `tanh`.

/// `a·b + c`: one fused instruction with `FMA` (only set where the CPU has it: `mul_add` is a
/// slow libm call otherwise), else a product and a sum.
#[inline(always)]
fn fmadd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// `(2ⁿ, eʳ − 1)` where `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2`, for `x` clamped to `[−87, 88]`
/// (Cephes's `expf`: `eʳ − 1 = r + r²·P(r)` with a degree-5 `P`, to about 1 ulp), in operations
/// that vectorise. NaN stays NaN.
#[inline(always)]
fn exp_parts<const FMA: bool>(x: f32) -> (f32, f32) {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    // ln 2 in two parts, the first with few enough bits that `n·LN2_HI` is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding it rounds to an integer, left in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = fmadd::<FMA>(x, LOG2E, ROUND);
    let n = t - ROUND;
    let r = fmadd::<FMA>(-n, LN2_LO, fmadd::<FMA>(-n, LN2_HI, x));
    let p = 1.987_569_2e-4;
    let p = fmadd::<FMA>(p, r, 1.398_199_9e-3);
    let p = fmadd::<FMA>(p, r, 8.333_452e-3);
    let p = fmadd::<FMA>(p, r, 4.166_579_6e-2);
    let p = fmadd::<FMA>(p, r, 1.666_666_5e-1);
    let p = fmadd::<FMA>(p, r, 0.5);
    let q = fmadd::<FMA>(p, r * r, r);
    // `t`'s bits are those of 1.5·2²³ plus `n`; shifted left by 23 only `n + 127` survives, as
    // the exponent field of 2ⁿ (`n` lies in [−126, 127]).
    (f32::from_bits(t.to_bits().wrapping_add(127) << 23), q)
}

/// `eˣ` for `x ≥ −87` (below, `e⁻⁸⁷`), to about 1 ulp.
#[inline(always)]
fn exp<const FMA: bool>(x: f32) -> f32 {
    let (s, q) = exp_parts::<FMA>(x);
    fmadd::<FMA>(s, q, s)
}

/// `eˣ − 1` for `x ≥ −87`, accurate relative to the result also near 0: `2ⁿ·(eʳ − 1) + (2ⁿ − 1)`
/// is `eʳ − 1` itself when `n = 0`, and `|eˣ − 1| > 0.29` otherwise.
#[inline(always)]
fn expm1<const FMA: bool>(x: f32) -> f32 {
    let (s, q) = exp_parts::<FMA>(x);
    fmadd::<FMA>(s, q, s - 1.0)
}

/// `1 / (1 + e⁻ˣ)`.
#[inline(always)]
fn sigmoid<const FMA: bool>(x: f32) -> f32 {
    1.0 / (1.0 + exp::<FMA>(-x))
}

/// `tanh x = −m / (2 + m)` with `m = e^{−2|x|} − 1 ∈ (−1, 0]` and the sign of `x`: no
/// cancellation anywhere, so the result is good to a few ulps relative, small `x` included.
#[inline(always)]
fn tanh<const FMA: bool>(x: f32) -> f32 {
    let m = expm1::<FMA>(-2.0 * x.abs());
    (-m / (2.0 + m)).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorisable functions against f64, with and without FMA (`mul_add` is exact either
    /// way, a libm call without the CPU feature), over a dense grid covering saturation and the
    /// clamp of `exp`, and over tiny arguments.
    fn check_math<const FMA: bool>() {
        let (mut worst_exp, mut worst_sig, mut worst_tanh) = (0.0f64, 0.0f64, 0.0f64);
        let rel = |got: f32, want: f64| {
            if want == 0.0 {
                (got as f64).abs()
            } else {
                ((got as f64 - want) / want).abs()
            }
        };
        let mut grid: Vec<f32> = Vec::new();
        let mut x = -90.0f32;
        while x <= 90.0 {
            grid.push(x);
            x += if x.abs() < 1.0 { 1.0 / 4096.0 } else { 1.0 / 256.0 };
        }
        for e in -40..0 {
            let v = 10f32.powi(e) * 1.2345;
            grid.extend([v, -v]);
        }
        for &x in &grid {
            let xd = x as f64;
            if (-87.0..=88.0).contains(&x) {
                worst_exp = worst_exp.max(rel(exp::<FMA>(x), xd.exp()));
            }
            if x >= -80.0 {
                // Below, σ(x) < 1.8e-35: only its smallness matters.
                worst_sig = worst_sig.max(rel(sigmoid::<FMA>(x), 1.0 / (1.0 + (-xd).exp())));
            }
            worst_tanh = worst_tanh.max(rel(tanh::<FMA>(x), xd.tanh()));
        }
        eprintln!(
            "FMA {FMA}: worst relative errors: exp {worst_exp:e}, sigmoid {worst_sig:e}, tanh {worst_tanh:e}"
        );
        assert!(worst_exp < 3e-7, "exp: {worst_exp:e}");
        assert!(worst_sig < 5e-7, "sigmoid: {worst_sig:e}");
        assert!(worst_tanh < 5e-7, "tanh: {worst_tanh:e}");
        assert_eq!(tanh::<FMA>(1e-20), 1e-20);
        assert_eq!(tanh::<FMA>(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(sigmoid::<FMA>(0.0), 0.5);
        assert!(exp::<FMA>(f32::NAN).is_nan());
        assert!(tanh::<FMA>(f32::NAN).is_nan() && sigmoid::<FMA>(f32::NAN).is_nan());
        assert_eq!(tanh::<FMA>(100.0), 1.0);
        assert_eq!(tanh::<FMA>(-100.0), -1.0);
        assert_eq!(tanh::<FMA>(f32::INFINITY), 1.0);
        assert!((0.0..1e-37).contains(&sigmoid::<FMA>(-200.0)));
        assert_eq!(sigmoid::<FMA>(200.0), 1.0);
    }

    #[test]
    fn exp_sigmoid_tanh_are_accurate() {
        check_math::<false>();
        check_math::<true>();
    }

    /// The inference step's quotients `tanh(b) / (1 + e^{−a})` against the training step's
    /// separate σ and tanh, over gates from tiny to far past saturation and `exp`'s clamp, where
    /// an overflowing or cancelling denominator would show.
    #[test]
    fn lstm_inference_step_matches_the_training_step() {
        let values = [
            0.0f32, 1e-20, -1e-20, 0.3, -0.7, 5.0, -5.0, 20.0, -20.0, 44.0, -44.0, 90.0, -90.0, 200.0, -200.0,
        ];
        let n = values.len();
        // One column per combination of (input, forget) gate; the candidate, output gate and
        // previous cell state walk the same values.
        let mut columns = Vec::new();
        for a in 0..n {
            for b in 0..n {
                let (i, f, g, o) = (values[a], values[b], values[(a + b) % n], values[(a * 7 + b) % n]);
                columns.push(([i, f, g, o], values[(a * 3 + b * 5) % n].clamp(-3.0, 3.0)));
            }
        }
        let batch = columns.len();
        let gates: Vec<f32> = columns.iter().flat_map(|(g, _)| *g).collect();
        let c_prev: Vec<f32> = columns.iter().map(|&(_, c)| c).collect();
        let (mut c_train, mut tc, mut h_train) = (vec![0.0; batch], vec![0.0; batch], vec![0.0; batch]);
        let (mut c_infer, mut h_infer) = (vec![0.0; batch], vec![0.0; batch]);
        let mut activated = gates.clone();
        lstm_step(1, &mut activated, &c_prev, &mut c_train, &mut tc, &mut h_train);
        lstm_step_infer(1, &gates, &c_prev, &mut c_infer, &mut h_infer);
        for k in 0..batch {
            for (name, got, want) in [("c", c_infer[k], c_train[k]), ("h", h_infer[k], h_train[k])] {
                assert!(got.is_finite(), "{name} not finite for {:?}", columns[k]);
                let err = (got - want).abs();
                assert!(
                    err <= 4.0 * f32::EPSILON * want.abs() + 1e-37,
                    "{name}: {got} against {want} for gates and c_prev {:?}",
                    columns[k]
                );
            }
        }
    }
}
