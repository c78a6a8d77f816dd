//! Matrix products over flat column-major buffers, through `matrixmultiply`.
//!
//! nalgebra only reaches an optimised GEMM when a dimension is dynamic, and its static products run
//! at a fraction of the speed for batch shapes (see STYLE.md); the batch kernels therefore call
//! `matrixmultiply` directly on the statically shaped storage.

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Use the matrix as stored.
    N,
    /// Use its transpose.
    T,
}

/// `c = alpha · op(a) · op(b) + beta · c` where `c` is `m × n`, `op(a)` is `m × k`, `op(b)` is
/// `k × n`, and every buffer is column-major and densely packed as stored.
///
/// # Panics
/// If a buffer is shorter than its shape requires; the layer kernels size their buffers from the
/// same constants, so this only fires on a bug.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    op_a: Op,
    b: &[f32],
    op_b: Op,
    beta: f32,
    c: &mut [f32],
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "gemm buffer too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    // Column-major m×k stored as is: row stride 1, column stride m. Stored transposed (k×m):
    // row stride k, column stride 1.
    let (rsa, csa) = match op_a {
        Op::N => (1, m),
        Op::T => (k, 1),
    };
    let (rsb, csb) = match op_b {
        Op::N => (1, k),
        Op::T => (n, 1),
    };
    // SAFETY: the assertion above guarantees every index the strides reach lies within the
    // slices: the largest offset of `a` is (m-1)·rsa + (k-1)·csa = m·k − 1 in both layouts, and
    // likewise for `b` and `c`; `c` is uniquely borrowed.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            1,
            m as isize,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f32], op_a: Op, b: &[f32], op_b: Op) -> Vec<f32> {
        let at = |i: usize, p: usize| match op_a {
            Op::N => a[i + p * m],
            Op::T => a[p + i * k],
        };
        let bt = |p: usize, j: usize| match op_b {
            Op::N => b[p + j * k],
            Op::T => b[j + p * n],
        };
        let mut c = vec![0.0; m * n];
        for j in 0..n {
            for i in 0..m {
                c[i + j * m] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        c
    }

    #[test]
    fn all_transpositions_match_the_definition() {
        let (m, n, k) = (5, 3, 4);
        let a: Vec<f32> = (0..m * k).map(|v| v as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..k * n).map(|v| 1.0 - v as f32 * 0.25).collect();
        for op_a in [Op::N, Op::T] {
            for op_b in [Op::N, Op::T] {
                let mut c = vec![1.0; m * n];
                gemm(m, n, k, 1.0, &a, op_a, &b, op_b, 0.0, &mut c);
                assert_eq!(c, naive(m, n, k, &a, op_a, &b, op_b), "{op_a:?} {op_b:?}");
            }
        }
    }
}
