//! [`Floats`]: the growable `f32` buffer a training workspace keeps a layer's output and its
//! gradient in (and the kernels their working buffers), placed where the passes that stream
//! through it run fastest.
//!
//! A `Vec<f32>` starts wherever the allocator puts it (16 bytes aligned) and lives on 4 KiB
//! pages. The passes that read a whole batch's tensor (batch normalization's statistics, the
//! normalized inputs its readers compute, the input gradients) read several MiB each — MobileNetV1's
//! first blocks hold 32 samples of 48×48×16 floats, 4.7 MiB a tensor — and on 4 KiB pages every
//! 1,024 floats cross a page: the hardware prefetchers stop at each page boundary and the TLB
//! covers a fraction of one tensor (dearer still under virtualisation, where a TLB miss walks
//! two page tables). Linux backs memory with 2 MiB pages where the process asks for it
//! (`madvise(MADV_HUGEPAGE)`; `transparent_hugepage` = `madvise` is what most distributions
//! ship), but only whole 2 MiB pages on 2 MiB boundaries. So a buffer of 2 MiB or more starts
//! on a 2 MiB boundary and is advised before any of its pages is touched; a smaller one starts
//! on a 64-byte boundary (a cache line, one AVX-512 vector). Measured on MobileNetV1's training
//! step (criterion, one core): see BENCHMARKS.md. Elsewhere the advice does nothing, and it never
//! changes a value.

use core::alloc::Layout;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// Bytes of a huge page, and the size from which a buffer is aligned and advised to use them.
const HUGE_PAGE: usize = 2 << 20;

/// A growable buffer of `f32` that dereferences to a slice: a training workspace's tensors (a
/// layer's output and its gradient, [`Buffers`](crate::layers::Buffers)) and the kernels'
/// working buffers (transposed kernels, recurrent states, the GEMM's packed panels).
///
/// It grows as [`Vec::resize`] with zeros does ([`Floats::fit_len`]) and never shrinks its
/// allocation; from 2 MiB it starts on a 2 MiB boundary and asks Linux for huge pages.
///
/// ```
/// use dl_runtime::floats::Floats;
///
/// let mut y = Floats::new();
/// y.fit_len(3);
/// y[1] = 2.0;
/// y.fit_len(4);
/// assert_eq!(&y[..], &[0.0, 2.0, 0.0, 0.0]);
/// ```
pub struct Floats {
    ptr: NonNull<f32>,
    len: usize,
    /// Floats allocated; `0` means nothing is (`ptr` dangles).
    capacity: usize,
}

// SAFETY: `Floats` owns its allocation as a `Vec<f32>` would; nothing else points into it.
unsafe impl Send for Floats {}
// SAFETY: shared access hands out only `&[f32]`.
unsafe impl Sync for Floats {}

impl Floats {
    /// An empty buffer; allocates nothing.
    pub const fn new() -> Self {
        Floats {
            ptr: NonNull::dangling(),
            len: 0,
            capacity: 0,
        }
    }

    /// The layout of an allocation of `capacity` floats (`capacity > 0`).
    fn layout(capacity: usize) -> Layout {
        let bytes = capacity
            .checked_mul(size_of::<f32>())
            .expect("a buffer of more floats than the address space holds");
        let align = if bytes >= HUGE_PAGE { HUGE_PAGE } else { 64 };
        Layout::from_size_align(bytes, align).expect("a buffer of more floats than the address space holds")
    }

    /// Sets the length to `len`: values below both lengths stay, new ones are zeros, and the
    /// allocation never shrinks (a training step after the first allocates nothing).
    pub fn fit_len(&mut self, len: usize) {
        if len > self.capacity {
            self.grow(len);
        }
        if len > self.len {
            // SAFETY: `self.len..len` lies within the allocation of `capacity >= len` floats.
            unsafe { self.ptr.as_ptr().add(self.len).write_bytes(0, len - self.len) };
        }
        self.len = len;
    }

    /// Moves the values to an allocation of exactly `capacity` floats.
    #[cold]
    fn grow(&mut self, capacity: usize) {
        let layout = Self::layout(capacity);
        // SAFETY: `layout` has a non-zero size (`capacity > self.capacity >= 0`).
        let raw = unsafe { std::alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<f32>()) else {
            std::alloc::handle_alloc_error(layout)
        };
        if layout.align() == HUGE_PAGE {
            advise_huge_pages(raw, layout.size());
        }
        // SAFETY: both allocations hold at least `self.len` floats and are distinct.
        unsafe { core::ptr::copy_nonoverlapping(self.ptr.as_ptr(), ptr.as_ptr(), self.len) };
        self.free();
        self.ptr = ptr;
        self.capacity = capacity;
    }

    /// Returns the allocation, if any, to the allocator.
    fn free(&mut self) {
        if self.capacity > 0 {
            // SAFETY: allocated in `grow` with this very layout.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast(), Self::layout(self.capacity)) };
        }
    }

