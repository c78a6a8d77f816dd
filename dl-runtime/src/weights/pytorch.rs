//! Weights in PyTorch's names and layouts: [`load_pytorch`] reads a `state_dict` saved as
//! safetensors (`safetensors.torch.save_file(model.state_dict(), path)`) into a network declared
//! with the same architecture, and [`save_pytorch`] writes one that
//! `model.load_state_dict(safetensors.torch.load_file(path))` accepts (strictly).
//!
//! PyTorch names parameters after the attributes of its modules (`fc1.weight`, `lstm.bias_hh_l0`,
//! `features.0.weight` in an `nn.Sequential`), which a `dl` network does not know: the caller
//! gives one module name per layer *with parameters*, in declaration order (pooling, `Flatten`,
//! `Dropout` and other layers without parameters are skipped).
//!
//! ```no_run
//! # fn demo<M: dl::Model>(net: &mut M) -> dl::Result<()> {
//! // class Net(nn.Module): fc1 = nn.Linear(10, 64); fc2 = nn.Linear(64, 64); fc3 = nn.Linear(64, 1)
//! dl::weights::load_pytorch(net, "net.safetensors", &["fc1", "fc2", "fc3"])?;
//! dl::weights::save_pytorch(net, "back.safetensors", &["fc1", "fc2", "fc3"])?;
//! # Ok(()) }
//! ```
//!
//! # The mapping
//!
//! `m` is the module name given for the layer; `U` its units, `D` its input features, `G` the
//! gate rows (`4U` LSTM, `3U` GRU, `U` SimpleRNN).
//!
//! | `dl` (Keras) layer | tensor, shape | PyTorch module | tensor, shape | conversion |
//! |---|---|---|---|---|
//! | `Dense` | `kernel (D, U)` | `nn.Linear` | `m.weight (U, D)` | transposed |
//! | | `bias (U)` | | `m.bias (U)` | same |
//! | `Dense` after `Flatten` of an `(H, W, C)` image | `kernel (H·W·C, U)` | `nn.Linear` after `nn.Flatten` of `(C, H, W)` | `m.weight (U, C·H·W)` | transposed, columns reordered from `C, H, W` to `H, W, C` |
//! | `Conv2D` | `kernel (KH, KW, C, F)` | `nn.Conv2d` | `m.weight (F, C, KH, KW)` | HWIO ↔ OIHW |
//! | | `bias (F)` | | `m.bias (F)` | same |
//! | `Conv1D` | `kernel (K, C, F)` | `nn.Conv1d` | `m.weight (F, C, K)` | KIO ↔ OIK |
//! | | `bias (F)` | | `m.bias (F)` | same |
//! | `Dense` after `Flatten` of a `Conv1D` or 1-D pooling's `(T, C)` | `kernel (T·C, U)` | `nn.Linear` after `nn.Flatten` of `(C, T)` | `m.weight (U, C·T)` | transposed, columns reordered from `C, T` to `T, C` |
//! | `DepthwiseConv2D` | `kernel (KH, KW, C, M)` | `nn.Conv2d(C, C·M, groups = C)` | `m.weight (C·M, 1, KH, KW)` | output channel `c·M + m` in both |
//! | | `bias (C·M)` | | `m.bias (C·M)` | same |
//! | `LayerNormalization` | `gamma (D)`, `beta (D)` | `nn.LayerNorm(D, eps = epsilon)` | `m.weight (D)`, `m.bias (D)` | same |
//! | `Embedding` | `embeddings (V, D)` | `nn.Embedding` | `m.weight (V, D)` | same |
//! | `LSTM` | `kernel (D, 4U)`, gates i, f, c, o | `nn.LSTM` | `m.weight_ih_l0 (4U, D)`, gates i, f, g, o | transposed (same gate order) |
//! | | `recurrent_kernel (U, 4U)` | | `m.weight_hh_l0 (4U, U)` | transposed |
//! | | `bias (4U)` | | `m.bias_ih_l0 (4U)`, `m.bias_hh_l0 (4U)` | summed; saved as `bias_ih = bias`, `bias_hh = 0` |
//! | `GRU` | `kernel (D, 3U)`, gates z, r, h | `nn.GRU` | `m.weight_ih_l0 (3U, D)`, gates r, z, n | transposed, gates reordered |
//! | | `recurrent_kernel (U, 3U)` | | `m.weight_hh_l0 (3U, U)` | transposed, gates reordered |
//! | | `bias (2, 3U)`: input, recurrent | | `m.bias_ih_l0 (3U)`, `m.bias_hh_l0 (3U)` | rows 0 and 1, gates reordered |
//! | `SimpleRNN` | `kernel (D, U)` | `nn.RNN` (`tanh`) | `m.weight_ih_l0 (U, D)` | transposed |
//! | | `recurrent_kernel (U, U)` | | `m.weight_hh_l0 (U, U)` | transposed |
//! | | `bias (U)` | | `m.bias_ih_l0 (U)`, `m.bias_hh_l0 (U)` | summed; saved as `bias_ih = bias`, `bias_hh = 0` |
//! | `Bidirectional` of an `LSTM`, `GRU` or `SimpleRNN` | `forward_lstm.kernel`, `forward_lstm.recurrent_kernel`, `forward_lstm.bias` (`_gru`, `_simple_rnn`) | the same module with `bidirectional = True` | `m.weight_ih_l0`, `m.weight_hh_l0`, `m.bias_ih_l0`, `m.bias_hh_l0` | as the wrapped layer's |
//! | | `backward_lstm.kernel`, `backward_lstm.recurrent_kernel`, `backward_lstm.bias` | | `m.weight_ih_l0_reverse`, `m.weight_hh_l0_reverse`, `m.bias_ih_l0_reverse`, `m.bias_hh_l0_reverse` | as the wrapped layer's |
//! | `BatchNormalization` | `gamma`, `beta`, `moving_mean`, `moving_variance` | `nn.BatchNorm2d` / `1d` | `m.weight`, `m.bias`, `m.running_mean`, `m.running_var` | same; `m.num_batches_tracked` is ignored |
//!
//! A `Dense` or `Conv2D` with `use_bias = false` is the module built with `bias=False`: `m.weight`
//! alone.
//!
//! Keras's GRU with `reset_after = True` (its default, and `dl`'s) is PyTorch's formulation:
//! the reset gate scales `W_hn·h + b_hn`. The recurrent layers are PyTorch's defaults otherwise:
//! one layer (`_l0`), one direction (two for a `Bidirectional`, below), with biases;
//! `batch_first = True` is what matches `dl`'s `(T, D)` sequences (it changes the inputs, not the
//! weights). A `Flatten` of a sequence keeps PyTorch's `batch_first` order `(T, D)`; only images
//! are reordered, because PyTorch's images are channels-first and `dl`'s channels-last: feed
//! PyTorch `x.permute(0, 3, 1, 2)` of what `dl` reads.
//!
//! # `Bidirectional`
//!
//! Keras's `Bidirectional(LSTM(U))` (its `merge_mode = "concat"`, the one `dl` has) is one
//! `nn.LSTM(D, U, batch_first=True, bidirectional=True)` (`nn.GRU`, `nn.RNN` likewise): the
//! forward copy is PyTorch's `_l0` tensors and the backward copy its `_l0_reverse` tensors, each
//! converted as the wrapped layer's. PyTorch's output `out`, `(N, T, 2U)`, holds at step `t`
//! both directions' state at input step `t`, forward first, as Keras's does; which steps a
//! PyTorch model must take for its outputs to match `dl`'s:
//!
//! - with `return_sequences = true`, `dl`'s output is `out` (and a `Flatten` of it
//!   `out.flatten(1)`);
//! - without, Keras keeps the forward copy's state after the last step and the backward copy's
//!   after it has read the whole sequence in reverse, which is PyTorch's backward output at step
//!   0: `torch.cat([out[:, -1, :U], out[:, 0, U:]], -1)`, the same as the final states
//!   `torch.cat([h_n[0], h_n[1]], -1)` (`out, (h_n, c_n)` for an LSTM). `out[:, -1]` is not it:
//!   its backward half has read only the last step.
//!
//! ```python
//! # dl: input: tokens[7], Embedding(20, 6), Bidirectional(LSTM(5)), Dense(3, softmax);
//! # modules ["embedding", "rnn", "fc"].
//! class Net(nn.Module):
//!     def __init__(self):
//!         super().__init__()
//!         self.embedding = nn.Embedding(20, 6)
//!         self.rnn = nn.LSTM(6, 5, batch_first=True, bidirectional=True)
//!         self.fc = nn.Linear(2 * 5, 3)
//!
//!     def forward(self, ids):
//!         out, (h_n, c_n) = self.rnn(self.embedding(ids))
//!         last = torch.cat([out[:, -1, :5], out[:, 0, 5:]], dim=-1)
//!         return torch.softmax(self.fc(last), dim=-1)
//! ```
//!
//! Loading checks everything [`load`](super::load) does, in PyTorch's terms: every tensor of
//! the named modules present and no other, `F32`, PyTorch's shape, every value finite; on any
//! problem the network is unchanged and the `Err` names the PyTorch tensor, e.g. `fc1.weight:
//! expected shape [64, 10], found [10, 64]`. Adding two biases can round: a file whose
//! `bias_hh` is not zero loads to within an ulp of PyTorch's sum, and [`save_pytorch`] writes
//! `bias_hh` as `-0.0`, the one value that adds exactly, so that a save-load round trip is bit
//! for bit.

