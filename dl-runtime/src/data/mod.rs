//! Reading data sets, and splitting them.

pub mod csv;
pub mod idx;
pub mod mnist;
pub mod split;
pub mod stream;
pub mod text;

pub use split::{Split, shuffle, train_test_split};
