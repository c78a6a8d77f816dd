//! Pooling over an image: `MaxPooling2D` and `AveragePooling2D(pool_size = 2, strides =
//! pool_size, padding = valid)`, and the global `GlobalMaxPooling2D`,
//! `GlobalAveragePooling2D` down to one value per channel.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;

use super::shared::{PoolOp, Window, embedded_window, fit_window, image_dims, image_input};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::{Padding, Shape};
use crate::spec;

pub const KINDS: &[Registered] = &[
    Registered::one("MaxPooling2D", "max_pooling2d", resolve_window),
    Registered::one("AveragePooling2D", "average_pooling2d", resolve_window),
    Registered::one("GlobalMaxPooling2D", "global_max_pooling2d", resolve_global),
    Registered::one(
        "GlobalAveragePooling2D",
        "global_average_pooling2d",
        resolve_global,
    ),
];

/// `MaxPooling2D`, `AveragePooling2D`.
pub struct Pool {
    pub op: PoolOp,
    pub window: Window,
}

/// `GlobalMaxPooling2D`, `GlobalAveragePooling2D`.
pub struct GlobalPool {
    pub op: PoolOp,
}

fn resolve_window(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    let kind = call.kind.to_string();
    let span = call.kind.span();
    let op = PoolOp::of(&kind, "MaxPooling2D");
    let bound = spec::bind(call, &["pool_size", "strides", "padding"], errors);
    let pool = bound
        .get(0)
        .map_or(Some((2, 2)), |e| spec::pair(e, "pool_size", &kind, errors));
    let strides = bound.get(1).map(|e| spec::pair(e, "strides", &kind, errors));
    let padding = bound
        .get(2)
        .map_or(Some(Padding::Valid), |e| spec::padding(e, errors));
    let (h, w, c) = image_input(&kind, input?, previous, span, errors)?;
    let pool = pool?;
    // Keras: strides default to the pool size.
    let strides = strides.unwrap_or(Some(pool))?;
    let target = bound.get(0).map_or(span, |e| e.span());
    let (oh, ow, pad) = fit_window(
        "pool window",
        (h, w),
        pool,
        strides,
        padding?,
        previous,
        target,
        errors,
    )?;
    Some((
        Kind::Pool(Pool {
            op,
            window: Window {
                size: pool,
                strides,
                pad,
            },
        }),
        Shape::Image(oh, ow, c),
    ))
}

fn resolve_global(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    let kind = call.kind.to_string();
    let op = PoolOp::of(&kind, "GlobalMaxPooling2D");
    spec::bind(call, &[], errors);
    let (_, _, c) = image_input(&kind, input?, previous, call.kind.span(), errors)?;
    Some((Kind::GlobalPool(GlobalPool { op }), Shape::Flat(c)))
}

impl KindSpec for Pool {
    fn keras_name(&self) -> &'static str {
        match self.op {
            PoolOp::Max => "MaxPooling2D",
            PoolOp::Average => "AveragePooling2D",
        }
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (h, w, c) = image_dims(layer.input);
        let Shape::Image(oh, ow, _) = layer.output else {
            unreachable!("pool output is an image")
        };
        let window = self.window;
        let (ph, pw, sh, sw) = (
            lit(window.size.0),
            lit(window.size.1),
            lit(window.strides.0),
            lit(window.strides.1),
        );
        let (oh, ow, pt, pl) = (lit(oh), lit(ow), lit(window.pad.0), lit(window.pad.1));
        let name = match self.op {
            PoolOp::Max => quote!(MaxPooling2D),
            PoolOp::Average => quote!(AveragePooling2D),
        };
        quote!(#k::layers::#name<#h, #w, #c, #ph, #pw, #sh, #sw, #oh, #ow, #pt, #pl>)
    }

    fn mask(&self) -> Mask {
        Mask::Refuses("pooling")
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, layer) = (cx.core, cx.layer);
        let win = embedded_window(core, layer.input, layer.output, &self.window);
        let func = match self.op {
            PoolOp::Max => quote!(max_pool2d),
            PoolOp::Average => quote!(average_pool2d),
        };
        Some(quote!(#core::pool::#func(&#win, x0, out);))
    }
}

impl KindSpec for GlobalPool {
    fn keras_name(&self) -> &'static str {
        match self.op {
            PoolOp::Max => "GlobalMaxPooling2D",
            PoolOp::Average => "GlobalAveragePooling2D",
        }
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (h, w, c) = image_dims(layer.input);
        match self.op {
            PoolOp::Max => quote!(#k::layers::GlobalMaxPooling2D<#h, #w, #c>),
            PoolOp::Average => quote!(#k::layers::GlobalAveragePooling2D<#h, #w, #c>),
        }
    }

    fn mask(&self) -> Mask {
        Mask::Refuses("global pooling")
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        Some(global_pool_step(cx.core, self.op))
    }
}

/// `dl_core`'s global pooling over the last axis, of an image or a sequence.
pub fn global_pool_step(core: &TokenStream, op: PoolOp) -> TokenStream {
    let func = match op {
        PoolOp::Max => quote!(global_max),
        PoolOp::Average => quote!(global_average),
    };
    quote!(#core::pool::#func(x0, out);)
}
