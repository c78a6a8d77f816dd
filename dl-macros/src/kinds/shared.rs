//! What several kinds share: the shape rules of images and token ids, windows (convolution and
//! pooling), and the const parameters of images and sequences in runtime types.

use proc_macro2::{Literal, Span, TokenStream};
use quote::quote;

use super::lit;
use crate::errors::Errors;
use crate::param_options::ParamOption;
use crate::shape::{Padding, Shape, window};
use crate::spec;

/// A pooling or convolution window: size, strides, and the leading padding the macro computed.
#[derive(Clone, Copy)]
pub struct Window {
    pub size: (usize, usize),
    pub strides: (usize, usize),
    pub pad: (usize, usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PoolOp {
    Max,
    Average,
}

impl PoolOp {
    /// `Max` for the kind named `max`, else `Average`.
    pub fn of(kind: &str, max: &str) -> Self {
        if kind == max { PoolOp::Max } else { PoolOp::Average }
    }
}

/// A required argument as `read` reads it, or the error `missing` on the layer when it is not
/// given.
pub fn required<T>(
    expr: Option<&syn::Expr>,
    (span, missing): (Span, &str),
    errors: &mut Errors,
    read: impl FnOnce(&syn::Expr, &mut Errors) -> Option<T>,
) -> Option<T> {
    match expr {
        Some(e) => read(e, errors),
        None => {
            errors.push(span, missing);
            None
        }
    }
}

pub fn needs_embedding<T>(layer: &str, span: Span, errors: &mut Errors) -> Option<T> {
    errors.push(
        span,
        format!("`{layer}` cannot read token ids; put an `Embedding` right after a token input"),
    );
    None
}

/// Keras's `axis` argument of a layer that works on the last axis only: `-1` or the last
/// axis counted with the batch axis (1 for a vector batch, 3 for an image batch). Anything else
/// is an error on the argument, `what` saying what the layer does there; false then.
pub fn last_axis_only(axis: Option<(i64, Span)>, shape: &Shape, what: &str, errors: &mut Errors) -> bool {
    let last = shape.dims().len() as i64;
    match axis {
        Some((v, at)) if v != -1 && v != last => {
            errors.push(
                at,
                format!("{what}: `axis = -1` (or {last} for {shape}), found {v}"),
            );
            false
        }
        _ => true,
    }
}

pub fn use_bias(expr: Option<&syn::Expr>, errors: &mut Errors) -> Option<bool> {
    expr.map_or(Some(true), |e| spec::boolean(e, "use_bias", errors))
}

/// The embedded parameter struct's value of a layer whose `bias` may be absent: an empty one in
/// its place.
pub fn params_init_with_bias(path: TokenStream, use_bias: bool, decoded: Vec<TokenStream>) -> TokenStream {
    let empty = (!use_bias).then(|| quote!(bias: []));
    quote!(#path { #(#decoded,)* #empty })
}

/// The embedded parameter struct's type of a layer whose `bias` may be absent: a zero-length
/// bias in its place.
pub fn params_type_with_bias(path: TokenStream, use_bias: bool, sizes: &[Literal]) -> TokenStream {
    if use_bias {
        quote!(#path<#(#sizes),*>)
    } else {
        quote!(#path<#(#sizes,)* 0>)
    }
}

pub fn image_input(
    layer: &str,
    input: Shape,
    previous: &str,
    span: Span,
    errors: &mut Errors,
) -> Option<(usize, usize, usize)> {
    match input {
        Shape::Image(h, w, c) => Some((h, w, c)),
        Shape::Tokens(_) => needs_embedding(layer, span, errors),
        flat => {
            errors.push(
                span,
                format!("`{layer}` expects a channels-last image [height, width, channels] but gets {flat} from {previous}"),
            );
            None
        }
    }
}

/// A sequence's `(time, features)`, or the error for any other input.
pub fn sequence_input(
    layer: &str,
    input: Shape,
    previous: &str,
    span: Span,
    errors: &mut Errors,
) -> Option<(usize, usize)> {
    match input {
        Shape::Sequence(t, d) => Some((t, d)),
        Shape::Tokens(_) => needs_embedding(layer, span, errors),
        other => {
            errors.push(
                span,
                format!("`{layer}` expects a sequence [time, features] but gets {other} from {previous}"),
            );
            None
        }
    }
}

/// Output size and leading padding of a 2-D window, or an error on the window's own token.
#[allow(clippy::too_many_arguments)]
pub fn fit_window(
    what: &str,
    (h, w): (usize, usize),
    size: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    previous: &str,
    span: Span,
    errors: &mut Errors,
) -> Option<(usize, usize, (usize, usize))> {
    match (
        window(h, size.0, strides.0, padding),
        window(w, size.1, strides.1, padding),
    ) {
        (Some((oh, pt)), Some((ow, pl))) => Some((oh, ow, (pt, pl))),
        _ => {
            errors.push(
                span,
                format!(
                    "{what} {}×{} does not fit the {h}×{w} input from {previous} with `valid` padding; use a smaller {what} or `padding = same`",
                    size.0, size.1
                ),
            );
            None
        }
    }
}

/// An input's height, width and channels as const parameters (a non-image as 1×1×features).
pub fn image_dims(input: Shape) -> (Literal, Literal, Literal) {
    match input {
        Shape::Image(h, w, c) => (lit(h), lit(w), lit(c)),
        other => (lit(1), lit(1), lit(other.len())),
    }
}

/// An input's time steps and features as const parameters (token ids as one feature per step).
pub fn sequence_dims(input: Shape) -> (Literal, Literal) {
    match input {
        Shape::Sequence(t, d) => (lit(t), lit(d)),
        Shape::Tokens(l) => (lit(l), lit(1)),
        other => (lit(1), lit(other.len())),
    }
}

/// `dl_core`'s description of a window sliding over an image.
pub fn embedded_window(core: &TokenStream, input: Shape, output: Shape, w: &Window) -> TokenStream {
    let (Shape::Image(h, wd, c), Shape::Image(oh, ow, _)) = (input, output) else {
        unreachable!("windows slide over images")
    };
    let v = [
        h,
        wd,
        c,
        w.size.0,
        w.size.1,
        w.strides.0,
        w.strides.1,
        w.pad.0,
        w.pad.1,
        oh,
        ow,
    ]
    .map(lit);
    let [h, wd, c, kh, kw, sh, sw, pt, pl, oh, ow] = v;
    quote!(#core::conv::Window { h: #h, w: #wd, c: #c, kh: #kh, kw: #kw, sh: #sh, sw: #sw, pt: #pt, pl: #pl, oh: #oh, ow: #ow })
}

/// The error for a weight file whose first tensor (kernel or embeddings) ends in another width
/// (times the gates) than the layer's `argument` declares.
pub fn width_mismatch(
    layer: &crate::model::Layer,
    (argument, declared, gates): (&str, usize, usize),
    wrong: &[super::WrongShape],
    shown: &str,
) -> Option<String> {
    // A `Bidirectional` copy's kernel is `forward_lstm.kernel`: it ends in `.kernel` too.
    let (name, file, _) = wrong
        .iter()
        .find(|(n, _, _)| n.ends_with(".kernel") || n.ends_with(".embeddings"))?;
    let in_file = file.last().copied()? / gates;
    (in_file != declared).then(|| {
        format!(
            "layer `{}` ({}) declares `{argument}` = {declared}, but the weight file `{shown}` has {in_file} \
             (its `{name}` is {file:?}): declare `{}({in_file}, …)`, or save the weights again",
            layer.name,
            layer.kind_name(),
            layer.kind_name(),
        )
    })
}

/// Keyword-only arguments of a layer with a `kernel`: its initializer and regularizer.
pub const KERNEL_OPTIONS: &[&str] = &["kernel_initializer", "kernel_regularizer"];

/// The `{arg}_initializer` and `{arg}_regularizer` of `tensor`, bound at `at` and `at + 1`;
/// nothing when neither is given, `Err` after an error.
pub fn param_options(
    bound: &spec::Bound<'_>,
    at: usize,
    (tensor, arg): (&'static str, &str),
    layer: &str,
    errors: &mut Errors,
) -> Result<Option<ParamOption>, ()> {
    let (init, reg) = (bound.get(at), bound.get(at + 1));
    if init.is_none() && reg.is_none() {
        return Ok(None);
    }
    crate::param_options::param_option(tensor, (init, reg), (layer, arg), errors)
        .map(Some)
        .ok_or(())
}
