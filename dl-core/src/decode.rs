//! Turning a weight file's bytes into parameter arrays while the compiler evaluates constants,
//! so that an embedded network is plain data in the binary and nothing is parsed at run time.

/// The `N` little-endian `f32` values starting at byte `offset` of `bytes`.
///
/// The macro has checked names, shapes, dtypes and bounds when it read the file; an
/// out-of-range `offset` still fails the build (constant evaluation cannot index out of bounds)
/// rather than reading garbage.
pub const fn decode<const N: usize>(bytes: &[u8], offset: usize) -> [f32; N] {
    let mut out = [0.0f32; N];
    let mut i = 0;
    while i < N {
        let at = offset + 4 * i;
        out[i] = f32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        i += 1;
    }
    out
}
