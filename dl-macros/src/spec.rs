//! How a layer's arguments are bound (by position and keyword) and their values read: the
//! vocabulary every kind's resolver (`kinds`) uses.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, Lit};

use crate::errors::Errors;
use crate::parse::LayerCall;
use crate::suggest;

/// Activations by their Keras names (`silu` is Keras's alias of `swish`, `hard_swish` of
/// `hard_silu`).
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
    "relu6",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
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
    Relu6,
    HardSigmoid,
    HardSwish,
    /// Keras's `relu(x, negative_slope, max_value, threshold)`, as the `ReLU` layer applies it
    /// when its arguments make it neither `relu` nor `relu6`.
    ReluWith(ReluArgs),
}

/// The arguments of a `ReLU` layer, as the bits of their `f32` values so that activations
/// compare exactly; `max_value` is `None` for no maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReluArgs {
    max_value: Option<u32>,
    negative_slope: u32,
    threshold: u32,
}

impl ReluArgs {
    pub fn new(max_value: Option<f32>, negative_slope: f32, threshold: f32) -> Self {
        ReluArgs {
            max_value: max_value.map(f32::to_bits),
            negative_slope: negative_slope.to_bits(),
            threshold: threshold.to_bits(),
        }
    }

    /// `max_value` (`None`: unbounded), `negative_slope`, `threshold`.
    pub fn values(self) -> (Option<f32>, f32, f32) {
        (
            self.max_value.map(f32::from_bits),
            f32::from_bits(self.negative_slope),
            f32::from_bits(self.threshold),
        )
    }
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
            "relu6" => Activation::Relu6,
            "hard_sigmoid" => Activation::HardSigmoid,
            "hard_silu" | "hard_swish" => Activation::HardSwish,
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
    bind_with(call, params, &[], errors)
}

/// As [`bind`], with further parameters that only a keyword gives (`kernel_initializer = …`),
/// bound after `params`: where dl takes fewer of Keras's arguments than Keras, a positional one
/// past them would bind to another argument than in Keras.
pub fn bind_with<'a>(
    call: &'a LayerCall,
    positional: &[&'static str],
    keyword_only: &[&'static str],
    errors: &mut Errors,
) -> Bound<'a> {
    let kind = call.kind.to_string();
    let all: Vec<&'static str> = positional.iter().chain(keyword_only).copied().collect();
    let params = &all[..];
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
                    None if crate::keras_args::not_yet(&kind, &key) => {
                        errors.push(
                            name.span(),
                            format!(
                                "Keras's `{kind}` argument `{key}` is not supported yet; dl's `{kind}` takes: {}",
                                params.join(", ")
                            ),
                        );
                        None
                    }
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
            // A bare name in a positional slot means what it names, as in the tutorial's
            // `Conv2D(32, (3, 3), relu)`: `valid`/`same`/`causal` is the padding, any other name the
            // activation (Keras's third positional argument would be the strides).
            None if named_value(&arg.value).is_some() && by_meaning(&arg.value, positional).is_some() => {
                let i = by_meaning(&arg.value, positional);
                // In its own place (`Dense(4, relu, true)`), it is also a positional argument.
                if i == Some(position) {
                    position += 1;
                }
                i.map(|i| (i, arg.value.span()))
            }
            None => {
                let i = position;
                position += 1;
                if i >= positional.len() {
                    errors.push(
                        arg.value.span(),
                        format!(
                            "`{kind}` takes at most {} positional argument{} ({})",
                            positional.len(),
                            if positional.len() == 1 { "" } else { "s" },
                            positional.join(", ")
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
                errors.push(span, format!("`{kind}` is given argument `{}` twice", params[i]));
            } else {
                values[i] = Some(&arg.value);
            }
        }
    }
    Bound { values }
}

/// The name an identifier or string argument spells.
fn named_value(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
        Expr::Lit(syn::ExprLit { lit, .. }) => single_quoted(lit),
        _ => None,
    }
}

