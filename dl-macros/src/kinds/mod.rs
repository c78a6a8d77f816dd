//! Everything the macro knows about each layer kind, one module per kind: its Keras name and
//! automatic name, its arguments and shape rule (with their errors), its parameter and state
//! tensors as Keras shapes them, its runtime type, its embedded step and parameter struct, what
//! it does with a padding mask, the scratch it needs and the width a weight file may disagree
//! on. The pipeline (`graph`, `generate`, `embed`, `footprint`, `mask`, `plan`) asks a layer's
//! kind through [`KindSpec`] and finds kinds by name in [`REGISTRY`]; it knows no kind by name
//! but the merges, whose several inputs it wires itself.
//!
//! # Adding a kind
//!
//! 1. Write `kinds/<kind>.rs`: a struct with the kind's resolved arguments, `impl KindSpec` for
//!    it (the required methods are its Keras name, its runtime type and its embedded step; the
//!    others have defaults for a kind without parameters that refuses a mask), a `resolve`
//!    function (arguments through `spec::bind`, the shape rule, errors through `errors.push`),
//!    and `pub const KINDS: &[Registered]` with its Keras name(s), automatic name(s) and
//!    resolver.
//! 2. Here: `mod <kind>;`, a variant in `kinds! { … }`, and its `KINDS` in [`REGISTRY`], in
//!    the place where error messages should list it.
//! 3. A runtime kernel (`dl-runtime`'s `layers`), a `dl-core` kernel for the embedded step, and
//!    tests (a `layer_kinds` case, a gradient check, ui cases for its errors).

mod activation;
mod batch_norm;
mod conv1d;
mod conv2d;
mod dense;
mod depthwise;
mod dropout;
mod embedding;
mod flatten;
mod global_pool_1d;
mod layer_norm;
mod merge;
mod normalization;
mod pool;
mod pool_1d;
mod recurrent;
mod rescaling;
mod reshape;
mod shared;
mod upsampling;
mod zero_padding;

use proc_macro2::{Literal, Span, TokenStream};
use syn::Ident;

use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::param_options::ParamOption;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec::Activation;

pub use dense::written_units;
pub use embedding::written_vocabulary;

/// What the pipeline asks of a resolved layer kind. `layer` is the layer the kind belongs to
/// (its input and output shapes).
pub trait KindSpec {
    /// Keras's class name of the layer (`Dense`, `MaxPooling2D`, `Bidirectional`, …), as the
    /// summary and errors show it.
    fn keras_name(&self) -> &'static str;

    /// Keras's shape of each parameter tensor, in the runtime's visiting order.
    fn param_shapes(&self, _layer: &Layer) -> TensorShapes {
        Vec::new()
    }

    /// Keras's shape of each state (non-trainable) tensor, in the runtime's visiting order.
    fn state_shapes(&self, _layer: &Layer) -> TensorShapes {
        Vec::new()
    }

    fn activation(&self) -> Activation {
        Activation::Linear
    }

    /// Floats the embedded parameter struct of the layer holds (`PARAM_BYTES` counts them): its
    /// parameters and state, unless the struct keeps more.
    fn embedded_floats(&self, layer: &Layer) -> usize {
        layer.params() + layer.non_trainable()
    }

    /// Whether the embedded parameter struct is aligned to a cache line (`dl_core::params`'
    /// `repr(C, align(64))` structs, whose kernel the hot loops read as vectors), so that its
    /// size is padded to whole lines (`PARAM_BYTES` counts the padding).
    fn embedded_line_aligned(&self) -> bool {
        false
    }

    /// Whether the runtime layer, linear itself, applies the activation of an `Activation` layer
    /// that is its only reader in its training passes (see `fuse`).
    fn applies_in_training(&self, _activation: Activation) -> bool {
        false
    }

