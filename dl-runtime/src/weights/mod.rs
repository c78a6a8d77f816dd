//! Trained weights and training checkpoints in files, in the
//! [safetensors](https://huggingface.co/docs/safetensors) format.
//!
//! [`save`] writes every parameter of a network, [`load`] reads them back; [`save_checkpoint`]
//! adds the optimizer's state and the epoch so that [`fit`](crate::train::fit) can resume with
//! [`load_checkpoint`] and `initial_epoch`, bit for bit as if training had not stopped.
//!
//! # Layout
//!
//! Each parameter tensor is stored as `F32` under the name `<layer>.<tensor>` that
//! [`Model::for_each_param`] gives (`dense.kernel`, `dense.bias`, `dense_1.kernel`, …), followed
//! by the non-trainable state of [`Model::for_each_state`] (`batch_normalization.moving_mean`,
//! `batch_normalization.moving_variance`), which weights files and checkpoints hold too, in
//! Keras's shapes, which are also `dl`'s memory layout byte for byte:
//!
//! | tensor | shape |
//! |---|---|
//! | `Dense` kernel | `(inputs, units)`, row-major; `units` is the layer's output size and `inputs` the kernel's length divided by it |
//! | `Conv2D` kernel | `(KH, KW, C, F)` |
//! | `LSTM` kernel, recurrent kernel | `(inputs, 4·units)`, `(units, 4·units)`, gates i, f, c, o |
//! | any bias | `(units)` |
//! | anything else | `(len)` |
//!
//! A file written by Keras users with the Python `safetensors` package from
//! `{f"{layer.name}.{w.name}": w.numpy() for layer in model.layers for w in layer.weights}` loads
//! as is. Networks declared with `network!` give every tensor's exact Keras shape
//! ([`Model::PARAM_SHAPES`]), which is what is written and required. A hand-written [`Model`]
//! that leaves `PARAM_SHAPES` empty gets shapes derived from its summary, which does not tell a
//! `Conv2D` kernel's height and width apart: its kernels are written as the 2-D
//! `(KH·KW·C, F)`, the row-major reshape of `(KH, KW, C, F)` (the same bytes), and loading
//! accepts that shape or any 4-D one with the right element count, filters and (when the layer
//! before tells it) channels.
//!
//! The header's `__metadata__` records `dl.format_version` ([`FORMAT_VERSION`]), `dl.network`
//! (the network's name) and `dl.contents` (`weights` or `checkpoint`). A checkpoint adds
//! `dl.epoch`, `dl.optimizer` (the optimizer's [`name`](Optimizer::name)) and one
//! `dl.optimizer.<counter>` per [counter](Optimizer::counters) (Adam's `iterations`),
//! `dl.learning_rate` (the [rate of the next step](Optimizer::learning_rate), which callbacks
//! may have changed) and, for an optimizer following a schedule, `dl.schedule` (the
//! [`Schedule`](crate::optim::Schedule) in Keras's JSON form), and stores each optimizer buffer
//! as the 1-D tensor `optimizer.<buffer>` (`optimizer.m`, `optimizer.v`).
//!
//! # Safety of files
//!
//! Loading checks everything before it changes anything: the container (sizes, offsets, JSON,
//! duplicate names), then the match with the network (every tensor present, no other, `F32`,
//! the expected shape, every value finite). On any problem the network (and optimizer) is left
//! as it was and the `Err` names the problem, e.g. `dense.kernel: expected shape [10, 64], found
//! [10, 32]`. Nothing is allocated by a size the file declares. Saving refuses non-finite
//! weights (they could not be loaded back) and replaces the file atomically, so a crash or a
//! full disk mid-save leaves the previous file intact; the next save to the same path removes
//! the temporary file that a crashed save left beside it. Only regular files are read: a FIFO,
//! device or directory is refused without being read.

pub(crate) mod atomic;
mod format;
pub mod pytorch;
pub use pytorch::{from_pytorch_bytes, load_pytorch, save_pytorch, to_pytorch_bytes};

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::Optimizer;
use crate::summary::LayerSummary;
use format::{Parsed, shape_str};

/// The version of `dl`'s use of the format, written as `dl.format_version`. Files of another
/// version are refused.
pub const FORMAT_VERSION: u32 = 1;