use std::path::Path;

use super::format::{self, Parsed, shape_str};
use super::{
    KEY_NETWORK, KEY_VERSION, at, atomic, check_finite, format_error, io_error, max_file_len, name_list,
    read_limited,
};
use crate::error::Result;
use crate::model::Model;
use crate::summary::LayerSummary;

/// Reads the PyTorch `state_dict` at `path` into `model`, converting names and layouts (see the
/// [module docs](self)); `modules` names the PyTorch module of each layer with parameters, in
/// declaration order. On `Err` the model is unchanged.
pub fn load_pytorch<M: Model, S: AsRef<str>>(
    model: &mut M,
    path: impl AsRef<Path>,
    modules: &[S],
) -> Result<()> {
    let path = path.as_ref();
    let plan = plan(&*model, modules).map_err(|e| at(path, e))?;
    // PyTorch's recurrent biases come in pairs: at most twice the parameters.
    let bytes = read_limited(path, max_file_len::<M>(1))?;
    load_planned(model, &plan, &bytes).map_err(|e| at(path, e))
}

/// Writes `model`'s parameters to `path` in PyTorch's names and layouts, atomically;
/// `modules` as for [`load_pytorch`].
pub fn save_pytorch<M: Model, S: AsRef<str>>(model: &M, path: impl AsRef<Path>, modules: &[S]) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_pytorch_bytes(model, modules).map_err(|e| at(path, e))?;
    atomic::write_atomic(path, &bytes).map_err(|e| io_error(path, e))
}