    /// Whether the runtime layer overrides `Layer::backward_batch_adding` to add its input
    /// gradient as it stores it; the others add it through the workspace's scratch, which
    /// `TRAINING_BYTES_PER_SAMPLE` then counts.
    fn adds_input_gradient_in_place(&self) -> bool {
        false
    }

    /// Whether the runtime layer's passes fuse with a `BatchNormalization`'s where one reads the
    /// other alone (see `fuse`): a convolution shows each chunk of its output to the
    /// normalization reading it, takes the normalization's input gradient chunk by chunk, and
    /// shows each chunk of the input gradient it writes to the normalization it reads.
    fn fuses_with_normalization(&self) -> bool {
        false
    }

    /// Whether the runtime layer is the normalization those passes fuse with: it takes its
    /// per-channel sums from the chunks shown to it and hands its input gradient over chunk by
    /// chunk.
    fn normalizes_by_chunks(&self) -> bool {
        false
    }

    /// Whether the runtime layer, a merge of two inputs, can normalize one of them as it reads
    /// it, so that a normalization it alone reads need not store its output (see `fuse`).
    fn sums_normalized_input(&self) -> bool {
        false
    }

    /// The `*_initializer` and `*_regularizer` arguments given, by parameter tensor.
    fn param_options(&self) -> &[ParamOption] {
        &[]
    }

    /// Token ids of this vocabulary are what the layer reads, when it reads the network's input
    /// (its input type is then `Tokens<length, vocabulary>`).
    fn vocabulary(&self) -> Option<usize> {
        None
    }

    /// The runtime's type of the layer (`$crate::layers::Dense<784, 128>`); `index` is its
    /// position in the declaration.
    fn runtime_type(&self, k: &TokenStream, layer: &Layer, index: usize) -> TokenStream;

    /// Columns of the layer's kernel per sample (see `generate::batch_of`).
    fn columns_per_sample(&self, _layer: &Layer) -> usize {
        1
    }

    /// Whether the runtime type has a single-sample `forward` from one `SVector` to the next on
    /// the stack, so that a stack of such layers needs no workspace.
    fn forwards_on_stack(&self) -> bool {
        false
    }

    /// What the layer does with an `Embedding(mask_zero = true)`'s padding mask (see `mask`).
    fn mask(&self) -> Mask {
        Mask::Refuses("this layer")
    }

    /// Floats of scratch a single-sample forward needs besides the output.
    fn scratch_floats(&self) -> usize {
        0
    }

    /// Whether a single-sample forward writes a new buffer; `false` for a layer whose output is
    /// its input's memory at inference (its [`KindSpec::embedded_step`] is then `None`).
    fn writes_output(&self) -> bool {
        true
    }

    /// Whether the layer's state is adapted from data before training (`Normalization`): the
    /// network then has an `adapt` method, and `fit` and `evaluate` refuse it until adapted.
    fn adapts(&self) -> bool {
        false
    }

    /// Whether training moves the layer's state by each batch's statistics
    /// (`BatchNormalization`), which sharded training cannot do.
    fn batch_statistics(&self) -> bool {
        false
    }

    /// The embedded parameter struct (`dl_core::params::Dense`), for kinds with parameters.
    fn params_struct(&self, _core: &TokenStream) -> Option<TokenStream> {
        None
    }

