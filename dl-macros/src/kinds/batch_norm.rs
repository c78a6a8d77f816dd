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
    /// `center`: without it there is no `beta`.
    pub center: bool,
    /// `scale`: without it there is no `gamma`.
    pub scale: bool,
    /// Channels (the last axis), for the embedded stand-in of an absent tensor.
    pub channels: usize,
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
    let flag = |i: usize, what: &str, errors: &mut Errors| {
        bound
            .get(i)
            .map_or(Some(true), |e| spec::boolean(e, what, errors))
    };
    let (center, scale) = (flag(3, "center", errors), flag(4, "scale", errors));
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
    let (momentum, epsilon, center, scale) = (momentum?, epsilon?, center?, scale?);
    let channels = shape.dims().last().copied().unwrap_or(1);
    supported.then_some((
        Kind::BatchNorm(BatchNorm {
            momentum,
            epsilon,
            center,
            scale,
            channels,
        }),
        shape,
    ))
}

impl KindSpec for BatchNorm {
    fn keras_name(&self) -> &'static str {
        "BatchNormalization"
    }

    /// `gamma` then `beta` per channel (the last axis), as Keras builds them.
    fn param_shapes(&self, layer: &Layer) -> TensorShapes {
        let c = layer.channels();
        let mut shapes = Vec::new();
        if self.scale {
            shapes.push(("gamma", vec![c]));
        }
        if self.center {
            shapes.push(("beta", vec![c]));
        }
        shapes
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

    /// `dl_core::params::BatchNormalization` keeps gamma and beta without `scale` or `center`
    /// too (at 1 and 0), so the embedded kernel is the same.
    fn embedded_floats(&self, layer: &Layer) -> usize {
        4 * layer.channels()
    }

    /// A relu is applied as the normalized value is stored, its mask recomputed from the input
    /// in the backward pass (`dl_runtime::layers::batch_norm`).
    fn applies_in_training(&self, activation: Activation) -> bool {
        activation == Activation::Relu
    }

    /// Its sums run over the rows in order, and its input gradient depends on each value's own
    /// row once they are taken.
    fn normalizes_by_chunks(&self) -> bool {
        true
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let c = layer.channels();
        let (n, c) = (lit(layer.input.len() / c), lit(c));
        let m = Literal::u64_unsuffixed(self.momentum.to_bits());
        let e = Literal::u32_unsuffixed((self.epsilon as f32).to_bits());
        let (center, scale) = (self.center, self.scale);
        quote!(#k::layers::BatchNormalization<#c, #n, #m, #e, #center, #scale>)
    }

    fn params_struct(&self, core: &TokenStream) -> Option<TokenStream> {
        Some(quote!(#core::params::BatchNormalization))
    }

    fn params_type(&self, core: &TokenStream, layer: &Layer, _sizes: &[Literal]) -> TokenStream {
        let c = lit(layer.channels());
        quote!(#core::params::BatchNormalization<#c>)
    }

    /// An absent tensor is its neutral value in the struct (`gamma` 1, `beta` 0), so that the
    /// kernel and the folding into a layer before are those of a full layer.
    fn params_init(&self, core: &TokenStream, mut decoded: Vec<TokenStream>) -> TokenStream {
        let c = lit(self.channels);
        if !self.scale {
            decoded.push(quote!(gamma: [1.0; #c]));
        }
        if !self.center {
            decoded.push(quote!(beta: [0.0; #c]));
        }
        quote!(#core::params::BatchNormalization { #(#decoded,)* })
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, f) = (cx.core, cx.field);
        let eps = Literal::f32_suffixed(self.epsilon as f32);
        Some(quote!(#core::norm::batch_norm(&self.#f, #eps, x0, out);))
    }
}
