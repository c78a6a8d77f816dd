//! Matrix products over flat column-major buffers, for the small shapes of small networks.
//!
//! nalgebra only reaches an optimised GEMM when a dimension is dynamic, and `matrixmultiply`
//! packs both operands into a freshly allocated buffer on every call: at 64×64·64×32 the packing
//! and the allocation cost as much as the arithmetic, and a training step would allocate. The
//! kernel here works on the operands where they lie: `op(A)` must be contiguous down its columns
//! (it is copied into a per-thread scratch buffer, allocated once, when it is not), and each
//! register tile of `C` (32×8 with AVX-512, 16×4 with AVX2+FMA) accumulates over the whole `k`
//! loop and is written once: [`gemm_bias`] adds a layer's bias and applies relu in that store,
//! and [`gemm_gathered_bias`] reads a convolution's patch columns from the image in place.
//! Single rows and single columns (1-unit layers, one sample) get dot-product and
//! matrix-vector kernels. The instruction set is detected at run time, so the fast paths do
//! not need `-C target-cpu=native`.

use std::cell::RefCell;

use crate::floats::Floats;

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Use the matrix as stored.
    N,
    /// Use its transpose.
    T,
}

thread_local! {
    /// Scratch for transposed left operands; grows to the largest seen and stays. Aligned as the
    /// parameters are: the kernel streams the left operand in 64-byte loads.
    static SCRATCH: RefCell<Floats> = const { RefCell::new(Floats::new()) };
}

/// What a product's store combines the accumulated `alpha · op(A) · op(B)` with, and whether
/// it clamps the result at zero (a fused relu).
#[derive(Clone, Copy)]
struct Store<'a> {
    init: Init<'a>,
    relu: bool,
}

#[derive(Clone, Copy)]
enum Init<'a> {
    /// Overwrite `c` (`beta = 0`: `c` is never read, so it need not be zero-filled first).
    Zero,
    /// Add to what `c` holds (`beta = 1`).
    Add,
    /// Add `bias[i]` to row `i` of every column, overwriting `c`.
    Bias(&'a [f32]),
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
    let c = &mut c[..m * n];
    let init = if beta == 0.0 {
        Init::Zero
    } else {
        if beta != 1.0 {
            c.iter_mut().for_each(|v| *v *= beta);
        }
        Init::Add
    };
    product(m, n, k, alpha, a, op_a, b, op_b, c, Store { init, relu: false });
}

/// `c = f(a · b + bias)`, `bias` (`m` floats) added to every column and `f` the relu when
/// `relu` is set, else the identity: a layer's forward product with its bias and activation
/// applied as the result leaves the registers, so `c` is written once and never read.
/// `a` is `m × k`, `b` `k × n` and `c` `m × n`, column-major as stored.
///
/// # Panics
/// As [`gemm`], and if `bias` is shorter than `m`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn gemm_bias(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    relu: bool,
    c: &mut [f32],
) {
    gemm_bias_ldb(m, n, k, a, b, k, bias, relu, c);
}

/// [`gemm_bias`] with `b`'s columns `ldb ≥ k` floats apart (each a run of `k`): the same step of
/// every sequence in a batch, read where it lies in the sample-major batch instead of copied
/// out first.
///
/// # Panics
/// As [`gemm_bias`], and if `ldb < k` or `b` is shorter than `(n − 1)·ldb + k`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_bias_ldb(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    ldb: usize,
    bias: &[f32],
    relu: bool,
    c: &mut [f32],
) {
    let reach = if n == 0 { 0 } else { (n - 1) * ldb + k };
    assert!(
        ldb >= k && a.len() >= m * k && b.len() >= reach && c.len() >= m * n && bias.len() >= m,
        "gemm buffer too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    let store = Store {
        init: Init::Bias(&bias[..m]),
        relu,
    };
    let b = Strided {
        data: &b[..reach],
        rs: 1,
        cs: ldb,
    };
    kernel(m, n, k, 1.0, &a[..m * k], b, &mut c[..m * n], store);
}

/// A `k × n` matrix whose columns are gathered from runs of a buffer rather than stored:
/// element `(p, j)`, with `p = s·len + r` (`s < runs`, `r < len`), is
/// `data[offsets[j] + s·stride + r]`. A convolution's patch matrix is one (a run per kernel
/// row), so the product can read the image in place of an im2col copy.
#[derive(Clone, Copy, Debug)]
pub struct Gathered<'a> {
    /// The buffer the columns are gathered from.
    pub data: &'a [f32],
    /// Where each column's first run starts in `data`.
    pub offsets: &'a [usize],
    /// Runs per column.
    pub runs: usize,
    /// Floats per run.
    pub len: usize,
    /// Distance in `data` between consecutive runs of a column.
    pub stride: usize,
}

impl Gathered<'_> {
    /// Whether every column's runs lie inside `data`, as the products' kernels read them.
    fn columns_fit(&self) -> bool {
        let reach = if self.runs == 0 || self.len == 0 {
            0
        } else {
            (self.runs - 1) * self.stride + self.len
        };
        self.offsets.iter().all(|&o| o + reach <= self.data.len())
    }
}

/// Whether [`gemm_gathered_bias`] has a fast kernel on this CPU (AVX-512F); elsewhere it runs
/// a plain loop, and a caller is better off materialising the matrix.
pub fn gathered_is_fast() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`gemm_bias`] with `b` gathered: `c = f(a · b + bias)`, `a` `m × k` column-major with
/// `k = runs · len`, `c` `m × n` with `n = offsets.len()`.
///
/// # Panics
/// If a buffer is shorter than its shape requires, or a column reaches past `b.data`.
pub fn gemm_gathered_bias(m: usize, a: &[f32], b: Gathered<'_>, bias: &[f32], relu: bool, c: &mut [f32]) {
    assert!(bias.len() >= m, "gemm buffer too short");
    gathered_product(m, a, b, Init::Bias(&bias[..m]), relu, c);
}

/// `c += a · b` with `b` gathered, shaped as in [`gemm_gathered_bias`]: each element's product is
/// summed first and then added to what `c` holds, so the bits are those of the product written
/// elsewhere and added in (a convolution's input gradient added to a tensor's other readers').
///
/// # Panics
/// If a buffer is shorter than its shape requires, or a column reaches past `b.data`.
pub fn gemm_gathered_add(m: usize, a: &[f32], b: Gathered<'_>, c: &mut [f32]) {
    gathered_product(m, a, b, Init::Add, false, c);
}

fn gathered_product(m: usize, a: &[f32], b: Gathered<'_>, init: Init<'_>, relu: bool, c: &mut [f32]) {
    let (k, n) = (b.runs * b.len, b.offsets.len());
    assert!(
        a.len() >= m * k && c.len() >= m * n && b.columns_fit(),
        "gemm buffer too short"
    );
    let c = &mut c[..m * n];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            let epi = avx512::Epilogue::of(Store { init, relu });
            // SAFETY: AVX-512F is present; `a` holds m·k floats, `c` m·n, a bias m (the callers
            // check), and every column's runs lie inside `b.data` (all asserted above).
            unsafe { avx512::gathered(m, a.as_ptr(), b, c.as_mut_ptr(), epi) };
            return;
        }
    }
    gathered_portable(m, a, b, init, relu, c);
}