    /// The embedded parameter struct's type, given each tensor's size.
    fn params_type(&self, core: &TokenStream, _layer: &Layer, sizes: &[Literal]) -> TokenStream {
        let path = self
            .params_struct(core)
            .expect("a kind with parameters has a struct");
        quote::quote!(#path<#(#sizes),*>)
    }

    /// The embedded parameter struct's value, given each tensor's decoding (`kernel: …`).
    fn params_init(&self, core: &TokenStream, decoded: Vec<TokenStream>) -> TokenStream {
        let path = self
            .params_struct(core)
            .expect("a kind with parameters has a struct");
        quote::quote!(#path { #(#decoded,)* })
    }

    /// The layer's step in an embedded network's forward, reading `x0` (`x1`, … for a merge)
    /// and writing `out`; `None` for a layer that writes no output.
    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream>;

    /// The error for a weight file whose tensors of this layer (`wrong`: name, the file's shape,
    /// the declared shape) have another width than declared, with the fix.
    fn weight_file_mismatch(&self, _layer: &Layer, _wrong: &[WrongShape], _shown: &str) -> Option<String> {
        None
    }
}

/// A tensor of a weight file with another shape than declared: its name, the file's shape, the
/// declared shape.
pub type WrongShape = (String, Vec<usize>, Vec<usize>);

/// What a layer does with the padding mask of an `Embedding(mask_zero = true)` upstream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// Starts a mask (when `true`) and drops any that reaches it.
    Starts(bool),
    /// Passes it on unchanged, without reading it.
    Passes,
    /// Reads it, and passes it on when `passes_on`.
    Consumes { passes_on: bool },
    /// Cannot take one: an error naming the layer so.
    Refuses(&'static str),
}

/// What an embedded step is generated from.
pub struct Step<'a> {
    /// `dl_core`'s path.
    pub core: &'a TokenStream,
    /// `core`'s path.
    pub corelib: &'a TokenStream,
    pub layer: &'a Layer,
    /// The layer's field in the parameter struct.
    pub field: &'a Ident,
    /// The layer's activation, as a `dl_core` value.
    pub act: &'a TokenStream,
}

/// A layer kind as a declaration names it: its resolver and its automatic name.
pub struct Registered {
    /// Keras's class name, as written in a declaration.
    pub name: &'static str,
    /// Keras's automatic layer name: the class in snake case.
    pub auto_name: &'static str,
    pub resolve: Resolve,
}

impl Registered {
    /// A kind that reads one tensor.
    pub const fn one(
        name: &'static str,
        auto_name: &'static str,
        resolve: fn(&LayerCall, Option<Shape>, &str, &mut Errors) -> Resolved,
    ) -> Self {
        Registered {
            name,
            auto_name,
            resolve: Resolve::One(resolve),
        }
    }
}

/// The tensors a layer reads: each its shape (`None` when unknown after a mistake), how errors
/// name it, and where it is written.
pub type Inputs<'a> = [(Option<Shape>, &'a str, Span)];

/// A resolved call: its kind and output shape (`None` after a mistake, which was reported).
pub type Resolved = Option<(Kind, Shape)>;