const KEY_VERSION: &str = "dl.format_version";
const KEY_NETWORK: &str = "dl.network";
const KEY_CONTENTS: &str = "dl.contents";
const KEY_EPOCH: &str = "dl.epoch";
const KEY_OPTIMIZER: &str = "dl.optimizer";
const KEY_LEARNING_RATE: &str = "dl.learning_rate";
const KEY_SCHEDULE: &str = "dl.schedule";
const OPTIMIZER_TENSOR: &str = "optimizer.";
const BYTES: &str = "<bytes>";
/// The most optimizer buffers `load` expects in a checkpoint (dl's optimizers have at most 2),
/// to bound the size of the file it reads.
const MAX_OPTIMIZER_BUFFERS: usize = 4;

/// Writes every parameter (and state tensor) of `model` to `path`, atomically.
///
/// ```no_run
/// # fn demo<M: dl::Model>(net: &mut M) -> dl::Result<()> {
/// dl::weights::save(net, "model.safetensors")?;
/// dl::weights::load(net, "model.safetensors")?;
/// # Ok(()) }
/// ```
pub fn save<M: Model>(model: &M, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_bytes(model).map_err(|e| at(path, e))?;
    atomic::write_atomic(path, &bytes).map_err(|e| io_error(path, e))
}

/// Reads every parameter (and state tensor) of `model` from `path`. On `Err` the model is
/// unchanged.
///
/// Also reads a checkpoint's weights (ignoring its optimizer state).
pub fn load<M: Model>(model: &mut M, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = read_limited(path, max_file_len::<M>(MAX_OPTIMIZER_BUFFERS))?;
    from_bytes(model, &bytes).map_err(|e| at(path, e))
}

/// The weights file of `model`, as [`save`] writes it.
pub fn to_bytes<M: Model>(model: &M) -> Result<Vec<u8>> {
    let tensors = params(model)?;
    let metadata = [
        (KEY_VERSION, FORMAT_VERSION.to_string()),
        (KEY_NETWORK, M::NAME.to_string()),
        (KEY_CONTENTS, "weights".to_string()),
    ];
    Ok(format::write(&metadata, &tensors))
}

/// Loads the weights file `bytes` into `model`, checking everything [`load`] does; the entry
/// point for fuzzing. On `Err` the model is unchanged.
pub fn from_bytes<M: Model>(model: &mut M, bytes: &[u8]) -> Result<()> {
    let file = parse(bytes)?;
    let allow_optimizer = file.meta(KEY_CONTENTS) == Some("checkpoint");
    let staged = stage::<M>(model, &file, allow_optimizer)?;
    commit(model, &staged);
    Ok(())
}

/// Writes a training checkpoint to `path`, atomically: the weights, `optimizer`'s full state
/// and `epoch`, the number of epochs done. [`Fit::checkpoint`](crate::train::Fit::checkpoint)
/// calls this after every epoch.
pub fn save_checkpoint<M: Model, O: Optimizer + ?Sized>(
    model: &M,
    optimizer: &O,
    epoch: usize,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = checkpoint_to_bytes(model, optimizer, epoch).map_err(|e| at(path, e))?;
    atomic::write_atomic(path, &bytes).map_err(|e| io_error(path, e))
}

/// Restores a checkpoint from `path` into `model` and `optimizer` and returns its epoch, to pass
/// to `fit` as [`initial_epoch`](crate::train::Fit::initial_epoch). `optimizer` must be of the
/// kind that wrote the checkpoint; it takes the checkpoint's learning rate and schedule (or
/// loses its own schedule if the checkpoint's optimizer had none), and its other
/// hyperparameters stay as constructed. On `Err` neither is changed.
///
/// ```no_run
/// # use dl::prelude::*;
/// # fn demo<M: Model>(net: &mut M) -> dl::Result<()> {
/// let mut optimizer = Adam::new(0.01);
/// let epoch = dl::weights::load_checkpoint(net, &mut optimizer, "run.safetensors")?;
/// // net.fit(&x, &y, Fit { optimizer, initial_epoch: epoch, epochs: 10, ..Fit::default() })
/// # Ok(()) }
/// ```
pub fn load_checkpoint<M: Model, O: Optimizer>(
    model: &mut M,
    optimizer: &mut O,
    path: impl AsRef<Path>,
) -> Result<usize> {
    let path = path.as_ref();
    let bytes = read_limited(path, max_file_len::<M>(optimizer.state().len()))?;
    checkpoint_from_bytes(model, optimizer, &bytes).map_err(|e| at(path, e))
}

