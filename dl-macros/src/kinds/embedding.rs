//! `Embedding(input_dim, output_dim, mask_zero = false)`: token ids to a sequence of vectors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Expr;

use super::shared::{required, sequence_dims, width_mismatch};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, WrongShape, lit};
use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[Registered::one("Embedding", "embedding", resolve)];

pub struct Embedding {
    pub vocabulary: usize,
    pub dim: usize,
    /// `mask_zero`: id 0 is padding, masked out downstream.
    pub mask_zero: bool,
}

fn resolve(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    let span = call.kind.span();
    let bound = spec::bind(call, &["input_dim", "output_dim", "mask_zero"], errors);
    let vocabulary = required(
        bound.get(0),
        (
            span,
            "`Embedding` is missing `input_dim`, the vocabulary size, e.g. `Embedding(10000, 64)`",
        ),
        errors,
        |e, errors| spec::positive(e, "input_dim", "Embedding", errors),
    );
    let dim = required(
        bound.get(1),
        (
            span,
            "`Embedding` is missing `output_dim`, e.g. `Embedding(10000, 64)`",
        ),
        errors,
        |e, errors| spec::positive(e, "output_dim", "Embedding", errors),
    );
    let mask_zero = bound
        .get(2)
        .map_or(Some(false), |e| spec::boolean(e, "mask_zero", errors));
    let l = match input? {
        Shape::Tokens(l) => l,
        other => {
            errors.push(
                span,
                format!(
                    "`Embedding` must come right after a token input (`input: tokens[length]`), but gets {other} from {previous}"
                ),
            );
            return None;
        }
    };
    let (vocabulary, dim, mask_zero) = (vocabulary?, dim?, mask_zero?);
    Some((
        Kind::Embedding(Embedding {
            vocabulary,
            dim,
            mask_zero,
        }),
        Shape::Sequence(l, dim),
    ))
}

/// The vocabulary of a call that is an `Embedding`, when it is written as a literal: the input type of a
/// stand-in for a network with errors.
pub fn written_vocabulary(call: &LayerCall) -> Option<usize> {
    if call.kind != "Embedding" {
        return None;
    }
    match call.args.first().map(|a| &a.value) {
        Some(Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        })) => i.base10_parse::<usize>().ok().filter(|&v| v > 0),
        _ => None,
    }
}

impl KindSpec for Embedding {
    fn keras_name(&self) -> &'static str {
        "Embedding"
    }

    fn param_shapes(&self, _layer: &Layer) -> TensorShapes {
        vec![("embeddings", vec![self.vocabulary, self.dim])]
    }

    fn vocabulary(&self) -> Option<usize> {
        Some(self.vocabulary)
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (t, _) = sequence_dims(layer.input);
        let (v, e) = (lit(self.vocabulary), lit(self.dim));
        quote!(#k::layers::Embedding<#v, #e, #t>)
    }

    /// With `mask_zero`, id 0 is padding: the mask starts here.
    fn mask(&self) -> Mask {
        Mask::Starts(self.mask_zero)
    }

    fn params_struct(&self, core: &TokenStream) -> Option<TokenStream> {
        Some(quote!(#core::params::Embedding))
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, f) = (cx.core, cx.field);
        let d = lit(self.dim);
        Some(quote!(#core::text::embedding(&self.#f.embeddings, #d, x0, out)?;))
    }

    fn weight_file_mismatch(&self, layer: &Layer, wrong: &[WrongShape], shown: &str) -> Option<String> {
        width_mismatch(layer, ("output_dim", self.dim, 1), wrong, shown)
    }
}
