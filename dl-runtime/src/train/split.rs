//! Element-wise passes over a tensor shared between the threads of the current rayon pool.
//!
//! A tensor is cut into contiguous pieces at fixed points (halving, down to a size set by the
//! thread count), each piece worked on whole by one thread. Every element sees the same
//! operations in the same order whatever the cut, so the values do not depend on the threads.

use crate::denormals::FlushDenormals;
use crate::optim::Elementwise;

/// Tensors shorter than twice this are worked on whole: a piece (~30 µs of Adam) must outweigh
/// waking another thread, which on a virtual machine costs tens of microseconds.
const MIN_PIECE: usize = 1 << 16;

/// Values indexed alike that are cut at the same index together.
pub(crate) trait Cut: Sized + Send {
    /// The first `at` values and the rest.
    fn cut(self, at: usize) -> (Self, Self);
}

impl Cut for &mut [f32] {
    fn cut(self, at: usize) -> (Self, Self) {
        self.split_at_mut(at)
    }
}

impl Cut for &[f32] {
    fn cut(self, at: usize) -> (Self, Self) {
        self.split_at(at)
    }
}

impl Cut for Elementwise<'_> {
    fn cut(self, at: usize) -> (Self, Self) {
        self.split_at(at)
    }
}

/// The backup of a checked update: the parameters and up to two state buffers, an unused one
/// empty (and left so by a cut).
impl Cut for [&mut [f32]; 3] {
    fn cut(self, at: usize) -> (Self, Self) {
        let [a, b, c] = self.map(|s| {
            if s.is_empty() {
                s.split_at_mut(0)
            } else {
                s.split_at_mut(at)
            }
        });
        ([a.0, b.0, c.0], [a.1, b.1, c.1])
    }
}

impl<A: Cut, B: Cut> Cut for (A, B) {
    fn cut(self, at: usize) -> (Self, Self) {
        let ((a0, a1), (b0, b1)) = (self.0.cut(at), self.1.cut(at));
        ((a0, b0), (a1, b1))
    }
}

impl<A: Cut, B: Cut, C: Cut> Cut for (A, B, C) {
    fn cut(self, at: usize) -> (Self, Self) {
        let ((a0, a1), (b0, b1), (c0, c1)) = (self.0.cut(at), self.1.cut(at), self.2.cut(at));
        ((a0, b0, c0), (a1, b1, c1))
    }
}

impl<A: Cut, B: Cut, C: Cut, D: Cut> Cut for (A, B, C, D) {
    fn cut(self, at: usize) -> (Self, Self) {
        let ((a0, a1), (b0, b1)) = (self.0.cut(at), self.1.cut(at));
        let ((c0, c1), (d0, d1)) = (self.2.cut(at), self.3.cut(at));
        ((a0, b0, c0, d0), (a1, b1, c1, d1))
    }
}

/// Runs `f` over the `len` values of `t`: whole on one thread, or, with `threads` > 1, in
/// pieces spread over the current rayon pool (one per thread: every extra piece is another
/// hand-off). `true` when `f` returned `true` for every piece; every piece runs either way.
pub(crate) fn pieces<T: Cut>(t: T, len: usize, threads: usize, f: &(impl Fn(T) -> bool + Sync)) -> bool {
    if threads <= 1 {
        return f(t);
    }
    split(t, len, (len / threads).max(MIN_PIECE), f)
}

fn split<T: Cut>(t: T, len: usize, piece: usize, f: &(impl Fn(T) -> bool + Sync)) -> bool {
    if len < 2 * piece {
        // MXCSR is per thread, and a stolen piece runs on whatever the thief had set: flush
        // denormals as the step's thread does, or results would depend on who took the piece.
        let _flush = FlushDenormals::new();
        return f(t);
    }
    // Whole 64-byte lines on each side of the cut (if the tensor starts on one), so the two
    // threads never write to the same cache line.
    let at = (len / 2).next_multiple_of(16);
    let (a, b) = t.cut(at);
    let (x, y) = rayon::join(|| split(a, at, piece, f), || split(b, len - at, piece, f));
    x & y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_tensor_once_on_any_pool() {
        let n = 5 * MIN_PIECE + 3;
        for threads in [1, 2, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut v = vec![0.0f32; n];
            let w: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let all = pool.install(|| {
                pieces((&mut v[..], &w[..]), n, threads, &|(v, w): (
                    &mut [f32],
                    &[f32],
                )| {
                    v.iter_mut().zip(w).for_each(|(v, w)| *v += w + 1.0);
                    v.len() != 7
                })
            });
            assert!(all);
            assert!(
                v.iter().enumerate().all(|(i, &x)| x == i as f32 + 1.0),
                "{threads} threads"
            );
            let some_false =
                pool.install(|| pieces(&w[..], n, threads, &|w: &[f32]| !w.contains(&(n as f32 - 1.0))));
            assert!(!some_false, "a false piece is reported");
        }
    }
}