/// How a kind resolves its call against its input shapes.
#[derive(Clone, Copy)]
pub enum Resolve {
    /// Reads one tensor (`None` when unknown, and then only the arguments are checked; `previous`
    /// names where it comes from).
    One(fn(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved),
    /// A merge: reads the tensors its positional arguments name.
    Merge(fn(call: &LayerCall, inputs: &Inputs<'_>, errors: &mut Errors) -> Resolved),
}

/// Every kind a declaration may name, in the order errors list them.
pub const REGISTRY: &[&[Registered]] = &[
    dense::KINDS,
    conv2d::KINDS,
    depthwise::KINDS,
    conv1d::KINDS,
    pool::KINDS,
    pool_1d::KINDS,
    flatten::KINDS,
    reshape::KINDS,
    zero_padding::KINDS,
    upsampling::KINDS,
    dropout::KINDS,
    batch_norm::KINDS,
    layer_norm::KINDS,
    normalization::KINDS,
    rescaling::KINDS,
    embedding::KINDS,
    recurrent::KINDS,
    global_pool_1d::KINDS,
    activation::KINDS,
    merge::KINDS,
];

/// The kind a declaration names `name`.
pub fn lookup(name: &str) -> Option<&'static Registered> {
    registered().find(|r| r.name == name)
}

/// Every registered kind, in order.
pub fn registered() -> impl Iterator<Item = &'static Registered> {
    REGISTRY.iter().flat_map(|family| family.iter())
}

/// Keras layers `network!` does not have yet: named as such, rather than "did you mean" a
/// different layer that happens to be spelt alike (`Conv1D` is not a misspelt `Conv2D`).
pub const KERAS_NOT_YET: &[&str] = &[
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "DepthwiseConv1D",
    "SeparableConv1D",
    "MaxPooling3D",
    "AveragePooling3D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling3D",
    "GroupNormalization",
    "UnitNormalization",
    "ZeroPadding1D",
    "Cropping1D",
    "Cropping2D",
    "Permute",
    "RepeatVector",
    "UpSampling1D",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "Softmax",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "Masking",
    "TimeDistributed",
    "ConvLSTM2D",
    "Attention",
    "MultiHeadAttention",
    "Dot",
    "Lambda",
];

/// `Kind`, one variant per kind module's struct, and its dispatch to [`KindSpec`].
macro_rules! kinds {
    ($($variant:ident($ty:ty),)*) => {
        /// A resolved layer kind: its arguments, as plain values.
        pub enum Kind {
            $($variant($ty),)*
        }

        impl Kind {
            pub fn spec(&self) -> &dyn KindSpec {
                match self {
                    $(Kind::$variant(k) => k,)*
                }
            }
        }
    };
}

kinds! {
    Dense(dense::Dense),
    Conv2D(conv2d::Conv2D),
    Conv1D(conv1d::Conv1D),
    Depthwise(depthwise::Depthwise),
    Pool(pool::Pool),
    GlobalPool(pool::GlobalPool),
    Pool1D(pool_1d::Pool1D),
    Flatten(flatten::Flatten),
    Reshape(reshape::Reshape),
    UpSampling2D(upsampling::UpSampling2D),
    ZeroPadding2D(zero_padding::ZeroPadding2D),
    Embedding(embedding::Embedding),
    Recurrent(recurrent::Recurrent),
    GlobalPool1D(global_pool_1d::GlobalPool1D),
    Dropout(dropout::Dropout),
    BatchNorm(batch_norm::BatchNorm),
    LayerNorm(layer_norm::LayerNorm),
    Normalization(normalization::Normalization),
    Rescaling(rescaling::Rescaling),
    Activation(activation::ActivationLayer),
    Merge(merge::Merge),
}

pub fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_registered_once_and_not_also_missing() {
        let names: Vec<&str> = registered().map(|r| r.name).collect();
        for (i, name) in names.iter().enumerate() {
            assert!(!names[..i].contains(name), "`{name}` is registered twice");
            assert!(
                !KERAS_NOT_YET.contains(name),
                "`{name}` is registered and listed as missing"
            );
            assert_eq!(lookup(name).map(|r| r.name), Some(*name));
        }
    }

    #[test]
    fn a_resolved_kind_has_the_name_it_was_written_with() {
        let syntax: crate::parse::Network = syn::parse_quote! {
            struct Every {
                input: tokens[8],
                Embedding(20, 4),
                a: LSTM(3, return_sequences = true),
                b: GRU(3, return_sequences = true)(a),
                c: SimpleRNN(3, return_sequences = true)(b),
                d: Bidirectional(LSTM(2), merge_mode = "concat")(c),
                e: GlobalAveragePooling1D()(c),
                f: GlobalMaxPooling1D()(c),
                Concatenate(d, e, f),
                Dense(4, relu),
                Dropout(0.5),
                Activation(tanh),
                BatchNormalization(),
            }
        };
        let Ok(net) = crate::model::build(&syntax) else {
            panic!("the declaration has errors")
        };
        let written = [
            "Embedding",
            "LSTM",
            "GRU",
            "SimpleRNN",
            "Bidirectional",
            "GlobalAveragePooling1D",
            "GlobalMaxPooling1D",
            "Concatenate",
            "Dense",
            "Dropout",
            "Activation",
            "BatchNormalization",
        ];
        let names: Vec<&str> = net.layers.iter().map(|l| l.kind_name()).collect();
        assert_eq!(names, written);
    }
}