/// Loads the PyTorch `state_dict` file `bytes` as [`load_pytorch`] does; the entry point for
/// fuzzing. On `Err` the model is unchanged.
pub fn from_pytorch_bytes<M: Model, S: AsRef<str>>(model: &mut M, bytes: &[u8], modules: &[S]) -> Result<()> {
    let plan = plan(&*model, modules)?;
    load_planned(model, &plan, bytes)
}

/// The file [`save_pytorch`] writes.
pub fn to_pytorch_bytes<M: Model, S: AsRef<str>>(model: &M, modules: &[S]) -> Result<Vec<u8>> {
    let plan = plan(model, modules)?;
    let mut keras: Vec<&[f32]> = Vec::with_capacity(plan.len());
    model.for_each_param(|_, _, values| keras.push(values));
    model.for_each_state(|_, _, values| keras.push(values));
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for (t, values) in plan.iter().zip(keras) {
        check_finite(&t.keras, &t.shape, values)
            .map_err(|e| format_error(format!("{e}; refusing to save weights that could not be loaded")))?;
        let mut parts: Vec<Vec<f32>> = t.sources.iter().map(|s| vec![0.0; s.len()]).collect();
        if let Map::Summed { .. } = t.map {
            // `bias + -0.0` is `bias` for every value, `+0.0` would turn `-0.0` into `+0.0`.
            parts[1].fill(-0.0);
        }
        for (k, &v) in values.iter().enumerate() {
            let (part, i) = t.map.source(k);
            parts[part][i] = v;
        }
        for (s, values) in t.sources.iter().zip(parts) {
            tensors.push((s.name.clone(), s.shape.clone(), values));
        }
    }
    let refs: Vec<(String, Vec<usize>, &[f32])> = tensors
        .iter()
        .map(|(n, s, v)| (n.clone(), s.clone(), v.as_slice()))
        .collect();
    // `format: pt` is what `safetensors.torch` and Hugging Face tools write and look for.
    let metadata = [("format", "pt".to_string()), (KEY_NETWORK, M::NAME.to_string())];
    Ok(format::write(&metadata, &refs))
}

/// One parameter tensor of the network, in visiting order, and where PyTorch keeps it.
#[derive(Debug)]
struct Planned {
    /// `dense.kernel`.
    keras: String,
    /// Keras's shape.
    shape: Vec<usize>,
    map: Map,
    /// The PyTorch tensors it is made of (one, or two for a pair of recurrent biases).
    sources: Vec<Source>,
    /// PyTorch tensors of the same module that loading accepts and ignores.
    ignored: &'static [&'static str],
    /// The module name, for `ignored`.
    module: String,
}

#[derive(Debug)]
struct Source {
    name: String,
    shape: Vec<usize>,
}

