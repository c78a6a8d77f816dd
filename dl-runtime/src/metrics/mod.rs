//! Keras's metrics: the [`Metric`]s that `fit` and `evaluate` compute beside the loss, and the
//! [`ConfusionMatrix`] of `evaluate`.

mod confusion;
mod metric;
mod state;

pub use confusion::{ClassOutOfRange, ConfusionMatrix};
pub(crate) use metric::LabelInfo;
pub use metric::{Average, Metric};