    /// Sets the length to zero, keeping the allocation.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The values.
    pub fn as_slice(&self) -> &[f32] {
        self
    }

    /// The values, to write.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self
    }
}

/// Asks Linux to back `bytes` bytes from `start` (on a huge-page boundary) with huge pages. Only
/// advice: an error (no transparent huge pages) leaves the memory as it was.
fn advise_huge_pages(start: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: `start..start + bytes` is an allocation this process owns; the advice changes how
    // the kernel backs it, not what it holds.
    unsafe {
        libc::madvise(start.cast(), bytes, libc::MADV_HUGEPAGE);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, bytes);
}

impl Drop for Floats {
    fn drop(&mut self) {
        self.free();
    }
}

impl Default for Floats {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for Floats {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        // SAFETY: `ptr` holds `len` initialised floats (or dangles, aligned, with `len == 0`).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for Floats {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Clone for Floats {
    fn clone(&self) -> Self {
        Floats::from(&self[..])
    }
}

impl From<&[f32]> for Floats {
    fn from(values: &[f32]) -> Self {
        let mut floats = Floats::new();
        if !values.is_empty() {
            floats.grow(values.len());
            // SAFETY: the new allocation holds `values.len()` floats.
            unsafe { core::ptr::copy_nonoverlapping(values.as_ptr(), floats.ptr.as_ptr(), values.len()) };
            floats.len = values.len();
        }
        floats
    }
}

impl From<Vec<f32>> for Floats {
    fn from(values: Vec<f32>) -> Self {
        Floats::from(&values[..])
    }
}

impl<'a> IntoIterator for &'a Floats {
    type Item = &'a f32;
    type IntoIter = core::slice::Iter<'a, f32>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Floats {
    type Item = &'a mut f32;
    type IntoIter = core::slice::IterMut<'a, f32>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl core::fmt::Debug for Floats {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<f32> for Floats {
    fn from_iter<I: IntoIterator<Item = f32>>(values: I) -> Self {
        Floats::from(values.into_iter().collect::<Vec<f32>>())
    }
}

impl From<Floats> for Vec<f32> {
    fn from(floats: Floats) -> Self {
        floats.to_vec()
    }
}

impl PartialEq for Floats {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl PartialEq<[f32]> for Floats {
    fn eq(&self, other: &[f32]) -> bool {
        self[..] == *other
    }
}

impl<const N: usize> PartialEq<[f32; N]> for Floats {
    fn eq(&self, other: &[f32; N]) -> bool {
        self[..] == other[..]
    }
}

impl PartialEq<Vec<f32>> for Floats {
    fn eq(&self, other: &Vec<f32>) -> bool {
        self[..] == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grows keep the values, zero the new ones, and clearing keeps the allocation; every
    /// allocation starts on its boundary.
    #[test]
    fn fit_len_grows_as_resize_with_zeros() {
        let mut floats = Floats::new();
        let mut vec = Vec::new();
        for (len, fill) in [
            (5, 1.0),
            (3, 2.0),
            (700_000, 3.0),
            (9, 4.0),
            (1_000, 5.0),
            (0, 6.0),
        ] {
            floats.fit_len(len);
            vec.resize(len, 0.0);
            assert_eq!(&floats[..], &vec[..], "after fit_len({len})");
            let align = if floats.capacity * 4 >= HUGE_PAGE {
                HUGE_PAGE
            } else {
                64
            };
            assert_eq!(
                floats.ptr.as_ptr() as usize % align,
                0,
                "capacity {}",
                floats.capacity
            );
            floats.iter_mut().step_by(3).for_each(|v| *v = fill);
            vec.iter_mut().step_by(3).for_each(|v| *v = fill);
        }
        assert_eq!(floats.capacity, 700_000, "the allocation never shrinks");
        floats.fit_len(700_000);
        assert!(
            floats.iter().all(|&v| v == 0.0),
            "cleared values come back as zeros"
        );
        let copy = floats.clone();
        assert_eq!(copy, floats);
        assert_eq!(Floats::from(vec![1.0, 2.0]).as_slice(), &[1.0, 2.0]);
        assert_eq!(format!("{:?}", Floats::from(vec![1.0])), "[1.0]");
    }

    /// The `VmFlags` of the mapping holding `address`, from `/proc/self/smaps`.
    #[cfg(target_os = "linux")]
    fn flags_at(address: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((a, b)) = range.split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = (a..b).contains(&address);
            } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return Some(flags.to_string());
            }
        }
        None
    }

    /// A buffer of 2 MiB or more is advised to huge pages (`hg` in its mapping's flags).
    #[cfg(target_os = "linux")]
    #[test]
    fn large_buffers_are_advised_to_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            eprintln!("this kernel has no transparent huge pages: nothing to advise");
            return;
        }
        let mut large = Floats::new();
        large.fit_len(3 << 20);
        let flags = flags_at(large.as_ptr() as usize + (6 << 20)).expect("the buffer's mapping");
        assert!(flags.split_whitespace().any(|f| f == "hg"), "flags {flags}");
    }
}
