//! The errors of an optimizer's checks. Each converts into [`Error`] with `?`, so a program
//! that validates an optimizer or restores its state can propagate them as any other error.

use crate::error::Error;

/// A hyperparameter out of its range (a NaN learning rate, `beta_1 = 1`, a negative clipping
/// bound), named with the value found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadHyperparameter(pub String);

/// An optimizer state that cannot be restored: a buffer or counter missing, unknown or given
/// twice, a non-finite or impossible value (a negative running mean of squares).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadState(pub String);

impl From<BadHyperparameter> for Error {
    fn from(e: BadHyperparameter) -> Self {
        Error::BadHyperparameter(e.0)
    }
}

impl From<BadState> for Error {
    fn from(e: BadState) -> Self {
        Error::BadOptimizerState(e.0)
    }
}