/// `c += a · bᵀ` with `a` gathered (`k × p`, `k = runs · len`, `p = offsets.len()`), `b`
/// `n × p` and `c` `k × n`, column-major: a convolution's kernel gradient (transposed),
/// `Σ_pixels patch · ∂L/∂zᵀ`, with the patches read from the image in place of an im2col copy.
/// Rows are the patch's floats, so a register tile is 16 consecutive floats of one run, loaded
/// whole, against broadcast `∂L/∂z` values; the other orientation (`∂L/∂z · patchesᵀ`) would
/// broadcast a patch float per filter column and wait on the loads. Each element is the sum over
/// `p` in order, added to `c`: the bits of `gemm(n, k, p, 1.0, b, N, patches, T, 1.0, cᵀ)`
/// wherever that product's columns come in tiles of four or more (`k` a multiple of 4; a
/// single column splits its sum four ways).
///
/// # Panics
/// If a buffer is shorter than its shape requires, or a column reaches past `a.data`.
pub fn gemm_gathered_nt_add(a: Gathered<'_>, n: usize, b: &[f32], c: &mut [f32]) {
    let (k, p) = (a.runs * a.len, a.offsets.len());
    assert!(
        b.len() >= n * p && c.len() >= k * n && a.columns_fit(),
        "gemm buffer too short"
    );
    let c = &mut c[..k * n];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is present; `b` holds n·p floats, `c` k·n, and every column's runs
            // lie inside `a.data` (all asserted above).
            unsafe { avx512::gathered_nt(a, n, b.as_ptr(), c.as_mut_ptr()) };
            return;
        }
    }
    gathered_nt_portable(a, n, b, c);
}

/// The plain loop behind [`gemm_gathered_nt_add`] on CPUs without AVX-512.
fn gathered_nt_portable(a: Gathered<'_>, n: usize, b: &[f32], c: &mut [f32]) {
    let k = a.runs * a.len;
    for f in 0..n {
        for s in 0..a.runs {
            for r in 0..a.len {
                let mut sum = 0.0f32;
                for (q, &o) in a.offsets.iter().enumerate() {
                    sum = b[f + q * n].mul_add(a.data[o + s * a.stride + r], sum);
                }
                c[s * a.len + r + f * k] += sum;
            }
        }
    }
}

/// The plain loop behind [`gemm_gathered_bias`] on CPUs without AVX-512.
fn gathered_portable(m: usize, a: &[f32], b: Gathered<'_>, init: Init<'_>, relu: bool, c: &mut [f32]) {
    for (j, &o) in b.offsets.iter().enumerate() {
        for i in 0..m {
            let mut sum = 0.0;
            for s in 0..b.runs {
                for r in 0..b.len {
                    sum += a[i + (s * b.len + r) * m] * b.data[o + s * b.stride + r];
                }
            }
            let v = match init {
                Init::Zero => sum,
                Init::Add => sum + c[i + j * m],
                Init::Bias(bias) => sum + bias[i],
            };
            c[i + j * m] = if relu { v.max(0.0) } else { v };
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn product(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    op_a: Op,
    b: &[f32],
    op_b: Op,
    c: &mut [f32],
    store: Store<'_>,
) {
    if m == 0 || n == 0 {
        return;
    }
    if m == 1 && op_b == Op::T && !matches!(store.init, Init::Bias(_)) {
        // A row vector times a transposed matrix (the gradient of a 1-unit layer's kernel):
        // `c` is `cᵀ = b · op(a)ᵀ` as stored, a matrix-vector product whose matrix, `b` as
        // stored (`n × k`), is contiguous down its columns, where a 1-row tile would use one
        // lane of sixteen. A vector `a` is the same floats either way round.
        let x = Strided {
            data: &a[..k],
            rs: 1,
            cs: k,
        };
        kernel(n, 1, k, alpha, &b[..k * n], x, c, store);
        return;
    }
    // op(B)[p, j] = b[p·rsb + j·csb].
    let (rsb, csb) = match op_b {
        Op::N => (1, k),
        Op::T => (n, 1),
    };
    let b = Strided {
        data: &b[..k * n],
        rs: rsb,
        cs: csb,
    };
    match op_a {
        Op::N => kernel(m, n, k, alpha, &a[..m * k], b, c, store),
        Op::T => SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < m * k {
                s.fit_len(m * k);
            }
            // `a` is stored k×m; lay op(A) = aᵀ out as m×k column-major.
            let t = &mut s[..m * k];
            transpose(k, m, &a[..m * k], t);
            kernel(m, n, k, alpha, t, b, c, store);
        }),
    }
}

/// Writes the transpose of `src` (`rows × cols`, column-major) into `dst` (`cols × rows`).
pub fn transpose(rows: usize, cols: usize, src: &[f32], dst: &mut [f32]) {
    assert!(
        src.len() >= rows * cols && dst.len() >= rows * cols,
        "transpose buffer too short"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present and both buffers hold rows·cols floats (checked above).
            unsafe { avx2_transpose(rows, cols, src.as_ptr(), dst.as_mut_ptr()) };
            return;
        }
    }
    for c in 0..cols {
        for r in 0..rows {
            dst[c + r * cols] = src[r + c * rows];
        }
    }
}