/// The checkpoint file that [`save_checkpoint`] writes.
pub fn checkpoint_to_bytes<M: Model, O: Optimizer + ?Sized>(
    model: &M,
    optimizer: &O,
    epoch: usize,
) -> Result<Vec<u8>> {
    let mut tensors = params(model)?;
    for (name, values) in optimizer.state() {
        let name = format!("{OPTIMIZER_TENSOR}{name}");
        check_finite(&name, &[values.len()], values).map_err(format_error)?;
        tensors.push((name, vec![values.len()], values));
    }
    let mut metadata = vec![
        (KEY_VERSION, FORMAT_VERSION.to_string()),
        (KEY_NETWORK, M::NAME.to_string()),
        (KEY_CONTENTS, "checkpoint".to_string()),
        (KEY_EPOCH, epoch.to_string()),
        (KEY_OPTIMIZER, optimizer.name().to_string()),
    ];
    let counters: Vec<(String, String)> = optimizer
        .counters()
        .into_iter()
        .map(|(k, v)| (format!("{KEY_OPTIMIZER}.{k}"), v.to_string()))
        .collect();
    metadata.extend(counters.iter().map(|(k, v)| (k.as_str(), v.clone())));
    if let Some(rate) = optimizer.learning_rate() {
        // `Display` of an `f32` reads back to the same bits.
        metadata.push((KEY_LEARNING_RATE, rate.to_string()));
    }
    if let Some(schedule) = optimizer.schedule() {
        metadata.push((KEY_SCHEDULE, schedule.to_json()));
    }
    Ok(format::write(&metadata, &tensors))
}

/// Restores the checkpoint `bytes` as [`load_checkpoint`] does and returns its epoch.
pub fn checkpoint_from_bytes<M: Model, O: Optimizer>(
    model: &mut M,
    optimizer: &mut O,
    bytes: &[u8],
) -> Result<usize> {
    let file = parse(bytes)?;
    if file.meta(KEY_CONTENTS) != Some("checkpoint") {
        return Err(format_error(format!(
            "not a checkpoint: `__metadata__` lacks `{KEY_CONTENTS}: checkpoint` (a weights file? read it with \
             weights::load)"
        )));
    }
    let epoch = file
        .meta(KEY_EPOCH)
        .ok_or_else(|| format_error(format!("the checkpoint's `__metadata__` has no `{KEY_EPOCH}`")))?;
    let epoch: usize = epoch
        .parse()
        .map_err(|_| format_error(format!("`{KEY_EPOCH}` is `{epoch}`, not a number of epochs")))?;
    let kind = file.meta(KEY_OPTIMIZER).unwrap_or("(none)");
    if kind != optimizer.name() {
        return Err(format_error(format!(
            "the checkpoint holds the state of optimizer `{kind}`, not `{}`",
            optimizer.name()
        )));
    }
    let staged = stage::<M>(model, &file, true)?;

    let mut buffers = Vec::new();
    for t in &file.tensors {
        let Some(name) = t.name.strip_prefix(OPTIMIZER_TENSOR) else {
            continue;
        };
        if staged.names.contains(&t.name) {
            // A layer named `optimizer`: its tensors are weights.
            continue;
        }
        if t.dtype != "F32" {
            return Err(format_error(format!(
                "{}: expected dtype F32, found {}",
                t.name, t.dtype
            )));
        }
        let n = t.shape.first().copied().unwrap_or(0);
        if t.shape.len() != 1 || (n != 0 && n != M::PARAMS) {
            return Err(format_error(format!(
                "{}: expected shape [{}] (one value per parameter) or [0], found {}",
                t.name,
                M::PARAMS,
                shape_str(&t.shape)
            )));
        }
        let values = decode(t.data);
        check_finite(&t.name, &t.shape, &values).map_err(format_error)?;
        buffers.push((name, values));
    }
    let prefix = format!("{KEY_OPTIMIZER}.");
    let mut counters = Vec::new();
    for (k, v) in &file.metadata {
        if let Some(name) = k.strip_prefix(&prefix) {
            let n: u64 = v
                .parse()
                .map_err(|_| format_error(format!("`{k}` is `{v}`, not a non-negative integer")))?;
            counters.push((name, n));
        }
    }
    let buffers: Vec<(&str, &[f32])> = buffers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    let rate = learning_rate(&file)?;
    let (old_rate, old_schedule) = (optimizer.learning_rate(), optimizer.schedule().cloned());
    let restored = restore_rate(optimizer, rate).and_then(|()| {
        optimizer
            .load_state(&buffers, &counters)
            .map_err(|e| e.to_string())
    });
    if let Err(e) = restored {
        // Put back what `restore_rate` changed; it accepted these values before.
        let _ = optimizer.set_schedule(old_schedule);
        if let Some(r) = old_rate {
            let _ = optimizer.set_learning_rate(r);
        }
        return Err(format_error(format!("optimizer state: {e}")));
    }
    // Nothing can fail from here on.
    commit(model, &staged);
    Ok(epoch)
}

