//! The declaration as a graph of resolved layers: kinds, arguments, names, inputs and shapes as
//! plain numbers (`graph` builds it from the syntax).

use syn::{Attribute, Ident, Visibility};

use crate::shape::Shape;
use crate::spec::Activation;

pub use crate::graph::build;

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
    /// A stand-in that knows only the name.
    pub fn unknown(vis: Visibility, ident: Ident) -> Self {
        Fallback {
            vis,
            ident,
            input: None,
            output: None,
        }
    }

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
