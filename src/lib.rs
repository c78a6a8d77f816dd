//! # dl
//!
//! Neural networks declared inline in Rust, checked for shape at compile time, trained fast on a
//! CPU. See the README for a tour; [`network!`] is where to start.
//!
//! Without the default `std` feature the crate is `#![no_std]` and needs no allocator: it then
//! offers only networks embedded at compile time (`#[weights("file.safetensors")]`), whose
//! inference runs on [`embedded`]'s kernels.
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "std")]
pub use dl_runtime::*;

/// The `no_std` inference kernels behind networks embedded with `#[weights]`.
pub use dl_core as embedded;

/// Declares a statically shaped network.
///
/// ```
/// use dl::prelude::*;
/// use rand::SeedableRng;
///
/// dl::network! {
///     /// The Keras tutorial's binary classifier.
///     pub struct Mlp {
///         input: [10],
///         hidden: Dense(64, relu),
///         Dense(64, activation = relu),
///         out: Dense(1, sigmoid),
///     }
/// }
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let net = Mlp::new(&mut rng);
/// let p = net.forward(&SVector::<f32, 10>::zeros());
/// assert!(p[0] > 0.0 && p[0] < 1.0);
/// assert_eq!(Mlp::PARAMS, 10 * 64 + 64 + 64 * 64 + 64 + 64 + 1);
/// ```
#[cfg(feature = "std")]
#[macro_export]
macro_rules! network {
    ($($body:tt)*) => {
        $crate::__private::network_impl! { $crate, std; $($body)* }
    };
}

/// Declares a network embedded with `#[weights("file.safetensors")]` (without the `std`
/// feature, only embedded networks exist).
#[cfg(not(feature = "std"))]
#[macro_export]
macro_rules! network {
    ($($body:tt)*) => {
        $crate::__private::network_impl! { $crate, no_std; $($body)* }
    };
}

#[doc(hidden)]
pub mod __private {
    #[cfg(not(feature = "std"))]
    pub use ::core;
    pub use dl_core;
    pub use dl_macros::network_impl;
    #[cfg(feature = "std")]
    pub use dl_runtime::__private::*;
}
