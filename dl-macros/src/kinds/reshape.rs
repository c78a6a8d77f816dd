//! `Reshape(target_shape)`: the same values in another shape, `[features]`, `[steps, channels]`
//! or `[height, width, channels]`; one dimension may be `-1`, inferred from the others as Keras
//! does.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Expr;
use syn::spanned::Spanned;

use super::shared::{needs_embedding, required};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[Registered::one("Reshape", "reshape", resolve)];

pub struct Reshape;

const EXAMPLE: &str = "e.g. `Reshape((7, 7, 64))` or `Reshape((-1, 8))`";

/// The written dimensions, `None` standing for the one `-1`.
fn target(e: &Expr, errors: &mut Errors) -> Option<Vec<Option<usize>>> {
    let elems: Vec<&Expr> = match e {
        Expr::Tuple(t) => t.elems.iter().collect(),
        Expr::Paren(p) => vec![&*p.expr],
        _ => {
            errors.push(e.span(), format!("`target_shape` must be a tuple, {EXAMPLE}"));
            return None;
        }
    };
    if elems.is_empty() || elems.len() > 3 {
        errors.push(
            e.span(),
            format!(
                "`Reshape` makes `[features]`, `[steps, channels]` or `[height, width, channels]`: 1 to 3 dimensions, found {}",
                elems.len()
            ),
        );
        return None;
    }
    let mut dims = Vec::new();
    let mut ok = true;
    let mut inferred = 0;
    for d in elems {
        match spec::signed_int(d) {
            Some(-1) => {
                inferred += 1;
                if inferred == 2 {
                    errors.push(d.span(), "only one dimension of `target_shape` may be `-1`");
                    ok = false;
                }
                dims.push(None);
            }
            Some(v) if v > 0 => dims.push(Some(v as usize)),
            _ => {
                errors.push(
                    d.span(),
                    "every dimension of `target_shape` is a whole number of at least 1, or `-1` (once) for the one inferred",
                );
                ok = false;
            }
        }
    }
    ok.then_some(dims)
}

fn resolve(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    let span = call.kind.span();
    let bound = spec::bind(call, &["target_shape"], errors);
    let dims = required(
        bound.get(0),
        (span, &format!("`Reshape` is missing `target_shape`, {EXAMPLE}")),
        errors,
        target,
    );
    let input = match input? {
        Shape::Tokens(_) => return needs_embedding("Reshape", span, errors),
        shape => shape,
    };
    let dims = dims?;
    let at = bound.get(0).map_or(span, |e| e.span());
    let known: usize = dims.iter().flatten().product();
    let n = input.len();
    let resolved: Vec<usize> = if dims.contains(&None) {
        if !n.is_multiple_of(known) {
            errors.push(
                at,
                format!("`Reshape` cannot infer the `-1`: the {n} values of {input} from {previous} are not a multiple of {known}"),
            );
            return None;
        }
        dims.iter().map(|d| d.unwrap_or(n / known)).collect()
    } else {
        dims.iter().flatten().copied().collect()
    };
    if resolved.iter().product::<usize>() != n {
        let written: Vec<String> = resolved.iter().map(usize::to_string).collect();
        errors.push(
            at,
            format!(
                "`Reshape` to ({}) holds {} values, but {input} from {previous} has {n}",
                written.join(", "),
                resolved.iter().product::<usize>()
            ),
        );
        return None;
    }
    let output = match resolved[..] {
        [n] => Shape::Flat(n),
        [t, c] => Shape::Sequence(t, c),
        [h, w, c] => Shape::Image(h, w, c),
        _ => unreachable!("1 to 3 dimensions checked above"),
    };
    Some((Kind::Reshape(Reshape), output))
}

impl KindSpec for Reshape {
    fn keras_name(&self) -> &'static str {
        "Reshape"
    }

    /// Every shape is row-major over the same values: the runtime's `Flatten`, which passes them
    /// on as they are.
    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let n = lit(layer.input.len());
        quote!(#k::layers::Flatten<#n>)
    }

    fn mask(&self) -> Mask {
        Mask::Refuses("Reshape")
    }

    /// Its output is its input's memory.
    fn writes_output(&self) -> bool {
        false
    }

    fn embedded_step(&self, _cx: &Step<'_>) -> Option<TokenStream> {
        None
    }
}