impl Source {
    fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// How a Keras tensor's elements are found in the PyTorch tensors: [`Map::source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Map {
    /// The same values in the same order.
    Same,
    /// Keras's `(rows, cols)` is PyTorch's `(cols, rows)` transposed, with PyTorch's blocks of
    /// rows (gates) in the order `gates` gives for Keras's blocks of columns, and, after a
    /// `Flatten` of an `(H, W, C)` image, Keras's rows (`H, W, C` order) taken from PyTorch's
    /// columns in `C, H, W` order.
    Transposed {
        rows: usize,
        cols: usize,
        gates: &'static [usize],
        image: Option<[usize; 3]>,
    },
    /// Keras's `(KH, KW, C, F)` from PyTorch's `(F, C, KH, KW)`.
    Conv {
        kh: usize,
        kw: usize,
        c: usize,
        f: usize,
    },
    /// Keras's `(K, C, F)` from PyTorch's `(F, C, K)`: a `Conv` with one kernel column.
    Conv1D { k: usize, c: usize, f: usize },
    /// Keras's depthwise `(KH, KW, C, M)` from PyTorch's grouped `(C·M, 1, KH, KW)`.
    Depthwise {
        kh: usize,
        kw: usize,
        c: usize,
        m: usize,
    },
    /// Keras's `(G)` is the sum of two PyTorch `(G)`, gates reordered.
    Summed { len: usize, gates: &'static [usize] },
    /// Keras's `(2, G)` rows are two PyTorch `(G)`, gates reordered.
    Stacked { len: usize, gates: &'static [usize] },
}

impl Map {
    /// Where Keras's element `k` (row-major) is: `(source, index)`. For `Summed`, it is the sum
    /// of that index in both sources.
    fn source(&self, k: usize) -> (usize, usize) {
        match *self {
            Map::Same => (0, k),
            Map::Transposed {
                rows,
                cols,
                gates,
                image,
            } => {
                let (r, g) = (k / cols, k % cols);
                let r = match image {
                    Some([h, w, c]) => {
                        let (y, x, ch) = (r / (w * c), r / c % w, r % c);
                        (ch * h + y) * w + x
                    }
                    None => r,
                };
                (0, gate_row(g, cols, gates) * rows + r)
            }
            Map::Conv { kh, kw, c, f } => {
                let (rest, o) = (k / f, k % f);
                let (rest, i) = (rest / c, rest % c);
                let (y, x) = (rest / kw, rest % kw);
                (0, ((o * c + i) * kh + y) * kw + x)
            }
            Map::Conv1D { k: kh, c, f } => Map::Conv { kh, kw: 1, c, f }.source(k),
            Map::Depthwise { kh, kw, c, m } => {
                let (rest, j) = (k / m, k % m);
                let (rest, i) = (rest / c, rest % c);
                let (y, x) = (rest / kw, rest % kw);
                (0, ((i * m + j) * kh + y) * kw + x)
            }
            Map::Summed { len, gates } => (0, gate_row(k, len, gates)),
            Map::Stacked { len, gates } => (k / len, gate_row(k % len, len, gates)),
        }
    }
}

/// PyTorch's row for Keras's gate row `g` of `len`, whose `gates.len()` blocks come from
/// PyTorch's blocks `gates[..]`.
fn gate_row(g: usize, len: usize, gates: &[usize]) -> usize {
    let units = len / gates.len();
    gates[g / units] * units + g % units
}

/// PyTorch's gate blocks for each of Keras's: LSTM i, f, g, o is Keras's i, f, c, o.
const LSTM_GATES: &[usize] = &[0, 1, 2, 3];
/// Keras's GRU z, r, h from PyTorch's r, z, n.
const GRU_GATES: &[usize] = &[1, 0, 2];
const ONE_GATE: &[usize] = &[0];

/// How a Keras tensor is made of PyTorch tensors, before the shapes are known.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Same,
    /// `nn.Linear`'s weight, or a recurrent weight with the given gate order.
    Transposed(&'static [usize]),
    Conv,
    Depthwise,
    Summed(&'static [usize]),
    Stacked(&'static [usize]),
}

/// A layer kind's tensors: `(Keras tensor, PyTorch tensors, rule)`.
type Rules = &'static [(&'static str, &'static [&'static str], Rule)];

/// The layer kinds with parameters that map to PyTorch, for error messages: [`rules`]' kinds and
/// `Bidirectional` (through [`bidirectional_copy`]).
const MAPPED: &[&str] = &[
    "Dense",
    "Conv2D",
    "Conv1D",
    "DepthwiseConv2D",
    "Embedding",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "Bidirectional",
    "BatchNormalization",
    "LayerNormalization",
];

/// The mapping of each layer kind with parameters, as the module docs' table; `None` for a kind
/// with no PyTorch counterpart. A new kind is one arm here (and a row in the table).
fn rules(kind: &str) -> Option<Rules> {
    Some(match kind {
        "Dense" => &[
            ("kernel", &["weight"], Rule::Transposed(ONE_GATE)),
            ("bias", &["bias"], Rule::Same),
        ],
        "Conv2D" => &[
            ("kernel", &["weight"], Rule::Conv),
            ("bias", &["bias"], Rule::Same),
        ],
        "Conv1D" => &[
            ("kernel", &["weight"], Rule::Conv),
            ("bias", &["bias"], Rule::Same),
        ],
        "DepthwiseConv2D" => &[
            ("kernel", &["weight"], Rule::Depthwise),
            ("bias", &["bias"], Rule::Same),
        ],
        "Embedding" => &[("embeddings", &["weight"], Rule::Same)],
        "LayerNormalization" => &[
            ("gamma", &["weight"], Rule::Same),
            ("beta", &["bias"], Rule::Same),
        ],
        "LSTM" => &[
            ("kernel", &["weight_ih_l0"], Rule::Transposed(LSTM_GATES)),
            (
                "recurrent_kernel",
                &["weight_hh_l0"],
                Rule::Transposed(LSTM_GATES),
            ),
            ("bias", &["bias_ih_l0", "bias_hh_l0"], Rule::Summed(LSTM_GATES)),
        ],
        "GRU" => &[
            ("kernel", &["weight_ih_l0"], Rule::Transposed(GRU_GATES)),
            ("recurrent_kernel", &["weight_hh_l0"], Rule::Transposed(GRU_GATES)),
            ("bias", &["bias_ih_l0", "bias_hh_l0"], Rule::Stacked(GRU_GATES)),
        ],
        "SimpleRNN" => &[
            ("kernel", &["weight_ih_l0"], Rule::Transposed(ONE_GATE)),
            ("recurrent_kernel", &["weight_hh_l0"], Rule::Transposed(ONE_GATE)),
            ("bias", &["bias_ih_l0", "bias_hh_l0"], Rule::Summed(ONE_GATE)),
        ],
        // Saving does not write `num_batches_tracked` (an I64 that `format::write` cannot
        // write): `load_state_dict(strict=True)` wants it, `strict=False` does not.
        "BatchNormalization" => &[
            ("gamma", &["weight"], Rule::Same),
            ("beta", &["bias"], Rule::Same),
            ("moving_mean", &["running_mean"], Rule::Same),
            ("moving_variance", &["running_var"], Rule::Same),
        ],
        _ => return None,
    })
}

/// The recurrent kind, tensor and PyTorch name suffix of a `Bidirectional` wrapper's tensor
/// `forward_lstm.kernel`, …: `("LSTM", "kernel", "")`, or `"_reverse"` for the backward copy.
fn bidirectional_copy(tensor: &str) -> Option<(&'static str, &str, &'static str)> {
    let (copy, inner) = tensor.split_once('.')?;
    let (cell, suffix) = match copy.split_once('_')? {
        ("forward", cell) => (cell, ""),
        ("backward", cell) => (cell, "_reverse"),
        _ => return None,
    };
    let kind = match cell {
        "lstm" => "LSTM",
        "gru" => "GRU",
        "simple_rnn" => "SimpleRNN",
        _ => return None,
    };
    Some((kind, inner, suffix))
}

/// PyTorch tensors of a kind that `dl` has no use for, accepted and ignored when loading.
fn ignored(kind: &str) -> &'static [&'static str] {
    match kind {
        "BatchNormalization" => &["num_batches_tracked"],
        _ => &[],
    }
}

