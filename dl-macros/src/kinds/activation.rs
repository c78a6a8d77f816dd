//! `Activation(name)`: an activation as a layer.

use proc_macro2::TokenStream;
use quote::quote;

use super::shared::{needs_embedding, required};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec::{self, Activation};

pub const KINDS: &[Registered] = &[Registered::one("Activation", "activation", resolve)];

pub struct ActivationLayer {
    pub activation: Activation,
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
        }),
        shape,
    ))
}

impl KindSpec for ActivationLayer {
    fn keras_name(&self) -> &'static str {
        "Activation"
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
        // Softmax normalises each run of the last axis's values.
        let f = lit(layer.output.dims().last().copied().unwrap_or(1));
        Some(quote! {
            out.copy_from_slice(x0);
            for v in out.chunks_exact_mut(#f) { #act.apply(v); }
        })
    }
}