/// The name inside Python's single quotes, `'relu'`, which Rust reads as a malformed character
/// literal. rustc reports it already (suggesting double quotes), so the macro reads the name as
/// meant and adds no error of its own.
fn single_quoted(lit: &Lit) -> Option<String> {
    // rustc hands the macro the malformed literal as written, which syn keeps verbatim.
    let text = match lit {
        Lit::Char(c) => c.token().to_string(),
        Lit::Verbatim(v) => v.to_string(),
        _ => return None,
    };
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    (inner.chars().count() > 1).then(|| inner.to_string())
}

/// A name given as an identifier, a string or (see [`single_quoted`]) in single quotes.
pub fn name_of(expr: &Expr) -> Option<(String, Span)> {
    match expr {
        Expr::Path(p) => p.path.get_ident().map(|i| (i.to_string(), i.span())),
        Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some((s.value(), s.span())),
        Expr::Lit(syn::ExprLit { lit, .. }) => single_quoted(lit).map(|n| (n, lit.span())),
        _ => None,
    }
}

/// The parameter a positional name binds to, when the layer has `padding` or `activation`.
fn by_meaning(expr: &Expr, params: &[&'static str]) -> Option<usize> {
    let name = named_value(expr)?;
    let target = if matches!(name.as_str(), "valid" | "same" | "causal") {
        "padding"
    } else {
        "activation"
    };
    params.iter().position(|p| *p == target)
}

/// A non-negative integer literal.
pub fn int(expr: &Expr, what: &str, errors: &mut Errors) -> Option<usize> {
    match expr {
        Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) => match i.base10_parse::<usize>() {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(i.span(), format!("`{what}`: {e}"));
                None
            }
        },
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(f), ..
        }) => {
            errors.push(
                f.span(),
                format!("`{what}` is a whole number, found {}", f.base10_digits()),
            );
            None
        }
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr: inner,
            ..
        }) if matches!(
            &**inner,
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(_) | Lit::Float(_),
                ..
            })
        ) =>
        {
            let Expr::Lit(syn::ExprLit { lit, .. }) = &**inner else {
                unreachable!("matched above")
            };
            let digits = match lit {
                Lit::Int(i) => i.base10_digits().to_string(),
                Lit::Float(f) => f.base10_digits().to_string(),
                _ => unreachable!("matched above"),
            };
            errors.push(
                expr.span(),
                format!("needs `{what}` of at least 0, found -{digits}"),
            );
            None
        }
        _ => {
            errors.push(
                expr.span(),
                format!("`{what}` must be a whole number written as a literal, e.g. `64`"),
            );
            None
        }
    }
}

