//! Matrix–vector products `y += A·x` over a flat column-major `A`, for one sample's step through
//! a layer (an LSTM's recurrent product at batch 1, where a GEMM kernel built for tiles of many
//! columns wastes most of its work).
//!
//! The product walks `A` column by column, once, keeping a block of `y` in registers: with
//! AVX-512 a block is 256 rows (16 accumulators, enough independent FMAs to hide their latency),
//! with AVX2+FMA 64 rows; the rows past the last full block go 16 (8) at a time and the last
//! few through masked loads (scalar code with AVX2). The instruction set is detected at run
//! time, as in [`gemm`](crate::gemm), and a portable loop serves other CPUs.
//!
//! A recurrent step multiplies the same matrix again and again, and at 64 units an LSTM's
//! `256 × 64` recurrent kernel (64 KiB) is a little larger than L1 (48 KiB): read in the same
//! order every step, every line misses (LRU evicts each line just before it is needed again).
//! [`gemv_rev`] walks the matrix backwards, so alternating it with [`gemv`] starts each product
//! on the lines the previous one read last, which are still in L1. The two differ only in the
//! order of the sums, hence in rounding.

/// `y += a · x` where `a` is `m × n` column-major (column `k` is `a[k·m..(k + 1)·m]`), `x` has
/// `n` floats and `y` `m`.
///
/// # Panics
/// If a buffer is shorter than its shape requires (a bug in the caller's sizes).
#[inline]
pub fn gemv(m: usize, n: usize, a: &[f32], x: &[f32], y: &mut [f32]) {
    product::<false>(m, n, a, x, y);
}

/// [`gemv`] reading `a` from its end to its start (see the module documentation for why).
///
/// # Panics
/// If a buffer is shorter than its shape requires (a bug in the caller's sizes).
#[inline]
pub fn gemv_rev(m: usize, n: usize, a: &[f32], x: &[f32], y: &mut [f32]) {
    product::<true>(m, n, a, x, y);
}

#[inline]
fn product<const REV: bool>(m: usize, n: usize, a: &[f32], x: &[f32], y: &mut [f32]) {
    assert!(
        a.len() >= m * n && x.len() >= n && y.len() >= m,
        "gemv buffer too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F; the lengths were checked above.
            unsafe { avx512::gemv::<REV>(m, n, a.as_ptr(), x.as_ptr(), y.as_mut_ptr()) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA; the lengths were checked above.
            unsafe { avx2::gemv::<REV>(m, n, a.as_ptr(), x.as_ptr(), y.as_mut_ptr()) };
            return;
        }
    }
    portable(m, n, a, x, y);
}

