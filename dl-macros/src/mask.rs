//! Keras's padding mask through the layer list: where the mask of an `Embedding(mask_zero =
//! true)` goes, which layers consume it, and which cannot take it.
//!
//! Keras passes the mask along every layer that supports masking. Here `Dense` (per time step)
//! and `Dropout` pass it on unchanged, a recurrent layer consumes it and passes it on only with
//! `return_sequences`, and `GlobalAveragePooling1D` consumes it. Any other layer it reaches is
//! a compile error: Keras 3 drops the mask there with a warning and goes on computing over the
//! padding, which is almost never what was meant.

use proc_macro2::Span;

use crate::errors::Errors;
use crate::model::{Kind, PoolOp};

/// Advances the mask past one layer (`kind`, `None` when its own arguments were wrong) named
/// `name`; `source` is the masking embedding whose mask reaches the layer, if any. Returns
/// whether the layer consumes the mask (and so runs its masked kernels).
pub fn flow(
    source: &mut Option<String>,
    kind: Option<&Kind>,
    name: &str,
    span: Span,
    errors: &mut Errors,
) -> bool {
    if let Some(Kind::Embedding { mask_zero, .. }) = kind {
        *source = mask_zero.then(|| name.to_string());
        return false;
    }
    let (Some(embedding), Some(kind)) = (source.as_deref(), kind) else {
        // No mask, or a layer too broken to tell: nothing (more) to report.
        *source = None;
        return false;
    };
    match kind {
        Kind::Dense { .. } | Kind::Dropout { .. } | Kind::Activation { .. } => false,
        Kind::Recurrent { sequences, .. } => {
            if !sequences {
                *source = None;
            }
            true
        }
        Kind::GlobalPool1D { op: PoolOp::Average } => {
            *source = None;
            true
        }
        _ => {
            let layer = kind_name(kind);
            errors.push(
                span,
                format!(
                    "`{layer}` does not support masking, but the padding mask of `{embedding}` (`mask_zero = true`) reaches it; \
                     consume the mask first (a recurrent layer or `GlobalAveragePooling1D`), or drop `mask_zero`"
                ),
            );
            *source = None;
            false
        }
    }
}

/// The Keras kind of the layers that can meet a mask but not take it.
fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Flatten => "Flatten",
        Kind::GlobalPool1D { .. } => "GlobalMaxPooling1D",
        Kind::Conv2D { .. } => "Conv2D",
        Kind::Pool { .. } => "pooling",
        Kind::GlobalPool { .. } => "global pooling",
        _ => "this layer",
    }
}
