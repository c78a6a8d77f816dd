//! One resolver per layer kind: its arguments (Keras's names, order and defaults), the shape it
//! accepts, and the shape it produces. Adding a layer kind means one arm here, one type in
//! `generate`, and one kernel in the runtime.

use syn::spanned::Spanned;

use crate::errors::Errors;
use crate::model::{Cell, Kind, MergeOp, PoolOp, Window};
use crate::parse::{Arg, LayerCall};
use crate::shape::{Padding, Shape, window};
use crate::spec::{self, Activation};

/// Resolves `call` applied to `input` (`None` when an earlier mistake left it unknown, in which
/// case only the layer's own arguments are checked). `previous` names where the input comes from.
pub fn resolve(
    call: &LayerCall,
    input: Option<Shape>,
    previous: &str,
    errors: &mut Errors,
) -> Option<(Kind, Shape)> {
    let kind = call.kind.to_string();
    let span = call.kind.span();
    match kind.as_str() {
        "Dense" => {
            let bound = spec::bind(call, &["units", "activation", "use_bias"], errors);
            let units = match bound.get(0) {
                Some(e) => spec::positive(e, "units", "Dense", errors),
                None => {
                    errors.push(
                        span,
                        "`Dense` is missing `units`, its number of outputs, e.g. `Dense(64, relu)`",
                    );
                    None
                }
            };
            let activation = bound
                .get(1)
                .map_or(Some(Activation::Linear), |e| spec::activation(e, errors));
            let bias = use_bias(bound.get(2), errors);
            let units = units?;
            bias?;
            let output = match input? {
                Shape::Flat(_) => Shape::Flat(units),
                // Keras applies a Dense layer to each time step of a sequence.
                Shape::Sequence(t, _) => Shape::Sequence(t, units),
                Shape::Tokens(_) => return needs_embedding("Dense", span, errors),
                image @ Shape::Image(..) => {
                    errors.push(
                        span,
                        format!("`Dense` expects flat features but gets {image} from {previous}; add `Flatten` before it"),
                    );
                    return None;
                }
            };
            Some((
                Kind::Dense {
                    units,
                    activation: activation?,
                },
                output,
            ))
        }
        "Conv2D" => {
            let bound = spec::bind(
                call,
                &[
                    "filters",
                    "kernel_size",
                    "strides",
                    "padding",
                    "activation",
                    "use_bias",
                ],
                errors,
            );
            let filters = match bound.get(0) {
                Some(e) => spec::positive(e, "filters", "Conv2D", errors),
                None => {
                    errors.push(
                        span,
                        "`Conv2D` is missing `filters`, e.g. `Conv2D(32, (3, 3), relu)`",
                    );
                    None
                }
            };
            let kernel = match bound.get(1) {
                Some(e) => spec::pair(e, "kernel_size", "Conv2D", errors),
                None => {
                    errors.push(
                        span,
                        "`Conv2D` is missing `kernel_size`, e.g. `Conv2D(32, (3, 3), relu)`",
                    );
                    None
                }
            };
            let strides = bound
                .get(2)
                .map_or(Some((1, 1)), |e| spec::pair(e, "strides", "Conv2D", errors));
            let padding = bound
                .get(3)
                .map_or(Some(Padding::Valid), |e| spec::padding(e, errors));
            let activation = bound
                .get(4)
                .map_or(Some(Activation::Linear), |e| spec::activation(e, errors));
            let bias = use_bias(bound.get(5), errors);
            let (h, w, _) = image_input("Conv2D", input?, previous, span, errors)?;
            let (filters, kernel, strides, padding, activation, _) =
                (filters?, kernel?, strides?, padding?, activation?, bias?);
            let (oh, ow, pad) = fit_window(
                "kernel",
                (h, w),
                kernel,
                strides,
                padding,
                previous,
                bound.get(1).map_or(span, |e| e.span()),
                errors,
            )?;
            let window = Window {
                size: kernel,
                strides,
                pad,
            };
            Some((
                Kind::Conv2D {
                    filters,
                    window,
                    activation,
                },
                Shape::Image(oh, ow, filters),
            ))
        }
        "MaxPooling2D" | "AveragePooling2D" => {
            let op = if kind == "MaxPooling2D" {
                PoolOp::Max
            } else {
                PoolOp::Average
            };
            let bound = spec::bind(call, &["pool_size", "strides", "padding"], errors);
            let pool = bound
                .get(0)
                .map_or(Some((2, 2)), |e| spec::pair(e, "pool_size", &kind, errors));
            let strides = bound.get(1).map(|e| spec::pair(e, "strides", &kind, errors));
            let padding = bound
                .get(2)
                .map_or(Some(Padding::Valid), |e| spec::padding(e, errors));
            let (h, w, _) = image_input(&kind, input?, previous, span, errors)?;
            let pool = pool?;
            // Keras: strides default to the pool size.
            let strides = strides.unwrap_or(Some(pool))?;
            let c = match input? {
                Shape::Image(_, _, c) => c,
                _ => unreachable!("checked by image_input"),
            };
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
                Kind::Pool {
                    op,
                    window: Window {
                        size: pool,
                        strides,
                        pad,
                    },
                },
                Shape::Image(oh, ow, c),
            ))
        }
        "GlobalMaxPooling2D" | "GlobalAveragePooling2D" => {
            let op = if kind == "GlobalMaxPooling2D" {
                PoolOp::Max
            } else {
                PoolOp::Average
            };
            spec::bind(call, &[], errors);
            let (_, _, c) = image_input(&kind, input?, previous, span, errors)?;
            Some((Kind::GlobalPool { op }, Shape::Flat(c)))
        }
        "Activation" => {
            let bound = spec::bind(call, &["activation"], errors);
            let activation = match bound.get(0) {
                Some(e) => spec::activation(e, errors),
                None => {
                    errors.push(
                        span,
                        "`Activation` is missing `activation`, its function, e.g. `Activation(relu)`",
                    );
                    None
                }
            };
            let shape = match input? {
                Shape::Tokens(_) => return needs_embedding("Activation", span, errors),
                shape => shape,
            };
            Some((
                Kind::Activation {
                    activation: activation?,
                },
                shape,
            ))
        }
        "Flatten" => {
            spec::bind(call, &[], errors);
            match input? {
                Shape::Tokens(_) => needs_embedding("Flatten", span, errors),
                shape => Some((Kind::Flatten, Shape::Flat(shape.len()))),
            }
        }
        "Dropout" => {
            let bound = spec::bind(call, &["rate", "seed"], errors);
            let rate = match bound.get(0) {
                Some(e) => spec::fraction(e, "rate", errors),
                None => {
                    errors.push(
                        span,
                        "`Dropout` is missing `rate`, the fraction dropped, e.g. `Dropout(0.5)`",
                    );
                    None
                }
            };
            let seed = match bound.get(1) {
                Some(e) => spec::int(e, "seed", errors).map(|s| Some(s as u64)),
                None => Some(None),
            };
            let shape = match input? {
                Shape::Tokens(_) => return needs_embedding("Dropout", span, errors),
                shape => shape,
            };
            Some((
                Kind::Dropout {
                    rate: rate?,
                    seed: seed?,
                },
                shape,
            ))
        }
        "BatchNormalization" => batch_norm(call, input, errors),
        "Embedding" => {
            let bound = spec::bind(call, &["input_dim", "output_dim", "mask_zero"], errors);
            let vocabulary = match bound.get(0) {
                Some(e) => spec::positive(e, "input_dim", "Embedding", errors),
                None => {
                    errors.push(span, "`Embedding` is missing `input_dim`, the vocabulary size, e.g. `Embedding(10000, 64)`");
                    None
                }
            };
            let dim = match bound.get(1) {
                Some(e) => spec::positive(e, "output_dim", "Embedding", errors),
                None => {
                    errors.push(
                        span,
                        "`Embedding` is missing `output_dim`, e.g. `Embedding(10000, 64)`",
                    );
                    None
                }
            };
            let mask_zero = bound
                .get(2)
                .map_or(Some(false), |e| spec::boolean(e, "mask_zero", errors));
            let l = match input? {
                Shape::Tokens(l) => l,
                other => {
                    errors.push(
                        span,
                        format!(
                            "`Embedding` must come right after a token input (`input: tokens[length]`), but gets {other} from {previous}"
                        ),
                    );
                    return None;
                }
            };
            let (vocabulary, dim, mask_zero) = (vocabulary?, dim?, mask_zero?);
            Some((
                Kind::Embedding {
                    vocabulary,
                    dim,
                    mask_zero,
                },
                Shape::Sequence(l, dim),
            ))
        }
        "LSTM" | "GRU" | "SimpleRNN" => recurrent(call, input, previous, errors),
        "Bidirectional" => bidirectional(call, input, previous, errors),
        "GlobalMaxPooling1D" | "GlobalAveragePooling1D" => {
            let op = if kind == "GlobalMaxPooling1D" {
                PoolOp::Max
            } else {
                PoolOp::Average
            };
            spec::bind(call, &[], errors);
            match input? {
                Shape::Sequence(_, d) => Some((Kind::GlobalPool1D { op }, Shape::Flat(d))),
                Shape::Tokens(_) => needs_embedding(&kind, span, errors),
                other => {
                    errors.push(
                        span,
                        format!(
                            "`{kind}` expects a sequence [time, features] but gets {other} from {previous}"
                        ),
                    );
                    None
                }
            }
        }
        _ => None,
    }
}

