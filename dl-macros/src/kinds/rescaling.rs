//! `Rescaling(scale, offset = 0.0)`: Keras's preprocessing layer `x · scale + offset`.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use super::shared::{needs_embedding, required};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[Registered::one("Rescaling", "rescaling", resolve)];

pub struct Rescaling {
    pub scale: f32,
    pub offset: f32,
}

fn resolve(call: &LayerCall, input: Option<Shape>, _previous: &str, errors: &mut Errors) -> Resolved {
    let span = call.kind.span();
    let bound = spec::bind(call, &["scale", "offset"], errors);
    let scale = required(
        bound.get(0),
        (
            span,
            "`Rescaling` is missing `scale`, the factor, e.g. `Rescaling(1.0 / 255.0)`",
        ),
        errors,
        |e, errors| value(e, "scale", errors),
    );
    let offset = bound.get(1).map_or(Some(0.0), |e| value(e, "offset", errors));
    let shape = match input? {
        Shape::Tokens(_) => return needs_embedding("Rescaling", span, errors),
        shape => shape,
    };
    Some((
        Kind::Rescaling(Rescaling {
            scale: scale?,
            offset: offset?,
        }),
        shape,
    ))
}

/// A number finite in `f32`, as a literal or a quotient of literals (`1.0 / 255`, as Keras's
/// examples write `scale=1./255`).
fn value(expr: &syn::Expr, what: &str, errors: &mut Errors) -> Option<f32> {
    let v = match expr {
        syn::Expr::Binary(syn::ExprBinary {
            left,
            op: syn::BinOp::Div(_),
            right,
            ..
        }) => spec::number(left).zip(spec::number(right)).map(|(a, b)| a / b),
        e => spec::number(e),
    };
    match v {
        Some(v) if (v as f32).is_finite() => Some(v as f32),
        Some(v) => {
            errors.push(expr.span(), format!("needs `{what}` finite in f32, found {v:e}"));
            None
        }
        None => {
            errors.push(
                expr.span(),
                format!("`{what}` must be a number or a quotient of numbers, e.g. `1.0 / 255.0`"),
            );
            None
        }
    }
}

impl KindSpec for Rescaling {
    fn keras_name(&self) -> &'static str {
        "Rescaling"
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let n = lit(layer.input.len());
        let (s, o) = (
            Literal::u32_unsuffixed(self.scale.to_bits()),
            Literal::u32_unsuffixed(self.offset.to_bits()),
        );
        quote!(#k::layers::Rescaling<#n, #s, #o>)
    }

    fn mask(&self) -> Mask {
        Mask::Passes
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let core = cx.core;
        let (s, o) = (
            Literal::u32_suffixed(self.scale.to_bits()),
            Literal::u32_suffixed(self.offset.to_bits()),
        );
        let corelib = cx.corelib;
        Some(
            quote!(#core::norm::rescale(#corelib::primitive::f32::from_bits(#s), #corelib::primitive::f32::from_bits(#o), x0, out);),
        )
    }
}
