//! `UpSampling2D(size = (2, 2), interpolation = nearest)`: each pixel of a channels-last image
//! repeated into a `size` block.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;

use super::shared::{image_dims, image_input};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::{spec, suggest};

pub const KINDS: &[Registered] = &[Registered::one("UpSampling2D", "up_sampling2d", resolve)];

/// Rows and columns each pixel becomes.
pub struct UpSampling2D {
    pub size: (usize, usize),
}

/// Keras 3's interpolations besides `nearest`.
const NOT_YET: &[&str] = &["bilinear", "bicubic", "lanczos3", "lanczos5"];

fn interpolation(e: &syn::Expr, errors: &mut Errors) -> Option<()> {
    let name = match e {
        syn::Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    };
    match name.as_deref() {
        Some("nearest") => Some(()),
        Some(other) if NOT_YET.contains(&other) => {
            errors.push(
                e.span(),
                format!("`interpolation = {other}` is not supported yet; `UpSampling2D` has `nearest` only"),
            );
            None
        }
        Some(other) => {
            let known = ["nearest", "bilinear", "bicubic", "lanczos3", "lanczos5"];
            errors.push(e.span(), suggest::unknown("interpolation", other, &known));
            None
        }
        None => {
            errors.push(e.span(), "`interpolation` must be a name such as `nearest`");
            None
        }
    }
}

fn resolve(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    const LAYER: &str = "UpSampling2D";
    let span = call.kind.span();
    let bound = spec::bind(call, &["size", "interpolation"], errors);
    let size = bound
        .get(0)
        .map_or(Some((2, 2)), |e| spec::pair(e, "size", LAYER, errors));
    let nearest = bound.get(1).map_or(Some(()), |e| interpolation(e, errors));
    let (h, w, c) = image_input(LAYER, input?, previous, span, errors)?;
    let (size, ()) = (size?, nearest?);
    Some((
        Kind::UpSampling2D(UpSampling2D { size }),
        Shape::Image(h * size.0, w * size.1, c),
    ))
}

impl KindSpec for UpSampling2D {
    fn keras_name(&self) -> &'static str {
        "UpSampling2D"
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (h, w, c) = image_dims(layer.input);
        let (sh, sw) = (lit(self.size.0), lit(self.size.1));
        quote!(#k::layers::UpSampling2D<#h, #w, #c, #sh, #sw>)
    }

    fn mask(&self) -> Mask {
        Mask::Refuses("UpSampling2D")
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let core = cx.core;
        let Shape::Image(_, w, c) = cx.layer.input else {
            unreachable!("upsampling reads images")
        };
        let (w, c, sh, sw) = (lit(w), lit(c), lit(self.size.0), lit(self.size.1));
        Some(quote!(#core::conv::upsample2d(x0, out, #w, #c, #sh, #sw);))
    }
}
