//! Recurrent layers over a sequence: `LSTM(units, return_sequences = false, use_bias = true,
//! kernel_initializer = glorot_uniform, recurrent_initializer = orthogonal, kernel_regularizer =
//! None, recurrent_regularizer = None, unit_forget_bias = true)`, `GRU(…, reset_after = true)`,
//! `SimpleRNN(…)`, and `Bidirectional(layer, merge_mode = "concat")` around one of them.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use super::shared::{
    param_options, params_init_with_bias, params_type_with_bias, required, sequence_dims, sequence_input,
    use_bias, width_mismatch,
};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, WrongShape, lit};
use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::param_options::ParamOption;
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
    /// `use_bias`: without it the layer has no `bias` tensor, as in Keras.
    pub use_bias: bool,
    /// `kernel_…` and `recurrent_…` initializers and regularizers, by tensor (for a
    /// `Bidirectional`, each copy's).
    pub options: Vec<ParamOption>,
}

/// Keyword-only arguments of a recurrent layer, then its cell's switch (see [`Cell::switch`]).
const OPTIONS: [&str; 6] = [
    "use_bias",
    "kernel_initializer",
    "kernel_regularizer",
    "recurrent_initializer",
    "recurrent_regularizer",
    "",
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Lstm,
    Gru,
    Simple,
}

impl Cell {
    /// Keras's switch of the cell that dl's cell has on, as Keras's default does
    /// (`reset_after`, `unit_forget_bias`): written `true`, it is accepted; `false` is not
    /// supported yet.
    fn switch(self) -> Option<&'static str> {
        match self {
            Cell::Lstm => Some("unit_forget_bias"),
            Cell::Gru => Some("reset_after"),
            Cell::Simple => None,
        }
    }

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
    let mut options = OPTIONS;
    let keyword_only = match cell.switch() {
        Some(name) => {
            options[5] = name;
            &options[..]
        }
        None => &options[..5],
    };
    let bound = spec::bind_with(call, &["units", "return_sequences"], keyword_only, errors);
    let units = required(
        bound.get(0),
        (span, &format!("`{kind}` is missing `units`, e.g. `{kind}(64)`")),
        errors,
        |e, errors| spec::positive(e, "units", &kind, errors),
    );
    let sequences = bound
        .get(1)
        .map_or(Some(false), |e| spec::boolean(e, "return_sequences", errors));
    let bias = use_bias(bound.get(2), errors);
    let kernel = param_options(&bound, 3, ("kernel", "kernel"), &kind, errors);
    let recurrent = param_options(&bound, 5, ("recurrent_kernel", "recurrent"), &kind, errors);
    let switch = match cell.switch().and_then(|name| Some((name, bound.get(7)?))) {
        Some((name, e)) => match spec::boolean(e, name, errors) {
            Some(true) => Some(()),
            Some(false) => {
                errors.push(
                    e.span(),
                    format!("`{name} = false` is not supported yet: dl's `{kind}` is Keras's default, `{name} = true`"),
                );
                None
            }
            None => None,
        },
        None => Some(()),
    };
    let (t, _) = sequence_input(&kind, input?, previous, span, errors)?;
    let (units, sequences, use_bias) = (units?, sequences?, bias?);
    switch?;
    let options = [kernel.ok()?, recurrent.ok()?].into_iter().flatten().collect();
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
            use_bias,
            options,
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
    // Each option is the wrapped layer's, so each copy's tensor of its name.
    let [forward, backward] = inner.cell.bidirectional_names();
    let copy = |names: [&'static str; 3], o: &ParamOption| ParamOption {
        tensor: names[usize::from(o.tensor != "kernel")],
        ..*o
    };
    let options = inner
        .options
        .iter()
        .flat_map(|o| [copy(forward, o), copy(backward, o)])
        .collect();
    supported.then_some((
        Kind::Recurrent(Recurrent {
            bidirectional: true,
            options,
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
        let mut shapes = vec![vec![layer.input.features(), g], vec![units, g], bias];
        // Without a bias its name pairs with nothing and is dropped.
        if !self.use_bias {
            shapes.pop();
        }
        if self.bidirectional {
            let [forward, backward] = cell.bidirectional_names();
            forward
                .into_iter()
                .zip(shapes.clone())
                .chain(backward.into_iter().zip(shapes))
                .collect()
        } else {
            ["kernel", "recurrent_kernel", "bias"]
                .into_iter()
                .zip(shapes)
                .collect()
        }
    }

    fn param_options(&self) -> &[ParamOption] {
        &self.options
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (t, d) = sequence_dims(layer.input);
        let (u, g) = (lit(self.units), lit(self.cell.gates() * self.units));
        let sequences = self.sequences;
        let bias = (!self.use_bias).then(|| quote!(, false));
        let inner = match self.cell {
            Cell::Lstm => quote!(#k::layers::LSTM<#t, #d, #u, #sequences, #g #bias>),
            Cell::Gru => quote!(#k::layers::GRU<#t, #d, #u, #sequences, #g #bias>),
            Cell::Simple => quote!(#k::layers::SimpleRNN<#t, #d, #u, #sequences #bias>),
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

    /// Without a bias, a zero-length one in its place.
    fn params_type(&self, core: &TokenStream, _layer: &Layer, sizes: &[Literal]) -> TokenStream {
        if self.bidirectional {
            // Each copy has the same sizes; the first copy's are the first half.
            let one = &sizes[..sizes.len() / 2];
            params_type_with_bias(quote!(#core::params::Bidirectional), self.use_bias, one)
        } else {
            params_type_with_bias(quote!(#core::params::Recurrent), self.use_bias, sizes)
        }
    }

    /// Without a bias, an empty one in its place.
    fn params_init(&self, core: &TokenStream, decoded: Vec<TokenStream>) -> TokenStream {
        let recurrent = quote!(#core::params::Recurrent);
        if self.bidirectional {
            let (forward, backward) = decoded.split_at(decoded.len() / 2);
            let forward = params_init_with_bias(recurrent.clone(), self.use_bias, forward.to_vec());
            let backward = params_init_with_bias(recurrent, self.use_bias, backward.to_vec());
            quote!(#core::params::Bidirectional { forward: #forward, backward: #backward })
        } else {
            params_init_with_bias(recurrent, self.use_bias, decoded)
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
