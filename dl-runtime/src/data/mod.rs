//! Reading data sets.

pub mod idx;