/// `BatchNormalization(axis = -1, momentum = 0.99, epsilon = 0.001, center = true, scale = true)`,
/// over the last axis of any input but token ids.
fn batch_norm(call: &LayerCall, input: Option<Shape>, errors: &mut Errors) -> Option<(Kind, Shape)> {
    const LAYER: &str = "BatchNormalization";
    let span = call.kind.span();
    let bound = spec::bind(call, &["axis", "momentum", "epsilon", "center", "scale"], errors);
    let momentum = bound
        .get(1)
        .map_or(Some(0.99), |e| spec::unit_interval(e, "momentum", LAYER, errors));
    let epsilon = bound.get(2).map_or(Some(0.001), |e| {
        spec::positive_number(e, "epsilon", LAYER, errors)
    });
    let mut supported = true;
    for (i, what) in [(3, "center"), (4, "scale")] {
        if let Some(e) = bound.get(i) {
            match spec::boolean(e, what, errors) {
                Some(true) => {}
                Some(false) => {
                    errors.push(
                        e.span(),
                        format!(
                            "`{what} = false` is not supported yet; `{LAYER}` always has `gamma` and `beta`"
                        ),
                    );
                    supported = false;
                }
                None => supported = false,
            }
        }
    }
    let axis = match bound.get(0) {
        Some(e) => match spec::signed_int(e) {
            Some(v) => Some((v, e.span())),
            None => {
                errors.push(
                    e.span(),
                    "`axis` (Keras's first positional argument) must be an integer literal, e.g. `-1`; \
                     name the others, e.g. `BatchNormalization(momentum = 0.9)`",
                );
                supported = false;
                None
            }
        },
        None => None,
    };
    let shape = match input? {
        Shape::Tokens(_) => return needs_embedding(LAYER, span, errors),
        shape => shape,
    };
    // Keras counts the batch axis: the last axis of an image batch is 3, of a vector batch 1.
    let last = shape.dims().len() as i64;
    if let Some((v, at)) = axis
        && v != -1
        && v != last
    {
        errors.push(
            at,
            format!(
                "`{LAYER}` normalizes over the last axis only: `axis = -1` (or {last} for {shape}), found {v}"
            ),
        );
        return None;
    }
    let (momentum, epsilon) = (momentum?, epsilon?);
    supported.then_some((Kind::BatchNorm { momentum, epsilon }, shape))
}

