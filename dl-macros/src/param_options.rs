//! A layer's `*_initializer` and `*_regularizer` arguments, as Keras spells them: what they
//! say, their errors, and the code they become (the initialization in `new`, and
//! `Model::regularize`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::Expr;
use syn::spanned::Spanned;

use crate::errors::Errors;
use crate::kinds::lit;
use crate::model::Layer;
use crate::spec;
use crate::suggest;

/// Keras's built-in initializers dl has, by their string names (`"he_normal"`), with the
/// runtime's variant. Their class names (`HeNormal`) are read too.
const INITIALIZERS: &[(&str, &str, &str)] = &[
    ("glorot_uniform", "GlorotUniform", "GlorotUniform"),
    ("glorot_normal", "GlorotNormal", "GlorotNormal"),
    ("he_normal", "HeNormal", "HeNormal"),
    ("he_uniform", "HeUniform", "HeUniform"),
    ("lecun_normal", "LecunNormal", "LecunNormal"),
    ("lecun_uniform", "LecunUniform", "LecunUniform"),
    ("random_normal", "RandomNormal", "RandomNormal"),
    ("random_uniform", "RandomUniform", "RandomUniform"),
    ("truncated_normal", "TruncatedNormal", "TruncatedNormal"),
    ("zeros", "Zeros", "Zeros"),
    ("ones", "Ones", "Ones"),
    ("orthogonal", "Orthogonal", "Orthogonal"),
];

/// An initializer: the runtime's `Initializer` variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Initializer(&'static str);

/// `l1 · Σ|w| + l2 · Σw²`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Regularizer {
    pub l1: f32,
    pub l2: f32,
}

/// What a declaration says of one parameter tensor (Keras's name, `kernel`, …).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamOption {
    pub tensor: &'static str,
    pub initializer: Option<Initializer>,
    pub regularizer: Option<Regularizer>,
}

