//! `GlobalMaxPooling1D`, `GlobalAveragePooling1D`: a sequence down to one value per feature.

use proc_macro2::TokenStream;
use quote::quote;

use super::pool::global_pool_step;
use super::shared::{PoolOp, sequence_dims, sequence_input};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[
    Registered::one("GlobalMaxPooling1D", "global_max_pooling1d", resolve),
    Registered::one("GlobalAveragePooling1D", "global_average_pooling1d", resolve),
];

pub struct GlobalPool1D {
    pub op: PoolOp,
}

fn resolve(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    let kind = call.kind.to_string();
    let op = PoolOp::of(&kind, "GlobalMaxPooling1D");
    spec::bind(call, &[], errors);
    let (_, d) = sequence_input(&kind, input?, previous, call.kind.span(), errors)?;
    Some((Kind::GlobalPool1D(GlobalPool1D { op }), Shape::Flat(d)))
}

impl KindSpec for GlobalPool1D {
    fn keras_name(&self) -> &'static str {
        match self.op {
            PoolOp::Max => "GlobalMaxPooling1D",
            PoolOp::Average => "GlobalAveragePooling1D",
        }
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (t, d) = sequence_dims(layer.input);
        match self.op {
            PoolOp::Max => quote!(#k::layers::GlobalMaxPooling1D<#t, #d>),
            PoolOp::Average => quote!(#k::layers::GlobalAveragePooling1D<#t, #d>),
        }
    }

    /// The average leaves the padding out, and ends the mask; the maximum cannot take one.
    fn mask(&self) -> Mask {
        match self.op {
            PoolOp::Average => Mask::Consumes { passes_on: false },
            PoolOp::Max => Mask::Refuses("GlobalMaxPooling1D"),
        }
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let core = cx.core;
        Some(match self.op {
            PoolOp::Average if cx.layer.masked => quote!(#core::pool::global_average_masked(x0, ids, out);),
            op => global_pool_step(core, op),
        })
    }
}