/// `LSTM(units, return_sequences = false)`, `GRU(…)`, `SimpleRNN(…)` over a sequence.
fn recurrent(
    call: &LayerCall,
    input: Option<Shape>,
    previous: &str,
    errors: &mut Errors,
) -> Option<(Kind, Shape)> {
    let kind = call.kind.to_string();
    let span = call.kind.span();
    let cell = match kind.as_str() {
        "LSTM" => Cell::Lstm,
        "GRU" => Cell::Gru,
        _ => Cell::Simple,
    };
    let bound = spec::bind(call, &["units", "return_sequences"], errors);
    let units = match bound.get(0) {
        Some(e) => spec::positive(e, "units", &kind, errors),
        None => {
            errors.push(span, format!("`{kind}` is missing `units`, e.g. `{kind}(64)`"));
            None
        }
    };
    let sequences = bound
        .get(1)
        .map_or(Some(false), |e| spec::boolean(e, "return_sequences", errors));
    let t = match input? {
        Shape::Sequence(t, _) => t,
        Shape::Tokens(_) => return needs_embedding(&kind, span, errors),
        other => {
            errors.push(
                span,
                format!("`{kind}` expects a sequence [time, features] but gets {other} from {previous}"),
            );
            return None;
        }
    };
    let (units, sequences) = (units?, sequences?);
    let output = if sequences {
        Shape::Sequence(t, units)
    } else {
        Shape::Flat(units)
    };
    Some((
        Kind::Recurrent {
            cell,
            units,
            sequences,
            bidirectional: false,
        },
        output,
    ))
}