/// The PyTorch tensors of every parameter tensor of `M`, in visiting order, for `modules`.
fn plan<M: Model, S: AsRef<str>>(model: &M, modules: &[S]) -> Result<Vec<Planned>> {
    let mut params: Vec<(&'static str, &'static str, usize)> = Vec::new();
    model.for_each_param(|layer, tensor, values| params.push((layer, tensor, values.len())));
    // Non-trainable state (moving statistics) is mapped like the parameters and comes after them.
    model.for_each_state(|layer, tensor, values| params.push((layer, tensor, values.len())));
    let mut layers: Vec<&'static str> = Vec::new();
    for &(layer, _, _) in &params {
        if !layers.contains(&layer) {
            layers.push(layer);
        }
    }
    let modules: Vec<&str> = modules.iter().map(AsRef::as_ref).collect();
    if modules.len() != layers.len() {
        let listed: Vec<String> = layers.iter().map(|l| format!("`{l}`")).collect();
        return Err(format_error(format!(
            "{} PyTorch module names given for network `{}`, which has {} layers with parameters ({}): give one \
             name per layer with parameters, in order",
            modules.len(),
            M::NAME,
            layers.len(),
            listed.join(", ")
        )));
    }
    for (i, m) in modules.iter().enumerate() {
        if m.is_empty() {
            return Err(format_error(format!(
                "PyTorch module name {i} (for layer `{}`) is empty",
                layers[i]
            )));
        }
        if modules[..i].contains(m) {
            return Err(format_error(format!(
                "PyTorch module name `{m}` is given twice (for layers `{}` and `{}`)",
                layers[modules.iter().position(|n| n == m).unwrap_or(0)],
                layers[i]
            )));
        }
    }

    let mut plan = Vec::with_capacity(params.len());
    for (layer, tensor, len) in params {
        let index = layers.iter().position(|&l| l == layer).unwrap_or(0);
        let module = modules[index];
        let keras = format!("{layer}.{tensor}");
        let Some(position) = M::LAYERS.iter().position(|l| l.name == layer) else {
            return Err(format_error(format!(
                "{keras}: layer `{layer}` is not in the network's layer table (`Model::LAYERS`)"
            )));
        };
        let kind = M::LAYERS[position].kind;
        // A `Bidirectional` copy is its recurrent kind's tensor, under PyTorch's `_reverse` names
        // for the backward one.
        let (rules, inner, suffix) = match kind {
            "Bidirectional" => match bidirectional_copy(tensor) {
                Some((cell, inner, suffix)) => (rules(cell), inner, suffix),
                // Not a copy's tensor: the lookup below names it.
                None => (Some(&[] as Rules), tensor, ""),
            },
            _ => (rules(kind), tensor, ""),
        };
        let Some(rules) = rules else {
            return Err(format_error(format!(
                "layer `{layer}` is a `{kind}`, which has no PyTorch counterpart here (the layers with \
                 parameters that have one: {})",
                MAPPED.join(", ")
            )));
        };
        let Some(&(_, torch, rule)) = rules.iter().find(|(k, _, _)| *k == inner) else {
            return Err(format_error(format!(
                "{keras}: a `{kind}` has no tensor `{tensor}` in the PyTorch mapping"
            )));
        };
        let shape = M::PARAM_SHAPES
            .iter()
            .find(|(l, t, s)| *l == layer && *t == tensor && s.iter().product::<usize>() == len)
            .map(|(_, _, s)| s.to_vec())
            .ok_or_else(|| {
                format_error(format!(
                    "{keras}: network `{}` does not declare the shape of this tensor (`Model::PARAM_SHAPES`), \
                     which converting to or from PyTorch's layout needs",
                    M::NAME
                ))
            })?;
        let map = instantiate(rule, &shape, || flattened_image(M::LAYERS, position))?.ok_or_else(|| {
            format_error(format!(
                "{keras}: unexpected shape {} for a `{kind}` {tensor}",
                shape_str(&shape)
            ))
        })?;
        let torch_shape = torch_shape(map, &shape);
        plan.push(Planned {
            keras,
            map,
            sources: torch
                .iter()
                .map(|t| Source {
                    name: format!("{module}.{t}{suffix}"),
                    shape: torch_shape.clone(),
                })
                .collect(),
            shape,
            ignored: ignored(kind),
            module: module.to_string(),
        });
    }
    Ok(plan)
}

