//! Helpers shared by integration tests.

pub mod keras_reference;
