//! Storage that starts on a 64-byte boundary (a cache line, one AVX-512 vector): the layers'
//! parameters ([`Param`]). Working buffers that grow are [`Floats`](crate::floats::Floats).
//!
//! The allocator aligns a `Vec<f32>` or a boxed matrix to 16 bytes only, so a 64-byte vector
//! load from it usually straddles two cache lines, and the products that stream a matrix from
//! L1 (the recurrent step's matrix–vector product above all) then run at about half speed:
//! measured on a 256 × 64 `gemv`, 450–530 ns misaligned against 240 ns aligned.

use core::ops::{Deref, DerefMut};

/// `T` placed on a 64-byte boundary: the alignment is the type's own, so a `Box<Aligned<T>>`
/// is allocated and freed with it (`Box` uses `Layout::new::<Aligned<T>>()` both ways).
#[repr(C, align(64))]
struct Aligned<T>(T);

// SAFETY: all-zero bytes are a valid `T`, and the padding `align(64)` may add after it holds no
// value.
unsafe impl<T: bytemuck::Zeroable> bytemuck::Zeroable for Aligned<T> {}

/// A layer's parameter (a weight matrix or a bias vector) on the heap, starting on a 64-byte
/// boundary so that the GEMM and matrix–vector kernels read it in whole cache lines.
///
/// It dereferences to the matrix, so `layer.kernel.as_slice()`, `layer.kernel[(r, c)]` and
/// `*layer.kernel = m` work as on a `Box<SMatrix<..>>`.
pub struct Param<T>(Box<Aligned<T>>);

impl<T: bytemuck::Zeroable> Param<T> {
    /// All zeros, allocated directly on the heap: a large matrix built on the stack first
    /// overflows a 2 MiB test thread in debug builds.
    pub fn zeroed() -> Self {
        Param(bytemuck::zeroed_box())
    }
}

impl<T> Param<T> {
    /// Moves `value` to the heap (through the stack: prefer [`Param::zeroed`] and writing in
    /// place for large matrices).
    pub fn new(value: T) -> Self {
        Param(Box::new(Aligned(value)))
    }
}

impl<T> Deref for Param<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0.0
    }
}

impl<T> DerefMut for Param<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0.0
    }
}

impl<T: bytemuck::Pod> Clone for Param<T> {
    fn clone(&self) -> Self {
        // Copied heap to heap: `Box::clone` would build the matrix on the stack first.
        let mut copy = Self::zeroed();
        bytemuck::bytes_of_mut(&mut *copy).copy_from_slice(bytemuck::bytes_of(&**self));
        copy
    }
}

impl<T: PartialEq> PartialEq for Param<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: core::fmt::Debug> core::fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_start_on_cache_lines_and_clone_their_values() {
        type M = nalgebra::SMatrix<f32, 5, 3>;
        for _ in 0..8 {
            let mut p = Param::<M>::zeroed();
            assert_eq!(p.as_slice().as_ptr().align_offset(64), 0);
            assert!(p.iter().all(|&x| x == 0.0));
            *p = M::from_fn(|r, c| (r * 3 + c) as f32);
            let q = p.clone();
            assert_eq!(q.as_slice().as_ptr().align_offset(64), 0);
            assert_eq!(q, p);
            assert_eq!(q[(4, 2)], 14.0);
            let n = Param::new(nalgebra::SVector::<f32, 3>::repeat(2.0));
            assert_eq!(n.as_slice().as_ptr().align_offset(64), 0);
        }
    }
}
