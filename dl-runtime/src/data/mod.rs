//! Reading data sets.

pub mod idx;
pub mod mnist;
pub mod stream;
pub mod text;
