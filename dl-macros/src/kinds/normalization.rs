//! `Normalization(axis = -1)`: Keras's preprocessing layer that standardises each feature of the
//! last axis with a mean and variance adapted from data (the network's `adapt`), kept as state.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use super::shared::{last_axis_only, needs_embedding};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[Registered::one("Normalization", "normalization", resolve)];

pub struct Normalization;

fn resolve(call: &LayerCall, input: Option<Shape>, _previous: &str, errors: &mut Errors) -> Resolved {
    const LAYER: &str = "Normalization";
    let span = call.kind.span();
    let bound = spec::bind(call, &["axis", "mean", "variance", "invert"], errors);
    let mut supported = true;
    for (i, what) in [(1, "mean"), (2, "variance")] {
        if let Some(e) = bound.get(i) {
            errors.push(
                e.span(),
                format!(
                    "`{what}` is not supported yet: the statistics are learned from data, with \
                     `net.adapt(&x_train)` before `fit`"
                ),
            );
            supported = false;
        }
    }
    if let Some(e) = bound.get(3) {
        match spec::boolean(e, "invert", errors) {
            Some(false) => {}
            Some(true) => {
                errors.push(e.span(), "`invert = true` is not supported yet");
                supported = false;
            }
            None => supported = false,
        }
    }
    let axis = match bound.get(0) {
        Some(e) => match spec::signed_int(e) {
            Some(v) => Some((v, e.span())),
            None => {
                errors.push(
                    e.span(),
                    "`axis` (Keras's first positional argument) must be an integer literal, e.g. `-1`",
                );
                return None;
            }
        },
        None => None,
    };
    let shape = match input? {
        Shape::Tokens(_) => return needs_embedding(LAYER, span, errors),
        shape => shape,
    };
    if !last_axis_only(
        axis,
        &shape,
        "standardises each feature of the last axis only",
        errors,
    ) {
        return None;
    }
    supported.then_some((Kind::Normalization(Normalization), shape))
}

impl KindSpec for Normalization {
    fn keras_name(&self) -> &'static str {
        "Normalization"
    }

    /// Keras's three non-trainable weights: `mean` and `variance` per feature, and a scalar
    /// `count`.
    fn state_shapes(&self, layer: &Layer) -> TensorShapes {
        vec![
            ("mean", vec![layer.channels()]),
            ("variance", vec![layer.channels()]),
            ("count", vec![]),
        ]
    }

    fn adapts(&self) -> bool {
        true
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let c = layer.channels();
        let (c, n) = (lit(c), lit(layer.input.len() / c));
        quote!(#k::layers::Normalization<#c, #n>)
    }

    fn mask(&self) -> Mask {
        Mask::Passes
    }

    fn params_struct(&self, core: &TokenStream) -> Option<TokenStream> {
        Some(quote!(#core::params::Normalization))
    }

    fn params_type(&self, core: &TokenStream, layer: &Layer, _sizes: &[Literal]) -> TokenStream {
        let c = lit(layer.channels());
        quote!(#core::params::Normalization<#c>)
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, f) = (cx.core, cx.field);
        Some(quote!(#core::norm::normalization(&self.#f.mean, &self.#f.variance, x0, out);))
    }
}
