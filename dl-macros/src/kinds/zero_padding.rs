//! `ZeroPadding2D(padding = 1)`: zeros around a channels-last image; `padding` is `n` (every
//! side), `(rows, cols)` (top and bottom, left and right) or `((top, bottom), (left, right))`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Expr;
use syn::spanned::Spanned;

use super::shared::{image_dims, image_input};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[Registered::one("ZeroPadding2D", "zero_padding2d", resolve)];

/// Rows above and below, columns left and right.
pub struct ZeroPadding2D {
    pub rows: (usize, usize),
    pub cols: (usize, usize),
}

const FORMS: &str = "`padding` must be an integer, `(rows, cols)` or `((top, bottom), (left, right))`";

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        e => e,
    }
}

/// A side's padding: a whole number of at least 0.
fn side(e: &Expr, errors: &mut Errors) -> Option<usize> {
    match unparen(e) {
        e @ (Expr::Lit(_) | Expr::Unary(_)) => spec::int(e, "padding", errors),
        e => {
            errors.push(e.span(), FORMS);
            None
        }
    }
}

/// `(a, b)` of two sides, or `n` for both when `single` allows it.
fn pair_of_sides(e: &Expr, single: bool, errors: &mut Errors) -> Option<(usize, usize)> {
    match unparen(e) {
        Expr::Tuple(t) if t.elems.len() == 2 => {
            let a = side(&t.elems[0], errors);
            let b = side(&t.elems[1], errors);
            Some((a?, b?))
        }
        e @ (Expr::Lit(_) | Expr::Unary(_)) if single => side(e, errors).map(|v| (v, v)),
        e => {
            errors.push(e.span(), FORMS);
            None
        }
    }
}

fn padding(e: &Expr, errors: &mut Errors) -> Option<((usize, usize), (usize, usize))> {
    match unparen(e) {
        e @ (Expr::Lit(_) | Expr::Unary(_)) => side(e, errors).map(|v| ((v, v), (v, v))),
        Expr::Tuple(t) if t.elems.len() == 2 => {
            let nested = |e: &Expr| matches!(unparen(e), Expr::Tuple(_));
            if nested(&t.elems[0]) || nested(&t.elems[1]) {
                let rows = pair_of_sides(&t.elems[0], false, errors);
                let cols = pair_of_sides(&t.elems[1], false, errors);
                Some((rows?, cols?))
            } else {
                let rows = side(&t.elems[0], errors);
                let cols = side(&t.elems[1], errors);
                let (rows, cols) = (rows?, cols?);
                Some(((rows, rows), (cols, cols)))
            }
        }
        e => {
            errors.push(e.span(), FORMS);
            None
        }
    }
}

fn resolve(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    let span = call.kind.span();
    let bound = spec::bind(call, &["padding"], errors);
    let pad = bound
        .get(0)
        .map_or(Some(((1, 1), (1, 1))), |e| padding(e, errors));
    let (h, w, c) = image_input("ZeroPadding2D", input?, previous, span, errors)?;
    let (rows, cols) = pad?;
    Some((
        Kind::ZeroPadding2D(ZeroPadding2D { rows, cols }),
        Shape::Image(h + rows.0 + rows.1, w + cols.0 + cols.1, c),
    ))
}

impl KindSpec for ZeroPadding2D {
    fn keras_name(&self) -> &'static str {
        "ZeroPadding2D"
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (h, w, c) = image_dims(layer.input);
        let Shape::Image(oh, ow, _) = layer.output else {
            unreachable!("padding outputs an image")
        };
        let (oh, ow, pt, pl) = (lit(oh), lit(ow), lit(self.rows.0), lit(self.cols.0));
        quote!(#k::layers::ZeroPadding2D<#h, #w, #c, #oh, #ow, #pt, #pl>)
    }

    fn mask(&self) -> Mask {
        Mask::Refuses("ZeroPadding2D")
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, layer) = (cx.core, cx.layer);
        let (Shape::Image(_, w, c), Shape::Image(_, ow, _)) = (layer.input, layer.output) else {
            unreachable!("padding reads and writes images")
        };
        let (w, c, ow, pt, pl) = (lit(w), lit(c), lit(ow), lit(self.rows.0), lit(self.cols.0));
        Some(quote!(#core::conv::zero_pad2d(x0, out, #w, #c, #ow, #pt, #pl);))
    }
}
