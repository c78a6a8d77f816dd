//! Memory a network needs, known at compile time: parameter bytes and the activation bytes of a
//! single-sample forward, checked against the declaration's `#[budget]` here; the training
//! bytes per sample, which the runtime layers declare, checked by the generated code.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};

use crate::errors::Errors;
use crate::model::Network;
use crate::options::{Budgeted, Limit, Options};

const F32: usize = core::mem::size_of::<f32>();

/// The cache line `dl_core::params`' aligned structs start on (`repr(C, align(64))`).
const LINE: usize = 64;

/// Bytes of an embedded network's struct: every layer's parameter struct, those aligned to a
/// cache line padded to whole lines. Rust puts the most aligned fields first, so there is no
/// padding between them, and the struct's size is a whole number of lines when it holds one.
pub fn param_bytes(net: &Network) -> usize {
    let mut aligned = false;
    let bytes: usize = net
        .layers
        .iter()
        .map(|l| {
            let spec = l.kind.spec();
            let bytes = spec.embedded_floats(l) * F32;
            if spec.embedded_line_aligned() && bytes > 0 {
                aligned = true;
                bytes.next_multiple_of(LINE)
            } else {
                bytes
            }
        })
        .sum();
    if aligned {
        bytes.next_multiple_of(LINE)
    } else {
        bytes
    }
}

/// Bytes of the activations a single-sample forward holds. For a stack, every layer's output and
/// scratch: the size of an embedded network's scratch struct. For a network that branches, the
/// arena of [`plan`](crate::plan): tensors alive at once in declaration order (a layer's output
/// lives from the layer to its last reader, so a long skip costs its tensor over the span it
/// crosses, not a buffer per layer), laid out so that tensors whose lifetimes do not overlap
/// share memory. That arena is an embedded network's scratch struct, and at least the peak of
/// the live tensors (equal to it for the usual residual, concatenating and long-skip blocks).
pub fn activation_bytes(net: &Network) -> usize {
    scratch_bytes(crate::plan::plan(net).floats)
}

/// Bytes of an embedded network's scratch struct around an arena of `floats`: it starts on a
/// cache line (`repr(C, align(64))`), so that the layers' outputs, at offsets of whole vectors
/// in it, are stored and read a line at a time, and its size is padded to whole lines.
pub fn scratch_bytes(floats: usize) -> usize {
    (floats * F32).next_multiple_of(LINE)
}

fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// Errors for every limit of the budget the network exceeds, naming what takes the most.
pub fn check_budget(net: &Network, options: &Options, errors: &mut Errors) {
    for limit in &options.budget {
        let (needed, what, largest) = match limit.what {
            Budgeted::TrainingPerSample if options.weights.is_some() => {
                errors.push(
                    limit.span,
                    "a network embedded with `#[weights]` is not trained: \
                     `max_training_bytes_per_sample` does not apply",
                );
                continue;
            }
            // The generated code checks it (see `training_budget`).
            Budgeted::TrainingPerSample => continue,
            Budgeted::Params => {
                let largest = net
                    .layers
                    .iter()
                    .flat_map(|l| {
                        let tensors = l.param_shapes().into_iter().chain(l.state_shapes());
                        tensors.map(move |(t, dims)| (l, t, dims))
                    })
                    .max_by_key(|(_, _, dims)| dims.iter().product::<usize>())
                    .map(|(l, t, dims)| {
                        let n: usize = dims.iter().product();
                        format!("`{}.{t}` {dims:?}, {}", l.name, human(n * F32))
                    });
                (param_bytes(net), "parameters", largest)
            }
            Budgeted::Activations => {
                let largest = net
                    .layers
                    .iter()
                    .filter(|l| l.writes_output())
                    .max_by_key(|l| l.output.len())
                    .map(|l| {
                        format!(
                            "the output of `{}` {:?}, {}",
                            l.name,
                            l.output.dims(),
                            human(l.output.len() * F32)
                        )
                    });
                (
                    activation_bytes(net),
                    "a single-sample forward's activations",
                    largest,
                )
            }
        };
        if needed as u64 > limit.bytes {
            let largest = largest
                .map(|l| format!("; the largest is {l}"))
                .unwrap_or_default();
            errors.push(
                limit.span,
                format!(
                    "{what} take {} ({needed} bytes), over the budget `{}` ({} bytes){largest}",
                    human(needed),
                    limit.written,
                    limit.bytes
                ),
            );
        }
    }
}

/// Compile-time checks of the `max_training_bytes_per_sample` limits. The figure is the sum of
/// the runtime layers' own declarations (`per_layer`, one expression each), known only once the
/// generated code is compiled, so the check and its message, figures included, are constants of
/// that code.
pub fn training_budget(
    k: &TokenStream,
    net: &Network,
    budget: &[Limit],
    per_layer: &[TokenStream],
) -> TokenStream {
    let ident = &net.ident;
    let names = net.layers.iter().map(|l| l.name.as_str());
    let count = Literal::usize_unsuffixed(per_layer.len());
    let private = quote!(#k::__private);
    budget
        .iter()
        .filter(|l| l.what == Budgeted::TrainingPerSample)
        .map(|limit| {
            let bytes = Literal::u64_unsuffixed(limit.bytes);
            let over = format!(
                " bytes) per sample, over the budget `{}` ({} bytes); the largest is `",
                limit.written, limit.bytes
            );
            let longest = net.layers.iter().map(|l| l.name.len()).max().unwrap_or(0);
            // Room for the figures (20 digits each, and the human ones) and a layer name.
            let len = Literal::usize_unsuffixed(over.len() + longest + 128);
            let message = quote!(#private::ConstMessage<#len>);
            let names = names.clone();
            quote_spanned! {limit.span=>
                const _: () = {
                    const NEEDED: u64 = #ident::TRAINING_BYTES_PER_SAMPLE as u64;
                    if NEEDED > #bytes {
                        const LAYERS: [(&str, u64); #count] = [#((#names, (#per_layer) as u64)),*];
                        const LARGEST: usize = {
                            let (mut i, mut largest) = (1, 0);
                            while i < LAYERS.len() {
                                if LAYERS[i].1 > LAYERS[largest].1 {
                                    largest = i;
                                }
                                i += 1;
                            }
                            largest
                        };
                        const MESSAGE: #message = <#message>::new()
                            .str("a training step's buffers take ")
                            .bytes(NEEDED)
                            .str(" (")
                            .num(NEEDED)
                            .str(#over)
                            .str(LAYERS[LARGEST].0)
                            .str("`'s, ")
                            .bytes(LAYERS[LARGEST].1);
                        // `::core` rather than `$crate`'s re-export, so that the error points at
                        // the budget rather than at the whole declaration.
                        ::core::panic!("{}", MESSAGE.as_str());
                    }
                };
            }
        })
        .collect()
}
