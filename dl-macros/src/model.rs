//! The declaration with every layer resolved: kinds, arguments, names and shapes as plain
//! numbers. All mistakes are collected; a layer whose arguments are wrong poisons only its own
//! output shape, so one mistake does not cascade into others.

use std::collections::HashSet;

use proc_macro2::Span;
use syn::{Attribute, Ident, Visibility};

use crate::errors::Errors;
use crate::layers;
use crate::mask;
use crate::parse::{Entry, EntryValue, Network as Syntax};
use crate::shape::Shape;
use crate::spec::{self, Activation};
use crate::suggest;

pub struct Network {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// One input sample.
    pub input: Shape,
    pub layers: Vec<Layer>,
}

/// Tensor names with Keras's shapes.
pub type TensorShapes = Vec<(&'static str, Vec<usize>)>;

pub struct Layer {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    /// The struct field (the declared name, or Keras's automatic one).
    pub field: Ident,
    pub name: String,
    pub kind: Kind,
    pub input: Shape,
    pub output: Shape,
    /// Whether the layer consumes the padding mask of an `Embedding(mask_zero = true)` upstream
    /// (see `mask`).
    pub masked: bool,
}

/// A pooling window: size, strides, padding, and the leading padding the macro computed.
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

pub enum Kind {
    Dense {
        units: usize,
        activation: Activation,
    },
    Conv2D {
        filters: usize,
        window: Window,
        activation: Activation,
    },
    Pool {
        op: PoolOp,
        window: Window,
    },
    GlobalPool {
        op: PoolOp,
    },
    Flatten,
    Embedding {
        vocabulary: usize,
        dim: usize,
        /// `mask_zero`: id 0 is padding, masked out downstream.
        mask_zero: bool,
    },
    Recurrent {
        cell: Cell,
        units: usize,
        sequences: bool,
        /// Wrapped in `Bidirectional`: a forward and a backward copy, outputs concatenated.
        bidirectional: bool,
    },
    GlobalPool1D {
        op: PoolOp,
    },
    Dropout {
        rate: f32,
        seed: Option<u64>,
    },
    BatchNorm {
        momentum: f64,
        epsilon: f64,
    },
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

impl Layer {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Dense { .. } => "Dense",
            Kind::Conv2D { .. } => "Conv2D",
            Kind::Pool { op: PoolOp::Max, .. } => "MaxPooling2D",
            Kind::Pool {
                op: PoolOp::Average, ..
            } => "AveragePooling2D",
            Kind::GlobalPool { op: PoolOp::Max } => "GlobalMaxPooling2D",
            Kind::GlobalPool { op: PoolOp::Average } => "GlobalAveragePooling2D",
            Kind::Flatten => "Flatten",
            Kind::Dropout { .. } => "Dropout",
            Kind::BatchNorm { .. } => "BatchNormalization",
            Kind::Embedding { .. } => "Embedding",
            Kind::Recurrent {
                bidirectional: true, ..
            } => "Bidirectional",
            Kind::Recurrent { cell: Cell::Lstm, .. } => "LSTM",
            Kind::Recurrent { cell: Cell::Gru, .. } => "GRU",
            Kind::Recurrent {
                cell: Cell::Simple, ..
            } => "SimpleRNN",
            Kind::GlobalPool1D { op: PoolOp::Max } => "GlobalMaxPooling1D",
            Kind::GlobalPool1D { op: PoolOp::Average } => "GlobalAveragePooling1D",
        }
    }

    pub fn params(&self) -> usize {
        match self.kind {
            Kind::Dense { units, .. } => self.input.features() * units + units,
            Kind::Embedding { vocabulary, dim, .. } => vocabulary * dim,
            Kind::Recurrent {
                cell,
                units,
                bidirectional,
                ..
            } => {
                let g = cell.gates() * units;
                // GRU (reset_after) keeps separate input and recurrent biases.
                let biases = if cell == Cell::Gru { 2 * g } else { g };
                let copies = if bidirectional { 2 } else { 1 };
                copies * (self.input.features() * g + units * g + biases)
            }
            Kind::Conv2D { filters, window, .. } => {
                let c = match self.input {
                    Shape::Image(_, _, c) => c,
                    _ => 0,
                };
                window.size.0 * window.size.1 * c * filters + filters
            }
            // gamma and beta per channel (the last axis).
            Kind::BatchNorm { .. } => 2 * self.channels(),
            _ => 0,
        }
    }

    /// Non-trainable values: a batch normalization's moving mean and variance.
    pub fn non_trainable(&self) -> usize {
        match self.kind {
            Kind::BatchNorm { .. } => 2 * self.channels(),
            _ => 0,
        }
    }

    /// The size of the input's last axis.
    pub fn channels(&self) -> usize {
        self.input.dims().last().copied().unwrap_or(0)
    }

    /// Keras's shape of each state tensor, in the runtime's visiting order.
    pub fn state_shapes(&self) -> TensorShapes {
        match self.kind {
            Kind::BatchNorm { .. } => vec![
                ("moving_mean", vec![self.channels()]),
                ("moving_variance", vec![self.channels()]),
            ],
            _ => Vec::new(),
        }
    }

    /// Keras's shape of each parameter tensor, in the runtime's visiting order.
    pub fn param_shapes(&self) -> TensorShapes {
        let d = self.input.features();
        match self.kind {
            Kind::Dense { units, .. } => vec![("kernel", vec![d, units]), ("bias", vec![units])],
            Kind::Conv2D { filters, window, .. } => {
                let c = self.input.dims().last().copied().unwrap_or(0);
                vec![
                    ("kernel", vec![window.size.0, window.size.1, c, filters]),
                    ("bias", vec![filters]),
                ]
            }
            Kind::Embedding { vocabulary, dim, .. } => vec![("embeddings", vec![vocabulary, dim])],
            Kind::Recurrent {
                cell,
                units,
                bidirectional,
                ..
            } => {
                let g = cell.gates() * units;
                let bias = if cell == Cell::Gru { vec![2, g] } else { vec![g] };
                let shapes = [vec![d, g], vec![units, g], bias];
                if bidirectional {
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
            Kind::BatchNorm { .. } => vec![("gamma", vec![self.channels()]), ("beta", vec![self.channels()])],
            _ => Vec::new(),
        }
    }

    pub fn activation(&self) -> Activation {
        match self.kind {
            Kind::Dense { activation, .. } | Kind::Conv2D { activation, .. } => activation,
            _ => Activation::Linear,
        }
    }
}

/// What generation needs when the declaration has errors: enough for a stub that keeps the
/// user's other code from erroring too.
pub struct Fallback {
    pub vis: Visibility,
    pub ident: Ident,
}

pub fn build(syntax: &Syntax) -> Result<Network, (Errors, Fallback)> {
    let mut errors = Errors::default();
    let mut entries = syntax.entries.iter();

    let input = match entries.next() {
        Some(first) => input(first, &mut errors),
        None => {
            errors.push(
                syntax.ident.span(),
                "a network needs an input and at least one layer, e.g. `input: [10], Dense(1, sigmoid)`",
            );
            None
        }
    };

    let explicit: HashSet<String> = syntax
        .entries
        .iter()
        .skip(1)
        .filter_map(|e| e.name.as_ref().map(|n| n.to_string()))
        .collect();
    let mut names = HashSet::new();
    let mut auto_counts = std::collections::HashMap::<&str, usize>::new();
    let mut layers = Vec::new();
    // `None` once a layer's output is unknown: later shape checks are skipped, not reported.
    let mut shape = input;
    let mut previous = "the input".to_string();
    let mut last_span = None;
    // The masking embedding whose padding mask reaches the current layer, if any.
    let mut mask_source = None;

    for entry in entries {
        let call = match &entry.value {
            EntryValue::Layer(call) => call,
            EntryValue::Dims { span, .. } => {
                errors.push(
                    *span,
                    "only the first entry, `input`, is a shape; layers are written `Dense(64, relu)`",
                );
                shape = None;
                continue;
            }
        };
        let kind_name = call.kind.to_string();
        if !spec::LAYER_KINDS.contains(&kind_name.as_str()) {
            errors.push(
                call.kind.span(),
                suggest::unknown("layer", &kind_name, spec::LAYER_KINDS),
            );
            shape = None;
            continue;
        }
        let (name, field) = match &entry.name {
            Some(n) => {
                let s = n.to_string();
                if s == "input" {
                    errors.push(
                        n.span(),
                        "`input` names the network's input, which must come first",
                    );
                } else if !names.insert(s.clone()) {
                    errors.push(n.span(), format!("duplicate layer name `{s}`"));
                }
                (s, n.clone())
            }
            None => {
                let base = keras_name(&kind_name);
                let count = auto_counts.entry(base).or_insert(0);
                let name = loop {
                    let candidate = if *count == 0 {
                        base.to_string()
                    } else {
                        format!("{base}_{count}")
                    };
                    *count += 1;
                    if !explicit.contains(&candidate) && !names.contains(&candidate) {
                        break candidate;
                    }
                };
                names.insert(name.clone());
                let field = Ident::new(&name, call.kind.span());
                (name, field)
            }
        };
        let built = layers::resolve(call, shape, &previous, &mut errors);
        let masked = mask::flow(
            &mut mask_source,
            built.as_ref().map(|(kind, _)| kind),
            &name,
            call.kind.span(),
            &mut errors,
        );
        shape = built.as_ref().map(|(_, out)| *out);
        previous = format!("`{name}`");
        last_span = Some(call.kind.span());
        if let Some((kind, output)) = built {
            layers.push((entry, name, field, kind, output, masked));
        }
    }

    if let (Some(Shape::Sequence(t, d)), Some(span)) = (shape, last_span) {
        errors.push(
            span,
            format!(
                "the network's output is a sequence of {t} steps × {d} features; losses need one vector per sample: \
                 end with `GlobalAveragePooling1D`, or drop `return_sequences` from the last recurrent layer"
            ),
        );
    }
    if layers.is_empty() && errors.is_empty() {
        errors.push(
            syntax.ident.span(),
            "a network needs at least one layer after its input",
        );
    }
    let fallback = || Fallback {
        vis: syntax.vis.clone(),
        ident: syntax.ident.clone(),
    };
    let Some(input) = input else {
        return Err((errors, fallback()));
    };
    if !errors.is_empty() {
        return Err((errors, fallback()));
    }

    let mut prev = input;
    let layers = layers
        .into_iter()
        .map(|(entry, name, field, kind, output, masked)| {
            let layer = Layer {
                attrs: docs(entry),
                vis: entry.vis.clone(),
                field,
                name,
                kind,
                input: prev,
                output,
                masked,
            };
            prev = output;
            layer
        })
        .collect();
    Ok(Network {
        attrs: syntax.attrs.clone(),
        vis: syntax.vis.clone(),
        ident: syntax.ident.clone(),
        input,
        layers,
    })
}

fn docs(entry: &Entry) -> Vec<Attribute> {
    entry
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
}

/// Keras's automatic layer name: the kind in snake case.
fn keras_name(kind: &str) -> &'static str {
    match kind {
        "Dense" => "dense",
        "Conv2D" => "conv2d",
        "MaxPooling2D" => "max_pooling2d",
        "AveragePooling2D" => "average_pooling2d",
        "GlobalMaxPooling2D" => "global_max_pooling2d",
        "GlobalAveragePooling2D" => "global_average_pooling2d",
        "Flatten" => "flatten",
        "Dropout" => "dropout",
        "BatchNormalization" => "batch_normalization",
        "Embedding" => "embedding",
        "LSTM" => "lstm",
        "GRU" => "gru",
        "SimpleRNN" => "simple_rnn",
        "Bidirectional" => "bidirectional",
        "GlobalMaxPooling1D" => "global_max_pooling1d",
        "GlobalAveragePooling1D" => "global_average_pooling1d",
        _ => "layer",
    }
}

fn input(entry: &Entry, errors: &mut Errors) -> Option<Shape> {
    let named_input = entry.name.as_ref().is_some_and(|n| n == "input");
    let span = entry.name.as_ref().map_or_else(Span::call_site, Ident::span);
    match (&entry.value, named_input) {
        (EntryValue::Dims { dims, span, tokens }, true) => {
            let mut values = Vec::new();
            for d in dims {
                match d.base10_parse::<usize>() {
                    Ok(0) => errors.push(d.span(), "every input dimension needs at least 1"),
                    Ok(n) => values.push(n),
                    Err(e) => errors.push(d.span(), e),
                }
            }
            if values.len() != dims.len() {
                return None;
            }
            match values[..] {
                [n] if tokens.is_some() => Some(Shape::Tokens(n)),
                _ if tokens.is_some() => {
                    errors.push(
                        *span,
                        "token input is one sequence length, e.g. `input: tokens[100],`",
                    );
                    None
                }
                [n] => Some(Shape::Flat(n)),
                [h, w, c] => Some(Shape::Image(h, w, c)),
                _ => {
                    errors.push(
                        *span,
                        format!(
                            "an input is `[features]` or a channels-last image `[height, width, channels]`; found {} dimensions",
                            dims.len()
                        ),
                    );
                    None
                }
            }
        }
        (EntryValue::Layer(call), _) => {
            errors.push(
                entry.name.as_ref().map_or(call.kind.span(), Ident::span),
                "a network starts with its input shape, e.g. `input: [10],`",
            );
            None
        }
        (EntryValue::Dims { span: dims, .. }, false) => {
            // On the name if there is one, else on the shape itself.
            let at = if entry.name.is_some() { span } else { *dims };
            errors.push(at, "the first entry must be named `input`, e.g. `input: [10],`");
            None
        }
    }
}