/// The map of `rule` for a Keras tensor of `shape`, `None` if the shape does not fit the rule.
/// `image` tells, for a `Dense` kernel, the image a `Flatten` before it flattened.
fn instantiate(
    rule: Rule,
    shape: &[usize],
    image: impl FnOnce() -> Result<Option<[usize; 3]>>,
) -> Result<Option<Map>> {
    let fits = |len: usize, gates: &[usize]| len > 0 && len.is_multiple_of(gates.len());
    Ok(Some(match (rule, shape) {
        (Rule::Same, _) => Map::Same,
        (Rule::Transposed(gates), &[rows, cols]) if fits(cols, gates) => Map::Transposed {
            rows,
            cols,
            gates,
            // Only a `Dense` (one gate) can read a `Flatten`.
            image: if gates.len() == 1 {
                image()?.filter(|[h, w, c]| h * w * c == rows)
            } else {
                None
            },
        },
        (Rule::Conv, &[kh, kw, c, f]) => Map::Conv { kh, kw, c, f },
        (Rule::Conv, &[k, c, f]) => Map::Conv1D { k, c, f },
        (Rule::Depthwise, &[kh, kw, c, m]) => Map::Depthwise { kh, kw, c, m },
        (Rule::Summed(gates), &[len]) if fits(len, gates) => Map::Summed { len, gates },
        (Rule::Stacked(gates), &[2, len]) if fits(len, gates) => Map::Stacked { len, gates },
        _ => return Ok(None),
    }))
}

/// PyTorch's shape of each source of a Keras tensor of `shape`.
fn torch_shape(map: Map, shape: &[usize]) -> Vec<usize> {
    match map {
        Map::Same => shape.to_vec(),
        Map::Transposed { rows, cols, .. } => vec![cols, rows],
        Map::Conv { kh, kw, c, f } => vec![f, c, kh, kw],
        Map::Conv1D { k, c, f } => vec![f, c, k],
        Map::Depthwise { kh, kw, c, m } => vec![c * m, 1, kh, kw],
        Map::Summed { len, .. } | Map::Stacked { len, .. } => vec![len],
    }
}

/// The `(H, W, C)` image that layer `at` reads through a `Flatten` or a `Reshape` to a vector
/// (and any `Dropout` after it), if it does: PyTorch flattens it as `(C, H, W)`. An `Err` when
/// the `Flatten` is the first layer, whose input's shape `Model::LAYERS` does not record.
fn flattened_image(layers: &[LayerSummary], at: usize) -> Result<Option<[usize; 3]>> {
    let mut i = at;
    while i > 0 && layers[i - 1].kind == "Dropout" {
        i -= 1;
    }
    // A `Reshape` to a vector flattens as `Flatten` does (PyTorch's `x.flatten(1)` or `view`).
    let flattens =
        |l: &LayerSummary| l.kind == "Flatten" || (l.kind == "Reshape" && l.output_shape.len() == 1);
    if i == 0 || !flattens(&layers[i - 1]) {
        return Ok(None);
    }
    let flatten = i - 1;
    // The input of the `Flatten` is the output of the layer before it, which a `Dropout` does
    // not change.
    let Some(before) = flatten.checked_sub(1) else {
        return Err(format_error(format!(
            "layer `{}` reads `{}`, the network's first layer, whose input shape the network does not record: \
             if it is an image of more than one channel, PyTorch flattens it in another order (C, H, W) than \
             dl (H, W, C); declare a flat input (`input: [N]`, the same input type) without the `Flatten`",
            layers[at].name, layers[flatten].name
        )));
    };
    Ok(match *layers[before].output_shape {
        [h, w, c] => Some([h, w, c]),
        // PyTorch's 1-D convolutions and poolings are channels-first, `(C, T)`, as a `T × 1`
        // image; a recurrent layer's or an `Embedding`'s `(T, D)` is not.
        [t, c]
            if matches!(
                layers[before].kind,
                "Conv1D" | "MaxPooling1D" | "AveragePooling1D"
            ) =>
        {
            Some([t, 1, c])
        }
        _ => None,
    })
}

