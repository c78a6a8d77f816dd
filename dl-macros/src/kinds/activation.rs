//! `Activation(name)`: an activation as a layer; `ReLU(max_value = None, negative_slope = 0,
//! threshold = 0)`, Keras's rectifier layer, is one with its arguments.

use proc_macro2::TokenStream;
use quote::quote;

use super::shared::{needs_embedding, required};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec::{self, Activation};

pub const KINDS: &[Registered] = &[
    Registered::one("Activation", "activation", resolve),
    Registered::one("ReLU", "re_lu", resolve_relu),
];

pub struct ActivationLayer {
    pub activation: Activation,
    /// `Activation` or `ReLU`.
    pub keras_name: &'static str,
}

fn resolve_relu(call: &LayerCall, input: Option<Shape>, _previous: &str, errors: &mut Errors) -> Resolved {
    let span = call.kind.span();
    let bound = spec::bind(call, &["max_value", "negative_slope", "threshold"], errors);
    let max_value = match bound.get(0) {
        None => Some(None),
        Some(syn::Expr::Path(p)) if p.path.is_ident("None") => Some(None),
        Some(e) => spec::non_negative(e, "max_value", "ReLU", errors).map(Some),
    };
    let slope = bound.get(1).map_or(Some(0.0), |e| {
        spec::non_negative(e, "negative_slope", "ReLU", errors)
    });
    let threshold = bound
        .get(2)
        .map_or(Some(0.0), |e| spec::non_negative(e, "threshold", "ReLU", errors));
    let shape = match input? {
        Shape::Tokens(_) => return needs_embedding("ReLU", span, errors),
        shape => shape,
    };
    let activation = match (max_value?, slope?, threshold?) {
        (None, 0.0, 0.0) => Activation::Relu,
        (Some(6.0), 0.0, 0.0) => Activation::Relu6,
        (max_value, slope, threshold) => {
            Activation::ReluWith(spec::ReluArgs::new(max_value, slope, threshold))
        }
    };
    Some((
        Kind::Activation(ActivationLayer {
            activation,
            keras_name: "ReLU",
        }),
        shape,
    ))
}

fn resolve(call: &LayerCall, input: Option<Shape>, _previous: &str, errors: &mut Errors) -> Resolved {
    let span = call.kind.span();
    let bound = spec::bind(call, &["activation"], errors);
    let activation = required(
        bound.get(0),
        (
            span,
            "`Activation` is missing `activation`, its function, e.g. `Activation(relu)`",
        ),
        errors,
        spec::activation,
    );
    let shape = match input? {
        Shape::Tokens(_) => return needs_embedding("Activation", span, errors),
        shape => shape,
    };
    Some((
        Kind::Activation(ActivationLayer {
            activation: activation?,
            keras_name: "Activation",
        }),
        shape,
    ))
}

impl KindSpec for ActivationLayer {
    fn keras_name(&self) -> &'static str {
        self.keras_name
    }

    fn activation(&self) -> Activation {
        self.activation
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let n = lit(layer.output.len());
        let f = lit(layer.output.dims().last().copied().unwrap_or(1));
        quote!(#k::layers::ActivationLayer<#n, #f>)
    }

    fn mask(&self) -> Mask {
        Mask::Passes
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (layer, act) = (cx.layer, cx.act);
        if layer.activation() != crate::spec::Activation::Softmax {
            // Element-wise: one pass over the whole tensor, not a call per pixel.
            return Some(quote! {
                out.copy_from_slice(x0);
                #act.apply(out);
            });
        }
        // Softmax normalises each run of the last axis's values.
        let f = lit(layer.output.dims().last().copied().unwrap_or(1));
        Some(quote! {
            out.copy_from_slice(x0);
            for v in out.chunks_exact_mut(#f) { #act.apply(v); }
        })
    }
}