/// `Bidirectional(LSTM(64))`, `Bidirectional(GRU(32, return_sequences = true))`: the wrapped
/// layer is written as a call, which `syn` parses as an expression; its keyword arguments are
/// assignments.
fn bidirectional(
    call: &LayerCall,
    input: Option<Shape>,
    previous: &str,
    errors: &mut Errors,
) -> Option<(Kind, Shape)> {
    const EXAMPLE: &str = "e.g. `Bidirectional(LSTM(64))`";
    let span = call.kind.span();
    let bound = spec::bind(call, &["layer", "merge_mode"], errors);
    let mut supported = true;
    if let Some(e) = bound.get(1) {
        let concat = matches!(e, syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) if s.value() == "concat")
            || matches!(e, syn::Expr::Path(p) if p.path.is_ident("concat"));
        if !concat {
            errors.push(
                e.span(),
                "only `merge_mode = \"concat\"` (Keras's default) is supported; `sum`, `mul`, `ave` and `None` are not yet",
            );
            supported = false;
        }
    }
    let Some(layer) = bound.get(0) else {
        errors.push(
            span,
            format!("`Bidirectional` is missing `layer`, the recurrent layer it wraps, {EXAMPLE}"),
        );
        return None;
    };
    let inner = match layer {
        syn::Expr::Call(c) => match &*c.func {
            syn::Expr::Path(p) => p.path.get_ident().cloned().map(|kind| (kind, &c.args)),
            _ => None,
        },
        _ => None,
    };
    let Some((kind, args)) =
        inner.filter(|(kind, _)| ["LSTM", "GRU", "SimpleRNN"].contains(&kind.to_string().as_str()))
    else {
        errors.push(
            layer.span(),
            format!("`Bidirectional` wraps a recurrent layer (`LSTM`, `GRU` or `SimpleRNN`) with its arguments, {EXAMPLE}"),
        );
        return None;
    };
    let args = args
        .iter()
        .map(|a| match a {
            syn::Expr::Assign(assign) => match &*assign.left {
                syn::Expr::Path(p) if p.path.get_ident().is_some() => Arg {
                    name: p.path.get_ident().cloned(),
                    value: (*assign.right).clone(),
                },
                _ => Arg {
                    name: None,
                    value: a.clone(),
                },
            },
            _ => Arg {
                name: None,
                value: a.clone(),
            },
        })
        .collect();
    let wrapped = LayerCall {
        kind,
        args,
        inputs: None,
    };
    let (kind, output) = recurrent(&wrapped, input, previous, errors)?;
    let Kind::Recurrent {
        cell,
        units,
        sequences,
        ..
    } = kind
    else {
        unreachable!("recurrent resolves to a recurrent kind")
    };
    let output = match output {
        Shape::Sequence(t, u) => Shape::Sequence(t, 2 * u),
        other => Shape::Flat(2 * other.len()),
    };
    supported.then_some((
        Kind::Recurrent {
            cell,
            units,
            sequences,
            bidirectional: true,
        },
        output,
    ))
}

fn needs_embedding<T>(layer: &str, span: proc_macro2::Span, errors: &mut Errors) -> Option<T> {
    errors.push(
        span,
        format!("`{layer}` cannot read token ids; put an `Embedding` right after a token input"),
    );
    None
}

fn use_bias(expr: Option<&syn::Expr>, errors: &mut Errors) -> Option<()> {
    match expr.map(|e| (e, spec::boolean(e, "use_bias", errors))) {
        None | Some((_, Some(true))) => Some(()),
        Some((e, Some(false))) => {
            errors.push(
                e.span(),
                "`use_bias = false` is not supported yet; layers always have a bias",
            );
            None
        }
        Some((_, None)) => None,
    }
}