/// Checks the file against the plan, converts it, and only then writes the model.
fn load_planned<M: Model>(model: &mut M, plan: &[Planned], bytes: &[u8]) -> Result<()> {
    // A `dl.format_version` this version of dl does not know is refused, as `load` does: such
    // a file was written by a later dl, whose meaning of the tensors may differ.
    let file = super::parse(bytes)?;
    check_names::<M>(plan, &file)?;
    let find = |name: &str| file.tensors.iter().find(|t| t.name == name);

    let mut staged: Vec<f32> = Vec::with_capacity(M::PARAMS);
    for t in plan {
        let mut parts = Vec::with_capacity(t.sources.len());
        for s in &t.sources {
            let found = find(&s.name).ok_or_else(|| format_error(format!("missing tensor `{}`", s.name)))?;
            if found.dtype != "F32" {
                return Err(format_error(format!(
                    "{}: expected dtype F32, found {} (convert with `.float()` before saving)",
                    s.name, found.dtype
                )));
            }
            if found.shape != s.shape {
                let hint = if found.shape == t.shape && t.shape != s.shape {
                    format!(" (that is the shape of `{}` in dl's and Keras's layout)", t.keras)
                } else {
                    String::new()
                };
                return Err(format_error(format!(
                    "{}: expected shape {}, found {}{hint}",
                    s.name,
                    shape_str(&s.shape),
                    shape_str(&found.shape)
                )));
            }
            let values = super::decode(found.data);
            check_finite(&s.name, &s.shape, &values).map_err(format_error)?;
            parts.push(values);
        }
        let len: usize = t.shape.iter().product();
        let start = staged.len();
        if let Map::Summed { .. } = t.map {
            staged.extend((0..len).map(|k| {
                let (_, i) = t.map.source(k);
                parts[0][i] + parts[1][i]
            }));
            // Two finite biases can overflow when added.
            if let Some(k) = staged[start..].iter().position(|v| !v.is_finite()) {
                return Err(format_error(format!(
                    "{}: {} + {} overflows at index {}",
                    t.keras,
                    t.sources[0].name,
                    t.sources[1].name,
                    t.map.source(k).1
                )));
            }
        } else {
            staged.extend((0..len).map(|k| {
                let (part, i) = t.map.source(k);
                parts[part][i]
            }));
        }
    }
    // Nothing can fail from here on; the plan was made from these very tensors.
    let mut at = 0;
    let mut commit = |v: &mut [f32]| {
        v.copy_from_slice(&staged[at..at + v.len()]);
        at += v.len();
    };
    model.for_each_param_mut(|_, _, v| commit(v));
    model.for_each_state_mut(|_, _, v| commit(v));
    Ok(())
}

