//! Flush-to-zero for the duration of a training step.
//!
//! Weights, moments and gradients that decay towards zero pass through the subnormal range, where
//! x86 arithmetic is 50–100× slower: Adam's moments on a repeated batch made the MNIST MLP's
//! step 2.5× slower here (1.6 ms against 0.63 ms). TensorFlow runs its kernels with denormals flushed for the same reason; this guard does
//! the same and restores the caller's floating-point mode when dropped.

/// Sets the FTZ and DAZ bits of MXCSR while alive (x86-64; elsewhere a no-op).
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

impl FlushDenormals {
    /// Turns flushing on until the guard is dropped.
    #[inline]
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let saved = read_mxcsr();
            write_mxcsr(saved | FTZ_DAZ);
            FlushDenormals { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        FlushDenormals {}
    }
}

impl Default for FlushDenormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushDenormals {
    #[inline]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        write_mxcsr(self.saved);
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn read_mxcsr() -> u32 {
    let mut value: u32 = 0;
    // SAFETY: `stmxcsr` stores the 32-bit control register to the given, valid location.
    unsafe { core::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags)) };
    value
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn write_mxcsr(value: u32) {
    // SAFETY: `ldmxcsr` loads a control word derived from the current one with only the FTZ and
    // DAZ bits changed (or the saved word itself); no exception masks are altered.
    unsafe { core::arch::asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, readonly, preserves_flags)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_subnormals_only_while_alive() {
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let half = std::hint::black_box(0.5f32);
        assert!(tiny * half > 0.0);
        {
            let _guard = FlushDenormals::new();
            assert_eq!(std::hint::black_box(tiny) * std::hint::black_box(half), 0.0);
        }
        assert!(std::hint::black_box(tiny) * std::hint::black_box(half) > 0.0);
    }
}