fn image_input(
    layer: &str,
    input: Shape,
    previous: &str,
    span: proc_macro2::Span,
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

/// Output size and leading padding of a 2-D window, or an error on the window's own token.
#[allow(clippy::too_many_arguments)]
fn fit_window(
    what: &str,
    (h, w): (usize, usize),
    size: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    previous: &str,
    span: proc_macro2::Span,
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

/// A merge of `inputs` (each: its shape, `None` when unknown; how to name it; where it is
/// written): Keras's rules for the element-wise merges (two or more inputs of one shape;
/// `Subtract` exactly two) and for `Concatenate` (every dimension but the last alike).
pub fn merge(
    op: MergeOp,
    call: &LayerCall,
    inputs: &[(Option<Shape>, &str, proc_macro2::Span)],
    errors: &mut Errors,
) -> Option<Shape> {
    let name = op.name();
    let span = call.kind.span();
    let params: &[&str] = if op == MergeOp::Concatenate {
        &["axis"]
    } else {
        &[]
    };
    let bound = spec::bind(call, params, errors);
    if let (MergeOp::Concatenate, Some(Some(axis))) = (op, bound.values.first()) {
        let ok = match axis {
            syn::Expr::Unary(syn::ExprUnary {
                op: syn::UnOp::Neg(_),
                expr,
                ..
            }) => {
                matches!(&**expr, syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) if i.base10_digits() == "1")
            }
            _ => false,
        };
        let last = inputs.first().and_then(|(s, _, _)| *s).map(|s| s.dims().len());
        let positive = match axis {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            }) => i.base10_parse::<usize>().ok(),
            _ => None,
        };
        // Keras counts the batch as axis 0, so the last axis of an image is 3.
        if !ok && (positive.is_none() || positive != last) {
            errors.push(
                axis.span(),
                "`Concatenate` joins along the last axis (channels) only: write `axis = -1`",
            );
            return None;
        }
    }
    let wanted = if op == MergeOp::Subtract {
        "exactly two"
    } else {
        "two or more"
    };
    if inputs.len() < 2 || (op == MergeOp::Subtract && inputs.len() != 2) {
        errors.push(
            span,
            format!(
                "`{name}` merges {wanted} tensors, found {}: name them, e.g. `{name}(x, y)`",
                inputs.len()
            ),
        );
        return None;
    }
    let mut shapes = Vec::new();
    for (shape, from, at) in inputs {
        match shape {
            Some(Shape::Tokens(_)) => {
                errors.push(
                    *at,
                    format!(
                        "`{name}` merges features, but {from} is token ids; put an `Embedding` before it"
                    ),
                );
                return None;
            }
            Some(s) => shapes.push((*s, *from, *at)),
            // Unknown after an earlier mistake: that mistake was reported.
            None => return None,
        }
    }
    let (first, first_name, _) = shapes[0];
    let mut channels = first.dims().last().copied().unwrap_or(0);
    for &(shape, from, at) in &shapes[1..] {
        let agrees = if op == MergeOp::Concatenate {
            let (a, b) = (first.dims(), shape.dims());
            std::mem::discriminant(&first) == std::mem::discriminant(&shape)
                && a[..a.len() - 1] == b[..b.len() - 1]
        } else {
            shape == first
        };
        if !agrees {
            let rule = if op == MergeOp::Concatenate {
                "inputs that agree in every dimension but the last (the channels it joins)"
            } else {
                "inputs of one shape"
            };
            errors.push(
                at,
                format!("`{name}` needs {rule}, but {first_name} is {first} and {from} is {shape}"),
            );
            return None;
        }
        channels += shape.dims().last().copied().unwrap_or(0);
    }
    Some(match (op, first) {
        (MergeOp::Concatenate, Shape::Flat(_)) => Shape::Flat(channels),
        (MergeOp::Concatenate, Shape::Image(h, w, _)) => Shape::Image(h, w, channels),
        (MergeOp::Concatenate, Shape::Sequence(t, _)) => Shape::Sequence(t, channels),
        (_, shape) => shape,
    })
}
