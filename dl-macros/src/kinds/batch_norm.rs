//! `BatchNormalization(axis = -1, momentum = 0.99, epsilon = 0.001, center = true, scale =
//! true)`, over the last axis of any input but token ids.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use super::shared::{last_axis_only, needs_embedding};
use super::{Kind, KindSpec, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;
use crate::spec::Activation;

pub const KINDS: &[Registered] = &[Registered::one(
    "BatchNormalization",
    "batch_normalization",
    resolve,
)];

pub struct BatchNorm {
    pub momentum: f64,
    pub epsilon: f64,
}

fn resolve(call: &LayerCall, input: Option<Shape>, _previous: &str, errors: &mut Errors) -> Resolved {
    const LAYER: &str = "BatchNormalization";
    let span = call.kind.span();
    let bound = spec::bind(call, &["axis", "momentum", "epsilon", "center", "scale"], errors);
    let momentum = bound
        .get(1)
        .map_or(Some(0.99), |e| spec::unit_interval(e, "momentum", LAYER, errors));
    let epsilon = bound.get(2).map_or(Some(0.001), |e| {
        spec::positive_number(e, "epsilon", LAYER, errors)
    });
    let mut supported = true;
    for (i, what) in [(3, "center"), (4, "scale")] {
        if let Some(e) = bound.get(i) {
            match spec::boolean(e, what, errors) {
                Some(true) => {}
                Some(false) => {
                    errors.push(
                        e.span(),
                        format!(
                            "`{what} = false` is not supported yet; `{LAYER}` always has `gamma` and `beta`"
                        ),
                    );
                    supported = false;
                }
                None => supported = false,
            }
        }
    }
    let axis = match bound.get(0) {
        Some(e) => match spec::signed_int(e) {
            Some(v) => Some((v, e.span())),
            None => {
                errors.push(
                    e.span(),
                    "`axis` (Keras's first positional argument) must be an integer literal, e.g. `-1`; \
                     name the others, e.g. `BatchNormalization(momentum = 0.9)`",
                );
                supported = false;
                None
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
        &format!("`{LAYER}` normalizes over the last axis only"),
        errors,
    ) {
        return None;
    }
    let (momentum, epsilon) = (momentum?, epsilon?);
    supported.then_some((Kind::BatchNorm(BatchNorm { momentum, epsilon }), shape))
}

impl KindSpec for BatchNorm {
    fn keras_name(&self) -> &'static str {
        "BatchNormalization"
    }

    /// gamma and beta per channel (the last axis).
    fn param_shapes(&self, layer: &Layer) -> TensorShapes {
        vec![
            ("gamma", vec![layer.channels()]),
            ("beta", vec![layer.channels()]),
        ]
    }

    /// The moving mean and variance.
    fn state_shapes(&self, layer: &Layer) -> TensorShapes {
        vec![
            ("moving_mean", vec![layer.channels()]),
            ("moving_variance", vec![layer.channels()]),
        ]
    }

    fn batch_statistics(&self) -> bool {
        true
    }

    /// A relu is applied as the normalized value is stored, its mask recomputed from the input
    /// in the backward pass (`dl_runtime::layers::batch_norm`).
    fn applies_in_training(&self, activation: Activation) -> bool {
        activation == Activation::Relu
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let c = layer.channels();
        let (n, c) = (lit(layer.input.len() / c), lit(c));
        let m = Literal::u64_unsuffixed(self.momentum.to_bits());
        let e = Literal::u32_unsuffixed((self.epsilon as f32).to_bits());
        quote!(#k::layers::BatchNormalization<#c, #n, #m, #e>)
    }

    fn params_struct(&self, core: &TokenStream) -> Option<TokenStream> {
        Some(quote!(#core::params::BatchNormalization))
    }

    fn params_type(&self, core: &TokenStream, layer: &Layer, _sizes: &[Literal]) -> TokenStream {
        let c = lit(layer.channels());
        quote!(#core::params::BatchNormalization<#c>)
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, f) = (cx.core, cx.field);
        let eps = Literal::f32_suffixed(self.epsilon as f32);
        Some(quote!(#core::norm::batch_norm(&self.#f, #eps, x0, out);))
    }
}
