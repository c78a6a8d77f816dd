//! What each layer kind accepts: its arguments by position and keyword, and how their values are
//! read. Adding a layer kind starts here.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, Lit};

use crate::errors::Errors;
use crate::parse::LayerCall;
use crate::suggest;

/// Layer kinds `network!` knows, by their Keras names.
pub const LAYER_KINDS: &[&str] = &["Dense"];

/// Activations by their Keras names (`silu` is Keras's alias of `swish`).
pub const ACTIVATIONS: &[&str] = &[
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "leaky_relu",
    "elu",
    "gelu",
    "softplus",
    "swish",
    "silu",
];

/// An activation as the generator needs it: the Keras name, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
    LeakyRelu,
    Elu,
    Gelu,
    Softplus,
    Swish,
}

impl Activation {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "linear" => Activation::Linear,
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax,
            "leaky_relu" => Activation::LeakyRelu,
            "elu" => Activation::Elu,
            "gelu" => Activation::Gelu,
            "softplus" => Activation::Softplus,
            "swish" | "silu" => Activation::Swish,
            _ => return None,
        })
    }
}

/// Arguments bound to a layer's parameters, by parameter position.
pub struct Bound<'a> {
    pub values: Vec<Option<&'a Expr>>,
}

impl<'a> Bound<'a> {
    pub fn get(&self, index: usize) -> Option<&'a Expr> {
        self.values[index]
    }
}

/// Binds positional and keyword arguments to `params`, reporting every misuse.
pub fn bind<'a>(call: &'a LayerCall, params: &[&'static str], errors: &mut Errors) -> Bound<'a> {
    let kind = call.kind.to_string();
    let mut values: Vec<Option<&Expr>> = vec![None; params.len()];
    let mut seen_keyword = false;
    let mut position = 0;
    for arg in &call.args {
        let index = match &arg.name {
            Some(name) => {
                seen_keyword = true;
                let key = name.to_string();
                match params.iter().position(|p| *p == key) {
                    Some(i) => Some((i, name.span())),
                    None => {
                        let problem = format!("`{kind}` has no argument `{key}`");
                        errors.push(name.span(), suggest::with_candidates(problem, &key, params));
                        None
                    }
                }
            }
            None if seen_keyword => {
                errors.push(arg.value.span(), "positional argument after a keyword argument");
                None
            }
            None => {
                let i = position;
                position += 1;
                if i >= params.len() {
                    errors.push(
                        arg.value.span(),
                        format!(
                            "`{kind}` takes at most {} positional argument{} ({})",
                            params.len(),
                            if params.len() == 1 { "" } else { "s" },
                            params.join(", ")
                        ),
                    );
                    None
                } else {
                    Some((i, arg.value.span()))
                }
            }
        };
        if let Some((i, span)) = index {
            if values[i].is_some() {
                errors.push(
                    span,
                    format!("argument `{}` of `{kind}` is given twice", params[i]),
                );
            } else {
                values[i] = Some(&arg.value);
            }
        }
    }
    Bound { values }
}

/// A non-negative integer literal.
pub fn int(expr: &Expr, what: &str, errors: &mut Errors) -> Option<usize> {
    if let Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) = expr {
        return match i.base10_parse::<usize>() {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(i.span(), format!("`{what}`: {e}"));
                None
            }
        };
    }
    errors.push(expr.span(), format!("`{what}` must be an integer literal"));
    None
}

/// A positive integer literal.
pub fn positive(expr: &Expr, what: &str, layer: &str, errors: &mut Errors) -> Option<usize> {
    match int(expr, what, errors)? {
        0 => {
            errors.push(
                expr.span(),
                format!("`{layer}` needs `{what}` of at least 1, found 0"),
            );
            None
        }
        v => Some(v),
    }
}

/// An activation: an identifier (`relu`), a string (`"relu"`, as in Keras) or `None` (linear).
pub fn activation(expr: &Expr, errors: &mut Errors) -> Option<Activation> {
    let (name, span): (String, Span) = match expr {
        Expr::Path(p) if p.path.get_ident().is_some() => {
            let ident = p.path.get_ident().expect("checked");
            (ident.to_string(), ident.span())
        }
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(s) => (s.value(), s.span()),
            _ => {
                errors.push(expr.span(), "an activation must be a name such as `relu`");
                return None;
            }
        },
        _ => {
            errors.push(expr.span(), "an activation must be a name such as `relu`");
            return None;
        }
    };
    if name == "None" {
        return Some(Activation::Linear);
    }
    let found = Activation::from_name(&name);
    if found.is_none() {
        errors.push(span, suggest::unknown("activation", &name, ACTIVATIONS));
    }
    found
}
