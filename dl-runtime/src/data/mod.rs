//! Reading data sets.

pub mod idx;
pub mod mnist;
pub mod text;