/// A checkpoint's learning rate and schedule: `None` in files written before they were
/// recorded, which leave the optimizer's as constructed.
type Rate = Option<(f32, Option<crate::optim::Schedule>)>;

fn learning_rate(file: &Parsed<'_>) -> Result<Rate> {
    let Some(text) = file.meta(KEY_LEARNING_RATE) else {
        return Ok(None);
    };
    let rate: f32 = text
        .parse()
        .ok()
        .filter(|r: &f32| r.is_finite() && *r >= 0.0)
        .ok_or_else(|| format_error(format!("`{KEY_LEARNING_RATE}` is `{text}`, not a learning rate")))?;
    let schedule = file
        .meta(KEY_SCHEDULE)
        .map(crate::optim::Schedule::from_json)
        .transpose()
        .map_err(|e| format_error(format!("`{KEY_SCHEDULE}`: {e}")))?;
    Ok(Some((rate, schedule)))
}

/// Gives `optimizer` the checkpoint's schedule, or its constant rate.
fn restore_rate<O: Optimizer + ?Sized>(optimizer: &mut O, rate: Rate) -> Result<(), String> {
    match rate {
        None => Ok(()),
        Some((_, Some(schedule))) => optimizer.set_schedule(Some(schedule)).map_err(|e| e.to_string()),
        Some((rate, None)) => {
            optimizer.set_schedule(None).map_err(|e| e.to_string())?;
            optimizer.set_learning_rate(rate).map_err(|e| e.to_string())
        }
    }
}

/// The parameters and then the state of a network, checked, staged in one flat buffer in
/// visiting order.
struct Staged {
    names: Vec<String>,
    values: Vec<f32>,
}

/// Visits every tensor a file holds: the parameters, then the state.
fn for_each_tensor<'a, M: Model>(model: &'a M, mut f: impl FnMut(&'static str, &'static str, &'a [f32])) {
    model.for_each_param(&mut f);
    model.for_each_state(&mut f);
}

/// The parameter and state tensors with their file names and shapes, refusing non-finite
/// values.
#[allow(clippy::type_complexity)]
fn params<M: Model>(model: &M) -> Result<Vec<(String, Vec<usize>, &[f32])>> {
    let mut tensors = Vec::new();
    for_each_tensor(model, |layer, tensor, values| {
        let shape = expected_shape(M::LAYERS, known_shapes::<M>(), layer, tensor, values.len()).written();
        tensors.push((format!("{layer}.{tensor}"), shape, values));
    });
    for (name, shape, values) in &tensors {
        check_finite(name, shape, values)
            .map_err(|e| format_error(format!("{e}; refusing to save weights that could not be loaded")))?;
    }
    Ok(tensors)
}

/// Parses the container, and checks the format version when the file has one.
fn parse(bytes: &[u8]) -> Result<Parsed<'_>> {
    let file = format::parse(bytes, format::MAX_HEADER).map_err(format_error)?;
    if let Some(v) = file.meta(KEY_VERSION)
        && v != FORMAT_VERSION.to_string()
    {
        return Err(format_error(format!(
            "unsupported `{KEY_VERSION}` `{v}`: this version of dl reads version {FORMAT_VERSION}"
        )));
    }
    Ok(file)
}