impl Initializer {
    pub fn tokens(self, k: &TokenStream) -> TokenStream {
        let variant = syn::Ident::new(self.0, proc_macro2::Span::call_site());
        quote!(#k::init::Initializer::#variant)
    }
}

impl Regularizer {
    pub fn tokens(self, k: &TokenStream) -> TokenStream {
        let (l1, l2) = (self.l1, self.l2);
        quote!(#k::regularizer::Regularizer { l1: #l1, l2: #l2 })
    }
}

/// The option of `tensor` given by the bound `initializer` and `regularizer` arguments (either
/// may be absent); `None` after an error in either.
pub fn param_option(
    tensor: &'static str,
    (initializer, regularizer): (Option<&Expr>, Option<&Expr>),
    (layer, arg): (&str, &str),
    errors: &mut Errors,
) -> Option<ParamOption> {
    let init = initializer.map(|e| parse_initializer(e, &format!("{arg}_initializer"), layer, errors));
    let reg = regularizer.map(|e| parse_regularizer(e, &format!("{arg}_regularizer"), layer, errors));
    Some(ParamOption {
        tensor,
        initializer: init.map_or(Some(None), |i| i.map(Some))?,
        regularizer: reg.map_or(Some(None), |r| r.map(Some))?,
    })
}

fn parse_initializer(expr: &Expr, what: &str, layer: &str, errors: &mut Errors) -> Option<Initializer> {
    // `HeNormal()`, Keras's class spelling, takes no arguments here.
    let named = match expr {
        Expr::Call(c) if c.args.is_empty() => &c.func,
        other => other,
    };
    let names: Vec<&str> = INITIALIZERS.iter().map(|(n, _, _)| *n).collect();
    let Some((name, span)) = spec::name_of(named).or_else(|| last_segment(named)) else {
        errors.push(
            expr.span(),
            format!("`{layer}`'s `{what}` must be an initializer's name such as `he_normal`"),
        );
        return None;
    };
    let found = INITIALIZERS
        .iter()
        .find(|(snake, class, _)| *snake == name || *class == name)
        .map(|&(_, _, variant)| Initializer(variant));
    if found.is_none() {
        let problem = format!("`{layer}`: unknown initializer `{name}` for `{what}`");
        errors.push(span, suggest::with_candidates(problem, &name, &names));
    }
    found
}

fn last_segment(expr: &Expr) -> Option<(String, proc_macro2::Span)> {
    match expr {
        Expr::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| (s.ident.to_string(), s.ident.span())),
        _ => None,
    }
}

/// `l2(1e-4)`, `l1(0.01)`, `l1_l2(l1 = …, l2 = …)` (or `L2(…)`, `L1L2(…)`), or a bare `l2`,
/// which is Keras's `"l2"`: a factor of 0.01.
fn parse_regularizer(expr: &Expr, what: &str, layer: &str, errors: &mut Errors) -> Option<Regularizer> {
    let usage = format!(
        "`{layer}`'s `{what}` must be `l2(factor)`, `l1(factor)` or `l1_l2(l1 = …, l2 = …)`, e.g. `l2(1e-4)`"
    );
    let (func, args): (&Expr, Vec<&Expr>) = match expr {
        Expr::Call(c) => (&c.func, c.args.iter().collect()),
        other => (other, Vec::new()),
    };
    let Some((name, span)) = spec::name_of(func).or_else(|| last_segment(func)) else {
        errors.push(expr.span(), usage);
        return None;
    };
    // Keras's keyword names and defaults: `l1(l1 = 0.01)`, `l2(l2 = 0.01)`,
    // `l1_l2(l1 = 0.0, l2 = 0.0)`.
    let (params, defaults): (&[&str], [f64; 2]) = match name.as_str() {
        "l1" | "L1" => (&["l1"], [0.01, 0.0]),
        "l2" | "L2" => (&["l2"], [0.0, 0.01]),
        "l1_l2" | "L1L2" => (&["l1", "l2"], [0.0, 0.0]),
        _ => {
            let problem = format!("`{layer}`: unknown regularizer `{name}` for `{what}`");
            errors.push(
                span,
                suggest::with_candidates(problem, &name, &["l1", "l2", "l1_l2"]),
            );
            return None;
        }
    };
    let mut factors = defaults;
    let slot = |p: &str| if p == "l1" { 0 } else { 1 };
    let mut ok = true;
    for (i, arg) in args.iter().enumerate() {
        let (param, value) = match arg {
            Expr::Assign(a) => match spec::name_of(&a.left) {
                Some((key, _)) if params.contains(&key.as_str()) => (slot(&key), &*a.right),
                _ => {
                    errors.push(a.left.span(), takes(&name, params));
                    ok = false;
                    continue;
                }
            },
            value if i < params.len() => (slot(params[i]), *value),
            value => {
                errors.push(value.span(), takes(&name, params));
                ok = false;
                continue;
            }
        };
        match spec::number(value) {
            Some(v) if v >= 0.0 && (v as f32).is_finite() => factors[param] = v,
            _ => {
                errors.push(
                    value.span(),
                    format!(
                        "`{layer}`'s `{what}` needs a factor of at least 0, finite in f32, e.g. `l2(1e-4)`"
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(Regularizer {
        l1: factors[0] as f32,
        l2: factors[1] as f32,
    })
}

/// What a regularizer takes, for its errors.
fn takes(name: &str, params: &[&str]) -> String {
    match params {
        [one] => format!(
            "`{name}(…)` takes one factor, `{name}({one} = …)` or `{name}(…)`; for both write `l1_l2(l1 = …, l2 = …)`"
        ),
        _ => format!("`{name}(…)` takes the factors `l1 = …` and `l2 = …`"),
    }
}

/// Each option of `layer` with the index of its tensor in the runtime's order and the tensor's
/// Keras shape. A kind names its options' tensors as its `param_shapes` does; an option whose
/// tensor is not among them would be silently ignored, so it is a bug in the kind.
fn options_by_tensor(layer: &Layer) -> Vec<(usize, Vec<usize>, ParamOption)> {
    let shapes = layer.param_shapes();
    layer
        .kind
        .spec()
        .param_options()
        .iter()
        .map(|o| {
            let index = shapes
                .iter()
                .position(|(name, _)| *name == o.tensor)
                .unwrap_or_else(|| {
                    panic!(
                        "`{}` has an option for a tensor it lacks: {}",
                        layer.name, o.tensor
                    )
                });
            (index, shapes[index].1.clone(), *o)
        })
        .collect()
}

/// The match arms, by tensor index in the runtime's order, that fill the tensors of `layer`
/// its declaration gives an initializer (`kernel_initializer = he_normal`).
pub fn initialized_tensors(k: &TokenStream, layer: &Layer) -> Vec<TokenStream> {
    options_by_tensor(layer)
        .into_iter()
        .filter_map(|(index, shape, o)| {
            let init = o.initializer?.tokens(k);
            let (index, shape) = (lit(index), shape.into_iter().map(lit));
            Some(quote!(#index => #init.fill_shaped(&mut *rng, &[#(#shape),*], values),))
        })
        .collect()
}

/// The statements of `Model::regularize` for the tensors of `layer` its declaration gives a
/// regularizer: the penalty on the weights, and its gradient added to `grads`.
pub fn regularized_tensors(
    k: &TokenStream,
    layer_trait: &TokenStream,
    layer: &Layer,
    ty: &TokenStream,
) -> Vec<TokenStream> {
    let f = &layer.field;
    options_by_tensor(layer)
        .into_iter()
        .filter_map(|(index, _, o)| {
            let reg = o.regularizer?.tokens(k);
            let index = lit(index);
            Some(quote! {
                {
                    let regularizer = #reg;
                    let mut tensor = 0usize;
                    <#ty as #layer_trait>::for_each_param(&self.#f, &mut |_, w| {
                        if tensor == #index {
                            penalty += regularizer.penalty(w);
                        }
                        tensor += 1;
                    });
                    if let #k::__private::core::option::Option::Some(g) = grads.as_deref_mut() {
                        let mut tensor = 0usize;
                        <#ty as #layer_trait>::zip_params_mut(&mut g.#f, &self.#f, &mut |g, w| {
                            if tensor == #index {
                                regularizer.add_gradient(w, g);
                            }
                            tensor += 1;
                        });
                    }
                }
            })
        })
        .collect()
}
