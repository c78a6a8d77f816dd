//! Inference for networks embedded at compile time (`#[weights("file.safetensors")]` on a
//! `dl::network!` declaration): `#![no_std]`, no `alloc`, no run-time parsing.
//!
//! Parameters are kept exactly as a weight file stores them, in Keras's layouts (a Dense kernel
//! is `[in, out]` row-major, a Conv2D kernel `HWIO`, an LSTM kernel `[D, 4U]` with gates
//! `i, f, c, o`), so the macro only records where each tensor starts in the file and
//! [`decode()`] turns the bytes into arrays during constant evaluation. Every kernel works on
//! one sample, channels-last, and writes into caller-provided buffers: the generated network
//! keeps them in a scratch struct whose size is known at compile time.
#![no_std]
#![warn(missing_docs)]

pub mod activation;
mod block;
pub mod conv;
pub mod conv1d;
#[cfg(test)]
mod conv_tests;
pub mod decode;
pub mod dense;
mod depthwise3;
pub mod merge;
pub mod norm;
mod one_channel;
pub mod params;
pub mod pool;
pub mod recurrent;
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod rgb3x3;
pub mod text;
mod unknown;

pub use activation::Activation;
pub use decode::decode;
#[doc(hidden)]
pub use unknown::Unknown;
