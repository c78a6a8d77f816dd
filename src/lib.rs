#![doc = include_str!("../README.md")]
//!
//! # Without `std`
//!
//! Without the default `std` feature the crate is `#![no_std]` and needs no allocator: it then
//! offers only networks embedded at compile time (`#[weights("file.safetensors")]`), whose
//! inference runs on [`embedded`]'s kernels.
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "std")]
pub use dl_runtime::*;

/// The `no_std` inference kernels behind networks embedded with `#[weights]`.
pub use dl_core as embedded;

#[doc = include_str!("../docs/network.md")]
#[cfg(feature = "std")]
#[macro_export]
macro_rules! network {
    ($($body:tt)*) => {
        $crate::__private::network_impl! { $crate, std; $($body)* }
    };
}

/// Declares a network embedded with `#[weights("file.safetensors")]` (without the `std`
/// feature, only embedded networks exist; the full reference is in the `std` build's docs).
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
