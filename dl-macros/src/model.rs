//! The declaration with every layer resolved: kinds, arguments, names and shapes as plain
//! numbers. All mistakes are collected; a layer whose arguments are wrong poisons only its own
//! output shape, so one mistake does not cascade into others.

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use syn::{Attribute, Ident, Visibility};

use crate::errors::Errors;
use crate::layers;
use crate::mask;
use crate::parse::{Entry, EntryValue, LayerCall, Network as Syntax};
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

impl Network {
    /// Whether every layer reads the one above it (the first, the input): a plain stack.
    pub fn is_chain(&self) -> bool {
        self.layers.iter().enumerate().all(|(i, l)| {
            let previous = if i == 0 {
                Source::Input
            } else {
                Source::Node(i - 1)
            };
            l.inputs == [previous]
        })
    }

    /// The layers that read each layer's output, in declaration order.
    pub fn consumers(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.layers.len()];
        for (i, l) in self.layers.iter().enumerate() {
            for s in &l.inputs {
                if let Source::Node(p) = s {
                    out[*p].push(i);
                }
            }
        }
        out
    }

    /// The name of a tensor, as `summary()` shows it.
    pub fn source_name(&self, s: Source) -> &str {
        match s {
            Source::Input => "input",
            Source::Node(i) => &self.layers[i].name,
        }
    }
}

/// Tensor names with Keras's shapes.
pub type TensorShapes = Vec<(&'static str, Vec<usize>)>;

/// Where a layer's input comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The network's input.
    Input,
    /// The output of the layer at this index of [`Network::layers`].
    Node(usize),
}

pub struct Layer {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    /// The struct field (the declared name, or Keras's automatic one).
    pub field: Ident,
    pub name: String,
    pub kind: Kind,
    /// The tensors the layer reads, in order: one for every kind but the merges.
    pub inputs: Vec<Source>,
    /// The shape of its first input (every input's, but `Concatenate`'s last axis).
    pub input: Shape,
    /// The shapes of all its inputs.
    pub input_shapes: Vec<Shape>,
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
    /// `Activation(name)`: an activation as a layer.
    Activation {
        activation: Activation,
    },
    /// A merge of two or more tensors (`Add`, …, `Concatenate` along the last axis).
    Merge {
        op: MergeOp,
    },
}

/// Keras's merge layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeOp {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
    Concatenate,
}

impl MergeOp {
    pub const NAMES: &'static [&'static str] = &[
        "Add",
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
        "Concatenate",
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "Add" => MergeOp::Add,
            "Subtract" => MergeOp::Subtract,
            "Multiply" => MergeOp::Multiply,
            "Average" => MergeOp::Average,
            "Maximum" => MergeOp::Maximum,
            "Minimum" => MergeOp::Minimum,
            "Concatenate" => MergeOp::Concatenate,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
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
        Self::name_of(&self.kind)
    }

    /// Keras's name of a layer kind.
    pub fn name_of(kind: &Kind) -> &'static str {
        match *kind {
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
            Kind::Activation { .. } => "Activation",
            Kind::Merge { op } => op.name(),
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
            Kind::Dense { activation, .. }
            | Kind::Conv2D { activation, .. }
            | Kind::Activation { activation } => activation,
            _ => Activation::Linear,
        }
    }
}

/// What generation needs when the declaration has errors: enough for a stub that keeps the
/// user's other code from erroring too.
pub struct Fallback {
    pub vis: Visibility,
    pub ident: Ident,
    /// The input, when its entry was right: its shape and, for token ids, the vocabulary of the
    /// `Embedding` that reads them (`None` when that is unknown too).
    pub input: Option<(Shape, Option<usize>)>,
    /// Features of the output, when the last layer's shape is known.
    pub output: Option<usize>,
}

impl Fallback {
    /// A stand-in for a network that was built but cannot be emitted (a later check failed):
    /// its input and output are known.
    pub fn of(net: &Network) -> Self {
        let vocabulary = net.layers.iter().find_map(|l| match (l.inputs[0], &l.kind) {
            (Source::Input, Kind::Embedding { vocabulary, .. }) => Some(*vocabulary),
            _ => None,
        });
        Fallback {
            vis: net.vis.clone(),
            ident: net.ident.clone(),
            input: Some((net.input, vocabulary)),
            output: net.layers.last().map(|l| l.output.len()),
        }
    }
}

/// A tensor that a later layer may read: where it comes from, its shape (`None` when a mistake
/// upstream left it unknown) and the padding mask it carries, if any.
#[derive(Clone)]
struct Tensor {
    source: Source,
    shape: Option<Shape>,
    mask: Option<String>,
}

/// A layer as it is resolved, before the whole declaration is known to be correct.
struct Draft<'a> {
    entry: &'a Entry,
    name: String,
    field: Ident,
    kind: Kind,
    inputs: Vec<(Source, Shape)>,
    output: Shape,
    masked: bool,
    /// Where its declaration starts, for "never used".
    span: Span,
}