/// Checks that `file` holds exactly the parameters of `model` (plus optimizer tensors when
/// `allow_optimizer`) and decodes them.
fn stage<M: Model>(model: &M, file: &Parsed<'_>, allow_optimizer: bool) -> Result<Staged> {
    let mut wanted: Vec<(String, Expected)> = Vec::new();
    for_each_tensor(model, |layer, tensor, values| {
        wanted.push((
            format!("{layer}.{tensor}"),
            expected_shape(M::LAYERS, known_shapes::<M>(), layer, tensor, values.len()),
        ));
    });
    let find = |name: &str| file.tensors.iter().find(|t| t.name == name);
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(n, _)| find(n).is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    let unexpected: Vec<&str> = file
        .tensors
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| !wanted.iter().any(|(w, _)| w == n))
        .filter(|n| !(allow_optimizer && n.starts_with(OPTIMIZER_TENSOR)))
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(name_list("missing tensor", &missing));
        }
        if !unexpected.is_empty() {
            parts.push(name_list("unexpected tensor", &unexpected));
        }
        let mut message = parts.join("; ");
        let network = match file.meta(KEY_NETWORK) {
            Some(n) if n != M::NAME => format!(" (the file was written for network `{n}`)"),
            _ => String::new(),
        };
        message.push_str(&format!(
            "; the file does not match network `{}`{network}",
            M::NAME
        ));
        return Err(format_error(message));
    }

    let mut values = Vec::with_capacity(M::PARAMS + M::NON_TRAINABLE);
    for (name, expected) in &wanted {
        let t = find(name).expect("checked above");
        if t.dtype != "F32" {
            return Err(format_error(format!(
                "{name}: expected dtype F32, found {}",
                t.dtype
            )));
        }
        if !expected.accepts(&t.shape) {
            return Err(format_error(format!(
                "{name}: expected shape {}, found {}",
                expected.describe(),
                shape_str(&t.shape)
            )));
        }
        let start = values.len();
        values.extend(
            t.data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        check_finite(name, &t.shape, &values[start..]).map_err(format_error)?;
    }
    Ok(Staged {
        names: wanted.into_iter().map(|(n, _)| n).collect(),
        values,
    })
}

/// Copies staged values into the model; their sizes were checked against it.
fn commit<M: Model>(model: &mut M, staged: &Staged) {
    let mut at = 0;
    let mut copy = |_: &str, _: &str, v: &mut [f32]| {
        v.copy_from_slice(&staged.values[at..at + v.len()]);
        at += v.len();
    };
    model.for_each_param_mut(&mut copy);
    model.for_each_state_mut(&mut copy);
}

fn decode(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// `missing tensor `a`` or `missing tensors `a`, `b``, at most 8 names.
fn name_list(what: &str, names: &[&str]) -> String {
    let shown: Vec<String> = names.iter().take(8).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 8 {
        format!(" and {} more", names.len() - 8)
    } else {
        String::new()
    };
    let s = if names.len() == 1 { "" } else { "s" };
    format!("{what}{s} {}{more}", shown.join(", "))
}

/// Names the first NaN or infinite value of a tensor by flat index and element.
fn check_finite(name: &str, shape: &[usize], values: &[f32]) -> Result<(), String> {
    let Some(i) = values.iter().position(|v| !v.is_finite()) else {
        return Ok(());
    };
    let mut element = vec![0; shape.len()];
    let mut rest = i;
    for (e, &d) in element.iter_mut().zip(shape).rev() {
        if d > 0 {
            *e = rest % d;
            rest /= d;
        }
    }
    let what = if values[i].is_nan() {
        "NaN"
    } else if values[i] > 0.0 {
        "+inf"
    } else {
        "-inf"
    };
    Err(format!(
        "{name}: value at index {i} (element {}) is {what}",
        shape_str(&element)
    ))
}

/// The shape a tensor must have in a file.
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    Exact(Vec<usize>),
    /// A convolution kernel whose height and width `Model` does not tell apart:
    /// `(KH·KW·C, F)` or `(KH, KW, C, F)`.
    ConvKernel {
        len: usize,
        filters: usize,
        channels: Option<usize>,
    },
}

