//! Recurrent layers over a sequence: `LSTM(units, return_sequences = false)`, `GRU(…)`,
//! `SimpleRNN(…)`, and `Bidirectional(layer, merge_mode = "concat")` around one of them.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use super::shared::{required, sequence_dims, sequence_input, width_mismatch};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, WrongShape, lit};
use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::parse::{Arg, LayerCall};
use crate::shape::Shape;
use crate::spec;

pub const KINDS: &[Registered] = &[
    Registered::one("LSTM", "lstm", resolve),
    Registered::one("GRU", "gru", resolve),
    Registered::one("SimpleRNN", "simple_rnn", resolve),
    Registered::one("Bidirectional", "bidirectional", bidirectional),
];

pub struct Recurrent {
    pub cell: Cell,
    pub units: usize,
    pub sequences: bool,
    /// Wrapped in `Bidirectional`: a forward and a backward copy, outputs concatenated.
    pub bidirectional: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Lstm,
    Gru,
    Simple,
}

impl Cell {
    /// Gate blocks stacked in the kernels (Keras: LSTM i, f, c, o; GRU z, r, h).
    pub fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::Simple => 1,
        }
    }

    /// The tensor names of a `Bidirectional` wrapper's forward and backward copies, as the
    /// runtime gives them (Keras's `forward_lstm/lstm_cell/kernel` without the cell).
    pub fn bidirectional_names(self) -> [[&'static str; 3]; 2] {
        match self {
            Cell::Lstm => [
                [
                    "forward_lstm.kernel",
                    "forward_lstm.recurrent_kernel",
                    "forward_lstm.bias",
                ],
                [
                    "backward_lstm.kernel",
                    "backward_lstm.recurrent_kernel",
                    "backward_lstm.bias",
                ],
            ],
            Cell::Gru => [
                [
                    "forward_gru.kernel",
                    "forward_gru.recurrent_kernel",
                    "forward_gru.bias",
                ],
                [
                    "backward_gru.kernel",
                    "backward_gru.recurrent_kernel",
                    "backward_gru.bias",
                ],
            ],
            Cell::Simple => [
                [
                    "forward_simple_rnn.kernel",
                    "forward_simple_rnn.recurrent_kernel",
                    "forward_simple_rnn.bias",
                ],
                [
                    "backward_simple_rnn.kernel",
                    "backward_simple_rnn.recurrent_kernel",
                    "backward_simple_rnn.bias",
                ],
            ],
        }
    }

    /// Floats of state and gates one sequence needs at inference (as `dl_core` counts them).
    pub fn scratch_floats(self, units: usize) -> usize {
        match self {
            Cell::Lstm => 6 * units,
            Cell::Gru => 7 * units,
            Cell::Simple => 2 * units,
        }
    }
}

/// `LSTM(units, return_sequences = false)`, `GRU(…)`, `SimpleRNN(…)` over a sequence.
fn resolve(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    let kind = call.kind.to_string();
    let span = call.kind.span();
    let cell = match kind.as_str() {
        "LSTM" => Cell::Lstm,
        "GRU" => Cell::Gru,
        _ => Cell::Simple,
    };
    let bound = spec::bind(call, &["units", "return_sequences"], errors);
    let units = required(
        bound.get(0),
        (span, &format!("`{kind}` is missing `units`, e.g. `{kind}(64)`")),
        errors,
        |e, errors| spec::positive(e, "units", &kind, errors),
    );
    let sequences = bound
        .get(1)
        .map_or(Some(false), |e| spec::boolean(e, "return_sequences", errors));
    let (t, _) = sequence_input(&kind, input?, previous, span, errors)?;
    let (units, sequences) = (units?, sequences?);
    let output = if sequences {
        Shape::Sequence(t, units)
    } else {
        Shape::Flat(units)
    };
    Some((
        Kind::Recurrent(Recurrent {
            cell,
            units,
            sequences,
            bidirectional: false,
        }),
        output,
    ))
}

/// `Bidirectional(LSTM(64))`, `Bidirectional(GRU(32, return_sequences = true))`: the wrapped
/// layer is written as a call, which `syn` parses as an expression; its keyword arguments are
/// assignments.
fn bidirectional(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
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
    let (Kind::Recurrent(inner), output) = resolve(&wrapped, input, previous, errors)? else {
        unreachable!("recurrent resolves to a recurrent kind")
    };
    let output = match output {
        Shape::Sequence(t, u) => Shape::Sequence(t, 2 * u),
        other => Shape::Flat(2 * other.len()),
    };
    supported.then_some((
        Kind::Recurrent(Recurrent {
            bidirectional: true,
            ..inner
        }),
        output,
    ))
}

