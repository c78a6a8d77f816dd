//! Reading the weight file while the macro expands, and checking it against the declaration:
//! every tensor the layers need is there, once, as F32 with the declared shape, inside the
//! file, and finite. The checks mirror the runtime loader's, as compile errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use syn::LitStr;

use crate::errors::Errors;
use crate::model::Network;

/// Headers above this size are not weight files this macro will parse (the runtime loader has
/// the same guard against a length field that claims gigabytes).
const MAX_HEADER: u64 = 100 << 20;

/// Where each expected tensor's data starts, from the beginning of the file, in declaration
/// order of the layers and of their tensors.
pub struct Located {
    /// The file, resolved, for `include_bytes!`.
    pub path: PathBuf,
    /// The path as written in the declaration.
    pub shown: String,
    /// `(layer, tensor)` → byte offset of its first value.
    pub offsets: BTreeMap<(String, &'static str), usize>,
}

/// `path` resolved as `include_bytes!` resolves it: relative to the file that holds the
/// declaration (falling back to the crate's root when the compiler does not say).
pub fn resolve(lit: &LitStr) -> PathBuf {
    let written = PathBuf::from(lit.value());
    if written.is_absolute() {
        return written;
    }
    let base = lit
        .span()
        .unwrap()
        .local_file()
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from))
        .unwrap_or_default();
    // The compiler may report the source file relative to its working directory, while
    // `include_bytes!` would resolve a relative path against the expanding file: make it absolute.
    let joined = base.join(written);
    match std::env::current_dir() {
        Ok(cwd) if joined.is_relative() => cwd.join(joined),
        _ => joined,
    }
}

struct Entry {
    dtype: String,
    shape: Vec<usize>,
    begin: usize,
    end: usize,
}