/// Every PyTorch tensor of the plan is in the file, and nothing else but ignored tensors.
fn check_names<M: Model>(plan: &[Planned], file: &Parsed<'_>) -> Result<()> {
    let wanted = || plan.iter().flat_map(|t| &t.sources).map(|s| s.name.as_str());
    let missing: Vec<&str> = wanted()
        .filter(|n| !file.tensors.iter().any(|t| t.name == *n))
        .collect();
    let is_ignored = |name: &str| {
        plan.iter().any(|t| {
            name.strip_prefix(t.module.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|tensor| t.ignored.contains(&tensor))
        })
    };
    let unexpected: Vec<&str> = file
        .tensors
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| !wanted().any(|w| w == *n) && !is_ignored(n))
        .collect();
    if missing.is_empty() && unexpected.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(name_list("missing tensor", &missing));
    }
    if !unexpected.is_empty() {
        parts.push(name_list("unexpected tensor", &unexpected));
    }
    let mut modules: Vec<String> = Vec::new();
    for t in plan {
        let m = format!("`{}`", t.module);
        if !modules.contains(&m) {
            modules.push(m);
        }
    }
    let mut message = format!(
        "{}; the file does not match network `{}` with PyTorch modules {}",
        parts.join("; "),
        M::NAME,
        modules.join(", ")
    );
    let reverse = |names: &[&str]| names.iter().any(|n| n.ends_with("_l0_reverse"));
    if reverse(&unexpected) && !reverse(&missing) {
        message.push_str(
            " (`_l0_reverse` tensors are the backward direction of a module with `bidirectional=True`: declare \
             that layer as `Bidirectional(…)`)",
        );
    } else if reverse(&missing) && !reverse(&unexpected) {
        message.push_str(
            " (a `Bidirectional` layer reads a recurrent module with `bidirectional=True`, whose backward \
             direction is the `_l0_reverse` tensors)",
        );
    }
    if file.meta(KEY_VERSION).is_some() {
        message.push_str(" (the file is in dl's own names and layout: read it with weights::load)");
    } else if let Some(n) = file.meta(KEY_NETWORK).filter(|n| *n != M::NAME) {
        message.push_str(&format!(" (the file was written for network `{n}`)"));
    }
    Err(format_error(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies `map` to PyTorch's tensors the slow way, by their multi-dimensional indices.
    #[test]
    fn conv_kernels_go_from_oihw_to_hwio() {
        let (kh, kw, c, f) = (3, 2, 4, 5);
        let map = Map::Conv { kh, kw, c, f };
        for y in 0..kh {
            for x in 0..kw {
                for i in 0..c {
                    for o in 0..f {
                        let keras = ((y * kw + x) * c + i) * f + o;
                        let torch = ((o * c + i) * kh + y) * kw + x;
                        assert_eq!(map.source(keras), (0, torch));
                    }
                }
            }
        }
    }

    #[test]
    fn conv1d_kernels_go_from_oik_to_kio() {
        let (k, c, f) = (3, 4, 5);
        let map = Map::Conv1D { k, c, f };
        for j in 0..k {
            for i in 0..c {
                for o in 0..f {
                    assert_eq!(map.source((j * c + i) * f + o), (0, (o * c + i) * k + j));
                }
            }
        }
        assert_eq!(torch_shape(map, &[k, c, f]), [f, c, k]);
    }

    /// `nn.Conv2d(C, C·M, groups = C)`: output channel `i·M + j` filters input channel `i`.
    #[test]
    fn depthwise_kernels_go_from_grouped_oihw_to_hwcm() {
        let (kh, kw, c, m) = (3, 2, 4, 2);
        let map = Map::Depthwise { kh, kw, c, m };
        for y in 0..kh {
            for x in 0..kw {
                for i in 0..c {
                    for j in 0..m {
                        let keras = ((y * kw + x) * c + i) * m + j;
                        let torch = ((i * m + j) * kh + y) * kw + x;
                        assert_eq!(map.source(keras), (0, torch));
                    }
                }
            }
        }
    }

    #[test]
    fn dense_after_an_image_reads_channels_first_columns() {
        let (h, w, c, units) = (3, 4, 2, 5);
        let map = Map::Transposed {
            rows: h * w * c,
            cols: units,
            gates: ONE_GATE,
            image: Some([h, w, c]),
        };
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    for u in 0..units {
                        let keras = ((y * w + x) * c + ch) * units + u;
                        let torch = u * (h * w * c) + (ch * h + y) * w + x;
                        assert_eq!(map.source(keras), (0, torch));
                    }
                }
            }
        }
    }

    #[test]
    fn gru_gates_are_reordered() {
        // Keras z, r, h of 2 units each; PyTorch r, z, n.
        let map = Map::Stacked {
            len: 6,
            gates: GRU_GATES,
        };
        let sources: Vec<(usize, usize)> = (0..12).map(|k| map.source(k)).collect();
        assert_eq!(
            sources,
            [
                (0, 2),
                (0, 3),
                (0, 0),
                (0, 1),
                (0, 4),
                (0, 5),
                (1, 2),
                (1, 3),
                (1, 0),
                (1, 1),
                (1, 4),
                (1, 5)
            ]
        );
    }

    #[test]
    fn bidirectional_copies_are_their_cells_under_reverse_names() {
        assert_eq!(
            bidirectional_copy("forward_lstm.recurrent_kernel"),
            Some(("LSTM", "recurrent_kernel", ""))
        );
        assert_eq!(
            bidirectional_copy("backward_gru.bias"),
            Some(("GRU", "bias", "_reverse"))
        );
        assert_eq!(
            bidirectional_copy("backward_simple_rnn.kernel"),
            Some(("SimpleRNN", "kernel", "_reverse"))
        );
        for odd in [
            "kernel",
            "forward_lstm",
            "sideways_lstm.kernel",
            "forward_conv.kernel",
        ] {
            assert_eq!(bidirectional_copy(odd), None, "{odd}");
        }
        // The error message's list is the mapping's.
        for kind in MAPPED {
            assert_eq!(rules(kind).is_some(), *kind != "Bidirectional", "{kind}");
        }
    }

    fn layer(name: &'static str, kind: &'static str, output_shape: &'static [usize]) -> LayerSummary {
        LayerSummary {
            name,
            kind,
            output_shape,
            params: 0,
            non_trainable: 0,
            connected_to: &[],
        }
    }

    #[test]
    fn a_flatten_is_found_through_dropouts() {
        let layers = [
            layer("conv2d", "Conv2D", &[3, 4, 2]),
            layer("flatten", "Flatten", &[24]),
            layer("dropout", "Dropout", &[24]),
            layer("dense", "Dense", &[5]),
            layer("dense_1", "Dense", &[2]),
        ];
        assert_eq!(flattened_image(&layers, 3).unwrap(), Some([3, 4, 2]));
        assert_eq!(flattened_image(&layers, 4).unwrap(), None);
        assert_eq!(flattened_image(&layers, 0).unwrap(), None);
        let sequence = [
            layer("lstm", "LSTM", &[7, 3]),
            layer("flatten", "Flatten", &[21]),
            layer("dense", "Dense", &[5]),
        ];
        assert_eq!(flattened_image(&sequence, 2).unwrap(), None);
        let reshaped = [
            layer("conv1d", "Conv1D", &[7, 3]),
            layer("reshape", "Reshape", &[21]),
            layer("dense", "Dense", &[5]),
        ];
        assert_eq!(flattened_image(&reshaped, 2).unwrap(), Some([7, 1, 3]));
        let not_flat = [
            layer("conv2d", "Conv2D", &[3, 4, 2]),
            layer("reshape", "Reshape", &[12, 2]),
            layer("dense", "Dense", &[5]),
        ];
        assert_eq!(flattened_image(&not_flat, 2).unwrap(), None);
        let first = [layer("flatten", "Flatten", &[24]), layer("dense", "Dense", &[5])];
        assert_eq!(
            flattened_image(&first, 1).unwrap_err().to_string(),
            "<bytes>: layer `dense` reads `flatten`, the network's first layer, whose input shape the network \
             does not record: if it is an image of more than one channel, PyTorch flattens it in another \
             order (C, H, W) than dl (H, W, C); declare a flat input (`input: [N]`, the same input type) \
             without the `Flatten`"
        );
    }
}
