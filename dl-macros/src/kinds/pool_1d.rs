//! `MaxPooling1D`, `AveragePooling1D(pool_size = 2, strides = pool_size, padding = valid)` over
//! a `[steps, channels]` sequence: the 2-D poolings over a `steps × 1 × channels` image.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;

use super::conv1d::{SequencePadding, sequence_padding, sequence_window, single, too_long};
use super::shared::{PoolOp, sequence_input};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[
    Registered::one("MaxPooling1D", "max_pooling1d", resolve),
    Registered::one("AveragePooling1D", "average_pooling1d", resolve),
];

pub struct Pool1D {
    pub op: PoolOp,
    pub size: usize,
    pub stride: usize,
    /// Leading padding steps (`same`).
    pub pad: usize,
}

fn resolve(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    let kind = call.kind.to_string();
    let span = call.kind.span();
    let op = PoolOp::of(&kind, "MaxPooling1D");
    let bound = spec::bind(call, &["pool_size", "strides", "padding"], errors);
    let size = bound
        .get(0)
        .map_or(Some(2), |e| single(e, "pool_size", &kind, errors));
    let stride = bound.get(1).map(|e| single(e, "strides", &kind, errors));
    let padding = bound.get(2).map_or(Some(SequencePadding::Valid), |e| {
        sequence_padding(e, false, errors)
    });
    let (t, c) = sequence_input(&kind, input?, previous, span, errors)?;
    let size = size?;
    // Keras: strides default to the pool size.
    let stride = stride.unwrap_or(Some(size))?;
    let Some((ot, pad)) = sequence_window(t, (size, stride, 1), padding?) else {
        let at = bound.get(0).map_or(span, |e| e.span());
        too_long("pool window", (size, size), t, previous, at, errors);
        return None;
    };
    Some((
        Kind::Pool1D(Pool1D {
            op,
            size,
            stride,
            pad,
        }),
        Shape::Sequence(ot, c),
    ))
}

impl Pool1D {
    fn steps(layer: &Layer) -> (usize, usize, usize) {
        match (layer.input, layer.output) {
            (Shape::Sequence(t, c), Shape::Sequence(ot, _)) => (t, c, ot),
            _ => unreachable!("1-D pooling reads and writes sequences"),
        }
    }
}

impl KindSpec for Pool1D {
    fn keras_name(&self) -> &'static str {
        match self.op {
            PoolOp::Max => "MaxPooling1D",
            PoolOp::Average => "AveragePooling1D",
        }
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (t, c, ot) = Self::steps(layer);
        let [t, c, p, s, ot, pt] = [t, c, self.size, self.stride, ot, self.pad].map(lit);
        let name = match self.op {
            PoolOp::Max => quote!(MaxPooling2D),
            PoolOp::Average => quote!(AveragePooling2D),
        };
        quote!(#k::layers::#name<#t, 1, #c, #p, 1, #s, 1, #ot, 1, #pt, 0>)
    }

    fn mask(&self) -> Mask {
        Mask::Refuses("pooling")
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let core = cx.core;
        let (t, c, ot) = Self::steps(cx.layer);
        let [t, c, p, s, ot, pt] = [t, c, self.size, self.stride, ot, self.pad].map(lit);
        let win = quote!(#core::conv::Window { h: #t, w: 1, c: #c, kh: #p, kw: 1, sh: #s, sw: 1, pt: #pt, pl: 0, oh: #ot, ow: 1 });
        let func = match self.op {
            PoolOp::Max => quote!(max_pool2d),
            PoolOp::Average => quote!(average_pool2d),
        };
        Some(quote!(#core::pool::#func(&#win, x0, out);))
    }
}