/// 8×8 blocks transposed in registers (the classic unpack/shuffle/permute sequence), the
/// ragged edges element by element.
///
/// # Safety
/// AVX2 must be available; `src` and `dst` must hold `rows · cols` floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2_transpose(rows: usize, cols: usize, src: *const f32, dst: *mut f32) {
    use core::arch::x86_64::*;
    let (r8, c8) = (rows / 8 * 8, cols / 8 * 8);
    // SAFETY: all offsets are below rows·cols: block loads read rows r..r+8 < r8 ≤ rows of
    // columns c..c+8 < c8 ≤ cols, and stores mirror them.
    unsafe {
        for c in (0..c8).step_by(8) {
            for r in (0..r8).step_by(8) {
                let mut v = [_mm256_setzero_ps(); 8];
                for (q, v) in v.iter_mut().enumerate() {
                    *v = _mm256_loadu_ps(src.add(r + (c + q) * rows));
                }
                let t0 = _mm256_unpacklo_ps(v[0], v[1]);
                let t1 = _mm256_unpackhi_ps(v[0], v[1]);
                let t2 = _mm256_unpacklo_ps(v[2], v[3]);
                let t3 = _mm256_unpackhi_ps(v[2], v[3]);
                let t4 = _mm256_unpacklo_ps(v[4], v[5]);
                let t5 = _mm256_unpackhi_ps(v[4], v[5]);
                let t6 = _mm256_unpacklo_ps(v[6], v[7]);
                let t7 = _mm256_unpackhi_ps(v[6], v[7]);
                let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                let out = [
                    _mm256_permute2f128_ps::<0x20>(u0, u4),
                    _mm256_permute2f128_ps::<0x20>(u1, u5),
                    _mm256_permute2f128_ps::<0x20>(u2, u6),
                    _mm256_permute2f128_ps::<0x20>(u3, u7),
                    _mm256_permute2f128_ps::<0x31>(u0, u4),
                    _mm256_permute2f128_ps::<0x31>(u1, u5),
                    _mm256_permute2f128_ps::<0x31>(u2, u6),
                    _mm256_permute2f128_ps::<0x31>(u3, u7),
                ];
                for (q, o) in out.iter().enumerate() {
                    _mm256_storeu_ps(dst.add(c + (r + q) * cols), *o);
                }
            }
        }
        for c in 0..cols {
            let r_start = if c < c8 { r8 } else { 0 };
            for r in r_start..rows {
                *dst.add(c + r * cols) = *src.add(r + c * rows);
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Strided<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

impl Store<'_> {
    /// The value stored for row `i`, given the accumulated product and what `c` holds.
    #[inline(always)]
    fn apply(self, i: usize, product: f32, old: f32) -> f32 {
        let v = match self.init {
            Init::Zero => product,
            Init::Add => product + old,
            Init::Bias(b) => product + b[i],
        };
        if self.relu { v.max(0.0) } else { v }
    }
}

#[allow(clippy::too_many_arguments)]
fn kernel(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: Strided<'_>,
    c: &mut [f32],
    store: Store<'_>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F; `a`, `b.data` and `c` hold m·k, k·n and m·n
            // elements and a bias m (checked by the callers), which is all the kernel reads and
            // writes.
            unsafe {
                avx512::kernel(
                    m,
                    n,
                    k,
                    alpha,
                    a.as_ptr(),
                    b.data.as_ptr(),
                    b.rs,
                    b.cs,
                    c.as_mut_ptr(),
                    avx512::Epilogue::of(store),
                )
            };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features `kernel_fma` is compiled for.
            unsafe { kernel_fma(m, n, k, alpha, a, b, c, store) };
            return;
        }
    }
    tiles::<false>(m, n, k, alpha, a, b, c, store);
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
fn kernel_fma(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: Strided<'_>,
    c: &mut [f32],
    store: Store<'_>,
) {
    tiles::<true>(m, n, k, alpha, a, b, c, store);
}

#[inline(always)]
fn fmadd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    // `mul_add` is one instruction with FMA and a slow libm call without it.
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Covers `C` with register tiles: 16 rows × 4 columns where they fit, narrower at the edges.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tiles<const FMA: bool>(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: Strided<'_>,
    c: &mut [f32],
    store: Store<'_>,
) {
    let mut j = 0;
    while j + 4 <= n {
        rows::<4, FMA>(m, j, k, alpha, a, b, c, store);
        j += 4;
    }
    while j < n {
        rows::<1, FMA>(m, j, k, alpha, a, b, c, store);
        j += 1;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn rows<const NR: usize, const FMA: bool>(
    m: usize,
    j: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: Strided<'_>,
    c: &mut [f32],
    store: Store<'_>,
) {
    let mut i = 0;
    while i + 16 <= m {
        tile::<16, NR, FMA>(m, i, j, k, alpha, a, b, c, store);
        i += 16;
    }
    if i + 8 <= m {
        tile::<8, NR, FMA>(m, i, j, k, alpha, a, b, c, store);
        i += 8;
    }
    if m < 8 && b.rs == 1 {
        // A few rows against contiguous columns of B (a 1-unit output layer): dot products
        // vectorise better than rows of width 1.
        for ii in i..m {
            for jj in j..j + NR {
                let col = &b.data[jj * b.cs..jj * b.cs + k];
                let s = dot::<FMA>(a, ii, m, col);
                let out = &mut c[ii + jj * m];
                *out = store.apply(ii, alpha * s, *out);
            }
        }
        return;
    }
    while i < m {
        tile::<1, NR, FMA>(m, i, j, k, alpha, a, b, c, store);
        i += 1;
    }
}

/// Σ_p a[i + p·m] · col[p], with 8 independent accumulators so the loop vectorises when `m == 1`.
#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], i: usize, m: usize, col: &[f32]) -> f32 {
    let k = col.len();
    if m == 1 {
        let mut acc = [0.0f32; 8];
        let (ac, bc) = (a[..k].chunks_exact(8), col.chunks_exact(8));
        let (ar, br) = (ac.remainder(), bc.remainder());
        for (x, y) in ac.zip(bc) {
            for l in 0..8 {
                acc[l] = fmadd::<FMA>(x[l], y[l], acc[l]);
            }
        }
        let mut s: f32 = acc.iter().sum();
        for (x, y) in ar.iter().zip(br) {
            s = fmadd::<FMA>(*x, *y, s);
        }
        s
    } else {
        (0..k).fold(0.0, |s, p| fmadd::<FMA>(a[i + p * m], col[p], s))
    }
}

/// One MR×NR block of `C`, accumulated in registers over all of `k`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tile<const MR: usize, const NR: usize, const FMA: bool>(
    m: usize,
    i: usize,
    j: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: Strided<'_>,
    c: &mut [f32],
    store: Store<'_>,
) {
    let mut acc = [[0.0f32; MR]; NR];
    for p in 0..k {
        let col: &[f32; MR] = a[i + p * m..i + p * m + MR].try_into().expect("tile in bounds");
        for (jj, acc) in acc.iter_mut().enumerate() {
            let bv = b.data[p * b.rs + (j + jj) * b.cs];
            for ii in 0..MR {
                acc[ii] = fmadd::<FMA>(col[ii], bv, acc[ii]);
            }
        }
    }
    for (jj, acc) in acc.iter().enumerate() {
        let out = &mut c[i + (j + jj) * m..i + (j + jj) * m + MR];
        for ii in 0..MR {
            out[ii] = store.apply(i + ii, alpha * acc[ii], out[ii]);
        }
    }
}

/// The AVX-512 kernel: 32×8 tiles of `C` in 16 zmm accumulators (16×16 when `C` has at most 16
/// rows), masked loads and stores at the row edge, so any `m` runs at full width without
/// touching memory past the operands.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::*;

    use super::{Init, Store};

    /// [`Store`] as raw parts, for the pointer-based kernel.
    #[derive(Clone, Copy)]
    pub(super) struct Epilogue {
        /// 0: overwrite, 1: add to `c`, 2: add `bias`.
        init: u8,
        bias: *const f32,
        relu: bool,
    }

    impl Epilogue {
        pub(super) fn of(store: Store<'_>) -> Self {
            let (init, bias) = match store.init {
                Init::Zero => (0, core::ptr::null()),
                Init::Add => (1, core::ptr::null()),
                Init::Bias(b) => (2, b.as_ptr()),
            };
            Epilogue {
                init,
                bias,
                relu: store.relu,
            }
        }

        /// The stored value of rows `i..i+16` (lanes in `mask`) of the column at `out`, given
        /// `alpha` times their accumulated product.
        ///
        /// # Safety
        /// AVX-512F; `out` (and, when adding a bias, `bias + i`) readable for the lanes in
        /// `mask`.
        #[inline(always)]
        unsafe fn value(self, v: __m512, out: *const f32, i: usize, mask: __mmask16) -> __m512 {
            // SAFETY: per the contract.
            unsafe {
                let v = match self.init {
                    0 => v,
                    1 => _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, out)),
                    _ => _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, self.bias.add(i))),
                };
                if self.relu {
                    _mm512_max_ps(v, _mm512_setzero_ps())
                } else {
                    v
                }
            }
        }

        /// The scalar form of [`Epilogue::value`] for row `i`.
        ///
        /// # Safety
        /// As [`Epilogue::value`] for one lane.
        #[inline(always)]
        unsafe fn scalar(self, v: f32, out: *const f32, i: usize) -> f32 {
            // SAFETY: per the contract.
            let v = unsafe {
                match self.init {
                    0 => v,
                    1 => v + *out,
                    _ => v + *self.bias.add(i),
                }
            };
            if self.relu { v.max(0.0) } else { v }
        }
    }

    /// # Safety
    /// The CPU must support AVX-512F; `a` must hold m·k floats (column-major, leading dimension
    /// m), `b` every `p·rsb + j·csb` for p < k, j < n, `c` m·n floats, and a bias in `epi` m.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn kernel(
        m: usize,
        n: usize,
        k: usize,
        alpha: f32,
        a: *const f32,
        b: *const f32,
        rsb: usize,
        csb: usize,
        c: *mut f32,
        epi: Epilogue,
    ) {
        if m == 1 && rsb == 1 {
            // One row against contiguous columns (a 1-unit output layer): a row tile would use
            // one lane of sixteen, a dot product over `k` uses them all.
            // SAFETY: as for this function.
            unsafe { dots(n, k, alpha, a, b, csb, c, epi) };
            return;
        }
        if n == 1 {
            // SAFETY: as for this function.
            unsafe { gemv(m, k, alpha, a, b, rsb, c, epi) };
            return;
        }
        let mut j = 0;
        // SAFETY (all calls): the column ranges stay below n, per the caller's contract.
        if m <= 16 {
            // One row block (16 filters): sixteen columns fill the accumulators eight would
            // leave half idle, and each `a` load feeds twice the FMAs.
            while j + 16 <= n {
                unsafe { columns::<16>(m, k, alpha, a, b, rsb, csb, c, j, epi) };
                j += 16;
            }
        }
        while j + 8 <= n {
            unsafe { columns::<8>(m, k, alpha, a, b, rsb, csb, c, j, epi) };
            j += 8;
        }
        if j + 4 <= n {
            unsafe { columns::<4>(m, k, alpha, a, b, rsb, csb, c, j, epi) };
            j += 4;
        }
        while j < n {
            unsafe { columns::<1>(m, k, alpha, a, b, rsb, csb, c, j, epi) };
            j += 1;
        }
    }

    /// [`super::gemm_gathered_bias`]'s kernel: 32×8 tiles as in [`kernel`], the eight columns'
    /// elements read through their own pointers, a run at a time.
    ///
    /// # Safety
    /// AVX-512F; `a` holds m·k floats, `c` m·n, the bias m, and every column's runs lie inside
    /// `b.data`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gathered(
        m: usize,
        a: *const f32,
        b: super::Gathered<'_>,
        c: *mut f32,
        epi: Epilogue,
    ) {
        let n = b.offsets.len();
        let mut j = 0;
        // SAFETY (all calls): columns below n, rows masked below m, per the contract.
        if m <= 16 {
            // As in `kernel`.
            while j + 16 <= n {
                unsafe { gathered_columns::<16>(m, a, b, c, j, epi) };
                j += 16;
            }
        }
        while j + 8 <= n {
            unsafe { gathered_columns::<8>(m, a, b, c, j, epi) };
            j += 8;
        }
        if j + 4 <= n {
            unsafe { gathered_columns::<4>(m, a, b, c, j, epi) };
            j += 4;
        }
        while j < n {
            unsafe { gathered_columns::<1>(m, a, b, c, j, epi) };
            j += 1;
        }
    }

    /// Where a tile's columns start: each through its own pointer, or, for pixels of one
    /// output row, one pointer and a constant distance `D` between neighbours, so that the
    /// tile's loop advances a single pointer and reaches every column by a fixed displacement
    /// instead of keeping sixteen pointers (more than the general registers hold: LLVM
    /// reloaded six from the stack at every step).
    trait Columns<const NR: usize>: Copy {
        /// Column `jj`'s element at `at` floats past its start.
        ///
        /// # Safety
        /// The element must lie inside the column's runs.
        unsafe fn get(self, jj: usize, at: usize) -> f32;
    }

    impl<const NR: usize> Columns<NR> for [*const f32; NR] {
        #[inline(always)]
        unsafe fn get(self, jj: usize, at: usize) -> f32 {
            // SAFETY: per the contract.
            unsafe { *self[jj].add(at) }
        }
    }

    /// `NR` columns `D` floats apart from the first.
    #[derive(Clone, Copy)]
    struct Uniform<const D: usize>(*const f32);

    impl<const NR: usize, const D: usize> Columns<NR> for Uniform<D> {
        #[inline(always)]
        unsafe fn get(self, jj: usize, at: usize) -> f32 {
            // SAFETY: per the contract.
            unsafe { *self.0.add(at + jj * D) }
        }
    }

    #[inline(always)]
    unsafe fn gathered_columns<const NR: usize>(
        m: usize,
        a: *const f32,
        b: super::Gathered<'_>,
        c: *mut f32,
        j: usize,
        epi: Epilogue,
    ) {
        let base = b.data.as_ptr();
        let first = b.offsets[j];
        let step = if NR > 1 {
            b.offsets[j + 1].wrapping_sub(first)
        } else {
            0
        };
        let uniform = (2..NR).all(|jj| b.offsets[j + jj] == first + jj * step);
        let start = base.wrapping_add(first);
        // SAFETY (all calls): as below; a uniform tile's columns are the same pointers.
        unsafe {
            match (uniform, step) {
                (true, 16) => gathered_rows::<NR, _>(m, a, &b, Uniform::<16>(start), c, j, epi),
                (true, 32) => gathered_rows::<NR, _>(m, a, &b, Uniform::<32>(start), c, j, epi),
                (true, 64) => gathered_rows::<NR, _>(m, a, &b, Uniform::<64>(start), c, j, epi),
                _ => {
                    let cols: [*const f32; NR] =
                        core::array::from_fn(|jj| base.wrapping_add(b.offsets[j + jj]));
                    gathered_rows::<NR, _>(m, a, &b, cols, c, j, epi)
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn gathered_rows<const NR: usize, L: Columns<NR>>(
        m: usize,
        a: *const f32,
        b: &super::Gathered<'_>,
        cols: L,
        c: *mut f32,
        j: usize,
        epi: Epilogue,
    ) {
        let mut i = 0;
        while i < m {
            let rows = m - i;
            // SAFETY: masks confine every access to rows i..m; the column pointers are in
            // bounds per the contract.
            unsafe {
                // Sixteen columns take all the accumulators: their tiles stay 16 rows tall.
                if NR <= 8 && rows > 16 {
                    gathered_tile::<NR, true, L>(m, a, b, cols, c, i, j, mask(rows - 16), epi);
                    i += 32;
                } else {
                    gathered_tile::<NR, false, L>(m, a, b, cols, c, i, j, mask(rows), epi);
                    i += 16;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn gathered_tile<const NR: usize, const TWO: bool, L: Columns<NR>>(
        m: usize,
        a: *const f32,
        b: &super::Gathered<'_>,
        cols: L,
        c: *mut f32,
        i: usize,
        j: usize,
        last: __mmask16,
        epi: Epilogue,
    ) {
        let first = if TWO { 0xffff } else { last };
        // SAFETY: as in `tile`; column elements are read at offsets below the runs' reach.
        unsafe {
            let mut lo = [_mm512_setzero_ps(); NR];
            let mut hi = [_mm512_setzero_ps(); NR];
            let mut ap = a.add(i);
            for s in 0..b.runs {
                let run = s * b.stride;
                for r in 0..b.len {
                    let a0 = _mm512_maskz_loadu_ps(first, ap);
                    let a1 = if TWO {
                        _mm512_maskz_loadu_ps(last, ap.add(16))
                    } else {
                        _mm512_setzero_ps()
                    };
                    for jj in 0..NR {
                        let bv = _mm512_set1_ps(cols.get(jj, run + r));
                        lo[jj] = _mm512_fmadd_ps(a0, bv, lo[jj]);
                        if TWO {
                            hi[jj] = _mm512_fmadd_ps(a1, bv, hi[jj]);
                        }
                    }
                    ap = ap.wrapping_add(m);
                }
            }
            for jj in 0..NR {
                let out = c.add(i + (j + jj) * m);
                _mm512_mask_storeu_ps(out, first, epi.value(lo[jj], out, i, first));
                if TWO {
                    let out = out.add(16);
                    _mm512_mask_storeu_ps(out, last, epi.value(hi[jj], out, i + 16, last));
                }
            }
        }
    }

    /// [`super::gemm_gathered_nt_add`]'s kernel. The rows (`k`) are cut into blocks of 16
    /// within a run (the last of each run masked), taken three at a time against 8 columns of
    /// `c`: 24 accumulators fed by three loads of the image and eight broadcasts per pixel.
    ///
    /// # Safety
    /// AVX-512F; `b` holds n·p floats, `c` k·n, and every column's runs lie inside `a.data`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gathered_nt(a: super::Gathered<'_>, n: usize, b: *const f32, c: *mut f32) {
        let per_run = a.len.div_ceil(16);
        let blocks = a.runs * per_run;
        // Block t: its first float's place in a column, its first row of `c`, its lanes.
        let block = |t: usize| {
            let (s, q) = (t / per_run, t % per_run);
            (s * a.stride + 16 * q, s * a.len + 16 * q, mask(a.len - 16 * q))
        };
        let mut t = 0;
        while t < blocks {
            let taken = (blocks - t).min(3);
            let tile: [(usize, usize, __mmask16); 3] =
                core::array::from_fn(|u| if u < taken { block(t + u) } else { (0, 0, 0) });
            // SAFETY (all calls): columns below n, lanes masked to their run, per the contract.
            unsafe {
                match taken {
                    3 => gathered_nt_columns::<3>(&a, n, b, c, &tile),
                    2 => gathered_nt_columns::<2>(&a, n, b, c, &tile),
                    _ => gathered_nt_columns::<1>(&a, n, b, c, &tile),
                }
            }
            t += taken;
        }
    }

    /// `BL` row blocks of every column of `c`, eight columns at a time.
    #[inline(always)]
    unsafe fn gathered_nt_columns<const BL: usize>(
        a: &super::Gathered<'_>,
        n: usize,
        b: *const f32,
        c: *mut f32,
        tile: &[(usize, usize, __mmask16); 3],
    ) {
        let mut f = 0;
        // SAFETY (all calls): as for `gathered_nt`.
        while f + 8 <= n {
            unsafe { gathered_nt_tile::<8, BL>(a, n, b, c, f, tile) };
            f += 8;
        }
        if f + 4 <= n {
            unsafe { gathered_nt_tile::<4, BL>(a, n, b, c, f, tile) };
            f += 4;
        }
        while f < n {
            unsafe { gathered_nt_tile::<1, BL>(a, n, b, c, f, tile) };
            f += 1;
        }
    }

    /// The first `BL` row blocks of `tile` for columns `f..f + NR`.
    #[inline(always)]
    unsafe fn gathered_nt_tile<const NR: usize, const BL: usize>(
        a: &super::Gathered<'_>,
        n: usize,
        b: *const f32,
        c: *mut f32,
        f: usize,
        tile: &[(usize, usize, __mmask16); 3],
    ) {
        let k = a.runs * a.len;
        let data = a.data.as_ptr();
        // SAFETY: loads are masked to each block's lanes, which lie inside every column's runs;
        // `b` and `c` are read and written below n·p and k·n.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); BL]; NR];
            let mut bp = b.add(f);
            for &o in a.offsets {
                let col = data.add(o);
                let av: [__m512; BL] =
                    core::array::from_fn(|u| _mm512_maskz_loadu_ps(tile[u].2, col.add(tile[u].0)));
                for (jj, acc) in acc.iter_mut().enumerate() {
                    let bv = _mm512_set1_ps(*bp.add(jj));
                    for (acc, &av) in acc.iter_mut().zip(&av) {
                        *acc = _mm512_fmadd_ps(bv, av, *acc);
                    }
                }
                bp = bp.wrapping_add(n);
            }
            for (jj, acc) in acc.iter().enumerate() {
                for (&v, &(_, row, m)) in acc.iter().zip(tile) {
                    let out = c.add(row + (f + jj) * k);
                    _mm512_mask_storeu_ps(out, m, _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, out)));
                }
            }
        }
    }

    #[inline(always)]
    fn mask(rows: usize) -> __mmask16 {
        if rows >= 16 {
            0xffff
        } else {
            ((1u32 << rows) - 1) as __mmask16
        }
    }

    /// A matrix-vector product (one column of `C`, e.g. a single sample through a dense layer):
    /// 64 rows at a time, so `a` is read as one sequential stream (it is usually the largest
    /// operand and comes from L2), with two interleaved `p` for eight independent accumulators.
    ///
    /// # Safety
    /// As [`kernel`] with `n = 1`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn gemv(
        m: usize,
        k: usize,
        alpha: f32,
        a: *const f32,
        b: *const f32,
        rsb: usize,
        c: *mut f32,
        epi: Epilogue,
    ) {
        let mut i = 0;
        while i < m {
            let rows = m - i;
            let masks: [__mmask16; 4] = core::array::from_fn(|q| mask(rows.saturating_sub(16 * q)));
            // SAFETY: every load and store is masked to rows i..m of columns p < k.
            unsafe {
                let mut acc = [[_mm512_setzero_ps(); 4]; 2];
                let mut p = 0;
                while p < k {
                    let two = p + 1 < k;
                    for (u, acc) in acc.iter_mut().enumerate() {
                        if u == 1 && !two {
                            break;
                        }
                        let col = a.add(i + (p + u) * m);
                        let bv = _mm512_set1_ps(*b.add((p + u) * rsb));
                        for q in 0..4 {
                            let v = _mm512_maskz_loadu_ps(masks[q], col.wrapping_add(16 * q));
                            acc[q] = _mm512_fmadd_ps(v, bv, acc[q]);
                        }
                    }
                    p += 2;
                }
                let scale = alpha != 1.0;
                let alpha = _mm512_set1_ps(alpha);
                for q in 0..4 {
                    if masks[q] == 0 {
                        break;
                    }
                    let v = _mm512_add_ps(acc[0][q], acc[1][q]);
                    let v = if scale { _mm512_mul_ps(v, alpha) } else { v };
                    let out = c.add(i + 16 * q);
                    _mm512_mask_storeu_ps(out, masks[q], epi.value(v, out, i + 16 * q, masks[q]));
                }
            }
            i += 64;
        }
    }

    /// `c[j] = a · b[.., j]` for each of the `n` columns, 16 lanes over `k` at a time.
    ///
    /// # Safety
    /// As [`kernel`] with `m = 1` and `rsb = 1`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn dots(
        n: usize,
        k: usize,
        alpha: f32,
        a: *const f32,
        b: *const f32,
        csb: usize,
        c: *mut f32,
        epi: Epilogue,
    ) {
        // SAFETY: every load is masked to p < k of column j < n.
        unsafe {
            for j in 0..n {
                let col = b.add(j * csb);
                let mut acc = [_mm512_setzero_ps(); 2];
                let mut p = 0;
                while p + 32 <= k {
                    acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(p)), _mm512_loadu_ps(col.add(p)), acc[0]);
                    acc[1] = _mm512_fmadd_ps(
                        _mm512_loadu_ps(a.add(p + 16)),
                        _mm512_loadu_ps(col.add(p + 16)),
                        acc[1],
                    );
                    p += 32;
                }
                while p < k {
                    let mk = mask(k - p);
                    acc[0] = _mm512_fmadd_ps(
                        _mm512_maskz_loadu_ps(mk, a.add(p)),
                        _mm512_maskz_loadu_ps(mk, col.add(p)),
                        acc[0],
                    );
                    p += 16;
                }
                let s = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
                *c.add(j) = epi.scalar(alpha * s, c.add(j), 0);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn columns<const NR: usize>(
        m: usize,
        k: usize,
        alpha: f32,
        a: *const f32,
        b: *const f32,
        rsb: usize,
        csb: usize,
        c: *mut f32,
        j: usize,
        epi: Epilogue,
    ) {
        let mut i = 0;
        while i < m {
            let rows = m - i;
            // SAFETY: masks confine every access to rows i..m.
            unsafe {
                // Sixteen columns take all the accumulators: their tiles stay 16 rows tall.
                if NR <= 8 && rows > 16 {
                    tile::<NR, true>(m, k, alpha, a, b, rsb, csb, c, i, j, mask(rows - 16), epi);
                    i += 32;
                } else {
                    tile::<NR, false>(m, k, alpha, a, b, rsb, csb, c, i, j, mask(rows), epi);
                    i += 16;
                }
            }
        }
    }

    /// Rows i..i+16 (masked by `last`) or i..i+32 (`TWO`, the second half masked by `last`) of
    /// columns j..j+NR.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn tile<const NR: usize, const TWO: bool>(
        m: usize,
        k: usize,
        alpha: f32,
        a: *const f32,
        b: *const f32,
        rsb: usize,
        csb: usize,
        c: *mut f32,
        i: usize,
        j: usize,
        last: __mmask16,
        epi: Epilogue,
    ) {
        let first = if TWO { 0xffff } else { last };
        // SAFETY: every pointer below stays inside the operands by the caller's contract and
        // the masks; masked-off lanes are neither read nor written.
        unsafe {
            let mut lo = [_mm512_setzero_ps(); NR];
            let mut hi = [_mm512_setzero_ps(); NR];
            let bj = b.add(j * csb);
            let mut start = 0;
            if NR == 1 {
                // A matrix-vector product: one accumulator would wait on the FMA latency every
                // step, so four run side by side over interleaved `p`.
                let mut lo4 = [_mm512_setzero_ps(); 4];
                let mut hi4 = [_mm512_setzero_ps(); 4];
                while start + 4 <= k {
                    for u in 0..4 {
                        let p = start + u;
                        let col = a.add(i + p * m);
                        let bv = _mm512_set1_ps(*bj.add(p * rsb));
                        lo4[u] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(first, col), bv, lo4[u]);
                        if TWO {
                            hi4[u] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(last, col.add(16)), bv, hi4[u]);
                        }
                    }
                    start += 4;
                }
                lo[0] = _mm512_add_ps(_mm512_add_ps(lo4[0], lo4[1]), _mm512_add_ps(lo4[2], lo4[3]));
                hi[0] = _mm512_add_ps(_mm512_add_ps(hi4[0], hi4[1]), _mm512_add_ps(hi4[2], hi4[3]));
            }
            for p in start..k {
                let col = a.add(i + p * m);
                let a0 = _mm512_maskz_loadu_ps(first, col);
                let a1 = if TWO {
                    _mm512_maskz_loadu_ps(last, col.add(16))
                } else {
                    _mm512_setzero_ps()
                };
                let bp = bj.add(p * rsb);
                for jj in 0..NR {
                    let bv = _mm512_set1_ps(*bp.add(jj * csb));
                    lo[jj] = _mm512_fmadd_ps(a0, bv, lo[jj]);
                    if TWO {
                        hi[jj] = _mm512_fmadd_ps(a1, bv, hi[jj]);
                    }
                }
            }
            let scale = alpha != 1.0;
            let alpha = _mm512_set1_ps(alpha);
            for jj in 0..NR {
                let out = c.add(i + (j + jj) * m);
                let v = if scale {
                    _mm512_mul_ps(lo[jj], alpha)
                } else {
                    lo[jj]
                };
                _mm512_mask_storeu_ps(out, first, epi.value(v, out, i, first));
                if TWO {
                    let v = if scale {
                        _mm512_mul_ps(hi[jj], alpha)
                    } else {
                        hi[jj]
                    };
                    let out = out.add(16);
                    _mm512_mask_storeu_ps(out, last, epi.value(v, out, i + 16, last));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic `m × k` and `k × n` operands with small exact values.
    fn operands(m: usize, n: usize, k: usize) -> (Vec<f32>, Vec<f32>) {
        let a = (0..m * k)
            .map(|v| ((v * 7919) % 23) as f32 * 0.25 - 2.0)
            .collect();
        let b = (0..k * n)
            .map(|v| 1.0 - ((v * 104729) % 19) as f32 * 0.125)
            .collect();
        (a, b)
    }

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
                c[i + j * m] = (0..k).map(|p| at(i, p) as f64 * bt(p, j) as f64).sum::<f64>() as f32;
            }
        }
        c
    }

    #[test]
    fn transpose_handles_blocks_and_edges() {
        for (rows, cols) in [(8, 8), (64, 64), (13, 21), (3, 40), (17, 1)] {
            let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            let mut dst = vec![0.0; rows * cols];
            transpose(rows, cols, &src, &mut dst);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(dst[c + r * cols], src[r + c * rows], "{rows}×{cols} at {r},{c}");
                }
            }
        }
    }

    /// Runs the portable tiles directly, so they are tested on machines with AVX-512 too.
    #[test]
    fn portable_tiles_match_the_definition() {
        for (m, n, k) in [(37, 9, 13), (1, 32, 64), (3, 7, 17)] {
            let a: Vec<f32> = (0..m * k).map(|v| (v % 13) as f32 - 6.0).collect();
            let b: Vec<f32> = (0..k * n).map(|v| (v % 7) as f32 * 0.5).collect();
            let expect = naive(m, n, k, &a, Op::N, &b, Op::N);
            let mut c = vec![0.0; m * n];
            tiles::<false>(
                m,
                n,
                k,
                1.0,
                &a,
                Strided {
                    data: &b,
                    rs: 1,
                    cs: k,
                },
                &mut c,
                Store {
                    init: Init::Zero,
                    relu: false,
                },
            );
            assert_eq!(c, expect);
        }
    }

    #[test]
    fn every_shape_and_transposition_matches_the_definition() {
        // Sizes straddle every tile width (16, 8, 1 rows; 16, 8, 4, 1 columns) and the dot path.
        for (m, n, k) in [
            (5, 3, 4),
            (1, 32, 64),
            (1, 64, 32),
            (1, 5, 3),
            (70, 1, 33),
            (64, 1, 1600),
            (13, 1, 4),
            (64, 32, 10),
            (37, 9, 13),
            (16, 4, 1),
            (3, 7, 17),
            (24, 5, 2),
            (33, 13, 3),
            (48, 12, 5),
            // At most 16 rows: 16-column tiles, then the 8-, 4- and 1-column ones.
            (16, 45, 9),
            (7, 33, 20),
        ] {
            let (a, b) = operands(m, n, k);
            for op_a in [Op::N, Op::T] {
                for op_b in [Op::N, Op::T] {
                    let expect = naive(m, n, k, &a, op_a, &b, op_b);
                    let mut c = vec![1.0; m * n];
                    gemm(m, n, k, 1.0, &a, op_a, &b, op_b, 0.0, &mut c);
                    for (x, y) in c.iter().zip(&expect) {
                        assert!(
                            (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                            "{m}×{n}×{k} {op_a:?} {op_b:?}"
                        );
                    }
                    // alpha and beta: c = 0.5·AB + 2·c.
                    let mut c = vec![1.0; m * n];
                    gemm(m, n, k, 0.5, &a, op_a, &b, op_b, 2.0, &mut c);
                    for (x, y) in c.iter().zip(&expect) {
                        assert!(
                            (x - (0.5 * y + 2.0)).abs() <= 1e-4 * (1.0 + y.abs()),
                            "{m}×{n}×{k} scaled"
                        );
                    }
                }
            }
        }
    }

    /// The fused bias and relu store, on the dispatched kernel (AVX-512 here) and on the
    /// portable tiles, against the definition; the shapes include one row (the dot-product
    /// path), `k = 0` (the bias alone) and row counts around the 16- and 32-row tiles.
    #[test]
    fn bias_and_relu_store_matches_the_definition() {
        for (m, n, k) in [
            (1, 37, 64),
            (40, 1, 9),
            (70, 1, 0),
            (1, 5, 7),
            (5, 3, 0),
            (10, 9, 64),
            (32, 11, 9),
            (64, 13, 40),
            (17, 8, 5),
        ] {
            let (a, b) = operands(m, n, k);
            let bias: Vec<f32> = (0..m).map(|i| i as f32 * 0.5 - 3.0).collect();
            let product = naive(m, n, k, &a, Op::N, &b, Op::N);
            for relu in [false, true] {
                let expect: Vec<f32> = product
                    .iter()
                    .enumerate()
                    .map(|(at, v)| {
                        let z = v + bias[at % m];
                        if relu { z.max(0.0) } else { z }
                    })
                    .collect();
                let mut c = vec![f32::NAN; m * n];
                gemm_bias(m, n, k, &a, &b, &bias, relu, &mut c);
                let mut portable = vec![f32::NAN; m * n];
                let strided = Strided {
                    data: &b,
                    rs: 1,
                    cs: k,
                };
                let store = Store {
                    init: Init::Bias(&bias),
                    relu,
                };
                tiles::<false>(m, n, k, 1.0, &a, strided, &mut portable, store);
                for ((x, p), y) in c.iter().zip(&portable).zip(&expect) {
                    assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{m}×{n}×{k} relu {relu}");
                    assert!((p - y).abs() <= 1e-4 * (1.0 + y.abs()), "{m}×{n}×{k} portable");
                }
            }
        }
    }

    /// The gathered product (dispatched, and the portable loop) against the same matrix
    /// materialised and multiplied by [`gemm_bias`]; row counts straddle the 16- and 32-row
    /// tiles, column counts the 8-, 4- and 1-column ones.
    /// Columns `ldb` apart give the product of the packed matrix of those columns, bitwise
    /// (the same tiles run over the same values), with nothing read past the last column's run.
    #[test]
    fn strided_columns_match_the_packed_product() {
        for (m, n, k, ldb) in [
            (256, 32, 64, 6400),
            (5, 3, 4, 9),
            (1, 7, 13, 20),
            (37, 1, 13, 13),
            (40, 9, 16, 17),
        ] {
            let (a, packed) = operands(m, n, k);
            let mut b = vec![f32::NAN; (n - 1) * ldb + k];
            for (j, col) in packed.chunks_exact(k).enumerate() {
                b[j * ldb..j * ldb + k].copy_from_slice(col);
            }
            let bias: Vec<f32> = (0..m).map(|i| i as f32 * 0.25 - 1.0).collect();
            let mut want = vec![0.0; m * n];
            gemm_bias(m, n, k, &a, &packed, &bias, false, &mut want);
            let mut got = vec![f32::NAN; m * n];
            gemm_bias_ldb(m, n, k, &a, &b, ldb, &bias, false, &mut got);
            assert_eq!(got, want, "{m}×{n}×{k}, ldb {ldb}");
            // The portable tiles (the path without AVX-512) over the same strided columns.
            let mut portable = vec![f32::NAN; m * n];
            let strided = Strided {
                data: &b,
                rs: 1,
                cs: ldb,
            };
            let store = Store {
                init: Init::Bias(&bias),
                relu: false,
            };
            tiles::<false>(m, n, k, 1.0, &a, strided, &mut portable, store);
            for (p, w) in portable.iter().zip(&want) {
                assert!(
                    (p - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{m}×{n}×{k}, ldb {ldb}, portable"
                );
            }
        }
    }

    /// The gathered kernel gradient against the product it replaces, `b · patchesᵀ` added to
    /// `cᵀ`, bit for bit (`k` a multiple of 4, see [`gemm_gathered_nt_add`]): runs shorter than, equal to and longer than a register (masked
    /// tails), odd block counts, and column counts around the 8/4/1 tiles.
    #[test]
    fn gathered_nt_matches_the_transposed_product_bit_for_bit() {
        let data: Vec<f32> = (0..900).map(|v| ((v * 31) % 17) as f32 * 0.37 - 2.9).collect();
        for (runs, len, stride, n, p) in [
            (3, 48, 60, 16, 37),
            (3, 12, 20, 8, 50),
            (1, 4, 4, 16, 30),
            (1, 16, 16, 13, 9),
            (2, 20, 33, 5, 64),
            (3, 96, 120, 3, 11),
            (1, 32, 32, 64, 7),
        ] {
            let k = runs * len;
            let reach = (runs - 1) * stride + len;
            let offsets: Vec<usize> = (0..p).map(|q| (q * 7) % (data.len() - reach)).collect();
            let mut patches = vec![0.0; k * p];
            for (q, &o) in offsets.iter().enumerate() {
                for s in 0..runs {
                    for r in 0..len {
                        patches[s * len + r + q * k] = data[o + s * stride + r];
                    }
                }
            }
            let b: Vec<f32> = (0..n * p).map(|v| 1.3 - ((v * 13) % 9) as f32 * 0.29).collect();
            let start: Vec<f32> = (0..k * n).map(|v| ((v * 5) % 7) as f32 * 0.11).collect();
            let mut expect_t = vec![0.0; n * k];
            transpose(k, n, &start, &mut expect_t);
            gemm(n, k, p, 1.0, &b, Op::N, &patches, Op::T, 1.0, &mut expect_t);
            let mut expect = vec![0.0; k * n];
            transpose(n, k, &expect_t, &mut expect);
            let a = Gathered {
                data: &data,
                offsets: &offsets,
                runs,
                len,
                stride,
            };
            let (mut fast, mut portable) = (start.clone(), start.clone());
            gemm_gathered_nt_add(a, n, &b, &mut fast);
            gathered_nt_portable(a, n, &b, &mut portable);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&fast),
                bits(&expect),
                "{runs}×{len} runs, {n} columns, {p} pixels"
            );
            assert_eq!(bits(&portable), bits(&expect), "{runs}×{len} portable");
        }
    }

    /// Columns at scattered offsets, and pixels of output rows (offsets a constant 16, 32 or
    /// 64 floats apart within a row of 20, so that some tiles lie in one row and take the
    /// one-pointer path and others straddle two).
    #[test]
    fn gathered_product_matches_the_materialised_matrix() {
        let (runs, len, stride) = (3, 5, 11);
        let data: Vec<f32> = (0..1400).map(|v| ((v * 31) % 17) as f32 * 0.25 - 2.0).collect();
        let layouts = [None, Some(16), Some(32), Some(64)];
        let shapes = [(5, 13), (16, 8), (32, 9), (40, 4), (64, 21), (16, 45), (9, 35)];
        for (m, n, step) in layouts
            .iter()
            .flat_map(|&d| shapes.iter().map(move |&(m, n)| (m, n, d)))
        {
            let k = runs * len;
            let offsets: Vec<usize> = match step {
                None => (0..n).map(|j| (j * 7) % 150).collect(),
                Some(d) => (0..n).map(|j| (j % 20) * d + (j / 20) * 3).collect(),
            };
            let mut dense = vec![0.0; k * n];
            for (j, &o) in offsets.iter().enumerate() {
                for s in 0..runs {
                    for r in 0..len {
                        dense[s * len + r + j * k] = data[o + s * stride + r];
                    }
                }
            }
            let a: Vec<f32> = (0..m * k).map(|v| 1.0 - ((v * 13) % 9) as f32 * 0.25).collect();
            let bias: Vec<f32> = (0..m).map(|i| i as f32 * 0.125 - 1.0).collect();
            let b = Gathered {
                data: &data,
                offsets: &offsets,
                runs,
                len,
                stride,
            };
            for relu in [false, true] {
                let mut expect = vec![f32::NAN; m * n];
                gemm_bias(m, n, k, &a, &dense, &bias, relu, &mut expect);
                let (mut fast, mut portable) = (vec![f32::NAN; m * n], vec![f32::NAN; m * n]);
                gemm_gathered_bias(m, &a, b, &bias, relu, &mut fast);
                gathered_portable(m, &a, b, Init::Bias(&bias), relu, &mut portable);
                for ((x, p), y) in fast.iter().zip(&portable).zip(&expect) {
                    assert!(
                        (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                        "{m}×{n} relu {relu} {step:?}"
                    );
                    assert!((p - y).abs() <= 1e-4 * (1.0 + y.abs()), "{m}×{n} portable");
                }
            }
            // Adding: the product summed first, then added to what `c` held, bit for bit.
            let old: Vec<f32> = (0..m * n).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
            let zeros = vec![0.0; m];
            let mut product = vec![f32::NAN; m * n];
            gemm_gathered_bias(m, &a, b, &zeros, false, &mut product);
            let (mut fast, mut portable) = (old.clone(), old.clone());
            gemm_gathered_add(m, &a, b, &mut fast);
            gathered_portable(m, &a, b, Init::Add, false, &mut portable);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            let sum: Vec<f32> = old.iter().zip(&product).map(|(o, p)| o + p).collect();
            assert_eq!(bits(&fast), bits(&sum), "{m}×{n} adding {step:?}");
            for (p, y) in portable.iter().zip(&sum) {
                assert!((p - y).abs() <= 1e-4 * (1.0 + y.abs()), "{m}×{n} portable adding");
            }
        }
    }
}