/// The padding mask the layer consumes (its sample's token ids), as an `Option`.
fn masked(layer: &Layer, corelib: &TokenStream) -> TokenStream {
    if layer.masked {
        quote!(#corelib::option::Option::Some(ids))
    } else {
        quote!(#corelib::option::Option::None)
    }
}

impl Recurrent {
    /// `dl_core`'s cell.
    fn core_cell(&self, core: &TokenStream) -> TokenStream {
        match self.cell {
            Cell::Lstm => quote!(#core::recurrent::Cell::Lstm),
            Cell::Gru => quote!(#core::recurrent::Cell::Gru),
            Cell::Simple => quote!(#core::recurrent::Cell::Simple),
        }
    }
}

impl KindSpec for Recurrent {
    fn keras_name(&self) -> &'static str {
        match self.cell {
            _ if self.bidirectional => "Bidirectional",
            Cell::Lstm => "LSTM",
            Cell::Gru => "GRU",
            Cell::Simple => "SimpleRNN",
        }
    }

    fn param_shapes(&self, layer: &Layer) -> TensorShapes {
        let (cell, units) = (self.cell, self.units);
        let g = cell.gates() * units;
        // GRU (reset_after) keeps separate input and recurrent biases.
        let bias = if cell == Cell::Gru { vec![2, g] } else { vec![g] };
        let shapes = [vec![layer.input.features(), g], vec![units, g], bias];
        if self.bidirectional {
            let [forward, backward] = cell.bidirectional_names();
            forward
                .into_iter()
                .chain(backward)
                .zip(shapes.iter().chain(&shapes).cloned())
                .collect()
        } else {
            ["kernel", "recurrent_kernel", "bias"]
                .into_iter()
                .zip(shapes)
                .collect()
        }
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (t, d) = sequence_dims(layer.input);
        let (u, g) = (lit(self.units), lit(self.cell.gates() * self.units));
        let sequences = self.sequences;
        let inner = match self.cell {
            Cell::Lstm => quote!(#k::layers::LSTM<#t, #d, #u, #sequences, #g>),
            Cell::Gru => quote!(#k::layers::GRU<#t, #d, #u, #sequences, #g>),
            Cell::Simple => quote!(#k::layers::SimpleRNN<#t, #d, #u, #sequences>),
        };
        if self.bidirectional {
            quote!(#k::layers::Bidirectional<#inner>)
        } else {
            inner
        }
    }

    /// It reads the mask, and passes it on only with its sequence.
    fn mask(&self) -> Mask {
        Mask::Consumes {
            passes_on: self.sequences,
        }
    }

    fn scratch_floats(&self) -> usize {
        self.cell.scratch_floats(self.units)
    }

    fn params_struct(&self, core: &TokenStream) -> Option<TokenStream> {
        Some(quote!(#core::params::Recurrent))
    }

    fn params_type(&self, core: &TokenStream, _layer: &Layer, sizes: &[Literal]) -> TokenStream {
        if self.bidirectional {
            let n = &sizes[..3];
            quote!(#core::params::Bidirectional<#(#n),*>)
        } else {
            quote!(#core::params::Recurrent<#(#sizes),*>)
        }
    }

    fn params_init(&self, core: &TokenStream, decoded: Vec<TokenStream>) -> TokenStream {
        let recurrent = quote!(#core::params::Recurrent);
        if self.bidirectional {
            let (forward, backward) = (&decoded[..3], &decoded[3..]);
            quote!(#core::params::Bidirectional {
                forward: #recurrent { #(#forward,)* },
                backward: #recurrent { #(#backward,)* },
            })
        } else {
            quote!(#recurrent { #(#decoded,)* })
        }
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, corelib, layer, f) = (cx.core, cx.corelib, cx.layer, cx.field);
        let (cell, u, sequences) = (self.core_cell(core), lit(self.units), self.sequences);
        let mask = masked(layer, corelib);
        Some(if self.bidirectional {
            let weights =
                |copy| quote!((&self.#f.#copy.kernel, &self.#f.#copy.recurrent_kernel, &self.#f.#copy.bias));
            let (fw, bw) = (weights(quote!(forward)), weights(quote!(backward)));
            quote! {
                #core::recurrent::bidirectional(#cell, #u, #sequences, x0, #fw, #bw, #mask, out, state);
            }
        } else {
            quote! {
                #core::recurrent::recurrent(#cell, #u, #sequences, x0, &self.#f.kernel,
                    &self.#f.recurrent_kernel, &self.#f.bias, #mask, out, state);
            }
        })
    }

    fn weight_file_mismatch(&self, layer: &Layer, wrong: &[WrongShape], shown: &str) -> Option<String> {
        width_mismatch(layer, ("units", self.units, self.cell.gates()), wrong, shown)
    }
}