/// A positive integer literal.
pub fn positive(expr: &Expr, what: &str, layer: &str, errors: &mut Errors) -> Option<usize> {
    if let Expr::Unary(syn::ExprUnary {
        op: syn::UnOp::Neg(_),
        expr: inner,
        ..
    }) = expr
        && let Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) = &**inner
    {
        errors.push(
            expr.span(),
            format!(
                "`{layer}` needs `{what}` of at least 1, found -{}",
                i.base10_digits()
            ),
        );
        return None;
    }
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
    let Some((name, span)) = name_of(expr) else {
        errors.push(expr.span(), "an activation must be a name such as `relu`");
        return None;
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

/// A positive size given as `n` (both dimensions) or `(rows, cols)`, as Keras accepts.
pub fn pair(expr: &Expr, what: &str, layer: &str, errors: &mut Errors) -> Option<(usize, usize)> {
    match expr {
        Expr::Tuple(t) if t.elems.len() == 2 => {
            let a = positive(&t.elems[0], what, layer, errors);
            let b = positive(&t.elems[1], what, layer, errors);
            Some((a?, b?))
        }
        Expr::Paren(p) => pair(&p.expr, what, layer, errors),
        Expr::Lit(_) => positive(expr, what, layer, errors).map(|v| (v, v)),
        _ => {
            errors.push(
                expr.span(),
                format!("`{what}` must be an integer or a pair `(rows, cols)`"),
            );
            None
        }
    }
}

/// `valid` or `same`, as an identifier or a string.
pub fn padding(expr: &Expr, errors: &mut Errors) -> Option<crate::shape::Padding> {
    let Some((name, span)) = name_of(expr) else {
        errors.push(expr.span(), "`padding` must be `valid` or `same`");
        return None;
    };
    match name.as_str() {
        "valid" => Some(crate::shape::Padding::Valid),
        "same" => Some(crate::shape::Padding::Same),
        _ => {
            errors.push(span, suggest::unknown("padding", &name, &["valid", "same"]));
            None
        }
    }
}

/// `true` or `false`.
pub fn boolean(expr: &Expr, what: &str, errors: &mut Errors) -> Option<bool> {
    if let Expr::Lit(syn::ExprLit {
        lit: Lit::Bool(b), ..
    }) = expr
    {
        return Some(b.value);
    }
    errors.push(expr.span(), format!("`{what}` must be `true` or `false`"));
    None
}

/// A rate in [0, 1), as a float or integer literal.
pub fn fraction(expr: &Expr, what: &str, errors: &mut Errors) -> Option<f32> {
    let value = match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse::<f32>().ok(),
        Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<u32>().ok().map(|v| v as f32),
        _ => None,
    };
    match value {
        Some(v) if (0.0..1.0).contains(&v) => Some(v),
        Some(v) => {
            errors.push(expr.span(), format!("`{what}` must be in [0, 1), found {v}"));
            None
        }
        None => {
            errors.push(
                expr.span(),
                format!("`{what}` must be a number in [0, 1), e.g. `0.5`"),
            );
            None
        }
    }
}

/// A float or integer literal, possibly negated, as `f64`; `None` for anything else.
pub fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse::<f64>().ok(),
        Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<u64>().ok().map(|v| v as f64),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => number(expr).map(|v| -v),
        Expr::Paren(p) => number(&p.expr),
        _ => None,
    }
}

/// A number of at least 0 that is finite in `f32`, as Keras's `ReLU` requires of its arguments.
pub fn non_negative(expr: &Expr, what: &str, layer: &str, errors: &mut Errors) -> Option<f32> {
    match number(expr) {
        Some(v) if v >= 0.0 && (v as f32).is_finite() => Some(v as f32),
        Some(v) => {
            errors.push(
                expr.span(),
                format!("`{layer}` needs `{what}` of at least 0 (and finite in f32), found {v}"),
            );
            None
        }
        None => {
            errors.push(
                expr.span(),
                format!("`{what}` must be a number of at least 0, e.g. `6.0`"),
            );
            None
        }
    }
}

/// A number in [0, 1), kept in `f64` (Keras computes `1 − momentum` in double precision).
pub fn unit_interval(expr: &Expr, what: &str, layer: &str, errors: &mut Errors) -> Option<f64> {
    match number(expr) {
        Some(v) if (0.0..1.0).contains(&v) => Some(v),
        Some(v) => {
            errors.push(
                expr.span(),
                format!("`{layer}` needs `{what}` in [0, 1), found {v}"),
            );
            None
        }
        None => {
            errors.push(
                expr.span(),
                format!("`{what}` must be a number in [0, 1), e.g. `0.99`"),
            );
            None
        }
    }
}

/// A number greater than 0 that is finite in `f32`.
pub fn positive_number(expr: &Expr, what: &str, layer: &str, errors: &mut Errors) -> Option<f64> {
    match number(expr) {
        Some(v) if v > 0.0 && (v as f32) > 0.0 && (v as f32).is_finite() => Some(v),
        Some(v) => {
            errors.push(
                expr.span(),
                format!("`{layer}` needs `{what}` greater than 0 (and finite in f32), found {v}"),
            );
            None
        }
        None => {
            errors.push(
                expr.span(),
                format!("`{what}` must be a positive number, e.g. `0.001`"),
            );
            None
        }
    }
}

/// An integer literal, possibly negated (an axis).
pub fn signed_int(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<i64>().ok(),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => signed_int(expr).map(|v| -v),
        Expr::Paren(p) => signed_int(&p.expr),
        _ => None,
    }
}
