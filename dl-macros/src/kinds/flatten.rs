//! `Flatten`: any features as one flat vector.

use proc_macro2::TokenStream;
use quote::quote;

use super::shared::needs_embedding;
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[Registered::one("Flatten", "flatten", resolve)];

pub struct Flatten;

fn resolve(call: &LayerCall, input: Option<Shape>, _previous: &str, errors: &mut Errors) -> Resolved {
    spec::bind(call, &[], errors);
    match input? {
        Shape::Tokens(_) => needs_embedding("Flatten", call.kind.span(), errors),
        shape => Some((Kind::Flatten(Flatten), Shape::Flat(shape.len()))),
    }
}

impl KindSpec for Flatten {
    fn keras_name(&self) -> &'static str {
        "Flatten"
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let n = lit(layer.input.len());
        quote!(#k::layers::Flatten<#n>)
    }

    fn mask(&self) -> Mask {
        Mask::Refuses("Flatten")
    }

    /// Its output is its input's memory.
    fn writes_output(&self) -> bool {
        false
    }

    fn embedded_step(&self, _cx: &Step<'_>) -> Option<TokenStream> {
        None
    }
}