pub fn build(syntax: &Syntax) -> Result<Network, Box<(Errors, Fallback)>> {
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
    // Every tensor a layer may read, by name: the input and each layer declared so far.
    let mut tensors = HashMap::<String, Tensor>::new();
    let input_tensor = Tensor {
        source: Source::Input,
        shape: input,
        mask: None,
    };
    tensors.insert("input".to_string(), input_tensor.clone());
    let mut names = HashMap::<String, Span>::new();
    let mut auto_counts = HashMap::<&str, usize>::new();
    // Index = position among the layers; `None` where a layer's own arguments were wrong.
    let mut drafts: Vec<Option<Draft>> = Vec::new();
    // What an entry without `(inputs)` reads: the entry above it.
    let mut previous = (input_tensor, "the input".to_string());
    let mut uses = Vec::<usize>::new();
    // A name that could not be read: the layer it meant may look unused, but that is the same
    // mistake, already reported.
    let mut unread_name = false;

    for entry in entries {
        let index = drafts.len();
        let call = match &entry.value {
            EntryValue::Layer(call) => call,
            EntryValue::Dims { span, .. } => {
                errors.push(
                    *span,
                    "only the first entry, `input`, is a shape; layers are written `Dense(64, relu)`",
                );
                previous.0.shape = None;
                continue;
            }
        };
        let kind_name = call.kind.to_string();
        let merge = MergeOp::from_name(&kind_name);
        if merge.is_none() && !spec::LAYER_KINDS.contains(&kind_name.as_str()) {
            let known: Vec<&str> = spec::LAYER_KINDS.iter().chain(MergeOp::NAMES).copied().collect();
            errors.push(call.kind.span(), suggest::unknown("layer", &kind_name, &known));
            previous.0.shape = None;
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
                } else if names.contains_key(&s) {
                    errors.push(
                        n.span(),
                        format!("duplicate layer name `{s}`: an earlier layer already has it; give this one another name"),
                    );
                } else {
                    names.insert(s.clone(), n.span());
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
                    if !explicit.contains(&candidate) && !names.contains_key(&candidate) {
                        break candidate;
                    }
                };
                names.insert(name.clone(), call.kind.span());
                let field = Ident::new(&name, call.kind.span());
                (name, field)
            }
        };

        // The tensors it reads: a merge's positional names, or `(inputs)`, or the entry above.
        let mut read: Vec<&Ident> = Vec::new();
        let mut merge_call;
        let mut call = call;
        if merge.is_some() {
            merge_call = LayerCall {
                kind: call.kind.clone(),
                args: Vec::new(),
                inputs: None,
            };
            for arg in &call.args {
                match (&arg.name, &arg.value) {
                    (None, syn::Expr::Path(p)) if p.path.get_ident().is_some() => {
                        read.push(p.path.get_ident().expect("checked"));
                    }
                    _ => merge_call.args.push(crate::parse::Arg {
                        name: arg.name.clone(),
                        value: arg.value.clone(),
                    }),
                }
            }
            call = &merge_call;
        }
        if let Some(inputs) = &call_inputs(entry) {
            read.extend(inputs.names.iter());
            if inputs.names.is_empty() {
                errors.push(
                    inputs.span,
                    "`()` reads no tensor: name the tensors this layer reads, e.g. `(x)`",
                );
            }
        }
        let reads: Vec<(Tensor, String, Span)> = if read.is_empty() {
            vec![(previous.0.clone(), previous.1.clone(), call.kind.span())]
        } else {
            read.iter()
                .map(|ident| {
                    let n = ident.to_string();
                    let tensor = match tensors.get(&n) {
                        Some(t) => t.clone(),
                        None => {
                            if explicit.contains(&n) || names.contains_key(&n) {
                                let why = if names.contains_key(&n) && n == name {
                                    format!("`{n}` is this layer's own output; a layer reads tensors declared above it")
                                } else {
                                    format!("`{n}` is declared below this layer; a layer reads only tensors declared above it")
                                };
                                errors.push(ident.span(), why);
                            } else {
                                let mut known: Vec<&str> = tensors.keys().map(String::as_str).collect();
                                known.sort_unstable();
                                errors.push(ident.span(), suggest::unknown("tensor", &n, &known));
                            }
                            unread_name = true;
                            Tensor {
                                source: Source::Input,
                                shape: None,
                                mask: None,
                            }
                        }
                    };
                    (tensor, format!("`{n}`"), ident.span())
                })
                .collect()
        };
        for (t, _, _) in &reads {
            if let Source::Node(p) = t.source {
                uses[p] += 1;
            }
        }
        uses.push(0);

        let built = match merge {
            Some(op) => {
                let inputs: Vec<(Option<Shape>, &str, Span)> =
                    reads.iter().map(|(t, n, s)| (t.shape, n.as_str(), *s)).collect();
                layers::merge(op, call, &inputs, &mut errors).map(|out| (Kind::Merge { op }, out))
            }
            None => {
                if reads.len() > 1 {
                    errors.push(
                        reads[1].2,
                        format!(
                            "`{kind_name}` reads one tensor, found {}; to combine tensors use a merge layer (`Add`, `Concatenate`, …)",
                            reads.len()
                        ),
                    );
                }
                let (t, from, _) = &reads[0];
                layers::resolve(call, t.shape, from, &mut errors)
            }
        };
        // The padding mask: a merge may not take one; other layers pass it on as `mask` says.
        let mut mask_state = reads.iter().find_map(|(t, _, _)| t.mask.clone());
        let masked = mask::flow(
            &mut mask_state,
            built.as_ref().map(|(kind, _)| kind),
            &name,
            call.kind.span(),
            &mut errors,
        );
        let output = Tensor {
            source: Source::Node(index),
            shape: built.as_ref().map(|(_, out)| *out),
            mask: mask_state,
        };
        tensors.insert(name.clone(), output.clone());
        previous = (output, format!("`{name}`"));
        let span = entry.name.as_ref().map_or(call.kind.span(), Ident::span);
        let all_known = reads.iter().all(|(t, _, _)| t.shape.is_some());
        drafts.push(match built {
            Some((kind, out)) if all_known => Some(Draft {
                entry,
                name,
                field,
                kind,
                inputs: reads
                    .iter()
                    .map(|(t, _, _)| (t.source, t.shape.expect("known")))
                    .collect(),
                output: out,
                masked,
                span,
            }),
            _ => None,
        });
    }

    let last = drafts.len().checked_sub(1);
    if let (Some(Shape::Sequence(t, d)), Some(Some(draft))) = (previous.0.shape, last.map(|l| &drafts[l])) {
        errors.push(
            draft.entry.name.as_ref().map_or_else(
                || match &draft.entry.value {
                    EntryValue::Layer(c) => c.kind.span(),
                    EntryValue::Dims { span, .. } => *span,
                },
                Ident::span,
            ),
            format!(
                "the network's output is a sequence of {t} steps × {d} features; losses need one vector per sample: \
                 end with `GlobalAveragePooling1D`, or drop `return_sequences` from the last recurrent layer"
            ),
        );
    }
    // Every layer but the last is read by a later one: an unread output is a branch that was
    // forgotten (Keras would silently drop it from the model).
    for (i, draft) in drafts.iter().enumerate().filter(|_| !unread_name) {
        if let (Some(d), true) = (draft, Some(i) != last && uses[i] == 0) {
            errors.push(
                d.span,
                format!(
                    "the output of `{}` ({}) is never used: read it in a later layer, e.g. `Add({}, …)`, or remove the layer",
                    d.name,
                    Layer::name_of(&d.kind),
                    d.name
                ),
            );
        }
    }
    if drafts.is_empty() && errors.is_empty() {
        errors.push(
            syntax.ident.span(),
            "a network needs at least one layer after its input",
        );
    }
    // What the stand-in can still promise callers: the input as declared, and the output when
    // the last layer resolved (a `Dense` fixes its own width even when its input is unknown).
    let vocabulary = syntax.entries.iter().skip(1).find_map(|e| match &e.value {
        EntryValue::Layer(call) if call.kind == "Embedding" => match call.args.first().map(|a| &a.value) {
            Some(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            })) => i.base10_parse::<usize>().ok().filter(|&v| v > 0),
            _ => None,
        },
        _ => None,
    });
    let last_dense_units = syntax.entries.last().and_then(|e| match &e.value {
        EntryValue::Layer(call) if call.kind == "Dense" => match call.args.first() {
            Some(crate::parse::Arg {
                name: None,
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(i),
                        ..
                    }),
            }) => i.base10_parse::<usize>().ok().filter(|&u| u > 0),
            _ => None,
        },
        _ => None,
    });
    let output = match previous.0.shape {
        Some(Shape::Flat(n)) => Some(n),
        Some(Shape::Image(..)) | Some(Shape::Sequence(..)) | Some(Shape::Tokens(_)) => None,
        None => last_dense_units,
    };
    let fallback = || Fallback {
        vis: syntax.vis.clone(),
        ident: syntax.ident.clone(),
        input: input.map(|i| (i, vocabulary)),
        output,
    };
    let Some(input) = input else {
        return Err(Box::new((errors, fallback())));
    };
    if !errors.is_empty() || drafts.iter().any(Option::is_none) {
        return Err(Box::new((errors, fallback())));
    }

    let layers = drafts
        .into_iter()
        .map(|d| {
            let d = d.expect("checked");
            Layer {
                attrs: docs(d.entry),
                vis: d.entry.vis.clone(),
                field: d.field,
                name: d.name,
                kind: d.kind,
                input: d.inputs[0].1,
                input_shapes: d.inputs.iter().map(|(_, s)| *s).collect(),
                inputs: d.inputs.iter().map(|(s, _)| *s).collect(),
                output: d.output,
                masked: d.masked,
            }
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

/// The `(inputs)` written after an entry's layer call.
fn call_inputs(entry: &Entry) -> Option<&crate::parse::Inputs> {
    match &entry.value {
        EntryValue::Layer(call) => call.inputs.as_ref(),
        EntryValue::Dims { .. } => None,
    }
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
        "Activation" => "activation",
        "Add" => "add",
        "Subtract" => "subtract",
        "Multiply" => "multiply",
        "Average" => "average",
        "Maximum" => "maximum",
        "Minimum" => "minimum",
        "Concatenate" => "concatenate",
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