/// The reference loop (also the fallback).
fn portable(m: usize, n: usize, a: &[f32], x: &[f32], y: &mut [f32]) {
    let y = &mut y[..m];
    for (col, &xk) in a.chunks_exact(m).zip(&x[..n]) {
        for (yi, &ai) in y.iter_mut().zip(col) {
            *yi += ai * xk;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX-512F; `a` must hold `m·n` floats, `x` `n` and `y` `m`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gemv<const REV: bool>(
        m: usize,
        n: usize,
        a: *const f32,
        x: *const f32,
        y: *mut f32,
    ) {
        // Blocks of 256 rows (a whole column of an LSTM's 4·64 gates), then 16, then the tail.
        let (wide, rest) = (m / 256, m % 256);
        let (narrow, tail) = (rest / 16, rest % 16);
        let tail_lanes = ((1u32 << tail) - 1) as __mmask16;
        let run = |i: usize| {
            // SAFETY (all calls): rows r..r + 16·R (or the masked tail) lie below m.
            unsafe {
                if i < wide {
                    block::<16, REV>(m, n, a, x, y, 256 * i, 0xffff);
                } else if i < wide + narrow {
                    block::<1, REV>(m, n, a, x, y, 256 * wide + 16 * (i - wide), 0xffff);
                } else {
                    block::<1, REV>(m, n, a, x, y, m - tail, tail_lanes);
                }
            }
        };
        let blocks = wide + narrow + usize::from(tail > 0);
        if REV {
            (0..blocks).rev().for_each(run);
        } else {
            (0..blocks).for_each(run);
        }
    }

    /// Rows `r..r + 16·R` of `y += a·x` in `R` accumulators; with `R = 1`, only the rows in
    /// `lanes` are read and written.
    ///
    /// # Safety
    /// As [`gemv`], and the rows addressed must lie below `m`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const R: usize, const REV: bool>(
        m: usize,
        n: usize,
        a: *const f32,
        x: *const f32,
        y: *mut f32,
        r: usize,
        lanes: __mmask16,
    ) {
        // SAFETY: every address is below row m of column k < n, per the caller.
        unsafe {
            let mut acc = [_mm512_setzero_ps(); R];
            for (i, v) in acc.iter_mut().enumerate() {
                *v = _mm512_maskz_loadu_ps(lanes, y.add(r + 16 * i));
            }
            for j in 0..n {
                let k = if REV { n - 1 - j } else { j };
                let xk = _mm512_set1_ps(*x.add(k));
                let col = a.add(k * m + r);
                for (i, v) in acc.iter_mut().enumerate() {
                    let ak = _mm512_maskz_loadu_ps(lanes, col.add(16 * i));
                    *v = _mm512_fmadd_ps(ak, xk, *v);
                }
            }
            for (i, v) in acc.iter().enumerate() {
                _mm512_mask_storeu_ps(y.add(r + 16 * i), lanes, *v);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX2 and FMA; `a` must hold `m·n` floats, `x` `n` and `y` `m`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gemv<const REV: bool>(
        m: usize,
        n: usize,
        a: *const f32,
        x: *const f32,
        y: *mut f32,
    ) {
        let (wide, rest) = (m / 64, m % 64);
        let narrow = rest / 8;
        let run = |i: usize| {
            // SAFETY (all calls): rows r..r + 8·R, and the scalar rows, lie below m.
            unsafe {
                if i < wide {
                    block::<8, REV>(m, n, a, x, y, 64 * i);
                } else if i < wide + narrow {
                    block::<1, REV>(m, n, a, x, y, 64 * wide + 8 * (i - wide));
                } else {
                    for row in 64 * wide + 8 * narrow..m {
                        let mut s = *y.add(row);
                        for j in 0..n {
                            let k = if REV { n - 1 - j } else { j };
                            s = (*a.add(k * m + row)).mul_add(*x.add(k), s);
                        }
                        *y.add(row) = s;
                    }
                }
            }
        };
        let blocks = wide + narrow + usize::from(!m.is_multiple_of(8));
        if REV {
            (0..blocks).rev().for_each(run);
        } else {
            (0..blocks).for_each(run);
        }
    }

    /// Rows `r..r + 8·R` of `y += a·x` in `R` accumulators.
    ///
    /// # Safety
    /// As [`gemv`], and the rows addressed must lie below `m`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block<const R: usize, const REV: bool>(
        m: usize,
        n: usize,
        a: *const f32,
        x: *const f32,
        y: *mut f32,
        r: usize,
    ) {
        // SAFETY: every address is below row m of column k < n, per the caller.
        unsafe {
            let mut acc = [_mm256_setzero_ps(); R];
            for (i, v) in acc.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(y.add(r + 8 * i));
            }
            for j in 0..n {
                let k = if REV { n - 1 - j } else { j };
                let xk = _mm256_set1_ps(*x.add(k));
                let col = a.add(k * m + r);
                for (i, v) in acc.iter_mut().enumerate() {
                    *v = _mm256_fmadd_ps(_mm256_loadu_ps(col.add(8 * i)), xk, *v);
                }
            }
            for (i, v) in acc.iter().enumerate() {
                _mm256_storeu_ps(y.add(r + 8 * i), *v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path (the detected one, AVX2 and the portable loop) against an f64 product, over
    /// sizes that exercise full blocks, single vectors and the masked or scalar tails.
    #[test]
    fn matches_f64_reference_on_every_path() {
        for &(m, n) in &[
            (1, 1),
            (3, 5),
            (16, 7),
            (17, 3),
            (100, 64),
            (128, 9),
            (256, 64),
            (301, 33),
        ] {
            let a: Vec<f32> = (0..m * n)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                .collect();
            let x: Vec<f32> = (0..n).map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0).collect();
            let y0: Vec<f32> = (0..m).map(|i| i as f32 * 0.25 - 3.0).collect();
            let want: Vec<f64> = (0..m)
                .map(|i| y0[i] as f64 + (0..n).map(|k| a[k * m + i] as f64 * x[k] as f64).sum::<f64>())
                .collect();
            let check = |got: &[f32], path: &str| {
                for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                        "{path} {m}×{n} row {i}: {g} vs {w}"
                    );
                }
            };
            let mut y = y0.clone();
            gemv(m, n, &a, &x, &mut y);
            check(&y, "detected");
            let mut y = y0.clone();
            gemv_rev(m, n, &a, &x, &mut y);
            check(&y, "detected, reversed");
            let mut y = y0.clone();
            portable(m, n, &a, &x, &mut y);
            check(&y, "portable");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                let mut y = y0.clone();
                // SAFETY: the CPU supports AVX2 and FMA; the buffers have the sizes.
                unsafe { avx2::gemv::<false>(m, n, a.as_ptr(), x.as_ptr(), y.as_mut_ptr()) };
                check(&y, "avx2");
                let mut y = y0.clone();
                // SAFETY: as above.
                unsafe { avx2::gemv::<true>(m, n, a.as_ptr(), x.as_ptr(), y.as_mut_ptr()) };
                check(&y, "avx2, reversed");
            }
        }
    }

    /// Only `m` floats of `y` are touched: the masked tail must not write past it.
    #[test]
    fn writes_only_the_rows() {
        let (m, n) = (20, 3);
        let a = vec![1.0f32; m * n];
        let x = vec![1.0f32; n];
        let mut y = vec![0.0f32; m + 8];
        gemv(m, n, &a, &x, &mut y[..m]);
        gemv_rev(m, n, &a, &x, &mut y[..m]);
        assert!(y[..m].iter().all(|&v| v == 6.0));
        assert!(y[m..].iter().all(|&v| v == 0.0));
    }
}
