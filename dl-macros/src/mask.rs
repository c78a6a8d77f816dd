//! Keras's padding mask through the layer list: where the mask of an `Embedding(mask_zero =
//! true)` goes, which layers consume it, and which cannot take it.
//!
//! Keras passes the mask along every layer that supports masking. Here each kind says what it
//! does with one ([`KindSpec::mask`](crate::kinds::KindSpec::mask)): `Dense` (per time step),
//! `Dropout` and `Activation` pass it on unchanged, a recurrent layer consumes it and passes it
//! on only with `return_sequences`, and `GlobalAveragePooling1D` consumes it. Any other layer it
//! reaches is a compile error: Keras 3 drops the mask there with a warning and goes on computing
//! over the padding, which is almost never what was meant.

use proc_macro2::Span;

use crate::errors::Errors;
use crate::kinds::{Kind, Mask};

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
    match (kind.map(|k| k.spec().mask()), source.as_deref()) {
        (Some(Mask::Starts(mask_zero)), _) => {
            *source = mask_zero.then(|| name.to_string());
            false
        }
        // No mask, or a layer too broken to tell: nothing (more) to report.
        (None, _) | (_, None) => {
            *source = None;
            false
        }
        (Some(Mask::Passes), Some(_)) => false,
        (Some(Mask::Consumes { passes_on }), Some(_)) => {
            if !passes_on {
                *source = None;
            }
            true
        }
        (Some(Mask::Refuses(layer)), Some(embedding)) => {
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
