//! Functions compiled twice, for AVX-512 and portably, chosen at run time: the element-wise
//! loops of the layers vectorise 16 lanes wide where the CPU allows, without
//! `-C target-cpu=native`.

/// Defines a function whose body is compiled twice: for AVX-512F with FMA (used when the CPU
/// has them, so that its plain loops vectorise 16 lanes wide and a fused multiply-add is one
/// instruction), and portably. The body sees the const `FMA`, to pass on to the math functions.
/// `a * b + c` is two roundings in both versions (LLVM does not fuse it on its own), so a body
/// that does not branch on `FMA` gives the same bits either way.
macro_rules! simd_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn imp<const FMA: bool>($($arg: $ty),*) $body

            /// # Safety
            /// The CPU must support AVX-512F and FMA.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx512($($arg: $ty),*) {
                imp::<true>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports AVX-512F and FMA.
                    unsafe { avx512($($arg),*) };
                    return;
                }
            }
            imp::<false>($($arg),*)
        }
    };
}

pub(crate) use simd_fn;
