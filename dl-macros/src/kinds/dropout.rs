//! `Dropout(rate, seed = None)`: training only; at inference its output is its input.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::shared::{needs_embedding, required};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[Registered::one("Dropout", "dropout", resolve)];

pub struct Dropout {
    pub rate: f32,
    pub seed: Option<u64>,
}

fn resolve(call: &LayerCall, input: Option<Shape>, _previous: &str, errors: &mut Errors) -> Resolved {
    let span = call.kind.span();
    let bound = spec::bind(call, &["rate", "seed"], errors);
    let rate = required(
        bound.get(0),
        (
            span,
            "`Dropout` is missing `rate`, the fraction dropped, e.g. `Dropout(0.5)`",
        ),
        errors,
        |e, errors| spec::fraction(e, "rate", errors),
    );
    let seed = match bound.get(1) {
        Some(e) => spec::int(e, "seed", errors).map(|s| Some(s as u64)),
        None => Some(None),
    };
    let shape = match input? {
        Shape::Tokens(_) => return needs_embedding("Dropout", span, errors),
        shape => shape,
    };
    Some((
        Kind::Dropout(Dropout {
            rate: rate?,
            seed: seed?,
        }),
        shape,
    ))
}

impl KindSpec for Dropout {
    fn keras_name(&self) -> &'static str {
        "Dropout"
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, index: usize) -> TokenStream {
        let n = lit(layer.input.len());
        let bits = Literal::u32_unsuffixed(self.rate.to_bits());
        // Without a seed, each Dropout layer draws its own stream: its position.
        let seed = Literal::u64_unsuffixed(self.seed.unwrap_or(index as u64));
        quote!(#k::layers::Dropout<#n, #bits, #seed>)
    }

    fn mask(&self) -> Mask {
        Mask::Passes
    }

    /// At inference its output is its input's memory.
    fn writes_output(&self) -> bool {
        false
    }

    fn embedded_step(&self, _cx: &Step<'_>) -> Option<TokenStream> {
        None
    }
}