pub fn check(net: &Network, lit: &LitStr, errors: &mut Errors) -> Option<Located> {
    let path = resolve(lit);
    let shown = lit.value();
    let span = lit.span();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            errors.push(
                span,
                format!(
                    "cannot read the weight file `{shown}` (paths are relative to the declaring file): {e}"
                ),
            );
            return None;
        }
    };
    let (data_start, entries) = match parse(&bytes) {
        Ok(parsed) => parsed,
        Err(why) => {
            errors.push(span, format!("`{shown}` is not a valid safetensors file: {why}"));
            return None;
        }
    };
    let data = &bytes[data_start..];
    let mut offsets = BTreeMap::new();
    let mut expected = Vec::new();
    // Once a layer's width is reported, the shapes that follow from it downstream (the next
    // layer's kernel, a batch normalization's statistics) are the same mistake: not reported.
    let mut width_reported = false;
    for layer in &net.layers {
        let at = layer.field.span();
        let who = format!("layer `{}` ({})", layer.name, layer.kind_name());
        let mut wrong_shapes = Vec::new();
        let mut found = Vec::new();
        for (tensor, shape) in layer.param_shapes().into_iter().chain(layer.state_shapes()) {
            let name = format!("{}.{tensor}", layer.name);
            expected.push(name.clone());
            let Some(entry) = entries.get(&name) else {
                errors.push(
                    at,
                    format!("the weight file `{shown}` has no tensor `{name}`, which {who} needs (F32 {shape:?}): save the weights of this network again"),
                );
                continue;
            };
            if entry.dtype != "F32" {
                errors.push(
                    at,
                    format!(
                        "tensor `{name}` in `{shown}` is {}, but dl embeds F32 weights",
                        entry.dtype
                    ),
                );
                continue;
            }
            if entry.shape != shape {
                wrong_shapes.push((name, entry.shape.clone(), shape));
                continue;
            }
            let values = &data[entry.begin..entry.end];
            if let Some(i) = values
                .chunks_exact(4)
                .position(|b| !f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite())
            {
                errors.push(
                    at,
                    format!("tensor `{name}` in `{shown}` holds a non-finite value at index {i}"),
                );
                continue;
            }
            // A `Normalization` never adapted would standardise with mean 0 and variance 1: a
            // deployed network that silently skips its preprocessing.
            if tensor == "count" && layer.kind.spec().adapts() && values.iter().all(|&b| b & 0x7f == 0) {
                errors.push(
                    at,
                    format!(
                        "{who} in `{shown}` was never adapted (its `{name}` is 0): call \
                         `net.adapt(&x_train)` before saving (a file from Keras 3, which leaves \
                         `count` at 0, needs it set to the number of values adapted on)"
                    ),
                );
                continue;
            }
            found.push((tensor, data_start + entry.begin));
        }
        if wrong_shapes.is_empty() {
            for (tensor, offset) in found {
                offsets.insert((layer.name.clone(), tensor), offset);
            }
            continue;
        }
        // One error for the layer: its width, when the file's differs; else its first tensor.
        // (Dense units, Conv2D filters and kernel size, an Embedding's dimension, recurrent units.)
        if let Some(message) = layer
            .kind
            .spec()
            .weight_file_mismatch(layer, &wrong_shapes, &shown)
        {
            errors.push(at, message);
            width_reported = true;
        } else if !width_reported {
            let (name, file, declared) = &wrong_shapes[0];
            errors.push(
                at,
                format!(
                    "tensor `{name}` in `{shown}` has shape {file:?}, but {who} needs {declared:?}: \
                     the layers before it differ from the network that was saved; declare them as \
                     they were, or save the weights again"
                ),
            );
        }
    }
    for name in entries.keys().filter(|n| !expected.contains(n)) {
        errors.push(
            span,
            format!(
                "the weight file `{shown}` has a tensor `{name}` that `{}` does not declare (it expects {})",
                net.ident,
                expected
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    Some(Located { path, shown, offsets })
}

/// The safetensors layout: an 8-byte little-endian header length, a JSON header mapping names to
/// `{dtype, shape, data_offsets}`, then the data.
fn parse(bytes: &[u8]) -> Result<(usize, BTreeMap<String, Entry>), String> {
    let Some(len) = bytes.get(..8) else {
        return Err(format!(
            "{} bytes is shorter than the 8-byte header length",
            bytes.len()
        ));
    };
    let header_len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    let available = bytes.len() as u64 - 8;
    if header_len > available || header_len > MAX_HEADER {
        return Err(format!(
            "the header claims {header_len} bytes but the file has {available} after the length"
        ));
    }
    let data_start = 8 + header_len as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..data_start]).map_err(|e| format!("the header is not JSON: {e}"))?;
    let serde_json::Value::Object(map) = header else {
        return Err("the header is not a JSON object".into());
    };
    let data_len = bytes.len() - data_start;
    let mut entries = BTreeMap::new();
    for (name, value) in map {
        if name == "__metadata__" {
            continue;
        }
        let bad = |what: &str| format!("tensor `{name}`: {what}");
        let dtype = value["dtype"]
            .as_str()
            .ok_or_else(|| bad("no `dtype`"))?
            .to_string();
        let shape = value["shape"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|d| d.as_u64().map(|d| d as usize))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| bad("`shape` is not a list of sizes"))?;
        let offsets = value["data_offsets"]
            .as_array()
            .filter(|a| a.len() == 2)
            .and_then(|a| Some((a[0].as_u64()? as usize, a[1].as_u64()? as usize)))
            .ok_or_else(|| bad("`data_offsets` is not a pair of offsets"))?;
        let (begin, end) = offsets;
        if begin > end || end > data_len {
            return Err(bad(&format!(
                "data [{begin}, {end}) lies outside the {data_len} data bytes"
            )));
        }
        let width = match dtype.as_str() {
            "F64" | "I64" | "U64" => 8,
            "F32" | "I32" | "U32" => 4,
            "F16" | "BF16" | "I16" | "U16" => 2,
            _ => 1,
        };
        let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if count.and_then(|n| n.checked_mul(width)) != Some(end - begin) {
            return Err(bad(&format!(
                "{} bytes of data do not hold {dtype} {shape:?}",
                end - begin
            )));
        }
        entries.insert(
            name,
            Entry {
                dtype,
                shape,
                begin,
                end,
            },
        );
    }
    Ok((data_start, entries))
}
