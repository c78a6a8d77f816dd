//! `LayerNormalization(axis = -1, epsilon = 0.001, center = true, scale = true)`, over the last
//! axis of any input but token ids.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use super::shared::needs_embedding;
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[Registered::one(
    "LayerNormalization",
    "layer_normalization",
    resolve,
)];

pub struct LayerNorm {
    pub epsilon: f64,
    /// `center`: without it there is no `beta`.
    pub center: bool,
    /// `scale`: without it there is no `gamma`.
    pub scale: bool,
}

fn resolve(call: &LayerCall, input: Option<Shape>, _previous: &str, errors: &mut Errors) -> Resolved {
    const LAYER: &str = "LayerNormalization";
    let span = call.kind.span();
    let bound = spec::bind(call, &["axis", "epsilon", "center", "scale"], errors);
    let epsilon = bound.get(1).map_or(Some(0.001), |e| {
        spec::positive_number(e, "epsilon", LAYER, errors)
    });
    let flag = |i: usize, what: &str, errors: &mut Errors| {
        bound
            .get(i)
            .map_or(Some(true), |e| spec::boolean(e, what, errors))
    };
    let center = flag(2, "center", errors);
    let scale = flag(3, "scale", errors);
    let axis = match bound.get(0) {
        Some(e) => match spec::signed_int(e) {
            Some(v) => Some(Some((v, e.span()))),
            None => {
                errors.push(
                    e.span(),
                    "`axis` (Keras's first positional argument) must be an integer literal, e.g. `-1`; \
                     name the others, e.g. `LayerNormalization(epsilon = 1e-6)`",
                );
                None
            }
        },
        None => Some(None),
    };
    let shape = match input? {
        Shape::Tokens(_) => return needs_embedding(LAYER, span, errors),
        shape => shape,
    };
    // Keras counts the batch axis: the last axis of an image batch is 3, of a vector batch 1.
    let last = shape.dims().len() as i64;
    if let Some(Some((v, at))) = axis
        && v != -1
        && v != last
    {
        errors.push(
            at,
            format!(
                "`{LAYER}` over other axes than the last is not supported yet: `axis = -1` (or {last} for {shape}), found {v}"
            ),
        );
        return None;
    }
    let (epsilon, center, scale, _) = (epsilon?, center?, scale?, axis?);
    Some((
        Kind::LayerNorm(LayerNorm {
            epsilon,
            center,
            scale,
        }),
        shape,
    ))
}

impl KindSpec for LayerNorm {
    fn keras_name(&self) -> &'static str {
        "LayerNormalization"
    }

    /// `gamma` then `beta`, per feature (the last axis), as Keras builds them.
    fn param_shapes(&self, layer: &Layer) -> TensorShapes {
        let d = layer.channels();
        let mut shapes = Vec::new();
        if self.scale {
            shapes.push(("gamma", vec![d]));
        }
        if self.center {
            shapes.push(("beta", vec![d]));
        }
        shapes
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let d = layer.channels();
        let (g, d) = (lit(layer.input.len() / d), lit(d));
        let e = Literal::u32_unsuffixed((self.epsilon as f32).to_bits());
        let (center, scale) = (self.center, self.scale);
        quote!(#k::layers::LayerNormalization<#d, #g, #e, #center, #scale>)
    }

    /// Every step is normalized on its own, as in Keras.
    fn mask(&self) -> Mask {
        Mask::Passes
    }

    fn params_struct(&self, core: &TokenStream) -> Option<TokenStream> {
        Some(quote!(#core::params::LayerNormalization))
    }

    fn params_type(&self, core: &TokenStream, layer: &Layer, _sizes: &[Literal]) -> TokenStream {
        let d = layer.channels();
        let (g, b) = (
            lit(if self.scale { d } else { 0 }),
            lit(if self.center { d } else { 0 }),
        );
        quote!(#core::params::LayerNormalization<#g, #b>)
    }

    /// An absent tensor is an empty one in the struct.
    fn params_init(&self, core: &TokenStream, mut decoded: Vec<TokenStream>) -> TokenStream {
        if !self.scale {
            decoded.push(quote!(gamma: []));
        }
        if !self.center {
            decoded.push(quote!(beta: []));
        }
        quote!(#core::params::LayerNormalization { #(#decoded,)* })
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, f) = (cx.core, cx.field);
        let d = lit(cx.layer.channels());
        let eps = Literal::f32_suffixed(self.epsilon as f32);
        Some(quote!(#core::norm::layer_norm(#d, &self.#f.gamma, &self.#f.beta, #eps, x0, out);))
    }
}