impl Expected {
    fn accepts(&self, shape: &[usize]) -> bool {
        match *self {
            Expected::Exact(ref s) => s == shape,
            Expected::ConvKernel {
                len,
                filters,
                channels,
            } => match *shape {
                [k, f] => f == filters && k * f == len,
                [kh, kw, c, f] => {
                    f == filters
                        && channels.is_none_or(|ch| ch == c)
                        && [kh, kw, c, f].iter().try_fold(1usize, |a, &d| a.checked_mul(d)) == Some(len)
                }
                _ => false,
            },
        }
    }

    /// The shape `save` writes.
    fn written(self) -> Vec<usize> {
        match self {
            Expected::Exact(s) => s,
            // Only for a hand-written `Model` without `PARAM_SHAPES`, which does not tell the
            // kernel's height and width apart.
            Expected::ConvKernel { len, filters, .. } => vec![len / filters, filters],
        }
    }

    fn describe(&self) -> String {
        match *self {
            Expected::Exact(ref s) => shape_str(s),
            Expected::ConvKernel {
                len,
                filters,
                channels,
            } => {
                let k = len / filters;
                let c = channels.map_or("C".to_string(), |c| c.to_string());
                format!("[KH, KW, {c}, {filters}] with KH·KW·{c} = {k}, or [{k}, {filters}]")
            }
        }
    }
}

/// A tensor's exact Keras shape, as `(layer, tensor, shape)`.
type KnownShape = (&'static str, &'static str, &'static [usize]);

/// The exact Keras shapes of `M`'s tensors, as the network declares them (empty for a
/// hand-written `Model`, whose shapes are then derived from `M::LAYERS`).
fn known_shapes<M: Model>() -> &'static [KnownShape] {
    M::PARAM_SHAPES
}

/// The Keras shape of tensor `tensor` (of `len` values) of layer `layer`: the one in `known`
/// if it is there (and holds `len` values), otherwise derived from the network's summary: a
/// `Dense` kernel is `(len / units, units)`, a `Conv2D` kernel has `filters` (its output's last
/// dimension) columns and takes its channels from the layer before it, a bias and anything
/// unknown is 1-D.
fn expected_shape(
    layers: &[LayerSummary],
    known: &[KnownShape],
    layer: &str,
    tensor: &str,
    len: usize,
) -> Expected {
    if let Some(&(_, _, shape)) = known.iter().find(|(l, t, _)| *l == layer && *t == tensor)
        && shape.iter().product::<usize>() == len
    {
        return Expected::Exact(shape.to_vec());
    }
    let flat = Expected::Exact(vec![len]);
    let Some(i) = layers.iter().position(|l| l.name == layer) else {
        return flat;
    };
    let l = &layers[i];
    let Some(&units) = l.output_shape.last() else {
        return flat;
    };
    if tensor != "kernel" || units == 0 || !len.is_multiple_of(units) {
        return flat;
    }
    match l.kind {
        "Dense" => Expected::Exact(vec![len / units, units]),
        "Conv2D" => Expected::ConvKernel {
            len,
            filters: units,
            channels: i
                .checked_sub(1)
                .and_then(|p| layers[p].output_shape.last().copied()),
        },
        _ => flat,
    }
}

/// The largest file that can hold the weights and state of `M` and `buffers` optimizer buffers.
fn max_file_len<M: Model>(buffers: usize) -> u64 {
    8 + format::MAX_HEADER + 4 * ((M::PARAMS as u64) * (1 + buffers as u64) + M::NON_TRAINABLE as u64)
}

/// Reads a regular file of at most `limit` bytes, without trusting its reported size.
fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = crate::files::open_regular(path).map_err(|e| io_error(path, e))?;
    let len = file.metadata().map_err(|e| io_error(path, e))?.len();
    let too_long = |len: u64| Error::Format {
        path: path.display().to_string(),
        message: format!("the file is {len} bytes long, more than a file for this network can be ({limit})"),
    };
    if len > limit {
        return Err(too_long(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_long(bytes.len() as u64));
    }
    Ok(bytes)
}

fn format_error(message: String) -> Error {
    Error::Format {
        path: BYTES.to_string(),
        message,
    }
}

/// Puts the file's path on an error about its bytes.
fn at(path: &Path, e: Error) -> Error {
    match e {
        Error::Format { path: p, message } if p == BYTES => Error::Format {
            path: path.display().to_string(),
            message,
        },
        e => e,
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests;
